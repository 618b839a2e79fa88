"""Answers that call the answer key: what a task's answer may not use, and who used it.

A source answer cell declares ``metadata.cnnlab.off_limits``, a list of module names or
dotted attributes (``"cnnlab.reference"``, ``"torch.nn.functional"``,
``"torch.nn.Conv2d"``). A dotted name ``D`` is off limits for that answer when it is a
listed ``L`` or lies below it (``D == L`` or ``D`` starts with ``L + "."``).

Two kinds of evidence make a :class:`Finding`:

- **static** (:func:`findings`, trusted: it only parses text with ``ast``): in the
  submission's answer cells, an ``import``/``from ... import`` of an off-limits name
  (``import cnnlab.reference as r``, ``from cnnlab.reference import conv_forward``,
  ``from cnnlab import reference``, ``from torch.nn import Conv2d``), a call
  ``importlib.import_module("...")`` or ``__import__("...")`` with a literal name, an
  attribute chain that spells an off-limits name through a name bound to a module
  (``torch.nn.functional.conv2d``, ``nn.Conv2d`` after ``from torch import nn``,
  ``F.conv2d`` after ``F = torch.nn.functional``), ``getattr(module, "literal")`` and
  ``sys.modules["literal"]``. Names are resolved through the imports and plain
  assignments of *every* cell the student's side runs (the student's own cells and
  the set-up cells included), so an alias made in another cell is followed into the
  answer. A submission that does not parse is not off limits (it just fails).
- **student side** (:func:`from_worker`): the worker records the off-limits names that
  student code imported while an answer cell ran and while an answer function was
  called (see ``worker``). It is advisory: the student's side can lie, so it can only
  add a finding, never clear one.

Not caught: names built at run time (``import_module("cnnlab." + "reference")``,
``getattr(torch.nn, name)``, ``vars()``/``globals()`` lookups) unless the student side
reports the import, and an off-limits module reached through an object that is not
a module alias (``np.__dict__``, a module stored in a container). Reading an allowed
name (``import numpy as np``, ``torch.nn.ReLU`` when only ``torch.nn.Conv2d`` is
listed) is never a finding.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from cnnlab.grading.restore import Cell, answer_names, student_program


@dataclass(frozen=True)
class Finding:
    """One off-limits use: ``function`` (an answer name) of answer cell ``grade_id`` uses
    ``name`` (as the source lists it); ``detail`` says where or how it was seen."""
    grade_id: str
    function: str
    name: str
    detail: str

    @property
    def summary(self) -> str:
        """``"conv_forward_naive uses cnnlab.reference"`` (the row status' wording)."""
        return f"{self.function} uses {self.name}"


def listed(dotted: str, off_limits) -> str | None:
    """The entry of ``off_limits`` that ``dotted`` is or lies below, else None."""
    return next((entry for entry in off_limits if dotted == entry or dotted.startswith(entry + ".")), None)


def _chain(node, aliases: dict[str, str]) -> str | None:
    """The dotted name an expression spells (``a.b.c``, ``getattr(a.b, "c")``,
    ``sys.modules["a.b"]``) with its base resolved through ``aliases``; else None."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _chain(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
            and isinstance(node.args[1].value, str) and _chain(node.func, aliases) == "builtins.getattr":
        base = _chain(node.args[0], aliases)
        return f"{base}.{node.args[1].value}" if base else None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
            and isinstance(node.slice.value, str) and _chain(node.value, aliases) == "sys.modules":
        return node.slice.value
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str) \
            and _chain(node.func, aliases) in ("importlib.import_module", "builtins.__import__"):
        return node.args[0].value
    return None


def _imported(node) -> list[tuple[str | None, str]]:
    """``(bound name or None, dotted name)`` for each name an import statement brings in."""
    if isinstance(node, ast.Import):
        return [(alias.asname or alias.name.split(".")[0], alias.name if alias.asname else alias.name.split(".")[0])
                for alias in node.names] + [(None, alias.name) for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [(alias.asname or alias.name, f"{node.module}.{alias.name}") for alias in node.names
                if alias.name != "*"] + [(None, node.module)]
    return []


def _bind_aliases(tree, aliases: dict[str, str]) -> None:
    """Record the module aliases a cell makes (imports, ``x = <dotted name>``) and drop
    the names it rebinds to anything else (``def``, ``class``, other assignments)."""
    for node in ast.walk(tree):
        for bound, dotted in _imported(node):
            if bound:
                aliases[bound] = dotted
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            aliases.pop(node.name, None)
        elif isinstance(node, ast.Assign):
            dotted = _chain(node.value, aliases)
            for target in node.targets:
                if isinstance(target, ast.Name) and dotted and len(node.targets) == 1:
                    aliases[target.id] = dotted
                else:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            aliases.pop(name.id, None)


def _uses(tree, aliases: dict[str, str]):
    """``(line, dotted name, text)`` for every import and every maximal dotted expression."""
    inner = set()
    for node in ast.walk(tree):
        for _, dotted in _imported(node):
            yield node.lineno, dotted, "imports"
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Name)) and id(node) not in inner:
            dotted = _chain(node, aliases)
            if dotted:
                inner.update(id(n) for n in ast.walk(node) if n is not node)
                yield node.lineno, dotted, "uses"


def _builtin_aliases() -> dict[str, str]:
    return {"getattr": "builtins.getattr", "__import__": "builtins.__import__"}


def program_findings(source: list[Cell], program: list[tuple[str, str]]) -> list[Finding]:
    """Static findings in ``program`` (``restore.student_program``'s ``(label, code)``
    cells, answer cells labelled with their grade_id), for the source's declarations."""
    answers = {c.grade_id: c for c in source if c.role == "answer" and c.off_limits}
    owners = answer_names(source)
    aliases, found = _builtin_aliases(), []
    for label, code in program:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, MemoryError, RecursionError):  # code the parser refuses or
            continue  # chokes on (deep nesting) fails in the sandbox; it must not crash the judge
        _bind_aliases(tree, aliases)
        cell = answers.get(label)
        if cell is None:
            continue
        first = next((name for name, owner in owners.items() if owner == label), label)
        for statement in tree.body:
            function = statement.name if getattr(statement, "name", None) in owners else first
            scope = aliases
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):  # parameters shadow aliases
                params = {a.arg for a in ast.walk(statement.args) if isinstance(a, ast.arg)}
                scope = {k: v for k, v in aliases.items() if k not in params}
            for line, dotted, verb in _uses(statement, scope):
                entry = listed(dotted, cell.off_limits)
                if entry:
                    text = code.splitlines()[line - 1].strip()[:120] if line <= len(code.splitlines()) else ""
                    found.append(Finding(label, function, entry, f"line {line} {verb} {dotted}: `{text}`"))
    return list(dict.fromkeys(found))


def findings(source_cells: list[Cell], submission_cells: list[Cell]) -> list[Finding]:
    """Static findings for a submission (cells from ``restore.parse_notebook``)."""
    program, _ = student_program(source_cells, submission_cells)
    return program_findings(source_cells, program)


def watched(source: list[Cell]) -> list[str]:
    """Every off-limits name of the source, for the worker to watch for."""
    return sorted({name for cell in source if cell.role == "answer" for name in cell.off_limits})


def from_worker(source: list[Cell], imported, *, cell: str | None = None,
                function: str | None = None) -> list[Finding]:
    """Findings from the worker's (untrusted) report that the dotted names in ``imported``
    were imported while answer cell ``cell`` ran or while answer ``function`` was called."""
    owners = answer_names(source)
    grade_id = owners.get(function) if function else cell
    answer = next((c for c in source if c.role == "answer" and c.grade_id == grade_id), None)
    if answer is None or not isinstance(imported, list):
        return []
    when = f"while `{function}` ran" if function else f"while its cell `{grade_id}` ran"
    function = function or next((name for name, owner in owners.items() if owner == grade_id), grade_id)
    found = []
    for dotted in imported[:50]:
        entry = listed(dotted, answer.off_limits) if isinstance(dotted, str) else None
        if entry:
            found.append(Finding(grade_id, function, entry,
                                 f"your notebook's process reported importing {dotted[:200]} {when}"))
    return list(dict.fromkeys(found))
