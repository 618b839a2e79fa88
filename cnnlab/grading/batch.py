"""Grade many submissions: one forked judge per submission, ``jobs`` at a time.

The submissions are found first (``intake.discover``; two that map to one student stop
the batch before anything is graded). The parent prepares the judge once
(``grade.prepare``: imports and set-up cells); then, for each submission in turn, it
reads the bytes once (``intake.read_submission``: regular files within the cap only),
skips it if an earlier row has the same digest and is not the grader's failure, and
forks a child that grades those bytes (``grade.grade_one``) and sends the report back
as JSON over a pipe. Each row is written to the sheet the moment it arrives.

Whatever goes wrong for one student (an unreadable file, a child that crashes or
exceeds twice the time limit plus a minute, a feedback file or a row that cannot be
written) becomes that student's row, and the batch goes on; failures of the grader
itself are ``grader error: ...`` rows and make the batch report an error.
"""
from __future__ import annotations

import json
import os
import select
import signal
import time
from dataclasses import asdict

from cnnlab.grading import intake, restore, sheet
from cnnlab.grading.grade import (Options, Prepared, digest_of, grade_one, in_source_order, prepare, unreadable,
                                  utc_now)
from cnnlab.grading.sheet import CellResult, GradeReport, safe_text, terminal_text

GRADER_ERROR = "grader error"


def select_shard(submissions: list, shard: tuple[int, int] | None) -> list:
    """Shard ``K/N`` (1 <= K <= N) takes every N-th submission of the list sorted by
    path, from the K-th."""
    ordered = sorted(submissions, key=lambda s: str(getattr(s, "path", s)))
    if shard is None:
        return ordered
    k, n = shard
    return ordered[k - 1::n]


def _report_from_json(data: bytes) -> GradeReport:
    raw = json.loads(data)
    raw["tests"] = [CellResult(**t) for t in raw["tests"]]
    return GradeReport(**raw)


def _start(prepared: Prepared, submission: intake.Submission, options: Options) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the judge child: grade, send the report, leave without cleanup handlers
        code = 1
        try:
            os.close(read_fd)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                report = grade_one(prepared, submission, options)
            except Exception as err:  # a crash of the judge: the grader's failure, said in the row
                report = _failed(prepared, submission, f"the judge crashed ({type(err).__name__}: {err})"[:300])
            data = json.dumps(asdict(report)).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _failed(prepared: Prepared, submission: intake.Submission, why: str) -> GradeReport:
    tests = [CellResult(c.grade_id, 0.0, c.points, f"not graded: {why}", GRADER_ERROR)
             for c in prepared.cells if c.role == "test"]
    return GradeReport(submission.student, prepared.path.name, in_source_order(prepared, tests),
                       status=f"{GRADER_ERROR}: {why}", graded_at=utc_now(), submitted_at=submission.submitted_at,
                       submission=str(submission.path))


def _admit(prepared: Prepared, submission: intake.Submission, existing: dict, force: bool, log):
    """Read ``submission``'s bytes into it; return a finished report (unreadable),
    ``None`` to skip it (unchanged), or the submission to grade."""
    try:
        submission.data = intake.read_submission(submission.path)
    except restore.Unreadable as err:
        return unreadable(prepared, submission, str(err))
    row = existing.get((safe_text(submission.student), safe_text(prepared.path.name)))
    if (not force and row and not row["status"].startswith(GRADER_ERROR)
            and row["digest"] == digest_of(prepared, submission.data)):
        log(f"{terminal_text(row['student'])}: unchanged since it was graded ({row['score']} / "
            f"{row['max_score']}); --force grades it again")
        return None
    return submission


def _record(report: GradeReport, out, feedback, log) -> GradeReport:
    """Write ``report``'s row and feedback; a failure to write either becomes the row's
    status (the grader's error), and only a sheet that cannot be written at all raises."""
    try:
        if feedback is not None:
            sheet.write_feedback(report, feedback)
    except Exception as err:
        problem = f"{GRADER_ERROR}: the feedback file could not be written ({type(err).__name__}: {err})"
        report.status = problem + ("" if report.status == "ok" else f"; {report.status}")
    try:
        sheet.write_grades([report], out)
    except Exception as err:
        report = GradeReport(report.student, report.notebook,
                             [CellResult(t.grade_id, 0.0, t.max_points, "not recorded", GRADER_ERROR)
                              for t in report.tests],
                             f"{GRADER_ERROR}: the row could not be written ({type(err).__name__})",
                             graded_at=utc_now(), submission=report.submission)
        sheet.write_grades([report], out)
    log(f"{terminal_text(report.student)}: {report.score:g} / {report.max_score:g}  "
        f"({terminal_text(report.status)[:300]})")
    return report


def grade_batch(submissions, solution, out, feedback=None, options: Options = Options(), jobs: int = 1,
                force: bool = False, shard=None, log=print, layout: str = "default") -> list[GradeReport]:
    """Grade ``submissions`` (paths, or folders for ``layout="nbgrader"``; see ``intake``)
    against ``solution`` (a path, or the ``Prepared`` source when the caller has it already),
    merging each row into ``out`` as it comes; return the reports of this run (unchanged
    submissions are not graded again unless ``force``; rows that were the grader's failure
    always are). ``intake.Ambiguous`` before grading anything if two
    submissions map to one student."""
    prepared = solution if isinstance(solution, Prepared) else prepare(solution)
    found = intake.discover(submissions, prepared.path, layout, log=lambda line: log(terminal_text(line)))
    existing = sheet.rows_by_key(out)
    queue = select_shard(found, shard)
    running, reports, limit = {}, [], 2 * options.max_time + 60
    while queue or running:
        while queue and len(running) < max(1, jobs):
            admitted = _admit(prepared, queue.pop(0), existing, force, log)
            if isinstance(admitted, GradeReport):
                reports.append(_record(admitted, out, feedback, log))
            elif admitted is not None:
                pid, fd = _start(prepared, admitted, options)
                admitted.data = None
                running[fd] = (pid, admitted, time.monotonic(), bytearray())
        if not running:
            continue
        ready, _, _ = select.select(list(running), [], [], 1.0)
        for fd in list(running):
            pid, submission, started, buffer = running[fd]
            chunk = os.read(fd, 1 << 20) if fd in ready else None
            if chunk:
                buffer += chunk
                continue
            if chunk is None and time.monotonic() - started < limit:
                continue
            if chunk is None:
                os.kill(pid, signal.SIGKILL)
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            del running[fd]
            try:
                report = _report_from_json(bytes(buffer)) if status == 0 else None
            except (ValueError, TypeError, KeyError):
                report = None
            report = report or _failed(prepared, submission, "the judge process failed" if chunk is not None
                                       else f"no result in {limit:g} s")
            if report.seconds is None:
                report.seconds = time.monotonic() - started
            reports.append(_record(report, out, feedback, log))
    return reports


def summary(reports: list[GradeReport]) -> str:
    """A table of this run: one line per student, then counts per status."""
    if not reports:
        return "nothing graded in this run"
    names = {id(r): terminal_text(r.student) for r in reports}
    width = max(len("student"), *map(len, names.values()))
    lines = [f"{'student':<{width}}  {'score':>11}  status", f"{'-' * width}  {'-' * 11}  ------"]
    lines += [f"{names[id(r)]:<{width}}  {r.score:>5g} / {r.max_score:<3g}  {terminal_text(r.status)[:200]}"
              for r in sorted(reports, key=lambda r: names[id(r)])]
    statuses = {}
    for r in reports:
        kind = terminal_text(r.status.split(":")[0])
        statuses[kind] = statuses.get(kind, 0) + 1
    lines.append(f"{len(reports)} graded: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    return "\n".join(lines)


def grader_failed(reports: list[GradeReport]) -> bool:
    """True when the grader itself failed on some submission."""
    return any(r.status.startswith(GRADER_ERROR) or f"; {GRADER_ERROR}" in r.status for r in reports)
