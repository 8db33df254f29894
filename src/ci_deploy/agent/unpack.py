"""DownloadBundle: unpack a revision (directory, zip, tar, tgz) safely into the deployment's
archive directory, unwrapping a single top-level directory as the agent does.

Archives are untrusted. The rules follow Python 3.12's tarfile ``data`` filter, written out
here for zip and tar alike (the filter is missing from older Pythons):

- no member lands outside the directory: absolute names and ``..`` are refused, and nothing is
  ever written through a symlink. The directory starts empty and only this code writes to it;
  symlinks are created last, after every file, and a member whose parent is a symlink or a
  file of the bundle is refused, so each path a member is written to holds plain directories;
- a symlink must be relative and resolve inside the revision, following the bundle's other
  links (chains such as ``a -> .``, ``up -> a/a/../..``); its target is at most PATH_MAX long,
  refused from the declared size before it is read;
- a hard link must name a regular file unpacked before it; devices and fifos are refused;
- setuid, setgid and sticky bits and group/other write permission are dropped, with a warning;
- the unpacked size is capped (``max_unpacked_size``): by the archive's declared sizes before
  anything is written, then by counting the bytes actually written.
"""

# Plain str paths and os calls on purpose: this code runs once per unpacked file.
# ruff: noqa: PTH101, PTH102, PTH108, PTH114, PTH115, PTH118, PTH211

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from ci_deploy.agent.appspec_model import RevisionError
from ci_deploy.agent.copy import copy_tree
from ci_deploy.appspec import agent_appspec

DEFAULT_MAX_UNPACKED_SIZE = 4 << 30
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
# Extended tar headers that tarfile reads whole into memory: bounded before it does.
_PAX_LIMIT = 1 << 20
_TAR_HEADER_LIMITS = {
    tarfile.GNUTYPE_LONGNAME: PATH_MAX,
    tarfile.GNUTYPE_LONGLINK: PATH_MAX,
    tarfile.XHDTYPE: _PAX_LIMIT,
    tarfile.XGLTYPE: _PAX_LIMIT,
    tarfile.SOLARIS_XHDTYPE: _PAX_LIMIT,
}


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
    if target.startswith("/"):
        raise RevisionError(f"{where}: symlink {link} points to absolute path {shown(target)}")
    depth = len(link.parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise RevisionError(
                f"{where}: symlink {link} -> {shown(target)} points outside the revision"
            )


class _Budget:
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


def copy_counted(source: IO[bytes], fd: int, declared: int, budget: _Budget, name: str) -> int:
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


class _Tree:
    """What has been unpacked into the fresh directory ``top``, which nothing else writes to:
    the kind of each path. Members are written only below plain directories recorded here, so
    never through a symlink; the bundle's symlinks are recorded, then created by make_links."""

    def __init__(self, top: str, where: str, budget: _Budget) -> None:
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


def _key(name: str, where: str) -> str:
    return "/".join(safe_member_path(name, where).parts)


def _extract_zip(bundle: Path, tree: _Tree) -> None:
    where = tree.where
    with zipfile.ZipFile(bundle) as archive:
        members = []
        declared = 0
        for info in archive.infolist():  # every check the central directory allows, first
            key = _key(info.filename, where)
            mode = info.external_attr >> 16
            if key and stat.S_ISLNK(mode) and info.file_size >= PATH_MAX:
                raise RevisionError(
                    f"{where}: symlink {shown(key)} declares a {human_size(info.file_size)} "
                    f"target, longer than PATH_MAX ({PATH_MAX}); refusing"
                )
            if key and not info.is_dir() and not stat.S_ISLNK(mode):
                declared += info.file_size
            members.append((key, mode, info))
        tree.budget.declare(declared)
        for key, mode, info in members:
            if not key:
                continue
            if info.is_dir():
                tree.directory(key, None)
            elif stat.S_ISLNK(mode):
                with archive.open(info) as source:
                    target = source.read(PATH_MAX)
                tree.symlink(key, target.decode("utf-8", "surrogateescape"))
            else:
                # Modes stored in the zip are kept (as the agent's unzip does), made safe.
                with archive.open(info) as source:
                    tree.file(key, source, info.file_size, stat.S_IMODE(mode) or 0o644, None)


class _OversizedHeader(Exception):
    """A tar extended header too big to read (tarfile does not catch this one)."""


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses a long-name or pax header bigger than a name could need before tarfile reads it
    whole into memory (a 1 GiB link target would otherwise be read, then quoted).
    ``_proc_member`` is the hook tarfile's source names for subclasses (3.10 to 3.14)."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        limit = _TAR_HEADER_LIMITS.get(self.type)
        if limit is not None and self.size > limit:
            raise _OversizedHeader(
                f"a tar extended header declares {human_size(self.size)}, more than a name or "
                f"link target needs ({human_size(limit)}); refusing"
            )
        return super()._proc_member(archive)  # type: ignore[misc, no-any-return]


def _extract_tar(bundle: Path, tree: _Tree) -> None:
    where = tree.where
    with tarfile.open(bundle, "r:*", tarinfo=_BoundedTarInfo) as archive:
        for member in archive:
            key = _key(member.name, where)
            if not key:
                continue
            if member.isdir():
                tree.directory(key, member.mode)
            elif member.issym():
                tree.symlink(key, member.linkname)
            elif member.islnk():
                tree.hard_link(key, _key(member.linkname, where))
            elif member.isreg():
                tree.budget.declare(member.size)
                extracted = archive.extractfile(member)
                assert extracted is not None  # a regular file member always has content
                with extracted:
                    tree.file(key, extracted, member.size, member.mode, member.mtime)
            else:
                kind = "device" if member.ischr() or member.isblk() else "fifo"
                if not member.isdev():
                    kind = f"member of tar type {member.type!r}"
                raise RevisionError(
                    f"{where}: member {shown(member.name)} is a {kind}; bundles hold only "
                    "files, directories and links"
                )


def check_links_inside(tree: Path, where: str) -> None:
    """Every symlink in ``tree`` (a directory bundle) must resolve inside it, also through
    chains of links."""
    top = os.path.realpath(tree)
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in (*dirnames, *filenames):
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                continue
            relative = PurePosixPath(Path(full).relative_to(tree).as_posix())
            target = os.readlink(full)
            check_link_target(relative, target, where)
            resolved = os.path.realpath(full)
            if resolved != top and not resolved.startswith(top + os.sep):
                raise RevisionError(
                    f"{where}: symlink {relative} -> {shown(target)} points outside the revision"
                )


def _revision_root(work: Path, appspec: str | None) -> Path:
    """``work``, or its only entry when that directory holds the appspec and ``work`` not."""
    if agent_appspec(work, appspec) is None:
        entries = list(work.iterdir())
        if (
            len(entries) == 1
            and entries[0].is_dir()
            and not entries[0].is_symlink()
            and agent_appspec(entries[0], appspec) is not None
        ):
            return entries[0]
    return work


_UNREADABLE: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    EOFError,
    UnicodeDecodeError,
    NotImplementedError,  # a zip compression method zipfile lacks
    RuntimeError,  # an encrypted zip member
    OverflowError,  # a tar time stamp out of range
)


class UnreadableBundle(RevisionError):
    """The archive is not a readable bundle of its type."""

    def __init__(self, message: str, bundle_type: str) -> None:
        super().__init__(message)
        self.bundle_type = bundle_type


def _unpack_archive(source: Path, bundle_type: str, work: Path, limit: int) -> _Tree:
    tree = _Tree(str(work), source.name, _Budget(limit, source.name))
    try:
        if bundle_type == "zip":
            _extract_zip(source, tree)
        else:
            _extract_tar(source, tree)
        tree.make_links()
    except _UNREADABLE as error:
        raise UnreadableBundle(
            f"{source.name} is not a readable {bundle_type} bundle: {shown(str(error), 300)}",
            bundle_type,
        ) from error
    except _OversizedHeader as error:
        raise RevisionError(f"{source.name}: {error}") from error
    except OSError as error:
        name = str(error.filename or "")
        raise RevisionError(
            f"{source.name}: cannot unpack {shown(name)}: {error.strerror}"
        ) from error
    return tree


def unpack(
    source: Path,
    bundle_type: str,
    work: Path,
    archive_dir: Path,
    appspec: str | None,
    *,
    max_unpacked_size: int = DEFAULT_MAX_UNPACKED_SIZE,
) -> list[str]:
    """Unpack ``source`` into ``archive_dir`` (which must not exist), using ``work`` as scratch;
    returns warnings for the user (modes that were made safe). Nothing is left in ``work``.

    If the bundle holds no appspec at its root but exactly one directory that does, that
    directory becomes the revision root (the agent's ``unpack_bundle`` does the same).
    """
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        warnings: list[str] = []
        if bundle_type == "directory":
            check_links_inside(source, str(source))
            copy_tree(source, work)
            check_links_inside(work, source.name)
            root = _revision_root(work, appspec)
        elif bundle_type in ("zip", "tar", "tgz"):
            tree = _unpack_archive(source, bundle_type, work, max_unpacked_size)
            root = _revision_root(work, appspec)
            tree.recheck_links(root.relative_to(work).as_posix() if root != work else "")
            warnings = tree.warnings()
        else:
            raise RevisionError(f"unsupported bundle type {bundle_type!r}")
        root.rename(archive_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # what is left of it: the unwrapped parent
    return warnings
