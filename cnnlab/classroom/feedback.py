"""``cnnlab feedback``: one file per student and set, ready to hand back.

``DIR/<student>/<set>.md`` (and ``.html`` with ``--html``: a self-contained page, every
string escaped) names the student and the set and lists each test with its points,
status and message, then the overrides with their comments, the late penalty and the
final score. The Markdown is the grader's own feedback (``report_from_row(row)
.feedback(extra_lines, title)``, the format ``cnnlab grade --feedback`` writes) for the
row with overridden test points, plus those adjustment lines; folders are named as the
grader names them (``feedback_path``). Messages are what the grader recorded for
students to see (never hidden tests' code or values).
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from cnnlab.classroom.adjust import Adjusted
from cnnlab.notebooks import write_text_atomically

from cnnlab.grading.sheet import feedback_path, report_from_row

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 1.5rem auto; padding: 0 1rem; }}
td, th {{ border: 1px solid #bbb; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }}
table {{ border-collapse: collapse; }}</style></head>
<body>{body}</body></html>
"""


def adjustment_lines(a: Adjusted) -> list[str]:
    """Markdown lines for what changed after grading: overrides, the late penalty, the final score."""
    lines = []
    if a.tests is None:
        lines.append(f"Per-test results were not recorded for this submission; its score was "
                     f"{a.row.score:g} / {a.row.max_score:g}.")
    for o in a.overrides:
        what = f"test `{o.test}` set to {o.points:g} points" if o.test else f"{o.points:+g} points on the set"
        lines.append(f"- Adjusted by your instructor: {what}" + (f": {o.comment}" if o.comment else ""))
    if a.late_penalty:
        lines.append(f"- Late penalty: -{a.late_penalty:g} points (submitted {a.row.submitted_at}, "
                     f"{a.late_hours:.1f} hours after the deadline)")
    elif a.late_note:
        lines.append(f"- {a.late_note}")
    if lines:
        lines += ["", f"**Final score: {a.score:g} / {a.max_score:g}**"]
    return lines


def _grader_row(a: Adjusted) -> dict:
    """The sheet row with the overridden test points, as the grader's sheet module reads rows."""
    tests = {t.grade_id: {"points": t.points, "max_points": t.max_points, "status": t.status, "message": t.message}
             for t in a.tests or []}
    return {"student": a.row.student, "notebook": a.row.notebook, "score": f"{a.before_penalty:g}",
            "max_score": f"{a.max_score:g}", "status": a.row.status, "digest": "", "graded_at": a.row.graded_at,
            "seconds": "" if a.row.seconds is None else f"{a.row.seconds:.1f}", "submitted_at": a.row.submitted_at,
            "submission": a.row.submission, "tests": json.dumps(tests) if a.tests is not None else ""}


def markdown(a: Adjusted) -> str:
    return report_from_row(_grader_row(a)).feedback(extra_lines=adjustment_lines(a), title=a.row.set_name)


def html_page(a: Adjusted) -> str:
    """The same content as a self-contained page; every string escaped."""
    e = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    title = f"{a.row.set_name}: feedback for {a.row.student}"
    body = [f"<h1>{e(title)}</h1>", f"<p>Set {e(a.row.notebook)}, student {e(a.row.student)}</p>",
            f"<p><strong>Score: {a.score:g} / {a.max_score:g}</strong></p>"]
    if a.row.status != "ok":
        body.append(f"<p>Grading status: {e(a.row.status)}</p>")
    if a.tests is not None:
        rows = "".join(f"<tr><td>{e(t.grade_id)}</td><td>{t.points:g} / {t.max_points:g}</td><td>{e(t.status)}</td>"
                       f"<td><pre>{e('' if t.message == 'passed' else t.message)}</pre></td></tr>" for t in a.tests)
        body.append("<table><thead><tr><th>test</th><th>points</th><th>status</th><th>message</th></tr></thead>"
                    f"<tbody>{rows}</tbody></table>")
    adjustments = [line.removeprefix("- ").replace("**", "") for line in adjustment_lines(a) if line]
    body += [f"<p>{e(line)}</p>" for line in adjustments]
    return PAGE.format(title=e(title), body="".join(body))


def write_feedback(rows: list[Adjusted], out, as_html: bool = False) -> list[Path]:
    """Write ``out/<student>/<set>.md`` (and ``.html``) for every row; return the paths."""
    written = []
    for a in rows:
        target = feedback_path(out, a.row.student, a.row.notebook, ".md")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(target, markdown(a))
        written.append(target)
        if as_html:
            write_text_atomically(target.with_suffix(".html"), html_page(a))
            written.append(target.with_suffix(".html"))
    return written
