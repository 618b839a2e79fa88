"""How long does the whole course take in the full setting (no ``CNNLAB_FAST``)?

Executes every ``lectures/*.ipynb`` (or those whose two-digit prefix is named) in a fresh
kernel, one after another, with fast mode off, and prints the seconds each took and the
total. Run it on an otherwise idle machine; the goal is under 15 minutes on 2 CPU cores.

    python benchmarks/full_course.py            # all lectures
    python benchmarks/full_course.py 05 09      # only these
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from cnnlab.config import FAST_ENV

LECTURES = Path(__file__).resolve().parent.parent / "lectures"


def main(prefixes: list[str]) -> None:
    os.environ.pop(FAST_ENV, None)  # kernels inherit this process's environment
    total = 0.0
    for path in sorted(LECTURES.glob("*.ipynb")):
        if prefixes and path.name[:2] not in prefixes:
            continue
        notebook = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(notebook, timeout=3600, resources={"metadata": {"path": str(LECTURES)}}).execute()
        took = time.perf_counter() - start
        total += took
        print(f"{path.name:32s} {took:7.1f} s", flush=True)
    print(f"{'total':32s} {total:7.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
