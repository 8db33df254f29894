"""Plan an Install before anything changes: every path it creates (files, links, directories
of copies), checked for duplicates, links it would go through, and what is already on disk
(file_exists_behavior); the DISALLOW conflict's message."""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH112, PTH114, PTH116, PTH118, PTH119, PTH120

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ci_deploy.agent.appspec_model import AppSpec, RevisionError
from ci_deploy.agent.install_paths import (
    KIND,
    Op,
    Resolver,
    Unsafe,
    destination_path,
    source_path,
)
from ci_deploy.agent.state import GroupState, InstallRecord


@dataclass
class Plan:
    ops: list[Op]
    overwrite: set[str]  # foreign files replaced under OVERWRITE
    retained: list[str]  # foreign files kept under RETAIN
    creates: list[str]  # paths the Install creates that the previous record does not list
    conflicts: list[str]  # foreign files in the way under DISALLOW


class _Planner:
    def __init__(self, root: str, previous: set[str]) -> None:
        self.root = root
        self.previous = previous
        self.ops: list[Op] = []
        self.by_dest: dict[str, Op] = {}
        self.entry = 0  # the files entry being planned
        # Every directory a path is installed into, with the files entry that installs there.
        self.directories: list[tuple[str, int]] = []

    def add(self, op: Op) -> None:
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
            self.add(Op("dir", "", path, 0o755, None, self.entry))

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
                    self.add(Op("dir", entry.path, dest, mode, None, entry_index))
                    self.directories.append((dest, entry_index))
                    self.tree(entry.path, dest, seen)
                else:
                    self.add(Op("link", entry.path, dest, 0, None, entry_index))
            elif stat.S_ISDIR(st.st_mode):
                mode = stat.S_IMODE(st.st_mode)
                self.add(Op("dir", entry.path, dest, mode, None, entry_index))
                self.directories.append((dest, entry_index))
                self.tree(entry.path, dest, seen)
            elif stat.S_ISREG(st.st_mode):
                mode = stat.S_IMODE(st.st_mode)
                self.add(Op("file", entry.path, dest, mode, st, entry_index))

    def check_links(self) -> None:
        """No path may be reached through a symlink the Install creates or the record lists,
        nor through the host's own symlinks out of the root. Every planned path lies in one of
        ``directories``, so checking those checks all."""
        resolver = Resolver(self.root, self.by_dest, self.previous, removed=True)
        for directory, entry in self.directories:
            try:
                resolver.check(directory)
            except Unsafe as unsafe:
                where = (
                    f"{directory} is {unsafe.what}"
                    if unsafe.path == directory
                    else f"{directory} is reached {unsafe}"
                )
                advice = f"; {unsafe.advice}" if unsafe.advice else ""
                raise RevisionError(f"files[{entry}]: {where}{advice}") from None


def _describe(op: Op) -> str:
    origin = op.source or "made for its destination"
    return f"{KIND[op.kind]} from files[{op.entry}] ({origin})"


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
            planner.add(Op("link", source, target, 0, None, index))
        else:
            st = os.stat(source)
            target = os.path.join(dest, os.path.basename(source))
            planner.add(Op("file", source, target, stat.S_IMODE(st.st_mode), st, index))
    planner.check_links()
    return _check_existing(planner, previous, behavior)


def _check_existing(planner: _Planner, previous: set[str], behavior: str) -> Plan:
    ops: list[Op] = []
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
