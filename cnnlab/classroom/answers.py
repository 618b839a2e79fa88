"""The texts the report compares and lists: students' answer cells, the exercise's
template, manually graded answers, and the course's own reference implementations.

A submission is student-made and read only as data (``restore.parse_notebook``: size
limit, defensive JSON); nothing in it runs. Cells are found by the *source's*
``grade_id``s, as the grader finds them.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.grading import restore
from cnnlab.grading.grade import student_name

REFERENCE_PACKAGE = Path(__file__).resolve().parents[1] / "reference"


@dataclass
class SetSource:
    """What the report knows about one set from its solution notebook (shapes: lists in cell order)."""
    notebook: str                                     # "01_perceptron.ipynb"
    answer_ids: list[str] = field(default_factory=list)   # code answer cells (compared for similarity)
    manual_ids: list[str] = field(default_factory=list)   # nbgrader manually graded cells
    test_ids: list[str] = field(default_factory=list)     # test cells, in order
    template: dict[str, str] = field(default_factory=dict)  # answer grade_id -> the exercise's text (stub)
    solution: dict[str, str] = field(default_factory=dict)  # answer grade_id -> the solution's text


def load_set_source(solution_path) -> SetSource:
    """Read a solution notebook: its answer, manual and test cells and the exercise's template."""
    import nbformat

    from cnnlab.grading.generate import make_exercise

    path = Path(solution_path)
    solution = nbformat.read(path, as_version=4)
    exercise = make_exercise(solution)
    found = SetSource(path.name)
    for sol_cell, ex_cell in zip(solution.cells, exercise.cells):
        meta = sol_cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str):
            continue
        if meta.get("solution") and meta.get("grade"):
            found.manual_ids.append(grade_id)
        elif meta.get("solution") and sol_cell.cell_type == "code":
            found.answer_ids.append(grade_id)
            found.template[grade_id] = ex_cell.source
            found.solution[grade_id] = sol_cell.source
        elif meta.get("grade"):
            found.test_ids.append(grade_id)
    return found


def submission_files(where: str) -> list[Path]:
    """``--submissions``: a folder (every ``*.ipynb`` below it) or a glob pattern."""
    path = Path(where)
    if path.is_dir():
        return sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    matches = sorted(Path(p) for p in glob.glob(where, recursive=True) if p.endswith(".ipynb"))
    if not matches:
        raise FileNotFoundError(f"--submissions {where}: no folder of that name and no notebook matches it")
    return matches


def locate(files: list[Path], notebook: str) -> dict[str, Path]:
    """Student name -> submission file of set ``notebook``, named as ``cnnlab grade`` names
    them (the folder of a file with the source's name, else the file's stem); a file with
    the source's name wins over one named after the student."""
    found: dict[str, Path] = {}
    for path in sorted(files, key=lambda p: p.name != notebook):
        found.setdefault(student_name(path, Path(notebook)), path)
    return found


def by_recorded_path(files: list[Path], recorded: str) -> Path | None:
    """The file the sheet's ``submission`` column (the path as given to ``cnnlab grade``,
    maybe from another folder) names: the one file whose path ends with the recorded path,
    or whose path the recorded one ends with; None if none or several do."""
    given = [p for p in Path(recorded).parts if p not in (".", "..", "/")] if recorded else []
    if len(given) < 2:
        return None
    found = [f for f in files if (tail := [p for p in f.parts if p not in (".", "..", "/")])
             and (tail[-len(given):] == given or given[-len(tail):] == tail)]
    return found[0] if len(found) == 1 else None


def cell_texts(path: Path, grade_ids: list[str]) -> dict[str, str]:
    """``grade_id -> source`` of those cells in a submission (first copy of each); an
    unreadable submission gives {}."""
    try:
        cells = restore.parse_notebook(path.read_bytes())
    except (OSError, restore.Unreadable):
        return {}
    wanted, texts = set(grade_ids), {}
    for cell in cells:
        if cell.grade_id in wanted and cell.grade_id not in texts:
            texts[cell.grade_id] = cell.source
    return texts


def joined(texts: dict[str, str], order: list[str]) -> str:
    """Answer cells in the source's order, as one Python text."""
    return "\n\n".join(texts[g] for g in order if g in texts)


def reference_sources() -> dict[str, str]:
    """``"cnnlab.reference.<module>" -> source text`` of the course's NumPy reference."""
    return {f"cnnlab.reference.{p.stem}": p.read_text(encoding="utf-8")
            for p in sorted(REFERENCE_PACKAGE.glob("*.py")) if p.stem != "__init__"}



def template_texts(source: SetSource) -> list[str]:
    """The boilerplate to exclude: each answer cell's template and all of them joined (as
    the students' cells are joined, so the seams between cells are template too)."""
    return [*source.template.values(), joined(source.template, source.answer_ids)]
