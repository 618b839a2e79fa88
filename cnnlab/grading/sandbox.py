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
- resource limits set before ``exec``: address space (``--max-memory``), CPU seconds,
  file size, and number of processes (the kernel does not apply the last to root).

``--no-sandbox`` runs the same worker as a plain child process in a temporary folder,
with the same resource limits and its own process group, but without the isolation.
"""
from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import cnnlab

HOME = "/home/student"
HOME_BYTES = 512 * 2**20
MAX_COPIED_FILES = 200
FILE_BYTES = 256 * 2**20     # largest file the student's code may write
NPROC_ALLOWANCE = 256
UNPROTECTED = ("without the sandbox, student code runs as you: it can read the source notebook "
               "and hidden tests, write anywhere you can (grade sheet, source, other submissions), "
               "use the network and leave processes behind; only the test judgement, the "
               "resource limits and the time limit still hold")
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/etc/alternatives", "/etc/ld.so.cache",
               "/etc/ssl", "/etc/localtime", "/etc/fonts")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or the kernel refuses it; the message says how to fix it."""


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


def _own_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        try:
            count += entry.name.isdigit() and entry.stat().st_uid == uid
        except OSError:
            pass
    return count


def _limiter(max_memory: int, max_seconds: float):
    """A pre-exec function that applies the resource limits to the child."""
    nproc = _own_process_count() + NPROC_ALLOWANCE
    cpu = int(max_seconds) + 1

    def apply():
        for limit, value in ((resource.RLIMIT_AS, max_memory), (resource.RLIMIT_CPU, cpu),
                             (resource.RLIMIT_FSIZE, FILE_BYTES), (resource.RLIMIT_NPROC, nproc),
                             (resource.RLIMIT_CORE, 0)):
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
    """The running student side of one submission: ``fd_in`` / ``fd_out`` talk to it,
    :meth:`kill` ends it and everything it started."""

    def __init__(self, notebook, *, whole_folder: bool, sandbox: bool, max_memory: int,
                 max_seconds: float):
        notebook = Path(notebook)
        package_parent = str(Path(cnnlab.__file__).resolve().parent.parent)
        worker = [sys.executable, "-s", "-m", "cnnlab.grading.worker"]
        self._scratch = None
        files = _files_to_copy(notebook, whole_folder)
        opened = []
        if sandbox:
            check_available()
            args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                    "--clearenv", "--proc", "/proc", "--dev", "/dev", "--size", str(64 * 2**20),
                    "--tmpfs", "/tmp", "--size", str(HOME_BYTES), "--tmpfs", HOME]
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
        try:
            self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, cwd=cwd, env=env, pass_fds=opened,
                                            preexec_fn=_limiter(max_memory, max_seconds),
                                            start_new_session=True)
        finally:
            for fd in opened:
                os.close(fd)
        self.fd_in, self.fd_out = self.process.stdin.fileno(), self.process.stdout.fileno()
        os.set_blocking(self.fd_in, False)  # a worker that stops reading cannot block the judge

    def kill(self) -> int | None:
        """Kill the worker's process group (the sandbox takes its PID namespace with it);
        return the exit status (negative: the signal that ended it)."""
        status = self.process.poll()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.stdin.close()
        self.process.stdout.close()
        self.process.wait()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
        return status
