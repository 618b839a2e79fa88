"""The ``cnnlab`` command line, for students and instructors.

    cnnlab info              versions, device, fast mode, CNNLAB_DATA and where data is looked for
    cnnlab fetch [DATASET]   download (or find) and verify MNIST / Fashion-MNIST
    cnnlab notebook pin|strip NOTEBOOK...
                             execute and keep only checked outputs | strip outputs
    cnnlab exercises [SOLUTIONS] [EXERCISES]
                             generate exercises/ from solutions/ (--check: only report stale ones)
    cnnlab grade SUBMISSION... --solution NOTEBOOK [--out grades.csv] [--feedback DIR]
                             grade students' notebooks
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__


def _info(args) -> int:
    import numpy
    import torch

    from . import config, data
    from .data.files import DATA_ENV

    print(f"cnnlab {__version__}, numpy {numpy.__version__}, torch {torch.__version__}")
    print(f"device: {config.get_device()}   fast mode ({config.FAST_ENV}): {config.fast_mode()}")
    print(f"data folder {DATA_ENV}: {os.environ.get(DATA_ENV) or 'not set'} (set it to a folder holding "
          f"mnist/ and fashion-mnist/)")
    for dataset in ("mnist", "fashion-mnist"):
        print(f"{dataset} is looked for in: " + ", ".join(str(d) for d in data.data_dirs(dataset)))
    return 0


def _fetch(args) -> int:
    from . import data

    loaders = {"mnist": data.load_mnist, "fashion-mnist": data.load_fashion_mnist}
    status = 0
    for name in args.datasets or list(loaders):
        for split in ("train", "test"):
            try:
                images, _ = loaders[name](split, root=args.root)
            except data.DatasetUnavailable as err:
                print(f"{name} {split}: UNAVAILABLE\n{err}", file=sys.stderr)
                status = 1
            else:
                print(f"{name} {split}: {images.shape[0]} images, verified")
    return status


def _notebook(args) -> int:
    from . import notebooks

    action = notebooks.pin if args.action == "pin" else notebooks.strip
    for path in args.paths:
        action(path)
        print(f"{args.action}: {path}")
    return 0


def _exercises(args) -> int:
    from .grading import generate_all, stale_exercises

    if args.check:
        stale = stale_exercises(args.solutions, args.exercises)
        for name in stale:
            print(f"stale: {name} (run `cnnlab exercises` to regenerate)")
        return 1 if stale else 0
    for path in generate_all(args.solutions, args.exercises):
        print(f"wrote {path}")
    return 0


def _grade(args) -> int:
    from .grading import grade_notebook, write_grades

    reports = []
    for path in args.submissions:
        report = grade_notebook(path, args.solution, timeout=args.timeout)
        print(f"{report.student}: {report.score:g} / {report.max_score:g}")
        reports.append(report)
    write_grades(reports, args.out, args.feedback)
    print(f"grades written to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnlab", description="Helpers for the cnnlab course on "
                                     "convolutional neural networks.")
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="show versions, the device, fast mode, CNNLAB_DATA and the data folders")
    info.set_defaults(run=_info)
    fetch = sub.add_parser("fetch", help="download (or find) and verify the data sets")
    fetch.add_argument("datasets", nargs="*", choices=["mnist", "fashion-mnist"], metavar="DATASET",
                       help="mnist and/or fashion-mnist (default: both)")
    fetch.add_argument("--root", help="folder to look in and download to (default: the per-user cache)")
    fetch.set_defaults(run=_fetch)
    notebook = sub.add_parser("notebook", help="pin: execute and keep only # NBVAL_CHECK_OUTPUT outputs; "
                              "strip: remove unchecked outputs")
    notebook.add_argument("action", choices=["pin", "strip"],
                          help="pin: execute the notebook and keep the outputs of # NBVAL_CHECK_OUTPUT cells only; "
                               "strip: remove every other output")
    notebook.add_argument("paths", nargs="+", metavar="NOTEBOOK", help="one or more notebook files (.ipynb)")
    notebook.set_defaults(run=_notebook)
    exercises = sub.add_parser("exercises", help="generate exercise notebooks from solution notebooks")
    exercises.add_argument("solutions", nargs="?", default="solutions")
    exercises.add_argument("exercises", nargs="?", default="exercises")
    exercises.add_argument("--check", action="store_true", help="only report exercises that are out of date")
    exercises.set_defaults(run=_exercises)
    grade = sub.add_parser("grade", help="grade students' notebooks against a solution notebook")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION")
    grade.add_argument("--solution", required=True, help="the solution notebook the exercise came from")
    grade.add_argument("--out", default="grades.csv", help="CSV to merge the grades into (default grades.csv)")
    grade.add_argument("--feedback", help="folder for one Markdown feedback file per student")
    grade.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    grade.set_defaults(run=_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
