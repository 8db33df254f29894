"""An Install's paths, resolved link-safe: appspec sources and destinations as host paths that
never leave their roots, and the Resolver that follows directories under the install root as
the kernel will, never through a symlink the group installs or its record lists."""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH115, PTH118, PTH120, PTH206

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Mapping
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from ci_deploy.agent.appspec_model import RevisionError

_MAX_LINKS = 40  # symlinks followed to resolve one path (the kernel's limit)
KIND = {"dir": "a directory", "file": "a file", "link": "a symlink"}
_NEVER_THROUGH = (
    "an Install never writes through a symlink it installs (it may point anywhere, e.g. out "
    "of the install root)"
)


class Op(NamedTuple):
    # A NamedTuple, not a dataclass: one is made per installed path, so creation cost counts.
    kind: str  # dir|file|link
    source: str  # for dir: the bundle directory it mirrors ("" for a created parent)
    dest: str
    mode: int
    st: os.stat_result | None = None  # a file's source stat, taken while planning
    entry: int = 0  # the index of the ``files`` entry that planned it


def inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def destination_path(root: Path, destination: str, where: str) -> str:
    """The host path of an appspec destination under ``root``; never outside it."""
    relative = PurePosixPath(destination.replace("\\", "/").lstrip("/"))
    if ".." in relative.parts:
        raise RevisionError(f"{where}: destination {destination!r} contains '..'")
    top = os.path.normpath(str(root))
    path = os.path.normpath(os.path.join(top, *relative.parts)) if relative.parts else top
    if not inside(path, top):
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


class Unsafe(Exception):
    """Reaching a path would go through ``path``, a symlink that must not be followed."""

    def __init__(self, path: str, what: str, advice: str = "") -> None:
        super().__init__(f"through {path}, {what}")
        self.path = path
        self.what = what
        self.advice = advice


class Resolver:
    """Follow directories under ``root`` as the kernel will once the Install has run, without
    ever following a symlink this group makes: a non-directory in ``planned`` (what the
    Install creates) or a symlink in ``ours`` (what the record lists). While planning
    (``removed``), the record's non-directories count as gone: they are removed first."""

    def __init__(
        self, root: str, planned: Mapping[str, Op], ours: Collection[str], *, removed: bool
    ) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.planned = planned
        self.ours = ours
        self.removed = removed
        self.checked: set[str] = {root}  # directories found safe to go into

    def check(self, directory: str) -> None:
        """Raise Unsafe if going into ``directory`` goes through a forbidden symlink."""
        if directory in self.checked:
            return
        if not inside(directory, self.root):
            raise Unsafe(directory, f"outside the install root {self.root}")
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
                raise Unsafe(path, f"{KIND[op.kind]} that files[{op.entry}] installs", advice)
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
                raise Unsafe(path, "a symlink where this deployment group had installed a path")
            links += 1
            if links > _MAX_LINKS:
                raise Unsafe(path, "a symlink: too many levels of symlinks from there")
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
            if inside(start, top):
                pending.extend(reversed(start[len(top.rstrip(os.sep)) + 1 :].split("/")))
                return []
        whole = os.path.join(start, *reversed(pending))
        real = os.path.realpath(whole)
        if not inside(real, self.real_root):
            if not link:  # a '..' in a record's path
                raise Unsafe(whole, "outside the install root")
            target = os.readlink(link)
            raise Unsafe(
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
