"""The ``cnnlab`` command line, for students and instructors.

    cnnlab info              versions, device, fast mode, CNNLAB_DATA and where data is looked for
    cnnlab fetch [DATASET]   download (or find) and verify MNIST / Fashion-MNIST
    cnnlab notebook pin|strip NOTEBOOK...
                             execute and keep only checked outputs | strip outputs
    cnnlab exercises [SOLUTIONS|FILE.ipynb] [OUT]
                             check the sets, then generate exercises/ from solutions/
                             (--no-grade: static checks only; --check: only report stale ones)
    cnnlab grade SUBMISSION... --solution NOTEBOOK [--out grades.csv] [--feedback DIR] [--jobs N]
                             grade students' notebooks (sandboxed; see `cnnlab grade --help`)
    cnnlab validate NOTEBOOK...
                             run a notebook's visible tests; exit 1 if any fails
    cnnlab report GRADES.csv... --out DIR     class report (HTML + PNGs, answer similarity)
    cnnlab export GRADES.csv... --format canvas|moodle|wide --out FILE
                             one row per student for a gradebook import
    cnnlab feedback GRADES.csv... --out DIR  one feedback file per student and set
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
    from pathlib import Path

    from .grading import generate, release, sandbox

    source = Path(args.solutions)
    if source.is_dir():
        sets = sorted(source.glob("*.ipynb"))
    elif source.suffix == ".ipynb" and source.is_file():
        sets = [source]
    else:
        print(f"cnnlab exercises: {source} is neither a folder of solution notebooks nor a .ipynb file",
              file=sys.stderr)
        return 2
    if not sets:
        print(f"cnnlab exercises: {source} holds no .ipynb notebooks", file=sys.stderr)
        return 2
    out = Path(args.exercises)
    if any(s.resolve().parent == out.resolve() for s in sets):
        print(f"cnnlab exercises: {out} is the folder of the solutions; name another folder for the exercises",
              file=sys.stderr)
        return 2
    if args.check:
        stale = [s.name for s in sets if generate.is_stale(s, out / s.name)]
        for name in stale:
            print(f"stale: {name} (run `cnnlab exercises` to regenerate)")
        return 1 if stale else 0
    problems = [p for s in sets for p in release.static_problems(s)]
    if not problems and not args.no_grade:
        try:
            sandbox.check_available()
        except sandbox.SandboxUnavailable as err:
            print(f"cnnlab exercises: cannot run the release check (the grader's sandbox): {err}\n"
                  "Install bubblewrap, or pass --no-grade to run only the static checks.", file=sys.stderr)
            return 2
        for s in sets:
            print(f"release check: grading {s} and its exercise ...", flush=True)
            problems += release.release_problems(s)
    if problems:
        print(f"cnnlab exercises: nothing written; {len(problems)} problem(s) to fix:", file=sys.stderr)
        for problem in problems:
            print(f"- {problem}", file=sys.stderr)
        return 2
    for path in generate.write_exercises(sets, out):
        print(f"wrote {path}")
    return 0


def _grade(args) -> int:
    from .grading import batch, grade, intake, release, sandbox, sheet

    try:
        max_memory = grade.parse_size(args.max_memory)
        shard = _parse_shard(args.shard) if args.shard else None
    except ValueError as err:
        print(f"cnnlab grade: {err}", file=sys.stderr)
        return 2
    if not args.allow_exercise and release.looks_like_exercise(args.solution):
        print(f"cnnlab grade: {args.solution} has no '### BEGIN SOLUTION' and no '### BEGIN HIDDEN TESTS' lines: "
              "it looks like an exercise, and grading against it would leave out the hidden tests. Give the "
              "solution notebook the exercise was generated from (e.g. solutions/NAME.ipynb), or pass "
              "--allow-exercise if this really is the source.", file=sys.stderr)
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
    print(sandbox.describe_limits(max_memory, not args.no_sandbox))
    try:
        prepared = grade.prepare(args.solution)
        peak = grade.check_setup_fits(prepared, options)
    except (OSError, ValueError) as err:  # limits too small, or a source that cannot be read or set up
        print(f"cnnlab grade: {err}", file=sys.stderr)
        return 2 if isinstance(err, grade.SetupDoesNotFit) else 1
    versions = ", ".join(f"{name} {version}" for name, version in sheet.runtime_versions().items())
    measured = f" (peak {sandbox.size_text(peak)})" if peak else ""
    print(f"set-up cells fit the limits{measured}; grading with {versions}")
    try:
        reports = batch.grade_batch(args.submissions, prepared, args.out, args.feedback, options,
                                    jobs=args.jobs, force=args.force, shard=shard, layout=args.layout)
    except intake.Ambiguous as err:  # refused before anything is graded
        print(f"cnnlab grade: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:  # the grader's own failure: a broken source, a full disk
        print(f"cnnlab grade: {sheet.terminal_text(err)}", file=sys.stderr)
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
    from .grading.validate import (NotebookUnusable, format_table, off_limits_warnings, validate_notebook,
                                   version_warnings)

    if args.timeout <= 0:
        print(f"cnnlab validate: --timeout {args.timeout}: give the seconds a cell may run, e.g. 120",
              file=sys.stderr)
        return 2
    for warning in version_warnings():
        print(f"warning: {warning}", file=sys.stderr)
    status = 0
    for path in args.notebooks:
        try:
            outcomes = validate_notebook(path, timeout=args.timeout)
        except NotebookUnusable as err:
            print(f"error: {err}", file=sys.stderr)
            status = max(status, 2)
            continue
        except KeyboardInterrupt:
            print(f"cnnlab validate: interrupted while running {path}; its kernel was stopped", file=sys.stderr)
            return 130
        print(f"{path}\n{format_table(outcomes)}\n")
        for warning in off_limits_warnings(path):
            print(f"warning: {warning}", file=sys.stderr)
            status = max(status, 1)
        if not all(o.passed for o in outcomes):
            status = max(status, 1)
    return status


# --- after grading: report, export, feedback (cnnlab.classroom) ---------------------------

def _adjusted_rows(args):
    """The merged sheets with overrides and the late penalty, and the merge notes."""
    from .classroom import adjust, sheets

    rows, notes = sheets.merge_sheets(args.sheets)
    overrides = adjust.read_overrides(args.overrides) if args.overrides else []
    policy = adjust.parse_late_policy(args.deadline, args.late_penalty)
    return adjust.apply(rows, overrides, policy), notes, policy


def _classroom(command):
    """Run ``command(args)`` turning input errors (the classroom modules raise ValueErrors
    that say what to fix) into a message and exit status 2."""
    def run(args) -> int:
        try:
            return command(args)
        except (ValueError, FileNotFoundError) as err:  # bad sheets, overrides, options, rosters, names
            print(f"cnnlab {args.command}: {err}", file=sys.stderr)
            return 2
    return run


def _report(args) -> int:
    from .classroom.report import write_report

    rows, notes, policy = _adjusted_rows(args)
    for note in notes:
        print(note, file=sys.stderr)
    index = write_report(rows, args.out, submissions=args.submissions, solutions=args.solutions, notes=notes,
                         policy=policy)
    print(f"report written to {index}")
    return 0


def _export(args) -> int:
    from .classroom import export

    rows, notes, _ = _adjusted_rows(args)
    roster = export.read_roster(args.roster) if args.roster else None
    table, warnings = export.build_table(rows, args.format, roster, args.match)
    for line in notes + warnings:
        print(line, file=sys.stderr)
    export.write_export(table, args.out)
    print(f"{len(table) - 1 - (args.format == 'canvas')} students written to {args.out} ({args.format})")
    return 0


def _feedback(args) -> int:
    from .classroom.feedback import write_feedback

    rows, notes, _ = _adjusted_rows(args)
    for note in notes:
        print(note, file=sys.stderr)
    written = write_feedback(rows, args.out, args.html)
    print(f"{len(written)} feedback files written under {args.out}")
    return 0


def _add_classroom_commands(sub) -> None:
    def common(parser):
        parser.add_argument("sheets", nargs="+", metavar="GRADES.csv",
                            help="grade sheet(s) from `cnnlab grade --out`; several (one per shard) are merged, "
                            "a row in two keeps the later graded_at")
        parser.add_argument("--overrides", metavar="FILE.csv",
                            help="CSV student,set,test,points,comment: a test's points (test = grade_id; how "
                            "hand-graded cells get points) or an adjustment of the whole set (test empty or *)")
        parser.add_argument("--deadline", metavar="ISO", help="e.g. 2026-12-01T23:59:00Z (with --late-penalty)")
        parser.add_argument("--late-penalty", metavar="RATE",
                            help="10/h: points per started hour late; 0.1/day: fraction of the score per started day")
    report = sub.add_parser("report", help="class report: one offline HTML page with figures, per-test pass "
                            "rates, hand-graded answers and answer similarity")
    common(report)
    report.add_argument("--out", required=True, help="folder for index.html and its PNGs")
    report.add_argument("--submissions", metavar="DIR_OR_GLOB",
                        help="the students' notebooks (folder or glob), for answer similarity and written answers")
    report.add_argument("--solutions", metavar="DIR", help="folder of the solution notebooks (answer cells, "
                        "the exercise's template, the answer key)")
    report.set_defaults(run=_classroom(_report))
    export = sub.add_parser("export", help="one row per student for Canvas, Moodle or a wide table")
    common(export)
    export.add_argument("--format", required=True, choices=["canvas", "moodle", "wide"])
    export.add_argument("--out", required=True, help="CSV file to write")
    export.add_argument("--roster", help="the LMS's own gradebook export (Canvas: Student, ID, SIS User ID, "
                        "SIS Login ID, Section; Moodle: its grade export)")
    export.add_argument("--match", metavar="COLUMN", help="roster column holding the submission folder names "
                        "(default: SIS Login ID for Canvas, Email address for Moodle)")
    export.set_defaults(run=_classroom(_export))
    feedback = sub.add_parser("feedback", help="one feedback file per student and set: DIR/<student>/<set>.md")
    common(feedback)
    feedback.add_argument("--out", required=True, help="folder to write the feedback files under")
    feedback.add_argument("--html", action="store_true", help="also write a self-contained .html beside each .md")
    feedback.set_defaults(run=_classroom(_feedback))

# --- end of the after-grading commands -----------------------------------------------------


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
    exercises = sub.add_parser("exercises", help="check solution notebooks, then generate their exercises",
                               description="Check every solution notebook (markers, metadata; then the real grader "
                               "must give the solution full marks and the exercise 0) and, only if all pass, "
                               "write the exercises. Exit status 2 and nothing written when a check fails.")
    exercises.add_argument("solutions", nargs="?", default="solutions", metavar="SOLUTIONS",
                           help="a solution notebook (.ipynb) or a folder of them (default: solutions)")
    exercises.add_argument("exercises", nargs="?", default="exercises", metavar="OUT",
                           help="folder to write the exercise notebooks to, same names (default: exercises)")
    exercises.add_argument("--check", action="store_true",
                           help="only report exercises that are out of date (exit 1 if any); check nothing else")
    exercises.add_argument("--no-grade", action="store_true",
                           help="static checks only: no grading, no sandbox, well under a second per set; use it "
                           "while writing a set, and run once without it before handing the exercises out")
    exercises.set_defaults(run=_exercises)
    grade = sub.add_parser("grade", help="grade students' notebooks against a solution notebook, "
                           "each student's code in a sandbox")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                       help="students' notebooks, e.g. submissions/*/03_convolution.ipynb; a student is "
                       "named by the notebook's folder (or by the file name if it differs from the source's)")
    grade.add_argument("--layout", choices=["default", "nbgrader"], default="default",
                       help="default: SUBMISSION... are notebooks; nbgrader: SUBMISSION... are nbgrader's submitted/ "
                       "folders, holding <student>/<assignment>/<notebook named like the solution> and "
                       "timestamp.txt (recorded as submitted_at)")
    grade.add_argument("--solution", required=True, help="the solution notebook the exercise came from")
    grade.add_argument("--out", default="grades.csv", help="CSV to merge the grades into (default grades.csv)")
    grade.add_argument("--feedback", help="folder for the feedback: <student>/<notebook stem>.md per student")
    grade.add_argument("--timeout", type=float, default=120, help="seconds allowed per test cell (default 120)")
    grade.add_argument("--max-time", type=float, default=300,
                       help="wall-clock seconds per submission, notebook and tests (default 300)")
    grade.add_argument("--max-memory", default="2G", help="memory of a student's code, e.g. 2G (default 2G)")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    grade.add_argument("--force", action="store_true",
                       help="grade again submissions already graded from the same source and submission bytes")
    grade.add_argument("--shard", metavar="K/N", help="grade only the K-th of N shards of the submissions "
                       "(one per batch job; all shards may merge into one sheet)")
    grade.add_argument("--allow-exercise", action="store_true",
                       help="grade against a --solution notebook that has no solution markers and no hidden tests")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code without bubblewrap isolation (unsafe; says what is unprotected)")
    grade.set_defaults(run=_grade)
    validate = sub.add_parser("validate", help="run a notebook's visible tests and list them; exit status 1 if "
                              "any fails, 2 if a notebook cannot be read")
    validate.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="your problem-set notebook(s)")
    validate.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    validate.set_defaults(run=_validate)
    _add_classroom_commands(sub)
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
