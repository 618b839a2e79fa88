"""The grader's parts: the plain-data wire, notebook restoring, the judge's calls across
the boundary (in-place updates, exceptions, refusals), the locked sheet and the CLI."""
from __future__ import annotations

import csv
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from cnnlab.grading import batch, grade, restore, sandbox, sheet, wire
from cnnlab.grading.judge import HIDDEN_FAILED, free_names

# ----------------------------------------------------------------------------- wire


@pytest.mark.parametrize("dtype", ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"])
def test_arrays_of_every_allowed_dtype_round_trip(dtype):
    array = (np.random.default_rng(0).normal(size=(3, 0, 2)) if dtype == "f8" else
             np.random.default_rng(0).integers(0, 2, size=(2, 3, 4)).astype(dtype))
    back = wire.decode(wire.encode(array))
    assert type(back) is np.ndarray and back.dtype == array.dtype and back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_plain_data_round_trips_with_its_types():
    value = {"a": [1, 2.5, None, True, "s"], 3: (np.float32(1.5), np.int64(7)), "nan": float("nan"),
             "t": torch.arange(4.0, dtype=torch.float64)}
    back = wire.decode(wire.encode(value))
    assert back["a"] == [1, 2.5, None, True, "s"] and type(back[3]) is tuple
    assert back[3][0].dtype == np.float32 and back[3][1] == 7 and np.isnan(back["nan"])
    np.testing.assert_array_equal(back["t"], [0, 1, 2, 3])


def test_subclasses_become_plain_arrays_and_objects_are_refused():
    class Rigged(np.ndarray):
        def __eq__(self, other):
            return True
    assert type(wire.decode(wire.encode(np.zeros(2).view(Rigged)))) is np.ndarray
    for bad in (np.array([object()]), object(), {(1, 2): 3}, {1.5: 2}, iter([1])):
        with pytest.raises(wire.NotPlainData):
            wire.encode(bad)


@pytest.mark.parametrize("data", [
    {"$nd": ["|O", [1], ""]}, {"$nd": ["<f8", [2], "AAAAAAAAAAA="]}, {"$nd": ["<f8", [-1], ""]},
    {"$evil": 1}, {"$dict": [[[1], 2]]}, {"$tuple": 5, "x": 1}, {"$np": ["<f8", "AA=="]},
    {"$nd": ["<f8", [10**12], ""]}])
def test_the_decoder_refuses_malformed_values(data):
    with pytest.raises(wire.NotPlainData):
        wire.decode(data)


def test_the_decoder_refuses_deep_nesting():
    deep = 1
    for _ in range(wire.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(wire.NotPlainData):
        wire.decode(deep)


def test_frames_that_are_too_big_garbage_or_late_are_refused():
    read, write = os.pipe()
    try:
        os.write(write, (wire.MAX_FRAME + 1).to_bytes(8, "big"))
        with pytest.raises(wire.WireClosed, match="at most"):
            wire.receive(read, time.monotonic() + 5)
        os.write(write, (3).to_bytes(8, "big") + b"[1]")
        with pytest.raises(wire.WireClosed, match="not a JSON object"):
            wire.receive(read, time.monotonic() + 5)
        with pytest.raises(TimeoutError):
            wire.receive(read, time.monotonic() + 0.2)
        wire.send(write, {"ok": [1, 2]})
        assert wire.receive(read, time.monotonic() + 5) == {"ok": [1, 2]}
    finally:
        os.close(read)
        os.close(write)

# ----------------------------------------------------------------------------- restoring


def _cell(source, kind="code", **nbgrader):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = dict(nbgrader, schema_version=3)
    return cell


def _source_notebook():
    helper = _cell("def report(n):\n    return {'kind': type(Model()).__name__, 'n': n}", grade_id="helper",
                   locked=True, grade=False, solution=False)
    helper.metadata["cnnlab"] = {"side": "student"}
    return nbformat.v4.new_notebook(cells=[
        _cell("import numpy as np\nSCALE = 2", grade_id="setup", locked=True, grade=False, solution=False),
        _cell("def update(state, arr):\n    state['m'] = state['m'] + SCALE\n    arr += 1\n"
              "    return {'sum': float(arr.sum())}\n"
              "def check(x):\n    if x < 0:\n        raise ValueError(f'negative {x}')\n    return x\n"
              "class Model:\n    pass", grade_id="answer", solution=True, grade=False, locked=False),
        helper,
        _cell("state = {'m': np.zeros(2)}\narr = np.zeros(3)\nassert update(state, arr) == {'sum': 3.0}\n"
              "assert state['m'][0] == SCALE and arr[0] == 1\n"
              "### BEGIN HIDDEN TESTS\nassert check(-5) == -5\n### END HIDDEN TESTS",
              grade_id="test_update", grade=True, solution=False, locked=True, points=2),
        _cell("assert report(3) == {'kind': 'Model', 'n': 3}\ntry:\n    check(-1)\nexcept ValueError as e:\n"
              "    assert 'negative' in str(e)\nelse:\n    raise AssertionError('no error')",
              grade_id="test_helper", grade=True, solution=False, locked=True, points=1),
        _cell("assert Model() is not None", grade_id="test_object", grade=True, solution=False, locked=True,
              points=1),
        _cell("assert model_object is None", grade_id="test_refused", grade=True, solution=False, locked=True,
              points=1),
    ])


def test_split_test_keeps_line_numbers_and_order():
    parts = restore.split_test("a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS\nc = 3")
    assert [hidden for hidden, _ in parts] == [False, True, False]
    assert parts[1][1].splitlines()[2] == "b = 2" and parts[2][1].splitlines()[4] == "c = 3"
    with pytest.raises(ValueError, match="never closed"):
        restore.split_test("### BEGIN HIDDEN TESTS\nx")


def test_the_student_program_takes_answers_from_the_submission_and_the_rest_from_the_source():
    source = restore.parse_notebook(nbformat.writes(_source_notebook()).encode())
    submission = _source_notebook()
    submission.cells[1].source = "def update(*a): return 0"
    submission.cells[0].source = "SCALE = 100"          # a set-up cell edited: the source's runs
    submission.cells[3].source = "pass"                 # a test cell edited: noted
    del submission.cells[4]                             # a test cell deleted: noted
    submission.cells.append(_cell("extra = 1"))
    submission.cells[2].metadata["nbgrader"] = "garbage"  # a helper with broken metadata runs as the student's
    program, edited = restore.student_program(source, restore.parse_notebook(nbformat.writes(submission).encode()))
    labels = [label for label, _ in program]
    assert labels[0] == "helper" and "setup" in labels and "answer" in labels
    assert dict(program)["setup"] == "import numpy as np\nSCALE = 2"
    assert dict(program)["answer"] == "def update(*a): return 0"
    assert not any("assert" in code for _, code in program), "test cells never run in the sandbox"
    assert edited == ["test_update", "test_helper"]


def test_unreadable_notebooks_say_why():
    for data, reason in [(b"{", "not valid JSON"), (b"[]", "no list of cells"), (b"\xff", "not valid JSON")]:
        with pytest.raises(restore.Unreadable, match=reason):
            restore.parse_notebook(data)


def test_free_names_are_what_a_cell_reads_but_never_binds():
    code = "import numpy as np\nx = f(2)\nfor i in range(3):\n    g(i, x, y)\ndef h(a):\n    return a + z"
    assert free_names(code) == {"f", "g", "y", "z"}

# ----------------------------------------------------------------------------- judging across the boundary


def test_calls_cross_as_plain_data_with_in_place_updates_exceptions_and_refusals(tmp_path):
    solution = tmp_path / "source.ipynb"
    nbformat.write(_source_notebook(), solution)
    student = tmp_path / "kim" / "source.ipynb"
    student.parent.mkdir()
    nbformat.write(_source_notebook(), student)
    nb = nbformat.read(student, as_version=4)
    nb.cells.append(_cell("model_object = Model()"))
    nbformat.write(nb, student)
    report = grade.grade_notebook(student, solution, sandbox=sandbox.usable(), max_time=60)
    results = {t.grade_id: t for t in report.tests}
    assert results["test_update"].message == HIDDEN_FAILED, "check(-5) raises in a hidden part"
    assert results["test_helper"].points == 1, "in-place updates, exceptions and the helper cross"
    assert "plain data" in results["test_object"].message and "Model" in results["test_object"].message
    assert "model_object" in results["test_refused"].message and "plain" in results["test_refused"].message
    assert report.score == 1 and report.status == "ok"

# ----------------------------------------------------------------------------- sheet, batch and CLI


def _write_rows(sheet_path, prefix):
    for i in range(20):
        sheet.write_grades([sheet.GradeReport(f"{prefix}{i}", "n.ipynb", [sheet.CellResult("t", 1, 1, "passed")])],
                           sheet_path)


def test_concurrent_writers_never_lose_a_row(tmp_path):
    path = tmp_path / "grades.csv"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_rows, args=(path, p)) for p in "abc"]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 60 and {r["student"][0] for r in rows} == set("abc")


def test_sizes_and_shards():
    assert grade.parse_size("2G") == 2 * 2**30 and grade.parse_size("512M") == 512 * 2**20
    assert grade.parse_size("1000") == 1000
    with pytest.raises(ValueError, match="not a size"):
        grade.parse_size("lots")
    shards = [batch.select_shard(list(range(10)), (k, 3)) for k in (1, 2, 3)]
    assert sorted(sum(shards, [])) == list(range(10)) and shards[0] == [0, 3, 6, 9]


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "cnnlab.cli", "grade", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)


def test_without_bubblewrap_the_grader_refuses_and_says_how_to_fix_it(tmp_path):
    solution = tmp_path / "source.ipynb"
    nbformat.write(_source_notebook(), solution)
    broken = tmp_path / "eve" / "source.ipynb"
    broken.parent.mkdir()
    broken.write_text("{ not json")
    env = dict(os.environ, PATH=str(tmp_path))  # no bwrap on this PATH
    refused = _cli(broken, "--solution", solution, "--out", tmp_path / "g.csv", env=env)
    assert refused.returncode == 2 and "bubblewrap" in refused.stderr and "--no-sandbox" in refused.stderr
    assert not (tmp_path / "g.csv").exists()
    unsafe = _cli(broken, "--solution", solution, "--out", tmp_path / "g.csv", "--no-sandbox", env=env)
    assert unsafe.returncode == 0 and "without the sandbox" in unsafe.stderr
    assert "unreadable" in (tmp_path / "g.csv").read_text()


def test_help_documents_the_submissions():
    out = subprocess.run([sys.executable, "-m", "cnnlab.cli", "grade", "--help"], capture_output=True, text=True)
    text = " ".join(out.stdout.split())
    assert "named by the notebook's folder" in text and "--shard" in text

# ----------------------------------------------------------------------------- the sandbox itself


def test_the_sandbox_hides_the_host_and_takes_every_process_with_it(tmp_path):
    from tests.conftest import REPO
    from tests.test_grading_hostile import _needs_sandbox

    _needs_sandbox()
    notebook = tmp_path / "kim" / "n.ipynb"
    notebook.parent.mkdir()
    notebook.write_text("{}")
    (tmp_path / "kim" / "data.txt").write_text("mine")
    (tmp_path / "kim" / "link").symlink_to(REPO / "README.md")
    worker = sandbox.Worker(notebook, whole_folder=True, sandbox=True, max_memory=2**30, max_seconds=30)
    from cnnlab.grading.judge import Session
    session = Session(worker, time.monotonic() + 60, 30)
    marker = f"{os.getpid()}.5"
    home = Path.home()  # the Python environment may live under it: only that part may show
    hidden_paths = [str(REPO / "solutions"), str(REPO / "README.md"), str(tmp_path), str(notebook),
                    *(str(p) for p in home.iterdir() if not str(sys.prefix).startswith(str(p))
                      and not str(sys.base_prefix).startswith(str(p)))]
    try:
        errors = session.start([("probe", (
            "import os, socket, subprocess\n"
            f"visible = [p for p in {hidden_paths!r} "
            "if os.path.exists(p)]\n"
            "home = sorted(os.listdir('.'))\n"
            "readable = open('data.txt').read()\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    network = True\n"
            "except OSError:\n    network = False\n"
            f"pids = [subprocess.Popen(['sleep', '{marker}'], start_new_session=True).pid]\n"
            "if os.fork() == 0:\n    os.setsid()\n"
            f"    os.execvp('sleep', ['sleep', '{marker}'])\n"))])
        values = {}
        for name in ("visible", "home", "readable", "network", "pids"):
            values[name] = wire.decode(session.request({"op": "get", "name": name})["value"])
    finally:
        worker.kill()
    assert errors == [] and values["visible"] == [] and values["network"] is False
    assert values["home"] == ["data.txt", "n.ipynb"] and values["readable"] == "mine"
    assert len(values["pids"]) == 1
    time.sleep(0.5)
    left = [p for p in os.listdir("/proc") if p.isdigit() and marker in _cmdline(p)]
    assert left == [], "processes started in a new session must die with the sandbox"


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_reader_that_stops_reading_cannot_block_the_sender():
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="does not read"):
            wire.send(write, {"big": "x" * 2**20}, time.monotonic() + 0.5)
        assert time.monotonic() - started < 5
    finally:
        os.close(read)
        os.close(write)


def test_magics_in_a_students_cell_do_nothing_and_errors_are_recorded():
    from cnnlab.grading.worker import run_cells

    namespace = {}
    errors = run_cells([("a", "%matplotlib inline\nx = 1"), ("b", "!ls\ny = x + 1"), ("c", "1/0"),
                        ("d", "raise SystemExit(3)")], namespace)
    assert namespace["y"] == 2
    assert errors == [["c", "ZeroDivisionError", "division by zero"], ["d", "SystemExit", "3"]]


def test_a_judge_that_crashes_costs_only_its_own_row_and_is_the_graders_failure(tmp_path, monkeypatch):
    solution = tmp_path / "source.ipynb"
    nbformat.write(_source_notebook(), solution)
    paths = []
    for student in ("amy", "bo"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "source.ipynb").write_text("not json")
        paths.append(tmp_path / student / "source.ipynb")
    real = batch.grade_one

    def crash_for_amy(prepared, path, options):
        if "amy" in str(path):
            os._exit(7)
        return real(prepared, path, options)

    monkeypatch.setattr(batch, "grade_one", crash_for_amy)
    reports = batch.grade_batch(paths, solution, tmp_path / "g.csv", jobs=2, log=lambda line: None)
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "g.csv").open())}
    assert rows["amy"]["status"].startswith("grader error") and rows["bo"]["status"].startswith("unreadable")
    assert batch.grader_failed(reports) and "grader error" in batch.summary(reports)
