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
# ruff: noqa: PTH114, PTH115, PTH118

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from ci_deploy.agent.appspec_model import RevisionError
from ci_deploy.agent.copy import copy_tree
from ci_deploy.agent.unpack_readers import OversizedHeader, extract_tar, extract_zip
from ci_deploy.agent.unpack_tree import Budget, Tree, check_link_target, shown
from ci_deploy.appspec import agent_appspec
from ci_deploy.vocabulary import ARCHIVE_BUNDLE_TYPES

DEFAULT_MAX_UNPACKED_SIZE = 4 << 30


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


def _unpack_archive(source: Path, bundle_type: str, work: Path, limit: int) -> Tree:
    tree = Tree(str(work), source.name, Budget(limit, source.name))
    try:
        if bundle_type == "zip":
            extract_zip(source, tree)
        else:
            extract_tar(source, tree)
        tree.make_links()
    except _UNREADABLE as error:
        raise UnreadableBundle(
            f"{source.name} is not a readable {bundle_type} bundle: {shown(str(error), 300)}",
            bundle_type,
        ) from error
    except OversizedHeader as error:
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
        elif bundle_type in ARCHIVE_BUNDLE_TYPES:
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
