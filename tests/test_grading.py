"""Exercises generated from solutions, and grading of students' notebooks."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from cnnlab.grading import generate, sandbox, grade_notebook, make_exercise, stale_exercises, write_grades
from cnnlab.grading.grade import CellResult, GradeReport
from tests.conftest import REPO

SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))


def test_every_solution_has_a_fresh_exercise():
    assert SOLUTIONS, "solutions/ has no notebooks"
    assert stale_exercises(REPO / "solutions", REPO / "exercises") == [], \
        "exercises/ is stale: run `cnnlab exercises`"
    assert sorted(p.name for p in (REPO / "exercises").glob("*.ipynb")) == [p.name for p in SOLUTIONS]


def test_stale_exercise_is_detected(tmp_path):
    solutions, exercises = tmp_path / "s", tmp_path / "e"
    solutions.mkdir()
    (solutions / SOLUTIONS[0].name).write_bytes(SOLUTIONS[0].read_bytes())
    assert stale_exercises(solutions, exercises) == [SOLUTIONS[0].name]  # missing
    generate.generate_all(solutions, exercises)
    assert stale_exercises(solutions, exercises) == []
    nb = nbformat.read(solutions / SOLUTIONS[0].name, as_version=4)
    nb.cells[0].source += "\nOne more sentence."
    nbformat.write(nb, solutions / SOLUTIONS[0].name)
    assert stale_exercises(solutions, exercises) == [SOLUTIONS[0].name]  # edited solution


def _code(source):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])


def test_make_exercise_stubs_solutions_at_their_indentation_and_drops_hidden_tests():
    nb = _code("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
               "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS")
    exercise = make_exercise(nb)
    assert exercise.cells[0].source == (
        'def f(x):\n    raise NotImplementedError("Replace this line with your code.")\nassert f(1) == 2')
    assert "2 * x" in nb.cells[0].source, "the solution itself must be untouched"


@pytest.mark.parametrize("source,problem", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a matching"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside an open block"),
])
def test_unbalanced_markers_are_clear_errors(source, problem):
    with pytest.raises(ValueError, match=problem):
        make_exercise(_code(source))


@pytest.mark.parametrize("path", sorted((REPO / "exercises").glob("*.ipynb")), ids=lambda p: p.name)
def test_exercises_fail_only_with_not_implemented_error(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o["ename"] for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors, "an untouched exercise must fail somewhere"
    assert set(errors) == {"NotImplementedError"}, errors


# --------------------------------------------------------------------------- grading

SOLUTION = REPO / "solutions" / "03_convolution.ipynb"


def _submission(tmp_path, student, edit=None):
    nb = nbformat.read(REPO / "exercises" / SOLUTION.name, as_version=4)
    solution = nbformat.read(SOLUTION, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
        if edit:
            edit(grade_id, cell)
    folder = tmp_path / student
    folder.mkdir()
    nbformat.write(nb, folder / SOLUTION.name)
    return folder / SOLUTION.name


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("submissions")

    def wrong_bias(grade_id, cell):  # conv2d forgets the bias
        if grade_id == "conv2d":
            cell.source = cell.source.replace("+ bias", "")

    def cheat(grade_id, cell):  # output_size that floors instead of raising (except where the visible test looks); maxpool test emptied
        if grade_id == "output_size":
            cell.source = ("def output_size(n, f, stride=1, padding=0):\n"
                           "    if stride == 3:\n        raise ValueError('not an integer')\n"
                           "    return (n - f + 2 * padding) // stride + 1")
        if grade_id == "test_maxpool":
            cell.source = "pass"

    untouched = tmp / "dan"
    untouched.mkdir()
    (untouched / SOLUTION.name).write_bytes((REPO / "exercises" / SOLUTION.name).read_bytes())
    broken = tmp / "eve"
    broken.mkdir()
    (broken / SOLUTION.name).write_text("{ this is not json")
    paths = {"ada": _submission(tmp, "ada"), "bob": _submission(tmp, "bob", wrong_bias),
             "cy": _submission(tmp, "cy", cheat), "dan": untouched / SOLUTION.name,
             "eve": broken / SOLUTION.name}
    sandboxed = sandbox.usable()  # the judgement is the same with or without the sandbox
    return {name: grade_notebook(path, SOLUTION, timeout=60, sandbox=sandboxed) for name, path in paths.items()}


def _points(report):
    return {t.grade_id: t.points for t in report.tests}


def test_the_solution_earns_full_marks(reports):
    assert reports["ada"].student == "ada"
    assert reports["ada"].score == reports["ada"].max_score == 16


def test_a_wrong_answer_loses_exactly_its_points(reports):
    full = {t.grade_id: t.max_points for t in reports["ada"].tests}
    assert _points(reports["bob"]) == {**full, "test_conv2d": 0}
    failed = next(t for t in reports["bob"].tests if t.grade_id == "test_conv2d")
    assert "AssertionError" in failed.message


def test_hidden_tests_run_and_edited_test_cells_are_restored(reports):
    # passes the visible output-size tests but not the hidden ones; the emptied maxpool test is restored.
    # Its flooring output_size also sinks the layer's forward and its stride convention (both use a stride
    # that does not fit); the backward tests take their cache from the judge's reference forward, so a
    # forward bug costs no backward points.
    assert _points(reports["cy"]) == {"test_output_size": 0, "test_conv2d": 4, "test_maxpool": 2,
                                      "test_conv_param_count": 1, "test_conv_forward_naive": 0,
                                      "test_conv_forward_stride_error": 0,
                                      "test_conv_backward_dx": 2, "test_conv_backward_dw_db": 2}


def test_untouched_exercise_scores_zero_and_says_why(reports):
    assert reports["dan"].score == 0 and reports["dan"].max_score == 16
    assert all("NotImplementedError" in t.message for t in reports["dan"].tests)
    assert "0 / 16" in reports["dan"].feedback()


def test_unreadable_submission_scores_zero_with_a_reason(reports):
    assert reports["eve"].score == 0 and reports["eve"].max_score == 16
    assert all("could not be read" in t.message for t in reports["eve"].tests)


def test_grades_csv_is_merged_and_feedback_written(reports, tmp_path):
    sheet = tmp_path / "grades.csv"
    write_grades([reports["ada"], reports["bob"]], sheet, feedback_dir=tmp_path / "feedback")
    write_grades([reports["dan"]], sheet)
    rows = list(csv.DictReader(sheet.open()))
    assert [(r["student"], r["score"], r["max_score"]) for r in rows] == [("ada", "16", "16"), ("bob", "12", "16"),
                                                                         ("dan", "0", "16")]
    assert "test_conv2d" in (tmp_path / "feedback" / "bob" / "03_convolution.md").read_text()


def test_a_crash_while_writing_grades_keeps_the_old_sheet(tmp_path, monkeypatch):
    sheet = tmp_path / "grades.csv"
    first = GradeReport("ada", "n.ipynb", [CellResult("t", 1, 1, "passed")])
    write_grades([first], sheet)
    before = sheet.read_text()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_grades([GradeReport("bob", "n.ipynb", [CellResult("t", 0, 1, "failed")])], sheet)
    assert sheet.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"], "no temporary file may be left behind"


def test_cli_exercises_check_passes_on_the_repository():
    out = subprocess.run([sys.executable, "-m", "cnnlab.cli", "exercises", "--check",
                          str(REPO / "solutions"), str(REPO / "exercises")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
