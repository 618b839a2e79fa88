"""`cnnlab validate` always returns: a cell past --timeout, a dead kernel, Ctrl-C; and it
warns when NumPy or torch are not the course's versions.

Each case runs the real command on a small problem-set notebook (one answer cell, two
test cells) in a subprocess and checks the exit status, the message and that it ended
in time (generous bounds: this is a correctness check, not a timing test).
"""
from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from cnnlab.grading import validate
from tests.conftest import REPO


def _problem_set(path, answer: str):
    """A notebook: a heading, ``answer`` in an answer cell, then tests test_f and test_after."""
    def code(source, grade_id, test):
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
            "solution": not test, "grade": test, "grade_id": grade_id, "locked": test,
            **({"points": 1} if test else {})}})
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Task (2 points)"),
        code(answer, "answer", False),
        code("assert f() == 1", "test_f", True),
        code("assert 2 + 2 == 4", "test_after", True)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _start(path, *options):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "cnnlab.cli", "validate", str(path), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _row(stdout: str, grade_id: str) -> str:
    return next(line for line in stdout.splitlines() if grade_id in line.split())


def test_an_endless_cell_is_interrupted_at_the_timeout_and_the_rest_still_runs(tmp_path):
    path = _problem_set(tmp_path / "loop.ipynb", "def f():\n    while True:\n        pass")
    started = time.monotonic()
    out, err = _start(path, "--timeout", "5").communicate(timeout=240)
    took = time.monotonic() - started
    assert "FAILED" in _row(out, "test_f") and "timed out" in _row(out, "test_f"), out + err
    assert "passed" in _row(out, "test_after"), out
    assert "1 of 2 tests failed" in out
    assert took < 120, f"validate took {took:.0f} s with --timeout 5"


def test_a_dead_kernel_is_reported_and_the_command_returns(tmp_path):
    path = _problem_set(tmp_path / "dies.ipynb", "import os\nos._exit(1)")
    process = _start(path, "--timeout", "60")
    out, err = process.communicate(timeout=240)
    assert process.returncode == 1, out + err
    for grade_id in ("test_f", "test_after"):
        assert "FAILED" in _row(out, grade_id) and "kernel died in cell 2" in _row(out, grade_id), out


def test_ctrl_c_stops_validate_and_its_kernel_promptly(tmp_path):
    path = _problem_set(tmp_path / "sleeps.ipynb", "import time\ntime.sleep(600)\ndef f():\n    return 1")
    process = _start(path)
    deadline = time.monotonic() + 120
    kernels = []
    while not kernels and time.monotonic() < deadline:  # the kernel is a child of the command
        time.sleep(1)
        found = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        kernels = [int(pid) for pid in found]
    assert kernels, "validate never started a kernel"
    time.sleep(3)  # let the cell start sleeping
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert "interrupted" in err and "kernel was stopped" in err
    assert time.monotonic() - sent < 30
    time.sleep(1)
    for pid in kernels:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_course_torch_pin_is_the_readme_s():
    assert f"torch=={validate.COURSE_TORCH}" in (REPO / "README.md").read_text()


def test_versions_other_than_the_course_s_are_named_with_the_fix(monkeypatch):
    installed = {"numpy": "1.20.0", "torch": "2.5.1"}
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: installed.get(name) or real(name))
    warnings = validate.version_warnings()
    numpy, torch = (next(w for w in warnings if w.startswith(f"your {name} ")) for name in ("numpy", "torch"))
    assert "1.20.0" in numpy and "numpy>=1.24" in numpy and 'pip install "numpy>=1.24"' in numpy
    assert "2.5.1" in torch and f'pip install "torch=={validate.COURSE_TORCH}"' in torch
    installed.update(numpy="2.4.0", torch=f"{validate.COURSE_TORCH}+cpu")
    assert validate.version_warnings() == []


def test_an_answer_that_calls_what_its_task_puts_off_limits_is_warned_about(tmp_path):
    """The exercise keeps each task's off_limits; validate tells the student before grading does."""
    nb = nbformat.read(REPO / "exercises" / "03_convolution.ipynb", as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "conv_forward_naive")
    answer.source = ("def conv_forward_naive(x, w, b, conv_param):\n    from cnnlab.reference import conv_forward\n"
                     "    return conv_forward(x, w, b, conv_param['stride'], conv_param['pad'])\n")
    nbformat.write(nb, tmp_path / "03_convolution.ipynb")
    warnings = validate.off_limits_warnings(tmp_path / "03_convolution.ipynb")
    assert len(warnings) == 1 and warnings[0].startswith("conv_forward_naive uses cnnlab.reference"), warnings
    assert "scores that task 0" in warnings[0]
    assert validate.off_limits_warnings(REPO / "solutions" / "03_convolution.ipynb") == []
