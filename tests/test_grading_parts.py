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
    answer = _cell("def update(state, arr):\n    state['m'] = state['m'] + SCALE\n    arr += 1\n"
                   "    return {'sum': float(arr.sum())}\n"
                   "def check(x):\n    if x < 0:\n        raise ValueError(f'negative {x}')\n    return x\n"
                   "class Model:\n    pass\nmodel_object = None", grade_id="answer", solution=True, grade=False,
                   locked=False)
    answer.metadata["cnnlab"] = {"mutates": {"update": ["state"]}}  # arr is changed too, but not by the API
    return nbformat.v4.new_notebook(cells=[
        _cell("import numpy as np\nSCALE = 2", grade_id="setup", locked=True, grade=False, solution=False),
        answer,
        helper,
        _cell("state = {'m': np.zeros(2)}\narr = np.zeros(3)\nassert update(state, arr) == {'sum': 3.0}\n"
              "assert state['m'][0] == SCALE and arr[0] == 0\n"
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
    assert restore.crossing_names(source)["report"] == "helper", "a student-side helper's names cross"
    assert set(restore.answer_names(source)) == {"update", "check", "Model", "model_object"}


def test_unreadable_notebooks_say_why():
    for data, reason in [(b"{", "not valid JSON"), (b"[]", "no list of cells"), (b"\xff", "not valid JSON")]:
        with pytest.raises(restore.Unreadable, match=reason):
            restore.parse_notebook(data)


def test_free_names_are_what_a_cell_reads_but_never_binds():
    code = "import numpy as np\nx = f(2)\nfor i in range(3):\n    g(i, x, y)\ndef h(a):\n    return a + z"
    assert free_names(code) == {"f", "g", "y", "z"}

# ----------------------------------------------------------------------------- judging across the boundary


def test_calls_cross_as_plain_data_with_declared_updates_exceptions_and_refusals(tmp_path):
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
    assert results["test_helper"].points == 1, "exceptions and the student-side helper cross"
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
    errors, imports = run_cells([("a", "%matplotlib inline\nx = 1"), ("b", "!ls\ny = x + 1"), ("c", "1/0"),
                                 ("d", "raise SystemExit(3)")], namespace)
    assert imports == {}
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

# ----------------------------------------------------------------------------- issue 15: the judge's own data


def test_dtypes_and_numpy_scalar_types_cross_as_dtypes_and_a_namedtuple_as_a_tuple():
    from collections import namedtuple

    cache = namedtuple("Cache", "x std")(np.ones(2), 0.5)
    decoded = wire.decode(wire.encode({"dtype": np.float32, "kind": np.dtype("int64"), "cache": cache}))
    assert decoded["dtype"] == np.dtype("float32") and isinstance(decoded["dtype"], np.dtype)
    assert decoded["kind"] == np.dtype("int64")
    assert type(decoded["cache"]) is tuple and decoded["cache"][1] == 0.5
    for value in (np.floating, np.str_, np.dtype(object), object):
        with pytest.raises(wire.NotPlainData):
            wire.encode(value)
    with pytest.raises(wire.NotPlainData):
        wire.decode({"$dtype": "|O"})


class _InProcess:
    """A session whose worker is ``worker.answer`` in this process, messages through JSON."""

    def __init__(self, code):
        from cnnlab.grading import worker

        self.namespace, self.answer = {"np": np}, worker.answer
        exec(code, self.namespace)
        self.source, self.evidence, self.memory = [], [], False

    def request(self, message):
        import json

        return json.loads(json.dumps(self.answer(json.loads(json.dumps(message)), self.namespace)))


def test_only_the_declared_argument_comes_back_and_the_judges_arrays_stay_its_own():
    from cnnlab.grading.judge import Proxy

    session = _InProcess("def step(x, dout, bn_param):\n    dout[...] = 0\n    x += 1\n"
                         "    bn_param['seen'] = float(x.sum())\n    bn_param['dtype'] = np.float32\n"
                         "    return dout.sum()")
    step = Proxy(session, "step", ["x", "dout", "bn_param"], ("bn_param",))
    x, dout, bn_param = np.zeros(2), np.ones(3), {"mode": "train"}
    assert step(x, dout, bn_param) == 0.0
    assert dout.tolist() == [1.0, 1.0, 1.0] and x.tolist() == [0.0, 0.0], "undeclared arguments never come back"
    assert bn_param == {"mode": "train", "seen": 2.0, "dtype": np.dtype("float32")}
    by_keyword = {"mode": "test"}
    step(np.zeros(1), dout=np.ones(1), bn_param=by_keyword)
    assert by_keyword["seen"] == 1.0, "a declared argument passed by keyword comes back too"


def test_a_value_that_is_not_plain_data_is_named_on_either_side():
    from cnnlab.grading.judge import Proxy

    session = _InProcess("def forward(x, bn_param):\n    bn_param['log'] = object()\n    return x")
    forward = Proxy(session, "forward", ["x", "bn_param"], ("bn_param",))
    bn_param = {"mode": "train"}
    with pytest.raises(TypeError, match=r"bn_param\['log'\]"):
        forward(np.zeros(1), bn_param)
    assert bn_param == {"mode": "train"}
    with pytest.raises(TypeError, match=r"bn_param\['callback'\]"):
        forward(np.zeros(1), {"callback": print})


def _judge_notebook():
    """A small set: a judge-side reference, two answers (one off-limits list), a manual cell."""
    judge_side = _cell("def reference(x):\n    return 2 * x", grade_id="judge_setup", locked=True, grade=False,
                       solution=False)
    judge_side.metadata["cnnlab"] = {"side": "judge"}
    double = _cell("def double(x):\n    return 2 * x\nFACTOR = 2", grade_id="double", solution=True, grade=False)
    double.metadata["cnnlab"] = {"off_limits": ["cnnlab.reference", "torch.nn.functional"]}
    return nbformat.v4.new_notebook(cells=[
        _cell("import numpy as np", grade_id="setup", locked=True, grade=False, solution=False),
        judge_side, double,
        _cell("def slow(n):\n    return n", grade_id="slow", solution=True, grade=False),
        _cell("assert double(3) == reference(3) and FACTOR == 2", grade_id="test_double", grade=True, points=2),
        _cell("try:\n    extra\nexcept NameError:\n    pass\nelse:\n    raise AssertionError('crossed')",
              grade_id="test_no_extra", grade=True, points=1),
        _cell("assert slow(1) == 1", grade_id="test_slow", grade=True, points=1),
        _cell("assert double(2) == reference(2)", grade_id="test_after", grade=True, points=1),
        _cell("Explain.", kind="markdown", grade_id="essay", solution=True, grade=True, points=3),
    ])


def _judged(tmp_path, *student_cells, timeout=20, max_time=60):
    solution = tmp_path / "source.ipynb"
    nbformat.write(_judge_notebook(), solution)
    student = tmp_path / "kim.ipynb"
    nb = _judge_notebook()
    nb.cells += [_cell(code) for code in student_cells]
    nbformat.write(nb, student)
    prepared = grade.prepare(solution)
    program, _ = restore.student_program(prepared.cells, restore.parse_notebook(student.read_bytes()))
    options = grade.Options(timeout=timeout, max_time=max_time, sandbox=sandbox.usable())
    outcomes, problems, _ = grade._run(prepared, student, program, options, True, False,
                                      time.monotonic() + max_time)
    return {o.grade_id: o for o in outcomes}, problems, program


def test_judge_side_set_up_stays_out_of_the_sandbox_and_manual_cells_wait_for_a_person(tmp_path):
    outcomes, problems, program = _judged(tmp_path)
    assert [label for label, _ in program] == ["setup", "double", "slow"]
    assert restore.answer_names(grade.prepare(tmp_path / "source.ipynb").cells) == {
        "double": "double", "FACTOR": "double", "slow": "slow"}
    assert {g: o.status for g, o in outcomes.items()} == {
        "test_double": "passed", "test_no_extra": "passed", "test_slow": "passed", "test_after": "passed",
        "essay": "manual"}
    assert (outcomes["essay"].points, outcomes["essay"].max_points) == (0.0, 3.0) and problems == []


def test_only_answer_names_cross_and_a_failed_answer_is_blamed_in_later_tests(tmp_path):
    outcomes, _, _ = _judged(tmp_path, "def reference(x):\n    return 0\ndef double(x):\n    return 0\nextra = 1")
    assert outcomes["test_double"].status == "failed", "the judge's reference, not the student's"
    assert outcomes["test_no_extra"].status == "passed", "a name no answer cell defines never crosses"
    assert outcomes["test_after"].message.endswith(
        "(this test calls `double`, whose own test failed: fix that first)")
    assert "whose own test" not in outcomes["test_double"].message


def test_a_test_past_its_time_limit_fails_alone_and_the_next_tests_run(tmp_path):
    outcomes, problems, _ = _judged(tmp_path, "def slow(n):\n    while True:\n        pass", timeout=3)
    assert outcomes["test_slow"].status == "failed" and outcomes["test_slow"].points == 0
    assert "past the per-test limit of 3 s" in outcomes["test_slow"].message
    assert outcomes["test_after"].status == "passed" and outcomes["test_after"].points == 1
    assert problems == ["test timed out: test_slow"]


def test_a_sandbox_that_cannot_restart_is_the_graders_error(tmp_path, monkeypatch):
    started = []

    def worker_once(*args, **kwargs):
        if started:
            raise sandbox.SandboxUnavailable("bubblewrap went away")
        started.append(sandbox.Worker(*args, **kwargs))
        return started[-1]
    monkeypatch.setattr(grade, "Worker", worker_once)
    outcomes, problems, _ = _judged(tmp_path, "def slow(n):\n    while True:\n        pass", timeout=3)
    assert outcomes["test_slow"].status == "failed"
    assert outcomes["test_after"].status == "grader error" and "not your notebook's fault" in \
        outcomes["test_after"].message
    assert problems == ["test timed out: test_slow",
                        "grader error: the student's side could not be restarted after a test timed out"]


def test_a_restart_that_runs_into_the_submission_s_deadline_is_the_student_s_time(tmp_path, monkeypatch):
    """A fresh worker that cannot start before --max-time ends is the submission running out
    of time, not the grader's failure (the row must not ask for a regrade)."""
    started = []

    def worker_then_late(*args, **kwargs):
        if started:
            time.sleep(max(0.0, kwargs["max_seconds"]))  # starting takes the rest of the submission's time
            raise sandbox.WorkerUnstarted("the sandboxed worker did not start: it did not start in time")
        started.append(sandbox.Worker(*args, **kwargs))
        return started[-1]
    monkeypatch.setattr(grade, "Worker", worker_then_late)
    outcomes, problems, _ = _judged(tmp_path, "def slow(n):\n    while True:\n        pass", timeout=3, max_time=12)
    assert outcomes["test_slow"].status == "failed"
    assert outcomes["test_after"].status == "not run" and "ran out of time" in outcomes["test_after"].message
    assert problems == ["test timed out: test_slow", "timed out"]


def test_an_answer_that_uses_an_off_limits_name_scores_zero_where_it_is_read(tmp_path):
    outcomes, problems, _ = _judged(tmp_path, "import cnnlab.reference\ndef double(x):\n    return 2 * x")
    assert problems == [], "an import outside the answer cell is the student's own business"
    outcomes, problems, _ = _judged(tmp_path, "def double(x):\n    from cnnlab.reference import relu_forward\n"
                                    "    return 2 * x")
    assert {g: o.status for g, o in outcomes.items() if g != "essay"} == {
        "test_double": "off limits", "test_no_extra": "passed", "test_slow": "passed", "test_after": "off limits"}
    assert "`double` uses `cnnlab.reference`, which the exercise text forbids" in outcomes["test_double"].message
    assert problems == ["off limits: double uses cnnlab.reference"]


OFF_LIMITS = ("cnnlab.reference", "torch.nn.functional", "torch.nn.Conv2d", "torch.nn.MaxPool2d")


@pytest.mark.parametrize("code, caught", [
    ("import cnnlab.reference as r\ndef f(x): return r.conv_forward(x)", True),
    ("def f(x):\n    from cnnlab.reference import conv_forward\n    return conv_forward(x)", True),
    ("from cnnlab import reference\ndef f(x): return reference.conv_forward(x)", True),
    ("import importlib\ndef f(x): return importlib.import_module('cnnlab.reference').conv_forward(x)", True),
    ("from importlib import import_module as im\ndef f(x): return im('torch.nn.functional').conv2d(x)", True),
    ("def f(x): return __import__('cnnlab.reference')", True),
    ("import torch\nF = torch.nn.functional\ndef f(x): return F.conv2d(x)", True),
    ("import torch\ndef f(x): return torch.nn.functional.conv2d(x)", True),
    ("import torch.nn.functional as F\ndef f(x): return F.conv2d(x)", True),
    ("from torch import nn\ndef f(x): return nn.Conv2d(1, 1, 1)(x)", True),
    ("from torch.nn import MaxPool2d\ndef f(x): return MaxPool2d(2)(x)", True),
    ("import torch\ndef f(x): return getattr(torch.nn, 'functional').conv2d(x)", True),
    ("import sys\ndef f(x): return sys.modules['cnnlab.reference'].conv_forward(x)", True),
    ("import numpy as np\nimport torch\nfrom torch import nn\n"
     "def f(x): return np.maximum(x, 0) + nn.ReLU()(torch.tensor(x)).numpy()", False),
    ("import cnnlab.arith\ndef f(x): return cnnlab.arith.conv_output_size(x, 3)", False),
    ("def f(F): return F.conv2d(x)", False),            # a parameter is not the module
    ("def f(x: (", False),                               # does not parse: it fails, it is not off limits
    ("x = " + "-" * 200_000 + "1", False),              # the parser runs out of memory: no crash either
    ("import importlib\ndef f(x): return importlib.import_module('cnnlab.' + 'reference')", False),  # run time
])
def test_the_static_check_catches_the_spellings_it_documents(code, caught):
    from cnnlab.grading import offlimits

    source = [restore.Cell("code", "def f(x):\n    pass", "answer", "answer", 0.0, (), OFF_LIMITS),
              restore.Cell("code", "assert f(1)", "test_f", "test", 1.0)]
    found = offlimits.program_findings(source, [("answer", code)])
    assert bool(found) == caught, found
    assert all(f.function == "f" and f.name in OFF_LIMITS for f in found)


def test_the_static_check_follows_an_alias_made_in_another_cell_but_not_a_redefinition():
    from cnnlab.grading import offlimits

    source = [restore.Cell("code", "def f(x):\n    pass", "answer", "answer", 0.0, (), OFF_LIMITS)]
    made_elsewhere = [("setup", "from cnnlab.reference import conv_forward"),
                      ("answer", "def f(x):\n    return conv_forward(x)")]
    assert [f.summary for f in offlimits.program_findings(source, made_elsewhere)] == ["f uses cnnlab.reference"]
    redefined = [made_elsewhere[0], ("answer", "def conv_forward(x):\n    return x\ndef f(x):\n"
                                               "    return conv_forward(x)")]
    assert offlimits.program_findings(source, redefined) == []


def test_the_source_declarations_are_checked(tmp_path):
    bad, path = _judge_notebook(), tmp_path / "source.ipynb"
    bad.cells[2].metadata["cnnlab"] = {"mutates": {"double": ["y"]}}
    nbformat.write(bad, path)
    with pytest.raises(ValueError, match="declares that `double` mutates"):
        restore.load_source(path)
    bad.cells[2].metadata["cnnlab"] = {"off_limits": "cnnlab.reference"}
    nbformat.write(bad, path)
    with pytest.raises(ValueError, match="off_limits must be a list"):
        restore.load_source(path)
