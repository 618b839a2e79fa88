"""Read notebooks defensively and rebuild what each side of the grader runs.

Cells are matched by nbgrader's ``grade_id``, and a cell's role always comes from the
instructor's *source* notebook (a submission's metadata is never trusted):

- answer cell (``solution: true``): the submission's text runs in the sandbox;
- test cell (``grade: true``, with ``points``): the source's text runs in the judge only;
- set-up cell (``locked: true``, neither of the above): the source's text runs in the
  sandbox and, unless ``metadata.cnnlab.side == "student"``, in the judge too;
- every other code cell of the submission runs in the sandbox only.

A submission that is not a JSON notebook is :class:`Unreadable`; odd metadata (not a
dict, a ``grade_id`` that is not a string) just makes a cell an ordinary student cell.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cnnlab.grading.generate import BEGIN_HIDDEN, END_HIDDEN

MAX_NOTEBOOK_BYTES = 64 * 2**20


class Unreadable(ValueError):
    """A submission that cannot be read as a notebook; the message says why."""


@dataclass(frozen=True)
class Cell:
    kind: str                 # "code", "markdown", ...
    source: str
    grade_id: str | None = None
    role: str | None = None   # "answer", "test", "setup", "helper" (source cells only)
    points: float = 0.0


def _metadata(cell: dict) -> tuple[dict, dict]:
    meta = cell.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    nbgrader, cnnlab = meta.get("nbgrader"), meta.get("cnnlab")
    return (nbgrader if isinstance(nbgrader, dict) else {}), (cnnlab if isinstance(cnnlab, dict) else {})


def _role(nbgrader: dict, cnnlab: dict) -> str | None:
    if nbgrader.get("solution") is True:
        return "answer"
    if nbgrader.get("grade") is True:
        return "test"
    if nbgrader.get("locked") is True:
        return "helper" if cnnlab.get("side") == "student" else "setup"
    return None


def parse_notebook(data: bytes) -> list[Cell]:
    """The cells of a notebook's bytes; :class:`Unreadable` if they are not a notebook."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise Unreadable(f"the notebook is {len(data)} bytes (at most {MAX_NOTEBOOK_BYTES})")
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise Unreadable(f"the notebook could not be read: it is not valid JSON ({type(err).__name__})") from None
    raw_cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(raw_cells, list):
        raise Unreadable("the notebook could not be read: it has no list of cells")
    cells = []
    for raw in raw_cells:
        if not isinstance(raw, dict):
            continue
        source = raw.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        nbgrader, cnnlab = _metadata(raw)
        grade_id = nbgrader.get("grade_id")
        points = nbgrader.get("points", 0)
        cells.append(Cell(str(raw.get("cell_type")), source, grade_id if isinstance(grade_id, str) else None,
                          _role(nbgrader, cnnlab),
                          float(points) if type(points) in (int, float) and points >= 0 else 0.0))
    return cells


def load_source(path) -> list[Cell]:
    """The instructor's notebook; a clear ``ValueError`` if its grading metadata is broken."""
    cells = parse_notebook(Path(path).read_bytes())
    ids = [c.grade_id for c in cells if c.grade_id]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{path}: grade_id {duplicates} used by more than one cell; make them unique")
    for cell in cells:
        if cell.role and not cell.grade_id:
            raise ValueError(f"{path}: a {cell.role} cell has no grade_id; give it one")
        if cell.role == "test":
            split_test(cell.source)  # raises on unbalanced hidden markers
    if not any(c.role == "test" for c in cells):
        raise ValueError(f"{path}: no test cells (nbgrader grade: true); is this the solution notebook?")
    return cells


def split_test(source: str) -> list[tuple[bool, str]]:
    """Split a test cell into ``(hidden, code)`` parts in order, at the hidden-test markers.
    Each part keeps its line numbers (blank lines stand in for the others)."""
    parts, lines, hidden, start = [], source.splitlines(), False, 0
    for number, line in enumerate(lines + [None]):
        marker = None if line is None else line.strip()
        if marker in (BEGIN_HIDDEN, END_HIDDEN, None):
            if marker == BEGIN_HIDDEN and hidden or marker == END_HIDDEN and not hidden:
                raise ValueError(f"unbalanced '{marker}' in a test cell, line {number + 1}")
            if marker is None and hidden:
                raise ValueError(f"'{BEGIN_HIDDEN}' is never closed in a test cell")
            body = "\n".join(lines[start:number])
            if body.strip():
                parts.append((hidden, "\n" * start + body))
            hidden, start = marker == BEGIN_HIDDEN, number + 1
    return parts


def visible_text(source: str) -> str:
    """What the exercise shows of a test cell (hidden parts removed), for comparison;
    text with broken markers is compared as it is."""
    try:
        parts = [part for hidden, part in split_test(source) if not hidden]
    except ValueError:
        parts = [source]
    return "\n".join(line.rstrip() for part in parts for line in part.splitlines() if line.strip())


def student_program(source: list[Cell], submission: list[Cell]) -> tuple[list[tuple[str, str]], list[str]]:
    """The ``(label, code)`` cells the sandbox runs, in the submission's order, and the
    grade_ids of test cells the submission edited or deleted.

    Answer cells come from the submission, set-up and helper cells from the source (put
    first if the submission lost them), test cells are left out, other code cells are
    the student's own."""
    by_id = {c.grade_id: c for c in source if c.grade_id}
    program, seen, edited = [], set(), []
    for index, cell in enumerate(submission):
        original = by_id.get(cell.grade_id)
        if original is not None and cell.grade_id in seen:
            original = None  # a duplicated graded cell runs as the student's own code
        if original is None:
            if cell.kind == "code":
                program.append((f"cell {index + 1}", cell.source))
            continue
        seen.add(cell.grade_id)
        if original.role == "answer" and cell.kind == "code":
            program.append((original.grade_id, cell.source))
        elif original.role in ("setup", "helper"):
            program.append((original.grade_id, original.source))
        elif original.role == "test" and visible_text(cell.source) != visible_text(original.source):
            edited.append(original.grade_id)
    missing = [(c.grade_id, c.source) for c in source if c.role in ("setup", "helper") and c.grade_id not in seen]
    edited += [c.grade_id for c in source if c.role == "test" and c.grade_id not in seen]
    return missing + program, edited
