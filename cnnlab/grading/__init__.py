"""Exercises from solutions, and automatic grading of students' notebooks.

The source of truth is ``solutions/``: notebooks whose cells carry nbgrader's markers
and metadata, so an instructor can also use nbgrader itself.

- Answer cells (metadata ``nbgrader.solution = true``) hold the solution between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; in the exercise it becomes
  ``raise NotImplementedError(...)``.
- Test cells (``nbgrader.grade = true`` with ``points``) hold visible asserts and,
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, asserts the
  students do not see; the exercise drops them, grading puts them back.
- Manually graded cells (``solution = true`` and ``grade = true``) get 0 points and
  status ``manual`` until a person grades them.
- Locked set-up cells run on both sides; ``metadata.cnnlab.side = "student"`` runs one
  only in the student's notebook/sandbox, ``"judge"`` only in the grader's judge
  (reference implementations, torch helpers, gradient checkers).
- An answer cell may declare ``metadata.cnnlab.mutates = {"batchnorm_forward":
  ["bn_param"]}`` (the only arguments whose in-place updates the judge takes back) and
  ``metadata.cnnlab.off_limits = ["cnnlab.reference", "torch.nn.functional"]`` (what
  the answer may not use: the tests that read it score 0, status ``off limits``).
- The judge takes from a student only the names the source's answer cells define.

    cnnlab exercises solutions/ exercises/          # check every set (``release``), then regenerate
    cnnlab grade submissions/*/01_x.ipynb --solution solutions/01_x.ipynb --out grades.csv

Grading runs each student's code in a bubblewrap sandbox and the tests in a trusted
process (``grade``, ``batch``, ``sandbox``, ``worker``, ``judge``, ``wire``, ``offlimits``,
``sheet``); ``intake`` decides what enters a batch (regular files only, names from the
path as given, nbgrader's ``submitted/`` layout) and ``review`` keeps what each cell
printed. The README's "For instructors" section states the threat model.
"""
from cnnlab.grading.generate import generate_all, make_exercise, stale_exercises
from cnnlab.grading.grade import grade_notebook
from cnnlab.grading.sheet import GradeReport, write_grades

__all__ = ["make_exercise", "generate_all", "stale_exercises", "grade_notebook", "GradeReport",
           "write_grades"]
