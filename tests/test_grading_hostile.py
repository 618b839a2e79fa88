"""Hostile submissions, graded once in one sandboxed batch (`cnnlab grade --jobs 2`).

Each case says the score and status it must get and the side effects it must not
have. Submissions are built from the problem set's solution: answers and function
names come from its answer cells, so the cases follow the problem set when it grows.
Needs bubblewrap: skips with the reason without it, fails under CI=true.
"""
from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from cnnlab.grading import sandbox
from cnnlab.grading.generate import make_exercise
from cnnlab.grading.judge import HIDDEN_FAILED
from cnnlab.grading.restore import load_source, split_test
from tests.conftest import REPO, missing_outside_part

SOLUTION = REPO / "solutions" / "03_convolution.ipynb"
MARKER = "cnnlab-hostile-7f3a"   # in every process and file a hostile case tries to leave behind


def _needs_sandbox():
    """Skip (fail under CI) when bubblewrap cannot sandbox here, saying why."""
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as err:
        missing_outside_part(f"grading sandbox: {err}")


SOURCE = load_source(SOLUTION)
TESTS = [c for c in SOURCE if c.role == "test"]
FULL = sum(c.points for c in TESTS)
NAMES = [node.name for c in SOURCE if c.role == "answer" for node in ast.parse(c.source).body
         if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
FIRST, SECOND = NAMES[0], NAMES[1]
POINTS_CALLING_FIRST = sum(c.points for c in TESTS if any(
    isinstance(n, ast.Call) and getattr(n.func, "id", None) == FIRST for n in ast.walk(ast.parse(c.source))))
FIRST_VISIBLE_CALLS = sum(isinstance(n, ast.Call) and getattr(n.func, "id", None) == FIRST
                          for c in TESTS for hidden, code in split_test(c.source) if not hidden
                          for n in ast.walk(ast.parse(code)))


def _notebook(kind: str):
    solution = nbformat.read(SOLUTION, as_version=4)
    return solution if kind == "solution" else make_exercise(solution)


def _with_cell(kind, code, first=False):
    nb = _notebook(kind)
    cell = nbformat.v4.new_code_cell(code)
    nb.cells.insert(0 if first else len(nb.cells), cell)
    return nb


def _edit_cells(kind, change):
    nb = _notebook(kind)
    for cell in list(nb.cells):
        change(nb, cell, cell.metadata.get("nbgrader", {}))
    return nb


def _cases(paths):
    """student -> (notebook or raw bytes, expected score, status word or "ok")."""
    sheet, other = paths["sheet"], paths["other"]
    outside = [f"/tmp/{MARKER}", f"{Path.home()}/{MARKER}", f"{REPO}/{MARKER}", f"../{MARKER}",
               f"{paths['root']}/{MARKER}"]
    read_attempts = [str(SOLUTION), f"../../solutions/{SOLUTION.name}", f"../{SOLUTION.name}",
                     f"{REPO}/solutions/{SOLUTION.name}", "solution_link.ipynb", str(sheet)]
    stub_everything = "\n".join(f"def {n}(*a, **k):\n    return np.zeros(3).view(Rigged)" for n in NAMES)
    return {
        "ada": (_notebook("solution"), FULL, "ok"),
        "dan": (_notebook("exercise"), 0, "ok"),
        "patched_asserts": (_with_cell("exercise", (
            "import numpy as np, numpy.testing, unittest\n"
            "for name in dir(np.testing):\n    if name.startswith('assert'):\n"
            "        setattr(np.testing, name, lambda *a, **k: None)\n"
            "unittest.TestCase.assertEqual = lambda *a, **k: None")), 0, "ok"),
        "ipython_tamper": (_with_cell("exercise", (
            "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
            "InteractiveShell.showtraceback = lambda *a, **k: None\n"
            "InteractiveShell.run_cell = lambda *a, **k: None\n"
            "sys.excepthook = lambda *a: None")), 0, "ok"),
        "shadowed_builtins": (_with_cell("exercise", (
            "import builtins\nclass Quiet(BaseException): pass\n"
            "builtins.AssertionError = Quiet\nbuiltins.NotImplementedError = Quiet\n"
            "builtins.isinstance = lambda *a: True\nbuiltins.len = lambda x: 0")), 0, "kernel died"),
        "rigged_eq": (_with_cell("exercise", (
            "import numpy as np\nclass Rigged(np.ndarray):\n"
            "    def __eq__(self, other): return True\n    __ne__ = lambda self, other: False\n"
            "    def __array_ufunc__(self, *a, **k): return True\n" + stub_everything)), 0, "ok"),
        "reads_source": (_with_cell("exercise", (  # reports what it could read in its first answer's error
            f"import json\nfound = []\nfor path in {read_attempts!r}:\n    try:\n"
            "        cells = json.load(open(path))['cells']\n    except Exception:\n        continue\n"
            "    found.append(path)\n"
            "    for c in cells:\n        if c['metadata'].get('nbgrader', {}).get('solution'):\n"
            "            exec(''.join(c['source']))\n"
            f"if not found:\n    def {FIRST}(*a, **k):\n        raise ValueError(f'FOUND{{found}}')")), 0, "ok"),
        "rewrites_files": (_with_cell("solution", (
            "import os, shutil\n"
            f"for path in [{str(sheet)!r}, {str(SOLUTION)!r}, {str(other)!r}]:\n"
            "    try:\n        open(path, 'w').write('forged')\n    except OSError:\n        pass\n"
            f"shutil.rmtree({str(paths['feedback'])!r}, ignore_errors=True)")), FULL, "ok"),
        "writes_outside": (_with_cell("solution", (
            f"for path in {outside!r}:\n    try:\n        open(path, 'w').write('x')\n"
            "    except OSError:\n        pass")), FULL, "ok"),
        "network": (_with_cell("solution", (
            "import socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {paths['port']}), timeout=2).sendall(b'{MARKER}')\n"
            "except OSError:\n    pass")), FULL, "ok"),
        "new_session": (_with_cell("solution", (
            "import os, subprocess, time\n"
            f"subprocess.Popen(['sleep', '1000.{len(MARKER)}'], start_new_session=True)\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        os.execvp('sleep', ['sleep', '1001.{len(MARKER)}'])\n    os._exit(0)\n")), FULL, "ok"),
        "memory_bomb": (_with_cell("solution", (
            "def bomb():\n    hoard = []\n    while True:\n        hoard.append(bytearray(10**8))\nbomb()")),
            FULL, "memory limit"),
        "sigint_loop": (_with_cell("exercise", (
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass"), first=True), 0, "timed out"),
        "os_exit": (_with_cell("solution", "import os\nos._exit(3)"), 0, "kernel died"),
        "sigkill": (_with_cell("solution", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), 0,
                    "kernel died"),
        "big_output": (_with_cell("solution", (
            "import sys\nfor _ in range(50):\n    print('x' * 2**20)\n    sys.stderr.write('y' * 2**20)")),
            FULL, "ok"),
        "invalid_json": (b"{ this is not json", 0, "unreadable"),
        "forged_protocol": (_with_cell("solution", (  # garbage into every pipe the worker may talk on
            "import os\nfor fd in range(3, 12):\n    try:\n        os.write(fd, b'\\xff' * 64)\n"
            "    except OSError:\n        pass")), 0, "kernel died"),
        "malformed_metadata": (_edit_cells("solution", lambda nb, cell, g: (
            cell.metadata.update(nbgrader="garbage") if g.get("solution") else
            cell.metadata.update(cnnlab=[1, 2]) if cell.cell_type == "markdown" else None)), FULL, "ok"),
        "bad_kernel": (_notebook("solution"), FULL, "ok"),
        "edited_test": (_edit_cells("solution", lambda nb, cell, g: (
            setattr(cell, "source", "pass") if g.get("grade") else None)), FULL, "test cell edited"),
        "deleted_test": (_edit_cells("solution", lambda nb, cell, g: (
            nb.cells.remove(cell) if g.get("grade") else None)), FULL, "test cell edited"),
        "exfiltrates": (_with_cell("solution", (
            f"_seen = []\n_original = {FIRST}\n"
            f"def {FIRST}(*a, **k):\n    _seen.append(repr((a, k)))\n    return _original(*a, **k)\n"
            f"def {SECOND}(*a, **k):\n    raise ValueError(f'LEAK{{len(_seen)}}:' + '|'.join(_seen))")),
            None, "ok"),  # SECOND's tests fail (and later answers that call it): the point is the message
        "hidden_secret": (_with_cell("solution", (
            f"_calls = 0\n_original = {FIRST}\n"
            f"def {FIRST}(*a, **k):\n    global _calls\n    _calls += 1\n"
            f"    if _calls > {FIRST_VISIBLE_CALLS}:\n"
            "        print('SECRET', a)\n        raise ValueError(f'SECRET {a} {k}')\n"
            "    return _original(*a, **k)")), None, "ok"),
        "too_slow": (_with_cell("solution", (
            f"import time\n_original = {FIRST}\n"
            f"def {FIRST}(*a, **k):\n    time.sleep(60)\n    return _original(*a, **k)")),
            None, f"test timed out: {TESTS[0].grade_id}"),  # each test that reaches FIRST costs --timeout
    }


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    _needs_sandbox()
    root = tmp_path_factory.mktemp("hostile")
    received = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)

    def serve():
        while not stop.is_set():
            try:
                received.append(server.accept()[0].recv(100))
            except OSError:
                pass
    stop = threading.Event()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    paths = {"root": root, "sheet": root / "grades.csv", "feedback": root / "feedback",
             "other": root / "ada" / SOLUTION.name, "port": server.getsockname()[1]}
    submissions = {}
    for student, (notebook, score, status) in _cases(paths).items():
        folder = root / student
        folder.mkdir()
        target = folder / SOLUTION.name
        if student == "bad_kernel":
            notebook.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "x", "language": "x"}
        target.write_bytes(notebook if isinstance(notebook, bytes) else nbformat.writes(notebook).encode())
        submissions[student] = (target, score, status)
    (root / "reads_source" / "solution_link.ipynb").symlink_to(SOLUTION)
    paths["sheet"].write_text("student,notebook,score,max_score\nzed,other.ipynb,7,9\n")
    data = root / f"data-{MARKER}"  # appears in the command line of every sandbox of this batch
    data.mkdir()
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in [SOLUTION, *(s[0] for s in submissions.values())]}
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab.cli", "grade", *(str(s[0]) for s in submissions.values()),
         "--solution", str(SOLUTION), "--out", str(paths["sheet"]), "--feedback", str(paths["feedback"]),
         "--jobs", "2", "--timeout", "8", "--max-time", "30", "--max-memory", "1G"],
        capture_output=True, text=True, timeout=900, env=dict(os.environ, CNNLAB_DATA=str(data)))
    stop.set()
    thread.join()
    server.close()
    rows = {r["student"]: r for r in csv.DictReader(paths["sheet"].open())}
    return dict(paths, result=result, rows=rows, submissions=submissions, before=before, received=received)


def _feedback(batch, student):
    return (batch["feedback"] / student / f"{SOLUTION.stem}.md").read_text()


CASES = list(_cases({"root": Path("/r"), "sheet": Path("/s"), "feedback": Path("/f"), "other": Path("/o"),
                     "port": 1}))


def test_the_batch_finishes_and_reports_no_failure_of_its_own(batch):
    assert batch["result"].returncode == 0, batch["result"].stdout[-3000:] + batch["result"].stderr[-3000:]
    assert "graded:" in batch["result"].stdout


@pytest.mark.parametrize("student", CASES)
def test_each_case_gets_its_score_and_status(batch, student):
    _, score, status = batch["submissions"][student]
    row = batch["rows"][student]
    if score is not None:
        assert float(row["score"]) == score, (row, _feedback(batch, student))
    assert float(row["max_score"]) == FULL
    assert status in row["status"] if status != "ok" else row["status"] == "ok", row
    assert row["digest"]


def test_no_file_was_changed_outside_the_sandbox(batch):
    for path, digest in batch["before"].items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} was changed"
    assert batch["rows"]["zed"]["score"] == "7", "a row from before the batch must be kept"
    assert len(batch["rows"]) == len(CASES) + 1
    for student in CASES:
        assert (batch["feedback"] / student / f"{SOLUTION.stem}.md").is_file(), student
    leftovers = [p for p in [Path("/tmp", MARKER), Path.home() / MARKER, REPO / MARKER, batch["root"] / MARKER]
                 if p.exists()]
    assert leftovers == []


def test_no_network_connection_got_through(batch):
    assert batch["received"] == []


def test_no_process_is_left_behind(batch):
    left = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f".{len(MARKER)}" in cmdline and "sleep" in cmdline or str(batch["root"]) in cmdline:
            left.append(cmdline)
    assert left == []


def test_hidden_tests_stay_hidden_whatever_the_student_raises(batch):
    secret = _feedback(batch, "hidden_secret")  # FIRST raises "SECRET <its arguments>" past the visible calls
    first_tests = [c.grade_id for c in TESTS if any(
        not hidden and f"{FIRST}(" in code for hidden, code in split_test(c.source))]
    results = json.loads(batch["rows"]["hidden_secret"]["tests"])  # the sheet keeps each test's message
    for grade_id in first_tests:
        assert results[grade_id]["message"] == HIDDEN_FAILED, secret
        assert results[grade_id]["status"] == "hidden failed", secret
    assert not [r for r in results.values() if "SECRET" in r["message"] and r["status"] == "hidden failed"], results
    parts = [part for cell in TESTS for part in split_test(cell.source)]
    visible = {line.strip() for hidden, code in parts if not hidden for line in code.splitlines()}
    hidden_only = {line.strip() for hidden, code in parts if hidden for line in code.splitlines()
                   if len(line.strip()) > 12} - visible
    hidden_only = {line for line in hidden_only if not any(line in shown for shown in visible)}  # not quoted by a visible line
    for student in CASES:
        text = _feedback(batch, student)
        assert not [line for line in hidden_only if line in text], student


def test_a_visible_error_never_carries_what_hidden_tests_passed_in(batch):
    text = _feedback(batch, "exfiltrates")
    leaked = text.split("LEAK", 1)[1] if "LEAK" in text else ""
    assert leaked, text
    assert int(leaked.split(":", 1)[0]) <= FIRST_VISIBLE_CALLS, text


def test_messages_say_what_happened(batch):
    assert "NotImplementedError" in _feedback(batch, "dan")
    assert "FOUND[]" in _feedback(batch, "reads_source"), "nothing of the instructor's may be readable"
    assert "not run" in _feedback(batch, "os_exit")
    assert "ran out of time" in _feedback(batch, "too_slow")
    # a test past --timeout costs that test only: tests that never call the slow answer may still pass
    assert float(batch["rows"]["too_slow"]["score"]) <= FULL - POINTS_CALLING_FIRST
    assert "not valid JSON" in _feedback(batch, "invalid_json")
    assert "Rigged" not in batch["rows"]["rigged_eq"]["status"]


def test_a_second_run_skips_unchanged_submissions_and_force_regrades(batch):
    ada = batch["submissions"]["ada"][0]
    common = [sys.executable, "-m", "cnnlab.cli", "grade", str(ada), "--solution", str(SOLUTION),
              "--out", str(batch["sheet"])]
    again = subprocess.run(common, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "unchanged" in again.stdout, again.stdout + again.stderr
    forced = subprocess.run(common + ["--force"], capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0 and "ada" in forced.stdout and "unchanged" not in forced.stdout
    assert {r["student"]: r for r in csv.DictReader(batch["sheet"].open())}["ada"]["score"] == f"{FULL:g}"
