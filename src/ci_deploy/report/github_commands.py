"""The GitHub runner's protocol: workflow commands, annotations, step outputs and its files.

The runner's protocol is small and stable: ``::command key=value::message`` lines on the step's
stdout or stderr, and three files named by environment variables (``GITHUB_OUTPUT``,
``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV``). It is implemented here rather than through the PyPI
package ``actions-toolkit``: that package's last release is from 2022, it cannot write a step
summary, and it emits annotations with empty properties (``file=,line=``), which the runner
shows as broken links. See
https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from ci_deploy.errors import InputError
from ci_deploy.result import DeploymentsResult, Result

# GitHub shows at most 10 error and 10 warning annotations per step; keep ours under that so the
# runner's own "failed with exit code" annotation still shows.
MAX_ANNOTATIONS = 8


# ---------------------------------------------------------------------------------------------
# Workflow commands


def escape_data(text: str) -> str:
    """Escape a command's message: the runner decodes %25, %0D and %0A."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value: as a message, plus ':' and ',' which delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str = "", **properties: str | int | None) -> str:
    """One workflow command line. Properties that are None or empty are left out, because the
    runner turns ``file=`` into an annotation pointing nowhere."""
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None and str(value) != ""
    )
    head = f"::{name} {props}" if props else f"::{name}"
    return f"{head}::{escape_data(message)}"


def annotation(
    level: str,
    message: str,
    *,
    title: str | None = None,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    end_line: int | None = None,
    end_column: int | None = None,
) -> str:
    """An ``::error``/``::warning``/``::notice`` annotation, optionally on a file position."""
    if level not in {"error", "warning", "notice"}:
        raise ValueError(f"annotation level must be error, warning or notice, got {level!r}")
    return workflow_command(
        level,
        message,
        title=title,
        file=file,
        line=line if file else None,
        col=col if file and line else None,
        endLine=end_line if file and line else None,
        endColumn=end_column if file and line else None,
    )


def untrusted_block(lines: str, token: str) -> str:
    """Wrap text we did not write (hook script output) so a line in it that looks like a
    workflow command (``::add-mask::``, ``::error::``) is printed, not obeyed."""
    body = lines.rstrip("\n")
    return f"::stop-commands::{token}\n{body}\n::{token}::"


def write_output(path: Path, name: str, value: str, token: str) -> None:
    """Append one step output using the multiline form ``name<<DELIM`` ... ``DELIM``.

    The delimiter is random per value, so no value can end the block early and smuggle in
    another output.
    """
    delimiter = f"ghadelimiter_{token}"
    if delimiter in name or delimiter in value:
        raise ValueError(f"output {name}: the value contains the delimiter")
    if "\n" in name or "\r" in name:
        raise ValueError(f"output name {name!r} must be one line")
    with path.open("a", encoding="utf-8") as out:
        out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def workspace_relative(path: object, workspace: Path) -> str | None:
    """``path`` relative to the workspace, so the annotation links to the file in the commit;
    as given when it lies outside."""
    if path is None or str(path) == "":
        return None
    candidate = Path(str(path))
    absolute = candidate if candidate.is_absolute() else workspace / candidate
    try:
        return absolute.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return str(path)


def appspec_annotations(diagnostics: Iterable[object], workspace: Path) -> list[str]:
    """``::error``/``::warning`` lines for AppSpec diagnostics, on file, line and column.

    Each diagnostic is read by attribute: ``message``, and when present ``file``/``path``,
    ``line``, ``column``/``col``, ``severity``/``level`` (error or warning), ``code``/``rule``.
    At most MAX_ANNOTATIONS, since GitHub shows only ten per step.
    """
    lines = []
    for diagnostic in diagnostics:
        message = str(getattr(diagnostic, "message", diagnostic))
        level = str(getattr(diagnostic, "severity", getattr(diagnostic, "level", "error")))
        rule = getattr(diagnostic, "code", getattr(diagnostic, "rule", None))
        path = getattr(diagnostic, "file", getattr(diagnostic, "path", None))
        line = getattr(diagnostic, "line", None)
        column = getattr(diagnostic, "column", getattr(diagnostic, "col", None))
        lines.append(
            annotation(
                "warning" if level.lower() == "warning" else "error",
                message,
                title=f"AppSpec: {rule}" if rule else "AppSpec",
                file=workspace_relative(path, workspace),
                line=line if isinstance(line, int) else None,
                col=column if isinstance(column, int) else None,
            )
        )
    return lines[:MAX_ANNOTATIONS]


def outputs_of(result: Result) -> dict[str, str]:
    """The action's outputs, by their action.yml names (a push has no deployment)."""
    deployed = result if isinstance(result, DeploymentsResult) else None
    revision = result.revision
    ids = deployed.deployment_ids if deployed else {}
    return {
        "deployment-id": (deployed and deployed.deployment_id) or "",
        "deployment-ids": json.dumps(ids, sort_keys=True),
        "status": (deployed and deployed.status) or "",
        "deployment-url": (deployed and deployed.console_url) or "",
        "revision": json.dumps(revision, sort_keys=True) if revision else "",
        "bundle-sha256": result.bundle_sha256 or "",
    }


def workspace_of(env: Mapping[str, str]) -> Path:
    return Path(env.get("GITHUB_WORKSPACE", "").strip() or ".")


def runner_file(variable: str, value: str) -> Path | None:
    """The runner's file named by ``variable``, checked before any work: a file that cannot be
    written would otherwise fail the step after the deployment, its outputs lost."""
    if not value.strip():
        return None
    path = Path(value)
    try:
        existed = path.exists()
        with path.open("a", encoding="utf-8"):
            pass
        if not existed:
            path.unlink()  # the check leaves nothing behind
    except OSError as error:
        raise InputError(
            f"{variable}: cannot write {value!r} ({error.strerror or error})",
            hint=f"the runner sets {variable} to a file it made; elsewhere leave it unset "
            "or name a writable file",
        ) from None
    return path
