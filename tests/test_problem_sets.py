"""Every problem set in solutions/: the release check, this course's own rules, the
generated exercises (locked like nbgrader's student version) and `cnnlab validate`.

The rules any author's set must follow (markers, nbgrader metadata, points, cnnlab
metadata, the solution getting full marks and the exercise 0 through the real grader)
are `cnnlab exercises`' checks (cnnlab/grading/release.py, tested on purpose-built sets
in tests/test_release.py); here they run on this course's sets. The tests marked
"this course only" hold rules of this course (one set per lecture, the README's table),
not of problem sets in general. Set-specific checks (that the tests catch real
mistakes) live in tests/test_set_NN_name.py.
"""
from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest

from cnnlab.cli import main
from cnnlab.grading import make_exercise, release, sandbox
from cnnlab.grading.generate import BEGIN_SOLUTION, END_SOLUTION
from cnnlab.grading.validate import Outcome, error_line, format_table
from tests.conftest import REPO, missing_outside_part

SETS = sorted((REPO / "solutions").glob("*.ipynb"))
LECTURES = {p.stem for p in (REPO / "lectures").glob("*.ipynb")}
MIN_SETS, MIN_POINTS = 9, 100


def _ids(path):
    return path.stem


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _kind(cell) -> str | None:
    """'answer', 'manual', 'test' or 'setup' (release.py's cell kinds), None without nbgrader metadata."""
    return release.cell_kind(_nbgrader(cell))


def _read(path):
    return nbformat.read(path, as_version=4)


def _points(path) -> float:
    return sum(float(_nbgrader(c)["points"]) for c in _read(path).cells if _kind(c) == "test")


# --------------------------------------------------------------------------- every author's rules

@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_set_passes_the_static_checks(path):
    assert [str(problem) for problem in release.static_problems(path)] == []


def test_every_set_passes_the_release_check_and_the_exercises_are_fresh(tmp_path, capsys):
    """One run of `cnnlab exercises` over all sets: the real grader, in its sandbox, gives
    each solution full marks and each fresh exercise 0; what it writes is what is committed."""
    if not sandbox.usable():
        missing_outside_part("the release check grades through the sandbox: install bubblewrap (bwrap)")
    assert main(["exercises", str(REPO / "solutions"), str(tmp_path)]) == 0, capsys.readouterr().err
    for path in SETS:
        assert (tmp_path / path.name).read_bytes() == (REPO / "exercises" / path.name).read_bytes(), \
            f"exercises/{path.name} is stale: run `cnnlab exercises`"


# --------------------------------------------------------------------------- this course only

def test_there_are_enough_sets_with_enough_points():
    """This course only: it promises a set for (nearly) every lecture, 100 points in all."""
    assert len(SETS) >= MIN_SETS, f"{len(SETS)} problem sets in solutions/, at least {MIN_SETS} expected"
    total = sum(_points(path) for path in SETS)
    assert total >= MIN_POINTS, f"the sets total {total:g} points, at least {MIN_POINTS} expected"


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_set_is_named_after_a_lecture_and_opens_by_naming_it(path):
    """This course only: each set follows one lecture and takes its name."""
    assert path.stem in LECTURES, f"{path.name}: a set takes the name of the lecture it follows, one of {sorted(LECTURES)}"
    first = _read(path).cells[0]
    assert first.cell_type == "markdown", "a set opens with a Markdown cell saying what it practises"
    named = re.findall(r"lectures/(\w+)\.ipynb", first.source)
    assert named and all(name in LECTURES for name in named), f"the first cell must name its lecture: {named}"
    assert path.stem in named, f"the first cell names {named}, not this set's lecture lectures/{path.name}"


@pytest.mark.parametrize("name", sorted(LECTURES & {p.stem for p in SETS}))
def test_lecture_ends_by_pointing_to_its_set(name):
    """This course only."""
    last = _read(REPO / "lectures" / f"{name}.ipynb").cells[-1]
    assert f"exercises/{name}.ipynb" in last.source, \
        f"lectures/{name}.ipynb should end with a pointer to its problem set exercises/{name}.ipynb"


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_readme_table_lists_the_set_with_its_points(path):
    """This course only."""
    rows = re.findall(r"^\| `(\w+)` \| `lectures/(\w+)` \|.*\| (\d+) \|$", (REPO / "README.md").read_text(), re.M)
    points = {name: float(total) for name, lecture, total in rows if name == lecture}
    assert path.stem in points, f"README.md's table of problem sets has no row for {path.stem}"
    assert points[path.stem] == _points(path), \
        f"README.md gives {path.stem} {points[path.stem]:g} points, the set has {_points(path):g}"


# --------------------------------------------------------------------------- exercises

def test_exercise_cells_are_locked_like_nbgraders_student_version():
    meta = lambda **flags: {"nbgrader": {"grade_id": "x", "schema_version": 3, "grade": False, "solution": False,
                                         "locked": False, **flags}}
    cells = [nbformat.v4.new_markdown_cell("# A set"),
             nbformat.v4.new_code_cell("import numpy as np", metadata=meta(locked=True)),
             nbformat.v4.new_code_cell(f"{BEGIN_SOLUTION}\nx = 1\n{END_SOLUTION}", metadata=meta(solution=True)),
             nbformat.v4.new_code_cell("assert x == 1", metadata=meta(grade=True, locked=True, points=1)),
             nbformat.v4.new_code_cell("scratch = 2")]
    solution = nbformat.v4.new_notebook(cells=cells)
    exercise = make_exercise(solution)
    locks = [(c.metadata.get("deletable"), c.metadata.get("editable")) for c in exercise.cells]
    assert locks == [(None, None), (False, False), (False, None), (False, False), (None, None)]
    assert all("deletable" not in c.metadata and "editable" not in c.metadata for c in solution.cells), \
        "the solution keeps its own metadata"


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_committed_exercise_is_locked(path):
    exercise = _read(REPO / "exercises" / path.name)
    for index, cell in enumerate(exercise.cells):
        kind, where = _kind(cell), f"exercises/{path.name}, cell {index}"
        if kind in ("test", "setup"):
            assert cell.metadata.get("deletable") is False and cell.metadata.get("editable") is False, where
        elif kind == "answer":
            assert cell.metadata.get("deletable") is False and cell.metadata.get("editable", True), where


# --------------------------------------------------------------------------- cnnlab validate

SMALL_SET = "01_perceptron.ipynb"


def _cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "cnnlab.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_validate_fails_on_an_untouched_exercise_and_lists_every_test():
    result = _cli("validate", REPO / "exercises" / SMALL_SET)
    assert result.returncode == 1, result.stdout + result.stderr
    grade_ids = [_nbgrader(c)["grade_id"] for c in _read(REPO / "exercises" / SMALL_SET).cells if _kind(c) == "test"]
    rows = [line for line in result.stdout.splitlines() if any(g in line.split() for g in grade_ids)]
    assert len(rows) == len(grade_ids) and all("FAILED" in row and "NotImplementedError" in row for row in rows), \
        result.stdout
    assert f"{len(grade_ids)} of {len(grade_ids)} tests failed" in result.stdout
    assert "without encryption" not in result.stderr, "the kernel must talk over IPC, not plain TCP"


def test_validate_passes_on_the_solution():
    result = _cli("validate", REPO / "solutions" / SMALL_SET)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout and "visible tests passed" in result.stdout


def test_validate_says_clearly_what_is_wrong_with_an_unusable_notebook(tmp_path, capsys):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ not json")
    no_tests = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), no_tests)
    assert main(["validate", str(tmp_path / "missing.ipynb"), str(broken), str(no_tests)]) == 2
    errors = capsys.readouterr().err
    assert "missing.ipynb: no such file" in errors
    assert "broken.ipynb: not a readable Jupyter notebook" in errors
    assert "plain.ipynb: no test cells" in errors


@pytest.mark.parametrize("message,line", [
    ("expected 2 updates, got 3\nmore detail", "expected 2 updates, got 3"),
    ("\nNot equal to tolerance rtol=1e-07, atol=0\ndx = dout @ w.T\nMismatched elements: 1 / 2", "dx = dout @ w.T"),
    ("\nArrays are not equal\n\nMismatched elements: 1 / 2 (50%)", "Arrays are not equal"),
    ("", ""),
])
def test_validate_keeps_the_line_of_an_error_that_explains_it(message, line):
    assert error_line(message) == line


def test_validate_table_reports_the_first_line_of_each_error():
    table = format_table([Outcome("1. Margin", "test_a", 2, None),
                          Outcome("2. Perceptron", "test_b", 4, "AssertionError: expected 2 updates, got 3")])
    lines = table.splitlines()
    assert lines[0].split() == ["task", "test", "points", "result", "error"]
    assert "test_a" in lines[1] and "passed" in lines[1]
    assert "test_b" in lines[2] and "FAILED" in lines[2] and lines[2].endswith("expected 2 updates, got 3")
    assert "1 of 2 tests failed, worth 4 of the 6 points" in table
