"""Run a problem set's cells in this process, to check that its tests tell right from wrong.

A problem set (``solutions/NN_topic.ipynb``) is a list of code cells in nbgrader's format:
answer cells (``nbgrader.solution``), test cells (``nbgrader.grade`` with ``points``) and
locked set-up cells. :func:`run_cells` executes every code cell, in order, in one fresh
namespace, and returns for each test cell ``None`` (passed) or the error it raised.
``edits`` plants a mistake first, so a test can assert that the mistake loses points:

    errors = run_cells(SOLUTIONS / "10_batchnorm.ipynb",
                       edits={"batchnorm_forward": ("x.var(axis=0)", "x.var(axis=0, ddof=1)")})
    assert errors["test_batchnorm_forward_train"] is not None

Running in-process (no kernel) keeps a mutant a fraction of a second; problem sets therefore
use no IPython magics. The grader itself never runs student code this way.
"""
from __future__ import annotations

from pathlib import Path

import nbformat


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def apply_edits(nb, edits: dict[str, tuple[str, str]]):
    """Replace ``old`` by ``new`` in the cell whose ``grade_id`` is each key (in place).

    Raises ``KeyError``/``ValueError`` when a cell or the text to replace is missing, so a
    mistake that no longer applies (the solution changed) fails loudly instead of passing.
    """
    cells = {_nbgrader(c).get("grade_id"): c for c in nb.cells}
    for grade_id, (old, new) in edits.items():
        if grade_id not in cells:
            raise KeyError(f"no cell with grade_id {grade_id!r}; ids: {sorted(k for k in cells if k)}")
        if old not in cells[grade_id].source:
            raise ValueError(f"{old!r} does not occur in cell {grade_id!r}; update the edit")
        cells[grade_id].source = cells[grade_id].source.replace(old, new)
    return nb


def run_cells(path, edits: dict[str, tuple[str, str]] | None = None) -> dict[str, str | None]:
    """Execute the notebook at ``path`` in-process; map each test cell's grade_id to
    ``None`` (ran cleanly) or ``"ExceptionType: message"``."""
    nb = nbformat.read(Path(path), as_version=4)
    apply_edits(nb, edits or {})
    namespace: dict = {"__name__": "__main__"}
    results = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        try:
            exec(compile(cell.source, f"<{Path(path).name} cell {index}>", "exec"), namespace)
            error = None
        except Exception as err:  # a failing cell is a result here, not a crash
            error = f"{type(err).__name__}: {err}"
        if meta.get("grade") and not meta.get("solution"):
            results[meta["grade_id"]] = error
    return results
