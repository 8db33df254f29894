"""The unpacked tree, written link-safe: member names checked (no absolute paths, no '..'),
files written only below plain directories the tree made, symlinks checked to resolve inside
the revision and created last, unsafe mode bits dropped, and the unpacked bytes counted
against max_unpacked_size (``Budget``)."""

# Plain str paths and os calls on purpose: this code runs once per unpacked file.
# ruff: noqa: PTH101, PTH102, PTH108, PTH211

from __future__ import annotations

import os
import stat
from pathlib import PurePosixPath
from typing import IO

from ci_deploy.agent.appspec_model import RevisionError
from ci_deploy.appspec.lookup import link_leaves

_SHOWN = 200  # characters of a member name or link target an error message quotes
_LISTED = 10  # members a warning names before "and N more"
_MAX_LINK_HOPS = 40  # Linux's MAXSYMLINKS
_CHUNK = 1 << 20
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
_SHARED_WRITE_BITS = stat.S_IWGRP | stat.S_IWOTH
_DIR, _FILE, _LINK = "directory", "file", "symlink"


def _path_max() -> int:
    try:
        return os.pathconf("/", "PC_PATH_MAX")
    except (OSError, ValueError):
        return 4096


PATH_MAX = _path_max()


def shown(text: str, limit: int = _SHOWN) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters (names can be megabytes)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB'; exact units stay whole ('4 GiB')."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            if unit == "bytes":
                return f"{size} bytes"
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def safe_member_path(name: str, bundle: str) -> PurePosixPath:
    """The relative path of an archive member, refusing anything that would land outside the
    extraction directory (zip-slip): absolute names, drive letters, ``..`` components."""
    normalized = name.replace("\\", "/")
    path = PurePosixPath(normalized)
    if "\x00" in name:
        raise RevisionError(f"{bundle}: member {shown(name)} has a NUL byte in its name; refusing")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise RevisionError(
            f"{bundle}: member {shown(name)} has an absolute path; refusing to unpack"
        )
    if ".." in path.parts:
        raise RevisionError(f"{bundle}: member {shown(name)} points outside the bundle; refusing")
    if len(os.fsencode(normalized)) >= PATH_MAX:
        raise RevisionError(
            f"{bundle}: member {shown(name)} has a name longer than PATH_MAX ({PATH_MAX}); refusing"
        )
    return path


def check_link_target(link: PurePosixPath, target: str, where: str) -> None:
    """A symlink at ``link`` (relative to the revision root) must point inside it, read as
    text; chains of links are followed by the caller (realpath, or the unpacked tree's map)."""
    leaves = link_leaves(link, target)
    if leaves == "absolute":
        raise RevisionError(f"{where}: symlink {link} points to absolute path {shown(target)}")
    if leaves == "outside":
        raise RevisionError(
            f"{where}: symlink {link} -> {shown(target)} points outside the revision"
        )


class Budget:
    """The cap on unpacked bytes (input max_unpacked_size): what the archive declares, checked
    before writing, and what is actually written (declared sizes can lie)."""

    def __init__(self, limit: int, where: str) -> None:
        self.limit = limit
        self.where = where
        self.declared = 0
        self.written = 0

    def _refuse(self, what: str) -> RevisionError:
        return RevisionError(
            f"{self.where} {what}, more than the limit of {human_size(self.limit)} (input "
            "max_unpacked_size); if the bundle is meant to be this big, raise the limit with "
            "--max-unpacked-size or CI_DEPLOY_MAX_UNPACKED_SIZE (e.g. 8GiB)"
        )

    def declare(self, size: int) -> None:
        self.declared += size
        if self.declared > self.limit:
            raise self._refuse(f"unpacks to at least {human_size(self.declared)} (as it declares)")

    def spend(self, size: int) -> None:
        self.written += size
        if self.written > self.limit:
            raise self._refuse(f"had unpacked {human_size(self.written)} so far")


def copy_counted(source: IO[bytes], fd: int, declared: int, budget: Budget, name: str) -> int:
    """Copy ``source`` into ``fd``, refusing more bytes than ``declared`` or than the budget."""
    written = 0
    while True:
        # One byte more than is left to come: enough to catch a member longer than declared.
        chunk = source.read(min(_CHUNK, declared - written + 1))
        if not chunk:
            return written
        written += len(chunk)
        if written > declared:
            raise RevisionError(
                f"{budget.where}: member {shown(name)} holds more data than the "
                f"{human_size(declared)} its header declares; refusing"
            )
        budget.spend(len(chunk))
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


class Tree:
    """What has been unpacked into the fresh directory ``top``, which nothing else writes to:
    the kind of each path. Members are written only below plain directories recorded here, so
    never through a symlink; the bundle's symlinks are recorded, then created by make_links."""

    def __init__(self, top: str, where: str, budget: Budget) -> None:
        self.top = top
        self.where = where
        self.budget = budget
        self.kinds: dict[str, str] = {"": _DIR}
        self.sizes: dict[str, int] = {}
        self.links: dict[str, str] = {}
        self.special: list[str] = []  # members whose setuid/setgid/sticky bits were dropped
        self.shared: list[str] = []  # members whose group/other write bits were dropped

    def full(self, key: str) -> str:
        return self.top + "/" + key if key else self.top

    def _directory(self, key: str, member: str) -> None:
        """Make ``key`` and its missing parents plain directories; refuse a file or link."""
        missing = []
        while self.kinds.get(key) is None:
            missing.append(key)
            key = key.rpartition("/")[0]
        if self.kinds[key] != _DIR:
            raise RevisionError(
                f"{self.where}: member {shown(member)} lies under {shown(key)}, which is a "
                f"{self.kinds[key]} of the bundle; members are never unpacked through one; "
                "refusing"
            )
        for made in reversed(missing):
            os.mkdir(self.full(made))  # EEXIST here: a name that collides (case folding)
            self.kinds[made] = _DIR

    def _claim(self, key: str, kind: str) -> bool:
        """Make the parents of ``key``; True when an earlier file of that name is replaced
        (the later member wins, as tar does). Any other repeated name is refused."""
        self._directory(key.rpartition("/")[0], key)
        existing = self.kinds.get(key)
        if existing is None:
            return False
        if existing == kind and kind in (_FILE, _DIR):
            return kind == _FILE
        raise RevisionError(
            f"{self.where}: member {shown(key)} appears twice, as a {existing} and as a {kind}; "
            "refusing"
        )

    def _mode(self, key: str, mode: int) -> int:
        mode = stat.S_IMODE(mode)
        if mode & _SPECIAL_BITS:
            self.special.append(f"{shown(key, 100)} ({mode:04o})")
        if mode & _SHARED_WRITE_BITS:
            self.shared.append(shown(key, 100))
        return mode & ~(_SPECIAL_BITS | _SHARED_WRITE_BITS)

    def directory(self, key: str, mode: int | None) -> None:
        self._claim(key, _DIR)
        self._directory(key, key)
        if mode is not None:  # the owner keeps full access, as before: the engine cleans up
            os.chmod(self.full(key), self._mode(key, mode) | 0o700)

    def file(
        self, key: str, source: IO[bytes], declared: int, mode: int, mtime: float | None
    ) -> None:
        path = self.full(key)
        if self._claim(key, _FILE):
            os.unlink(path)
        fd = os.open(path, _CREATE, 0o600)
        try:
            self.kinds[key] = _FILE
            self.sizes[key] = copy_counted(source, fd, declared, self.budget, key)
            os.fchmod(fd, self._mode(key, mode))
            if mtime is not None:
                os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)

    def hard_link(self, key: str, source: str) -> None:
        if self.kinds.get(source) != _FILE:
            raise RevisionError(
                f"{self.where}: hard link {shown(key)} -> {shown(source)}: the target is not a "
                "regular file unpacked before it; refusing"
            )
        # Counted again: Install copies each name of a hard-linked file in full.
        self.budget.declare(self.sizes[source])
        if self._claim(key, _FILE):
            os.unlink(self.full(key))
        os.link(self.full(source), self.full(key), follow_symlinks=False)
        self.kinds[key] = _FILE
        self.sizes[key] = self.sizes[source]

    def symlink(self, key: str, target: str) -> None:
        if not target or "\x00" in target:
            raise RevisionError(
                f"{self.where}: symlink {shown(key)} has an empty or NUL-holding target; refusing"
            )
        if len(os.fsencode(target)) >= PATH_MAX:
            raise RevisionError(
                f"{self.where}: symlink {shown(key)} has a target longer than PATH_MAX "
                f"({PATH_MAX}): {shown(target)}; refusing"
            )
        if target.startswith("/"):
            raise RevisionError(
                f"{self.where}: symlink {shown(key)} points to absolute path {shown(target)}; "
                "refusing"
            )
        self._claim(key, _LINK)
        self.kinds[key] = _LINK
        self.links[key] = target

    def resolves_inside(self, key: str, root: str) -> bool:
        """Whether symlink ``key`` resolves inside ``root`` (a directory key), following the
        bundle's other symlinks as the kernel would; a missing or non-directory component is
        taken as a directory (stricter than the kernel, which stops there)."""
        base = len(root.split("/")) if root else 0
        current = key.split("/")[:-1]
        todo = list(reversed(self.links[key].split("/")))
        hops = 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if len(current) <= base:
                    return False
                current.pop()
                continue
            current.append(part)
            target = self.links.get("/".join(current))
            if target is not None:
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    return False
                current.pop()
                todo.extend(reversed(target.split("/")))
        return current[:base] == (root.split("/") if root else [])

    def check_links(self, root: str) -> None:
        for key, target in self.links.items():
            if not self.resolves_inside(key, root):
                raise RevisionError(
                    f"{self.where}: symlink {shown(key)} -> {shown(target)} points outside the "
                    "revision (following the bundle's other symlinks, or too many of them)"
                )

    def make_links(self) -> None:
        """Create the symlinks, after every other member (nothing is written after them)."""
        self.check_links("")
        for key, target in self.links.items():
            os.symlink(target, self.full(key))

    def recheck_links(self, root: str) -> None:
        """Against the revision root actually used (after the single-directory unwrap), on the
        map and on disk: the map follows exact names, the disk also a case-folding or
        normalising filesystem's (where ``a`` may name the link ``A``)."""
        self.check_links(root)
        top = os.path.realpath(self.full(root))
        for key, target in self.links.items():
            resolved = os.path.realpath(self.full(key))
            if resolved != top and not resolved.startswith(top + os.sep):
                raise RevisionError(
                    f"{self.where}: symlink {shown(key)} -> {shown(target)} points outside the "
                    "revision"
                )

    def warnings(self) -> list[str]:
        found = []
        if self.special:
            found.append(
                f"{self.where}: dropped the setuid/setgid/sticky bits of {_listed(self.special)} "
                "(as Python's tarfile 'data' filter does); if they are intended, set the mode "
                "in the appspec's permissions section"
            )
        if self.shared:
            found.append(
                f"{self.where}: removed group/other write permission from "
                f"{_listed(self.shared)} (as Python's tarfile 'data' filter does); set the mode "
                "in the appspec's permissions section if it is intended"
            )
        return found


def _listed(names: list[str]) -> str:
    head = ", ".join(names[:_LISTED])
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return f"{len(names)} member{'s' if len(names) != 1 else ''}: {head}{more}"
