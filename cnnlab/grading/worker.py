"""The student's side of the grader: ``python -m cnnlab.grading.worker``, run in the sandbox.

It first sends ``{"started": true}`` (before any student code runs, so the grader can
tell a sandbox that never came up from a student's crash), then reads one message
``{"cells": [[label, code], ...], "watch": [dotted name, ...]}`` from its stdin, runs
the cells in order in one namespace (errors are recorded and the next cell runs),
answers ``{"ready": true, "errors": [[label, type, message], ...], "imports": {label:
[dotted name, ...]}, "outputs": [[label, text], ...]}`` (the watched names that student
code imported while each cell ran, see :class:`ImportWatch`; what each cell printed),
then serves requests until its stdin closes:

- ``{"op": "get", "name": N}`` -> ``{"kind": "data", "value": V}`` (plain data, see
  ``wire``), ``{"kind": "callable"}``, ``{"kind": "missing"}`` or
  ``{"kind": "refused", "type": T}``;
- ``{"op": "call", "name": N, "args": [...], "kwargs": {...}, "back": [key, ...]}`` ->
  ``{"kind": "return", "value": V, "back": {key: B}, "imported": [dotted name, ...]}``,
  ``{"kind": "raise", "type": T, "message": M, "imported": [...]}`` or ``{"kind":
  "refused", "type": T}``. ``back`` names the arguments (a position as a string, or a
  keyword) the judge wants after the call, the ones the API mutates; for each, ``B``
  is ``{"entries": [[key, V], ...], "refused": [[key, T], ...]}`` for a dict (entry by
  entry, so one non-plain entry is named rather than losing the rest) and
  ``{"value": V}`` or ``{"refused": T}`` otherwise.

The student's own output never reaches the protocol: stdin, stdout and stderr are
replaced by ``/dev/null`` and the protocol uses private copies of the pipes; what a
cell prints through ``sys.stdout``/``sys.stderr`` is kept (bounded) and sent back in the
ready reply's ``outputs``, for the instructor's review copy. Everything here can be
subverted by the student's code; the judge trusts none of it.
"""
from __future__ import annotations

import builtins
import importlib
import os
import sys

from cnnlab.grading import wire

MESSAGE_CHARS = 2000
OUTPUT_CHARS = 10_000  # of one cell's printed output, kept for the instructor's review copy


def _private_pipes() -> tuple[int, int]:
    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    return fd_in, fd_out


class _NoShell:
    """Stands in for ``get_ipython()``: IPython magics and shell escapes in a student's
    cell (``%matplotlib inline``, ``!ls``) do nothing instead of failing the cell."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _compiled(code: str, label: str, namespace: dict):
    try:
        return compile(code, f"<{label}>", "exec")
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        transformed = TransformerManager().transform_cell(code)
        if transformed == code:
            raise
        namespace.setdefault("get_ipython", _NoShell)
        return compile(transformed, f"<{label}>", "exec")


class ImportWatch:
    """Records the watched dotted names that student code imports: ``import a.b``,
    ``from a import b`` (as ``a`` and ``a.b``), ``__import__`` and
    ``importlib.import_module``. Student code is code compiled from one of the cells
    ``labels`` name (file name ``<label>``); imports made by library code (torch
    importing its own modules) are not the student's and are not recorded. Installed before any student cell runs; the student can remove it, which
    is why the judge treats what it reports as evidence that can only add a finding."""

    def __init__(self, watch, labels=()):
        self.watch = tuple(w for w in watch if isinstance(w, str))[:100]
        self.files = {f"<{label}>" for label in labels}  # what compile() calls the student's cells
        self.seen: list[str] = []
        self._import, self._import_module = builtins.__import__, importlib.import_module

    def _record(self, name, fromlist=(), level=0) -> None:
        if level or not isinstance(name, str) or sys._getframe(2).f_code.co_filename not in self.files:
            return
        for dotted in [name, *(f"{name}.{n}" for n in (fromlist or ()) if isinstance(n, str))]:
            if any(dotted == w or dotted.startswith(w + ".") for w in self.watch) and dotted not in self.seen:
                self.seen.append(dotted)

    def install(self) -> None:
        def watched_import(name, globals=None, locals=None, fromlist=(), level=0):
            self._record(name, fromlist, level)
            return self._import(name, globals, locals, fromlist, level)

        def watched_import_module(name, package=None):
            self._record(name)
            return self._import_module(name, package)

        builtins.__import__, importlib.import_module = watched_import, watched_import_module

    def take(self) -> list[str]:
        """What was recorded since the last call."""
        seen, self.seen = self.seen, []
        return seen


class _CellOutput:
    """Stands in for ``sys.stdout``/``sys.stderr`` during one cell: keeps the first
    ``OUTPUT_CHARS`` characters written, drops the rest."""

    def __init__(self):
        self.parts, self.room = [], OUTPUT_CHARS

    def write(self, text) -> int:
        text = str(text)
        if self.room > 0:
            self.parts.append(text[:self.room])
            self.room -= len(self.parts[-1])
        return len(text)

    def flush(self) -> None:
        pass


def run_cells(cells, namespace: dict, watch: ImportWatch | None = None,
              outputs: list | None = None) -> tuple[list[list[str]], dict]:
    """Execute ``(label, code)`` cells; return ``[label, error type, message]`` per failure
    and ``{label: [watched names imported]}`` for the cells that imported any. With
    ``outputs``, append ``[label, text]`` for each cell that printed (what Python code
    wrote to ``sys.stdout``/``sys.stderr``, at most ``OUTPUT_CHARS`` per cell)."""
    errors, imports = [], {}
    for label, code in cells:
        captured, streams = _CellOutput(), (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = captured
        try:
            exec(_compiled(code, label, namespace), namespace)
        except BaseException as err:  # the student's SystemExit or KeyboardInterrupt too
            errors.append([label, type(err).__name__, str(err)[:MESSAGE_CHARS]])
        finally:
            sys.stdout, sys.stderr = streams
        if outputs is not None and captured.parts:
            outputs.append([label, "".join(captured.parts)])
        seen = watch.take() if watch else []
        if seen:
            imports[label] = seen
    return errors, imports


def _describe(value) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _sent_back(arg) -> dict:
    if type(arg) is dict:
        entries, refused = [], []
        for key, value in arg.items():
            try:
                if type(key) not in (str, int):
                    raise wire.NotPlainData(f"a key of type {type(key).__name__}")
                entries.append([key, wire.encode(value)])
            except wire.NotPlainData as err:
                refused.append([repr(key)[:100], str(err)[:200]])
        return {"entries": entries, "refused": refused}
    try:
        return {"value": wire.encode(arg)}
    except wire.NotPlainData as err:
        return {"refused": str(err)[:200]}


def answer(request: dict, namespace: dict, watch: ImportWatch | None = None) -> dict:
    """The reply to one ``get`` or ``call`` request."""
    name = request.get("name")
    if not isinstance(name, str) or name not in namespace:
        return {"kind": "missing"}
    value = namespace[name]
    if request.get("op") == "get":
        if callable(value):
            return {"kind": "callable"}
        try:
            return {"kind": "data", "value": wire.encode(value)}
        except wire.NotPlainData as err:
            return {"kind": "refused", "type": str(err)}
    args, kwargs = wire.decode(request.get("args", [])), wire.decode(request.get("kwargs", {}))
    if watch:
        watch.take()
    try:
        result = value(*args, **kwargs)
    except BaseException as err:
        return {"kind": "raise", "type": type(err).__name__, "message": str(err)[:MESSAGE_CHARS],
                "imported": watch.take() if watch else []}
    imported = watch.take() if watch else []
    try:
        encoded = wire.encode(result)
    except wire.NotPlainData as err:
        return {"kind": "refused", "type": str(err)}
    wanted = request.get("back") if isinstance(request.get("back"), list) else []
    back = {}
    for key in wanted:
        if isinstance(key, str) and key.isdigit() and int(key) < len(args):
            back[key] = _sent_back(args[int(key)])
        elif isinstance(key, str) and key in kwargs:
            back[key] = _sent_back(kwargs[key])
    return {"kind": "return", "value": encoded, "back": back, "imported": imported}


def main() -> None:
    fd_in, fd_out = _private_pipes()
    wire.send(fd_out, {"started": True})
    start = wire.receive(fd_in)
    cells = start.get("cells", [])
    watch = ImportWatch(start.get("watch") if isinstance(start.get("watch"), list) else [],
                        [label for label, _ in cells])
    watch.install()
    namespace = {"__name__": "__main__", "display": lambda *args, **kwargs: None}  # IPython's, muted
    outputs = []
    errors, imports = run_cells(cells, namespace, watch, outputs)
    wire.send(fd_out, {"ready": True, "errors": errors, "imports": imports, "outputs": outputs})
    while True:
        try:
            request = wire.receive(fd_in)
        except wire.WireClosed:
            return
        wire.send(fd_out, answer(request, namespace, watch))


if __name__ == "__main__":
    sys.exit(main())
