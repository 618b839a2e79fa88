"""How long do `cnnlab exercises`' checks take per problem set?

For each solution notebook (default: every one in solutions/), in one run: the static
checks (``release.static_problems``), the release check (``release.release_problems``:
the solution and its fresh exercise graded in the sandbox) and, as the baseline, one
``grade_notebook`` of the solution alone. The release check grades two notebooks, so
it should take about twice the baseline; the static checks should take well under a
second per set.

    python benchmarks/release_check.py [SOLUTION.ipynb ...] [--json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cnnlab.grading import grade_notebook, release

REPO = Path(__file__).resolve().parent.parent


def seconds(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def measure(solution: Path) -> dict:
    static_s, static = seconds(release.static_problems, solution)
    release_s, found = seconds(release.release_problems, solution)
    baseline_s, _ = seconds(grade_notebook, solution, solution, student="baseline")
    return {"set": solution.name, "static_s": static_s, "release_s": release_s, "grade_once_s": baseline_s,
            "ratio": release_s / baseline_s, "problems": len(static) + len(found)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("solutions", nargs="*", type=Path, help="solution notebooks (default: solutions/*.ipynb)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    rows = [measure(path) for path in args.solutions or sorted((REPO / "solutions").glob("*.ipynb"))]
    totals = {key: sum(row[key] for row in rows) for key in ("static_s", "release_s", "grade_once_s")}
    if args.json:
        print(json.dumps({"sets": rows, "totals": totals}, indent=1))
        return
    print(f"{'set':32} {'static s':>9} {'release s':>10} {'grade once s':>13} {'ratio':>6}")
    for row in rows:
        print(f"{row['set']:32} {row['static_s']:9.2f} {row['release_s']:10.2f} {row['grade_once_s']:13.2f} "
              f"{row['ratio']:6.2f}" + (f"  ({row['problems']} problems)" if row["problems"] else ""))
    print(f"{'all':32} {totals['static_s']:9.2f} {totals['release_s']:10.2f} {totals['grade_once_s']:13.2f}")


if __name__ == "__main__":
    main()
