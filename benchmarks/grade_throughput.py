"""How many seconds of wall time does `cnnlab grade` take per submission?

Builds ``--count`` submissions of a problem set (default 200) from its solution: most
correct, some untouched exercises (wrong), some hostile (patched test tools, a rigged
array subclass, 50 MB of output, ``os._exit``). Then grades them all with
``cnnlab grade --jobs N --force``, once in the sandbox and once with ``--no-sandbox``,
in the same run, and prints seconds per submission and the ratio. Goal: <= 2 s per
submission at ``--jobs 2`` on a 2-core machine, in the sandbox.

    python benchmarks/grade_throughput.py [--count 200] [--jobs 2] [--solution PATH] [--json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from cnnlab.grading.generate import make_exercise

REPO = Path(__file__).resolve().parent.parent
HOSTILE = [
    "import numpy as np\nfor n in dir(np.testing):\n    if n.startswith('assert'):\n"
    "        setattr(np.testing, n, lambda *a, **k: None)",
    "import numpy as np\nclass Rigged(np.ndarray):\n    __eq__ = lambda self, other: True",
    "import sys\nfor _ in range(50):\n    print('x' * 2**20)",
    "import os\nos._exit(1)",
]


def build(solution: Path, count: int, folder: Path) -> list[Path]:
    """``count`` submissions under ``folder/<student>/``: 6 in 10 correct, 2 untouched, 2 hostile."""
    source = nbformat.read(solution, as_version=4)
    exercise, paths = make_exercise(source), []
    for i in range(count):
        kind = i % 10
        nb = exercise if kind in (6, 7) else nbformat.from_dict(json.loads(nbformat.writes(source)))
        if kind >= 8:
            nb.cells.append(nbformat.v4.new_code_cell(HOSTILE[(i // 10) % len(HOSTILE)]))
        path = folder / f"student{i:04d}" / solution.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def timed_grade(paths, solution, sheet, jobs, sandboxed) -> float:
    """Wall seconds of one `cnnlab grade` run over ``paths``."""
    command = [sys.executable, "-m", "cnnlab.cli", "grade", *map(str, paths), "--solution", str(solution),
               "--out", str(sheet), "--jobs", str(jobs), "--force", "--max-time", "60"]
    started = time.perf_counter()
    result = subprocess.run(command + ([] if sandboxed else ["--no-sandbox"]), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"grading failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--solution", type=Path,
                        default=REPO / "solutions" / "03_convolution.ipynb")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = build(args.solution, args.count, Path(tmp))
        seconds = {mode: timed_grade(paths, args.solution, Path(tmp) / f"{mode}.csv", args.jobs, mode == "sandbox")
                   for mode in ("sandbox", "no sandbox")}
    per = {mode: s / args.count for mode, s in seconds.items()}
    report = {"count": args.count, "jobs": args.jobs, "seconds_per_submission": per,
              "sandbox_over_no_sandbox": per["sandbox"] / per["no sandbox"]}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.count} submissions, --jobs {args.jobs}: " + ", ".join(
            f"{mode} {s:.2f} s per submission" for mode, s in per.items())
            + f"; sandbox / no sandbox = {report['sandbox_over_no_sandbox']:.2f} (goal: sandbox <= 2 s)")


if __name__ == "__main__":
    main()
