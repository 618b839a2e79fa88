"""Check a problem set before it reaches students: ``cnnlab exercises`` runs these checks.

Two stages, and nothing is written unless both pass for every set:

1. :func:`static_problems`: what can be seen in the source notebook without running it
   (markers, nbgrader metadata, the ``cnnlab`` metadata the grader reads, tests that
   would run code the student can edit);
2. :func:`release_problems`: the real grader, in its sandbox, grades the solution
   notebook itself and the freshly generated exercise; the solution must get every
   point and the exercise none (manually graded cells aside).

Each finding is a :class:`Problem` naming the file, the cell (counted from 1, as
``cell 3 of 12``), its ``grade_id`` and the fix. Cell kinds, from nbgrader's metadata:

======== ================================= ===========================================
kind     nbgrader metadata                 what the grader does with it
======== ================================= ===========================================
answer   ``solution: true``                the student's text runs in the sandbox
manual   ``solution: true, grade: true``   graded by hand (0 points until an override)
test     ``grade: true`` (with ``points``) the source's text runs in the trusted judge
set-up   ``locked: true``                  the source's text runs on both sides, or on
                                           one (``metadata.cnnlab.side``)
======== ================================= ===========================================
"""
from __future__ import annotations

import ast
import json
import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cnnlab.grading.generate import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, exercise_text

PAIRS = {BEGIN_SOLUTION: END_SOLUTION, BEGIN_HIDDEN: END_HIDDEN}
ENDS = {end: begin for begin, end in PAIRS.items()}
NBGRADER_KEYS = ("grade", "grade_id", "locked", "schema_version", "solution")
CNNLAB_KEYS = ("side", "mutates", "off_limits")
SIDES = ("student", "judge")
DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
PLAIN_DATA = ("numbers, strings, lists/tuples/dicts, NumPy arrays, tensors")


@dataclass(frozen=True)
class Problem:
    """One reason a set cannot be released. ``cell`` counts from 1; None for the whole file."""
    file: str
    cell: int | None
    cells: int
    grade_id: str | None
    what: str
    fix: str

    def __str__(self) -> str:
        where = self.file
        if self.cell is not None:
            where += f", cell {self.cell} of {self.cells}"
        if self.grade_id:
            where += f" (grade_id {self.grade_id!r})"
        return f"{where}: {self.what}\n    fix: {self.fix}"


# --------------------------------------------------------------------------- reading

@dataclass
class _Cell:
    index: int            # from 1
    cell_type: str
    source: str
    kind: str | None      # "answer", "manual", "test", "setup" or None (an ordinary cell)
    nbgrader: dict
    cnnlab: dict
    not_objects: list     # "nbgrader" / "cnnlab" when that metadata is there but not a JSON object

    @property
    def grade_id(self) -> str | None:
        grade_id = self.nbgrader.get("grade_id")
        return grade_id if isinstance(grade_id, str) and grade_id else None


def cell_kind(nbgrader: dict) -> str | None:
    """"answer", "manual", "test", "setup" (see the table above) or None, from ``metadata.nbgrader``."""
    solution, grade = nbgrader.get("solution") is True, nbgrader.get("grade") is True
    if solution:
        return "manual" if grade else "answer"
    if grade:
        return "test"
    return "setup" if nbgrader.get("locked") is True else None


def _read_cells(path: Path) -> list[_Cell]:
    """The notebook's cells; a ValueError that says why it cannot be read."""
    try:
        raw_cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if not isinstance(raw_cells, list):
            raise TypeError("its 'cells' is not a list")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cannot be read as a Jupyter notebook ({type(err).__name__}: {err})") from None
    cells = []
    for index, raw in enumerate(raw_cells, start=1):
        raw = raw if isinstance(raw, dict) else {}
        source = raw.get("source", "")
        source = "".join(map(str, source)) if isinstance(source, list) else str(source)
        meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        nbgrader, cnnlab = meta.get("nbgrader", {}), meta.get("cnnlab", {})
        cell = _Cell(index, str(raw.get("cell_type")), source, None,
                     nbgrader if isinstance(nbgrader, dict) else {}, cnnlab if isinstance(cnnlab, dict) else {},
                     [key for key, value in (("nbgrader", nbgrader), ("cnnlab", cnnlab)) if not isinstance(value, dict)])
        cell.kind = cell_kind(cell.nbgrader)
        cells.append(cell)
    return cells


# --------------------------------------------------------------------------- names

def top_level_names(code: str) -> set[str]:
    """Names that ``code`` binds in the namespace it runs in (not inside functions,
    classes, lambdas or comprehensions); empty when it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.alias) and node.name != "*":
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _read_names(code: str) -> set[str]:
    from cnnlab.grading.judge import free_names

    try:
        return free_names(code)
    except SyntaxError:
        return set()


def _functions(code: str) -> dict[str, set[str]]:
    """Top-level ``def`` names of ``code`` -> their parameter names."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    functions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]
            functions[node.name] = {p.arg for p in params}
    return functions


# --------------------------------------------------------------------------- static checks

def _marker_problems(source: str) -> list[tuple[str, str]]:
    """(what, fix) for unbalanced or nested BEGIN/END marker lines."""
    found, open_begin, open_line = [], None, 0
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker in PAIRS:
            if open_begin:
                found.append((f"line {number}: '{marker}' inside the '{open_begin}' block opened on line "
                              f"{open_line}", f"close that block with '{PAIRS[open_begin]}' first; blocks "
                              "cannot nest"))
            open_begin, open_line = marker, number
        elif marker in ENDS:
            if open_begin != ENDS[marker]:
                found.append((f"line {number}: '{marker}' without a matching '{ENDS[marker]}' before it",
                              f"add '{ENDS[marker]}' where the block starts, or remove this line"))
            else:
                open_begin = None
    if open_begin:
        found.append((f"'{open_begin}' on line {open_line} is never closed",
                      f"add a line '{PAIRS[open_begin]}' where the block ends"))
    return found


def _ipython_line(code: str) -> int | None:
    """The line (from 1) of the first IPython-only construct in ``code``, None if none:
    a line that does not parse because it starts with ``%`` or ``!``, or a call of get_ipython."""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        lines = code.splitlines()
        bad = lines[err.lineno - 1].lstrip() if err.lineno and err.lineno <= len(lines) else ""
        return err.lineno if bad.startswith(("%", "!")) else None
    return next((node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name) and node.func.id == "get_ipython"), None)


def _points_problem(cell: _Cell) -> tuple[str, str] | None:
    points = cell.nbgrader.get("points")
    fix = "give it points in its nbgrader metadata, a number >= 0 (e.g. \"points\": 2)"
    if points is None:
        return f"this {cell.kind} cell has no points (it would silently be worth nothing)", fix
    if type(points) not in (int, float):
        return f"its points {points!r} are not a number", fix
    if not math.isfinite(points) or points < 0:
        return f"its points {points!r} are negative or not finite", fix
    return None


def _hidden_parts_problems(cell: _Cell) -> list[tuple[str, str]]:
    """A hidden block must wrap whole statements: each part between markers must compile."""
    from cnnlab.grading.restore import split_test

    fix = (f"put '{BEGIN_HIDDEN}' and '{END_HIDDEN}' at the left margin, around whole statements: "
           "the grader runs the parts between the markers one after the other, each on its own")
    indented = [f"line {number}: '{line.strip()}'" for number, line in enumerate(cell.source.splitlines(), start=1)
                if line.strip() in (BEGIN_HIDDEN, END_HIDDEN) and line != line.lstrip()]
    if indented:  # the cause of any part that does not compile
        return [(f"{', '.join(indented)} {'is' if len(indented) == 1 else 'are'} indented, i.e. inside a compound "
                 "statement (for, if, def, with...) of the visible code", fix)]
    for hidden, part in split_test(cell.source):
        try:
            compile(part, "<part>", "exec")
        except SyntaxError as err:
            which = "hidden" if hidden else "visible"
            return [(f"a {which} part of the test does not compile on its own (line {err.lineno}: {err.msg})",
                     fix)]
    return []


def _cnnlab_problems(cell: _Cell) -> list[tuple[str, str]]:
    meta, found = cell.cnnlab, []
    for key in sorted(set(meta) - set(CNNLAB_KEYS)):
        found.append((f"metadata.cnnlab has an unknown key {key!r}", f"use only {', '.join(CNNLAB_KEYS)}"))
    if "side" in meta:
        if cell.kind != "setup":
            found.append(("metadata.cnnlab.side is set on a cell that is not a locked set-up cell",
                          "remove it, or make the cell read-only (nbgrader locked: true) and not graded"))
        elif meta["side"] not in SIDES:
            found.append((f"metadata.cnnlab.side is {meta['side']!r}",
                          "write \"student\" (runs only in the student's notebook, not in the grader's judge) "
                          "or \"judge\" (runs only in the judge), or remove it (runs on both sides)"))
    for key in ("mutates", "off_limits"):
        if key in meta and cell.kind != "answer":
            found.append((f"metadata.cnnlab.{key} is set on a cell that is not an answer cell",
                          "move it to the answer cell that defines the functions it is about"))
    if cell.kind != "answer":
        return found
    if "mutates" in meta:
        mutates, functions = meta["mutates"], _functions(cell.source)
        shape_fix = ('write {"function": ["parameter", ...]} with functions this cell defines, e.g. '
                     '{"batchnorm_forward": ["bn_param"]}')
        if not isinstance(mutates, dict):
            found.append((f"metadata.cnnlab.mutates is {type(mutates).__name__}, not an object", shape_fix))
        else:
            for name, params in mutates.items():
                if name not in functions:
                    found.append((f"metadata.cnnlab.mutates names {name!r}, which this cell does not define "
                                  f"with a top-level def (it defines {sorted(functions) or 'none'})", shape_fix))
                elif not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                    found.append((f"metadata.cnnlab.mutates[{name!r}] is not a list of parameter names",
                                  shape_fix))
                elif set(params) - functions[name]:
                    found.append((f"metadata.cnnlab.mutates[{name!r}] names {sorted(set(params) - functions[name])}"
                                  f", not parameters of {name}({', '.join(sorted(functions[name]))})", shape_fix))
    if "off_limits" in meta:
        off_limits = meta["off_limits"]
        fix = 'write a list of module names or dotted attributes, e.g. ["cnnlab.reference", "torch.nn.functional"]'
        if not isinstance(off_limits, list):
            found.append((f"metadata.cnnlab.off_limits is {type(off_limits).__name__}, not a list", fix))
        else:
            bad = [n for n in off_limits if not isinstance(n, str) or not DOTTED_NAME.fullmatch(n)]
            if bad:
                found.append((f"metadata.cnnlab.off_limits holds {bad!r}, not dotted names", fix))
    return found


def static_problems(path) -> list[Problem]:
    """Everything wrong with the source notebook ``path`` that shows without running it."""
    path = Path(path)
    problems: list[Problem] = []
    cells: list[_Cell] = []

    def problem(cell: _Cell | None, what: str, fix: str) -> None:
        problems.append(Problem(str(path), cell.index if cell else None, len(cells),
                                cell.grade_id if cell else None, what, fix))

    try:
        cells.extend(_read_cells(path))
    except ValueError as err:
        problem(None, str(err), "save it from Jupyter as a .ipynb notebook (nbformat 4)")
        return problems
    first_with_id: dict[str, _Cell] = {}
    for cell in cells:
        text, kind = cell.source, cell.kind
        for key in cell.not_objects:
            problem(cell, f"its metadata.{key} is not a JSON object",
                    "set the cell's kind again with nbgrader's Create Assignment toolbar" if key == "nbgrader"
                    else f"make it an object with some of the keys {', '.join(CNNLAB_KEYS)}")
        if kind and not cell.grade_id:
            problem(cell, f"this {kind} cell has no grade_id",
                    "give it a grade_id, unique in the notebook (nbgrader's Create Assignment toolbar asks for one)")
        if cell.grade_id in first_with_id:
            problem(cell, f"grade_id {cell.grade_id!r} is also used by cell {first_with_id[cell.grade_id].index}",
                    "give each graded, answer or set-up cell its own grade_id")
        elif cell.grade_id:
            first_with_id[cell.grade_id] = cell
        if kind and set(NBGRADER_KEYS) - set(cell.nbgrader):
            problem(cell, f"its nbgrader metadata lacks {sorted(set(NBGRADER_KEYS) - set(cell.nbgrader))}",
                    "nbgrader itself needs grade, grade_id, locked, schema_version (3) and solution: set the "
                    "cell's kind with nbgrader's Create Assignment toolbar")
        for what, fix in _marker_problems(text):
            problem(cell, what, fix)
        has_solution = BEGIN_SOLUTION in text or END_SOLUTION in text
        has_hidden = BEGIN_HIDDEN in text or END_HIDDEN in text
        if kind == "answer" and not (BEGIN_SOLUTION in text and END_SOLUTION in text):
            problem(cell, f"this {kind} cell has no '{BEGIN_SOLUTION}' ... '{END_SOLUTION}' lines, so the "
                    "exercise would ship the whole solution",
                    "put the lines that are the answer between those two marker lines; the exercise replaces "
                    "them with a stub")
        if has_solution and kind not in ("answer", "manual"):
            problem(cell, "solution markers in a cell that is not an answer cell",
                    "make it an answer cell (nbgrader 'Autograded answer' or 'Manually graded answer'), "
                    "or remove the markers")
        if has_hidden and kind != "test":
            problem(cell, "hidden-test markers in a cell that is not a test cell",
                    "move the hidden tests into a test cell (nbgrader 'Autograder tests')")
        if kind in ("test", "manual") and (found := _points_problem(cell)):
            problem(cell, *found)
        if kind == "test" and cell.cell_type != "code":
            problem(cell, f"this test cell is a {cell.cell_type} cell", "tests are code cells")
        if kind == "test" and has_hidden and not _marker_problems(text):
            for what, fix in _hidden_parts_problems(cell):
                problem(cell, what, fix)
        if cell.cell_type == "code" and (line := _ipython_line(text)):
            problem(cell, f"line {line}: an IPython magic or shell escape (%, !, get_ipython())",
                    "write plain Python: the grader runs cells without IPython")
        for what, fix in _cnnlab_problems(cell):
            problem(cell, what, fix)
    if not any(c.kind == "test" for c in cells):
        problem(None, "no test cells (nbgrader grade: true with points)",
                "add at least one test cell; is this the solution notebook?")
    _unlocked_helper_problems(cells, problem)
    return problems


def _unlocked_helper_problems(cells: list[_Cell], problem) -> None:
    """A test that reads a name only an ordinary (unlocked, unmarked) code cell defines
    would run code the student can change, on the trusted side."""
    trusted = set().union(*(top_level_names(c.source) for c in cells if c.kind and c.cell_type == "code"))
    editable: dict[str, _Cell] = {}
    for cell in cells:
        if cell.kind is None and cell.cell_type == "code":
            for name in top_level_names(cell.source):
                editable.setdefault(name, cell)
    for cell in cells:
        if cell.kind != "test":
            continue
        for name in sorted((_read_names(cell.source) - trusted) & set(editable)):
            problem(cell, f"the test reads `{name}`, which only cell {editable[name].index} defines, an ordinary "
                    "cell the student can edit (the test would run the student's version)",
                    f"make cell {editable[name].index} a read-only set-up cell (nbgrader 'Read-only', "
                    f"locked: true, with a grade_id), or define `{name}` in a set-up or test cell")


# --------------------------------------------------------------------------- release check

def release_problems(solution, *, timeout: float = 120, max_time: float = 300, sandbox: bool = True
                     ) -> list[Problem]:
    """Grade the solution notebook and its fresh exercise with the real grader; the
    solution must get every automatic point and the exercise none. Run it on a source
    that passed :func:`static_problems` (broken markers raise ValueError here)."""
    from cnnlab.grading.grade import grade_notebook

    path = Path(solution)
    cells = _read_cells(path)
    index_of = {c.grade_id: c.index for c in reversed(cells) if c.grade_id}
    manual = {c.grade_id for c in cells if c.kind == "manual"}
    problems = []

    def problem(grade_id, what, fix):
        problems.append(Problem(str(path), index_of.get(grade_id), len(cells), grade_id, what, fix))

    with tempfile.TemporaryDirectory(prefix="cnnlab-release-") as tmp:
        exercise = Path(tmp) / path.name
        exercise.write_text(exercise_text(path), encoding="utf-8")
        try:
            reports = {who: grade_notebook(notebook, path, student=who, timeout=timeout, max_time=max_time,
                                           sandbox=sandbox)
                       for who, notebook in (("solution", path), ("exercise", exercise))}
        except ValueError as err:  # the grader refuses the source (e.g. a set-up cell fails in the judge)
            problem(None, f"the grader cannot use it: {err}", "fix the source notebook as the message says")
            return problems
    for who, report in reports.items():
        if report.status != "ok":
            problem(None, f"grading the {who} gave status '{report.status}'",
                    f"the {who} must run within the grader's limits (--max-time {max_time:g} s per notebook, "
                    f"--timeout {timeout:g} s per test); make the set faster")
    for test in reports["solution"].tests:
        if test.grade_id not in manual and test.points < test.max_points:
            problem(test.grade_id, f"the solution gets {test.points:g} of {test.max_points:g} points: "
                    f"{test.message}",
                    "the solution must pass every test through the grader; a test may hand the student's "
                    f"functions, and read from them, only plain data ({PLAIN_DATA}), so pass e.g. a torch "
                    "module's weights as arrays, not the module")
    for test in reports["exercise"].tests:
        if test.grade_id not in manual and test.points > 0:
            problem(test.grade_id, f"the untouched exercise gets {test.points:g} of {test.max_points:g} points",
                    "the test must fail without an answer: make it call or read what the answer cell defines, "
                    "so that the exercise's stub (NotImplementedError) fails it")
    return problems


def looks_like_exercise(path) -> bool:
    """True when a readable notebook has no solution markers and no hidden tests, as a
    generated exercise (or a student's copy of it) has none; False for anything else."""
    try:
        cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else str(c["source"]) for c in cells]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return False
    return not any(BEGIN_SOLUTION in s or BEGIN_HIDDEN in s for s in sources)
