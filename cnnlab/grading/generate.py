"""Turn a solution notebook into an exercise notebook.

In code cells, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are
replaced by ``raise NotImplementedError(...)`` at the markers' indentation, and the
lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed.
Outputs are cleared. Cells are locked for JupyterLab as nbgrader's ``LockCells`` does
(its defaults): answer cells get ``deletable: false``; test cells and other locked
cells get ``deletable: false`` and ``editable: false`` (see :func:`lock_cell`). The result is deterministic, so a test can tell a stale
exercise from a fresh one by regenerating it and comparing.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = 'raise NotImplementedError("Replace this line with your code.")'


def _replace_blocks(source: str, begin: str, end: str, replacement: str | None, where: str) -> str:
    """Replace every ``begin ... end`` block of lines; ``replacement`` None removes it."""
    out, inside, indent = [], False, ""
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"{where}, line {number}: '{begin}' inside an open block; close it with '{end}'")
            inside, indent = True, re.match(r"\s*", line).group()
        elif stripped == end:
            if not inside:
                raise ValueError(f"{where}, line {number}: '{end}' without a matching '{begin}'")
            inside = False
            if replacement is not None:
                out.append(indent + replacement)
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '{begin}' is never closed; add '{end}'")
    return "\n".join(out)


def lock_cell(cell) -> None:
    """Set the cell metadata JupyterLab honours, as nbgrader's ``LockCells`` does by default:

    - answer cell (``nbgrader.solution``): ``deletable: false`` (the student writes in it);
    - test cell (``nbgrader.grade``, not ``solution``) and set-up cell (``nbgrader.locked``):
      ``deletable: false`` and ``editable: false``.

    Cells without nbgrader metadata (markdown, scratch cells) are left as they are.
    """
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("solution"):
        cell.metadata["deletable"] = False
    elif meta.get("grade") or meta.get("locked"):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def make_exercise(solution):
    """Return the exercise version of a solution notebook (an ``nbformat`` node; input untouched)."""
    exercise = copy.deepcopy(solution)
    for index, cell in enumerate(exercise.cells):
        where = f"cell {index}"
        if cell.cell_type == "code":
            cell.source = _replace_blocks(cell.source, BEGIN_SOLUTION, END_SOLUTION, STUB, where)
            cell.source = _replace_blocks(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, where)
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        lock_cell(cell)
    return exercise


def _exercise_text(solution_path: Path) -> str:
    import nbformat

    return nbformat.writes(make_exercise(nbformat.read(solution_path, as_version=4)))


def generate_all(solutions_dir, exercises_dir) -> list[Path]:
    """Write ``exercises_dir/<name>.ipynb`` for every ``solutions_dir/<name>.ipynb``; return the paths."""
    from cnnlab.notebooks import write_text_atomically

    solutions_dir, exercises_dir = Path(solutions_dir), Path(exercises_dir)
    exercises_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for solution in sorted(solutions_dir.glob("*.ipynb")):
        target = exercises_dir / solution.name
        write_text_atomically(target, _exercise_text(solution))
        written.append(target)
    return written


def stale_exercises(solutions_dir, exercises_dir) -> list[str]:
    """Names of solutions whose exercise is missing or differs from a fresh generation."""
    stale = []
    for solution in sorted(Path(solutions_dir).glob("*.ipynb")):
        exercise = Path(exercises_dir) / solution.name
        if not exercise.is_file() or exercise.read_text(encoding="utf-8") != _exercise_text(solution):
            stale.append(solution.name)
    return stale
