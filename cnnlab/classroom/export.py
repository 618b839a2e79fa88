"""``cnnlab export``: one row per student, one column per set, for a gradebook import.

Formats (``set`` = the notebook's stem, e.g. ``01_perceptron``; scores after overrides
and the late penalty):

- ``wide``: ``student, <set>..., total``.
- ``canvas``: Canvas's gradebook CSV: ``Student, ID, SIS User ID, SIS Login ID, Section``,
  a second row ``Points Possible`` (the sets' maximum scores), then one column per set.
  A set's column is ``Name (assignment id)`` copied from the roster when the roster (Canvas's
  own gradebook export) already has that assignment, so the import updates it; otherwise
  the plain set name, which Canvas's import offers to create as a new assignment. No total
  column: Canvas computes totals itself, and an unknown ``Total`` column would become an
  assignment.
- ``moodle``: the identity columns of Moodle's grade export (``First name, Last name,
  ID number, Institution, Department, Email address`` or whichever the roster has), then
  one column per set; Moodle's "Import grades from CSV" maps a grade item to each set
  column and identifies users by one of these columns (Email address, ID number or
  username). Without a roster: ``Username`` and the set columns.

The roster is matched to the sheet's student names (submission folder names) on
``match`` (Canvas: ``SIS Login ID``; Moodle: ``Email address``). Every cell written is
neutralized for spreadsheets (OWASP: a leading ``'`` before ``= + - @``, tab or CR).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from cnnlab.classroom.adjust import Adjusted
from cnnlab.grading.sheet import FORMULA_STARTS
from cnnlab.notebooks import write_text_atomically

FORMATS = ("canvas", "moodle", "wide")
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Institution", "Department", "Email address", "Username"]
DEFAULT_MATCH = {"canvas": "SIS Login ID", "moodle": "Email address"}


class ExportError(ValueError):
    """A roster or option that cannot be used; the message says what to fix."""


def neutralize(cell) -> str:
    """A cell a spreadsheet will not run as a formula (numbers pass unchanged)."""
    if isinstance(cell, (int, float)):
        return f"{cell:g}"
    text = str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def read_roster(path) -> tuple[list[str], list[dict]]:
    """The LMS export's header and student rows (Canvas's ``Points Possible`` and other
    rows without a student are left out)."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"--roster {path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        rows = []
        for raw in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            if not any(row.values()) or (header and row.get(header[0]) == "Points Possible"):
                continue
            rows.append(row)
    return header, rows


def _assignment_column(stem: str, header: list[str]) -> str:
    """The roster's ``stem (id)`` column for this set, else ``stem``."""
    return next((h for h in header if h == stem or (h.startswith(stem + " (") and h.endswith(")"))), stem)


def build_table(rows: list[Adjusted], fmt: str, roster: tuple[list[str], list[dict]] | None = None,
                match: str | None = None) -> tuple[list[list], list[str]]:
    """The table to write (header first) and the warnings (names missing on either side)."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    sets = sorted({a.row.set_name for a in rows})
    scores: dict[str, dict[str, float]] = {}
    maxima: dict[str, float] = {}
    for a in rows:
        scores.setdefault(a.row.student, {})[a.row.set_name] = a.score
        maxima[a.row.set_name] = max(maxima.get(a.row.set_name, 0.0), a.max_score)
    students = sorted(scores)
    if fmt == "wide":
        table = [["student", *sets, "total"]]
        table += [[s, *(scores[s].get(k, "") for k in sets), sum(scores[s].values())] for s in students]
        return table, []
    match = match or DEFAULT_MATCH[fmt]
    warnings = []
    if roster is None:
        header = CANVAS_IDENTITY if fmt == "canvas" else ["Username"]
        key = "SIS Login ID" if fmt == "canvas" else "Username"
        people = [{key: s} for s in students]
        match = key
    else:
        header_all, people = roster
        if match not in header_all:
            raise ExportError(f"--match {match!r}: the roster has no such column (its columns: "
                              f"{', '.join(header_all)}); name the column holding the submission folder names")
        identity = CANVAS_IDENTITY if fmt == "canvas" else MOODLE_IDENTITY
        header = [c for c in identity if c in header_all] if fmt == "moodle" else identity
        header += [] if match in header else [match]
        on_roster = {p.get(match, "") for p in people}
        extra = [s for s in students if s not in on_roster]
        absent = [p.get(match, "") for p in people if p.get(match, "") not in scores]
        if extra:
            warnings.append(f"in the sheet but not in the roster (no row written): {', '.join(extra)}")
        if absent:
            warnings.append(f"in the roster without any submission (left blank): {', '.join(absent)}")
    columns = [_assignment_column(k, roster[0] if roster else []) for k in sets] if fmt == "canvas" else sets
    table = [[*header, *columns]]
    if fmt == "canvas":
        table.append(["Points Possible", *[""] * (len(header) - 1), *(maxima[k] for k in sets)])
    for person in people:
        student = person.get(match, "")
        table.append([*(person.get(c, "") for c in header), *(scores.get(student, {}).get(k, "") for k in sets)])
    return table, warnings


def write_export(table: list[list], out) -> None:
    """Write the table as CSV, every cell neutralized, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in table:
        writer.writerow([neutralize(cell) for cell in row])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out, buffer.getvalue())
