"""Hostile use of resources, graded through the real sandboxed grader (`cnnlab grade`).

One batch (``--jobs 2``, ``--max-memory 768M``) holds honest students beside a
``/dev/shm`` hog, a memfd hog (each tries to hold twice ``--max-memory``) and a thread
hog; a second run asks for a ``--max-memory`` too small for the set-up cells and must be
refused before anyone is graded; a third grades as an ordinary user who already runs a
few hundred threads. Then a visible-only rerun must share the submission's deadline, and
a worker that cannot start must be the grader's error, not the student's. Each case
checks the score and status, that the other rows are intact, and that nothing was
written outside ``--out`` and ``--feedback`` or left behind (processes, control groups,
shared memory). Needs bubblewrap: skips with the reason
without it, fails under CI=true.
"""
from __future__ import annotations

import csv
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from cnnlab.grading import cgroup, grade, sandbox
from tests.conftest import REPO, under_ci
from tests.test_grading_hostile import FIRST, FULL, SOLUTION, TESTS, _needs_sandbox, _notebook

MARKER = "cnnlab-limits-5c1e"
MAX_MEMORY = 768 * 2**20
HOG_BYTES = 2 * MAX_MEMORY
CHUNK = 16 * 2**20


def _hog_first_answer(hog: str):
    """The solution with ``hog`` run at the top of the cell that defines ``FIRST``: if the hog
    fails, that answer is never defined and its tests fail."""
    nb = _notebook("solution")
    cell = next(c for c in nb.cells if f"def {FIRST}(" in c.source and c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = hog + "\n" + cell.source
    return nb


SHM_HOG = (f"_held = open('/dev/shm/{MARKER}', 'wb')\n"
           f"for _ in range({HOG_BYTES // CHUNK}):\n    _held.write(b'x' * {CHUNK})\n_held.flush()")
MEMFD_HOG = ("import os\n_held = []\n"
             f"for _ in range({HOG_BYTES // (8 * CHUNK)}):\n"
             f"    _fd = os.memfd_create('{MARKER}')\n"
             f"    for _ in range(8):\n        os.write(_fd, b'x' * {CHUNK})\n    _held.append(_fd)")
THREAD_HOG = ("import threading, time\nthreading.stack_size(64 * 1024)\n_threads = []\n"
              "try:\n    for _ in range(5000):\n"
              "        _threads.append(threading.Thread(target=time.sleep, args=(600,), daemon=True))\n"
              "        _threads[-1].start()\nexcept (RuntimeError, MemoryError):\n    pass")

HONEST = {"a_honest": FULL, "c_honest": FULL, "e_honest": FULL, "g_exercise": 0}


def _cases():
    """student -> notebook; sorted by name, each hog is graded while an honest student is (--jobs 2)."""
    return {"a_honest": _notebook("solution"), "b_thread_hog": _hog_first_answer(THREAD_HOG),
            "c_honest": _notebook("solution"), "d_memfd_hog": _hog_first_answer(MEMFD_HOG),
            "e_honest": _notebook("solution"), "f_shm_hog": _hog_first_answer(SHM_HOG),
            "g_exercise": _notebook("exercise")}


def _write_submissions(root: Path, cases: dict) -> list[Path]:
    paths = []
    for student, notebook in cases.items():
        (root / student).mkdir(parents=True)
        paths.append(root / student / SOLUTION.name)
        nbformat.write(notebook, paths[-1])
    return paths


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _groups_left() -> list[str]:
    where = cgroup.layout()
    if not isinstance(where, cgroup.Layout):
        return []
    return [str(p) for parent in set(where.parents.values()) for p in parent.glob("cnnlab-*-*")
            if not Path("/proc", p.name.split("-")[1]).exists()]  # groups of graders that have ended


def _marked_processes() -> list[str]:
    left = []
    for entry in Path("/proc").iterdir():
        try:
            if MARKER.encode() in (entry / "cmdline").read_bytes():
                left.append(entry.name)
        except OSError:
            pass
    return left


def _grade(paths, out: Path, feedback: Path, *options, env, as_user=None):
    """Run `cnnlab grade`; ``as_user`` wraps the command to run it as another user."""
    command = [sys.executable, "-m", "cnnlab.cli", "grade", *map(str, paths), "--solution", str(SOLUTION),
               "--out", str(out), "--feedback", str(feedback), "--jobs", "2", "--timeout", "20",
               "--max-time", "120", *options]
    if as_user:
        command = as_user(["env", "-i", *(f"{k}={v}" for k, v in env.items()), *command])
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=None if as_user else env)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    _needs_sandbox()
    root = tmp_path_factory.mktemp("limits")
    paths = _write_submissions(root, _cases())
    before = _tree(root)
    result = _grade(paths, root / "grades.csv", root / "feedback", "--max-memory", f"{MAX_MEMORY // 2**20}M",
                    env=dict(os.environ, PYTHONPATH=str(REPO)))
    rows = {r["student"]: r for r in csv.DictReader((root / "grades.csv").open())}
    return {"root": root, "result": result, "rows": rows, "before": before}


def test_the_startup_line_names_the_mechanism_in_force(batch):
    line = batch["result"].stdout.splitlines()[0]
    assert line == sandbox.describe_limits(MAX_MEMORY, True), batch["result"].stdout
    where = cgroup.layout()
    expected = "limits: cgroup v" if isinstance(where, cgroup.Layout) else "limits: rlimits only (no writable cgroup"
    assert line.startswith(expected) and "tmpfs /tmp 64 MiB, /dev/shm 64 MiB" in line, line
    assert "256 descriptors" in line


def test_honest_students_keep_their_marks_beside_the_hogs(batch):
    assert batch["result"].returncode == 0, batch["result"].stdout[-3000:] + batch["result"].stderr[-3000:]
    for student, score in HONEST.items():
        row = batch["rows"][student]
        assert row["status"] == "ok" and float(row["score"]) == score, row


def test_a_dev_shm_hog_gets_no_free_memory(batch):
    row = batch["rows"]["f_shm_hog"]  # /dev/shm holds 64 MiB: the hog's write fails, so its answer is missing
    assert row["status"].startswith("memory limit") or float(row["score"]) < FULL, row
    assert not (row["status"] == "ok" and float(row["score"]) == FULL)


def test_a_memfd_hog_is_stopped_by_the_memory_limit(batch):
    row = batch["rows"]["d_memfd_hog"]
    if not isinstance(cgroup.layout(), cgroup.Layout):
        pytest.skip(f"no writable cgroup here ({cgroup.layout()}): memfds are bounded only by descriptors "
                    "and file size, as the README says")
    assert row["status"].startswith("memory limit") and float(row["score"]) == 0, row


def test_a_thread_hog_is_held_to_its_own_tasks(batch):
    row = batch["rows"]["b_thread_hog"]
    # Its own process may die when a library then fails to start a thread (libgomp exits): that
    # is its own doing, graded as such; the tests before its first answer was called keep their points.
    before_first = 0.0
    for cell in TESTS:
        if f"{FIRST}(" in cell.source:
            break
        before_first += cell.points
    assert row["status"] in ("ok", "kernel died"), row
    assert before_first <= float(row["score"]) <= FULL, row


def test_nothing_is_left_behind(batch):
    assert _tree(batch["root"]) - batch["before"] == {"grades.csv", "feedback", *(
        f"feedback/{s}" for s in _cases()), *(f"feedback/{s}/{SOLUTION.stem}{suffix}" for s in _cases()
                                        for suffix in (".md", ".executed.ipynb"))}
    assert len(batch["rows"]) == len(_cases())
    assert _marked_processes() == []
    assert _groups_left() == []
    assert not Path("/dev/shm", MARKER).exists()


def test_a_max_memory_too_small_for_the_set_up_is_refused_with_the_measured_need(tmp_path):
    _needs_sandbox()
    paths = _write_submissions(tmp_path, {"a_honest": _notebook("solution")})
    started = time.monotonic()
    result = _grade(paths, tmp_path / "grades.csv", tmp_path / "feedback", "--max-memory", "40M",
                    env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    found = re.search(r"--max-memory 40 MiB is too small for the set-up cells of 03_convolution.ipynb \((.+)\); "
                      r"they need more: they ran with (\d+) MiB.*Grade with --max-memory (\d+)M or more; "
                      r"nobody was graded", message)
    assert found, message
    assert int(found[2]) > 40 and int(found[3]) == int(found[2])
    if isinstance(cgroup.layout(), cgroup.Layout):
        peak = re.search(r"using at most ([\d.]+) MiB", message)
        assert peak and 40 < float(peak[1]) <= int(found[2]), message
    assert not (tmp_path / "grades.csv").exists() and not (tmp_path / "feedback").exists()
    assert time.monotonic() - started < 600


USER = "cnnlab-grader"


def _as_user(aside: Path):
    """A wrapper that runs a command as ``USER``. Where this Python lives below a folder an
    ordinary user cannot enter (e.g. ``/root/.pyenv``), the command runs in a private mount
    namespace in which that folder is replaced by an open one holding only the Python's
    folder (``aside`` holds it meanwhile); the host's mounts are not changed."""
    prefix = Path(sys.base_prefix).resolve()
    blocked = next((p for p in reversed(prefix.parents) if not os.stat(p).st_mode & 0o001), None)

    def wrap(command):
        runuser = ["runuser", "-u", USER, "--", *command]
        if blocked is None:
            return runuser
        script = ('set -e; mount --bind "$1/$2" "$3"; mount -t tmpfs -o mode=755 tmpfs "$1"; '
                  'mkdir -p "$1/$2"; mount --bind "$3" "$1/$2"; shift 3; exec "$@"')
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(blocked),
                prefix.relative_to(blocked).parts[0], str(aside), *runuser]
    return wrap


def test_an_ordinary_user_with_hundreds_of_threads_grades_honest_students_fully():
    _needs_sandbox()
    if os.getuid() != 0 or not under_ci():
        pytest.skip("needs root under CI=true to create an ordinary user; run as such to check grading as one")
    if shutil.which("useradd") is None or shutil.which("runuser") is None:
        pytest.fail("useradd and runuser are needed to grade as an ordinary user under CI")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
    folder = Path(tempfile.mkdtemp(prefix="cnnlab-user-", dir="/tmp"))
    try:
        shutil.chown(folder, USER)
        paths = _write_submissions(folder, {s: _cases()[s] for s in ("a_honest", "c_honest", "g_exercise")})
        (folder / ".prefix").mkdir()
        before = _tree(folder)
        as_user = _as_user(folder / ".prefix")
        idle = subprocess.Popen(as_user([sys.executable, "-c",  # a browser's worth of idle threads until stdin closes
                                         "import sys, threading, time\n"
                                         "for _ in range(300):\n"
                                         "    threading.Thread(target=time.sleep, args=(900,), daemon=True).start()\n"
                                         f"print('up', flush=True)\nsys.stdin.read()  # {MARKER}"]),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert idle.stdout.readline().strip() == "up"
            uid = pwd.getpwnam(USER).pw_uid
            threads = sum(len(os.listdir(f"/proc/{p}/task")) for p in os.listdir("/proc")
                          if p.isdigit() and os.stat(f"/proc/{p}").st_uid == uid)
            assert threads >= 300
            env = {"PYTHONPATH": str(REPO), "HOME": str(folder), "CNNLAB_CACHE": str(folder / "cache"),
                   "CNNLAB_DATA": os.environ.get("CNNLAB_DATA", ""), "CNNLAB_FAST": "1", "MPLBACKEND": "Agg",
                   "PATH": os.environ["PATH"]}
            result = _grade(paths, folder / "grades.csv", folder / "feedback", env=env, as_user=as_user)
        finally:
            idle.stdin.close()
            idle.wait(timeout=60)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert result.stdout.splitlines()[0].startswith("limits: rlimits only (no writable cgroup"), result.stdout
        rows = {r["student"]: r for r in csv.DictReader((folder / "grades.csv").open())}
        assert {s: (float(r["score"]), r["status"]) for s, r in rows.items()} == {
            "a_honest": (FULL, "ok"), "c_honest": (FULL, "ok"), "g_exercise": (0, "ok")}
        assert _tree(folder) - before <= {"grades.csv", "feedback", "cache", *(
            f"feedback/{s}" for s in rows), *(f"feedback/{s}/{SOLUTION.stem}{suffix}" for s in rows
                                    for suffix in (".md", ".executed.ipynb"))}
        assert _marked_processes() == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_worker_that_cannot_start_is_the_grader_s_error(tmp_path, monkeypatch):
    _needs_sandbox()
    environment = sandbox._environment
    monkeypatch.setattr(sandbox, "_environment", lambda path: dict(environment(path), PYTHONPATH="/nowhere"))
    path = _write_submissions(tmp_path, {"a_honest": _notebook("solution")})[0]
    report = grade.grade_one(grade.prepare(SOLUTION), path, grade.Options(timeout=20, max_time=60))
    assert report.status.startswith("grader error: the sandboxed worker did not start: it exited before any "
                                    "student code ran"), report.status
    assert "No module named" in report.status and report.score == 0
    assert all(t.message.startswith("not graded: ") for t in report.tests)
