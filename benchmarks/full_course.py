"""How long does the whole course take in the full setting (no ``CNNLAB_FAST``)?

Executes every ``lectures/*.ipynb`` (or those whose two-digit prefix is named) in a fresh
kernel, one after another, with fast mode off, and prints the seconds each took and the
total. Run it on an otherwise idle machine; the goal is under 15 minutes on 2 CPU cores.

    python benchmarks/full_course.py            # all lectures
    python benchmarks/full_course.py 05 09      # only these
    python benchmarks/full_course.py --json     # {"00_course_map.ipynb": seconds, ..., "total": seconds}
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from cnnlab.config import FAST_ENV

LECTURES = Path(__file__).resolve().parent.parent / "lectures"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", metavar="NN", help="two-digit lecture prefixes (default: all)")
    parser.add_argument("--json", action="store_true", help="print the seconds as JSON")
    args = parser.parse_args(argv)
    os.environ.pop(FAST_ENV, None)  # kernels inherit this process's environment
    seconds = {}
    for path in sorted(LECTURES.glob("*.ipynb")):
        if args.prefixes and path.name[:2] not in args.prefixes:
            continue
        notebook = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(notebook, timeout=3600, resources={"metadata": {"path": str(LECTURES)}}).execute()
        seconds[path.name] = round(time.perf_counter() - start, 1)
        if not args.json:
            print(f"{path.name:32s} {seconds[path.name]:7.1f} s", flush=True)
    seconds["total"] = round(sum(seconds.values()), 1)
    print(json.dumps(seconds) if args.json else f"{'total':32s} {seconds['total']:7.1f} s")


if __name__ == "__main__":
    main()
