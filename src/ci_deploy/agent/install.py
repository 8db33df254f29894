"""Install: remove what the group's previous Install created, copy the revision's ``files``,
and record every path created, so the next Install can remove exactly those.

Unlike the agent, everything that can make the Install fail (a missing source, two sources for
one destination, a file that already exists under DISALLOW, a path escaping the install root) is
found *before* the previous revision's files are removed: such a failure leaves the previous
installation and its record intact.
"""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH101, PTH102, PTH106, PTH108, PTH112, PTH114, PTH115, PTH116, PTH118, PTH119, PTH120, PTH211

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from ci_deploy.agent.copy import copy_file
from ci_deploy.agent.revision import AppSpec, RevisionError
from ci_deploy.agent.state import GroupState

_BATCH = 256  # files per task: one task per small file costs more than it saves
_COPY_THREADS = 2


class InstallError(Exception):
    """The Install failed; ``installed`` lists what this deployment had put on disk by then."""

    def __init__(self, message: str, installed: list[str]) -> None:
        super().__init__(message)
        self.installed = installed


class InstallStopped(InstallError):
    """The deployment was cancelled during Install."""


class _Op(NamedTuple):
    # A NamedTuple, not a dataclass: one is made per installed path, so creation cost counts.
    kind: str  # dir|file|link
    source: str  # for dir: the bundle directory it mirrors ("" for a created parent)
    dest: str
    mode: int
    st: os.stat_result | None = None  # a file's source stat, taken while planning


@dataclass
class Plan:
    ops: list[_Op]
    overwrite: set[str]  # foreign files replaced under OVERWRITE
    retained: list[str]  # foreign files kept under RETAIN


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def destination_path(root: Path, destination: str, where: str) -> str:
    """The host path of an appspec destination under ``root``; never outside it."""
    relative = PurePosixPath(destination.replace("\\", "/").lstrip("/"))
    if ".." in relative.parts:
        raise RevisionError(f"{where}: destination {destination!r} contains '..'")
    top = os.path.normpath(str(root))
    path = os.path.normpath(os.path.join(top, *relative.parts)) if relative.parts else top
    if not _inside(path, top):
        raise RevisionError(f"{where}: destination {destination!r} is outside the install root")
    return path


def source_path(archive: Path, source: str, where: str) -> str:
    relative = PurePosixPath(source.replace("\\", "/").lstrip("/"))
    if ".." in relative.parts:
        raise RevisionError(
            f"{where}: source {source!r} contains '..'; it must stay in the revision"
        )
    path = os.path.join(str(archive), *relative.parts) if relative.parts else str(archive)
    if not os.path.lexists(path):
        raise RevisionError(f"{where}: source {source!r} does not exist in the revision")
    return path


class _Planner:
    def __init__(self, root: str, previous: set[str]) -> None:
        self.root = root
        self.previous = previous
        self.ops: list[_Op] = []
        self.by_dest: dict[str, _Op] = {}

    def add(self, op: _Op) -> None:
        known = self.by_dest.get(op.dest)
        if known is None:
            self.by_dest[op.dest] = op
            self.ops.append(op)
            return
        if known.kind == "dir" and op.kind == "dir":
            return
        raise RevisionError(
            f"files: {op.dest} would be installed from both {known.source or 'a directory'} "
            f"and {op.source}"
        )

    def parents(self, dest: str) -> None:
        """Directories between the root and ``dest`` (inclusive) that the install creates."""
        missing = []
        current = dest
        while (
            current != self.root
            and current not in self.by_dest
            # A directory of the previous revision is removed first, when it ends up empty.
            and (current in self.previous or not os.path.isdir(current))
        ):
            missing.append(current)
            current = os.path.dirname(current)
        for path in reversed(missing):
            self.add(_Op("dir", "", path, 0o755))

    def tree(self, source_dir: str, dest_dir: str, seen: frozenset[str]) -> None:
        real = os.path.realpath(source_dir)
        if real in seen:
            raise RevisionError(f"files: symlink loop at {source_dir}")
        seen = seen | {real}
        with os.scandir(source_dir) as entries:
            listing = sorted(entries, key=lambda entry: entry.name)
        for entry in listing:
            dest = os.path.join(dest_dir, entry.name)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                if os.path.isdir(entry.path):
                    # The agent installs a symlink to a directory as a real directory of copies.
                    self.add(
                        _Op("dir", entry.path, dest, stat.S_IMODE(os.stat(entry.path).st_mode))
                    )
                    self.tree(entry.path, dest, seen)
                else:
                    self.add(_Op("link", entry.path, dest, 0))
            elif stat.S_ISDIR(st.st_mode):
                self.add(_Op("dir", entry.path, dest, stat.S_IMODE(st.st_mode)))
                self.tree(entry.path, dest, seen)
            elif stat.S_ISREG(st.st_mode):
                self.add(_Op("file", entry.path, dest, stat.S_IMODE(st.st_mode), st))


def plan_install(
    archive: Path, appspec: AppSpec, root: Path, previous: set[str], behavior: str
) -> Plan:
    """Every path the Install will create, checked against what is on disk now."""
    planner = _Planner(os.path.normpath(str(root)), previous)
    for index, mapping in enumerate(appspec.files):
        where = f"files[{index}]"
        source = source_path(archive, mapping.source, where)
        dest = destination_path(root, mapping.destination, where)
        real = os.path.realpath(dest)
        if not _inside(real, os.path.realpath(planner.root)):
            raise RevisionError(
                f"{where}: destination {mapping.destination} resolves to {real} through a "
                "symlink, outside the install root"
            )
        planner.parents(dest)
        if os.path.isdir(source):
            planner.tree(source, dest, frozenset())
        elif os.path.islink(source):
            planner.add(_Op("link", source, os.path.join(dest, os.path.basename(source)), 0))
        else:
            st = os.stat(source)
            target = os.path.join(dest, os.path.basename(source))
            planner.add(_Op("file", source, target, stat.S_IMODE(st.st_mode), st))
    return _check_existing(planner, previous, behavior)


def _check_existing(planner: _Planner, previous: set[str], behavior: str) -> Plan:
    ops: list[_Op] = []
    overwrite: set[str] = set()
    retained: list[str] = []
    conflicts: list[str] = []
    fresh: set[str] = set()  # directories this install creates: nothing can exist below them
    for op in planner.ops:
        if os.path.dirname(op.dest) in fresh:
            ops.append(op)
            if op.kind == "dir":
                fresh.add(op.dest)
            continue
        try:
            st = os.lstat(op.dest)
        except FileNotFoundError:
            ops.append(op)
            if op.kind == "dir":
                fresh.add(op.dest)
            continue
        ours = op.dest in previous
        if op.kind == "dir":
            if stat.S_ISDIR(st.st_mode) or (not ours and os.path.isdir(op.dest)):
                real = os.path.realpath(op.dest)
                if not _inside(real, os.path.realpath(planner.root)):
                    raise RevisionError(
                        f"files: {op.dest} is a symlink to {real}, outside the install root"
                    )
                ops.append(op)
            elif ours:
                ops.append(op)
            else:
                raise RevisionError(f"files: cannot create directory {op.dest}: a file is there")
            continue
        if ours:
            ops.append(op)
        elif stat.S_ISDIR(st.st_mode):
            raise RevisionError(f"files: cannot install {op.dest}: a directory is there")
        elif behavior == "OVERWRITE":
            overwrite.add(op.dest)
            ops.append(op)
        elif behavior == "RETAIN":
            retained.append(op.dest)
        else:
            conflicts.append(op.dest)
    if conflicts:
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        raise RevisionError(
            "The deployment failed because a specified file already exists at this location: "
            f"{conflicts[0]}{more}. It was not installed by this deployment group's previous "
            "revision; set file_exists_behavior to OVERWRITE or RETAIN, or remove it. "
            "The previous installation was left intact."
        )
    return Plan(ops, overwrite, retained)


def planned_kinds(plan: Plan, previous: set[str]) -> dict[str, str]:
    """What executing ``plan`` creates, path -> file (files and links) or directory: the
    directories that do not exist yet, or that the previous revision created (removed first;
    one still holding a foreign file stays and is counted all the same)."""
    kinds: dict[str, str] = {}
    for op in plan.ops:
        if op.kind != "dir":
            kinds[op.dest] = "file"
        elif (
            op.dest in previous
            or os.path.dirname(op.dest) in kinds  # below a directory it creates
            or not os.path.lexists(op.dest)
        ):
            kinds[op.dest] = "directory"
    return kinds


def remove_previous(paths: list[str]) -> None:
    """Delete what the previous Install created: files and links, then directories once
    empty (a directory still holding a foreign file stays)."""
    for path in reversed(paths):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        try:
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                raise


def _create_directories(plan: Plan, installed: list[str]) -> None:
    for op in plan.ops:
        if op.kind != "dir":
            continue
        try:
            os.mkdir(op.dest, op.mode)
        except FileExistsError:
            continue  # an existing directory is used, not taken over
        os.chmod(op.dest, op.mode)
        installed.append(op.dest)


def _create_entries(ops: list[_Op], overwrite: set[str]) -> tuple[list[str], OSError | None]:
    """Copy files and make links; never raises, so a batch reports what it did before failing."""
    done: list[str] = []
    try:
        for op in ops:
            if op.dest in overwrite:
                os.unlink(op.dest)
            if op.kind == "file":
                copy_file(op.source, op.dest, op.st or os.stat(op.source))
            else:
                os.symlink(os.readlink(op.source), op.dest)
            done.append(op.dest)
    except OSError as error:
        return done, error
    return done, None


def execute(plan: Plan, should_stop: Callable[[], bool]) -> list[str]:
    """Create every planned path: directories first (in order), then files and links in
    batches on two threads (the copy syscalls release the GIL, so they overlap). Returns the
    paths created, parents before children."""
    installed: list[str] = []
    try:
        _create_directories(plan, installed)
    except OSError as error:
        raise InstallError(
            f"cannot create directory {error.filename or ''}: {error.strerror}", installed
        ) from error
    entries = [op for op in plan.ops if op.kind != "dir"]
    batches = [entries[i : i + _BATCH] for i in range(0, len(entries), _BATCH)]
    failure: OSError | None = None
    stopped = False
    with ThreadPoolExecutor(max_workers=_COPY_THREADS, thread_name_prefix="install") as pool:
        pending = []
        for batch in batches:
            if should_stop():
                stopped = True
                break
            pending.append(pool.submit(_create_entries, batch, plan.overwrite))
            if len(pending) >= 2 * _COPY_THREADS:
                done, failure = pending.pop(0).result()
                installed.extend(done)
                if failure is not None:
                    break
        for future in pending:
            done, batch_failure = future.result()
            installed.extend(done)
            failure = failure or batch_failure
    if failure is not None:
        raise InstallError(
            f"cannot install {failure.filename or ''}: {failure.strerror}", installed
        ) from failure
    if stopped:
        raise InstallStopped("the deployment was stopped during Install", installed)
    return installed


def install(
    *,
    archive: Path,
    appspec: AppSpec,
    root: Path,
    group: GroupState,
    deployment_id: str,
    behavior: str,
    should_stop: Callable[[], bool],
    check: Callable[[dict[str, str]], object] | None = None,
) -> tuple[list[str], list[str]]:
    """Install the revision; returns (paths installed, foreign files retained). ``check`` sees
    what the Install will create (``planned_kinds``) before anything changes, and may raise."""
    previous = group.read_cleanup()
    plan = plan_install(archive, appspec, root, set(previous), behavior)
    if check is not None:
        check(planned_kinds(plan, set(previous)))
    remove_previous(previous)
    try:
        installed = execute(plan, should_stop)
    except InstallError as error:
        # Keep the previous record's entries too: whatever of them is still on disk, and what
        # this deployment created, is removed by the group's next Install.
        group.write_cleanup(deployment_id, previous + error.installed)
        raise
    group.write_cleanup(deployment_id, installed)
    return installed, plan.retained
