"""Check a student's own notebook against its visible tests: ``cnnlab validate NOTEBOOK``.

The notebook runs top to bottom in a Jupyter kernel, as the student would run it (on the
student's machine, in the student's environment: no sandbox, no hidden tests). Every test
cell (nbgrader metadata ``grade: true``, not ``solution``) then counts as passed when it ran
without an error. The result is a short table, one row per test, and an exit status that
scripts can use: unlike ``nbgrader validate``, which exits 0 when tests fail
(jupyter/nbgrader#1908), a failed test makes the command fail.

    cnnlab validate exercises/01_perceptron.ipynb

Each cell may run ``timeout`` seconds: a longer one is interrupted, its test fails with
"timed out" and the notebook goes on. A kernel that dies stops the run, and the tests
from there on say so. Ctrl-C kills the kernel (it runs in a process group of its own, so
the terminal's signal does not reach it) and raises ``KeyboardInterrupt``.
:func:`version_warnings` compares this environment's NumPy and torch with the course's
pins (a correct answer that relies on another version's API can pass here and fail in
grading).
"""
from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

POINTS_IN_HEADING = re.compile(r"\s*\(\s*[\d.]+\s+points?\s*\)\s*$")
COURSE_TORCH = "2.13.0"    # the README's install command pins torch==2.13.0 (a test keeps them equal)
TIMED_OUT = "CellTimedOut"  # the error name given to a cell stopped at the time limit


class NotebookUnusable(ValueError):
    """The path is not a problem-set notebook that can be validated (missing, unreadable, no tests)."""


@dataclass
class Outcome:
    task: str          # the heading of the section the test belongs to ("" when none)
    grade_id: str
    points: float
    error: str | None  # None when the test passed, else "ExceptionType: message" (first line)

    @property
    def passed(self) -> bool:
        return self.error is None


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _is_test(cell) -> bool:
    return cell.cell_type == "code" and bool(_nbgrader(cell).get("grade")) and not _nbgrader(cell).get("solution")


def _heading(cell) -> str | None:
    """The text of the last Markdown heading in a cell, without a trailing '(N points)'."""
    titles = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
    return POINTS_IN_HEADING.sub("", titles[-1]) if titles else None


NUMPY_HEADERS = ("Not equal to tolerance", "Arrays are not")
NUMPY_DETAILS = ("Mismatched elements", "(shapes", "x:", "ACTUAL")


def error_line(message: str) -> str:
    """One line of an error message: its first, or, for NumPy's ``assert_allclose`` and
    friends (a generic header, then the test's ``err_msg``), the test's own explanation."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith(NUMPY_HEADERS) and not lines[1].startswith(NUMPY_DETAILS):
        return lines[1]
    return lines[0] if lines else ""


def _first_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {error_line(output.get('evalue') or '')}".rstrip(": ")
    return None


def read_notebook(path):
    """Read ``path`` as a notebook with test cells; raise :class:`NotebookUnusable` saying what is wrong."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise NotebookUnusable(f"{path}: no such file; give the path of your notebook, "
                               "e.g. cnnlab validate exercises/01_perceptron.ipynb")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # JSON or schema errors of every kind: one clear message
        raise NotebookUnusable(f"{path}: not a readable Jupyter notebook ({type(err).__name__}: {err}); "
                               "if you edited it outside Jupyter, restore it from exercises/") from None
    if not any(_is_test(cell) for cell in nb.cells):
        raise NotebookUnusable(f"{path}: no test cells (cells with nbgrader metadata 'grade: true'); "
                               "validate a problem set from exercises/ or solutions/")
    return nb


def version_warnings() -> list[str]:
    """One sentence per package (NumPy, torch) whose installed version is not the course's:
    outside the range cnnlab's metadata requires, or for torch not the README's pin."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import Version

    try:
        required = {}
        for text in importlib.metadata.requires("cnnlab") or []:
            with_marker = Requirement(text)
            if with_marker.marker is None:
                required[with_marker.name] = with_marker.specifier
    except (importlib.metadata.PackageNotFoundError, InvalidRequirement):
        required = {}
    warnings = []
    for package, pin in (("numpy", None), ("torch", COURSE_TORCH)):
        try:
            installed = Version(importlib.metadata.version(package))
        except importlib.metadata.PackageNotFoundError:
            warnings.append(f"{package} is not installed; install the course's ({_install(package, pin, required)})")
            continue
        wanted = f"=={pin}" if pin else str(required.get(package, ""))
        if pin and installed.base_version != pin or not pin and installed not in required.get(package, installed):
            warnings.append(f"your {package} is {installed}, the course uses {package}{wanted}: tests may pass "
                            f"here and fail in grading (or the reverse); install it with "
                            f"`{_install(package, pin, required)}`")
    return warnings


def off_limits_warnings(path) -> list[str]:
    """What the notebook's answers use that their task puts off limits (``metadata.cnnlab.
    off_limits``), found as the grader finds it; the grader scores such a task 0."""
    from cnnlab.grading import offlimits, restore

    try:
        cells = restore.parse_notebook(Path(path).read_bytes())
    except (OSError, restore.Unreadable):
        return []
    first = {}  # one warning per answer and listed name, with where it was first seen
    for finding in offlimits.findings(cells, cells):
        first.setdefault(finding.summary, finding)
    return [f"{summary} ({finding.detail}): the task puts it off limits, so grading scores that task 0; "
            "write it yourself" for summary, finding in first.items()]


def _install(package: str, pin: str | None, required: dict) -> str:
    return f'python -m pip install "{package}{f"=={pin}" if pin else required.get(package, "")}"'


def _kill_kernel(kernel, reap: bool = True) -> None:
    """Kill the kernel's process group (jupyter_client starts it in a group of its own);
    ``reap=False`` in a signal handler, where waiting could deadlock with the provisioner's poll."""
    process = getattr(getattr(kernel, "provisioner", None), "process", None)
    if process is None:
        return
    try:
        os.killpg(os.getpgid(process.pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    if reap:
        process.wait()


def validate_notebook(path, timeout: int = 120) -> list[Outcome]:
    """Execute the notebook at ``path`` (errors allowed, from the notebook's folder, each
    cell at most ``timeout`` s) and return one :class:`Outcome` per test cell, in notebook
    order. Ctrl-C (SIGINT) kills the kernel and raises ``KeyboardInterrupt``."""
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = Path(path)
    nb = read_notebook(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    stopped, timed_out, running, interrupted = None, set(), [len(nb.cells)], []

    def stop():
        interrupted.append(True)
        _kill_kernel(kernel, reap=False)

    def catch_ctrl_c(notebook):  # in place of nbclient's handler, which makes Ctrl-C look like a dead kernel
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop)

    def note_start(cell, cell_index):
        running[0] = cell_index

    def note_timeout(cell, cell_index, execute_reply):
        if execute_reply.get("content", {}).get("ename") == TIMED_OUT:
            timed_out.add(cell_index)

    with tempfile.TemporaryDirectory(prefix="cnnlab-validate-") as sockets:
        # IPC (Unix sockets in a private folder) instead of TCP on localhost: no other user can
        # reach the kernel, and ipykernel prints no "running over TCP without encryption" warning
        kernel = AsyncKernelManager(transport="ipc", ip=str(Path(sockets) / "kernel"))
        client = NotebookClient(nb, km=kernel, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
                                error_on_timeout={"ename": TIMED_OUT, "evalue": f"ran longer than {timeout} s",
                                                  "traceback": []},
                                shutdown_kernel="immediate", on_notebook_start=catch_ctrl_c,
                                on_cell_execute=note_start, on_cell_executed=note_timeout,
                                resources={"metadata": {"path": str(path.resolve().parent)}})
        try:
            client.execute()
        except DeadKernelError:
            if interrupted:
                raise KeyboardInterrupt from None
            died_in = running[0]
            stopped = (f"did not run: the kernel died in cell {died_in + 1} (os._exit, a crash, or out of "
                       "memory)")
        finally:
            _kill_kernel(kernel)
    if interrupted:
        raise KeyboardInterrupt
    outcomes, task, ran = [], "", True
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            task = _heading(cell) or task
        elif _is_test(cell):
            ran = ran and (stopped is None or index < died_in) and (
                cell.execution_count is not None or bool(cell.outputs) or index in timed_out)
            if index in timed_out:
                error = f"timed out: the cell ran longer than {timeout} s and was interrupted"
            else:
                error = _first_error(cell) if ran else (stopped or "did not run")
            outcomes.append(Outcome(task, _nbgrader(cell).get("grade_id", "?"),
                                    float(_nbgrader(cell).get("points", 0)), error))
    return outcomes


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def format_table(outcomes: list[Outcome], task_width: int = 34, error_width: int = 90) -> str:
    """A plain-text table: task, test, points, passed/FAILED and the error's line."""
    header = ("task", "test", "points", "result", "error")
    rows = [(_clip(o.task, task_width), o.grade_id, f"{o.points:g}", "passed" if o.passed else "FAILED",
             "" if o.passed else _clip(o.error, error_width)) for o in outcomes]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths)), row[4]]).rstrip()
             for row in [header, *rows]]
    failed = [o for o in outcomes if not o.passed]
    points = sum(o.points for o in outcomes)
    lost = sum(o.points for o in failed)
    if failed:
        summary = f"{len(failed)} of {len(outcomes)} tests failed, worth {lost:g} of the {points:g} points."
    else:
        summary = f"All {len(outcomes)} visible tests passed ({points:g} points)."
    note = "Hidden tests run only when your instructor grades: make your code general."
    return "\n".join([*lines, summary, note])
