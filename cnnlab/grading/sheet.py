"""Grade reports, the grade sheet (CSV) and the students' feedback files.

Every write of the sheet reads it, merges rows keyed by ``(student, notebook)`` and
renames a complete new file over it (``write_text_atomically``) while holding an
exclusive ``flock`` on the sheet's folder, so parallel jobs, two grader runs at once
or shards of one class on a shared disk never lose a row and a crash never leaves a
half-written sheet. ``digest`` hashes the source and submission bytes: a later run
skips a row whose digest still matches.
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.notebooks import write_text_atomically

CSV_FIELDS = ["student", "notebook", "score", "max_score", "status", "digest"]
FEEDBACK_CHARS = 20_000


@dataclass
class CellResult:
    grade_id: str
    points: float
    max_points: float
    message: str  # "passed", or what the student may see about the failure


@dataclass
class GradeReport:
    student: str
    notebook: str
    tests: list[CellResult] = field(default_factory=list)
    status: str = "ok"         # "ok", or "; "-joined: timed out, memory limit, kernel died, ...
    digest: str = ""
    notes: list[str] = field(default_factory=list)  # errors of the student's own cells, etc.

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)

    def row(self) -> dict:
        return {"student": self.student, "notebook": self.notebook, "score": f"{self.score:g}",
                "max_score": f"{self.max_score:g}", "status": self.status, "digest": self.digest}

    def feedback(self) -> str:
        """A Markdown report for the student, at most ``FEEDBACK_CHARS`` long."""
        lines = [f"# {self.notebook}: {self.score:g} / {self.max_score:g}", ""]
        if self.status != "ok":
            lines += [f"Status: {self.status}", ""]
        for t in self.tests:
            mark = "passed" if t.points == t.max_points else "failed"
            lines.append(f"- `{t.grade_id}` ({t.points:g}/{t.max_points:g}): {mark}"
                         + ("" if mark == "passed" else f": {t.message}"))
        if self.notes:
            lines += ["", "Your notebook's own cells:", *(f"- {n}" for n in self.notes)]
        text = "\n".join(lines) + "\n"
        return text if len(text) <= FEEDBACK_CHARS else text[:FEEDBACK_CHARS] + "\n\n(feedback cut short)\n"


@contextlib.contextmanager
def locked(folder):
    """Hold an exclusive lock on ``folder`` (blocks until other writers are done)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_rows(csv_path) -> dict[tuple[str, str], dict]:
    """The sheet's rows by ``(student, notebook)``; empty if there is no sheet yet."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        return {}
    with csv_path.open(newline="", encoding="utf-8") as handle:
        return {(row["student"], row["notebook"]): row for row in csv.DictReader(handle)}


def write_grades(reports: list[GradeReport], csv_path, feedback_dir=None) -> None:
    """Merge ``reports`` into ``csv_path`` (other rows kept) under the folder lock and, if
    ``feedback_dir`` is given, write ``<feedback_dir>/<student>/<notebook stem>.md``."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with locked(csv_path.parent):
        rows = read_rows(csv_path)
        for report in reports:
            rows[(report.student, report.notebook)] = report.row()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n", extrasaction="ignore",
                                restval="")
        writer.writeheader()
        writer.writerows(rows[key] for key in sorted(rows))
        write_text_atomically(csv_path, buffer.getvalue())
    if feedback_dir is not None:
        for report in reports:
            folder = Path(feedback_dir) / report.student
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomically(folder / f"{Path(report.notebook).stem}.md", report.feedback())
