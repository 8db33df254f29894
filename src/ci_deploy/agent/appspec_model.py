"""Read a revision's Server AppSpec into the few typed values the engine acts on.

``ci_deploy.appspec`` validates it first, so the engine rejects an invalid appspec with the same
file:line:column diagnostics as ``ci-deploy validate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ci_deploy import appspec as validator
from ci_deploy.agent.model import ALL_EVENTS, RESERVED_EVENTS
from ci_deploy.appspec.server import RUNAS_SPACE
from ci_deploy.vocabulary import FILE_EXISTS_BEHAVIORS

DEFAULT_TIMEOUT_SECONDS = 3600
# Validator errors the engine leaves to its Install, which fails as the agent does, on what is
# really installed (the validator cannot see which directories the instance already has).
LEFT_TO_INSTALL = frozenset({"permissions-duplicate-object", "permissions-nested-object"})


class RevisionError(Exception):
    """The revision cannot be deployed as it is; the message says why, for the user."""


@dataclass(frozen=True)
class FileMapping:
    source: str
    destination: str


@dataclass(frozen=True)
class Permission:
    object: str
    pattern: str
    excepts: tuple[str, ...]
    types: tuple[str, ...]
    owner: str | None
    group: str | None
    mode: int | None
    acls: tuple[str, ...]
    has_context: bool


@dataclass(frozen=True)
class HookScript:
    location: str
    timeout_seconds: int
    runas: str | None
    sudo: bool


@dataclass(frozen=True)
class AppSpec:
    path: Path
    files: tuple[FileMapping, ...]
    permissions: tuple[Permission, ...]
    hooks: Mapping[str, tuple[HookScript, ...]]
    file_exists_behavior: str | None
    warnings: tuple[str, ...] = ()


# What the agent itself finds only when it runs the hook: left to the hook's own event (as
# ScriptMissing) when the engine reports diagnostics as the agent does.
LEFT_TO_HOOKS = frozenset({"hook-script-not-found"})


def load_appspec(
    revision: Path, filename: str | None, *, tolerated: frozenset[str] = frozenset()
) -> AppSpec:
    """The revision's AppSpec, found as the agent finds it and checked by the validator (its
    links, its size, its rules for the Server platform); errors whose code is in ``tolerated``
    become warnings."""
    path = validator.agent_appspec(revision, filename)
    if path is None:
        wanted = filename or "appspec.yml"
        raise RevisionError(f"the revision has no {wanted} at its root ({revision})")
    result = validator.validate_path(revision, "server", path.name)

    def where(diagnostic: validator.Diagnostic) -> str:
        return f"{path.name}:{diagnostic.line}:{diagnostic.column}: {diagnostic.code}"

    left = LEFT_TO_INSTALL | tolerated
    errors = [error for error in result.errors if error.code not in left]
    if errors or result.document is None:
        count = len(errors)
        raise RevisionError(
            f"invalid AppSpec ({count} error{'s' if count != 1 else ''}):\n"
            + "\n".join(f"{where(error)}: {error.message}" for error in errors)
        )
    parsed = parse_appspec(path, result.document)
    notes = [*result.warnings, *(e for e in result.errors if e.code in left)]
    warnings = tuple(f"{where(note)}: {note.message}" for note in notes)
    return replace(parsed, warnings=warnings)


def _where(path: Path, key: str) -> str:
    return f"{path.name}: {key}"


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise RevisionError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RevisionError(f"{where}: expected a list, got {value!r}")
    return value


def _mode(value: object, where: str) -> int:
    # Digits as written; an int is what YAML made of unquoted digits (the agent reads it the same).
    digits = str(value)
    if isinstance(value, bool) or not digits.isdigit() or not 1 <= len(digits) <= 4:
        raise RevisionError(f"{where}: expected 1 to 4 octal digits, got {value!r}")
    if any(char not in "01234567" for char in digits):
        raise RevisionError(f"{where}: {value!r} has digits that are not octal (0-7)")
    return int(digits, 8)


def _hook(entry: object, where: str) -> HookScript:
    if not isinstance(entry, dict):
        raise RevisionError(f"{where}: expected a mapping with location, got {entry!r}")
    location = _text(entry.get("location"), f"{where}.location")
    timeout = entry.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(timeout, str) and timeout.strip().isdigit():
        timeout = int(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise RevisionError(f"{where}.timeout: expected a whole number of seconds > 0")
    runas = entry.get("runas")
    if runas is not None:
        # The agent strips it (to_s.strip); the validator has checked what is left is a name.
        runas = _text(runas, f"{where}.runas").strip(RUNAS_SPACE)
    return HookScript(location, timeout, runas, entry.get("sudo") is True)


def parse_appspec(path: Path, document: object) -> AppSpec:
    if not isinstance(document, dict):
        raise RevisionError(f"{path.name}: expected a mapping at the top level")
    if (
        "version" not in document
        or document["version"] != 0.0
        or isinstance(document["version"], str | bool)
    ):
        raise RevisionError(
            f"{_where(path, 'version')}: expected 0.0 (unquoted), got {document.get('version')!r}"
        )
    if document.get("os") != "linux":
        raise RevisionError(
            f"{_where(path, 'os')}: this engine deploys to linux, got {document.get('os')!r}"
        )
    files = []
    for index, entry in enumerate(_list(document.get("files"), _where(path, "files"))):
        where = _where(path, f"files[{index}]")
        if not isinstance(entry, dict):
            raise RevisionError(f"{where}: expected source and destination")
        if "source" not in entry:
            raise RevisionError(f"{where}: specifies a destination file, but no source file")
        if "destination" not in entry:
            raise RevisionError(f"{where}: specifies only a source file")
        files.append(
            FileMapping(
                _text(entry["source"], f"{where}.source"),
                _text(entry["destination"], f"{where}.destination"),
            )
        )
    permissions = []
    for index, entry in enumerate(_list(document.get("permissions"), _where(path, "permissions"))):
        where = _where(path, f"permissions[{index}]")
        if not isinstance(entry, dict):
            raise RevisionError(f"{where}: expected a mapping with object")
        # An absent type means both; `type: []` reaches nothing (the agent's `opts[:type] ||`).
        raw_types = entry.get("type")
        types = ("file", "directory")
        if raw_types is not None:
            types = tuple(_list(raw_types, f"{where}.type"))
        if any(kind not in ("file", "directory") for kind in types):
            raise RevisionError(f"{where}.type: expected file and/or directory, got {types!r}")
        permissions.append(
            Permission(
                object=_text(entry.get("object"), f"{where}.object"),
                pattern=_text(entry.get("pattern", "**"), f"{where}.pattern"),
                excepts=tuple(str(item) for item in _list(entry.get("except"), f"{where}.except")),
                types=types,
                owner=None if entry.get("owner") is None else str(entry["owner"]),
                group=None if entry.get("group") is None else str(entry["group"]),
                mode=None if entry.get("mode") is None else _mode(entry["mode"], f"{where}.mode"),
                acls=tuple(str(item) for item in _list(entry.get("acls"), f"{where}.acls")),
                has_context=entry.get("context") is not None,
            )
        )
    raw_hooks = document.get("hooks") or {}
    if not isinstance(raw_hooks, dict):
        raise RevisionError(f"{_where(path, 'hooks')}: expected a mapping of event names")
    unknown = sorted(str(name) for name in raw_hooks if name not in ALL_EVENTS)
    if unknown:
        raise RevisionError(
            f"{_where(path, 'hooks')}: contains unknown lifecycle events: {', '.join(unknown)}"
        )
    hooks = {
        name: tuple(
            _hook(entry, _where(path, f"hooks.{name}[{index}]"))
            for index, entry in enumerate(_list(scripts, _where(path, f"hooks.{name}")))
        )
        for name, scripts in raw_hooks.items()
        if name not in RESERVED_EVENTS
    }
    behavior = document.get("file_exists_behavior")
    if behavior is not None and behavior not in FILE_EXISTS_BEHAVIORS:
        raise RevisionError(
            f"{_where(path, 'file_exists_behavior')}: expected one of "
            f"{', '.join(FILE_EXISTS_BEHAVIORS)}, got {behavior!r}"
        )
    return AppSpec(path, tuple(files), tuple(permissions), hooks, behavior)
