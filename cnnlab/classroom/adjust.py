"""Overrides and late penalties, applied to copies of a sheet's rows (never to the sheet).

Overrides file (CSV, UTF-8, a header row): ``student,set,test,points,comment``

- ``set``: the notebook's name (``01_perceptron.ipynb``) or its stem (``01_perceptron``);
- ``test``: a ``grade_id``: that test's points become ``points`` (0 <= points <= its
  max_points; this is how manually graded cells get their points); or empty / ``*``: a
  whole-set adjustment, ``points`` added to the score (negative to deduct);
- ``comment``: shown to the student in the feedback and to the instructor in the report.

Late penalty (``--deadline 2026-12-01T23:59:00Z`` with ``--late-penalty``), from the
sheet's ``submitted_at``:

- ``10/h``: 10 points per started hour late;
- ``0.1/day``: a tenth of the (overridden) score per started day late.

The penalty never takes a score below 0. A row without ``submitted_at`` gets none (the
report says so).
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from cnnlab.classroom.sheets import Row, TestResult

OVERRIDE_COLUMNS = ["student", "set", "test", "points", "comment"]


class AdjustError(ValueError):
    """A bad overrides file, deadline or penalty; the message says what and how to fix it."""


@dataclass(frozen=True)
class Override:
    student: str
    set_name: str      # stem, e.g. "01_perceptron"
    test: str          # grade_id, or "" for the whole set
    points: float
    comment: str
    line: int          # line in the overrides file


@dataclass(frozen=True)
class LatePolicy:
    deadline: datetime
    amount: float
    per: str           # "h": points per started hour; "day": fraction of the score per started day

    def describe(self) -> str:
        when = self.deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.per == "h":
            return f"deadline {when}; {self.amount:g} points per started hour late"
        return f"deadline {when}; {self.amount:g} of the score per started day late"


@dataclass
class Adjusted:
    """One row after overrides and the late penalty."""
    row: Row
    tests: list[TestResult] | None
    overrides: list[Override] = field(default_factory=list)
    set_adjustment: float = 0.0
    late_hours: float = 0.0          # hours after the deadline (0: on time or unknown)
    late_penalty: float = 0.0
    late_note: str = ""              # e.g. "no submission time recorded"

    @property
    def before_penalty(self) -> float:
        base = sum(t.points for t in self.tests) if self.tests is not None else self.row.score
        return max(0.0, base + self.set_adjustment)

    @property
    def score(self) -> float:
        return max(0.0, self.before_penalty - self.late_penalty)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests) if self.tests is not None else self.row.max_score


def parse_time(text: str, what: str) -> datetime:
    """ISO-8601 with a time zone (``2026-12-01T23:59:00Z`` or ``...+01:00``) -> aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise AdjustError(f"{what} {text!r} is not an ISO-8601 time; write e.g. 2026-12-01T23:59:00Z") from None
    if moment.tzinfo is None:
        raise AdjustError(f"{what} {text!r} has no time zone; add Z for UTC (2026-12-01T23:59:00Z) or an "
                          "offset such as +01:00")
    return moment.astimezone(timezone.utc)


def parse_late_policy(deadline: str | None, penalty: str | None) -> LatePolicy | None:
    """``--deadline`` and ``--late-penalty`` -> a policy, None if neither is given."""
    if deadline is None and penalty is None:
        return None
    if deadline is None or penalty is None:
        raise AdjustError("--deadline and --late-penalty go together; give both (e.g. --deadline "
                          "2026-12-01T23:59:00Z --late-penalty 10/h)")
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(h|day)\s*", penalty)
    if not match:
        raise AdjustError(f"--late-penalty {penalty!r}: write POINTS/h (points per started hour, e.g. 10/h) "
                          "or FRACTION/day (fraction of the score per started day, e.g. 0.1/day)")
    amount, per = float(match.group(1)), match.group(2)
    if per == "day" and not 0 < amount <= 1:
        raise AdjustError(f"--late-penalty {penalty!r}: a fraction per day must be above 0 and at most 1")
    return LatePolicy(parse_time(deadline, "--deadline"), amount, per)


def read_overrides(path) -> list[Override]:
    """The overrides file's rows; :class:`AdjustError` naming the line for a bad one."""
    path = Path(path)
    if not path.is_file():
        raise AdjustError(f"--overrides {path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if [c.strip() for c in reader.fieldnames or []][:5] != OVERRIDE_COLUMNS:
            raise AdjustError(f"{path}: the header must be {','.join(OVERRIDE_COLUMNS)} (found "
                              f"{','.join(reader.fieldnames or [])})")
        overrides = []
        for line, raw in enumerate(reader, start=2):
            raw = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if not raw["student"] or not raw["set"]:
                raise AdjustError(f"{path}, line {line}: student and set are required")
            try:
                points = float(raw["points"])
            except ValueError:
                raise AdjustError(f"{path}, line {line}: points {raw['points']!r} is not a number") from None
            if not math.isfinite(points):
                raise AdjustError(f"{path}, line {line}: points must be a finite number")
            test = "" if raw["test"] in ("", "*") else raw["test"]
            overrides.append(Override(raw["student"], Path(raw["set"]).stem if raw["set"].endswith(".ipynb")
                                      else raw["set"], test, points, raw["comment"], line))
    return overrides


def _late(adjusted: Adjusted, policy: LatePolicy) -> None:
    if not adjusted.row.submitted_at:
        adjusted.late_note = "no submission time recorded: no late penalty"
        return
    try:
        submitted = parse_time(adjusted.row.submitted_at, "submitted_at")
    except AdjustError as err:
        adjusted.late_note = f"{err}: no late penalty"
        return
    seconds = (submitted - policy.deadline).total_seconds()
    if seconds <= 0:
        return
    adjusted.late_hours = seconds / 3600
    if policy.per == "h":
        penalty = policy.amount * math.ceil(seconds / 3600)
    else:
        penalty = adjusted.before_penalty * min(1.0, policy.amount * math.ceil(seconds / 86400))
    adjusted.late_penalty = min(penalty, adjusted.before_penalty)


def apply(rows: list[Row], overrides: list[Override] = (), policy: LatePolicy | None = None) -> list[Adjusted]:
    """Rows with overrides and the late penalty applied; :class:`AdjustError` for an override
    that matches no row or test (a typo would otherwise change nothing, silently)."""
    by_key = {(r.student, r.set_name): Adjusted(r, None if r.tests is None else [replace(t) for t in r.tests])
              for r in rows}
    for o in overrides:
        adjusted = by_key.get((o.student, o.set_name))
        if adjusted is None:
            raise AdjustError(f"overrides line {o.line}: no row for student {o.student!r} and set {o.set_name!r} "
                              "in the sheet(s); check the spelling (set: the notebook's name or stem)")
        if not o.test:
            adjusted.set_adjustment += o.points
        else:
            if adjusted.tests is None:
                raise AdjustError(f"overrides line {o.line}: the sheet has no per-test results for "
                                  f"{o.student} / {o.set_name} (an old sheet); regrade, or use test '*' to "
                                  "adjust the whole set")
            test = next((t for t in adjusted.tests if t.grade_id == o.test), None)
            if test is None:
                known = ", ".join(t.grade_id for t in adjusted.tests)
                raise AdjustError(f"overrides line {o.line}: set {o.set_name!r} has no test {o.test!r} "
                                  f"(its tests: {known})")
            if not 0 <= o.points <= test.max_points:
                raise AdjustError(f"overrides line {o.line}: {o.points:g} points for {o.test!r}, which is worth "
                                  f"{test.max_points:g}; give 0 to {test.max_points:g}")
            test.points = o.points
        adjusted.overrides.append(o)
    result = [by_key[(r.student, r.set_name)] for r in rows]
    if policy is not None:
        for adjusted in result:
            _late(adjusted, policy)
    return result
