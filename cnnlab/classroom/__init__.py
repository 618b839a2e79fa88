"""The instructor's tools after grading: read grade sheets, adjust, report, export, hand back.

- ``sheets``: read one or several grade sheets (``grades.csv``, one per shard) and merge them;
- ``adjust``: overrides (``student,set,test,points,comment``) and late penalties, applied
  to a copy of the sheet's rows (the sheet itself is never edited);
- ``answers``: the answer-cell texts of submissions, exercises and the course's references;
- ``similarity``: pairs of alike answers (winnowed fingerprints from ``copydetect``);
- ``report``: one self-contained HTML page with PNG figures (``cnnlab report``);
- ``export``: one row per student for Canvas, Moodle or a plain wide table (``cnnlab export``);
- ``feedback``: one Markdown (and HTML) file per student and set (``cnnlab feedback``).
"""
