"""Copy files the way ``cp -a`` does (content, mode, timestamps, symlinks), with few syscalls.

``shutil.copytree`` costs about 1.5x ``cp -a`` on 20,000 small files (reference/
performance-notes.md), mostly in ``copystat``; here each file is one open/copy/fchmod/futime.
"""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH101, PTH102, PTH115, PTH118, PTH211

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_READ = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_CHUNK = 1 << 30
_NO_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP)


def _copy_rest(fin: int, fout: int, copied: int, size: int) -> None:
    """Finish a copy that one copy_file_range call did not complete (or could not do)."""
    use_range = True
    while copied < size:
        if use_range:
            try:
                sent = os.copy_file_range(fin, fout, min(size - copied, _CHUNK))
            except OSError as error:
                if error.errno not in _NO_RANGE:
                    raise
                use_range = False
                continue
        else:
            sent = os.sendfile(fout, fin, copied, min(size - copied, _CHUNK))
        if sent == 0:
            break  # the file shrank while we copied it
        copied += sent


def copy_file(src: str, dst: str, st: os.stat_result) -> None:
    """Copy regular file ``src`` (whose stat is ``st``) to ``dst``, keeping mode and times.

    ``dst`` must not be a symlink (O_NOFOLLOW refuses to write through one). This is the
    install's inner loop: one copy_file_range call copies a typical file whole.
    """
    fin = os.open(src, _READ)
    try:
        fout = os.open(dst, _WRITE, 0o600)
        try:
            size = st.st_size
            if size:
                try:
                    copied = os.copy_file_range(fin, fout, min(size, _CHUNK))
                except OSError as error:
                    if error.errno not in _NO_RANGE:
                        raise
                    copied = 0
                if copied < size:
                    _copy_rest(fin, fout, copied, size)
            os.fchmod(fout, st.st_mode & 0o7777)
            os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def copy_link(src: str, dst: str) -> None:
    os.symlink(os.readlink(src), dst)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy the contents of directory ``src`` into existing directory ``dst`` (symlinks kept)."""
    pending = [(str(src), str(dst))]
    directories: list[tuple[str, os.stat_result]] = []
    while pending:
        source_dir, target_dir = pending.pop()
        with os.scandir(source_dir) as entries:
            for entry in entries:
                target = os.path.join(target_dir, entry.name)
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    copy_link(entry.path, target)
                elif stat.S_ISDIR(st.st_mode):
                    os.mkdir(target, 0o700)
                    directories.append((target, st))
                    pending.append((entry.path, target))
                elif stat.S_ISREG(st.st_mode):
                    copy_file(entry.path, target, st)
    # Directory modes and times last: writing into a directory changes its mtime.
    for target, st in reversed(directories):
        os.chmod(target, stat.S_IMODE(st.st_mode))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
