"""The student's side of the grader: ``python -m cnnlab.grading.worker``, run in the sandbox.

It first sends ``{"started": true}`` (before any student code runs, so the grader can
tell a sandbox that never came up from a student's crash), then reads one message
``{"cells": [[label, code], ...]}`` from its stdin, runs the cells in order in one
namespace (errors are recorded and the next cell runs), answers
``{"ready": true, "errors": [[label, type, message], ...]}``, then serves requests
until its stdin closes:

- ``{"op": "get", "name": N}`` -> ``{"kind": "data", "value": V}`` (plain data, see
  ``wire``), ``{"kind": "callable"}``, ``{"kind": "missing"}`` or
  ``{"kind": "refused", "type": T}``;
- ``{"op": "call", "name": N, "args": [...], "kwargs": {...}}`` -> ``{"kind": "return",
  "value": V, "back": {position or keyword: V}}`` (lists, dicts and arrays passed in,
  copied back so in-place updates are seen), ``{"kind": "raise", "type": T, "message": M}``
  or ``{"kind": "refused", "type": T}``.

The student's own output goes nowhere: stdin, stdout and stderr are replaced by
``/dev/null`` and the protocol uses private copies of the pipes. Everything here can
be subverted by the student's code; the judge trusts none of it.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from cnnlab.grading import wire

MESSAGE_CHARS = 2000


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


def run_cells(cells, namespace: dict) -> list[list[str]]:
    """Execute ``(label, code)`` cells; return ``[label, error type, message]`` per failure."""
    errors = []
    for label, code in cells:
        try:
            exec(_compiled(code, label, namespace), namespace)
        except BaseException as err:  # the student's SystemExit or KeyboardInterrupt too
            errors.append([label, type(err).__name__, str(err)[:MESSAGE_CHARS]])
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
    wire.send(fd_out, {"started": True})
    cells = wire.receive(fd_in).get("cells", [])
    namespace = {"__name__": "__main__", "display": lambda *args, **kwargs: None}  # IPython's, muted
    wire.send(fd_out, {"ready": True, "errors": run_cells(cells, namespace)})
    while True:
        try:
            request = wire.receive(fd_in)
        except wire.WireClosed:
            return
        wire.send(fd_out, answer(request, namespace))


if __name__ == "__main__":
    sys.exit(main())
