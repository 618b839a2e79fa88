"""Check a student's own notebook against its visible tests: ``cnnlab validate NOTEBOOK``.

The notebook runs top to bottom in a Jupyter kernel, as the student would run it (on the
student's machine, in the student's environment: no sandbox, no hidden tests). Every test
cell (nbgrader metadata ``grade: true``, not ``solution``) then counts as passed when it ran
without an error. The result is a short table, one row per test, and an exit status that
scripts can use: unlike ``nbgrader validate``, which exits 0 when tests fail
(jupyter/nbgrader#1908), a failed test makes the command fail.

    cnnlab validate exercises/01_perceptron.ipynb
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

POINTS_IN_HEADING = re.compile(r"\s*\(\s*[\d.]+\s+points?\s*\)\s*$")


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


def validate_notebook(path, timeout: int = 120) -> list[Outcome]:
    """Execute the notebook at ``path`` (errors allowed, from the notebook's folder) and
    return one :class:`Outcome` per test cell, in notebook order."""
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = Path(path)
    nb = read_notebook(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    stopped = None
    with tempfile.TemporaryDirectory(prefix="cnnlab-validate-") as sockets:
        # IPC (Unix sockets in a private folder) instead of TCP on localhost: no other user can
        # reach the kernel, and ipykernel prints no "running over TCP without encryption" warning
        kernel = KernelManager(transport="ipc", ip=str(Path(sockets) / "kernel"))
        client = NotebookClient(nb, km=kernel, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
                                resources={"metadata": {"path": str(path.resolve().parent)}})
        try:
            client.execute()
        except DeadKernelError as err:
            stopped = f"did not run: the kernel died ({err})"
    outcomes, task, ran = [], "", True
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            task = _heading(cell) or task
        elif _is_test(cell):
            ran = ran and (cell.execution_count is not None or bool(cell.outputs))
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
