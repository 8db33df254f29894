"""Bundle types: zip, tar or tgz, from --bundle-type and a file's name, or from what a file
holds (its first bytes)."""

from __future__ import annotations

from pathlib import Path

from ci_deploy.errors import InputError, InputValueError
from ci_deploy.vocabulary import ARCHIVE_BUNDLE_TYPES as BUNDLE_TYPES

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP_MAGIC = b"\x1f\x8b"


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


def detect_bundle_type(source: Path) -> str:
    """directory, zip, tgz or tar, from what the file holds (not its name); InputError naming
    ``source`` when it is none of them."""
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
    raise InputError(f"{source} is not a directory, zip, tar or tgz bundle (unrecognised content)")
