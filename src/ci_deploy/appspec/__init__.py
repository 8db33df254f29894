"""AppSpec parsing and validation for the Server (EC2/on-premises), ECS and Lambda platforms.

The library API other modules call:

- ``validate_path(path, compute_platform=None, appspec_filename=None) -> ValidationResult``:
  every problem as a ``Diagnostic``; raises only ``InputError`` when there is no appspec to read
  (none at the revision root, unreadable, or a symlink leading out of the revision).
- ``validate_text(text, file, ...)``: the same for inline content (e.g. an ECS ``AppSpecContent``).
- ``load_appspec(path, ...) -> AppSpec``: the parsed document and its platform, raising
  ``AppSpecError`` (with the diagnostics) when it has errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ci_deploy.appspec import aws_lambda, ecs, server
from ci_deploy.appspec.checks import Context
from ci_deploy.appspec.diagnostics import Collector, Diagnostic, Severity, has_errors
from ci_deploy.appspec.loader import decode, parse
from ci_deploy.appspec.nodes import Mapping, Node, Sequence
from ci_deploy.errors import AppSpecError, InputError, InputValueError

__all__ = [
    "APPSPEC_NAMES",
    "MAX_APPSPEC_BYTES",
    "PLATFORMS",
    "AppSpec",
    "Diagnostic",
    "Severity",
    "ValidationResult",
    "check_appspec_filename",
    "check_link_inside",
    "detect_platform",
    "find_appspec",
    "load_appspec",
    "read_appspec",
    "validate_path",
    "validate_text",
]

PLATFORMS = ("server", "ecs", "lambda")
# The agent reads the deployment's AppSpec file name (appspec.yml by default), then appspec.yaml.
APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")
_BUNDLE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz")
# The largest appspec read. The CodeDeploy API sets no length on AppSpecContent.content; real
# AppSpecs are a few KB (a big Server one, with hundreds of files and permissions entries, stays
# well under 100 KB), so 1 MiB refuses only what is not an AppSpec, before it is parsed.
MAX_APPSPEC_BYTES = 1 << 20
_RULES = {"server": server.check, "ecs": ecs.check, "lambda": aws_lambda.check}


@dataclass(frozen=True)
class ValidationResult:
    """What validation found. ``document`` is the parsed mapping (None if unparseable);
    ``platform`` the forced or detected platform (None if unparseable)."""

    diagnostics: list[Diagnostic]
    platform: str | None
    appspec_path: Path
    document: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


@dataclass(frozen=True)
class AppSpec:
    """A valid AppSpec: its parsed document, platform, file and any warnings."""

    document: dict[str, Any]
    platform: str
    path: Path
    warnings: list[Diagnostic] = field(default_factory=list)


def check_appspec_filename(name: str | None) -> None:
    """Refuse an --appspec-filename that is not a plain name: the agent reads the AppSpec from
    the revision root only, and a path would reach outside the revision."""
    if name is not None and (
        not name.strip() or "/" in name or "\\" in name or name in {".", ".."}
    ):
        raise InputValueError(
            "appspec_filename",
            "a file name at the revision root such as appspec.yml",
            name,
            hint="the agent reads the AppSpec from the revision root only",
        )


def find_appspec(path: Path, appspec_filename: str | None = None) -> tuple[Path, Path | None]:
    """(the appspec file, the revision directory or None) for a directory or a file path."""
    check_appspec_filename(appspec_filename)
    if path.is_dir():
        names = (appspec_filename,) if appspec_filename else APPSPEC_NAMES
        for name in names:
            candidate = path / name
            if candidate.is_file():
                check_link_inside(candidate, path)
                return candidate, path
        nested = [
            child
            for child in sorted(path.iterdir())
            if child.is_dir() and any((child / name).is_file() for name in names)
        ]
        hint = (
            f"{nested[0]} has one: pass that directory (the revision root) instead"
            if len(nested) == 1
            else "put the AppSpec at the revision root, pass the appspec file itself, or name "
            "it with --appspec-filename"
        )
        raise InputError(f"input source: no {' or '.join(names)} at the root of {path}", hint=hint)
    if path.is_file():
        if path.name.lower().endswith(_BUNDLE_SUFFIXES):
            raise InputError(
                f"input source: {path} is a bundle; validate reads a revision directory or an "
                "appspec file",
                hint="validate the directory the bundle is built from",
            )
        check_link_inside(path, path.parent)
        return path, None
    raise InputError(
        f"input source: {path} does not exist",
        hint="pass a revision directory or an appspec file",
    )


def check_link_inside(appspec: Path, root: Path) -> None:
    """Refuse an appspec that is a symlink leading out of ``root`` (its revision, or the
    directory of an appspec file given alone), so nothing outside is read and echoed in
    diagnostics. The rule and the words are ``ci-deploy local``'s for every link of a revision:
    a relative target that stays inside; an absolute one is refused, as it names a path on this
    machine, not in the revision the agent unpacks."""
    if not appspec.is_symlink():
        return
    target = os.readlink(appspec)  # noqa: PTH115 - the raw text; Path would normalise it
    hint = (
        "the agent reads the AppSpec inside the revision: replace the link with the file, or "
        "link to a file inside the revision with a relative path"
    )
    if target.startswith("/"):
        raise InputError(
            f"{root}: symlink {appspec.name} points to absolute path {target!r}", hint=hint
        )
    depth = 0
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            break
    resolved, top = os.path.realpath(appspec), os.path.realpath(root)
    if depth < 0 or not resolved.startswith(top.rstrip(os.sep) + os.sep):
        raise InputError(
            f"{root}: symlink {appspec.name} -> {target!r} points outside the revision", hint=hint
        )


def read_appspec(path: Path) -> bytes:
    """The appspec's bytes, at most ``MAX_APPSPEC_BYTES`` + 1 of them: a bigger file is not
    read whole (validate_text reports it). InputError when it cannot be read."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_APPSPEC_BYTES + 1)
    except OSError as error:
        raise InputError(
            f"input source: cannot read {path}: {error.strerror or error}",
            hint="check the file's permissions",
        ) from error


def validate_path(
    path: Path, compute_platform: str | None = None, appspec_filename: str | None = None
) -> ValidationResult:
    """Validate the appspec of a revision directory (checking its files and scripts too) or an
    appspec file. Invalid content never raises: it is reported as diagnostics."""
    appspec_path, revision = find_appspec(path, appspec_filename)
    data = read_appspec(appspec_path)
    extra: list[Diagnostic] = []
    if (
        revision is not None
        and not appspec_filename
        and all((revision / name).is_file() for name in APPSPEC_NAMES)
    ):
        extra.append(
            Diagnostic(
                appspec_path.as_posix(),
                1,
                1,
                "warning",
                "appspec-both-names",
                f"both {' and '.join(APPSPEC_NAMES)} exist: the agent reads {appspec_path.name}; "
                "delete the other so nobody edits the wrong one",
            )
        )
    result = validate_text(
        data,
        appspec_path.as_posix(),
        compute_platform=compute_platform,
        revision=revision,
        as_json=appspec_path.suffix.lower() == ".json",
    )
    diagnostics = sorted([*extra, *result.diagnostics], key=_order)
    return ValidationResult(diagnostics, result.platform, appspec_path, result.document)


def validate_text(
    text: str | bytes,
    file: str,
    *,
    compute_platform: str | None = None,
    revision: Path | None = None,
    as_json: bool = False,
) -> ValidationResult:
    """Validate appspec content; ``file`` names it in diagnostics. With ``revision``, sources
    and hook scripts are checked against that directory."""
    collector = Collector(file)
    if _size(text) > MAX_APPSPEC_BYTES:
        collector.error(
            1,
            1,
            "file-too-large",
            f"the AppSpec is larger than 1 MiB ({MAX_APPSPEC_BYTES} bytes), so it is not "
            "read: an AppSpec is a few KB; check that this is the right file",
        )
        return ValidationResult(collector.sorted(), None, Path(file))
    decoded = decode(text, collector) if isinstance(text, bytes) else text
    root = parse(decoded, collector, as_json=as_json).root if decoded is not None else None
    platform = None
    document = None
    if isinstance(root, Mapping):
        platform = compute_platform or detect_platform(root)
        _RULES[platform](Context(collector, revision), root)
        converted = root.to_python()
        assert isinstance(converted, dict)
        document = converted
    return ValidationResult(collector.sorted(), platform, Path(file), document)


def _size(text: str | bytes) -> int:
    """Bytes in UTF-8 (a str longer than the limit in characters is longer in bytes too)."""
    if isinstance(text, bytes) or len(text) > MAX_APPSPEC_BYTES:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def load_appspec(
    path: Path, compute_platform: str | None = None, appspec_filename: str | None = None
) -> AppSpec:
    """The parsed appspec of ``path`` and its platform; ``AppSpecError`` if it has errors."""
    result = validate_path(path, compute_platform, appspec_filename)
    if not result.ok or result.document is None or result.platform is None:
        count = len(result.errors)
        raise AppSpecError(
            f"{result.appspec_path.as_posix()}: the AppSpec has {count} "
            f"error{'s' if count != 1 else ''}; run 'ci-deploy validate' to list them",
            list(result.diagnostics),
        )
    return AppSpec(result.document, result.platform, result.appspec_path, result.warnings)


def detect_platform(root: Mapping) -> str:
    """'ecs', 'lambda' or 'server', from the resource type, else from the keys' spelling."""
    resources = root.get_folded("resources")
    if resources is not None:
        for text in _strings(resources[1]):
            if text.lower() == "aws::ecs::service":
                return "ecs"
            if text.lower() == "aws::lambda::function":
                return "lambda"
        return "ecs" if resources[0].value == "Resources" else "lambda"
    if any(root.get(name) is not None for name in ("os", "files", "permissions")):
        return "server"
    hooks = root.get_folded("hooks")
    if hooks is not None and isinstance(hooks[1], Sequence):
        events = {
            str(key.value)
            for item in hooks[1].items
            if isinstance(item, Mapping)
            for key, _ in item
        }
        if events & set(ecs.ECS.hook_events) - set(aws_lambda.LAMBDA.hook_events):
            return "ecs"
        return "ecs" if hooks[0].value == "Hooks" else "lambda"
    return "server"


def _strings(node: Node, depth: int = 0) -> list[str]:
    """Every string value in the first levels of ``node`` (where a resource type sits)."""
    if depth > 4:
        return []
    if isinstance(node, Mapping):
        return [text for _, value in node for text in _strings(value, depth + 1)]
    if isinstance(node, Sequence):
        return [text for item in node.items for text in _strings(item, depth + 1)]
    value = getattr(node, "value", None)
    return [value] if isinstance(value, str) else []


def _order(diagnostic: Diagnostic) -> tuple[int, int, str, str]:
    return (diagnostic.line, diagnostic.column, diagnostic.code, diagnostic.message)
