"""A stand-in for the grader's sheet interface that ``cnnlab feedback`` uses, until the
grade sheet with per-test results (``cnnlab.grading.sheet``: ``report_from_row``,
``GradeReport.feedback(extra_lines, title)``, ``feedback_path``) is on this branch.
Once it is, ``feedback.py`` imports those and this module can be deleted.

Shapes: ``report_from_row(row: dict of str) -> report`` with ``.feedback(extra_lines,
title) -> Markdown str``; ``feedback_path(folder, student, notebook, suffix) -> Path``
inside ``folder``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path


def _code(text: str) -> str:
    text = str(text).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


@dataclass
class _Report:
    student: str
    notebook: str
    status: str
    tests: list[tuple[str, float, float, str, str]] = field(default_factory=list)  # id, points, max, status, message

    def feedback(self, extra_lines=(), title: str | None = None) -> str:
        score, top = sum(t[1] for t in self.tests), sum(t[2] for t in self.tests)
        lines = [f"# {title or Path(self.notebook).stem}", "",
                 f"Feedback for {_code(self.student)} on {_code(self.notebook)}", "", f"**Score: {score:g} / {top:g}**", ""]
        if self.status != "ok":
            lines += [f"Status: {_code(self.status)}", ""]
        for grade_id, points, max_points, status, message in self.tests:
            lines.append(f"- {_code(grade_id)}: {points:g} / {max_points:g}, {status}")
            if message and message != "passed":
                fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", message)), default=0) + 1)
                lines += ["", f"  {fence}text", *(f"  {line}" for line in message.splitlines()), f"  {fence}", ""]
        lines += ["", *extra_lines] if extra_lines else []
        return "\n".join(lines) + "\n"


def report_from_row(row: dict) -> _Report:
    tests = json.loads(row.get("tests") or "{}")
    return _Report(row["student"], row["notebook"], row.get("status") or "ok",
                   [(g, float(t["points"]), float(t["max_points"]), t.get("status", ""), t.get("message", ""))
                    for g, t in tests.items()])


def _component(name: str) -> str:
    text = re.sub(r"[^\w.,+=@~ -]", "_", name.replace("\\", "_")).strip().lstrip(".") or "_"
    return text[:120] if text == name else f"{text[:80]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def feedback_path(folder, student: str, notebook: str, suffix: str = ".md") -> Path:
    root = Path(os.path.abspath(folder))
    return root / _component(student) / f"{_component(Path(notebook).stem)}{suffix}"
