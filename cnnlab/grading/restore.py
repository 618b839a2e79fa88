"""Read notebooks defensively and rebuild what each side of the grader runs.

Cells are matched by nbgrader's ``grade_id``, and a cell's role always comes from the
instructor's *source* notebook (a submission's metadata is never trusted):

- answer cell (``solution: true``): the submission's text runs in the sandbox; the
  names the *source's* answer cells define at top level (:func:`answer_names`) are the
  only names the judge ever takes from the student;
- manually graded cell (``solution: true`` and ``grade: true``, code or markdown): role
  ``"manual"``, graded by a person (0 points until then); a code cell's submitted text
  runs in the sandbox like an answer;
- test cell (``grade: true``, with ``points``): the source's text runs in the judge only;
- set-up cell (``locked: true``, neither of the above): the source's text runs in the
  sandbox and in the judge (role ``"setup"``); with ``metadata.cnnlab.side == "student"``
  only in the sandbox (role ``"helper"``: the names it defines cross like answer names,
  see :func:`crossing_names`); with ``metadata.cnnlab.side == "judge"`` only
  in the judge (role ``"judge-setup"``: reference implementations, torch helpers);
- every other code cell of the submission runs in the sandbox only.

An answer cell of the source may declare, in ``metadata.cnnlab``:

- ``mutates``: ``{"batchnorm_forward": ["bn_param"]}``, function name -> the parameters
  the API documents as changed in place; only these come back from the student's side
  (positional arguments are matched to names with the source's own ``def``);
- ``off_limits``: ``["cnnlab.reference", "torch.nn.functional", "torch.nn.Conv2d"]``,
  modules or dotted attributes the answer may not use (see ``offlimits``).

A submission that is not a JSON notebook is :class:`Unreadable`; odd metadata (not a
dict, a ``grade_id`` that is not a string) just makes a cell an ordinary student cell.
"""
from __future__ import annotations

import ast
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
    role: str | None = None   # "answer", "manual", "test", "setup", "helper", "judge-setup"
    points: float = 0.0
    mutates: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (function, parameters); answer cells
    off_limits: tuple[str, ...] = ()                        # dotted names; answer cells


def _metadata(cell: dict) -> tuple[dict, dict]:
    meta = cell.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    nbgrader, cnnlab = meta.get("nbgrader"), meta.get("cnnlab")
    return (nbgrader if isinstance(nbgrader, dict) else {}), (cnnlab if isinstance(cnnlab, dict) else {})


SIDES = {"student": "helper", "judge": "judge-setup"}


def _role(nbgrader: dict, cnnlab: dict) -> str | None:
    if nbgrader.get("solution") is True:
        return "manual" if nbgrader.get("grade") is True else "answer"
    if nbgrader.get("grade") is True:
        return "test"
    if nbgrader.get("locked") is True:
        return SIDES.get(cnnlab.get("side"), "setup")
    return None


def _declarations(cnnlab: dict) -> tuple[tuple, tuple]:
    """``mutates`` and ``off_limits`` as tuples; malformed entries are dropped here and
    reported by :func:`load_source` (a submission's metadata is never used)."""
    mutates, off_limits = cnnlab.get("mutates"), cnnlab.get("off_limits")
    mutates = tuple((name, tuple(params)) for name, params in mutates.items()
                    if isinstance(name, str) and isinstance(params, list)
                    and all(isinstance(p, str) for p in params)) if isinstance(mutates, dict) else ()
    off_limits = tuple(n for n in off_limits if isinstance(n, str)) if isinstance(off_limits, list) else ()
    return mutates, off_limits


def parse_notebook(data: bytes) -> list[Cell]:
    """The cells of a notebook's bytes; :class:`Unreadable` if they are not a notebook."""
    return [cell for cell, _ in _parse(data)]


def _parse(data: bytes) -> list[tuple[Cell, dict]]:
    """Each cell with its raw ``metadata.cnnlab`` (a dict, empty when malformed)."""
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
        role = _role(nbgrader, cnnlab)
        mutates, off_limits = _declarations(cnnlab) if role == "answer" else ((), ())
        cells.append((Cell(str(raw.get("cell_type")), source, grade_id if isinstance(grade_id, str) else None,
                          role, float(points) if type(points) in (int, float) and points >= 0 else 0.0,
                          mutates, off_limits), cnnlab))
    return cells


def _check_declarations(path, cell: Cell, raw_cnnlab: dict) -> None:
    mutates, off_limits = raw_cnnlab.get("mutates", {}), raw_cnnlab.get("off_limits", [])
    if len(cell.mutates) != (len(mutates) if isinstance(mutates, dict) else -1):
        raise ValueError(f"{path}: `{cell.grade_id}`'s metadata.cnnlab.mutates must map function names to "
                         f"lists of parameter names, e.g. {{\"batchnorm_forward\": [\"bn_param\"]}}")
    if len(cell.off_limits) != (len(off_limits) if isinstance(off_limits, list) else -1):
        raise ValueError(f"{path}: `{cell.grade_id}`'s metadata.cnnlab.off_limits must be a list of module or "
                         f"dotted names, e.g. [\"cnnlab.reference\"]")
    for function, params in cell.mutates:
        known = parameters(cell.source, function)
        if known is None or not set(params) <= set(known):
            raise ValueError(f"{path}: `{cell.grade_id}` declares that `{function}` mutates {list(params)}, but "
                             f"its answer cell defines no `{function}` with those parameters")


def _top_level_names(code: str) -> set[str]:
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return set()
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def answer_names(source: list[Cell]) -> dict[str, str]:
    """name -> grade_id of the source answer cell that defines it at top level (a function,
    a class or an assigned name): what the judge takes from a student, with the helper
    names of :func:`crossing_names`; off-limits checks and blame are per answer name."""
    return {name: cell.grade_id for cell in source if cell.role == "answer"
            for name in sorted(_top_level_names(cell.source))}


def crossing_names(source: list[Cell]) -> dict[str, str]:
    """The names the judge asks the student's side for: the answer names, and the names
    the source's student-side helper cells define (they report on the student's objects,
    e.g. a model's layer shapes, as plain data; a student can redefine them, as they
    could always patch what they call)."""
    helpers = {name: cell.grade_id for cell in source if cell.role == "helper"
               for name in sorted(_top_level_names(cell.source))}
    return {**helpers, **answer_names(source)}


def parameters(code: str, function: str) -> list[str] | None:
    """The parameter names, in order, of the top-level ``def function`` in ``code``."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return None
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            args = node.args
            return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    return None


def load_source(path) -> list[Cell]:
    """The instructor's notebook; a clear ``ValueError`` if its grading metadata is broken."""
    parsed = _parse(Path(path).read_bytes())
    for cell, raw_cnnlab in parsed:
        if cell.role == "answer":
            _check_declarations(path, cell, raw_cnnlab)
    cells = [cell for cell, _ in parsed]
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

    Answer (and manually graded code) cells come from the submission, set-up and helper
    cells from the source (put first if the submission lost them), test and judge-side
    set-up cells are left out, other code cells are the student's own."""
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
        if original.role in ("answer", "manual") and cell.kind == "code":
            program.append((original.grade_id, cell.source))
        elif original.role in ("setup", "helper"):
            program.append((original.grade_id, original.source))
        elif original.role == "test" and visible_text(cell.source) != visible_text(original.source):
            edited.append(original.grade_id)
    missing = [(c.grade_id, c.source) for c in source if c.role in ("setup", "helper") and c.grade_id not in seen]
    edited += [c.grade_id for c in source if c.role == "test" and c.grade_id not in seen]
    return missing + program, edited
