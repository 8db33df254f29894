"""AppSpec parsing and validation for the Server (EC2/on-premises), ECS and Lambda platforms.

The library API other modules call:

- ``validate_path(path, compute_platform=None, appspec_filename=None) -> ValidationResult``:
  every problem as a ``Diagnostic``; raises only ``InputError`` when there is no appspec to read.
- ``validate_text(text, file, ...)``: the same for inline content (e.g. an ECS ``AppSpecContent``).
- ``load_appspec(path, ...) -> AppSpec``: the parsed document and its platform, raising
  ``AppSpecError`` (with the diagnostics) when it has errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_deploy.appspec import aws_lambda, ecs, server
from ci_deploy.appspec.checks import Context
from ci_deploy.appspec.diagnostics import Collector, Diagnostic, Severity, has_errors
from ci_deploy.appspec.loader import decode, parse
from ci_deploy.appspec.nodes import Mapping, Node, Sequence
from ci_deploy.errors import AppSpecError, InputError, InputValueError

__all__ = [
    "APPSPEC_NAMES",
    "PLATFORMS",
    "AppSpec",
    "Diagnostic",
    "Severity",
    "ValidationResult",
    "check_appspec_filename",
    "detect_platform",
    "find_appspec",
    "load_appspec",
    "validate_path",
    "validate_text",
]

PLATFORMS = ("server", "ecs", "lambda")
# The agent reads the deployment's AppSpec file name (appspec.yml by default), then appspec.yaml.
APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")
_BUNDLE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz")
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
        return path, None
    raise InputError(
        f"input source: {path} does not exist",
        hint="pass a revision directory or an appspec file",
    )


def validate_path(
    path: Path, compute_platform: str | None = None, appspec_filename: str | None = None
) -> ValidationResult:
    """Validate the appspec of a revision directory (checking its files and scripts too) or an
    appspec file. Invalid content never raises: it is reported as diagnostics."""
    appspec_path, revision = find_appspec(path, appspec_filename)
    try:
        data = appspec_path.read_bytes()
    except OSError as error:
        raise InputError(
            f"input source: cannot read {appspec_path}: {error.strerror or error}",
            hint="check the file's permissions",
        ) from error
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
