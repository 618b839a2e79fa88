"""Turn a solution notebook into an exercise notebook.

In code cells, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are
replaced by ``raise NotImplementedError(...)`` at the markers' indentation, and the
lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed. In
Markdown cells (free-text answers), a solution block becomes ``YOUR ANSWER HERE``; a
manually graded cell without markers is blanked whole, as nbgrader does.
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
MARKDOWN_STUB = "YOUR ANSWER HERE"


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


def _is_manual(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return meta.get("solution") is True and meta.get("grade") is True


def make_exercise(solution, name: str = "the notebook"):
    """Return the exercise version of a solution notebook (an ``nbformat`` node; input
    untouched). Broken markers raise a ValueError naming ``name`` and the cell (from 1)."""
    exercise = copy.deepcopy(solution)
    for index, cell in enumerate(exercise.cells, start=1):
        where = f"{name}, cell {index} of {len(exercise.cells)}"
        if _is_manual(cell) and BEGIN_SOLUTION not in cell.source:  # nbgrader blanks the whole cell
            cell.source = STUB if cell.cell_type == "code" else MARKDOWN_STUB
        if cell.cell_type == "code":
            cell.source = _replace_blocks(cell.source, BEGIN_SOLUTION, END_SOLUTION, STUB, where)
            cell.source = _replace_blocks(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, where)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown" and BEGIN_SOLUTION in cell.source:
            cell.source = _replace_blocks(cell.source, BEGIN_SOLUTION, END_SOLUTION, MARKDOWN_STUB, where)
        cell.metadata.pop("execution", None)
        lock_cell(cell)
    return exercise


def exercise_text(solution_path) -> str:
    """The exercise notebook of ``solution_path``, as the text that is written."""
    import nbformat

    solution_path = Path(solution_path)
    return nbformat.writes(make_exercise(nbformat.read(solution_path, as_version=4), str(solution_path)))


def write_exercises(solutions, exercises_dir) -> list[Path]:
    """Write ``exercises_dir/<name>.ipynb`` for each solution notebook path; return the paths.
    Every exercise is generated before the first is written, so a broken source writes nothing."""
    from cnnlab.notebooks import write_text_atomically

    exercises_dir = Path(exercises_dir)
    texts = {exercises_dir / Path(solution).name: exercise_text(solution) for solution in solutions}
    exercises_dir.mkdir(parents=True, exist_ok=True)
    for target, text in texts.items():
        write_text_atomically(target, text)
    return list(texts)


def generate_all(solutions_dir, exercises_dir) -> list[Path]:
    """Write ``exercises_dir/<name>.ipynb`` for every ``solutions_dir/<name>.ipynb``; return the paths."""
    return write_exercises(sorted(Path(solutions_dir).glob("*.ipynb")), exercises_dir)


def is_stale(solution, exercise) -> bool:
    """Whether ``exercise`` is missing or differs from a fresh generation of ``solution``."""
    exercise = Path(exercise)
    return not exercise.is_file() or exercise.read_text(encoding="utf-8") != exercise_text(solution)


def stale_exercises(solutions_dir, exercises_dir) -> list[str]:
    """Names of solutions whose exercise is missing or differs from a fresh generation."""
    return [solution.name for solution in sorted(Path(solutions_dir).glob("*.ipynb"))
            if is_stale(solution, Path(exercises_dir) / solution.name)]
