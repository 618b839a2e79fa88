"""The trusted side: run the source's test cells against a student's running worker.

Test cells run here, never in the sandbox, in one namespace that starts as a copy of
what the set-up cells defined. Before each cell, the names it reads but neither the
namespace nor the cell itself defines (found with ``ast``) are asked of the worker:
plain data is copied in, a callable becomes a :class:`Proxy` whose calls travel as plain
data, a missing name stays missing (``NameError``), and anything else fails the cell
with a message saying why. Every reply is decoded by ``wire``'s strict decoder.

A test cell is split at the hidden-test markers and its parts run in order; a cell
earns its points when every part passes. A failure in a hidden part is reported only
as "a hidden test failed". A visible failure that comes after hidden code already ran
against this worker is marked ``tainted``: the student's code may have kept hidden
inputs and put them into its error, so the caller gets that message from a
visible-only run instead.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import time
import traceback
from dataclasses import dataclass

from cnnlab.grading import wire
from cnnlab.grading.restore import Cell, split_test

MESSAGE_CHARS = 1500
HIDDEN_FAILED = "a hidden test failed"
LOST = {"timed out": "your notebook ran out of time",
        "kernel died": "your notebook's Python process died or broke the grader's protocol"}


class WorkerLost(BaseException):
    """The worker timed out, died or broke the protocol; ``status`` says which.
    A BaseException, so that a test cell's ``except Exception`` cannot swallow it."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


class Session:
    """Requests to one worker, each within ``call_timeout`` s and before ``deadline``."""

    def __init__(self, worker, deadline: float, call_timeout: float):
        self.worker, self.deadline, self.call_timeout = worker, deadline, call_timeout
        self.lost: str | None = None
        self.memory = False  # the student's code reported a MemoryError
        self.cell_deadline = deadline
        self.outputs = None  # the ready reply's "outputs", untrusted (review.bounded_outputs reads them)

    def _exchange(self, message: dict | None, deadline: float) -> dict:
        if self.lost:
            raise WorkerLost(self.lost)
        deadline = min(deadline, self.deadline)
        try:
            if message is not None:
                wire.send(self.worker.fd_in, message, deadline)
            return wire.receive(self.worker.fd_out, deadline)
        except TimeoutError:
            self.lost = "timed out"
        except (wire.WireClosed, OSError):
            self.lost = "kernel died"
        raise WorkerLost(self.lost)

    def start(self, cells: list[tuple[str, str]]) -> list:
        """Send the student's program and wait (until the deadline) for it to have run;
        return the worker's list of cell errors."""
        reply = self._exchange({"cells": [list(c) for c in cells]}, self.deadline)
        errors = reply.get("errors")
        if reply.get("ready") is not True or not isinstance(errors, list):
            self.lost = "kernel died"
            raise WorkerLost(self.lost)
        self.outputs = reply.get("outputs")
        return [[str(part)[:300] for part in e] for e in errors[:50] if isinstance(e, list) and len(e) == 3]

    def request(self, message: dict) -> dict:
        """One request; the reply is untrusted JSON (decode its values with ``wire``)."""
        return self._exchange(message, min(self.cell_deadline, time.monotonic() + self.call_timeout))


def _rebuilt_exception(kind, message) -> BaseException:
    kind, message = str(kind)[:100], str(message)[:MESSAGE_CHARS]
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:
            pass
    return RuntimeError(f"{kind}: {message}")


def _copy_back(original, value) -> None:
    """Make ``original`` (a list, dict or array argument) hold ``value``, in place."""
    try:
        if type(original) is list and type(value) is list:
            original[:] = value
        elif type(original) is dict and type(value) is dict:
            original.clear()
            original.update(value)
        elif hasattr(original, "shape") and getattr(value, "shape", None) == original.shape:
            original[...] = value
    except (TypeError, ValueError):
        pass


class Proxy:
    """A student's function or class, called across the boundary with plain data."""

    def __init__(self, session: Session, name: str):
        self._session, self.__name__ = session, name

    def __call__(self, *args, **kwargs):
        try:
            message = {"op": "call", "name": self.__name__, "args": wire.encode(list(args)),
                       "kwargs": wire.encode(kwargs)}
        except wire.NotPlainData as err:
            raise TypeError(f"`{self.__name__}` can only be given plain data by the grader, not {err}") from None
        reply = self._session.request(message)
        kind = reply.get("kind")
        if kind == "raise":
            self._session.memory |= reply.get("type") == "MemoryError"
            raise _rebuilt_exception(reply.get("type"), reply.get("message"))
        if kind == "refused":
            raise TypeError(f"`{self.__name__}` returned {str(reply.get('type'))[:200]}; the grader accepts "
                            "only plain data (numbers, strings, lists/tuples/dicts, NumPy arrays, tensors)")
        if kind == "missing":
            raise NameError(f"name '{self.__name__}' is no longer defined in your notebook")
        if kind != "return":
            raise WorkerLost("kernel died")
        try:
            result = wire.decode(reply.get("value"))
            back = reply.get("back") if isinstance(reply.get("back"), dict) else {}
            for key, value in back.items():
                original = args[int(key)] if key.isdigit() and int(key) < len(args) else kwargs.get(key)
                if original is not None:
                    _copy_back(original, wire.decode(value))
        except (wire.NotPlainData, ValueError, TypeError) as err:
            raise TypeError(f"`{self.__name__}` sent back something unreadable ({err})") from None
        return result


def free_names(code: str) -> set[str]:
    """Names that ``code`` reads but never binds at any level, minus builtins."""
    loaded, bound = set(), set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


@dataclass
class Outcome:
    """One test cell's result: ``message`` is "passed" or what the student may see."""
    grade_id: str
    points: float
    max_points: float
    message: str
    hidden: bool = False      # failed in a hidden part
    tainted: bool = False     # a visible failure after hidden code had run


def _fetch(session: Session, names, namespace: dict) -> str | None:
    """Put the worker's values of ``names`` into ``namespace``; a message for a refused one."""
    for name in sorted(names):
        reply = session.request({"op": "get", "name": name})
        kind = reply.get("kind")
        if kind == "data":
            try:
                namespace[name] = wire.decode(reply.get("value"))
            except (wire.NotPlainData, ValueError, TypeError) as err:
                return f"`{name}` in your notebook could not be read ({err})"
        elif kind == "callable":
            namespace[name] = Proxy(session, name)
        elif kind == "refused":
            return (f"`{name}` in your notebook is {str(reply.get('type'))[:200]}; tests read only plain "
                    "data (numbers, strings, lists/tuples/dicts, NumPy arrays, tensors) and call functions")
        elif kind != "missing":
            raise WorkerLost("kernel died")
    return None


def _visible_message(err: BaseException, grade_id: str, code: str) -> str:
    line = next((frame.lineno for frame in reversed(traceback.extract_tb(err.__traceback__))
                 if frame.filename == f"<{grade_id}>"), None)
    text = f"{type(err).__name__}: {err}"[:MESSAGE_CHARS]
    if line is not None and 0 < line <= len(code.splitlines()):
        text += f" (test line {line}: `{code.splitlines()[line - 1].strip()[:200]}`)"
    return text


def run_tests(source: list[Cell], base: dict, session: Session, cell_timeout: float,
              include_hidden: bool = True) -> list[Outcome]:
    """Run the source's test cells in order against ``session``; one Outcome per test cell."""
    namespace, outcomes, hidden_ran, fetched = dict(base), [], False, set()
    for cell in (c for c in source if c.role == "test"):
        outcome = Outcome(cell.grade_id, 0.0, cell.points, "passed")
        outcomes.append(outcome)
        if session.lost:
            outcome.message = f"not run: {LOST[session.lost]}"
            continue
        session.cell_deadline = time.monotonic() + cell_timeout
        parts = [(hidden, code) for hidden, code in split_test(cell.source) if include_hidden or not hidden]
        try:
            names = set().union(*(free_names(code) for _, code in parts)) - set(base)
            visible_names = set().union(set(), *(free_names(c) for h, c in parts if not h))
            wanted = {n for n in names if n not in namespace or n in fetched}
            fetched |= wanted
            refused = _fetch(session, wanted, namespace)
        except WorkerLost as lost:
            outcome.message = f"not run: {LOST[lost.status]}"
            continue
        if refused:
            hidden_only = not any(f"`{n}`" in refused for n in visible_names)
            outcome.message, outcome.hidden = (HIDDEN_FAILED, True) if hidden_only else (refused, False)
            outcome.tainted = not hidden_only and hidden_ran  # a type name can carry hidden inputs too
            continue
        for hidden, code in parts:
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    exec(compile(code, f"<{cell.grade_id}>", "exec"), namespace)
            except WorkerLost as lost:
                outcome.message = f"{'a hidden test' if hidden else 'the test'} stopped: {LOST[lost.status]}"
                outcome.hidden = hidden
                break
            except BaseException as err:  # noqa: B036 (a test's SystemExit is a failure too)
                outcome.hidden, outcome.tainted = hidden, (not hidden and hidden_ran)
                outcome.message = HIDDEN_FAILED if hidden else _visible_message(err, cell.grade_id, code)
                break
            finally:
                hidden_ran = hidden_ran or hidden
        else:
            outcome.points = cell.points
    return outcomes
