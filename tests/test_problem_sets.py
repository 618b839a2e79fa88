"""Every problem set in solutions/: its format, its lecture, its points, its generated
exercise (locked like nbgrader's student version), `cnnlab validate` and `cnnlab grade`.

Parametrized over whatever solutions/*.ipynb holds, so a new set is checked as soon as it
is added. Set-specific checks (that the tests catch real mistakes) live in
tests/test_set_NN_name.py.
"""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from cnnlab.cli import main
from cnnlab.grading import make_exercise
from cnnlab.grading.generate import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION
from cnnlab.grading.validate import Outcome, error_line, format_table
from tests.conftest import REPO
from tests.setlib import run_cells

SETS = sorted((REPO / "solutions").glob("*.ipynb"))
LECTURES = {p.stem for p in (REPO / "lectures").glob("*.ipynb")}
MIN_SETS, MIN_POINTS = 9, 100
NBGRADER_FIELDS = {"grade", "grade_id", "locked", "schema_version", "solution"}
MAGIC = re.compile(r"^\s*(%|!)|get_ipython\(", re.M)


def _ids(path):
    return path.stem


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _kind(cell) -> str | None:
    """'answer', 'test' or 'setup' (the grading contract's cell kinds), None without metadata."""
    meta = _nbgrader(cell)
    if not meta:
        return None
    flags = (bool(meta.get("solution")), bool(meta.get("grade")), bool(meta.get("locked")))
    return {(True, False, False): "answer", (False, True, True): "test", (False, False, True): "setup"}.get(flags, "bad")


def _read(path):
    return nbformat.read(path, as_version=4)


def _points(path) -> float:
    return sum(float(_nbgrader(c)["points"]) for c in _read(path).cells if _kind(c) == "test")


def test_there_are_enough_sets_with_enough_points():
    """The course promises a set for (nearly) every lecture, 100 points in all."""
    assert len(SETS) >= MIN_SETS, f"{len(SETS)} problem sets in solutions/, at least {MIN_SETS} expected"
    total = sum(_points(path) for path in SETS)
    assert total >= MIN_POINTS, f"the sets total {total:g} points, at least {MIN_POINTS} expected"


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_set_is_named_after_a_lecture_and_opens_by_naming_it(path):
    assert path.stem in LECTURES, f"{path.name}: a set takes the name of the lecture it follows, one of {sorted(LECTURES)}"
    first = _read(path).cells[0]
    assert first.cell_type == "markdown", "a set opens with a Markdown cell saying what it practises"
    named = re.findall(r"lectures/(\w+)\.ipynb", first.source)
    assert named and all(name in LECTURES for name in named), f"the first cell must name its lecture: {named}"
    assert path.stem in named, f"the first cell names {named}, not this set's lecture lectures/{path.name}"


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_graded_cells_carry_complete_nbgrader_metadata(path):
    nb = _read(path)
    grade_ids = []
    for index, cell in enumerate(nb.cells):
        where = f"{path.name}, cell {index}"
        text = cell.source
        if _kind(cell) is None:
            assert not any(marker in text for marker in (BEGIN_SOLUTION, BEGIN_HIDDEN)), \
                f"{where}: nbgrader markers in a cell without nbgrader metadata"
            continue
        meta = _nbgrader(cell)
        assert cell.cell_type == "code", f"{where}: only code cells are graded here"
        assert NBGRADER_FIELDS <= set(meta), f"{where}: nbgrader metadata lacks {NBGRADER_FIELDS - set(meta)}"
        assert meta["schema_version"] == 3, f"{where}: schema_version must be 3 (nbgrader 0.9)"
        assert _kind(cell) != "bad", f"{where}: {meta} is neither an answer, a test nor a set-up cell"
        grade_ids.append(meta["grade_id"])
        if _kind(cell) == "test":
            assert isinstance(meta.get("points"), (int, float)) and meta["points"] > 0, f"{where}: a test needs points > 0"
        assert (BEGIN_SOLUTION in text and END_SOLUTION in text) == (_kind(cell) == "answer"), \
            f"{where}: answer cells, and only they, hold {BEGIN_SOLUTION} ... {END_SOLUTION}"
        assert (END_HIDDEN in text) <= (_kind(cell) == "test"), f"{where}: hidden tests belong in test cells"
        cnnlab = cell.metadata.get("cnnlab")
        if _kind(cell) == "setup":
            assert cnnlab in (None, {"side": "student"}, {"side": "judge"}), \
                f"{where}: a set-up cell's cnnlab metadata is {{'side': 'student'}} or {{'side': 'judge'}}, not {cnnlab}"
        elif _kind(cell) == "answer":
            assert cnnlab is None or set(cnnlab) <= {"off_limits", "mutates"}, \
                f"{where}: an answer cell's cnnlab metadata holds only 'off_limits' and 'mutates', not {cnnlab}"
        else:
            assert cnnlab is None, f"{where}: only set-up and answer cells carry cnnlab metadata"
    assert len(grade_ids) == len(set(grade_ids)), f"{path.name}: grade_ids repeat: {grade_ids}"
    assert any(_kind(c) == "test" for c in nb.cells) and any(_kind(c) == "answer" for c in nb.cells)


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_no_ipython_magics(path):
    """Sets run in-process (tests/setlib.py), in the sandboxed grader and in nbgrader alike."""
    for index, cell in enumerate(_read(path).cells):
        if cell.cell_type == "code":
            assert not MAGIC.search(cell.source), f"{path.name}, cell {index}: IPython magic or shell escape"


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_solution_passes_every_test_cell_and_the_exercise_fails_each_with_not_implemented_error(path):
    solved = run_cells(path)
    assert solved, f"{path.name} has no test cells"
    assert {cell: error for cell, error in solved.items() if error} == {}
    untouched = run_cells(REPO / "exercises" / path.name)
    assert untouched.keys() == solved.keys()
    assert all(error and error.startswith("NotImplementedError") for error in untouched.values()), untouched


@pytest.mark.parametrize("name", sorted(LECTURES & {p.stem for p in SETS}))
def test_lecture_ends_by_pointing_to_its_set(name):
    last = _read(REPO / "lectures" / f"{name}.ipynb").cells[-1]
    assert f"exercises/{name}.ipynb" in last.source, \
        f"lectures/{name}.ipynb should end with a pointer to its problem set exercises/{name}.ipynb"


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_readme_table_lists_the_set_with_its_points(path):
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


# --------------------------------------------------------------------------- cnnlab grade

@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_cnnlab_grade_gives_the_solution_full_marks_and_the_untouched_exercise_zero(path, tmp_path):
    submissions = []
    for student, source in (("ada", path), ("dan", REPO / "exercises" / path.name)):
        (tmp_path / student).mkdir()
        submissions.append(shutil.copy(source, tmp_path / student / path.name))
    sheet = tmp_path / "grades.csv"
    result = _cli("grade", *submissions, "--solution", path, "--out", sheet, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["student"]: row for row in csv.DictReader(sheet.open(encoding="utf-8"))}
    max_score = _points(path)
    assert float(rows["ada"]["max_score"]) == max_score and float(rows["ada"]["score"]) == max_score, rows["ada"]
    assert float(rows["dan"]["max_score"]) == max_score and float(rows["dan"]["score"]) == 0, rows["dan"]
