"""What enters a batch: finding the submissions, naming their students, reading their bytes.

Two layouts of submissions (``discover``):

- ``default``: the paths given, e.g. ``submissions/*/03_convolution.ipynb``; a student is
  named by the notebook's folder when the file has the source's name, else by the
  file's stem, always from the path *as given* (made absolute, never resolved through
  symbolic links);
- ``nbgrader``: folders laid out as nbgrader's ``collect`` leaves them,
  ``submitted/<student>/<assignment>/<notebook>.ipynb`` (the notebook named like the
  source) with ``timestamp.txt`` beside it; the student is the ``<student>`` folder and
  the timestamp becomes ``submitted_at`` (UTC ISO-8601).

Two submissions that map to one student are refused together (:class:`Ambiguous`),
unless they are one file. A submission's bytes are read by :func:`read_submission`
only if it is a regular file within the size cap, once, and never through a link.
"""
from __future__ import annotations

import datetime
import errno
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.grading.restore import MAX_NOTEBOOK_BYTES, Unreadable

LAYOUTS = ("default", "nbgrader")
READ_CHUNK = 1 << 20


@dataclass
class Submission:
    """One notebook to grade. ``data`` holds its bytes once read (never shown in a repr)."""
    path: Path                 # as given on the command line (or found under it)
    student: str
    submitted_at: str = ""     # UTC ISO-8601, or empty
    data: bytes | None = field(default=None, repr=False)


class Ambiguous(ValueError):
    """Several submissions map to one student; the message lists them."""


def student_from_path(path, solution_name: str) -> str:
    """The folder name when the file has the source's name, else the file's stem; from
    the path as given (``os.path.abspath`` only tidies ``.`` and ``..`` lexically)."""
    path = Path(os.path.abspath(os.fsdecode(path)))
    if path.name == solution_name:
        return path.parent.name
    return path.name[: -len(".ipynb")] if path.name.endswith(".ipynb") else path.stem


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def read_submission(path, cap: int = MAX_NOTEBOOK_BYTES) -> bytes:
    """The bytes of the regular file ``path``, read once and at most ``cap`` of them;
    :class:`Unreadable` (before reading anything) for a symbolic link, a FIFO, a device,
    a folder or a file larger than ``cap``."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise Unreadable("the submission is a symbolic link; hand in the notebook file itself") from None
        raise Unreadable(f"the submission could not be opened ({os.strerror(err.errno or 0)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(f"the submission is {_kind(info.st_mode)}, not a notebook file")
        if info.st_size > cap:
            raise Unreadable(f"the notebook is {info.st_size} bytes (at most {cap}); clear its outputs "
                             "and hand it in again")
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, READ_CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > cap:
            raise Unreadable(f"the notebook grew past {cap} bytes while it was read")
        return data
    except OSError as err:
        raise Unreadable(f"the submission could not be read ({os.strerror(err.errno or 0)})") from None
    finally:
        os.close(fd)


def as_version_4(data: bytes) -> bytes:
    """A notebook's bytes in nbformat 4: older notebooks (nbformat 3) are upgraded with
    nbformat; anything that is not a JSON notebook of an older format is returned as it
    is (``restore.parse_notebook`` says what is wrong with it)."""
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return data
    version = notebook.get("nbformat") if isinstance(notebook, dict) else None
    if type(version) is not int or version >= 4:
        return data
    import nbformat

    try:
        upgraded = nbformat.reads(data.decode("utf-8"), as_version=4)
        return nbformat.writes(upgraded).encode("utf-8")
    except Exception as err:  # nbformat's converters raise whatever the odd notebook provokes
        raise Unreadable(f"the nbformat-{version} notebook could not be upgraded to nbformat 4 "
                         f"({type(err).__name__}); save it again with a current Jupyter") from None


def parse_timestamp(text: str) -> str:
    """A timestamp as nbgrader writes it (``2026-12-01 14:03:22.123456 UTC``, any zone name
    or numeric offset nbgrader's ``timestamp_format`` can give, or ISO-8601; no zone
    means UTC, as nbgrader reads it) as UTC ISO-8601 to the second; ``ValueError`` if it
    is not a time."""
    import dateutil.parser
    import dateutil.tz

    text = text.strip()
    parts = text.split(" ")
    try:
        if len(parts) == 3 and parts[2][:1].isalpha():  # a zone name (nbgrader's %Z)
            zone = dateutil.tz.gettz(parts[2]) if parts[2] not in ("UTC", "Z", "GMT") else datetime.timezone.utc
            if zone is None:
                raise ValueError(f"unknown time zone {parts[2]!r}")
            moment = dateutil.parser.parse(" ".join(parts[:2])).replace(tzinfo=zone)
        else:
            moment = dateutil.parser.parse(text)
    except (ValueError, OverflowError) as err:
        raise ValueError(f"{text[:80]!r} is not a time nbgrader writes ({err})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nbgrader_submissions(root: Path, solution_name: str, log) -> list[Submission]:
    if not root.is_dir():
        raise ValueError(f"--layout nbgrader: {root} is not a folder; give nbgrader's submitted/ folder")
    found = []
    for notebook in sorted(root.glob(f"*/*/{solution_name}")):
        student_folder = notebook.parent.parent
        stamp_file = notebook.parent / "timestamp.txt"
        submitted_at = ""
        if stamp_file.is_file() and not stamp_file.is_symlink():
            try:
                submitted_at = parse_timestamp(read_submission(stamp_file, cap=4096).decode("utf-8", "replace"))
            except (Unreadable, ValueError) as err:
                log(f"{stamp_file}: {err}; submitted_at left empty")
        found.append(Submission(notebook, student_folder.name, submitted_at))
    return found


def discover(paths, solution, layout: str = "default", log=print) -> list[Submission]:
    """The submissions to grade from the command line's ``paths`` (see the module's
    docstring); :class:`Ambiguous` if two of them map to one student."""
    solution_name = Path(solution).name
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if layout == "nbgrader":
        submissions = [s for root in paths for s in _nbgrader_submissions(Path(os.fsdecode(root)), solution_name,
                                                                          log)]
        if paths and not submissions:
            raise ValueError(f"--layout nbgrader: no <student>/<assignment>/{solution_name} under "
                             + ", ".join(map(os.fsdecode, paths)))
    else:
        submissions = [Submission(Path(os.fsdecode(p)), student_from_path(p, solution_name)) for p in paths]
    refuse_duplicates(submissions)
    return submissions


def _identity(path: Path):
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return ("missing", os.path.abspath(path))
    return (info.st_dev, info.st_ino)


def refuse_duplicates(submissions: list[Submission]) -> None:
    """:class:`Ambiguous`, listing every group, when two different files map to one
    student (the same file given twice is graded once: the repeats are dropped)."""
    groups: dict[str, list[Submission]] = {}
    for submission in submissions:
        groups.setdefault(submission.student, []).append(submission)
    clashes, repeats = [], set()
    for student, group in groups.items():
        files = {}
        for submission in group:
            files.setdefault(_identity(submission.path), []).append(submission)
        if len(files) > 1:
            clashes.append((student, group))
        else:
            repeats.update(id(s) for s in group[1:])
    if clashes:
        from cnnlab.grading.sheet import terminal_text

        lines = [f"  {terminal_text(student)}: " + ", ".join(terminal_text(s.path) for s in group)
                 for student, group in clashes]
        raise Ambiguous("these submissions map to one student each; grade them in separate batches or "
                        "rename them so that each student has one notebook:\n" + "\n".join(lines))
    submissions[:] = [s for s in submissions if id(s) not in repeats]
