"""Install: remove what the group's previous Install created, copy the revision's ``files``,
and record every path created, so the next Install can remove exactly those.

Unlike the agent, everything that can make the Install fail (a missing source, two sources for
one destination, a file that already exists under DISALLOW, a path escaping the install root) is
found *before* the previous revision's files are removed: such a failure leaves the previous
installation and its record intact.

Symlinks: a symlink in the revision is installed as a symlink and a symlink to a directory as a
directory of copies, as the agent does (its installer.rb tests ``File.directory?``, which
follows links, and install_instruction.rb's CopyCommand re-creates a link with ``readlink``).
Unlike the agent, nothing is ever written or deleted *through* a symlink the revision installs
or the group's record lists: every destination is resolved component by component (lstat)
against what the disk will hold once the previous revision is removed and this one is created.
Only the host's own symlinks are followed, and only when they stay in the install root.

Before it removes or creates anything, the Install writes its journal as the group's record
(the previous paths plus every path it is about to create, fsynced), as the agent's
CopyCommand writes a destination to the cleanup file before copying: an Install that is
killed leaves a record from which the next Install removes what it had written.
"""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH101, PTH102, PTH106, PTH108, PTH112, PTH114, PTH115, PTH116, PTH118, PTH119, PTH120, PTH206, PTH211

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from ci_deploy.agent.appspec_model import AppSpec, RevisionError
from ci_deploy.agent.copy import copy_file
from ci_deploy.agent.state import GroupState, InstallRecord

_BATCH = 256  # files per task: one task per small file costs more than it saves
_COPY_THREADS = 2
_MAX_LINKS = 40  # symlinks followed to resolve one path (the kernel's limit)
_KIND = {"dir": "a directory", "file": "a file", "link": "a symlink"}
_NEVER_THROUGH = (
    "an Install never writes through a symlink it installs (it may point anywhere, e.g. out "
    "of the install root)"
)


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
    entry: int = 0  # the index of the ``files`` entry that planned it


@dataclass
class Plan:
    ops: list[_Op]
    overwrite: set[str]  # foreign files replaced under OVERWRITE
    retained: list[str]  # foreign files kept under RETAIN
    creates: list[str]  # paths the Install creates that the previous record does not list
    conflicts: list[str]  # foreign files in the way under DISALLOW


class InstallResult(NamedTuple):
    installed: list[str]  # every path created, parents before children
    retained: list[str]  # foreign files kept under RETAIN
    kept: list[str]  # the previous revision's paths not deleted: each with why


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


class _Unsafe(Exception):
    """Reaching a path would go through ``path``, a symlink that must not be followed."""

    def __init__(self, path: str, what: str, advice: str = "") -> None:
        super().__init__(f"through {path}, {what}")
        self.path = path
        self.what = what
        self.advice = advice


class _Resolver:
    """Follow directories under ``root`` as the kernel will once the Install has run, without
    ever following a symlink this group makes: a non-directory in ``planned`` (what the
    Install creates) or a symlink in ``ours`` (what the record lists). While planning
    (``removed``), the record's non-directories count as gone: they are removed first."""

    def __init__(
        self, root: str, planned: Mapping[str, _Op], ours: Collection[str], *, removed: bool
    ) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.planned = planned
        self.ours = ours
        self.removed = removed
        self.checked: set[str] = {root}  # directories found safe to go into

    def check(self, directory: str) -> None:
        """Raise _Unsafe if going into ``directory`` goes through a forbidden symlink."""
        if directory in self.checked:
            return
        if not _inside(directory, self.root):
            raise _Unsafe(directory, f"outside the install root {self.root}")
        relative = directory[len(self.root.rstrip(os.sep)) + 1 :]
        self._walk(relative.split(os.sep)[::-1])
        self.checked.add(directory)

    def _walk(self, pending: list[str]) -> None:
        """Resolve the components in ``pending`` (last first) from the root, one by one."""
        done: list[str] = []
        missing_at: int | None = None  # depth of the first component that does not exist yet
        links = 0
        link = ""  # the last symlink followed
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if not done:
                    done = self._reenter(os.path.dirname(self.real_root), pending, link)
                    missing_at = None
                    continue
                done.pop()
                if missing_at is not None and len(done) < missing_at:
                    missing_at = None
                continue
            path = os.path.join(self.root, *done, name)
            op = self.planned.get(path)
            if op is not None and op.kind != "dir":
                advice = _NEVER_THROUGH if op.kind == "link" else ""
                raise _Unsafe(path, f"{_KIND[op.kind]} that files[{op.entry}] installs", advice)
            st = None if missing_at is not None else _lstat(path)
            if st is not None and self.removed and path in self.ours:
                st = st if stat.S_ISDIR(st.st_mode) else None  # removed before installing
            if st is None or stat.S_ISDIR(st.st_mode):
                if st is None and missing_at is None:
                    missing_at = len(done)
                done.append(name)
                continue
            if not stat.S_ISLNK(st.st_mode):
                return  # a file: going into it fails there (ENOTDIR), through nothing
            if path in self.ours:
                raise _Unsafe(path, "a symlink where this deployment group had installed a path")
            links += 1
            if links > _MAX_LINKS:
                raise _Unsafe(path, "a symlink: too many levels of symlinks from there")
            link, target = path, os.readlink(path)
            if target.startswith("/"):
                done, missing_at = self._reenter(target, pending, link), None
            else:
                pending.extend(reversed(target.split("/")))

    def _reenter(self, start: str, pending: list[str], link: str) -> list[str]:
        """Go on from absolute path ``start`` (symlink ``link``'s target, or the root's parent
        that a '..' in its target leads to): it must lead back into the root. Returns the new
        position, the root (``pending`` is updated)."""
        for top in (self.root, self.real_root):
            if _inside(start, top):
                pending.extend(reversed(start[len(top.rstrip(os.sep)) + 1 :].split("/")))
                return []
        whole = os.path.join(start, *reversed(pending))
        real = os.path.realpath(whole)
        if not _inside(real, self.real_root):
            if not link:  # a '..' in a record's path
                raise _Unsafe(whole, "outside the install root")
            target = os.readlink(link)
            raise _Unsafe(
                link, f"a symlink to {target}, which leads to {real}, outside the install root"
            )
        pending.clear()
        pending.extend(reversed(real[len(self.real_root.rstrip(os.sep)) + 1 :].split("/")))
        return []


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


class _Planner:
    def __init__(self, root: str, previous: set[str]) -> None:
        self.root = root
        self.previous = previous
        self.ops: list[_Op] = []
        self.by_dest: dict[str, _Op] = {}
        self.entry = 0  # the files entry being planned
        # Every directory a path is installed into, with the files entry that installs there.
        self.directories: list[tuple[str, int]] = []

    def add(self, op: _Op) -> None:
        known = self.by_dest.get(op.dest)
        if known is None:
            self.by_dest[op.dest] = op
            self.ops.append(op)
            return
        if known.kind == "dir" and op.kind == "dir":
            return
        raise RevisionError(
            f"files: {op.dest} would be installed twice: as {_describe(known)} and as "
            f"{_describe(op)}"
        )

    def parents(self, dest: str) -> None:
        """Directories between the root and ``dest`` (inclusive) that the install creates."""
        self.directories.append((dest, self.entry))
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
            self.add(_Op("dir", "", path, 0o755, None, self.entry))

    def tree(self, source_dir: str, dest_dir: str, seen: frozenset[str]) -> None:
        real = os.path.realpath(source_dir)
        if real in seen:
            raise RevisionError(f"files: symlink loop at {source_dir}")
        seen = seen | {real}
        with os.scandir(source_dir) as entries:
            listing = sorted(entries, key=lambda entry: entry.name)
        entry_index = self.entry
        for entry in listing:
            dest = os.path.join(dest_dir, entry.name)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                if os.path.isdir(entry.path):
                    # The agent installs a symlink to a directory as a real directory of copies.
                    mode = stat.S_IMODE(os.stat(entry.path).st_mode)
                    self.add(_Op("dir", entry.path, dest, mode, None, entry_index))
                    self.directories.append((dest, entry_index))
                    self.tree(entry.path, dest, seen)
                else:
                    self.add(_Op("link", entry.path, dest, 0, None, entry_index))
            elif stat.S_ISDIR(st.st_mode):
                mode = stat.S_IMODE(st.st_mode)
                self.add(_Op("dir", entry.path, dest, mode, None, entry_index))
                self.directories.append((dest, entry_index))
                self.tree(entry.path, dest, seen)
            elif stat.S_ISREG(st.st_mode):
                mode = stat.S_IMODE(st.st_mode)
                self.add(_Op("file", entry.path, dest, mode, st, entry_index))

    def check_links(self) -> None:
        """No path may be reached through a symlink the Install creates or the record lists,
        nor through the host's own symlinks out of the root. Every planned path lies in one of
        ``directories``, so checking those checks all."""
        resolver = _Resolver(self.root, self.by_dest, self.previous, removed=True)
        for directory, entry in self.directories:
            try:
                resolver.check(directory)
            except _Unsafe as unsafe:
                where = (
                    f"{directory} is {unsafe.what}"
                    if unsafe.path == directory
                    else f"{directory} is reached {unsafe}"
                )
                advice = f"; {unsafe.advice}" if unsafe.advice else ""
                raise RevisionError(f"files[{entry}]: {where}{advice}") from None


def _describe(op: _Op) -> str:
    origin = op.source or "made for its destination"
    return f"{_KIND[op.kind]} from files[{op.entry}] ({origin})"


def plan_install(
    archive: Path, appspec: AppSpec, root: Path, previous: set[str], behavior: str
) -> Plan:
    """Every path the Install will create, checked against what is on disk now."""
    planner = _Planner(os.path.normpath(str(root)), previous)
    for index, mapping in enumerate(appspec.files):
        where = f"files[{index}]"
        planner.entry = index
        source = source_path(archive, mapping.source, where)
        dest = destination_path(root, mapping.destination, where)
        planner.parents(dest)
        if os.path.isdir(source):
            planner.tree(source, dest, frozenset())
        elif os.path.islink(source):
            target = os.path.join(dest, os.path.basename(source))
            planner.add(_Op("link", source, target, 0, None, index))
        else:
            st = os.stat(source)
            target = os.path.join(dest, os.path.basename(source))
            planner.add(_Op("file", source, target, stat.S_IMODE(st.st_mode), st, index))
    planner.check_links()
    return _check_existing(planner, previous, behavior)


def _check_existing(planner: _Planner, previous: set[str], behavior: str) -> Plan:
    ops: list[_Op] = []
    overwrite: set[str] = set()
    retained: list[str] = []
    conflicts: list[str] = []
    creates: list[str] = []
    fresh: set[str] = set()  # directories this install creates: nothing can exist below them
    for op in planner.ops:
        if os.path.dirname(op.dest) in fresh:
            ops.append(op)
            if op.dest not in previous:
                creates.append(op.dest)
            if op.kind == "dir":
                fresh.add(op.dest)
            continue
        try:
            st = os.lstat(op.dest)
        except FileNotFoundError:
            ops.append(op)
            creates.append(op.dest)
            if op.kind == "dir":
                fresh.add(op.dest)
            continue
        ours = op.dest in previous
        if op.kind == "dir":
            if stat.S_ISDIR(st.st_mode) or (not ours and os.path.isdir(op.dest)):
                ops.append(op)  # used as it is (check_links followed a link here)
            elif ours:
                ops.append(op)
                fresh.add(op.dest)  # the previous revision's file or link goes first
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
            creates.append(op.dest)
        elif behavior == "RETAIN":
            retained.append(op.dest)
        else:
            conflicts.append(op.dest)
    return Plan(ops, overwrite, retained, creates, conflicts)


def conflict_message(conflicts: list[str], record: InstallRecord | None, group: GroupState) -> str:
    """Why Install refuses files already at their destinations (DISALLOW); true whatever state
    the group's record is in."""
    more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
    head = (
        "The deployment failed because a specified file already exists at this location: "
        f"{conflicts[0]}{more}."
    )
    advice = "set file_exists_behavior to OVERWRITE or RETAIN, or remove it."
    if record is None:
        return (
            f"{head} This deployment group has no install record ({group.cleanup_file}), so "
            f"no file counts as installed by it; {advice} Nothing was changed."
        )
    if record.complete:
        return (
            f"{head} It was not installed by this deployment group's previous revision "
            f"(deployment {record.deployment_id}); {advice} The previous installation was "
            "left intact."
        )
    return (
        f"{head} It is not among the paths recorded by this deployment group's last Install "
        f"(deployment {record.deployment_id}), which did not finish; {advice} Nothing was "
        "removed: what that Install left stays recorded, for removal by the next Install."
    )


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


def remove_previous(paths: list[str], root: str) -> list[str]:
    """Delete what the previous Install created: files and links, then directories once
    empty (a directory still holding a foreign file stays). A path reached through a symlink
    the record lists, or through one leading out of ``root``, is not deleted: such paths are
    returned, each with why."""
    resolver = _Resolver(root, {}, set(paths), removed=False)
    unsafe: dict[str, str] = {}  # directory -> why it is not gone into
    kept: list[str] = []
    for path in reversed(paths):
        parent = os.path.dirname(path)
        if parent not in resolver.checked:
            why = unsafe.get(parent)
            if why is None:
                try:
                    resolver.check(parent)
                except _Unsafe as error:
                    why = unsafe[parent] = str(error)
            if why is not None:
                if os.path.lexists(path):
                    kept.append(f"{path} (reached {why})")
                continue
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        try:
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                raise
    return kept


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
) -> InstallResult:
    """Install the revision: plan and check it all, journal, remove the previous revision's
    files, create the new ones, record them. ``check`` sees what the Install will create
    (``planned_kinds``) before anything changes, and may raise."""
    record = group.read_record()
    previous = record.paths if record is not None else []
    previous_set = set(previous)
    plan = plan_install(archive, appspec, root, previous_set, behavior)
    if plan.conflicts:
        raise RevisionError(conflict_message(plan.conflicts, record, group))
    if check is not None:
        check(planned_kinds(plan, previous_set))
    top = os.path.normpath(str(root))
    journal = previous + [path for path in plan.creates if path not in previous_set]
    if journal:
        # From here on, until the final record replaces it, the journal is the group's record:
        # should this Install fail or be killed, the next one removes what it had written.
        group.write_record(InstallRecord(deployment_id, journal, top, complete=False))
    # A format-1 record does not name its root: only its own symlinks are then never followed.
    kept = remove_previous(previous, record.root or os.sep) if record is not None else []
    installed = execute(plan, should_stop)  # an InstallError leaves the journal as the record
    group.write_record(InstallRecord(deployment_id, installed, top, complete=True))
    return InstallResult(installed, plan.retained, kept)
