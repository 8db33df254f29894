"""DownloadBundle: unpack a revision (directory, zip, tar, tgz) safely into the deployment's
archive directory, unwrapping a single top-level directory as the agent does."""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH114, PTH115, PTH118, PTH211

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from ci_deploy.agent.copy import copy_tree
from ci_deploy.agent.revision import RevisionError, find_appspec

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP_MAGIC = b"\x1f\x8b"


def detect_bundle_type(source: Path) -> str:
    """directory, zip, tgz or tar, from what the file holds (not its name)."""
    if source.is_dir():
        return "directory"
    with source.open("rb") as handle:
        head = handle.read(512)
    if head[:4] in _ZIP_MAGIC:
        return "zip"
    if head[:2] == _GZIP_MAGIC:
        return "tgz"
    if head[257:262] == b"ustar":
        return "tar"
    raise RevisionError(
        f"{source} is not a directory, zip, tar or tgz bundle (unrecognised content)"
    )


def safe_member_path(name: str, bundle: str) -> PurePosixPath:
    """The relative path of an archive member, refusing anything that would land outside the
    extraction directory (zip-slip): absolute names, drive letters, ``..`` components."""
    normalized = name.replace("\\", "/")
    path = PurePosixPath(normalized)
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise RevisionError(f"{bundle}: member {name!r} has an absolute path; refusing to unpack")
    if ".." in path.parts:
        raise RevisionError(f"{bundle}: member {name!r} points outside the bundle; refusing")
    return path


def check_link_target(link: PurePosixPath, target: str, where: str) -> None:
    """A symlink at ``link`` (relative to the revision root) must resolve inside it."""
    if target.startswith("/"):
        raise RevisionError(f"{where}: symlink {link} points to absolute path {target!r}")
    depth = len(link.parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise RevisionError(
                f"{where}: symlink {link} -> {target!r} points outside the revision"
            )


def _member_target(dest: Path, relative: PurePosixPath, where: str) -> Path:
    """Where a member goes, after checking that no symlink unpacked earlier redirects it out."""
    target = dest.joinpath(*relative.parts)
    parent = os.path.realpath(target.parent)
    top = os.path.realpath(dest)
    if parent != top and not parent.startswith(top + os.sep):
        raise RevisionError(f"{where}: member {relative} would be written outside the bundle")
    return target


def _extract_zip(bundle: Path, dest: Path) -> None:
    where = bundle.name
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            relative = safe_member_path(info.filename, where)
            if not relative.parts:
                continue
            target = _member_target(dest, relative, where)
            mode = info.external_attr >> 16
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                link_target = archive.read(info).decode("utf-8")
                check_link_target(relative, link_target, where)
                os.symlink(link_target, target)
                continue
            with archive.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            # Modes stored in the zip are kept, as the agent's unzip does.
            target.chmod(stat.S_IMODE(mode) if stat.S_IMODE(mode) else 0o644)


def _extract_tar(bundle: Path, dest: Path) -> None:
    where = bundle.name
    with tarfile.open(bundle, "r:*") as archive:
        for member in archive:
            relative = safe_member_path(member.name, where)
            if not relative.parts:
                continue
            target = _member_target(dest, relative, where)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                target.chmod(stat.S_IMODE(member.mode) | 0o700)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if member.issym():
                check_link_target(relative, member.linkname, where)
                os.symlink(member.linkname, target)
            elif member.islnk():
                linked = safe_member_path(member.linkname, where)
                os.link(dest.joinpath(*linked.parts), target)
            elif member.isfile():
                extracted = archive.extractfile(member)
                assert extracted is not None  # a regular file member always has content
                with extracted, target.open("wb") as out:
                    shutil.copyfileobj(extracted, out, 1 << 20)
                target.chmod(stat.S_IMODE(member.mode))
                os.utime(target, (member.mtime, member.mtime))
            else:
                raise RevisionError(
                    f"{where}: member {member.name!r} is a device or fifo; bundles hold only "
                    "files, directories and symlinks"
                )


def check_links_inside(tree: Path, where: str) -> None:
    """Every symlink in ``tree`` must resolve inside it, also through chains of links."""
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
                    f"{where}: symlink {relative} -> {target!r} points outside the revision"
                )


def unpack(
    source: Path, bundle_type: str, work: Path, archive_dir: Path, appspec: str | None
) -> None:
    """Unpack ``source`` into ``archive_dir`` (which must not exist), using ``work`` as scratch.

    If the bundle holds no appspec at its root but exactly one directory that does, that
    directory becomes the revision root (the agent's ``unpack_bundle`` does the same).
    """
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        if bundle_type == "directory":
            check_links_inside(source, str(source))
            copy_tree(source, work)
        elif bundle_type == "zip":
            _extract_zip(source, work)
        elif bundle_type in ("tar", "tgz"):
            _extract_tar(source, work)
        else:
            raise RevisionError(f"unsupported bundle type {bundle_type!r}")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, UnicodeDecodeError) as error:
        raise RevisionError(
            f"{source.name} is not a readable {bundle_type} bundle: {error}"
        ) from error
    check_links_inside(work, source.name)
    root = work
    if find_appspec(work, appspec) is None:
        entries = list(work.iterdir())
        if (
            len(entries) == 1
            and entries[0].is_dir()
            and not entries[0].is_symlink()
            and find_appspec(entries[0], appspec) is not None
        ):
            root = entries[0]
    root.rename(archive_dir)
    if work.exists():
        shutil.rmtree(work)
