"""Grade reports, the grade sheet (CSV) and the students' feedback files.

The sheet ``grades.csv`` has one row per ``(student, notebook)`` with the columns
``CSV_FIELDS`` in order:

- ``score``, ``max_score``: numbers (``%g``); ``seconds``: grading wall time, ``%.1f``;
- ``status``: ``ok`` or ``"; "``-joined problems (``timed out``, ``unreadable: ...``,
  ``grader error: ...``);
- ``digest``: hash of the source and submission bytes (the rerun skip key);
- ``graded_at`` and ``submitted_at``: UTC ISO-8601 to the second (``2026-12-06T01:02:03Z``),
  ``submitted_at`` empty when nothing says when the work was handed in;
- ``submission``: the path as given on the command line;
- ``tests``: compact JSON ``{grade_id: {"points", "max_points", "status", "message"}}``
  in source order (statuses in ``TEST_STATUSES``).

Every text cell is made safe before it is written (:func:`safe_text`: unprintable
characters, lone surrogates and the bytes of non-UTF-8 names become ``\\xNN`` escapes or
U+FFFD) and neutralized for spreadsheets (:func:`neutralize`: a cell starting with ``=``,
``+``, ``-``, ``@``, tab, CR or ``'`` gets a leading ``'``); :func:`read_rows` removes
that one quote again and nothing else. Sheets written before the last five columns
existed are read with those columns empty.

Every write of the sheet reads it, merges rows keyed by ``(student, notebook)`` and
renames a complete new file over it (``write_text_atomically``) while holding an
exclusive ``flock`` on the sheet's folder, so parallel jobs, two grader runs at once
or shards of one class on a shared disk never lose a row and a crash never leaves a
half-written sheet.
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.notebooks import write_text_atomically

CSV_FIELDS = ["student", "notebook", "score", "max_score", "status", "digest", "graded_at", "seconds",
              "submitted_at", "submission", "tests"]
NUMERIC_FIELDS = {"score", "max_score", "seconds"}
TEST_STATUSES = ("passed", "failed", "hidden failed", "not run", "off limits", "grader error", "manual")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FEEDBACK_CHARS = 20_000
BIDI_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def safe_text(text, multiline: bool = True) -> str:
    """``text`` with nothing a file, a spreadsheet or a terminal could choke on: the
    bytes of a non-UTF-8 name (surrogate escapes) become ``\\xNN``, other lone
    surrogates U+FFFD, control characters (ANSI escapes included) and bidi overrides
    ``\\xNN``/``\\uNNNN``; newlines and tabs stay when ``multiline``."""
    out = []
    for char in str(text):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:          # a byte that os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        elif multiline and char in "\n\t":
            out.append(char)
        elif unicodedata.category(char) == "Cc" or code in BIDI_CONTROLS:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def terminal_text(text) -> str:
    """One line of ``text`` that is safe to print (see :func:`safe_text`)."""
    return safe_text(text, multiline=False)


def neutralize(value: str) -> str:
    """OWASP's rule against CSV injection: a cell that a spreadsheet would read as a
    formula (or that starts with the quote this adds) gets a leading ``'``."""
    return "'" + value if value.startswith(FORMULA_STARTS + ("'",)) else value


def unneutralize(value: str) -> str:
    """Undo :func:`neutralize` (one leading ``'`` goes)."""
    return value[1:] if value.startswith("'") else value


@dataclass
class CellResult:
    """One graded cell: a test cell, or a manually graded answer cell (``manual``)."""
    grade_id: str
    points: float
    max_points: float
    message: str      # "passed", or what the student may see about the failure
    status: str = ""  # one of TEST_STATUSES; derived from the points when left empty

    def __post_init__(self):
        if not self.status:
            self.status = "passed" if self.points >= self.max_points else "failed"


@dataclass
class GradeReport:
    student: str
    notebook: str
    tests: list[CellResult] = field(default_factory=list)
    status: str = "ok"         # "ok", or "; "-joined: timed out, memory limit, kernel died, ...
    digest: str = ""
    notes: list[str] = field(default_factory=list)  # errors of the student's own cells, etc.
    graded_at: str = ""        # UTC ISO-8601, e.g. 2026-12-06T01:02:03Z
    seconds: float | None = None
    submitted_at: str = ""     # UTC ISO-8601 or empty
    submission: str = ""       # the path as given on the command line
    title: str = ""            # the set's title (first Markdown heading of the source)
    executed: str = ""         # the review copy (review.executed_copy), nbformat-4 JSON; not in the sheet

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)

    def row(self) -> dict:
        """The sheet's row: every value a ``str``, text made safe (not yet neutralized)."""
        tests = {safe_text(t.grade_id): {"points": float(t.points), "max_points": float(t.max_points),
                                         "status": safe_text(t.status), "message": safe_text(t.message)}
                 for t in self.tests}
        return {"student": safe_text(self.student), "notebook": safe_text(self.notebook),
                "score": f"{self.score:g}", "max_score": f"{self.max_score:g}", "status": safe_text(self.status),
                "digest": safe_text(self.digest), "graded_at": safe_text(self.graded_at),
                "seconds": "" if self.seconds is None else f"{self.seconds:.1f}",
                "submitted_at": safe_text(self.submitted_at), "submission": safe_text(self.submission),
                "tests": json.dumps(tests, ensure_ascii=False, separators=(",", ":"))}

    def feedback(self, extra_lines=(), title: str | None = None) -> str:
        """A Markdown report for the student, at most ``FEEDBACK_CHARS`` long.

        It names the student and the set, gives the score, each test's points, status and
        message, then ``extra_lines`` (Markdown from the instructor's side, e.g. score
        adjustments) and the versions the grader ran with. Everything that came from a
        submission is inside code spans or fenced blocks, so no Markdown or HTML of a
        student's is rendered."""
        title = title or self.title or Path(self.notebook).stem
        lines = [f"# {title}", "", f"Feedback for {code_span(self.student)} on {code_span(self.notebook)}", "",
                 f"**Score: {self.score:g} / {self.max_score:g}**", ""]
        if self.status != "ok":
            lines += [f"Status: {code_span(self.status)}", ""]
        for t in self.tests:
            lines.append(f"- {code_span(t.grade_id)}: {t.points:g} / {t.max_points:g}, {t.status}")
            if t.message and t.message != "passed":
                lines += ["", *("  " + line for line in code_block(t.message).splitlines()), ""]
        if self.notes:
            lines += ["", "Your notebook's own cells:", "", code_block("\n".join(self.notes))]
        extra = list(extra_lines)
        if extra:
            lines += ["", *extra]
        versions = ", ".join(f"{name} {version}" for name, version in runtime_versions().items())
        lines += ["", f"Graded with {versions}" + (f" at {self.graded_at}." if self.graded_at else ".")]
        text = safe_text("\n".join(lines) + "\n")
        return text if len(text) <= FEEDBACK_CHARS else text[:FEEDBACK_CHARS] + "\n\n(feedback cut short)\n"


def code_span(text) -> str:
    """``text`` as Markdown inline code, delimited by more backticks than it holds in a row."""
    text = safe_text(text, multiline=False)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text) -> str:
    """``text`` as a fenced Markdown code block whose fence is longer than any backtick run in it."""
    text = safe_text(text)
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


def runtime_versions() -> dict[str, str]:
    """The Python, NumPy and torch versions this grader runs with (read from the
    installed packages' metadata, so nothing is imported)."""
    versions = {"Python": platform.python_version()}
    for label, package in (("NumPy", "numpy"), ("torch", "torch")):
        try:
            versions[label] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[label] = "not installed"
    return versions


def _number(value) -> float:
    """``value`` as a float; 0.0 for what is not a number (a hand-edited sheet)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def report_from_row(row: dict) -> GradeReport:
    """The :class:`GradeReport` a sheet row (as :func:`read_rows` returns it) stands for;
    ``tests`` rebuilt from its JSON (empty for an old sheet without it; a value that is
    not a number reads as 0)."""
    try:
        tests = json.loads(row.get("tests") or "{}")
    except ValueError:
        tests = {}
    tests = tests if isinstance(tests, dict) else {}
    results = [CellResult(str(grade_id), _number(t.get("points")), _number(t.get("max_points")),
                          str(t.get("message", "")), str(t.get("status", "")))
               for grade_id, t in tests.items() if isinstance(t, dict)]
    seconds = row.get("seconds") or ""
    return GradeReport(row.get("student", ""), row.get("notebook", ""), results, row.get("status") or "ok",
                       row.get("digest", ""), graded_at=row.get("graded_at", ""),
                       seconds=_number(seconds) if seconds else None, submitted_at=row.get("submitted_at", ""),
                       submission=row.get("submission", ""))


@contextlib.contextmanager
def locked(folder):
    """Hold an exclusive lock on ``folder`` (blocks until other writers are done)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_rows(csv_path) -> list[dict]:
    """The sheet's rows as dicts with every column of ``CSV_FIELDS`` (missing ones
    empty, so old six-column sheets read too), spreadsheet neutralization undone; an
    empty list if there is no sheet yet."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        return []
    with csv_path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = []
        for raw in csv.DictReader(handle):
            row = {name: raw.get(name) or "" for name in CSV_FIELDS}
            rows.append({name: value if name in NUMERIC_FIELDS else unneutralize(value)
                         for name, value in row.items()})
        return rows


def rows_by_key(csv_path) -> dict[tuple[str, str], dict]:
    """:func:`read_rows` keyed by ``(student, notebook)``."""
    return {(row["student"], row["notebook"]): row for row in read_rows(csv_path)}


def write_grades(reports: list[GradeReport], csv_path, feedback_dir=None) -> None:
    """Merge ``reports`` into ``csv_path`` (other rows kept) under the folder lock and, if
    ``feedback_dir`` is given, write each student's feedback (:func:`write_feedback`)."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with locked(csv_path.parent):
        rows = rows_by_key(csv_path)
        for report in reports:
            row = report.row()
            rows[(row["student"], row["notebook"])] = row
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n", extrasaction="ignore",
                                restval="")
        writer.writeheader()
        for key in sorted(rows):
            writer.writerow({name: value if name in NUMERIC_FIELDS else neutralize(safe_text(value))
                             for name, value in rows[key].items()})
        write_text_atomically(csv_path, buffer.getvalue())
    if feedback_dir is not None:
        for report in reports:
            write_feedback(report, feedback_dir)


def safe_component(name) -> str:
    """``name`` as one safe path component: no ``/``, NUL, control or undecodable
    characters, never ``.``/``..`` or hidden; a name that had to change gets a short hash
    of the name as the sheet stores it (:func:`safe_text`), so two students of the sheet
    never share a folder and the sheet's name alone finds the folder again."""
    original = safe_text(name, multiline=False)  # the name as the sheet stores it
    text = re.sub(r"[^\w.,+=@~ -]", "_", original.replace("\\", "_")).strip()
    text = text.lstrip(".") or "_"
    if text != original:
        digest = hashlib.sha256(original.encode("utf-8")).hexdigest()[:8]
        text = f"{text[:80]}-{digest}"
    return text[:120]


def feedback_path(feedback_dir, student: str, notebook: str, suffix: str = ".md") -> Path:
    """``<feedback_dir>/<student>/<notebook stem><suffix>`` with both names made safe
    (:func:`safe_component`); a ``ValueError`` if the result were outside ``feedback_dir``."""
    root = Path(os.path.abspath(feedback_dir))
    path = root / safe_component(student) / f"{safe_component(Path(notebook).stem)}{suffix}"
    if Path(os.path.abspath(path)).parent.parent != root:
        raise ValueError(f"feedback for {terminal_text(student)!r} would leave {root}")
    return path


def write_feedback(report: GradeReport, feedback_dir) -> Path:
    """Write ``report``'s feedback atomically, and its review copy (if any) beside it as
    ``<notebook stem>.executed.ipynb``; return where the feedback went."""
    path = feedback_path(feedback_dir, report.student, report.notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.path.dirname(os.path.realpath(path.parent)) != os.path.realpath(feedback_dir):
        raise ValueError(f"{path.parent} is not a folder inside {feedback_dir}")
    write_text_atomically(path, report.feedback())
    if report.executed:
        write_text_atomically(path.with_name(f"{path.stem}.executed.ipynb"), report.executed)
    return path
