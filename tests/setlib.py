"""Run a problem set's cells in this process, to check that its tests tell right from wrong.

A problem set (``solutions/NN_topic.ipynb``) is a list of code cells in nbgrader's format:
answer cells (``nbgrader.solution``), test cells (``nbgrader.grade`` with ``points``) and
locked set-up cells. :func:`run_cells` executes every code cell, in order, in one fresh
namespace, and returns for each test cell ``None`` (passed) or the error it raised.
``edits`` plants a mistake first, so a test can assert that the mistake loses points:

    errors = run_cells(SOLUTIONS / "10_batchnorm.ipynb",
                       edits={"batchnorm_forward": ("x.var(axis=0)", "x.var(axis=0, ddof=1)")})
    assert errors["test_batchnorm_forward_train"] is not None

``wrap`` replaces every function an answer cell defines by ``wrap(name, function, mutates)``
(``mutates``: the parameters the cell's ``metadata.cnnlab.mutates`` declares for it), to play a
student whose answers behave oddly around correct values (:func:`scribbling`,
:func:`zeroing_backward`). :func:`student_names` runs only what the student's side runs before
any answer (plain and ``side: student`` set-up cells), to see what it hands the student.

Running in-process (no kernel) keeps a mutant a fraction of a second; problem sets therefore
use no IPython magics. The grader itself never runs student code this way.
"""
from __future__ import annotations

import copy
import functools
import inspect
import types
from pathlib import Path

import nbformat
import numpy as np


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


def _side(cell) -> str | None:
    """``"judge"``, ``"student"`` or None (both sides) for a locked set-up cell's ``metadata.cnnlab.side``."""
    return cell.metadata.get("cnnlab", {}).get("side")


def run_cells(path, edits: dict[str, tuple[str, str]] | None = None, wrap=None,
              answers: dict[str, str] | None = None, two_sides: bool = False) -> dict[str, str | None]:
    """Execute the notebook at ``path`` in-process; map each test cell's grade_id to
    ``None`` (ran cleanly) or ``"ExceptionType: message"``.

    ``edits`` plants a mistake (:func:`apply_edits`); ``answers`` replaces whole answer cells
    (grade_id -> source), for another student's implementation. With ``wrap``, each function an
    answer cell defines is replaced by ``wrap(name, function, mutates)`` before the next cell.
    With ``two_sides``, the cells run as the grader splits them: answer, helper (``side:
    student``) and ordinary cells in a student namespace, test and ``side: judge`` cells in a
    judge namespace, plain set-up cells in both, and only the names that answer and helper cells
    define are handed from the first to the second (as the grader does); otherwise everything
    runs in one namespace, as in nbgrader."""
    nb = nbformat.read(Path(path), as_version=4)
    apply_edits(nb, edits or {})
    for grade_id, source in (answers or {}).items():
        cell = next((c for c in nb.cells if _nbgrader(c).get("grade_id") == grade_id), None)
        if cell is None or not _nbgrader(cell).get("solution"):
            raise KeyError(f"no answer cell with grade_id {grade_id!r}")
        cell.source = source
    student: dict = {"__name__": "__main__"}
    judge = student if not two_sides else {"__name__": "__main__"}
    crossing: set[str] = set()           # names the answer and helper cells define
    results = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        is_test = bool(meta.get("grade")) and not meta.get("solution")
        is_setup = bool(meta.get("locked")) and not is_test
        sides = ([judge] if is_test or (is_setup and _side(cell) == "judge")
                 else [student, judge] if is_setup and _side(cell) is None and judge is not student
                 else [student])
        for namespace in sides:
            if is_test and namespace is judge and judge is not student:
                judge.update({name: student[name] for name in crossing if name in student})
            before = dict(namespace)
            try:
                exec(compile(cell.source, f"<{Path(path).name} cell {index}>", "exec"), namespace)
                error = None
            except Exception as err:  # a failing cell is a result here, not a crash
                error = f"{type(err).__name__}: {err}"
            if is_test:
                results[meta["grade_id"]] = error
            if namespace is student and (meta.get("solution") or (is_setup and _side(cell) == "student")):
                crossing |= {name for name, value in namespace.items() if before.get(name) is not value}
            if wrap and meta.get("solution"):
                mutates = cell.metadata.get("cnnlab", {}).get("mutates", {})
                for name, value in list(namespace.items()):
                    if isinstance(value, types.FunctionType) and before.get(name) is not value:
                        namespace[name] = wrap(name, value, tuple(mutates.get(name, ())))
    return results


def student_names(path) -> dict[str, object]:
    """What the student's side defines before any answer runs: the namespace after the plain
    and ``side: student`` set-up cells of the notebook at ``path`` (``side: judge`` cells skipped)."""
    nb = nbformat.read(Path(path), as_version=4)
    namespace: dict = {"__name__": "__main__"}
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade") and not meta.get("solution") \
                and _side(cell) != "judge":
            exec(compile(cell.source, f"<{Path(path).name} cell {index}>", "exec"), namespace)
    return {name: value for name, value in namespace.items() if not name.startswith("__")}


def scribble(value) -> None:
    """Overwrite, in place, whatever ``value`` holds: arrays and tensors to 0, numbers in lists and
    dicts to 0, recursively through lists, dicts and tuples (a tuple's arrays can be written)."""
    if isinstance(value, np.ndarray):
        if value.flags.writeable and value.dtype != object:
            value[...] = 0
    elif type(value).__module__.startswith("torch") and hasattr(value, "zero_"):
        import torch
        with torch.no_grad():
            value.zero_()
    elif isinstance(value, (list, dict)):
        keys = range(len(value)) if isinstance(value, list) else list(value)
        for key in keys:
            if isinstance(value[key], (int, float, np.number)) and not isinstance(value[key], bool):
                value[key] = 0
            else:
                scribble(value[key])
    elif isinstance(value, tuple):
        for item in value:
            scribble(item)


class _Depth:
    """How many wrapped answer calls are running: a call from one answer into another is the
    student's own business, so only the outermost call (the one a test cell made) plays the trick."""
    level = 0


def _outermost(trick):
    """Decorator: run ``trick(function, bound arguments, mutates)`` for a test cell's call, the
    plain function for a call made from inside another answer."""
    def wrap(name, function, mutates):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            if _Depth.level:
                return function(*args, **kwargs)
            _Depth.level += 1
            try:
                return trick(name, function, signature.bind(*args, **kwargs), mutates)
            finally:
                _Depth.level -= 1
        return wrapped
    return wrap


@_outermost
def scribbling(name, function, bound, mutates):
    """``wrap`` for :func:`run_cells`: the right answer (a deep copy of it), after which every
    argument except the declared ``mutates`` is overwritten in place (:func:`scribble`)."""
    result = copy.deepcopy(function(*bound.args, **bound.kwargs))
    for parameter, value in bound.arguments.items():
        if parameter not in mutates:
            scribble(value)
    return result


def _zeros_like(value):
    if isinstance(value, np.ndarray):
        return np.zeros_like(value)
    if isinstance(value, tuple):
        return tuple(_zeros_like(item) for item in value)
    if isinstance(value, dict):
        return {key: _zeros_like(item) for key, item in value.items()}
    return 0.0 * value


@_outermost
def zeroing_backward(name, function, bound, mutates):
    """``wrap`` for :func:`run_cells`: a backward pass (a name with ``backward`` in it) that zeroes
    its arguments (``dout`` and the cache) in place and returns zeros of the right shapes; every
    other answer is left as it is."""
    result = function(*bound.args, **bound.kwargs)
    if "backward" not in name:
        return result
    for value in bound.arguments.values():
        scribble(value)
    return _zeros_like(result)


def points_lost(path, results: dict[str, str | None]) -> dict[str, float]:
    """The test cells that failed in ``results`` (from :func:`run_cells` on ``path``), each with
    the points it is worth."""
    nb = nbformat.read(Path(path), as_version=4)
    points = {_nbgrader(c)["grade_id"]: float(_nbgrader(c)["points"]) for c in nb.cells
              if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")}
    return {cell: points[cell] for cell, error in results.items() if error is not None}
