"""``cnnlab report``: one self-contained HTML page (``index.html``) and its PNGs for a class.

Per set: the score distribution, each test's pass rate (hardest first), status counts,
the slowest submissions, every student's score (after overrides and the late penalty),
manually graded answers with their text for hand grading, and answer similarity between
students and against the course's own references. The page loads nothing from outside
(no script, no font, no CDN; a Content-Security-Policy forbids it) and every string that
comes from a sheet or a submission is HTML-escaped.
"""
from __future__ import annotations

import html
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from cnnlab.classroom import answers, figures, similarity
from cnnlab.classroom.adjust import Adjusted, LatePolicy
from cnnlab.notebooks import write_text_atomically

TEMPLATE = Path(__file__).with_name("report.html")
SLOWEST = 10
SIDE_BY_SIDE = 50   # side-by-side views per list (the most alike first); the table lists every match


def e(value) -> str:
    """HTML-escape anything shown on the page (quotes too)."""
    return html.escape(str(value), quote=True)


@dataclass
class SetData:
    """One set's rows and, when found, its source and the students' answer texts."""
    notebook: str
    rows: list[Adjusted]
    source: answers.SetSource | None = None
    texts: dict[str, str] = field(default_factory=dict)          # student -> answer cells joined
    manual: dict[str, dict[str, str]] = field(default_factory=dict)  # student -> grade_id -> text


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f'<th scope="col"{" class=num" if i in numeric else ""}>{e(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{cell}</td>'
                                    for i, cell in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(name: str, alt: str) -> str:
    return f'<figure><img src="{e(name)}" alt="{e(alt)}"><figcaption class="muted">{e(alt)}</figcaption></figure>'


def _tests_of(data: SetData) -> list[str]:
    """Test grade_ids in source order: the source's, else the order the sheet recorded."""
    if data.source:
        return data.source.test_ids
    ids: list[str] = []
    for adjusted in data.rows:
        for t in adjusted.tests or []:
            if t.status != "manual" and t.grade_id not in ids:
                ids.append(t.grade_id)
    return ids


def _pass_rates(data: SetData) -> list[tuple[str, float, int, int]]:
    """(grade_id, rate, passed, recorded) per test, hardest first; recorded 0: not in the sheet."""
    rates = []
    for grade_id in _tests_of(data):
        results = [t for a in data.rows for t in a.tests or [] if t.grade_id == grade_id]
        passed = sum(t.points >= t.max_points for t in results)
        rates.append((grade_id, passed / len(results) if results else 0.0, passed, len(results)))
    return sorted(rates, key=lambda r: (r[3] == 0, r[1], r[0]))


def _students(data: SetData) -> str:
    rows = []
    for a in sorted(data.rows, key=lambda a: a.row.student):
        changes = [f"{o.test or 'whole set'}: {o.points:g} ({o.comment})" for o in a.overrides]
        late = (f"-{a.late_penalty:g} ({a.late_hours:.1f} h late)" if a.late_hours else a.late_note)
        rows.append([e(a.row.student), f"{a.score:g} / {a.max_score:g}", f"{a.row.score:g}",
                     "<br>".join(map(e, changes)), e(late), e(a.row.status), e(a.row.submitted_at)])
    return _table(["student", "score", "graded", "overrides", "late", "status", "submitted"], rows, {1, 2})


def _manual(data: SetData) -> str:
    if not data.source or not data.source.manual_ids:
        return ""
    parts = ["<h3>Answers to grade by hand</h3><p class=muted>Points come only from the overrides file "
             "(student,set,test,points,comment).</p>"]
    for grade_id in data.source.manual_ids:
        rows = []
        for a in sorted(data.rows, key=lambda a: a.row.student):
            test = next((t for t in a.tests or [] if t.grade_id == grade_id), None)
            given = next((o for o in a.overrides if o.test == grade_id), None)
            text = data.manual.get(a.row.student, {}).get(grade_id)
            rows.append([e(a.row.student), f"<pre>{e(text)}</pre>" if text is not None else "(no text found)",
                         (f"{given.points:g} / {test.max_points:g}: {e(given.comment)}" if given and test
                          else f"not graded yet (of {test.max_points:g})" if test else "not graded yet")])
        parts.append(f"<h4>{e(grade_id)}</h4>" + _table(["student", "answer", "points"], rows))
    return "".join(parts)


def _side_by_side(match: similarity.Match, text_a: str, text_b: str, template: list[str]) -> str:
    """Both texts line by line, matching lines highlighted (lines of the template never are)."""
    given = {line.strip() for text in template for line in text.splitlines() if line.strip()}

    def column(name, text, spans):
        marked = similarity.marked_lines(text, spans)
        lines = "".join(f'<span class="{"hit" if hit and line.strip() not in given else "line"}">'
                        f'{e(line) or " "}</span>' for line, hit in marked)
        return f"<div><strong>{e(name)}</strong><pre>{lines}</pre></div>"
    return (f"<details><summary>matching lines of {e(match.a)} and {e(match.b)}</summary><div class=side>"
            f"{column(match.a, text_a, match.a_spans)}{column(match.b, text_b, match.b_spans)}</div></details>")


def _more(listed: int) -> str:
    return (f"<p class=muted>Side-by-side views of the {SIDE_BY_SIDE} most alike of {listed}; the table lists "
            "them all.</p>" if listed > SIDE_BY_SIDE else "")


def _similarity(data: SetData, references: dict[str, str], threshold: float) -> str:
    if not data.texts:
        return ("<h3>Answer similarity</h3><p class=muted>Not computed: give --submissions (the students' "
                "notebooks) to compare answers.</p>")
    template = answers.template_texts(data.source) if data.source else []
    pairs = similarity.similar_pairs(data.texts, template, threshold)
    refs = dict(references)
    if data.source:
        refs[f"solution {data.notebook}"] = answers.joined(data.source.solution, data.source.answer_ids)
    to_refs = similarity.against_references(data.texts, refs, template, threshold)
    parts = [f"<h3>Answer similarity</h3><p class=muted>{len(data.texts)} students' answer cells compared "
             f"(winnowed fingerprints, copydetect; k={similarity.NOISE}, guarantee={similarity.GUARANTEE}, "
             f"listed at {100 * threshold:.0f}% or more; the exercise's template "
             f"{'excluded' if template else 'not excluded: no --solutions'}).</p>"]
    if pairs:
        parts.append(_table(["student A", "student B", "A found in B", "B found in A"],
                            [[e(m.a), e(m.b), f"{100 * m.a_share:.0f}%", f"{100 * m.b_share:.0f}%"] for m in pairs],
                            {2, 3}))
        parts += [_side_by_side(m, data.texts[m.a], data.texts[m.b], template) for m in pairs[:SIDE_BY_SIDE]]
        parts.append(_more(len(pairs)))
    else:
        parts.append("<p>No pair of students above the threshold.</p>")
    parts.append("<h4>Against the course's references</h4>")
    if to_refs:
        parts.append(_table(["student", "reference", "student's answer found in it", "reference found in answer"],
                            [[e(m.a), e(m.b), f"{100 * m.a_share:.0f}%", f"{100 * m.b_share:.0f}%"] for m in to_refs],
                            {2, 3}))
        parts += [_side_by_side(m, data.texts[m.a], refs[m.b], template) for m in to_refs[:SIDE_BY_SIDE]]
        parts.append(_more(len(to_refs)))
    else:
        parts.append("<p>No answer above the threshold against cnnlab.reference or the solution.</p>")
    return "".join(parts)


def _set_section(index: int, data: SetData, out: Path, references: dict[str, str], threshold: float) -> str:
    stem = Path(data.notebook).stem
    scores = [a.score for a in data.rows]
    max_score = max((a.max_score for a in data.rows), default=0)
    parts = [f'<section class=set id="set-{index}"><h2>{e(stem)}</h2>',
             f"<p>{len(data.rows)} students; mean {statistics.fmean(scores):.1f}, median "
             f"{statistics.median(scores):g} of {max_score:g}.</p><div class=figures>"]
    name = f"set{index}-scores.png"
    parts.append(_figure(name, figures.score_histogram(scores, max_score, stem, out / name)))
    rates = _pass_rates(data)
    recorded = [(gid, rate) for gid, rate, _, n in rates if n]
    if recorded:
        name = f"set{index}-tests.png"
        parts.append(_figure(name, figures.pass_rates(recorded, stem, out / name)))
    statuses = Counter(t.status for a in data.rows for t in a.tests or [])
    submissions = Counter(a.row.status.split(":")[0] for a in data.rows)
    name = f"set{index}-status.png"
    parts.append(_figure(name, figures.status_counts(dict(submissions.most_common()), stem, out / name)))
    parts.append("</div><h3>Tests, hardest first</h3>")
    parts.append(_table(["test", "passed", "pass rate"],
                        [[e(gid), f"{p} of {n}" if n else "not recorded in the sheet",
                          f"{100 * r:.0f}%" if n else "unknown"] for gid, r, p, n in rates], {1, 2}))
    if statuses:
        parts.append("<h3>Test results by status</h3>" + _table(
            ["status", "test results"], [[e(s), str(c)] for s, c in statuses.most_common()], {1}))
    timed = sorted((a for a in data.rows if a.row.seconds is not None), key=lambda a: -a.row.seconds)[:SLOWEST]
    parts.append("<h3>Slowest submissions</h3>" + (_table(
        ["student", "seconds", "status"], [[e(a.row.student), f"{a.row.seconds:.1f}", e(a.row.status)] for a in timed],
        {1}) if timed else "<p class=muted>The sheet has no grading times (an old sheet).</p>"))
    parts.append("<h3>Students</h3>" + _students(data))
    parts.append(_manual(data))
    parts.append(_similarity(data, references, threshold))
    parts.append("</section>")
    return "".join(parts)


def collect(rows: list[Adjusted], submissions: str | None, solutions: str | None) -> list[SetData]:
    """Group rows by set and read what the sources and submissions hold for each. A row's
    submission is the file its ``submission`` column names (any layout, nbgrader's too),
    else the file ``cnnlab grade`` would name after the student."""
    by_set: dict[str, list[Adjusted]] = {}
    for adjusted in rows:
        by_set.setdefault(adjusted.row.notebook, []).append(adjusted)
    files = answers.submission_files(submissions) if submissions else []
    sets = []
    for notebook, set_rows in sorted(by_set.items()):
        data = SetData(notebook, set_rows)
        solution = Path(solutions) / notebook if solutions else None
        if solution is not None and solution.is_file():
            data.source = answers.load_set_source(solution)
        if files and data.source:
            located = answers.locate(files, notebook)
            for adjusted in set_rows:
                path = (answers.by_recorded_path(files, adjusted.row.submission)
                        or located.get(adjusted.row.student))
                if path is None:
                    continue
                cells = answers.cell_texts(path, data.source.answer_ids + data.source.manual_ids)
                data.texts[adjusted.row.student] = answers.joined(cells, data.source.answer_ids)
                data.manual[adjusted.row.student] = {g: cells[g] for g in data.source.manual_ids if g in cells}
        sets.append(data)
    return sets


def write_report(rows: list[Adjusted], out, *, submissions: str | None = None, solutions: str | None = None,
                 notes: list[str] = (), policy: LatePolicy | None = None,
                 threshold: float = similarity.THRESHOLD) -> Path:
    """Write ``out/index.html`` and its PNGs; return the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sets = collect(rows, submissions, solutions)
    references = answers.reference_sources()
    notes = list(notes)
    if policy:
        notes.append("Late penalty: " + policy.describe() + ".")
    if submissions and not solutions:
        notes.append("No --solutions: answer cells cannot be found, so answer similarity and hand-graded "
                     "answers are left out.")
    nav = "".join(f'<li><a href="#set-{i}">{e(Path(s.notebook).stem)}</a> ({len(s.rows)} students)</li>'
                  for i, s in enumerate(sets))
    body = [f"<nav><ul>{nav}</ul></nav>"]
    if notes:
        body.append("<h2>Notes</h2><ul class=notes>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    body += [_set_section(i, s, out, references, threshold) for i, s in enumerate(sets)]
    page = Template(TEMPLATE.read_text(encoding="utf-8")).substitute(title="cnnlab class report", body="".join(body))
    index = out / "index.html"
    write_text_atomically(index, page)
    return index
