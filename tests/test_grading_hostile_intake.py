"""Hostile bytes and names at the grader's door, graded once in one sandboxed batch.

Every case is a submission whose *text* or *file* is the attack, not its code: a lone
surrogate and Markdown/HTML in error messages, folder names that are not UTF-8, that
hold ANSI escapes or spreadsheet formulas, a symbolic link to ``/dev/zero``, a FIFO, a
file named ``...ipynb``, an nbformat-3 notebook and a notebook over the size cap. Each
must get its score and status while every other row is written intact, nothing is
written outside ``--out`` and ``--feedback``, and the terminal gets no control
characters. Two submissions of one student are refused before grading, both listed.
Needs bubblewrap: skips with the reason without it, fails under CI=true.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt

from cnnlab.grading import sandbox, sheet
from cnnlab.grading.generate import make_exercise
from cnnlab.grading.restore import MAX_NOTEBOOK_BYTES, load_source
from tests.conftest import REPO, missing_outside_part
from tests.test_grading_sheet import _nbgrader_submitted

SOLUTION = REPO / "solutions" / "03_convolution.ipynb"
SOURCE = load_source(SOLUTION)
FULL = sum(c.points for c in SOURCE if c.role == "test")
FIRST = next(node.name for c in SOURCE if c.role == "answer" for node in ast.parse(c.source).body
             if isinstance(node, ast.FunctionDef))
HTML = "<script>alert(1)</script><img src=x onerror=alert(2)> **bold** ``` [x](http://evil)"


def _needs_sandbox():
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as err:
        missing_outside_part(f"grading sandbox: {err}")


def _solution():
    return nbformat.read(SOLUTION, as_version=4)


def _exercise_raising(message_code: str):
    """The untouched exercise whose first function raises ``ValueError(<message_code>)``."""
    nb = make_exercise(_solution())
    nb.cells.append(nbformat.v4.new_code_cell(f"def {FIRST}(*args, **kwargs):\n    raise ValueError({message_code})"))
    return nb


def _with_cell(code):
    nb = _solution()
    nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


def _bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


# folder name (bytes) -> (notebook bytes or a maker of a special file, score, status start, student in the sheet)
CASES = {
    b"surrogate": (_bytes(_exercise_raising("'bad ' + chr(0xD800) + ' and ' + chr(0xDCE9) + ' text'")), 0, "ok",
                   "surrogate"),
    b"caf\xe9": (_bytes(_solution()), FULL, "ok", "caf\\xe9"),
    b'=HYPERLINK("evil.example","x")': (_bytes(make_exercise(_solution())), 0, "ok",
                                         '=HYPERLINK("evil.example","x")'),
    b"+1": (_bytes(make_exercise(_solution())), 0, "ok", "+1"),
    b"@x": (_bytes(make_exercise(_solution())), 0, "ok", "@x"),
    b"markdown": (_bytes(_exercise_raising(repr(HTML))), 0, "ok", "markdown"),
    b"\x1b[31mansi\x1b[0m": (_bytes(_solution()), FULL, "ok", "\\x1b[31mansi\\x1b[0m"),
    b"zero_link": ("symlink", 0, "unreadable: the submission is a symbolic link", "zero_link"),
    b"fifo": ("fifo", 0, "unreadable: the submission is a FIFO", "fifo"),
    b"nbformat3": (nbformat.writes(nbformat.convert(_solution(), 3)).encode(), FULL, "ok", "nbformat3"),
    b"huge": ("huge", 0, f"unreadable: the notebook is {2**30} bytes (at most {MAX_NOTEBOOK_BYTES})", "huge"),
}
PRINTER = "print('HELLO-' + 'FROM-STUDENT')\nprint('x' * 100_000)\nimport sys\nsys.stderr.write('to stderr')\n1 / 0"
CASES[b"printer"] = (_bytes(_with_cell(PRINTER)), FULL, "ok", "printer")
DOTS = "..."  # a file ...ipynb beside the folders: the student ".." whose feedback must stay inside


def _make(path: bytes, content) -> None:
    if content == "symlink":
        os.symlink("/dev/zero", path)
    elif content == "fifo":
        os.mkfifo(path)
    elif content == "huge":
        with open(path, "wb") as handle:  # sparse: costs no disk, must be refused unread
            handle.truncate(2**30)
    else:
        with open(path, "wb") as handle:
            handle.write(content)


def _tree(root: Path, skip: set) -> dict:
    """Every entry under ``root`` (bytes paths) with its type, size and content hash."""
    found = {}
    for folder, dirs, files in os.walk(os.fsencode(root)):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
        for name in dirs + files:
            path = os.path.join(folder, name)
            if path in skip:
                continue
            info = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path) and info.st_size < 2**24:
                digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
            found[path] = (info.st_mode, info.st_size, digest)
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    _needs_sandbox()
    base = tmp_path_factory.mktemp("intake")
    root = base / "class"
    root.mkdir()
    submissions = []
    for folder, (content, *_rest) in CASES.items():
        os.mkdir(os.path.join(os.fsencode(root), folder))
        path = os.path.join(os.fsencode(root), folder, os.fsencode(SOLUTION.name))
        _make(path, content)
        submissions.append(path)
    dots = os.fsencode(root / f"{DOTS}ipynb")
    _make(dots, _bytes(_solution()))
    submissions.append(dots)
    out, feedback = root / "grades.csv", root / "feedback"
    out.write_text("student,notebook,score,max_score,status,digest\nzed,other.ipynb,7,9,ok,abc\n")
    skip = {os.fsencode(out), os.fsencode(feedback)}
    before, around = _tree(root, skip), set(os.listdir(base.parent))
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab.cli", "grade", *submissions, "--solution", str(SOLUTION),
         "--out", str(out), "--feedback", str(feedback), "--jobs", "2", "--timeout", "20", "--max-time", "60"],
        capture_output=True, timeout=900)
    rows = {r["student"]: r for r in sheet.read_rows(out)}
    return dict(root=root, out=out, feedback=feedback, result=result, rows=rows, before=before,
                after=_tree(root, skip), around=around, around_after=set(os.listdir(base.parent)))


def _feedback(batch, student) -> str:
    return sheet.feedback_path(batch["feedback"], student, SOLUTION.name).read_text(encoding="utf-8")


def test_the_batch_finishes_and_the_terminal_gets_no_control_characters(batch):
    result = batch["result"]
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:]).decode("utf-8", "replace")
    output = (result.stdout + result.stderr).decode("utf-8")  # strictly UTF-8: no raw undecodable byte
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", output), output[-2000:]
    assert "\\x1b[31mansi" in output and "caf\\xe9" in output


@pytest.mark.parametrize("folder", list(CASES), ids=lambda f: f.decode("latin-1"))
def test_each_case_gets_its_score_and_status_and_a_complete_row(batch, folder):
    _, score, status, student = CASES[folder]
    row = batch["rows"][student]
    assert float(row["score"]) == score and float(row["max_score"]) == FULL, row
    assert row["status"].startswith(status), row
    tests = json.loads(row["tests"])
    assert [gid for gid in tests] == [c.grade_id for c in SOURCE if c.role == "test"]
    assert sum(t["points"] for t in tests.values()) == score
    assert row["graded_at"].endswith("Z") and float(row["seconds"]) >= 0
    assert os.fsencode(row["submission"].replace("\\xe9", "\udce9").replace("\\x1b", "\x1b")).endswith(
        folder + b"/" + os.fsencode(SOLUTION.name))
    if status.startswith("unreadable"):
        assert {t["status"] for t in tests.values()} == {"not run"}
    else:
        assert row["digest"]
    text = _feedback(batch, student)
    assert f"Score: {score:g} / {FULL:g}" in text


def test_the_dots_file_is_graded_and_its_feedback_stays_inside(batch):
    row = batch["rows"][".."]
    assert float(row["score"]) == FULL and row["status"] == "ok"
    path = sheet.feedback_path(batch["feedback"], "..", SOLUTION.name)
    assert path.is_file() and path.parent.parent == batch["feedback"]


def test_the_old_row_is_kept_and_every_row_is_there(batch):
    assert batch["rows"]["zed"]["score"] == "7"
    assert set(batch["rows"]) == {"zed", ".."} | {case[3] for case in CASES.values()}


def test_text_from_submissions_is_stored_safe(batch):
    raw = batch["out"].read_bytes().decode("utf-8")  # strict: no lone surrogate or raw byte reached the sheet
    assert "\x1b" not in raw
    for line in raw.splitlines()[1:]:
        assert not line.startswith(("=", "+", "-", "@", '"=', '"+', '"@')), line
    surrogate = json.loads(batch["rows"]["surrogate"]["tests"])
    assert any("bad \ufffd and \\xe9 text" in t["message"] for t in surrogate.values()), surrogate
    assert "bad \ufffd and \\xe9 text" in _feedback(batch, "surrogate")


def test_markdown_and_html_from_messages_are_not_rendered(batch):
    text = _feedback(batch, "markdown")
    assert "<script>alert(1)</script>" in text, "the message is shown, as text"
    html = MarkdownIt("commonmark").render(text)
    assert not re.search(r"<(script|img|a|em)\b", html) and html.count("<strong>") == 1, html


def test_the_review_copy_keeps_what_the_students_cells_printed_capped(batch):
    path = sheet.feedback_path(batch["feedback"], "printer", SOLUTION.name, ".executed.ipynb")
    copy = nbformat.read(path, as_version=4)
    nbformat.validate(copy)
    submitted = nbformat.read(batch["root"] / "printer" / SOLUTION.name, as_version=4)
    assert [c.source for c in copy.cells] == [c.source for c in submitted.cells]
    last = copy.cells[-1]
    [stream, error] = last.outputs
    assert stream.text.startswith("HELLO-FROM-STUDENT\nxxx") and len(stream.text) == 10_000
    assert error.ename == "ZeroDivisionError"
    tests = [ours for ours, theirs in zip(copy.cells, submitted.cells)
             if theirs.metadata.get("nbgrader", {}).get("grade")]
    assert tests and all(not c.outputs for c in tests), "test cells never ran in the sandbox"


def test_nothing_is_written_outside_out_and_feedback(batch):
    assert batch["after"] == batch["before"]
    assert batch["around_after"] == batch["around"]
    for path in batch["feedback"].rglob("*"):
        assert Path(os.path.abspath(path)).is_relative_to(batch["feedback"])
        assert path.is_dir() or path.suffix in (".md", ".ipynb")


def test_two_submissions_of_one_student_are_refused_before_grading(batch, tmp_path):
    first, second = tmp_path / "a" / "ada.ipynb", tmp_path / "b" / "ada.ipynb"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(_bytes(_solution()))
    out = tmp_path / "grades.csv"
    result = subprocess.run([sys.executable, "-m", "cnnlab.cli", "grade", str(first), str(second),
                             "--solution", str(SOLUTION), "--out", str(out), "--feedback", str(tmp_path / "fb")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(first) in result.stderr and str(second) in result.stderr and "one student" in result.stderr
    assert not out.exists() and not (tmp_path / "fb").exists(), "nothing is graded or written"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_nbgraders_layout_is_graded_by_student_folder_with_its_timestamp(tmp_path):
    _needs_sandbox()
    notebook = "01_perceptron.ipynb"
    solution = REPO / "solutions" / notebook
    submitted = _nbgrader_submitted(tmp_path, {"ada": solution, "bob": REPO / "exercises" / notebook}, notebook)
    out = tmp_path / "grades.csv"
    result = subprocess.run([sys.executable, "-m", "cnnlab.cli", "grade", "--layout", "nbgrader", str(submitted),
                             "--solution", str(solution), "--out", str(out), "--feedback", str(tmp_path / "fb")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {r["student"]: r for r in sheet.read_rows(out)}
    full = sum(c.points for c in load_source(solution) if c.role == "test")
    assert {s: float(r["score"]) for s, r in rows.items()} == {"ada": full, "bob": 0}
    for student, row in rows.items():
        stamp = (submitted / student / "ps1" / "timestamp.txt").read_text()
        assert row["submitted_at"] == stamp[:10] + "T" + stamp[11:19] + "Z"
        assert row["submission"] == str(submitted / student / "ps1" / notebook)
        assert (tmp_path / "fb" / student / "01_perceptron.md").is_file()
