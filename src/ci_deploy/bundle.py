"""Build reproducible zip/tar/tgz revisions from a directory, compressing members in parallel.

Reproducible: entries are sorted, timestamps fixed at 1980-01-01 (the earliest a zip entry can
hold), owners root, so one tree gives the same bytes. Members are compressed in worker threads
(zlib-ng's and zlib's compressors release the GIL) and written in order; small files are
handed out in batches and large files in chunks, so memory stays bounded whatever the file sizes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import struct
import tarfile
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import IO, Literal

import pathspec

from ci_deploy.appspec import Diagnostic, appspec_names, load_appspec
from ci_deploy.errors import AppSpecError, InputError, InputValueError

_deflate: ModuleType
try:  # zlib-ng: zlib's API and format, several times faster at a similar ratio.
    from zlib_ng import zlib_ng as _deflate
except ImportError:  # pragma: no cover - platforms without zlib-ng wheels
    _deflate = zlib

BUNDLE_TYPES = ("zip", "tar", "tgz")
FIXED_TIME = 315532800  # 1980-01-01T00:00:00Z
IGNORE_FILE = ".codedeployignore"
DEFAULT_IGNORES = (".git",)  # a directory, or a file in worktrees and submodules

LARGE_FILE_BYTES = 4 << 20  # above this a file is streamed in chunks, never read whole
CHUNK_BYTES = 4 << 20
BATCH_BYTES = 1 << 20
BATCH_ENTRIES = 256
SAMPLE_BYTES = 64 << 10
SAMPLE_FROM_BYTES = 128 << 10
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

Kind = Literal["file", "dir", "symlink"]


@dataclass(frozen=True)
class Entry:
    """One archive member: ``name`` is the POSIX path inside the revision."""

    name: str
    kind: Kind
    mode: int
    size: int = 0
    path: Path = field(default_factory=Path)
    target: str = ""


@dataclass(frozen=True)
class BundleOptions:
    source: Path
    output: Path
    bundle_type: str | None = None
    validate: bool = True
    excludes: tuple[str, ...] = ()
    follow_symlinks: bool = False
    compute_platform: str | None = None
    appspec_filename: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class BundleResult:
    path: Path
    bundle_type: str
    size: int
    sha256: str
    files: int
    warnings: tuple[Diagnostic, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "bundle_type": self.bundle_type,
            "size": self.size,
            "sha256": self.sha256,
            "files": self.files,
        }


# ---------------------------------------------------------------------------------------------
# What goes in.


def bundle_type_for(output: Path, explicit: str | None) -> str:
    """The bundle type: ``explicit``, else from the output's extension, else zip."""
    by_suffix = suffix_type(output.name)
    if explicit is None:
        return by_suffix or "zip"
    if explicit not in BUNDLE_TYPES:
        raise InputValueError("bundle_type", "one of " + ", ".join(BUNDLE_TYPES), explicit)
    if by_suffix is not None and by_suffix != explicit:
        raise InputError(
            f"input bundle_type is {explicit} but the output {output.name!r} names a {by_suffix}",
            hint=f"drop --bundle-type or give the output a .{explicit} extension",
        )
    return explicit


def suffix_type(name: str) -> str | None:
    """zip/tar/tgz from a file name's extension, else None."""
    lower = name.lower()
    if lower.endswith((".tgz", ".tar.gz")):
        return "tgz"
    if lower.endswith(".tar"):
        return "tar"
    if lower.endswith(".zip"):
        return "zip"
    return None


def ignore_rules(root: Path, excludes: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """``.git``, the root's ``.codedeployignore`` and ``--exclude`` patterns, gitignore syntax."""
    lines = list(DEFAULT_IGNORES)
    ignore_file = root / IGNORE_FILE
    if ignore_file.is_dir():
        raise InputError(
            f"{ignore_file} is a directory, not an ignore file",
            hint=f"make {IGNORE_FILE} a text file of gitignore patterns, or remove it",
        )
    if ignore_file.is_file():
        try:
            lines += ignore_file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise InputError(
                f"cannot read {ignore_file}: byte {error.object[error.start]:#04x} at offset "
                f"{error.start} is not UTF-8",
                hint=f"save {IGNORE_FILE} as UTF-8 text",
            ) from error
        except OSError as error:
            raise InputError(
                f"cannot read {ignore_file}: {error.strerror or error}",
                hint=f"make {IGNORE_FILE} readable by this user",
            ) from error
    lines += list(excludes)
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (ValueError, TypeError) as error:
        raise InputError(
            f"bad ignore pattern: {error}", hint=f"check {IGNORE_FILE} and --exclude"
        ) from error


_LOOP_HINT = "ignore it in .codedeployignore or do not pass --follow-symlinks"
_MAX_LINKS = 40  # Linux's limit on links followed in one lookup (ELOOP beyond it)


def link_chain(name: str, path: Path) -> str:
    """``name -> target -> ...`` up to the first link seen twice: the loop, for an error."""
    chain = [name]
    current = path.absolute()
    seen = {current}
    for _ in range(_MAX_LINKS):
        if not current.is_symlink():
            break
        target = current.readlink()
        chain.append(str(target))
        # Relative to the link's directory, lexically: enough to name the loop in a message.
        current = Path(os.path.normpath(current.parent / target))
        if current in seen:
            break
        seen.add(current)
    return " -> ".join(chain)


def _resolve_error(name: str, path: Path, error: OSError) -> InputError:
    """A member that cannot be looked at, as bad input naming it."""
    if error.errno == errno.ELOOP:
        return InputError(f"symlink loop at {name}: {link_chain(name, path)}", hint=_LOOP_HINT)
    return InputError(f"cannot read {name}: {error.strerror or error}")


def scan(
    root: Path,
    rules: pathspec.GitIgnoreSpec,
    *,
    follow_symlinks: bool = False,
    skip: Iterable[Path] = (),
) -> list[Entry]:
    """Every member of the revision at ``root``, sorted, parents before children."""
    real_root = Path(os.path.realpath(root))
    skipped = {os.path.realpath(path) for path in skip}
    # realpath() costs several system calls: only a child with a skipped file's name pays it.
    skipped_names = {Path(path).name for path in skipped}
    entries: list[Entry] = []
    # Device/inode of the directories being walked, so a followed symlink loop is an error.
    active: list[tuple[int, int]] = []

    def walk(directory: Path, prefix: str) -> None:
        try:
            children = sorted(os.scandir(directory), key=lambda item: item.name)
        except OSError as error:
            raise InputError(f"cannot read directory {directory}: {error}") from error
        for child in children:
            name = prefix + child.name
            path = Path(child.path)
            if (
                child.name in skipped_names
                and os.path.realpath(path) in skipped
                and not child.is_symlink()
            ):
                continue
            try:
                is_dir = child.is_dir(follow_symlinks=follow_symlinks)
            except OSError as error:
                if error.errno != errno.ELOOP:
                    raise _resolve_error(name, path, error) from error
                is_dir = False  # a loop of links resolves to nothing: its name decides
            if rules.match_file(name + "/" if is_dir else name):
                continue
            if child.is_symlink():
                target = str(path.readlink())
                resolved = os.path.realpath(path)
                inside = resolved == str(real_root) or resolved.startswith(str(real_root) + os.sep)
                if not follow_symlinks:
                    if Path(target).is_absolute() or not inside:
                        raise InputError(
                            f"symlink {name} points outside the revision ({target})",
                            hint="point it inside the revision, ignore it in .codedeployignore, "
                            "or pass --follow-symlinks to store the target's content",
                        )
                    entries.append(Entry(name, "symlink", 0o777, path=path, target=target))
                    continue
                try:
                    path.stat()
                except FileNotFoundError:
                    raise InputError(
                        f"symlink {name} points to {target}, which does not exist",
                        hint="fix or ignore the link (--follow-symlinks stores link targets)",
                    ) from None
                except OSError as error:
                    raise _resolve_error(name, path, error) from error
            info = path.stat() if follow_symlinks else child.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                identity = (info.st_dev, info.st_ino)
                if identity in active:
                    raise InputError(f"symlink loop at {name}", hint=_LOOP_HINT)
                entries.append(Entry(name, "dir", stat.S_IMODE(info.st_mode), path=path))
                active.append(identity)
                walk(path, name + "/")
                active.pop()
            elif stat.S_ISREG(info.st_mode):
                entries.append(
                    Entry(name, "file", stat.S_IMODE(info.st_mode), info.st_size, path=path)
                )
            else:
                raise InputError(
                    f"{name} is not a regular file, directory or symlink",
                    hint="ignore it in .codedeployignore or with --exclude",
                )

    root_info = real_root.stat()
    active.append((root_info.st_dev, root_info.st_ino))
    walk(root, "")
    return entries


def appspec_at_root(root: Path, entries: Sequence[Entry], filename: str | None) -> str:
    """The appspec's name at the revision root; a clear error when it is elsewhere or ignored."""
    wanted = appspec_names(filename)
    names = {entry.name for entry in entries if entry.kind != "dir"}
    for name in wanted:
        if name in names:
            return name
    for name in wanted:
        if (root / name).is_file():
            raise AppSpecError(
                f"{name} is excluded from the bundle by {IGNORE_FILE} or --exclude; "
                "the agent needs it at the revision root"
            )
    nested = sorted(
        entry.name
        for entry in entries
        if entry.kind != "dir" and entry.name.rsplit("/", 1)[-1] in wanted
    )
    where = ""
    if nested:
        where = (
            f"; found {nested[0]}, but the agent reads the appspec only at the revision root: "
            f"bundle {root / nested[0].rsplit('/', 1)[0]} instead"
        )
    raise AppSpecError(f"no {' or '.join(wanted)} at the root of {root}{where}")


# ---------------------------------------------------------------------------------------------
# Compression, in worker threads.


def deflate_raw(data: bytes) -> bytes:
    packed: bytes = _deflate.compress(data, DEFLATE_LEVEL, -15)
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


# ---------------------------------------------------------------------------------------------
# zip


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
    # Each chunk is an independent run of deflate blocks ending byte-aligned (a full flush),
    # so chunks compress in parallel and concatenate into one valid stream.
    finish = zlib.Z_FINISH if job.last else zlib.Z_FULL_FLUSH
    packer = _deflate.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    packed = packer.compress(raw) + packer.flush(finish)
    if len(packed) > len(raw) + 64:  # incompressible chunk: stored deflate blocks instead
        packer = _deflate.compressobj(0, zlib.DEFLATED, -15)
        packed = packer.compress(raw) + packer.flush(finish)
    return ZipChunkOut(job, raw, packed)


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


# ---------------------------------------------------------------------------------------------
# tar and tgz


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


# ---------------------------------------------------------------------------------------------
# The whole job.


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def build(options: BundleOptions) -> BundleResult:
    """Build the bundle at ``options.output`` (atomically: a temp file renamed into place).

    With ``options.validate``, the appspec must sit at the root and be valid (AppSpecError,
    carrying the diagnostics, otherwise). Warnings are in ``BundleResult.warnings``.
    """
    source = options.source
    if not source.exists():
        raise InputError(
            f"input source: {source} does not exist", hint="pass the revision directory as SOURCE"
        )
    if not source.is_dir():
        raise InputError(
            f"input source: {source} is not a directory",
            hint="bundle a revision directory (a prebuilt archive needs no bundling)",
        )
    bundle_type = bundle_type_for(options.output, options.bundle_type)
    output = options.output
    if output.is_dir():
        raise InputError(
            f"input output: {output} is a directory", hint="name the bundle file, e.g. app.zip"
        )
    if not output.parent.is_dir():
        raise InputError(
            f"input output: directory {output.parent} does not exist",
            hint="create it first or write the bundle elsewhere",
        )
    warnings: list[Diagnostic] = []
    rules = ignore_rules(source, options.excludes)
    entries = scan(source, rules, follow_symlinks=options.follow_symlinks, skip=[options.output])
    if options.validate:
        appspec = appspec_at_root(source, entries, options.appspec_filename)
        warnings = load_appspec(source, options.compute_platform, appspec).warnings
    workers = options.workers or default_workers()
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed or removed below
            prefix=f".{output.name}.", suffix=".tmp", dir=output.parent, delete=False
        )
    except OSError as error:
        raise InputError(f"input output: cannot write in {output.parent}: {error}") from error
    temporary = Path(handle.name)
    try:
        with handle:
            writer = HashingWriter(handle)
            if bundle_type == "zip":
                write_zip(writer, entries, workers)
            else:
                write_tar(writer, entries, workers, gzip=bundle_type == "tgz")
        temporary.chmod(0o644)
        temporary.replace(output)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InputError(f"input output: cannot write {output}: {error}") from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    files = sum(1 for entry in entries if entry.kind != "dir")
    return BundleResult(
        output, bundle_type, writer.offset, writer.hexdigest(), files, tuple(warnings)
    )
