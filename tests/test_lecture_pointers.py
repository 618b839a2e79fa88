"""Each lecture's closing pointer to its problem set names every graded task of the set.

The tasks are read from the set's source of truth, ``solutions/NN_x.ipynb``: the functions
and classes defined in its nbgrader solution cells (``solution: true``). The pointer is the
lecture's last cell and must name each of them in backticks.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
PAIRS = sorted(p.stem for p in (REPO / "solutions").glob("*.ipynb") if (REPO / "lectures" / p.name).exists())


def graded_tasks(solution_path: Path) -> list[str]:
    """Names defined at the top level of the set's solution cells, in order."""
    names = []
    for cell in nbformat.read(solution_path, as_version=4).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            names += [node.name for node in ast.parse(cell.source).body
                      if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    return names


def test_there_are_sets_with_lectures():
    assert len(PAIRS) >= 10, PAIRS


@pytest.mark.parametrize("name", PAIRS)
def test_pointer_names_every_graded_task(name):
    tasks = graded_tasks(REPO / "solutions" / f"{name}.ipynb")
    assert tasks, f"solutions/{name}.ipynb defines no graded task"
    pointer = nbformat.read(REPO / "lectures" / f"{name}.ipynb", as_version=4).cells[-1].source
    missing = [task for task in tasks if f"`{task}`" not in pointer]
    assert not missing, f"lectures/{name}.ipynb's pointer to its problem set leaves out {missing}"
