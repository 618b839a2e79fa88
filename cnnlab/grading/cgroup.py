"""One control group per submission: memory (tmpfs, shared memory and memfds included,
no swap) and tasks (threads included) limited together, below the grader's own group.

Two layouts are supported, found from ``/proc/self/cgroup`` and ``/proc/self/mountinfo``:

- cgroup v1 with the ``memory`` and ``pids`` controllers mounted (each its own
  hierarchy): ``memory.limit_in_bytes``, ``memory.memsw.limit_in_bytes`` (when the
  kernel accounts swap) and ``pids.max``; an OOM kill shows in ``memory.oom_control``
  (``oom_kill N``), the peak in ``memory.max_usage_in_bytes``;
- cgroup v2 where the grader's group already delegates ``memory`` and ``pids`` to its
  children (``cgroup.subtree_control``): ``memory.max``, ``memory.swap.max`` = 0,
  ``pids.max``; ``memory.events`` (``oom_kill N``) and ``memory.peak``.

A group is always created directly below the group the grader runs in (in each
controller's hierarchy), named ``cnnlab-<grader pid>-<n>``, so its limits nest inside
whatever the grader runs under and nothing else in the hierarchy is touched.
:meth:`Group.remove` kills what is left in it and removes it. Where no group can be
created (no such controllers, no write permission, an undelegated v2 group),
:func:`layout` says why and the sandbox falls back to resource limits alone.
"""
from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_counter = itertools.count()


@dataclass(frozen=True)
class Layout:
    """Where groups are made: ``version`` 1 or 2, and the grader's own group folder per
    controller (``{"memory": Path, "pids": Path}``; one folder for both under v2)."""
    version: int
    parents: dict

    def describe(self) -> str:
        """e.g. ``cgroup v1 memory+pids below /process_api/abc``."""
        if self.version == 2:
            return f"cgroup v2 memory+pids below {self.parents['memory']}"
        return f"cgroup v1 memory+pids below {self.parents['memory']} (memory), {self.parents['pids']} (pids)"


def _own_groups() -> dict[str, str]:
    """``/proc/self/cgroup`` as {controller: path}; the v2 entry under the key ``""``."""
    groups = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            groups[name] = path
    return groups


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(root, mount point, file system type, super options) of each cgroup mount."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            mounts.append((fields[3], fields[4].replace("\\040", " "), tail[0], set(tail[2].split(","))))
    return mounts


def _folder(mount_root: str, mount_point: str, group: str) -> Path | None:
    """The folder of ``group`` (a path from /proc/self/cgroup) under a mount of its hierarchy."""
    if mount_root != "/" and not (group + "/").startswith(mount_root.rstrip("/") + "/"):
        return None
    relative = group[len(mount_root.rstrip("/")):] if mount_root != "/" else group
    return Path(mount_point, relative.lstrip("/"))


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


@functools.lru_cache(maxsize=1)
def layout() -> Layout | str:
    """The :class:`Layout` groups can be made in, or a sentence saying why there is none."""
    try:
        groups, mounts = _own_groups(), _mounts()
    except OSError as err:
        return f"cannot read /proc/self/cgroup or mountinfo ({err})"
    v1 = {}
    for controller in ("memory", "pids"):
        for root, point, kind, options in mounts:
            if kind == "cgroup" and controller in options and controller in groups:
                v1[controller] = _folder(root, point, groups[controller])
    if v1.get("memory") and v1.get("pids"):
        unwritable = [str(f) for f in v1.values() if not _writable(f)]
        if not unwritable:
            return Layout(1, v1)
        return f"cgroup v1 groups {', '.join(unwritable)} are not writable by this user"
    v2 = next((_folder(root, point, groups[""]) for root, point, kind, _ in mounts
               if kind == "cgroup2" and "" in groups), None)
    if v2 is None:
        return "no cgroup v1 memory and pids controllers and no cgroup v2 mount"
    try:
        delegated = set((v2 / "cgroup.subtree_control").read_text().split())
    except OSError:
        delegated = set()
    if not {"memory", "pids"} <= delegated:
        return (f"the cgroup v2 group {v2} does not delegate memory and pids to child groups "
                f"(cgroup.subtree_control: {' '.join(sorted(delegated)) or 'empty'}); run the grader in a "
                "group that does, e.g. a systemd unit with Delegate=yes")
    if not _writable(v2):
        return f"the cgroup v2 group {v2} is not writable by this user"
    return Layout(2, {"memory": v2, "pids": v2})


def _write(path: Path, value) -> None:
    with open(path, "w") as file:
        file.write(str(value))


def _counts(path: Path) -> dict[str, int]:
    """A flat-keyed file (``name value`` lines) as a dict; {} when unreadable."""
    try:
        pairs = (line.split() for line in path.read_text().splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}
    except OSError:
        return {}


class Group:
    """One submission's group: ``memory_bytes`` of memory (no swap) and ``tasks`` tasks.

    :meth:`join` (safe in a pre-exec function) moves the calling process into it;
    :meth:`oom_killed` and :meth:`peak` read what happened; :meth:`remove` ends it."""

    def __init__(self, where: Layout, memory_bytes: int, tasks: int):
        self.layout = where
        name = f"cnnlab-{os.getpid()}-{next(_counter)}"
        self.folders = sorted({parent / name for parent in where.parents.values()})
        self.memory = where.parents["memory"] / name
        self.pids = where.parents["pids"] / name
        try:
            for folder in self.folders:
                folder.mkdir()
            if where.version == 1:
                _write(self.memory / "memory.limit_in_bytes", memory_bytes)
                if (self.memory / "memory.memsw.limit_in_bytes").exists():
                    _write(self.memory / "memory.memsw.limit_in_bytes", memory_bytes)
                else:
                    _write(self.memory / "memory.swappiness", 0)
            else:
                _write(self.memory / "memory.max", memory_bytes)
                if (self.memory / "memory.swap.max").exists():
                    _write(self.memory / "memory.swap.max", 0)
            _write(self.pids / "pids.max", tasks)
        except OSError:
            self.remove()
            raise
        self._procs = [str(folder / "cgroup.procs") for folder in self.folders]

    def join(self) -> None:
        """Move the calling process (and so everything it starts) into the group."""
        pid = str(os.getpid())
        for procs in self._procs:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, pid.encode())
            finally:
                os.close(fd)

    def oom_killed(self) -> bool:
        """True when the kernel killed a process of the group for memory."""
        events = "memory.oom_control" if self.layout.version == 1 else "memory.events"
        return _counts(self.memory / events).get("oom_kill", 0) > 0

    def peak(self) -> int | None:
        """The most memory the group used, in bytes (None where the kernel does not say)."""
        name = "memory.max_usage_in_bytes" if self.layout.version == 1 else "memory.peak"
        try:
            return int((self.memory / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _members(self) -> set[int]:
        members = set()
        for folder in self.folders:
            try:
                members |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                pass
        return members

    def remove(self) -> None:
        """Kill every process still in the group, then remove its folders."""
        deadline = time.monotonic() + 10
        while True:
            members = self._members()
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                for folder in self.folders:
                    if folder.exists():
                        folder.rmdir()
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
