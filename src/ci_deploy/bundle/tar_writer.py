"""Write a tar or tgz (a series of gzip members) of a revision's entries: PAX headers, owners
root, a fixed time, members compressed by the pipeline's worker threads."""

from __future__ import annotations

import tarfile
from collections.abc import Sequence

from ci_deploy.bundle.compress import (
    Batch,
    HashingWriter,
    Job,
    gzip_member,
    ordered_map,
    plan,
    read_file,
)
from ci_deploy.bundle.tree import Entry

FIXED_TIME = 315532800  # 1980-01-01T00:00:00Z
TAR_BLOCK = 512
TAR_RECORD = 20 * TAR_BLOCK


def _tar_header(entry: Entry) -> bytes:
    info = tarfile.TarInfo(entry.name)
    info.mtime = FIXED_TIME
    info.mode = entry.mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
    else:
        info.size = entry.size
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % TAR_BLOCK)


def _tar_bytes(job: Job) -> bytes:
    if isinstance(job, Batch):
        parts: list[bytes] = []
        for entry in job.entries:
            parts.append(_tar_header(entry))
            if entry.kind == "file":
                parts.append(read_file(entry))
                parts.append(_padding(entry.size))
        return b"".join(parts)
    head = _tar_header(job.entry) if job.first else b""
    tail = _padding(job.entry.size) if job.last else b""
    return head + read_file(job.entry, job.offset, job.length) + tail


def write_tar(out: HashingWriter, entries: Sequence[Entry], workers: int, gzip: bool) -> None:
    def work(job: Job) -> object:
        raw = _tar_bytes(job)
        return (len(raw), gzip_member(raw) if gzip else raw)

    raw_size = 0
    for result in ordered_map(workers, work, plan(entries)):
        assert isinstance(result, tuple)
        length, data = result
        raw_size += length
        out.write(data)
    end = 2 * TAR_BLOCK
    trailer = b"\0" * (end + (-(raw_size + end) % TAR_RECORD))
    out.write(gzip_member(trailer) if gzip else trailer)
