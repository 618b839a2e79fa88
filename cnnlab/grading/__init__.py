"""Exercises from solutions, and automatic grading of students' notebooks.

The source of truth is ``solutions/``: notebooks whose cells carry nbgrader's markers
and metadata, so an instructor can also use nbgrader itself.

- Answer cells (metadata ``nbgrader.solution = true``) hold the solution between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; in the exercise it becomes
  ``raise NotImplementedError(...)``.
- Test cells (``nbgrader.grade = true`` with ``points``) hold visible asserts and,
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, asserts the
  students do not see; the exercise drops them, grading puts them back.

    cnnlab exercises solutions/ exercises/          # regenerate the exercises
    cnnlab grade submissions/*.ipynb --solution solutions/01_x.ipynb --out grades.csv
"""
from cnnlab.grading.generate import generate_all, make_exercise, stale_exercises
from cnnlab.grading.grade import GradeReport, grade_notebook, write_grades

__all__ = ["make_exercise", "generate_all", "stale_exercises", "grade_notebook", "GradeReport",
           "write_grades"]
