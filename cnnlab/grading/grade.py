"""Grade a student's notebook against the solution it was generated from.

Like nbgrader's autograder: the student's answer cells are kept, every other cell
that carries a ``grade_id`` is restored from the solution (so visible tests the
student edited, and the hidden tests, run as the instructor wrote them), the
notebook is executed with errors allowed, and each test cell that runs without an
error earns its points. Grades are merged into a CSV written atomically: a crash
never leaves a half-written grade sheet, and other students' rows are kept.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.notebooks import write_text_atomically

CSV_FIELDS = ["student", "notebook", "score", "max_score"]


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _grade_id(cell) -> str | None:
    return _nbgrader(cell).get("grade_id")


@dataclass
class CellResult:
    grade_id: str
    points: float
    max_points: float
    message: str  # "passed", or the error the cell raised


@dataclass
class GradeReport:
    student: str
    notebook: str
    tests: list[CellResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)

    def feedback(self) -> str:
        """A short Markdown report for the student."""
        lines = [f"# {self.notebook}: {self.score:g} / {self.max_score:g}", ""]
        for t in self.tests:
            mark = "passed" if t.points == t.max_points else "failed"
            lines.append(f"- `{t.grade_id}` ({t.points:g}/{t.max_points:g}): {mark}"
                         + ("" if mark == "passed" else f": {t.message}"))
        return "\n".join(lines) + "\n"


def assemble(solution, submission):
    """The notebook to execute: the submission, with every non-answer graded cell
    restored from the solution and missing test cells put back at the end."""
    import copy

    originals = {_grade_id(c): c for c in solution.cells if _grade_id(c)}
    graded = copy.deepcopy(submission)
    seen = set()
    for i, cell in enumerate(graded.cells):
        grade_id = _grade_id(cell)
        if grade_id in originals:
            seen.add(grade_id)
            if not _nbgrader(originals[grade_id]).get("solution", False):
                graded.cells[i] = copy.deepcopy(originals[grade_id])
    for grade_id, cell in originals.items():
        if grade_id not in seen and _nbgrader(cell).get("grade", False) and not _nbgrader(cell).get("solution"):
            graded.cells.append(copy.deepcopy(cell))
    for cell in graded.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return graded


def _cell_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def grade_notebook(submission_path, solution_path, *, student: str | None = None,
                   timeout: int = 120) -> GradeReport:
    """Execute ``submission_path`` with the solution's tests; return the per-test points."""
    import nbformat
    from nbclient import NotebookClient

    submission_path, solution_path = Path(submission_path), Path(solution_path)
    solution = nbformat.read(solution_path, as_version=4)
    try:
        submission = nbformat.read(submission_path, as_version=4)
    except Exception as err:  # unreadable JSON: a zero with a reason, not a crash of the whole batch
        submission = None
        reason = f"the notebook could not be read ({type(err).__name__}: {err})"
    if student is None:
        student = submission_path.parent.name if submission_path.name == solution_path.name else submission_path.stem
    report = GradeReport(student, solution_path.name)
    tests = [c for c in solution.cells if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")]
    if submission is None:
        report.tests = [CellResult(_grade_id(c), 0, float(_nbgrader(c).get("points", 0)), reason) for c in tests]
        return report
    graded = assemble(solution, submission)
    client = NotebookClient(graded, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
                            resources={"metadata": {"path": str(submission_path.parent)}})
    client.execute()
    results = {_grade_id(c): _cell_error(c) for c in graded.cells if _grade_id(c)}
    for cell in tests:
        max_points = float(_nbgrader(cell).get("points", 0))
        error = results.get(_grade_id(cell), "the test cell did not run")
        report.tests.append(CellResult(_grade_id(cell), 0.0 if error else max_points, max_points,
                                       error or "passed"))
    return report


def write_grades(reports: list[GradeReport], csv_path, feedback_dir=None) -> None:
    """Merge ``reports`` into ``csv_path`` (one row per student and notebook, other rows kept)
    and, if ``feedback_dir`` is given, write ``<feedback_dir>/<student>/<notebook>.md``.
    Every file is written to a temporary name first and then renamed."""
    csv_path = Path(csv_path)
    rows = {}
    if csv_path.is_file():
        with csv_path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows[(row["student"], row["notebook"])] = row
    for report in reports:
        rows[(report.student, report.notebook)] = {
            "student": report.student, "notebook": report.notebook,
            "score": f"{report.score:g}", "max_score": f"{report.max_score:g}"}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[key] for key in sorted(rows))
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(csv_path, buffer.getvalue())
    if feedback_dir is not None:
        for report in reports:
            folder = Path(feedback_dir) / report.student
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomically(folder / f"{Path(report.notebook).stem}.md", report.feedback())
