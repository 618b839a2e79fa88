"""The trusted side: run the source's test cells against a student's running worker.

Test cells run here, never in the sandbox, in one namespace that starts as a copy of
what the set-up cells (judge-side ones included) defined. Only *answer names* cross:
the names the source's answer cells define at top level (``restore.answer_names``,
found in the source, never in the submission). Before each cell, the answer names it
reads (found with ``ast``; with the names of student-side helper cells,
``restore.crossing_names``) are asked of the worker again: plain data is copied in, a
callable becomes a :class:`Proxy` whose calls travel as plain data, a missing name is
removed (``NameError``), and anything else fails the cell with a message saying why.
Every other name comes from the judge's own namespace or stays a ``NameError``. Every
reply is decoded by ``wire``'s strict decoder.

The judge owns its data: a call sends copies, and nothing comes back but the result,
except the arguments the source declares as mutated (``metadata.cnnlab.mutates``), whose
plain-data entries replace the judge's (a non-plain entry fails the call, named).

A test that runs past the per-test limit fails alone: the caller's ``restart`` gives
the session a fresh worker and the next test runs, while the submission's deadline
allows. An answer that uses an off-limits name (``offlimits``) scores 0 on every test
that reads its names (status ``off limits``).

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
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cnnlab.grading import offlimits, wire
from cnnlab.grading.restore import Cell, answer_names, crossing_names, parameters, split_test

MESSAGE_CHARS = 1500
HIDDEN_FAILED = "a hidden test failed"
LOST = {"timed out": "your notebook ran out of time",
        "test timed out": "an earlier test ran past the per-test time limit and there was no time left to restart",
        "kernel died": "your notebook's Python process died or broke the grader's protocol",
        "grader error": "the grader could not restart your notebook's process (not your notebook's fault)"}
STATUSES = ("passed", "failed", "hidden failed", "not run", "off limits", "grader error", "manual")


class WorkerLost(BaseException):
    """The worker timed out, died or broke the protocol; ``status`` says which.
    A BaseException, so that a test cell's ``except Exception`` cannot swallow it."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


class Session:
    """Requests to one worker, each within ``call_timeout`` s and before ``deadline``.

    ``lost`` is set once the worker cannot be used: ``"timed out"`` (the submission's
    deadline passed), ``"test timed out"`` (one test's limit passed), ``"kernel died"``.
    ``evidence`` collects :class:`offlimits.Finding` s from the worker's import reports."""

    def __init__(self, worker, deadline: float, call_timeout: float, source: list[Cell] = ()):
        self.worker, self.deadline, self.call_timeout = worker, deadline, call_timeout
        self.source = list(source)
        self.lost: str | None = None
        self.memory = False  # the student's code reported a MemoryError
        self.cell_deadline = deadline
        self.evidence: list[offlimits.Finding] = []
        self.outputs = None  # the ready reply's "outputs", untrusted (review.bounded_outputs reads them)

    def replace_worker(self, worker) -> None:
        """Use a fresh ``worker`` (the caller killed the old one); call :meth:`start` next."""
        self.worker, self.lost, self.cell_deadline = worker, None, self.deadline

    def _exchange(self, message: dict | None, deadline: float) -> dict:
        if self.lost:
            raise WorkerLost(self.lost)
        deadline = min(deadline, self.deadline)
        try:
            if message is not None:
                wire.send(self.worker.fd_in, message, deadline)
            return wire.receive(self.worker.fd_out, deadline)
        except TimeoutError:
            self.lost = "test timed out" if deadline < self.deadline else "timed out"
        except (wire.WireClosed, OSError):
            self.lost = "kernel died"
        raise WorkerLost(self.lost)

    def start(self, cells: list[tuple[str, str]]) -> list:
        """Send the student's program and wait (until the deadline) for it to have run;
        return the worker's list of cell errors. The worker watches for the source's
        off-limits names (``offlimits.watched``)."""
        reply = self._exchange({"cells": [list(c) for c in cells], "watch": offlimits.watched(self.source)},
                               self.deadline)
        errors = reply.get("errors")
        if reply.get("ready") is not True or not isinstance(errors, list):
            self.lost = "kernel died"
            raise WorkerLost(self.lost)
        imports = reply.get("imports") if isinstance(reply.get("imports"), dict) else {}
        for label, names in list(imports.items())[:100]:
            self.evidence += offlimits.from_worker(self.source, names, cell=label)
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


def _unsendable(name: str, args: tuple, kwargs: dict, params: list[str]) -> str:
    """Which argument (or dict entry) of a call cannot be sent, for the failure message."""
    for key, value in [*enumerate(args), *kwargs.items()]:
        label = params[key] if isinstance(key, int) and key < len(params) else key
        label = f"argument {label + 1}" if isinstance(label, int) else label
        entries = [(f"{label}[{k!r}]", v) for k, v in value.items()] if type(value) is dict else [(label, value)]
        for where, item in entries:
            try:
                wire.encode(item)
            except wire.NotPlainData as err:
                return f"the grader cannot send `{name}` {where}: it is {err}; only plain data crosses"
    return f"the grader cannot send `{name}` its arguments (a dict key that is not a str or int)"


def _copy_back(original, sent_back: dict, function: str, param: str) -> None:
    """Make ``original`` (the judge's argument ``param``) hold what the student's side
    sent back for it, in place; ``TypeError`` naming a non-plain value."""
    if "refused" in sent_back and not isinstance(sent_back.get("refused"), list):
        raise TypeError(f"`{function}` left {param} holding {str(sent_back['refused'])[:200]}; the grader copies "
                        f"{param} back only as plain data")
    if type(original) is dict:
        refused = sent_back.get("refused") if isinstance(sent_back.get("refused"), list) else []
        if refused:
            what = ", ".join(f"{param}[{str(k)[:60]}] ({str(t)[:100]})" for k, t in
                             (r if isinstance(r, list) and len(r) == 2 else ("?", "?") for r in refused[:5]))
            raise TypeError(f"`{function}` put values into {param} that are not plain data: {what}; store "
                            "numbers, strings, arrays, dtypes or lists/tuples/dicts of them")
        entries = wire.decode({"$dict": sent_back.get("entries")})
        original.clear()
        original.update(entries)
        return
    value = wire.decode(sent_back.get("value"))
    if type(original) is list and type(value) is list:
        original[:] = value
    elif isinstance(original, np.ndarray) and getattr(value, "shape", None) == original.shape:
        original[...] = value
    else:
        raise TypeError(f"`{function}` changed {param} into something of another type or shape")


class Proxy:
    """A student's function or class, called across the boundary with plain data.
    ``params`` are its parameter names in the source's ``def`` and ``mutated`` the ones
    the API changes in place (the only arguments whose updates come back)."""

    def __init__(self, session: Session, name: str, params: list[str] | None = None,
                 mutated: tuple[str, ...] = ()):
        self._session, self.__name__ = session, name
        self._params, self._mutated = params or [], mutated

    def __call__(self, *args, **kwargs):
        back = [str(i) for i, p in enumerate(self._params[:len(args)]) if p in self._mutated]
        back += [k for k in kwargs if k in self._mutated]
        try:
            message = {"op": "call", "name": self.__name__, "args": wire.encode(list(args)),
                       "kwargs": wire.encode(kwargs), "back": back}
        except wire.NotPlainData:
            raise TypeError(_unsendable(self.__name__, args, kwargs, self._params)) from None
        reply = self._session.request(message)
        kind = reply.get("kind")
        self._session.evidence += offlimits.from_worker(self._session.source, reply.get("imported"),
                                                        function=self.__name__)
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
            sent_back = reply.get("back") if isinstance(reply.get("back"), dict) else {}
            for key in back:
                original = args[int(key)] if key.isdigit() else kwargs[key]
                param = self._params[int(key)] if key.isdigit() else key
                if not isinstance(sent_back.get(key), dict):
                    raise TypeError(f"`{self.__name__}` did not send {param} back")
                _copy_back(original, sent_back[key], self.__name__, param)
        except (wire.NotPlainData, ValueError) as err:
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
    """One test (or manually graded) cell's result: ``message`` is "passed" or what the
    student may see; ``status`` is one of :data:`STATUSES`."""
    grade_id: str
    points: float
    max_points: float
    message: str
    hidden: bool = False      # failed in a hidden part
    tainted: bool = False     # a visible failure after hidden code had run
    status: str = "passed"
    timed_out: bool = False   # ran past the per-test limit
    off_limits: str = ""      # "conv_forward_naive uses cnnlab.reference" when scored 0 for that
    answers: set = field(default_factory=set)  # the answer names the cell reads


def _fetch(session: Session, names, namespace: dict, mutates: dict) -> str | None:
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
            namespace[name] = Proxy(session, name, *mutates.get(name, (None, ())))
        elif kind == "missing":
            namespace.pop(name, None)
        elif kind == "refused":
            return (f"`{name}` in your notebook is {str(reply.get('type'))[:200]}; tests read only plain "
                    "data (numbers, strings, lists/tuples/dicts, NumPy arrays, tensors) and call functions")
        else:
            raise WorkerLost("kernel died")
    return None


def _visible_message(err: BaseException, grade_id: str, code: str) -> str:
    line = next((frame.lineno for frame in reversed(traceback.extract_tb(err.__traceback__))
                 if frame.filename == f"<{grade_id}>"), None)
    text = f"{type(err).__name__}: {err}"[:MESSAGE_CHARS]
    if line is not None and 0 < line <= len(code.splitlines()):
        text += f" (test line {line}: `{code.splitlines()[line - 1].strip()[:200]}`)"
    return text


def declared_mutations(source: list[Cell]) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """function -> (its parameters in the source's ``def``, the ones it mutates)."""
    return {function: (parameters(cell.source, function) or [], params)
            for cell in source if cell.role == "answer" for function, params in cell.mutates}


def _off_limits(outcome: Outcome, findings, owners: dict[str, str]) -> None:
    """Score ``outcome`` 0 if it reads a name of an answer that has a finding."""
    hit = next((f for f in findings if any(owners.get(n) == f.grade_id for n in outcome.answers)), None)
    if hit and outcome.status != "manual":
        outcome.points, outcome.status, outcome.off_limits = 0.0, "off limits", hit.summary
        outcome.hidden = outcome.tainted = False
        outcome.message = (f"off limits: `{hit.function}` uses `{hit.name}`, which the exercise text forbids for "
                           f"this task ({hit.detail[:300]})")


def _blame_earlier(outcomes: list[Outcome]) -> None:
    """Append to a failed test which answer it calls whose own (first) test failed too."""
    own_test = {}
    for outcome in outcomes:
        for name in sorted(outcome.answers):
            own_test.setdefault(name, outcome)
    for outcome in outcomes:
        if outcome.status not in ("failed", "hidden failed"):
            continue
        culprits = sorted(n for n in outcome.answers if own_test[n] is not outcome
                          and own_test[n].status in ("failed", "hidden failed"))
        if culprits:
            names = ", ".join(f"`{n}`" for n in culprits)
            outcome.message += (f" (this test calls {names}, whose own test failed: fix that first)")


def _lost_in(outcome: Outcome, lost: WorkerLost, hidden: bool, cell_timeout: float) -> None:
    """The test fails because the worker was lost while it ran."""
    outcome.status, outcome.hidden = "failed", hidden
    which = "a hidden test" if hidden else "the test"
    if lost.status == "test timed out":
        outcome.timed_out = True
        outcome.message = f"{which} ran out of time: it ran past the per-test limit of {cell_timeout:g} s"
    else:
        outcome.message = f"{which} stopped: {LOST[lost.status]}"


def run_tests(source: list[Cell], base: dict, session: Session, cell_timeout: float,
              include_hidden: bool = True, restart: Callable[[Session], None] | None = None,
              findings: list[offlimits.Finding] = ()) -> list[Outcome]:
    """Run the source's test cells in order against ``session``; one Outcome per test
    cell and per manually graded cell, in source order.

    ``restart(session)``, when given, kills the session's worker and gives it a fresh one
    that has run the student's program (``Session.replace_worker``, ``Session.start``);
    it is called after a test runs past ``cell_timeout``; if it raises, the later tests
    get status ``grader error``. ``findings`` are the static off-limits findings
    (``offlimits.program_findings``); the worker's reports add more."""
    owners, crossing, mutates = answer_names(source), crossing_names(source), declared_mutations(source)
    namespace, outcomes, hidden_ran = dict(base), [], False
    for cell in (c for c in source if c.role in ("test", "manual")):
        outcome = Outcome(cell.grade_id, 0.0, cell.points, "passed")
        outcomes.append(outcome)
        if cell.role == "manual":
            outcome.status, outcome.message = "manual", "graded by your instructor"
            continue
        parts = [(hidden, code) for hidden, code in split_test(cell.source) if include_hidden or not hidden]
        names = set().union(set(), *(free_names(code) for _, code in parts))
        outcome.answers = {n for n in names if n in owners}
        wanted = {n for n in names if n in crossing}
        visible_names = set().union(set(), *(free_names(c) for h, c in parts if not h))
        _off_limits(outcome, [*findings, *session.evidence], owners)
        if outcome.status == "off limits":
            continue
        if session.lost == "test timed out" and restart is not None and time.monotonic() < session.deadline - 1:
            try:
                restart(session)
            except Exception:  # the grader's own failure (a sandbox that cannot start again), unless
                # the submission's own time ran out while the fresh worker was starting
                session.lost = "timed out" if time.monotonic() >= session.deadline - 1 else "grader error"
        if session.lost:
            outcome.status = "grader error" if session.lost == "grader error" else "not run"
            outcome.message = f"not run: {LOST[session.lost]}"
            continue
        session.cell_deadline = time.monotonic() + cell_timeout
        try:
            refused = _fetch(session, wanted, namespace, mutates)
        except WorkerLost as lost:
            _lost_in(outcome, lost, False, cell_timeout)
            continue
        if refused:
            hidden_only = not any(f"`{n}`" in refused for n in visible_names)
            outcome.message, outcome.hidden = (HIDDEN_FAILED, True) if hidden_only else (refused, False)
            outcome.status = "hidden failed" if hidden_only else "failed"
            outcome.tainted = not hidden_only and hidden_ran  # a type name can carry hidden inputs too
            continue
        for hidden, code in parts:
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    exec(compile(code, f"<{cell.grade_id}>", "exec"), namespace)
            except WorkerLost as lost:
                _lost_in(outcome, lost, hidden, cell_timeout)
                break
            except BaseException as err:  # noqa: B036 (a test's SystemExit is a failure too)
                outcome.hidden, outcome.tainted = hidden, (not hidden and hidden_ran)
                outcome.status = "hidden failed" if hidden else "failed"
                outcome.message = HIDDEN_FAILED if hidden else _visible_message(err, cell.grade_id, code)
                break
            finally:
                hidden_ran = hidden_ran or hidden
        else:
            outcome.points = cell.points
    for outcome in outcomes:
        _off_limits(outcome, [*findings, *session.evidence], owners)
    _blame_earlier(outcomes)
    return outcomes


def problems(session: Session, outcomes: list[Outcome]) -> list[str]:
    """The row status' parts this judgement adds: tests past the per-test limit, a lost
    worker, and each off-limits answer (``"off limits: conv_forward_naive uses
    cnnlab.reference"``)."""
    found = []
    timed_out = [o.grade_id for o in outcomes if o.timed_out]
    if timed_out:
        found.append("test timed out: " + ", ".join(timed_out))
    if session.lost == "grader error":
        found.append("grader error: the student's side could not be restarted after a test timed out")
    elif session.lost and session.lost != "test timed out":
        found.append(session.lost)
    return found + list(dict.fromkeys(f"off limits: {o.off_limits}" for o in outcomes if o.off_limits))
