"""``cnnlab feedback``: one file per student and set, ready to hand back.

``DIR/<student>/<set>.md`` (and ``.html`` with ``--html``: a self-contained page, every
string escaped) names the student and the set and lists each test with its points,
status and message, the overrides with their comments, and the late penalty. It is
rendered from the sheet's row after overrides and the late penalty (:class:`Adjusted`),
since those are not part of the grader's own report. Messages are what the grader
recorded for students to see (never hidden tests' code or values).
"""
from __future__ import annotations

import html
from pathlib import Path

from cnnlab.classroom.adjust import Adjusted
from cnnlab.notebooks import write_text_atomically

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 1.5rem auto; padding: 0 1rem; }}
td, th {{ border: 1px solid #bbb; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }}
table {{ border-collapse: collapse; }}</style></head>
<body>{body}</body></html>
"""


class FeedbackError(ValueError):
    """A student name that cannot be a folder name."""


def _lines(a: Adjusted) -> list[tuple[str, object]]:
    """(kind, content) parts in order, both renderers format them; a test's content is
    (grade_id, points, status, message)."""
    parts = [("title", f"{a.row.set_name}: feedback for {a.row.student}"),
             ("score", f"Score: {a.score:g} / {a.max_score:g}")]
    if a.row.status != "ok":
        parts.append(("para", f"Grading status: {a.row.status}"))
    if a.tests is None:
        parts.append(("para", "Per-test results were not recorded for this submission."))
    for t in a.tests or []:
        message = "" if t.message in ("", "passed") else t.message
        parts.append(("test", (t.grade_id, f"{t.points:g} / {t.max_points:g}", t.status, message)))
    for o in a.overrides:
        what = f"test {o.test} set to {o.points:g} points" if o.test else f"{o.points:+g} points on the set"
        parts.append(("item", f"Adjusted by your instructor: {what}" + (f": {o.comment}" if o.comment else "")))
    if a.late_penalty:
        parts.append(("item", f"Late penalty: -{a.late_penalty:g} points (submitted {a.row.submitted_at}, "
                              f"{a.late_hours:.1f} hours after the deadline)"))
    elif a.late_note:
        parts.append(("item", a.late_note))
    return parts


def markdown(a: Adjusted) -> str:
    out = []
    for kind, text in _lines(a):
        if kind == "title":
            out += [f"# {text}", ""]
        elif kind in ("score", "para"):
            out += [text, ""]
        elif kind == "test":
            grade_id, points, status, message = text
            out.append(f"- `{grade_id}` ({points}): {status}" + (f": {message}" if message else ""))
        else:
            out.append(f"- {text}")
    return "\n".join(out).rstrip() + "\n"


def html_page(a: Adjusted) -> str:
    e = lambda s: html.escape(s, quote=True)  # noqa: E731
    body, tests, title = [], [], ""
    for kind, text in _lines(a):
        if kind == "title":
            title = text
            body.append(f"<h1>{e(text)}</h1>")
        elif kind in ("score", "para"):
            body.append(f"<p>{e(text)}</p>")
        elif kind == "test":
            tests.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in text) + "</tr>")
        else:
            body.append(f"<p>{e(text)}</p>")
    if tests:
        body.insert(2, "<table><thead><tr><th>test</th><th>points</th><th>status</th><th>message</th></tr></thead>"
                       f"<tbody>{''.join(tests)}</tbody></table>")
    return PAGE.format(title=e(title), body="".join(body))


def safe_folder(student: str) -> str:
    """The student's name as one folder name; :class:`FeedbackError` for one that is not."""
    if not student or student in (".", "..") or "/" in student or "\\" in student or "\0" in student:
        raise FeedbackError(f"student name {student!r} cannot be a folder name; rename the submission folder")
    return student


def write_feedback(rows: list[Adjusted], out, as_html: bool = False) -> list[Path]:
    """Write ``out/<student>/<set>.md`` (and ``.html``) for every row; return the paths."""
    folders = [safe_folder(a.row.student) for a in rows]   # refuse before writing anything
    written = []
    for a, name in zip(rows, folders):
        folder = Path(out) / name
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{a.row.set_name}.md"
        write_text_atomically(target, markdown(a))
        written.append(target)
        if as_html:
            write_text_atomically(target.with_suffix(".html"), html_page(a))
            written.append(target.with_suffix(".html"))
    return written
