"""Grade students' notebooks: sandboxed student code, trusted tests, every grade kept.

For each submission (see ``restore`` for how cells are matched):

1. the student's side (answer cells, set-up cells, the student's own cells; never the
   tests) runs in a bubblewrap sandbox (``sandbox``, ``worker``);
2. the source's test cells, hidden parts included, run in a trusted judge process that
   reaches the student's names only as plain data and proxied calls (``judge``);
3. the row is merged into the grade sheet at once under a lock, and a Markdown
   feedback file is written (``sheet``).

A batch prepares the judge once (imports, set-up cells) and forks one judge per
submission, ``jobs`` at a time, so no test state passes between students. Whatever a
submission does (time out, exhaust memory, die, be unreadable), its own row records it
and the batch goes on; only the grader's own failures make :func:`grade_batch` report
an error.
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import io
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.grading import judge, offlimits, restore
from cnnlab.grading.sandbox import Worker
from cnnlab.grading.sheet import CellResult, GradeReport

UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """``"2G"`` -> 2147483648; plain numbers are bytes."""
    text = str(text).strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in UNITS else ""
    try:
        value = float(text[: len(text) - len(unit)])
    except ValueError:
        raise ValueError(f"{text!r} is not a size; write e.g. 2G, 512M or a number of bytes") from None
    return int(value * UNITS[unit])


@dataclass
class Options:
    timeout: float = 120            # seconds per test cell (and per call into the sandbox)
    max_time: float = 300           # wall-clock seconds per submission
    max_memory: int = 2 * 2**30     # bytes of address space of the student's side
    sandbox: bool = True


@dataclass
class Prepared:
    """What every submission is judged with: the source, its bytes and the set-up namespace."""
    path: Path
    cells: list
    digest: str
    base: dict = field(default_factory=dict)


def prepare(solution) -> Prepared:
    """Read the source, import what its tests import and run its set-up cells (trusted)."""
    path = Path(solution)
    data = path.read_bytes()
    cells = restore.load_source(path)
    base = {"__name__": "__main__"}
    if "torch" not in sys.modules:  # one thread per judge: jobs share the cores, and forks stay safe
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    for cell in cells:
        if cell.role == "test":
            for node in ast.walk(ast.parse(cell.source)):
                for alias in getattr(node, "names", []) if isinstance(node, (ast.Import, ast.ImportFrom)) else []:
                    with contextlib.suppress(ImportError):
                        importlib.import_module(node.module if isinstance(node, ast.ImportFrom) else alias.name)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in cells:
            if cell.role in ("setup", "judge-setup"):
                try:
                    exec(compile(cell.source, f"<{cell.grade_id}>", "exec"), base)
                except Exception as err:
                    raise ValueError(f"{path}: its set-up cell `{cell.grade_id}` fails in the grader "
                                     f"({type(err).__name__}: {err}); fix the source notebook") from err
    return Prepared(path, cells, hashlib.sha256(data).hexdigest(), base)


def student_name(submission: Path, solution: Path) -> str:
    """The submission's folder name when it has the source's file name, else its stem."""
    submission = submission.resolve()
    return submission.parent.name if submission.name == solution.name else submission.stem


def digest_of(prepared: Prepared, submission: Path) -> str:
    """A hash of the source and submission bytes (the re-run skip key)."""
    return hashlib.sha256(f"{prepared.digest}:".encode() + submission.read_bytes()).hexdigest()[:32]


def _run(prepared, path, program, options, include_hidden, whole_folder, deadline=None):
    """One sandboxed session, over by ``deadline`` (``time.monotonic()``; default
    ``--max-time`` from now): returns (outcomes, problems, cell errors)."""
    started = time.monotonic() if deadline is None else deadline - options.max_time
    workers = []

    def new_worker():
        workers.append(Worker(path, whole_folder=whole_folder, sandbox=options.sandbox, max_memory=options.max_memory,
                              max_seconds=max(1.0, started + options.max_time - time.monotonic())))
        return workers[-1]

    def restart(session):  # after a test ran past --timeout: a fresh worker for the next test
        workers.pop().kill()  # each worker is killed once: its pid may be reused after
        session.replace_worker(new_worker())
        with contextlib.suppress(judge.WorkerLost):
            session.start(program)

    session = judge.Session(new_worker(), started + options.max_time, options.timeout, prepared.cells)
    errors = []
    try:
        with contextlib.suppress(judge.WorkerLost):
            errors = session.start(program)
        outcomes = judge.run_tests(prepared.cells, prepared.base, session, options.timeout, include_hidden,
                                   restart, offlimits.program_findings(prepared.cells, program))
    finally:
        for worker in workers:
            worker.kill()
    problems = judge.problems(session, outcomes)
    if session.memory or any(e[1:2] == ["MemoryError"] for e in errors):
        problems.insert(0, "memory limit")
    return outcomes, problems, errors


def grade_one(prepared: Prepared, submission, options: Options = Options(), student: str | None = None) -> GradeReport:
    """Grade one submission in this process; never raises for anything the submission does."""
    path = Path(submission)
    student = student or student_name(path, prepared.path)
    tests = [c for c in prepared.cells if c.role == "test"]
    report = GradeReport(student, prepared.path.name)
    try:
        report.digest = digest_of(prepared, path)
        cells = restore.parse_notebook(path.read_bytes())
    except (OSError, restore.Unreadable) as err:
        reason = str(err) if isinstance(err, restore.Unreadable) else f"the notebook could not be read ({err})"
        report.tests = [CellResult(c.grade_id, 0.0, c.points, reason) for c in tests]
        report.status = "unreadable"
        return report
    program, edited = restore.student_program(prepared.cells, cells)
    whole_folder = path.name == prepared.path.name
    deadline = time.monotonic() + options.max_time  # the whole submission's, the visible-only rerun included
    outcomes, problems, errors = _run(prepared, path, program, options, True, whole_folder, deadline)
    if any(o.tainted for o in outcomes):
        clean, _, _ = _run(prepared, path, program, options, False, whole_folder, deadline)
        clean_messages = {o.grade_id: o.message for o in clean}
        for o in outcomes:
            if o.tainted:
                message = clean_messages.get(o.grade_id, "passed")
                told = message != "passed" and not message.startswith("not run")  # the rerun may run out of time
                o.message = message if told else "failed after a hidden test had run"
    report.tests = [CellResult(o.grade_id, o.points, o.max_points, o.message) for o in outcomes]
    report.notes = [f"`{label}` raised {kind}: {message[:300]}" for label, kind, message in errors[:20]]
    status = problems + (["test cell edited: " + ", ".join(edited)] if edited else [])
    report.status = "; ".join(status) or "ok"
    return report


def grade_notebook(submission_path, solution_path, *, student: str | None = None, timeout: float = 120,
                   max_time: float = 300, max_memory: int = 2 * 2**30, sandbox: bool = True) -> GradeReport:
    """Grade one submission against ``solution_path`` in this process (see :func:`grade_batch`)."""
    return grade_one(prepare(solution_path), submission_path, Options(timeout, max_time, max_memory, sandbox),
                     student)
