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
import datetime
import hashlib
import importlib
import io
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from cnnlab.grading import intake, judge, restore, review
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
            if cell.role == "setup":
                try:
                    exec(compile(cell.source, f"<{cell.grade_id}>", "exec"), base)
                except Exception as err:
                    raise ValueError(f"{path}: its set-up cell `{cell.grade_id}` fails in the grader "
                                     f"({type(err).__name__}: {err}); fix the source notebook") from err
    return Prepared(path, cells, hashlib.sha256(data).hexdigest(), base)


def student_name(submission: Path, solution: Path) -> str:
    """The submission's folder name when it has the source's file name, else its stem,
    from the path as given (never the target of a link; see ``intake``)."""
    return intake.student_from_path(submission, Path(solution).name)


def digest_of(prepared: Prepared, submission: bytes | Path) -> str:
    """A hash of the source and the submission's bytes (the re-run skip key); a path is
    read with ``intake.read_submission``."""
    data = submission if isinstance(submission, bytes) else intake.read_submission(submission)
    return hashlib.sha256(f"{prepared.digest}:".encode() + data).hexdigest()[:32]


def _run(prepared, path, program, options, include_hidden, whole_folder, printed: dict | None = None):
    """One sandboxed session: returns (outcomes, problems, cell errors); ``printed``, if
    given, receives what each cell printed (``review.bounded_outputs``)."""
    worker = Worker(path, whole_folder=whole_folder, sandbox=options.sandbox,
                    max_memory=options.max_memory, max_seconds=options.max_time)
    started = time.monotonic()
    session = judge.Session(worker, started + options.max_time, options.timeout)
    errors = []
    try:
        with contextlib.suppress(judge.WorkerLost):
            errors = session.start(program)
        if printed is not None:
            printed.update(review.bounded_outputs(session.outputs))
        outcomes = judge.run_tests(prepared.cells, prepared.base, session, options.timeout, include_hidden)
    finally:
        worker.kill()
    problems = [session.lost] if session.lost else []
    if session.memory or any(e[1:2] == ["MemoryError"] for e in errors):
        problems.insert(0, "memory limit")
    return outcomes, problems, errors


def utc_now() -> str:
    """The current time as UTC ISO-8601 to the second, as the sheet writes it."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_title(cells) -> str:
    """The first Markdown heading of the source notebook's cells, without its ``#``s."""
    for cell in cells:
        if cell.kind == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#") and line.lstrip("#").strip():
                    return line.lstrip("#").strip()
    return ""


def _test_status(outcome) -> str:
    status = getattr(outcome, "status", "")  # judge.Outcome's own, where the judge sets it
    if status:
        return status
    if outcome.points >= outcome.max_points:
        return "passed"
    if outcome.message.startswith("not run"):
        return "not run"
    return "hidden failed" if outcome.hidden else "failed"


def in_source_order(prepared: Prepared, results: list[CellResult]) -> list[CellResult]:
    """``results`` plus one ``manual`` entry per manually graded answer cell (an answer
    cell with points, nbgrader's ``solution`` and ``grade``: 0 until an override), in the
    order of the source's cells."""
    manual = [CellResult(c.grade_id, 0.0, c.points, "graded by hand", "manual")
              for c in prepared.cells if c.role == "answer" and c.points > 0]
    order = {c.grade_id: index for index, c in enumerate(prepared.cells)}
    return sorted(results + manual, key=lambda r: order.get(r.grade_id, len(order)))


def unreadable(prepared: Prepared, submission: intake.Submission, reason: str,
               started: float | None = None, digest: str = "") -> GradeReport:
    """The report of a submission that could not be read: every test ``not run``, status
    ``unreadable: <reason>``."""
    tests = [CellResult(c.grade_id, 0.0, c.points, reason, "not run") for c in prepared.cells if c.role == "test"]
    seconds = 0.0 if started is None else time.monotonic() - started
    return GradeReport(submission.student, prepared.path.name, in_source_order(prepared, tests),
                       f"unreadable: {reason}", digest, graded_at=utc_now(), seconds=seconds,
                       submitted_at=submission.submitted_at, submission=str(submission.path),
                       title=set_title(prepared.cells))


def grade_one(prepared: Prepared, submission, options: Options = Options(), student: str | None = None) -> GradeReport:
    """Grade one submission (an ``intake.Submission``, or a path) in this process; never
    raises for anything the submission does. Its bytes are read once, with
    ``intake.read_submission``, unless the Submission already holds them."""
    started = time.monotonic()
    if not isinstance(submission, intake.Submission):
        submission = intake.Submission(Path(submission), student or student_name(Path(submission), prepared.path))
    elif student:
        submission = replace(submission, student=student)
    path = submission.path
    report = GradeReport(submission.student, prepared.path.name, submitted_at=submission.submitted_at,
                         submission=str(path), title=set_title(prepared.cells))
    try:
        data = submission.data if submission.data is not None else intake.read_submission(path)
        report.digest = digest_of(prepared, data)
        cells = restore.parse_notebook(intake.as_version_4(data))
    except restore.Unreadable as err:
        return unreadable(prepared, submission, str(err), started, report.digest)
    program, edited = restore.student_program(prepared.cells, cells)
    whole_folder = path.name == prepared.path.name
    printed = {}
    outcomes, problems, errors = _run(prepared, path, program, options, True, whole_folder, printed)
    report.executed = review.executed_copy(prepared.cells, cells, printed, errors)
    if any(o.tainted for o in outcomes):
        clean, _, _ = _run(prepared, path, program, options, False, whole_folder)
        clean_messages = {o.grade_id: o.message for o in clean}
        for o in outcomes:
            if o.tainted:
                message = clean_messages.get(o.grade_id, "passed")
                o.message = message if message != "passed" else "failed after a hidden test had run"
    report.tests = in_source_order(prepared, [CellResult(o.grade_id, o.points, o.max_points, o.message,
                                                          _test_status(o)) for o in outcomes])
    report.notes = [f"{label} raised {kind}: {message[:300]}" for label, kind, message in errors[:20]]
    status = problems + (["test cell edited: " + ", ".join(edited)] if edited else [])
    report.status = "; ".join(status) or "ok"
    report.graded_at, report.seconds = utc_now(), time.monotonic() - started
    return report


def grade_notebook(submission_path, solution_path, *, student: str | None = None, timeout: float = 120,
                   max_time: float = 300, max_memory: int = 2 * 2**30, sandbox: bool = True) -> GradeReport:
    """Grade one submission against ``solution_path`` in this process (see :func:`grade_batch`)."""
    return grade_one(prepare(solution_path), submission_path, Options(timeout, max_time, max_memory, sandbox),
                     student)
