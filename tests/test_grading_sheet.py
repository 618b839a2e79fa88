"""The grade sheet, feedback files and intake, without the sandbox: the sheet's format and
round trip (old sheets included), spreadsheet neutralization, safe text, Markdown that
cannot render a student's HTML, feedback paths that stay inside their folder, atomic
writes under two writing processes, reruns of the grader's failures, reading only
regular files within the cap, nbformat 3, timestamps and nbgrader's layout (built with
nbgrader's own exchange)."""
from __future__ import annotations

import csv
import json
import multiprocessing
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt

from cnnlab.grading import batch, grade, intake, sheet
from cnnlab.grading.restore import MAX_NOTEBOOK_BYTES, Unreadable
from cnnlab.grading.sheet import CellResult, GradeReport
from tests.conftest import REPO

HOSTILE_NAMES = ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@x", "\tt", "\rr", "'=quoted", "'plain",
                 "lone \ud800 surrogate", "latin-1 caf\udce9", "ansi \x1b[31mred\x1b[0m", "bidi \u202egnp.exe"]


def _report(student="ada", message="passed", status="ok"):
    return GradeReport(student, "03_convolution.ipynb", [
        CellResult("test_a", 2.0, 2.0, "passed", "passed"),
        CellResult("test_b", 0.0, 3.0, message, "failed"),
        CellResult("written", 0.0, 1.0, "graded by hand", "manual")],
        status, "d1g3st", graded_at="2026-12-06T01:02:03Z", seconds=1.25, submitted_at="2026-12-01T14:03:22Z",
        submission=f"submissions/{student}/03_convolution.ipynb")


# ----------------------------------------------------------------------------- the sheet


def test_a_row_round_trips_with_every_column_and_the_tests_json(tmp_path):
    path = tmp_path / "grades.csv"
    sheet.write_grades([_report()], path)
    header = path.read_text().splitlines()[0]
    assert header == ",".join(sheet.CSV_FIELDS)
    [row] = sheet.read_rows(path)
    assert row["score"] == "2" and row["max_score"] == "6" and row["seconds"] == "1.2"
    assert row["graded_at"] == "2026-12-06T01:02:03Z" and row["submitted_at"] == "2026-12-01T14:03:22Z"
    assert json.loads(row["tests"]) == {
        "test_a": {"points": 2.0, "max_points": 2.0, "status": "passed", "message": "passed"},
        "test_b": {"points": 0.0, "max_points": 3.0, "status": "failed", "message": "passed"},
        "written": {"points": 0.0, "max_points": 1.0, "status": "manual", "message": "graded by hand"}}
    rebuilt = sheet.report_from_row(row)
    original = _report()
    assert rebuilt.tests == original.tests and rebuilt.score == 2 and rebuilt.max_score == 6
    assert (rebuilt.student, rebuilt.notebook, rebuilt.status, rebuilt.digest, rebuilt.submission) == \
        (original.student, original.notebook, original.status, original.digest, original.submission)


def test_an_old_six_column_sheet_is_read_and_kept_on_the_next_write(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("student,notebook,score,max_score,status,digest\nzed,03_convolution.ipynb,7,16,ok,abc\n")
    [old] = sheet.read_rows(path)
    assert old["score"] == "7" and old["tests"] == "" and old["graded_at"] == ""
    assert sheet.report_from_row(old).tests == [] and sheet.report_from_row(old).status == "ok"
    edited = dict(old, tests='{"t": {"points": "lots", "max_points": 2}, "u": 3}', seconds="?")
    assert sheet.report_from_row(edited).tests == [CellResult("t", 0.0, 2.0, "", "failed")]
    sheet.write_grades([_report()], path)
    rows = {r["student"]: r for r in sheet.read_rows(path)}
    assert rows["zed"]["score"] == "7" and rows["zed"]["digest"] == "abc" and rows["ada"]["score"] == "2"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_text_is_stored_safe_and_neutralized_for_spreadsheets(tmp_path, name):
    path = tmp_path / "grades.csv"
    sheet.write_grades([_report(name, message=name, status=f"grader error: {name}")], path)
    raw_text = path.read_text(encoding="utf-8")  # strict UTF-8: no surrogate reached the file
    assert "\x1b" not in raw_text and "\u202e" not in raw_text
    [raw] = list(csv.DictReader(raw_text.splitlines(keepends=True)))
    for column in ("student", "submission"):
        assert not raw[column].startswith(sheet.FORMULA_STARTS), raw[column]
    assert raw["score"] == "2", "numbers are written plainly"
    [row] = sheet.read_rows(path)
    assert row["student"] == sheet.safe_text(name), "reading undoes the neutralization exactly"
    assert json.loads(row["tests"])["test_b"]["message"] == sheet.safe_text(name)


def test_safe_text_replaces_what_cannot_be_stored_or_printed():
    assert sheet.safe_text("a\ud800b") == "a\ufffdb"
    assert sheet.safe_text("caf\udce9") == "caf\\xe9"
    assert sheet.safe_text("\x1b[31mred") == "\\x1b[31mred"
    assert sheet.safe_text("two\nlines\tx") == "two\nlines\tx"
    assert sheet.terminal_text("two\nlines") == "two\\x0alines"
    assert sheet.safe_text("\u202eexe") == "\\u202eexe"
    assert sheet.neutralize("=1") == "'=1" and sheet.neutralize("ok") == "ok" and sheet.neutralize("'a") == "''a"


def _write_many(path, prefix):
    for i in range(15):
        sheet.write_grades([_report(f"{prefix}{i}")], path)


def test_two_processes_writing_at_once_lose_no_row_and_never_leave_a_partial_sheet(tmp_path):
    path = tmp_path / "grades.csv"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(path, prefix)) for prefix in ("p", "q")]
    for writer in writers:
        writer.start()
    seen = 0
    while any(w.is_alive() for w in writers):  # every sheet a reader sees is complete and parses
        if path.exists():
            rows = sheet.read_rows(path)
            assert all(json.loads(r["tests"])["test_a"]["points"] == 2.0 for r in rows)
            seen = max(seen, len(rows))
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    students = sorted(r["student"] for r in sheet.read_rows(path))
    assert students == sorted(f"{p}{i}" for p in "pq" for i in range(15))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"], "no temporary file is left"


# ----------------------------------------------------------------------------- feedback


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


def test_feedback_names_student_set_score_tests_and_versions():
    report = _report("ada", message="AssertionError: shapes differ")
    report.title = "Problem set 3: convolution"
    text = report.feedback(extra_lines=["Late by 2 h: -1 point"])
    assert text.startswith("# Problem set 3: convolution\n") and "`ada`" in text and "**Score: 2 / 6**" in text
    assert "`test_a`: 2 / 2, passed" in text and "`test_b`: 0 / 3, failed" in text
    assert "`written`: 0 / 1, manual" in text and "AssertionError: shapes differ" in text
    assert "Late by 2 h: -1 point" in text
    versions = sheet.runtime_versions()
    assert all(f"{name} {version}" in text for name, version in versions.items())
    assert versions["NumPy"] == __import__("numpy").__version__


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**bold** [link](http://x) # heading",
    "``` \n<b>x</b>\n```", "`` <i>y</i> ``", "````\n</code><script>z()</script>"])
def test_student_text_in_feedback_never_renders_as_markdown_or_html(payload):
    report = _report(f"name {payload}", message=f"ValueError: {payload}", status=f"grader error: {payload}")
    report.notes = [f"cell 3 raised ValueError: {payload}"]
    html = _rendered(report.feedback())
    assert not re.search(r"<(script|img|b|i|a|em|h2)\b", html), html
    assert html.count("<h1>") == 1 and html.count("<strong>") == 1, "only the grader's own Markdown renders"


def test_feedback_paths_stay_inside_the_folder_and_names_never_collide(tmp_path):
    names = ["..", ".", "...", "../x", "a/b", "a_b", "/etc", "nul\x00byte", "caf\udce9", "\x1b[2J", "", "ada"]
    paths = [sheet.feedback_path(tmp_path, name, "03_convolution.ipynb") for name in names]
    for path in paths:
        assert Path(os.path.abspath(path)).parent.parent == tmp_path and path.name == "03_convolution.md"
        assert "\x00" not in str(path) and "\x1b" not in str(path)
    assert len({p.parent for p in paths}) == len(names), "two different students never share a folder"
    assert paths[-1] == tmp_path / "ada" / "03_convolution.md", "ordinary names are kept as they are"
    for name in names:
        sheet.write_feedback(_report(name), tmp_path)
    assert sorted(tmp_path.rglob("*.md")) == sorted(paths)


# ----------------------------------------------------------------------------- intake


def test_only_regular_files_within_the_cap_are_read(tmp_path):
    good = tmp_path / "good.ipynb"
    good.write_bytes(b"{}")
    assert intake.read_submission(good) == b"{}"
    link = tmp_path / "link.ipynb"
    link.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.ipynb"
    with huge.open("wb") as handle:  # sparse: 1 GiB that costs nothing, refused before any read
        handle.truncate(2**30)
    expected = {link: "symbolic link", fifo: "FIFO", Path("/dev/null"): "character device", tmp_path: "folder",
                huge: f"at most {MAX_NOTEBOOK_BYTES}", tmp_path / "none.ipynb": "could not be opened"}
    for path, words in expected.items():
        with pytest.raises(Unreadable, match=words):
            intake.read_submission(path)
    with pytest.raises(Unreadable, match="at most 1"):
        intake.read_submission(good, cap=1)


def test_an_nbformat_3_notebook_is_upgraded_and_anything_else_passes_through():
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": [], "metadata": {}}]}]}
    upgraded = json.loads(intake.as_version_4(json.dumps(v3).encode()))
    assert upgraded["nbformat"] == 4 and "".join(upgraded["cells"][0]["source"]) == "x = 1"
    for data in (b"not json", b"[1]", json.dumps({"nbformat": 4, "cells": []}).encode()):
        assert intake.as_version_4(data) == data
    with pytest.raises(Unreadable, match="nbformat-3"):
        intake.as_version_4(json.dumps({"nbformat": 3, "worksheets": "garbage"}).encode())


@pytest.mark.parametrize("text, expected", [
    ("2026-12-01 14:03:22.123456 UTC", "2026-12-01T14:03:22Z"),
    ("2026-12-01 09:03:22.5 America/New_York", "2026-12-01T14:03:22Z"),
    ("2026-12-01 15:03:22.000001 +0100", "2026-12-01T14:03:22Z"),
    ("2026-12-01T14:03:22+00:00", "2026-12-01T14:03:22Z"),
    ("2026-12-01 14:03:22", "2026-12-01T14:03:22Z"),
    ("  2026-12-01 14:03:22.1 UTC\n", "2026-12-01T14:03:22Z")])
def test_nbgrader_timestamps_become_utc_iso(text, expected):
    assert intake.parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-12-01 14:03:22 Nowhere/Land", ""])
def test_a_timestamp_that_is_not_a_time_is_refused(text):
    with pytest.raises(ValueError, match="not a time"):
        intake.parse_timestamp(text)


def test_students_are_named_by_the_path_as_given_never_a_link_target(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "03_x.ipynb").write_text("{}")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "other.ipynb").symlink_to(tmp_path / "real" / "03_x.ipynb")
    assert intake.student_from_path(tmp_path / "alias" / "03_x.ipynb", "03_x.ipynb") == "alias"
    assert intake.student_from_path(tmp_path / "other.ipynb", "03_x.ipynb") == "other"
    assert intake.student_from_path(tmp_path / "real" / "x" / ".." / "03_x.ipynb", "03_x.ipynb") == "real"
    assert intake.student_from_path(tmp_path / "...ipynb", "03_x.ipynb") == ".."


def test_two_submissions_of_one_student_are_refused_and_listed(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "ada.ipynb").write_text("{}")
    (tmp_path / "bob.ipynb").write_text("{}")
    with pytest.raises(intake.Ambiguous) as refused:
        intake.discover([tmp_path / "a" / "ada.ipynb", tmp_path / "b" / "ada.ipynb", tmp_path / "bob.ipynb"],
                        "03_x.ipynb")
    assert str(tmp_path / "a" / "ada.ipynb") in str(refused.value)
    assert str(tmp_path / "b" / "ada.ipynb") in str(refused.value) and "bob" not in str(refused.value)
    once = intake.discover([tmp_path / "bob.ipynb", tmp_path / "." / "bob.ipynb"], "03_x.ipynb")
    assert [s.student for s in once] == ["bob"], "one file given twice is graded once"


# ----------------------------------------------------------------------------- nbgrader's layout


def _nbgrader_submitted(root: Path, students: dict[str, Path], notebook: str) -> Path:
    """Release ``notebook``'s set with nbgrader, submit each student's file through nbgrader's
    exchange and collect them: nbgrader's own ``submitted/`` tree."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.submit import ExchangeSubmit
    from traitlets.config import Config

    course, exchange = root / "course", root / "exchange"
    (course / "source" / "ps1").mkdir(parents=True)
    exchange.mkdir()
    shutil.copy(REPO / "solutions" / notebook, course / "source" / "ps1" / notebook)
    config = Config()
    config.CourseDirectory.root, config.CourseDirectory.course_id = str(course), "cnnlab"
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    config.Exchange.root = str(exchange)
    api = NbGraderAPI(config=config)
    for step in (api.generate_assignment, api.release_assignment):
        result = step("ps1")
        assert result["success"], result.get("error")
    for student, answer in students.items():
        home = root / "home" / student
        (home / "ps1").mkdir(parents=True)
        shutil.copy(answer, home / "ps1" / notebook)
        own = Config(config)
        own.CourseDirectory.assignment_id, own.CourseDirectory.student_id = "ps1", student
        own.Exchange.assignment_dir = str(home)
        ExchangeSubmit(coursedir=CourseDirectory(config=own), authenticator=Authenticator(config=own),
                       config=own).start()
    result = api.collect("ps1")
    assert result["success"], result.get("error")
    return course / "submitted"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_nbgraders_submitted_tree_names_students_and_records_their_timestamps(tmp_path):
    notebook = "01_perceptron.ipynb"
    exercise = REPO / "exercises" / notebook
    submitted = _nbgrader_submitted(tmp_path, {"ada": REPO / "solutions" / notebook, "bob": exercise}, notebook)
    found = intake.discover([submitted], REPO / "solutions" / notebook, layout="nbgrader", log=None)
    assert [(s.student, s.path) for s in found] == [(name, submitted / name / "ps1" / notebook)
                                                    for name in ("ada", "bob")]
    for submission in found:
        stamp = (submission.path.parent / "timestamp.txt").read_text()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ UTC", stamp), stamp
        assert submission.submitted_at == stamp[:10] + "T" + stamp[11:19] + "Z"
    with pytest.raises(ValueError, match="no <student>/<assignment>/01_perceptron.ipynb"):
        intake.discover([tmp_path / "course" / "release"], REPO / "solutions" / notebook, layout="nbgrader",
                        log=None)


# ----------------------------------------------------------------------------- reruns


def _tiny_source(path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Tiny set\n\nOne task."),
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                                  metadata={"nbgrader": {"grade_id": "answer", "solution": True, "grade": False,
                                                         "locked": False}}),
        nbformat.v4.new_code_cell("assert f() == 1", metadata={"nbgrader": {
            "grade_id": "test_f", "grade": True, "solution": False, "locked": True, "points": 1}})])
    nbformat.write(nb, path)


def test_a_rerun_regrades_the_graders_failures_and_skips_unchanged_rows(tmp_path):
    source = tmp_path / "tiny.ipynb"
    _tiny_source(source)
    prepared = grade.prepare(source)
    sheet_path = tmp_path / "grades.csv"
    paths = {}
    for student in ("amy", "bo"):
        (tmp_path / student).mkdir()
        paths[student] = tmp_path / student / "tiny.ipynb"
        paths[student].write_text("not json")
    digests = {s: grade.digest_of(prepared, p) for s, p in paths.items()}
    sheet.write_grades([GradeReport("amy", "tiny.ipynb", [CellResult("test_f", 0, 1, "x", "grader error")],
                                    "grader error: no result in 660 s", digests["amy"]),
                        GradeReport("bo", "tiny.ipynb", [CellResult("test_f", 0, 1, "x", "not run")],
                                    "unreadable: the notebook could not be read", digests["bo"])], sheet_path)
    lines = []
    reports = batch.grade_batch(list(paths.values()), source, sheet_path, tmp_path / "feedback",
                                grade.Options(sandbox=False), log=lines.append)
    assert [r.student for r in reports] == ["amy"], lines
    assert any(line.startswith("bo: unchanged") for line in lines), lines
    rows = {r["student"]: r for r in sheet.read_rows(sheet_path)}
    assert rows["amy"]["status"].startswith("unreadable") and rows["amy"]["digest"] == digests["amy"]
    assert json.loads(rows["amy"]["tests"])["test_f"]["status"] == "not run"
    assert rows["amy"]["submission"] == str(paths["amy"]) and rows["amy"]["graded_at"].endswith("Z")
    feedback = (tmp_path / "feedback" / "amy" / "tiny.md").read_text()
    assert feedback.startswith("# Tiny set\n") and "`amy`" in feedback
    assert not batch.grader_failed(reports)


def test_a_feedback_file_that_cannot_be_written_is_the_graders_error_of_that_row_only(tmp_path):
    source = tmp_path / "tiny.ipynb"
    _tiny_source(source)
    feedback = tmp_path / "feedback"
    feedback.mkdir()
    (feedback / "amy").write_text("a file where amy's folder should be")
    paths = []
    for student in ("amy", "bo"):
        (tmp_path / student).mkdir()
        paths.append(tmp_path / student / "tiny.ipynb")
        paths[-1].write_text("not json")
    reports = batch.grade_batch(paths, source, tmp_path / "grades.csv", feedback, grade.Options(sandbox=False),
                                log=lambda line: None)
    rows = {r["student"]: r for r in sheet.read_rows(tmp_path / "grades.csv")}
    assert rows["amy"]["status"].startswith("grader error: the feedback file could not be written")
    assert rows["bo"]["status"].startswith("unreadable") and (feedback / "bo" / "tiny.md").is_file()
    assert batch.grader_failed(reports)


# ----------------------------------------------------------------------------- the review copy


def test_the_workers_outputs_are_rechecked_whatever_it_claims():
    from cnnlab.grading import review

    raw = [["a", "x" * (review.TEXT_CHARS + 5)], ["b", 3], "garbage", ["c"], [["d"], "t"], ["e" * 999, "ok"]]
    outputs = review.bounded_outputs(raw)
    assert outputs == {"a": "x" * review.TEXT_CHARS, "e" * review.LABEL_CHARS: "ok"}
    flood = [[f"cell {i}", "y" * review.TEXT_CHARS] for i in range(1000)]
    assert sum(map(len, review.bounded_outputs(flood).values())) == review.NOTEBOOK_CHARS
    assert review.bounded_outputs({"not": "a list"}) == {} and review.bounded_outputs(None) == {}


def test_the_review_copy_puts_outputs_under_the_cells_that_ran_and_stays_valid(tmp_path):
    from cnnlab.grading import restore, review

    source = tmp_path / "tiny.ipynb"
    _tiny_source(source)
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('mine \ud800 \x1b[31m')"))
    data = json.dumps(nb).encode("utf-8", "surrogatepass")
    cells = restore.parse_notebook(data)
    text = review.executed_copy(restore.load_source(source), cells, {"cell 4": "mine \ud800 \x1b[31m\n"},
                                [["answer", "ValueError", "bad <b>"]])
    text.encode("utf-8")  # nothing unencodable
    copy = nbformat.reads(text, as_version=4)
    nbformat.validate(copy)
    assert [c.cell_type for c in copy.cells] == ["markdown", "code", "code", "code"]
    assert copy.cells[1].outputs[0].ename == "ValueError" and copy.cells[2].outputs == []
    assert copy.cells[3].outputs[0].text == "mine \ufffd \\x1b[31m\n"
