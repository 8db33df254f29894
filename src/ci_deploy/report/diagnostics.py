"""Renderers of appspec diagnostics: text lines, JSON, GitHub workflow commands, GitLab Code
Quality. Each takes ``Diagnostic`` records and returns text; the caller picks the stream."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping

from ci_deploy.appspec.diagnostics import Diagnostic

FORMATS = ("text", "json", "github", "gitlab")

# GitLab Code Quality severities: info, minor, major, critical, blocker.
_GITLAB_SEVERITY = {"error": "major", "warning": "minor"}
_PLATFORM_LABELS = {"server": "Server (EC2/on-premises)", "ecs": "ECS", "lambda": "Lambda"}


def text_line(diagnostic: Diagnostic) -> str:
    """``FILE:LINE:COL: error: message [code]`` — the shape editors and CI logs link."""
    d = diagnostic
    return f"{d.file}:{d.line}:{d.column}: {d.severity}: {d.message} [{d.code}]"


def render_text(diagnostics: Iterable[Diagnostic]) -> str:
    return "".join(text_line(d) + "\n" for d in diagnostics)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """A JSON list of ``{file, line, column, severity, code, message}``."""
    return json.dumps([d.as_dict() for d in diagnostics], indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(diagnostic: Diagnostic) -> str:
    """A GitHub Actions ``::error``/``::warning`` workflow command: an annotation on the line."""
    d = diagnostic
    properties = ",".join(
        f"{name}={_escape_property(value)}"
        for name, value in (
            ("file", d.file),
            ("line", str(d.line)),
            ("col", str(d.column)),
            ("title", f"appspec {d.code}"),
        )
    )
    return f"::{d.severity} {properties}::{_escape_data(d.message)}"


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    return "".join(github_command(d) + "\n" for d in diagnostics)


def codequality_issue(diagnostic: Diagnostic) -> dict[str, object]:
    """One GitLab Code Quality issue; the fingerprint is stable across runs for the same
    problem at the same place, so GitLab can tell new problems from old ones."""
    d = diagnostic
    identity = f"{d.file}\0{d.line}\0{d.column}\0{d.code}\0{d.message}"
    return {
        "description": d.message,
        "check_name": d.code,
        "fingerprint": hashlib.sha256(identity.encode()).hexdigest(),
        "severity": _GITLAB_SEVERITY[d.severity],
        "location": {"path": d.file, "lines": {"begin": d.line}},
    }


def render_gitlab(diagnostics: Iterable[Diagnostic]) -> str:
    """A GitLab Code Quality report (a JSON list of issues)."""
    return json.dumps([codequality_issue(d) for d in diagnostics], indent=2) + "\n"


RENDERERS: Mapping[str, Callable[[Iterable[Diagnostic]], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "gitlab": render_gitlab,
}


def summary(file: str, platform: str | None, diagnostics: list[Diagnostic]) -> str:
    """One human line: how many errors and warnings ``file`` has."""
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = len(diagnostics) - errors
    counts = f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning" + (
        "s" if warnings != 1 else ""
    )
    kind = f"{_PLATFORM_LABELS.get(platform, platform)} AppSpec" if platform else "AppSpec"
    verdict = "invalid" if errors else "valid"
    return f"{file}: {verdict} {kind} ({counts})"
