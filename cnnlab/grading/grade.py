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
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from cnnlab.grading import intake, judge, offlimits, restore, review
from cnnlab.grading.sandbox import SandboxUnavailable, Worker, WorkerUnstarted, size_text
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
    max_time: float = 300           # wall-clock seconds per submission, reruns included
    max_memory: int = 2 * 2**30     # bytes of the student's side: address space per process, and
                                    # its control group's memory (heap, tmpfs, shared memory, memfds)
    sandbox: bool = True


class SetupDoesNotFit(ValueError):
    """The source's set-up cells fail under the grading limits; the message says the
    measured need and how to change the limits."""


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
    """The submission's folder name when it has the source's file name, else its stem,
    from the path as given (never the target of a link; see ``intake``)."""
    return intake.student_from_path(submission, Path(solution).name)


def digest_of(prepared: Prepared, submission: bytes | Path) -> str:
    """A hash of the source and the submission's bytes (the re-run skip key); a path is
    read with ``intake.read_submission``."""
    data = submission if isinstance(submission, bytes) else intake.read_submission(submission)
    return hashlib.sha256(f"{prepared.digest}:".encode() + data).hexdigest()[:32]


def _not_graded(prepared: Prepared, why: str) -> list:
    return [judge.Outcome(c.grade_id, 0.0, c.points, f"not graded: {why}", status="grader error")
            for c in prepared.cells if c.role == "test"]


def _run(prepared, path, program, options, include_hidden, whole_folder, deadline,
         printed: dict | None = None):
    """One sandboxed session that ends by ``deadline`` (a ``time.monotonic()`` value):
    returns (outcomes, problems, cell errors). A test that runs past ``--timeout`` costs
    that test only: the worker is replaced by a fresh one that runs the program again.
    A sandbox that does not start, or a worker that dies before any student code ran, is
    the grader's problem (``grader error: ...``); a control group's OOM kill is ``memory limit``.
    ``printed``, if given, receives what each cell printed (``review.bounded_outputs``)."""
    workers, killed = [], []

    def new_worker():
        workers.append(Worker(path, whole_folder=whole_folder, sandbox=options.sandbox,
                              max_memory=options.max_memory, max_seconds=max(1.0, deadline - time.monotonic())))
        return workers[-1]  # started: it has sent its start signal

    def retire(worker):  # each worker is killed once: its pid may be reused after
        workers.remove(worker)
        worker.kill()
        killed.append(worker)

    def restart(session):  # after a test ran past --timeout: a fresh worker for the next test
        retire(session.worker)
        session.replace_worker(new_worker())
        with contextlib.suppress(judge.WorkerLost):
            session.start(program)

    errors = []
    try:
        session = judge.Session(new_worker(), deadline, options.timeout, prepared.cells)
        with contextlib.suppress(judge.WorkerLost):
            errors = session.start(program)
        if printed is not None:
            printed.update(review.bounded_outputs(session.outputs))
        outcomes = judge.run_tests(prepared.cells, prepared.base, session, options.timeout, include_hidden,
                                   restart, offlimits.program_findings(prepared.cells, program))
    except (OSError, SandboxUnavailable, WorkerUnstarted) as err:
        why = str(err) if isinstance(err, WorkerUnstarted) else f"the sandbox could not start ({err})"
        return _not_graded(prepared, why), [f"grader error: {why}"], []
    finally:
        for worker in list(workers):
            retire(worker)
    memory_killed = any(w.memory_killed for w in killed)
    problems = judge.problems(session, outcomes)
    if memory_killed and "kernel died" in problems:
        problems.remove("kernel died")
    if memory_killed or session.memory or any(e[1:2] == ["MemoryError"] for e in errors):
        problems.insert(0, "memory limit")
    return outcomes, problems, errors


def _setup_trial(prepared: Prepared, options: Options, max_memory: int) -> tuple[str | None, int | None]:
    """Run the source's set-up and helper cells alone in the sandbox with ``max_memory``:
    (None when they fit, else why; the peak memory in bytes where a control group says)."""
    program, _ = restore.student_program(prepared.cells, [])
    with tempfile.TemporaryDirectory(prefix="cnnlab-setup-") as folder:
        notebook = Path(folder, "setup.ipynb")
        notebook.write_text("{}")
        try:
            worker = Worker(notebook, whole_folder=False, sandbox=options.sandbox, max_memory=max_memory,
                            max_seconds=options.max_time)
        except (OSError, SandboxUnavailable, WorkerUnstarted) as err:
            return str(err) if isinstance(err, WorkerUnstarted) else f"the sandbox could not start ({err})", None
        session = judge.Session(worker, time.monotonic() + options.max_time, options.timeout)
        try:
            errors = session.start(program)
            failure = next((f"`{label}` raised {kind}: {message}" for label, kind, message in errors), None)
        except judge.WorkerLost as lost:
            failure = f"the worker {'ran out of time' if lost.status == 'timed out' else 'died'}"
        finally:
            worker.kill()
    if worker.memory_killed:
        failure = "the kernel killed it for memory"
    return failure, worker.peak_memory


def check_setup_fits(prepared: Prepared, options: Options, tries: int = 4) -> int | None:
    """Run the set-up cells once under ``options``' limits before anyone is graded; return
    their peak memory in bytes (None where not measured). Raise :class:`SetupDoesNotFit`
    when they fail, with the need measured by doubling the memory up to ``tries`` times."""
    failure, peak = _setup_trial(prepared, options, options.max_memory)
    if failure is None:
        return peak
    memory, fits = options.max_memory, False
    for _ in range(tries):
        memory *= 2
        retry, retry_peak = _setup_trial(prepared, options, memory)
        if retry is None:
            fits = True
            break
    name = prepared.path.name
    if not fits:
        raise SetupDoesNotFit(f"the set-up cells of {name} fail in the sandbox with --max-memory "
                              f"{size_text(options.max_memory)} and with {size_text(memory)} ({failure}); fix the "
                              "source or the environment (this is not about any student)")
    used = f", using at most {size_text(retry_peak)} (measured by its control group)" if retry_peak else ""
    raise SetupDoesNotFit(f"--max-memory {size_text(options.max_memory)} is too small for the set-up cells of "
                          f"{name} ({failure}); they need more: they ran with {size_text(memory)}{used}. Grade "
                          f"with --max-memory {memory // 2**20}M or more; nobody was graded.")


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
    present = {r.grade_id for r in results}  # the judge reports manual cells itself
    manual = [CellResult(c.grade_id, 0.0, c.points, "graded by hand", "manual")
              for c in prepared.cells if c.role == "manual" and c.grade_id not in present]
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
    deadline = started + options.max_time  # the whole submission's, the visible-only rerun included
    printed = {}
    outcomes, problems, errors = _run(prepared, path, program, options, True, whole_folder, deadline, printed)
    report.executed = review.executed_copy(prepared.cells, cells, printed, errors)
    if any(o.tainted for o in outcomes):
        clean, _, _ = _run(prepared, path, program, options, False, whole_folder, deadline)
        clean_messages = {o.grade_id: o.message for o in clean}
        for o in outcomes:
            if o.tainted:
                message = clean_messages.get(o.grade_id, "passed")
                told = message != "passed" and not message.startswith("not run")  # the rerun may run out of time
                o.message = message if told else "failed after a hidden test had run"
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
