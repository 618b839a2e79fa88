"""Read grade sheets and merge the shards of one class.

A sheet is ``grades.csv`` as ``cnnlab grade`` writes it, one row per (student, notebook),
columns ``student, notebook, score, max_score, status, digest, graded_at, seconds,
submitted_at, submission, tests`` (``tests``: a JSON object ``{grade_id: {"points",
"max_points", "status", "message"}}`` in source order). Older six-column sheets
(``student .. digest``) are read too: their rows have ``tests = None`` (per-test results
unknown), no times and no submission path.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from cnnlab.grading.sheet import NUMERIC_FIELDS, unneutralize

REQUIRED = ("student", "notebook", "score", "max_score", "status")


class SheetError(ValueError):
    """A sheet that cannot be used; the message names the file, the row and the fix."""


@dataclass
class TestResult:
    grade_id: str
    points: float
    max_points: float
    status: str   # passed, failed, hidden failed, not run, off limits, grader error, manual
    message: str


@dataclass
class Row:
    student: str
    notebook: str           # the source's file name, e.g. "01_perceptron.ipynb"
    score: float
    max_score: float
    status: str
    graded_at: str = ""     # UTC ISO-8601, "" in old sheets
    seconds: float | None = None
    submitted_at: str = ""  # UTC ISO-8601 or ""
    submission: str = ""
    tests: list[TestResult] | None = None  # None: the sheet did not record them
    sheet: str = ""         # the file this row came from

    @property
    def set_name(self) -> str:
        return Path(self.notebook).stem


def read_sheet_dicts(path) -> list[dict]:
    """The sheet's rows as dicts of text, in file order, spreadsheet neutralization undone as
    the grader's own reader does; unlike ``cnnlab.grading.sheet.read_rows`` (which fills
    missing columns) it refuses a CSV that is not a grade sheet."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise SheetError(f"{path}: not a grade sheet: no column(s) {', '.join(missing)} "
                             f"(found {reader.fieldnames}); pass the grades.csv that `cnnlab grade --out` wrote")
        return [{key: (value or "") if key in NUMERIC_FIELDS else unneutralize(value or "")
                 for key, value in row.items() if key is not None} for row in reader]


def _number(text: str, what: str, where: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise SheetError(f"{where}: {what} {text!r} is not a number") from None


def _tests(text: str, where: str) -> list[TestResult] | None:
    if not text:
        return None
    try:
        raw = json.loads(text)
        return [TestResult(str(gid), float(t["points"]), float(t["max_points"]), str(t.get("status", "")),
                           str(t.get("message", ""))) for gid, t in raw.items()]
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise SheetError(f"{where}: the tests column is not the JSON object cnnlab grade writes "
                         f"({type(err).__name__}: {err})") from None


def read_sheet(path) -> list[Row]:
    """The rows of one sheet; :class:`SheetError` naming the file and line if one is broken."""
    if not Path(path).is_file():
        raise SheetError(f"{path}: no such grade sheet; pass the file `cnnlab grade --out` wrote")
    rows = []
    for line, raw in enumerate(read_sheet_dicts(path), start=2):
        where = f"{path}, line {line}"
        seconds = raw.get("seconds") or ""
        rows.append(Row(raw["student"], raw["notebook"], _number(raw["score"], "score", where),
                        _number(raw["max_score"], "max_score", where), raw["status"],
                        raw.get("graded_at") or "", _number(seconds, "seconds", where) if seconds else None,
                        raw.get("submitted_at") or "", raw.get("submission") or "",
                        _tests(raw.get("tests") or "", where), str(path)))
    return rows


def merge_sheets(paths) -> tuple[list[Row], list[str]]:
    """All rows of ``paths`` keyed by (student, notebook), sorted; a row found in two sheets
    keeps the later ``graded_at`` (ties: the later sheet on the command line). Returns the
    rows and one note per duplicate saying which copy was kept."""
    kept: dict[tuple[str, str], Row] = {}
    notes = []
    for path in paths:
        for row in read_sheet(path):
            key = (row.student, row.notebook)
            old = kept.get(key)
            if old is not None:
                winner = row if row.graded_at >= old.graded_at else old
                loser = old if winner is row else row
                notes.append(f"{row.student} / {row.notebook} is in {old.sheet} and {row.sheet}: kept the one "
                             f"graded at {winner.graded_at or '(no time)'} from {winner.sheet} over "
                             f"{loser.graded_at or '(no time)'}")
                row = winner
            kept[key] = row
    return [kept[key] for key in sorted(kept)], notes
