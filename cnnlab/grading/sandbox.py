"""Start the student's side of the grader in a bubblewrap sandbox.

Each submission gets ``bwrap`` (the sandbox Flatpak uses) with:

- a private tmpfs home (``/home/student``, at most ``HOME_BYTES``) holding a copy of the
  submission's files (its folder, or only the notebook when folders are shared), the only
  writable place besides a private ``/tmp``;
- the system libraries, the Python environment (``sys.prefix``, ``sys.base_prefix``), the
  ``cnnlab`` package and ``CNNLAB_DATA`` read-only; nothing else of the host (not the
  source notebook, the grade sheet, other submissions, ``$HOME`` or the repository);
- every namespace unshared (no network but its own loopback, its own PIDs: every
  process it starts dies with it), all capabilities dropped, a new session, and death
  with its parent;
- sized tmpfs mounts for the home, ``/tmp`` and ``/dev/shm`` (bwrap's ``/dev`` itself
  holds only device nodes);
- a control group of its own where the grader can make one (``cgroup``): ``--max-memory``
  then bounds heap, tmpfs files, shared memory and memfds together, without swap, and
  ``TASKS`` bounds processes and threads; an OOM kill is reported by :meth:`Worker.kill`;
- resource limits set before ``exec``: address space (``--max-memory``, so that a large
  allocation is a ``MemoryError`` the student's code sees rather than a kill), CPU
  seconds, file size, descriptors, no core files, and where there is no control group a
  per-user process count computed from the user's threads (the kernel counts threads
  and does not apply it to root).

``--no-sandbox`` runs the same worker as a plain child process in a temporary folder,
with the same control group and resource limits and its own process group, but
without the isolation.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cnnlab
from cnnlab.grading import cgroup, wire

HOME = "/home/student"
HOME_BYTES = 512 * 2**20
TMP_BYTES = 64 * 2**20       # each of /tmp and /dev/shm
MAX_COPIED_FILES = 200
FILE_BYTES = 256 * 2**20     # largest file the student's code may write
DESCRIPTORS = 256            # open files of the student's code (plus the copied files, for bwrap)
TASKS = 512                  # processes and threads of one submission, with a control group
NPROC_ALLOWANCE = 256        # threads above the user's current count, without one
STARTUP_CHARS = 300          # of bwrap's or Python's error line, when the worker does not start
STARTUP_ERROR = re.compile(r"bwrap: |[A-Za-z_.]*(Error|Exception): ")
UNPROTECTED = ("without the sandbox, student code runs as you: it can read the source notebook "
               "and hidden tests, write anywhere you can (grade sheet, source, other submissions), "
               "use the network and leave processes behind; only the test judgement, the "
               "resource limits and the time limit still hold")
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/etc/alternatives", "/etc/ld.so.cache",
               "/etc/ssl", "/etc/localtime", "/etc/fonts")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or the kernel refuses it; the message says how to fix it."""


class WorkerUnstarted(RuntimeError):
    """The worker died or fell silent before any student code ran: the grader's failure."""


@functools.lru_cache(maxsize=1)
def check_available() -> None:
    """Raise :class:`SandboxUnavailable` unless bubblewrap can create a sandbox here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (`bwrap`) is not installed. Install it (Debian/Ubuntu: `apt-get install "
            "bubblewrap`, Fedora: `dnf install bubblewrap`), or pass --no-sandbox to grade without "
            "isolation (unsafe for untrusted submissions).")
    probe = subprocess.run([bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create a sandbox here ({probe.stderr.strip() or probe.returncode}). "
            "Unprivileged user namespaces are probably disabled: enable them (`sysctl "
            "kernel.unprivileged_userns_clone=1`, or on Ubuntu 24.04 an AppArmor profile for bwrap), "
            "run in a container that allows them, or pass --no-sandbox (unsafe).")


def usable() -> bool:
    """True when :func:`check_available` passes."""
    try:
        check_available()
    except SandboxUnavailable:
        return False
    return True


def own_thread_count() -> int:
    """Threads (``/proc/*/task``) of this user's processes: what RLIMIT_NPROC counts."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            pass
    return count


def describe_limits(max_memory: int, sandboxed: bool) -> str:
    """One line for the grader's start: which mechanism bounds memory and tasks, and the sizes."""
    where = cgroup.layout()
    if isinstance(where, cgroup.Layout):
        line = (f"limits: {where.describe()}: {size_text(max_memory)} of memory (heap, tmpfs, shared memory and "
                f"memfds, no swap), {TASKS} tasks (threads included)")
    else:
        line = (f"limits: rlimits only (no writable cgroup: {where}): tmpfs, shared memory and memfds not "
                f"counted, {NPROC_ALLOWANCE} threads above the user's current count (not applied to root, "
                "shared by parallel jobs)")
    line += f"; {size_text(max_memory)} of address space per process"
    if sandboxed:
        line += f"; tmpfs /tmp {size_text(TMP_BYTES)}, /dev/shm {size_text(TMP_BYTES)}, home {size_text(HOME_BYTES)}"
    return f"{line}; {DESCRIPTORS} descriptors"


def size_text(count: int) -> str:
    """Bytes as people read them: 805306368 -> "768 MiB", 2**31 -> "2 GiB"."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            value = count / size
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{count} bytes"


def _limiter(max_memory: int, max_seconds: float, descriptors: int, group: cgroup.Group | None):
    """A pre-exec function that moves the child into ``group`` and applies the resource limits."""
    limits = [(resource.RLIMIT_AS, max_memory), (resource.RLIMIT_CPU, int(max_seconds) + 1),
              (resource.RLIMIT_FSIZE, FILE_BYTES), (resource.RLIMIT_NOFILE, descriptors), (resource.RLIMIT_CORE, 0)]
    if group is None:
        limits.append((resource.RLIMIT_NPROC, own_thread_count() + NPROC_ALLOWANCE))

    def apply():
        if group is not None:
            group.join()
        for limit, value in limits:
            resource.setrlimit(limit, (value, value))
    return apply


def _files_to_copy(notebook: Path, whole_folder: bool) -> list[tuple[Path, str]]:
    """``(host path, path relative to the home)`` of the submission's regular files, the
    notebook first, at most half the home's size in all; symbolic links are never followed
    (a link to the source notebook must not copy it in)."""
    if not whole_folder:
        return [(notebook, notebook.name)]
    files, folder, room = [(notebook, notebook.name)], notebook.parent, HOME_BYTES // 2
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))
        for name in sorted(names):
            path = Path(root, name)
            if path == notebook or path.is_symlink() or not path.is_file() or path.stat().st_size > room:
                continue
            room -= path.stat().st_size
            files.append((path, path.relative_to(folder).as_posix()))
    return files[:MAX_COPIED_FILES]


def _environment(python_path: str) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": HOME, "LANG": "C.UTF-8", "PYTHONPATH": python_path,
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    for name in ("CNNLAB_DATA", "CNNLAB_FAST"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


class Worker:
    """The running student side of one submission, started and ready for the student's
    program (else :class:`WorkerUnstarted`, the grader's failure, within ``max_seconds``):
    ``fd_in`` / ``fd_out`` talk to it, :meth:`kill` ends it and everything it started.

    ``memory_killed`` is set by :meth:`kill` when the kernel killed it for memory
    (control group only); ``peak_memory`` is the group's peak use in bytes, or None."""

    def __init__(self, notebook, *, whole_folder: bool, sandbox: bool, max_memory: int,
                 max_seconds: float):
        notebook = Path(notebook)
        package_parent = str(Path(cnnlab.__file__).resolve().parent.parent)
        worker = [sys.executable, "-s", "-m", "cnnlab.grading.worker"]
        self._scratch, self.memory_killed, self.peak_memory = None, False, None
        files = _files_to_copy(notebook, whole_folder)
        opened = []
        if sandbox:
            check_available()
            args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                    "--clearenv", "--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES),
                    "--tmpfs", "/dev/shm", "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
                    "--size", str(HOME_BYTES), "--tmpfs", HOME]
            for path in SYSTEM_DIRS:
                args += ["--ro-bind-try", path, path]
            for path in sorted({sys.prefix, sys.base_prefix, os.path.realpath(sys.prefix)}):
                args += ["--ro-bind", path, path]
            args += ["--ro-bind", str(Path(cnnlab.__file__).resolve().parent), "/opt/cnnlab/cnnlab"]
            if os.environ.get("CNNLAB_DATA") and os.path.isdir(os.environ["CNNLAB_DATA"]):
                args += ["--ro-bind", os.environ["CNNLAB_DATA"], os.environ["CNNLAB_DATA"]]
            for host, relative in files:
                try:
                    fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW)
                except OSError:
                    continue
                opened.append(fd)
                args += ["--file", str(fd), f"{HOME}/{relative}"]
            for name, value in _environment("/opt/cnnlab").items():
                args += ["--setenv", name, value]
            cwd, env = None, None
            args += ["--chdir", HOME, *worker]
        else:
            self._scratch = tempfile.mkdtemp(prefix="cnnlab-grade-")
            for host, relative in files:
                target = Path(self._scratch, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(host, target, follow_symlinks=False)
            args, cwd = worker, self._scratch
            env = dict(os.environ, **{k: v for k, v in _environment(package_parent).items()
                                      if k not in ("PATH", "HOME")})
        where = cgroup.layout()
        self.group = cgroup.Group(where, max_memory, TASKS) if isinstance(where, cgroup.Layout) else None
        try:
            self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, cwd=cwd, env=env, pass_fds=opened,
                                            preexec_fn=_limiter(max_memory, max(1.0, max_seconds),
                                                                DESCRIPTORS + len(opened), self.group),
                                            start_new_session=True)
        except BaseException:
            self._release()
            raise
        finally:
            for fd in opened:
                os.close(fd)
        self.fd_in, self.fd_out = self.process.stdin.fileno(), self.process.stdout.fileno()
        os.set_blocking(self.fd_in, False)  # a worker that stops reading cannot block the judge
        os.set_blocking(self.process.stderr.fileno(), False)
        try:
            self._wait_started(time.monotonic() + max(1.0, max_seconds))
        except WorkerUnstarted as err:
            self.kill()
            if self.memory_killed:
                raise WorkerUnstarted(f"{err}; the kernel killed it for memory") from None
            raise

    def _wait_started(self, deadline: float) -> None:
        """Wait (until ``deadline``, a ``time.monotonic()`` value) for the worker's first
        message, sent before it reads the student's program; raise :class:`WorkerUnstarted`
        saying why when it does not come."""
        try:
            hello = wire.receive(self.fd_out, deadline)
            if hello.get("started") is True:
                return
            why = "its first message was not the start signal"
        except TimeoutError:
            why = "it did not start in time"
        except (wire.WireClosed, OSError, ValueError):
            why = "it exited before any student code ran"
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)  # its exit status says more
        status = self.process.poll()
        output = self._startup_output()
        detail = f" (exit status {status}" + (f": {output}" if output else "") + ")" if status is not None else ""
        raise WorkerUnstarted(f"the sandboxed worker did not start: {why}{detail}")

    def _startup_output(self) -> str:
        """The line that explains what bwrap or Python wrote before the worker muted its
        output: bwrap's error or the first exception line, else the last line."""
        try:
            data = os.read(self.process.stderr.fileno(), 1 << 16) or b""
        except (BlockingIOError, OSError):
            data = b""
        lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
        reason = next((line for line in lines if STARTUP_ERROR.match(line)), lines[-1] if lines else "")
        return "".join(c if c.isprintable() else "?" for c in reason)[:STARTUP_CHARS]

    def kill(self) -> int | None:
        """Kill the worker's process group and control group (the sandbox takes its PID
        namespace with it); return the exit status (negative: the signal that ended it)."""
        status = self.process.poll()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.stdin.close()
        self.process.stdout.close()
        self.process.stderr.close()
        self.process.wait()
        self._release()
        return status

    def _release(self) -> None:
        if self.group is not None:
            self.memory_killed, self.peak_memory = self.group.oom_killed(), self.group.peak()
            self.group.remove()
            self.group = None
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
