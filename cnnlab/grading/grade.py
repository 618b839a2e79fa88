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
import importlib.metadata
import io
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.grading import judge, restore
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


def runtime_versions() -> dict[str, str]:
    """The versions grading runs with, e.g. ``{"python": "3.12.3", "numpy": "2.3.4",
    "torch": "2.13.0"}`` (the worker uses this same environment); "not installed" when absent."""
    versions = {"python": platform.python_version()}
    for package in ("numpy", "torch"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


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
    """The submission's folder name when it has the source's file name, else its stem."""
    submission = submission.resolve()
    return submission.parent.name if submission.name == solution.name else submission.stem


def digest_of(prepared: Prepared, submission: Path) -> str:
    """A hash of the source and submission bytes (the re-run skip key)."""
    return hashlib.sha256(f"{prepared.digest}:".encode() + submission.read_bytes()).hexdigest()[:32]


def _not_graded(prepared: Prepared, why: str) -> list:
    return [judge.Outcome(c.grade_id, 0.0, c.points, f"not graded: {why}")
            for c in prepared.cells if c.role == "test"]


def _run(prepared, path, program, options, include_hidden, whole_folder, deadline):
    """One sandboxed session that ends by ``deadline`` (a ``time.monotonic()`` value):
    returns (outcomes, problems, cell errors). A sandbox that does not start, or a worker
    that dies before any student code ran, is the grader's problem (``grader error: ...``);
    a control group's OOM kill is ``memory limit``."""
    try:
        worker = Worker(path, whole_folder=whole_folder, sandbox=options.sandbox,
                        max_memory=options.max_memory, max_seconds=deadline - time.monotonic())
    except (OSError, SandboxUnavailable, WorkerUnstarted) as err:
        why = str(err) if isinstance(err, WorkerUnstarted) else f"the sandbox could not start ({err})"
        return _not_graded(prepared, why), [f"grader error: {why}"], []
    session = judge.Session(worker, deadline, options.timeout)
    errors = []
    try:
        with contextlib.suppress(judge.WorkerLost):
            errors = session.start(program)
        outcomes = judge.run_tests(prepared.cells, prepared.base, session, options.timeout, include_hidden)
    finally:
        worker.kill()
    problems = [session.lost] if session.lost else []
    if worker.memory_killed and session.lost == "kernel died":
        problems = []
    if worker.memory_killed or session.memory or any(e[1:2] == ["MemoryError"] for e in errors):
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


def grade_one(prepared: Prepared, submission, options: Options = Options(), student: str | None = None) -> GradeReport:
    """Grade one submission in this process; never raises for anything the submission does."""
    path, started = Path(submission), time.monotonic()
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
    deadline = started + options.max_time
    outcomes, problems, errors = _run(prepared, path, program, options, True, whole_folder, deadline)
    if any(o.tainted for o in outcomes):
        clean, _, _ = _run(prepared, path, program, options, False, whole_folder, deadline)
        clean_messages = {o.grade_id: o.message for o in clean}
        for o in outcomes:
            if o.tainted:
                message = clean_messages.get(o.grade_id, "passed")
                o.message = message if message != "passed" else "failed after a hidden test had run"
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
