"""The student's side of the grader: ``python -m cnnlab.grading.worker``, run in the sandbox.

It reads one message ``{"cells": [[label, code], ...]}`` from its stdin, runs the cells
in order in one namespace (errors are recorded and the next cell runs), answers
``{"ready": true, "errors": [[label, type, message], ...], "outputs": [[label, text], ...]}``,
then serves requests until its stdin closes:

- ``{"op": "get", "name": N}`` -> ``{"kind": "data", "value": V}`` (plain data, see
  ``wire``), ``{"kind": "callable"}``, ``{"kind": "missing"}`` or
  ``{"kind": "refused", "type": T}``;
- ``{"op": "call", "name": N, "args": [...], "kwargs": {...}}`` -> ``{"kind": "return",
  "value": V, "back": {position or keyword: V}}`` (lists, dicts and arrays passed in,
  copied back so in-place updates are seen), ``{"kind": "raise", "type": T, "message": M}``
  or ``{"kind": "refused", "type": T}``.

The student's own output never reaches the protocol: stdin, stdout and stderr are
replaced by ``/dev/null`` and the protocol uses private copies of the pipes; what a
cell prints through ``sys.stdout``/``sys.stderr`` is kept (bounded) and sent back in the
ready reply's ``outputs``, for the instructor's review copy. Everything here can be
subverted by the student's code; the judge trusts none of it.
"""
from __future__ import annotations

import os
import sys

import numpy as np

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


def run_cells(cells, namespace: dict, outputs: list | None = None) -> list[list[str]]:
    """Execute ``(label, code)`` cells; return ``[label, error type, message]`` per failure.
    With ``outputs``, append ``[label, text]`` for each cell that printed (what Python code
    wrote to ``sys.stdout``/``sys.stderr``, at most ``OUTPUT_CHARS`` per cell)."""
    errors = []
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
    return errors


def _describe(value) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def answer(request: dict, namespace: dict) -> dict:
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
    try:
        result = value(*args, **kwargs)
    except BaseException as err:
        return {"kind": "raise", "type": type(err).__name__, "message": str(err)[:MESSAGE_CHARS]}
    try:
        encoded = wire.encode(result)
    except wire.NotPlainData as err:
        return {"kind": "refused", "type": str(err)}
    back = {}
    for key, arg in [*enumerate(args), *kwargs.items()]:
        if type(arg) in (list, dict) or isinstance(arg, np.ndarray):
            try:
                back[str(key)] = wire.encode(arg)
            except wire.NotPlainData:
                pass
    return {"kind": "return", "value": encoded, "back": back}


def main() -> None:
    fd_in, fd_out = _private_pipes()
    cells = wire.receive(fd_in).get("cells", [])
    namespace = {"__name__": "__main__", "display": lambda *args, **kwargs: None}  # IPython's, muted
    outputs = []
    errors = run_cells(cells, namespace, outputs)
    wire.send(fd_out, {"ready": True, "errors": errors, "outputs": outputs})
    while True:
        try:
            request = wire.receive(fd_in)
        except wire.WireClosed:
            return
        wire.send(fd_out, answer(request, namespace))


if __name__ == "__main__":
    sys.exit(main())
