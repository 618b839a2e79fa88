"""The ``cnnlab`` command line, for students and instructors.

    cnnlab info              versions, device, fast mode, CNNLAB_DATA and where data is looked for
    cnnlab fetch [DATASET]   download (or find) and verify MNIST / Fashion-MNIST
    cnnlab notebook pin|strip NOTEBOOK...
                             execute and keep only checked outputs | strip outputs
    cnnlab exercises [SOLUTIONS] [EXERCISES]
                             generate exercises/ from solutions/ (--check: only report stale ones)
    cnnlab grade SUBMISSION... --solution NOTEBOOK [--out grades.csv] [--feedback DIR] [--jobs N]
                             grade students' notebooks (sandboxed; see `cnnlab grade --help`)
    cnnlab validate NOTEBOOK...
                             run a notebook's visible tests; exit 1 if any fails
    cnnlab site [--full] --out DIR | --sync-launch-cells
                             build the course as a static offline site | regenerate the lectures' set-up cell
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
    from .grading import batch, grade, sandbox

    try:
        max_memory = grade.parse_size(args.max_memory)
        shard = _parse_shard(args.shard) if args.shard else None
    except ValueError as err:
        print(f"cnnlab grade: {err}", file=sys.stderr)
        return 2
    if args.no_sandbox:
        print(f"WARNING (--no-sandbox): {sandbox.UNPROTECTED}.", file=sys.stderr)
    else:
        try:
            sandbox.check_available()
        except sandbox.SandboxUnavailable as err:
            print(f"cnnlab grade: cannot sandbox student code: {err}", file=sys.stderr)
            return 2
    options = grade.Options(args.timeout, args.max_time, max_memory, not args.no_sandbox)
    try:
        reports = batch.grade_batch(args.submissions, args.solution, args.out, args.feedback, options,
                                    jobs=args.jobs, force=args.force, shard=shard)
    except (OSError, ValueError) as err:  # the grader's own failure: a broken source, a full disk
        print(f"cnnlab grade: {err}", file=sys.stderr)
        return 1
    print(batch.summary(reports))
    print(f"grades written to {args.out}")
    return 1 if batch.grader_failed(reports) else 0


def _parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8); a ValueError that says the format otherwise."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: write K/N, e.g. 2/8 for the second of eight shards") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def _validate(args) -> int:
    from .grading.validate import NotebookUnusable, format_table, validate_notebook

    status = 0
    for path in args.notebooks:
        try:
            outcomes = validate_notebook(path, timeout=args.timeout)
        except NotebookUnusable as err:
            print(f"error: {err}", file=sys.stderr)
            status = max(status, 2)
            continue
        print(f"{path}\n{format_table(outcomes)}\n")
        if not all(o.passed for o in outcomes):
            status = max(status, 1)
    return status


def _site(args) -> int:
    from pathlib import Path

    from .site import build, config, execute, launch

    root = Path(args.root)
    try:
        if args.sync_launch_cells:
            for path in launch.sync_launch_cells(root / "lectures", config.load_config(root / "pyproject.toml")):
                print(f"wrote the set-up cell of {path}")
            return 0
        if not args.out:
            print("error: cnnlab site needs --out DIR (where the HTML goes), or --sync-launch-cells",
                  file=sys.stderr)
            return 2
        build.build_site(root, Path(args.out), full=args.full, jobs=args.jobs, timeout=args.timeout,
                         keep_build=Path(args.keep_build) if args.keep_build else None)
    except (build.SiteBuildError, config.SiteConfigError, execute.NotebookFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
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
    exercises.add_argument("solutions", nargs="?", default="solutions",
                           help="folder of solution notebooks to read (default: solutions)")
    exercises.add_argument("exercises", nargs="?", default="exercises",
                           help="folder to write the exercise notebooks to, same names (default: exercises)")
    exercises.add_argument("--check", action="store_true", help="only report exercises that are out of date")
    exercises.set_defaults(run=_exercises)
    grade = sub.add_parser("grade", help="grade students' notebooks against a solution notebook, "
                           "each student's code in a sandbox")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                       help="students' notebooks, e.g. submissions/*/03_convolution.ipynb; a student is "
                       "named by the notebook's folder (or by the file name if it differs from the source's)")
    grade.add_argument("--solution", required=True, help="the solution notebook the exercise came from")
    grade.add_argument("--out", default="grades.csv", help="CSV to merge the grades into (default grades.csv)")
    grade.add_argument("--feedback", help="folder for one Markdown feedback file per student")
    grade.add_argument("--timeout", type=float, default=120, help="seconds allowed per test cell (default 120)")
    grade.add_argument("--max-time", type=float, default=300,
                       help="wall-clock seconds per submission, notebook and tests (default 300)")
    grade.add_argument("--max-memory", default="2G", help="memory of a student's code, e.g. 2G (default 2G)")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    grade.add_argument("--force", action="store_true",
                       help="grade again submissions already graded from the same source and submission bytes")
    grade.add_argument("--shard", metavar="K/N", help="grade only the K-th of N shards of the submissions "
                       "(one per batch job; all shards may merge into one sheet)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code without bubblewrap isolation (unsafe; says what is unprotected)")
    grade.set_defaults(run=_grade)
    validate = sub.add_parser("validate", help="run a notebook's visible tests and list them; exit status 1 if "
                              "any fails, 2 if a notebook cannot be read")
    validate.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="your problem-set notebook(s)")
    validate.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    validate.set_defaults(run=_validate)
    site = sub.add_parser("site", help="build the course (lectures executed, problem sets as students get them) "
                          "as a static HTML site that needs no network, with Colab/Binder/JupyterHub links")
    site.add_argument("--out", metavar="DIR", help="folder for the HTML (replaced only if an earlier build made it)")
    site.add_argument("--full", action="store_true", help="execute the lectures in the full setting "
                      "(default: the fast setting, CNNLAB_FAST=1)")
    site.add_argument("--jobs", type=int, default=2, help="lectures executed at a time (default 2)")
    site.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default 1800)")
    site.add_argument("--root", default=".", help="the repository (default: the current folder)")
    site.add_argument("--keep-build", metavar="FOLDER", help="keep the build folder (Sphinx sources, executed "
                      "notebooks, sphinx.log) here")
    site.add_argument("--sync-launch-cells", action="store_true", help="write the set-up cell that "
                      "[tool.cnnlab.site] of pyproject.toml makes into each lecture's first code cell")
    site.set_defaults(run=_site)
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
