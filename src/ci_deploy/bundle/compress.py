"""The parallel compression pipeline: zlib-ng's deflate, the test for incompressible data, and
members handed to worker threads in archive order (small ones in batches, large files in
chunks), so memory stays bounded whatever the file sizes."""

from __future__ import annotations

import hashlib
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import ModuleType
from typing import IO

from ci_deploy.bundle.tree import Entry
from ci_deploy.errors import InputError

_deflate: ModuleType
try:  # zlib-ng: zlib's API and format, several times faster at a similar ratio.
    from zlib_ng import zlib_ng as _deflate
except ImportError:  # pragma: no cover - platforms without zlib-ng wheels
    _deflate = zlib

LARGE_FILE_BYTES = 4 << 20  # above this a file is streamed in chunks, never read whole
CHUNK_BYTES = 4 << 20
BATCH_BYTES = 1 << 20
BATCH_ENTRIES = 256
SAMPLE_BYTES = 64 << 10
INCOMPRESSIBLE_RATIO = 0.97
# zlib-ng level 3: ~2x faster than zlib level 6 with archives within 1 % of Info-ZIP's on
# source text (benchmarks/bundle.py). Not ISA-L (python-isal), though faster still: its levels
# 1 and 2 read hash tables they never initialise, so their bytes depend on what malloc hands back
# (MALLOC_PERTURB_ changes them; worker threads made zips differ between runs), and its level 3
# gave archives 2.3 % larger than Info-ZIP's. zlib-ng gives the same bytes whatever memory held.
DEFLATE_LEVEL = 3 if _deflate is not zlib else 6

# Already-compressed formats: deflating them again only costs time.
INCOMPRESSIBLE_SUFFIXES = frozenset(
    (
        *(".7z", ".avif", ".br", ".bz2", ".gif", ".gz", ".heic", ".jar", ".jpeg", ".jpg"),
        *(".lz", ".lz4", ".mp3", ".mp4", ".ogg", ".png", ".rar", ".tgz", ".war", ".webm"),
        *(".webp", ".whl", ".woff", ".woff2", ".xz", ".zip", ".zst"),
    )
)


def deflate_raw(data: bytes) -> bytes:
    packed: bytes = _deflate.compress(data, DEFLATE_LEVEL, -15)
    return packed


def deflate_part(data: bytes, *, last: bool) -> bytes:
    """``data`` as one part of a raw deflate stream. Each part is an independent run of deflate
    blocks ending byte-aligned (a full flush; the stream's end when ``last``), so parts compress
    in parallel and concatenate into one valid stream."""
    finish = zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH
    packer = _deflate.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    packed: bytes = packer.compress(data) + packer.flush(finish)
    if len(packed) > len(data) + 64:  # incompressible part: stored deflate blocks instead
        packer = _deflate.compressobj(0, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush(finish)
    return packed


def gzip_member(data: bytes) -> bytes:
    """One gzip member (mtime 0); a tgz is a series of them, which gzip readers concatenate."""
    member: bytes = _deflate.compress(data, DEFLATE_LEVEL, 31)
    return member


def crc32(data: bytes, value: int = 0) -> int:
    checksum: int = _deflate.crc32(data, value)
    return checksum


def looks_incompressible(name: str, sample: bytes) -> bool:
    """Known compressed formats, or a sample that deflate cannot shrink."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in INCOMPRESSIBLE_SUFFIXES:
        return True
    if len(sample) < SAMPLE_BYTES:
        return False
    return len(deflate_raw(sample[:SAMPLE_BYTES])) > INCOMPRESSIBLE_RATIO * SAMPLE_BYTES


def read_file(entry: Entry, offset: int = 0, length: int | None = None) -> bytes:
    """The bytes of a member (a range of it), failing clearly if it changed since the scan."""
    want = entry.size - offset if length is None else length
    try:
        with entry.path.open("rb") as handle:
            if offset:
                handle.seek(offset)
            data = handle.read(want)
            extra = handle.read(1) if offset + want == entry.size else b""
    except OSError as error:
        raise InputError(f"cannot read {entry.name}: {error}") from error
    if len(data) != want or extra:
        raise InputError(
            f"{entry.name} changed while it was being bundled",
            hint="bundle a tree that no other process is writing to",
        )
    return data


# ---------------------------------------------------------------------------------------------
# Jobs: small members in batches, large files in chunks, handed to workers in archive order.


@dataclass(frozen=True)
class Batch:
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Chunk:
    entry: Entry
    offset: int
    length: int
    stored: bool

    @property
    def first(self) -> bool:
        return self.offset == 0

    @property
    def last(self) -> bool:
        return self.offset + self.length >= self.entry.size


Job = Batch | Chunk


def plan(entries: Sequence[Entry]) -> Iterator[Job]:
    batch: list[Entry] = []
    batch_bytes = 0
    for entry in entries:
        if entry.kind == "file" and entry.size > LARGE_FILE_BYTES:
            if batch:
                yield Batch(tuple(batch))
                batch, batch_bytes = [], 0
            sample = read_file(entry, 0, SAMPLE_BYTES)
            stored = looks_incompressible(entry.name, sample)
            for offset in range(0, entry.size, CHUNK_BYTES):
                yield Chunk(entry, offset, min(CHUNK_BYTES, entry.size - offset), stored)
            continue
        batch.append(entry)
        batch_bytes += entry.size
        if batch_bytes >= BATCH_BYTES or len(batch) >= BATCH_ENTRIES:
            yield Batch(tuple(batch))
            batch, batch_bytes = [], 0
    if batch:
        yield Batch(tuple(batch))


def ordered_map(
    workers: int, function: Callable[[Job], object], jobs: Iterable[Job]
) -> Iterator[object]:
    """``function`` over ``jobs`` in threads, results in job order, at most a few in flight."""
    ahead = 2 * workers + 2
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bundle") as pool:
        pending: deque[Future[object]] = deque()
        try:
            for job in jobs:
                pending.append(pool.submit(function, job))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


class HashingWriter:
    """Writes to a file, hashing and counting every byte on the way."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()
        self.offset = 0

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self._hash.update(data)
        self.offset += len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
