"""Planted answers for set 01_perceptron, for the similarity tests and the report benchmark.

Each student's answer cells (``grade_id -> text``) keep the exercise's signature and
docstring, as a student who fills in the stub does:

- ``alice``, ``carol``, ``dave``: three independent correct implementations, written
  differently (vectorised with a helper; plain loops; ``np.einsum``/``np.where``);
- ``bob``: alice's answers with every variable renamed and her two functions swapped;
- ``erin``: ``cnnlab.reference.perceptron``'s code pasted into the answer cells;
- ``frank``: the solution notebook's answers (the answer key) with names changed.

Also: ``write_submission`` (an exercise notebook with these answers) and ``write_sheet`` /
``sheet_row`` / ``perceptron_row`` (grade sheets in the shared format, cells neutralized as
the grader does).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SET = "01_perceptron.ipynb"
SOLUTION = REPO / "solutions" / SET


def template() -> dict[str, str]:
    """The exercise's answer cells (signature, docstring, stub) by grade_id."""
    from cnnlab.classroom.answers import load_set_source
    return load_set_source(SOLUTION).template


def _head(grade_id: str) -> str:
    """The answer cell's signature and docstring, without the stub line."""
    return "\n".join(line for line in template()[grade_id].splitlines() if "NotImplementedError" not in line)


ALICE = {
    "radius_and_margin": """
    norms = np.sqrt((X ** 2).sum(axis=1))
    scores = y * (X.dot(w) + b)
    return float(norms.max()), float(scores.min() / np.sqrt(w.dot(w)))
""",
    "perceptron_fit": """
    augmented, scale = _with_bias_column(X)
    weights = np.zeros(augmented.shape[1])
    total = 0
    for epoch in range(max_epochs):
        changed = False
        for index in range(augmented.shape[0]):
            if y[index] * augmented[index].dot(weights) <= 0:
                weights = weights + y[index] * augmented[index]
                total = total + 1
                changed = True
        if not changed:
            break
    return weights[:-1], float(weights[-1] * scale), total


def _with_bias_column(points):
    scale = np.sqrt((points ** 2).sum(axis=1)).max()
    column = scale * np.ones((points.shape[0], 1))
    return np.concatenate([points, column], axis=1), scale
""",
    "count_mistakes": """
    margins = y * (X.dot(w) + b)
    return int((margins <= 0).sum())
""",
}

CAROL = {
    "radius_and_margin": """
    R = 0.0
    for row in X:
        length = math.sqrt(sum(v * v for v in row))
        R = max(R, length)
    wnorm = math.sqrt(sum(v * v for v in w))
    gamma = min(label * (sum(a * c for a, c in zip(row, w)) + b) for row, label in zip(X, y)) / wnorm
    return R, gamma
""",
    "perceptron_fit": """
    import math
    rows = [list(r) for r in X]
    R = max(math.sqrt(sum(v * v for v in r)) for r in rows)
    coef = [0.0] * (len(rows[0]) + 1)
    count = 0
    epoch = 0
    while epoch < max_epochs:
        epoch += 1
        clean = True
        for r, label in zip(rows, y):
            ext = r + [R]
            act = sum(c * v for c, v in zip(coef, ext))
            if label * act <= 0:
                coef = [c + label * v for c, v in zip(coef, ext)]
                count += 1
                clean = False
        if clean:
            break
    return np.array(coef[:-1]), coef[-1] * R, count
""",
    "count_mistakes": """
    wrong = 0
    for row, label in zip(X, y):
        if label * (sum(a * c for a, c in zip(row, w)) + b) <= 0:
            wrong += 1
    return wrong
""",
}

DAVE = {
    "radius_and_margin": """
    lengths = np.einsum("ij,ij->i", X, X) ** 0.5
    signed = np.einsum("ij,j->i", X, w) + b
    return lengths.max().item(), (y * signed).min().item() / np.hypot.reduce(w)
""",
    "perceptron_fit": """
    R = np.einsum("ij,ij->i", X, X).max() ** 0.5
    Z = np.c_[X, np.repeat(R, len(X))] * y[:, None]
    theta = np.zeros(Z.shape[1])
    k = 0
    for _ in range(max_epochs):
        bad = np.flatnonzero(Z @ theta <= 0)
        if bad.size == 0:
            break
        for i in range(len(Z)):
            if Z[i] @ theta <= 0:
                theta += Z[i]
                k += 1
    return theta[:-1], (theta[-1] * R).item(), k
""",
    "count_mistakes": """
    return np.count_nonzero(np.where(y * (np.einsum("ij,j->i", X, w) + b) > 0, 0, 1))
""",
}

BOB = {  # alice, renamed throughout, her two functions in the other order
    "radius_and_margin": """
    lens = np.sqrt((X ** 2).sum(axis=1))
    vals = y * (X.dot(w) + b)
    return float(lens.max()), float(vals.min() / np.sqrt(w.dot(w)))
""",
    "perceptron_fit": """
    ext, r = add_r(X)
    vec = np.zeros(ext.shape[1])
    n_up = 0
    for ep in range(max_epochs):
        flag = False
        for j in range(ext.shape[0]):
            if y[j] * ext[j].dot(vec) <= 0:
                vec = vec + y[j] * ext[j]
                n_up = n_up + 1
                flag = True
        if not flag:
            break
    return vec[:-1], float(vec[-1] * r), n_up
""",
    "count_mistakes": """
    m = y * (X.dot(w) + b)
    return int((m <= 0).sum())
""",
}
BOB_HELPER = '''

def add_r(pts):
    r = np.sqrt((pts ** 2).sum(axis=1)).max()
    col = r * np.ones((pts.shape[0], 1))
    return np.concatenate([pts, col], axis=1), r
'''

ERIN = {  # cnnlab.reference.perceptron pasted in
    "radius_and_margin": """
    R = float(np.max(np.linalg.norm(X, axis=1)))
    w = np.asarray(w, dtype=np.float64)
    norm = np.linalg.norm(w)
    if w.shape != (X.shape[1],) or norm == 0:
        raise ValueError(f"w must be a nonzero vector of shape ({X.shape[1]},), got {w.shape} "
                         f"with norm {norm}")
    return R, float(np.min(y * (X @ w + b)) / norm)
""",
    "perceptron_fit": """
    lr = 1.0
    R = float(np.max(np.linalg.norm(X, axis=1)))
    if R == 0:
        raise ValueError("all points are at the origin: no hyperplane can separate them")
    X_hat = np.hstack([X, np.full((X.shape[0], 1), R)])
    w_hat = np.zeros(X_hat.shape[1])
    updates = 0
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x_i, y_i in zip(X_hat, y):
            if y_i * (w_hat @ x_i) <= 0:
                w_hat += lr * y_i * x_i
                mistakes += 1
        updates += mistakes
        if mistakes == 0:
            return w_hat[:-1], float(w_hat[-1] * R), updates
    return w_hat[:-1], float(w_hat[-1] * R), updates
""",
    "count_mistakes": """
    return int(np.sum(y * (X @ w + b) <= 0))
""",
}


def _frank() -> dict[str, str]:
    """The answer key with its local names changed."""
    from cnnlab.classroom.answers import load_set_source
    renames = {"X_hat": "Xa", "w_hat": "wa", "mistakes": "errs", "updates": "ups", "gamma": "g"}
    out = {}
    for grade_id, text in load_set_source(SOLUTION).solution.items():
        body = "\n".join(line for line in text.splitlines() if "### " not in line)
        for old, new in renames.items():
            body = re.sub(rf"\b{old}\b", new, body)
        out[grade_id] = body
    return out


def answers() -> dict[str, dict[str, str]]:
    """student -> grade_id -> the full answer cell text."""
    def cells(bodies, extra=None):
        out = {gid: _head(gid) + "\n" + body.strip("\n") + "\n" for gid, body in bodies.items()}
        if extra:
            for gid, text in extra.items():
                out[gid] = text + out[gid]
        return out
    planted = {"alice": cells(ALICE), "carol": cells(CAROL), "dave": cells(DAVE), "erin": cells(ERIN),
               "bob": cells(BOB, {"perceptron_fit": BOB_HELPER.strip("\n") + "\n\n\n"})}
    planted["carol"]["radius_and_margin"] = "import math\n\n" + planted["carol"]["radius_and_margin"]
    planted["frank"] = _frank()
    return planted


def write_submission(folder: Path, student: str, cells: dict[str, str]) -> Path:
    """The exercise notebook with ``cells`` (grade_id -> text) put in its answer cells:
    ``folder/<student>/01_perceptron.ipynb``."""
    import nbformat

    from cnnlab.grading.generate import make_exercise

    notebook = make_exercise(nbformat.read(SOLUTION, as_version=4))
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in cells:
            cell.source = cells[grade_id]
    path = folder / student / SET
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


SHEET_COLUMNS = ["student", "notebook", "score", "max_score", "status", "digest", "graded_at", "seconds",
                 "submitted_at", "submission", "tests"]


def sheet_row(student: str, notebook: str, tests: dict[str, tuple[float, float, str, str]], *, status="ok",
              graded_at="2026-12-06T01:00:00Z", seconds=1.5, submitted_at="", submission="") -> dict:
    """One row of the shared sheet format; ``tests``: grade_id -> (points, max, status, message)."""
    return {"student": student, "notebook": notebook, "score": f"{sum(t[0] for t in tests.values()):g}",
            "max_score": f"{sum(t[1] for t in tests.values()):g}", "status": status, "digest": "d" * 32,
            "graded_at": graded_at, "seconds": f"{seconds:.1f}", "submitted_at": submitted_at,
            "submission": submission,
            "tests": json.dumps({g: {"points": p, "max_points": m, "status": s, "message": msg}
                                 for g, (p, m, s, msg) in tests.items()}, separators=(",", ":"))}


def write_sheet(path: Path, rows: list[dict], columns: list[str] = SHEET_COLUMNS) -> Path:
    """A grade sheet as ``cnnlab grade`` writes it (cells neutralized the same way)."""
    import csv

    def cell(value: str) -> str:
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else value
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: cell(v) for k, v in row.items()} for row in rows)
    return path


PERCEPTRON_TESTS = {"test_radius_and_margin": 2.0, "test_perceptron_fit": 4.0, "test_xor": 2.0}


def perceptron_row(student: str, failed=(), **kw) -> dict:
    """A set-01 row where the tests in ``failed`` failed and the others passed."""
    tests = {g: (0.0 if g in failed else m, m, "failed" if g in failed else "passed",
                 "wrong value" if g in failed else "passed") for g, m in PERCEPTRON_TESTS.items()}
    return sheet_row(student, SET, tests, **kw)
