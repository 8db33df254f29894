"""Write a zip (zip64 when sizes or offsets need it) of a revision's entries, from members the
compression pipeline deflated in worker threads."""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ci_deploy.bundle.compress import (
    Batch,
    Chunk,
    HashingWriter,
    Job,
    crc32,
    deflate_part,
    deflate_raw,
    looks_incompressible,
    ordered_map,
    plan,
    read_file,
)
from ci_deploy.bundle.tree import Entry

ZIP64_LIMIT = 0xFFFFFFFF
ZIP64_LARGE_INPUT = 0xF0000000  # a deflated member near 4 GiB may grow past it: use zip64
DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
DOS_TIME = 0
FLAG_DESCRIPTOR = 0x08
FLAG_UTF8 = 0x800
STORED, DEFLATED = 0, 8
MADE_BY = (3 << 8) | 30  # Unix, zip 3.0: unzip restores the mode bits and symlinks


@dataclass
class ZipMember:
    name: bytes
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    external: int
    offset: int = 0
    data: bytes = b""


def _zip_name(entry: Entry) -> tuple[bytes, int]:
    name = entry.name + ("/" if entry.kind == "dir" else "")
    try:
        return name.encode("utf-8"), (0 if name.isascii() else FLAG_UTF8)
    except UnicodeEncodeError:  # an undecodable file name: keep its bytes as they are
        return os.fsencode(name), 0


def _external(entry: Entry) -> int:
    kind = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}[entry.kind]
    return ((kind | entry.mode) << 16) | (0x10 if entry.kind == "dir" else 0)


def _zip_small(entry: Entry) -> ZipMember:
    name, flags = _zip_name(entry)
    if entry.kind == "dir":
        data = b""
    elif entry.kind == "symlink":
        data = os.fsencode(entry.target)
    else:
        data = read_file(entry)
    method, payload = STORED, data
    if entry.kind == "file" and data and not looks_incompressible(entry.name, data):
        packed = deflate_raw(data)
        if len(packed) < len(data):
            method, payload = DEFLATED, packed
    return ZipMember(
        name, flags, method, crc32(data), len(payload), len(data), _external(entry), data=payload
    )


@dataclass(frozen=True)
class ZipChunkOut:
    chunk: Chunk
    raw: bytes
    packed: bytes


def _zip_work(job: Job) -> object:
    if isinstance(job, Batch):
        return [_zip_small(entry) for entry in job.entries]
    raw = read_file(job.entry, job.offset, job.length)
    if job.stored:
        return ZipChunkOut(job, raw, raw)
    return ZipChunkOut(job, raw, deflate_part(raw, last=job.last))


def _local_header(member: ZipMember, zip64: bool, sizes_known: bool) -> bytes:
    extra = b""
    csize, usize = member.csize, member.usize
    if zip64:
        extra = struct.pack(
            "<HHQQ", 1, 16, usize if sizes_known else 0, csize if sizes_known else 0
        )
        csize = usize = ZIP64_LIMIT
    elif not sizes_known:
        csize = usize = 0
    version = 45 if zip64 else 20
    header = struct.pack(
        "<IHHHHHIIIHH",
        0x04034B50,
        version,
        member.flags,
        member.method,
        DOS_TIME,
        DOS_DATE,
        member.crc if sizes_known else 0,
        csize,
        usize,
        len(member.name),
        len(extra),
    )
    return header + member.name + extra


def _central_header(member: ZipMember) -> bytes:
    fields: list[int] = []
    usize, csize, offset = member.usize, member.csize, member.offset
    if usize >= ZIP64_LIMIT:
        fields.append(usize)
        usize = ZIP64_LIMIT
    if csize >= ZIP64_LIMIT:
        fields.append(csize)
        csize = ZIP64_LIMIT
    if offset >= ZIP64_LIMIT:
        fields.append(offset)
        offset = ZIP64_LIMIT
    extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
    version = 45 if fields else 20
    return (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            MADE_BY,
            version,
            member.flags,
            member.method,
            DOS_TIME,
            DOS_DATE,
            member.crc,
            csize,
            usize,
            len(member.name),
            len(extra),
            0,
            0,
            0,
            member.external,
            offset,
        )
        + member.name
        + extra
    )


def write_zip(out: HashingWriter, entries: Sequence[Entry], workers: int) -> None:
    central: list[ZipMember] = []
    current: ZipMember | None = None
    zip64_current = False
    for result in ordered_map(workers, _zip_work, plan(entries)):
        if isinstance(result, list):
            for member in result:
                member.offset = out.offset
                out.write(_local_header(member, False, True))
                out.write(member.data)
                member.data = b""
                central.append(member)
            continue
        assert isinstance(result, ZipChunkOut)
        chunk = result.chunk
        if chunk.first:
            name, flags = _zip_name(chunk.entry)
            current = ZipMember(
                name,
                flags | FLAG_DESCRIPTOR,
                STORED if chunk.stored else DEFLATED,
                0,
                0,
                0,
                _external(chunk.entry),
                offset=out.offset,
            )
            zip64_current = chunk.entry.size >= ZIP64_LARGE_INPUT
            out.write(_local_header(current, zip64_current, False))
        assert current is not None
        current.crc = crc32(result.raw, current.crc)
        current.usize += len(result.raw)
        current.csize += len(result.packed)
        out.write(result.packed)
        if chunk.last:
            size_format = "<IIQQ" if zip64_current else "<IIII"
            out.write(
                struct.pack(size_format, 0x08074B50, current.crc, current.csize, current.usize)
            )
            central.append(current)
            current = None
    start = out.offset
    for member in central:
        out.write(_central_header(member))
    size = out.offset - start
    count = len(central)
    if count >= 0xFFFF or start >= ZIP64_LIMIT or size >= ZIP64_LIMIT:
        record = out.offset
        out.write(
            struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, MADE_BY, 45, 0, 0, count, count, size, start)
        )
        out.write(struct.pack("<IIQI", 0x07064B50, 0, record, 1))
    out.write(
        struct.pack(
            "<IHHHHIIH",
            0x06054B50,
            0,
            0,
            min(count, 0xFFFF),
            min(count, 0xFFFF),
            min(size, ZIP64_LIMIT),
            min(start, ZIP64_LIMIT),
            0,
        )
    )
