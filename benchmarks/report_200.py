"""How long does `cnnlab report` take for a class of 200 submissions?

Builds ``--count`` submissions of set 01_perceptron (default 200) from the planted answer
styles in ``tests/planted.py`` (three independent correct styles and the reference's
code), each with its local names renamed at random and random comment lines, and one in
twenty a renamed copy of another student; writes a grade sheet in the shared format with
varied per-test results, times and submission times. Then times, in the same run,
``cnnlab report`` without ``--submissions`` (figures and tables only: the baseline) and
with ``--submissions --solutions`` (answer similarity: every pair of students and every
student against the references), each in a fresh process.

    python benchmarks/report_200.py [--count 200] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import planted  # noqa: E402

LOCALS = ["norms", "scores", "augmented", "weights", "total", "changed", "index", "wnorm", "gamma", "coef",
          "count", "epoch", "clean", "ext", "act", "lengths", "signed", "theta", "bad", "X_hat", "w_hat",
          "updates", "mistakes", "margins", "wrong", "rows", "length", "scale", "column", "label", "norm"]


def vary(cells: dict[str, str], rng: random.Random, tag: str) -> dict[str, str]:
    """Rename local names and sprinkle comment lines (what independent students differ by, and more)."""
    names = {n: f"{n[:3]}{tag}" for n in LOCALS if rng.random() < 0.7}
    out = {}
    for grade_id, text in cells.items():
        for old, new in names.items():
            text = re.sub(rf"\b{old}\b", new, text)
        lines = text.splitlines()
        for _ in range(rng.randint(0, 3)):
            at = rng.randint(len(lines) // 2, len(lines))
            indent = re.match(r"\s*", lines[at - 1]).group() if at else ""
            lines.insert(at, f"{indent}# note {rng.randint(0, 999)}")
        out[grade_id] = "\n".join(lines) + "\n"
    return out


def build(count: int, folder: Path) -> Path:
    rng = random.Random(200)
    styles = planted.answers()
    bases = [styles[s] for s in ("alice", "carol", "dave", "erin")]
    made, rows = {}, []
    for i in range(count):
        student = f"s{i:03d}"
        if made and rng.random() < 0.05:
            cells = vary(made[rng.choice(sorted(made))], rng, f"c{i}")
        else:
            cells = vary(rng.choice(bases), rng, f"x{i}")
        made[student] = cells
        planted.write_submission(folder / "submitted", student, cells)
        failed = tuple(g for g in planted.PERCEPTRON_TESTS if rng.random() < 0.2)
        rows.append(planted.perceptron_row(student, failed=failed, seconds=rng.uniform(0.5, 9.0),
                                           submitted_at=f"2026-12-0{rng.randint(1, 2)}T{rng.randint(10, 23)}:00:00Z"))
    return planted.write_sheet(folder / "grades.csv", rows)


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cnnlab.cli", "report", *args], check=True, capture_output=True,
                   env={"PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sheet = build(args.count, folder)
        baseline = timed([str(sheet), "--out", str(folder / "plain")])
        full = timed([str(sheet), "--out", str(folder / "full"), "--submissions", str(folder / "submitted"),
                      "--solutions", str(REPO / "solutions")])
        page = (folder / "full" / "index.html").read_text()
        similar = page[page.index("Answer similarity"):]
        pairs = len(re.findall(r"<tr><td>s\d{3}</td><td>s\d{3}</td>", similar))
        to_refs = len(re.findall(r"<tr><td>s\d{3}</td><td>(?:cnnlab\.reference\.\w+|solution [^<]+)</td>", similar))
    result = {"submissions": args.count, "report_without_similarity_s": round(baseline, 2),
              "report_with_similarity_s": round(full, 2), "listed_pairs": pairs, "listed_against_references": to_refs,
              "page_bytes": len(page.encode())}
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
