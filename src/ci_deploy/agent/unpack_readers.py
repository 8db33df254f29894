"""The zip and tar readers of an archive bundle: every member checked and handed to the
unpacked tree (``Tree``), sizes declared up front (zip: the central directory), tar's extended
headers bounded before tarfile reads them, devices and fifos refused."""

from __future__ import annotations

import stat
import tarfile
import zipfile
from pathlib import Path

from ci_deploy.agent.appspec_model import RevisionError
from ci_deploy.agent.unpack_tree import PATH_MAX, Tree, human_size, safe_member_path, shown

# Extended tar headers that tarfile reads whole into memory: bounded before it does.
_PAX_LIMIT = 1 << 20
_TAR_HEADER_LIMITS = {
    tarfile.GNUTYPE_LONGNAME: PATH_MAX,
    tarfile.GNUTYPE_LONGLINK: PATH_MAX,
    tarfile.XHDTYPE: _PAX_LIMIT,
    tarfile.XGLTYPE: _PAX_LIMIT,
    tarfile.SOLARIS_XHDTYPE: _PAX_LIMIT,
}


def _key(name: str, where: str) -> str:
    return "/".join(safe_member_path(name, where).parts)


def extract_zip(bundle: Path, tree: Tree) -> None:
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


class OversizedHeader(Exception):
    """A tar extended header too big to read (tarfile does not catch this one)."""


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses a long-name or pax header bigger than a name could need before tarfile reads it
    whole into memory (a 1 GiB link target would otherwise be read, then quoted).
    ``_proc_member`` is the hook tarfile's source names for subclasses (3.10 to 3.14)."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        limit = _TAR_HEADER_LIMITS.get(self.type)
        if limit is not None and self.size > limit:
            raise OversizedHeader(
                f"a tar extended header declares {human_size(self.size)}, more than a name or "
                f"link target needs ({human_size(limit)}); refusing"
            )
        return super()._proc_member(archive)  # type: ignore[misc, no-any-return]


def extract_tar(bundle: Path, tree: Tree) -> None:
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
