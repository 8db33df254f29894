"""AppSpec parsing and validation for the Server (EC2/on-premises), ECS and Lambda platforms.

The library API other modules call:

- ``validate_path(path, compute_platform=None, appspec_filename=None) -> ValidationResult``:
  every problem as a ``Diagnostic``; raises only ``InputError`` when there is no appspec to read
  (none at the revision root, unreadable, or a symlink leading out of the revision).
- ``validate_text(text, file, ...)``: the same for inline content (e.g. an ECS ``AppSpecContent``).
- ``load_appspec(path, ...) -> AppSpec``: the parsed document and its platform, raising
  ``AppSpecError`` (with the diagnostics) when it has errors; ``require_valid(result)`` the same
  for a ``ValidationResult``.
- ``appspec_text(path) -> str``: the text of an appspec file read the same way (1 MiB cap,
  UTF-8), for content sent on as it is.

Finding the file (names, --appspec-filename, links, the size cap) is ``lookup``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_deploy.appspec import aws_lambda, ecs, server
from ci_deploy.appspec.checks import Context
from ci_deploy.appspec.diagnostics import Collector, Diagnostic, Severity, has_errors
from ci_deploy.appspec.loader import decode, parse
from ci_deploy.appspec.lookup import (
    APPSPEC_NAMES,
    MAX_APPSPEC_BYTES,
    agent_appspec,
    appspec_in,
    appspec_names,
    check_appspec_filename,
    check_link_inside,
    find_appspec,
    read_appspec,
)
from ci_deploy.appspec.nodes import Mapping, Node, Sequence
from ci_deploy.errors import AppSpecError

__all__ = [
    "APPSPEC_NAMES",
    "MAX_APPSPEC_BYTES",
    "PLATFORMS",
    "AppSpec",
    "Diagnostic",
    "Severity",
    "ValidationResult",
    "agent_appspec",
    "appspec_in",
    "appspec_names",
    "appspec_text",
    "check_appspec_filename",
    "check_link_inside",
    "detect_platform",
    "find_appspec",
    "load_appspec",
    "read_appspec",
    "require_valid",
    "validate_path",
    "validate_text",
]

PLATFORMS = ("server", "ecs", "lambda")
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
    decoded = _text(text, collector)
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


def _text(data: str | bytes, collector: Collector) -> str | None:
    """``data`` as text when it is at most 1 MiB of UTF-8; else None, with the diagnostic."""
    if _size(data) > MAX_APPSPEC_BYTES:
        collector.error(
            1,
            1,
            "file-too-large",
            f"the AppSpec is larger than 1 MiB ({MAX_APPSPEC_BYTES} bytes), so it is not "
            "read: an AppSpec is a few KB; check that this is the right file",
        )
        return None
    return decode(data, collector) if isinstance(data, bytes) else data


def _size(text: str | bytes) -> int:
    """Bytes in UTF-8 (a str longer than the limit in characters is longer in bytes too)."""
    if isinstance(text, bytes) or len(text) > MAX_APPSPEC_BYTES:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def appspec_text(path: Path) -> str:
    """The text of the appspec file ``path``, read as validate reads it (at most 1 MiB of
    UTF-8), for a caller that sends it on as it is (push's AppSpecContent); AppSpecError with
    the diagnostic when it is too large or not UTF-8."""
    collector = Collector(path.as_posix())
    text = _text(read_appspec(path), collector)
    if text is None:
        raise _invalid(path, collector.sorted())
    return text


def load_appspec(
    path: Path, compute_platform: str | None = None, appspec_filename: str | None = None
) -> AppSpec:
    """The parsed appspec of ``path`` and its platform; ``AppSpecError`` if it has errors."""
    return require_valid(validate_path(path, compute_platform, appspec_filename))


def require_valid(result: ValidationResult) -> AppSpec:
    """The AppSpec ``result`` found; ``AppSpecError``, carrying its diagnostics, if it found
    errors."""
    if not result.ok or result.document is None or result.platform is None:
        raise _invalid(result.appspec_path, result.diagnostics)
    return AppSpec(result.document, result.platform, result.appspec_path, result.warnings)


def _invalid(appspec_path: Path, diagnostics: list[Diagnostic]) -> AppSpecError:
    count = sum(1 for diagnostic in diagnostics if diagnostic.severity == "error")
    return AppSpecError(
        f"{appspec_path.as_posix()}: the AppSpec has {count} "
        f"error{'s' if count != 1 else ''}; run 'ci-deploy validate' to list them",
        list(diagnostics),
    )


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
