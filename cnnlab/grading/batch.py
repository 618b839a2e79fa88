"""Grade many submissions: one forked judge per submission, ``jobs`` at a time.

The parent prepares the judge once (``grade.prepare``: imports and set-up cells), then
forks a child per submission; the child grades it (``grade.grade_one``) and sends the
report back as JSON over a pipe. Each row is written to the sheet the moment it
arrives. A child that exceeds twice the time limit (plus a minute) is killed and its
student gets a "grader error" row; only such failures of the grader itself make the
batch report an error.
"""
from __future__ import annotations

import json
import os
import select
import signal
import time
from dataclasses import asdict
from pathlib import Path

from cnnlab.grading import sheet
from cnnlab.grading.grade import Options, Prepared, digest_of, grade_one, prepare, student_name
from cnnlab.grading.sheet import CellResult, GradeReport


def select_shard(submissions: list, shard: tuple[int, int] | None) -> list:
    """Shard ``K/N`` (1 <= K <= N) takes every N-th submission of the sorted list, from the K-th."""
    ordered = sorted(submissions, key=str)
    if shard is None:
        return ordered
    k, n = shard
    return ordered[k - 1::n]


def _report_from_json(data: bytes) -> GradeReport:
    raw = json.loads(data)
    raw["tests"] = [CellResult(**t) for t in raw["tests"]]
    return GradeReport(**raw)


def _start(prepared: Prepared, path: Path, options: Options) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the judge child: grade, send the report, leave without cleanup handlers
        code = 1
        try:
            os.close(read_fd)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            data = json.dumps(asdict(grade_one(prepared, path, options))).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _failed(prepared: Prepared, path: Path, why: str) -> GradeReport:
    return GradeReport(student_name(path, prepared.path), prepared.path.name,
                       [CellResult(c.grade_id, 0.0, c.points, f"not graded: {why}")
                        for c in prepared.cells if c.role == "test"], status=f"grader error: {why}")


def grade_batch(submissions, solution, out, feedback=None, options: Options = Options(), jobs: int = 1,
                force: bool = False, shard=None, log=print) -> list[GradeReport]:
    """Grade ``submissions`` against ``solution``, merging each row into ``out`` as it comes;
    return the reports of this run (skipped, unchanged submissions are not graded again)."""
    prepared = prepare(solution)
    existing = sheet.read_rows(out)
    queue = []
    for path in map(Path, select_shard(list(submissions), shard)):
        row = existing.get((student_name(path, prepared.path), prepared.path.name))
        if not force and row and path.is_file() and row.get("digest") == digest_of(prepared, path):
            log(f"{row['student']}: unchanged since it was graded ({row['score']} / {row['max_score']}); "
                "--force grades it again")
            continue
        queue.append(path)
    running, reports, limit = {}, [], 2 * options.max_time + 60
    while queue or running:
        while queue and len(running) < max(1, jobs):
            path = queue.pop(0)
            pid, fd = _start(prepared, path, options)
            running[fd] = (pid, path, time.monotonic(), bytearray())
        ready, _, _ = select.select(list(running), [], [], 1.0)
        for fd in list(running):
            pid, path, started, buffer = running[fd]
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
            except (ValueError, TypeError):
                report = None
            report = report or _failed(prepared, path, "the judge process failed" if chunk is not None
                                       else f"no result in {limit:g} s")
            sheet.write_grades([report], out, feedback)
            reports.append(report)
            log(f"{report.student}: {report.score:g} / {report.max_score:g}  ({report.status})")
    return reports


def summary(reports: list[GradeReport]) -> str:
    """A table of this run: one line per student, then counts per status."""
    if not reports:
        return "nothing graded in this run"
    width = max(len("student"), *(len(r.student) for r in reports))
    lines = [f"{'student':<{width}}  {'score':>11}  status", f"{'-' * width}  {'-' * 11}  ------"]
    lines += [f"{r.student:<{width}}  {r.score:>5g} / {r.max_score:<3g}  {r.status}"
              for r in sorted(reports, key=lambda r: r.student)]
    statuses = {}
    for r in reports:
        statuses[r.status.split(":")[0]] = statuses.get(r.status.split(":")[0], 0) + 1
    lines.append(f"{len(reports)} graded: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    return "\n".join(lines)


def grader_failed(reports: list[GradeReport]) -> bool:
    """True when the grader itself failed on some submission."""
    return any(r.status.startswith("grader error") for r in reports)
