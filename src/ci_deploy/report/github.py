"""GitHub Actions rendering: workflow commands, step outputs and the job summary.

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
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ci_deploy.errors import InputError
from ci_deploy.events import (
    DeploymentStatusChanged,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    Notice,
    TargetStatusChanged,
)
from ci_deploy.report.runner_log import CommandGuard, new_token, on_github_runner
from ci_deploy.report.text import format_event, region_label
from ci_deploy.result import DeploymentsResult, RegionRun, Result
from ci_deploy.streams import Streams

if TYPE_CHECKING:
    from ci_deploy.aws.codedeploy import LifecycleEvent, Target

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


# ---------------------------------------------------------------------------------------------
# Reading the result


def describe_revision(revision: Mapping[str, Any] | None) -> str | None:
    """A one-line human form of a CodeDeploy RevisionLocation."""
    if not revision:
        return None
    kind = revision.get("revisionType")
    if kind == "S3" and isinstance(revision.get("s3Location"), Mapping):
        s3 = revision["s3Location"]
        text = f"s3://{s3.get('bucket', '')}/{s3.get('key', '')}"
        extras = [
            f"{label} {s3[key]}"
            for key, label in (("bundleType", "type"), ("version", "version"), ("eTag", "ETag"))
            if s3.get(key)
        ]
        return text + (f" ({', '.join(extras)})" if extras else "")
    if kind == "GitHub" and isinstance(revision.get("gitHubLocation"), Mapping):
        github = revision["gitHubLocation"]
        return f"GitHub {github.get('repository', '')}@{github.get('commitId', '')}"
    if kind == "AppSpecContent" and isinstance(revision.get("appSpecContent"), Mapping):
        digest = revision["appSpecContent"].get("sha256")
        return "AppSpec content" + (f" (sha256 {digest})" if digest else "")
    return json.dumps(revision, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Markdown for the job summary

_STATUS_ICONS = {
    "Succeeded": "✅",
    "Failed": "❌",
    "Error": "❌",
    "Stopped": "⛔",
    "Skipped": "⏭️",
    "InProgress": "⏳",
    "Pending": "🕓",
    "Ready": "🟦",
}


def icon(status: str | None) -> str:
    return _STATUS_ICONS.get(status or "", "•")


def _status_text(status: object) -> str:
    return f"{icon(str(status))} {md_cell(status)}"


def md_cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def md_code(text: str) -> str:
    """Inline code that survives backticks inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_fenced(text: str, info: str = "text") -> str:
    """A fenced block longer than any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _duration(seconds: object) -> str:
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return f"{seconds:.1f} s"
    return ""


def _event_names(targets: Iterable[Target]) -> list[str]:
    names: list[str] = []
    for target in targets:
        for event in target.lifecycle_events:
            if event.name and event.name not in names:
                names.append(event.name)
    return names


# The summary's table lists failed targets, then unfinished ones, then the rest, up to this many.
SUMMARY_TARGET_ROWS = 30


def _targets_table(targets: list[Target], fleet: int = 0) -> list[str]:
    """Failed targets first, then those not finished, then the rest, capped with a count of the
    others (``fleet``: the deployment's target count, which a large fleet's view falls short of)."""
    ranked = sorted(targets, key=lambda t: 0 if t.status == "Failed" else 2 if t.finished else 1)
    shown = ranked[:SUMMARY_TARGET_ROWS]
    names = _event_names(shown)
    rows = ["| Target | Status | " + " | ".join(md_cell(name) for name in names) + " |"]
    rows.append("|---|---|" + "---|" * len(names))
    hidden = max(fleet, len(targets)) - len(shown)
    for target in shown:
        by_name = {event.name: event for event in target.lifecycle_events}
        cells = []
        for name in names:
            event = by_name.get(name)
            if event is None:
                cells.append("")
                continue
            took = _duration(event.duration_seconds)
            cells.append(f"{icon(event.status)} {took}".strip())
        status = target.status
        rows.append(
            f"| {md_cell(target.target_id)} | {icon(status)} {md_cell(status)} | "
            + " | ".join(cells)
            + " |"
        )
    if hidden > 0:
        rows += ["", f"… and {hidden} more target{'' if hidden == 1 else 's'} (counts above)."]
    return rows


def _failures(targets: list[Target]) -> list[tuple[str, LifecycleEvent]]:
    found = []
    for target in targets:
        for event in target.lifecycle_events:
            if event.status == "Failed":
                found.append((target.target_id, event))
    return found


def _failure_section(failures: list[tuple[str, LifecycleEvent]]) -> list[str]:
    """The first failure in full (script, message, log tail); the others by name."""
    target_id, event = failures[0]
    diag = event.diagnostics
    lines = [f"#### ❌ {md_cell(event.name)} failed on {md_code(target_id)}", ""]
    facts = [(diag.error_code if diag else "") or "Failed"]
    if diag and diag.script_name:
        facts.append(f"script {md_code(diag.script_name)}")
    lines.append(
        " · ".join(facts) + (f": {md_cell(diag.message)}" if diag and diag.message else "")
    )
    tail = diag.log_tail if diag else ""
    if tail.strip():
        lines += [
            "",
            "<details open><summary>Log tail</summary>",
            "",
            md_fenced(tail),
            "",
            "</details>",
        ]
    others = failures[1:]
    if others:
        more = ", ".join(f"{md_code(t)} ({md_cell(e.name)})" for t, e in others[:20])
        extra = f" and {len(others) - 20} more" if len(others) > 20 else ""
        lines += ["", f"Also failed: {more}{extra}."]
    return lines


def _ident(run: RegionRun) -> str:
    """The deployment id as code, or "no deployment" for a region that never got one."""
    return md_code(run.deployment_id) if run.deployment_id else "no deployment"


def summary_markdown(result: Result) -> str:
    """The job summary of one ci-deploy run: verdict, facts, targets and lifecycle events,
    the failure's script and log tail, and the console link."""
    if not isinstance(result, DeploymentsResult):
        # push: a revision, no deployment
        done = "uploaded" if result.uploaded else "ready (existing object)"
        lines = [f"## 📦 CodeDeploy revision {done}", ""]
        pushed = _revision_facts(result.revision, result.bundle_sha256)
        lines += ["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in pushed]
        return "\n".join(lines).rstrip() + "\n"
    status = result.status
    who = " / ".join(name for name in (result.application, result.deployment_group) if name)
    heading = f"## {icon(status)} CodeDeploy"
    heading += f" {md_cell(who)}" if who else ""
    heading += f": {md_cell(status)}" if status else ""
    lines = [heading, ""]

    facts: list[tuple[str, str]] = []
    for run in result.runs:
        ident = _ident(run)
        url = run.console_url
        link = f"[{ident}]({url})" if url else ident
        where = f" in {md_cell(run.region)}" if run.region else ""
        facts.append(("Deployment", f"{link}{where}: {_status_text(run.status)}"))
    facts += _revision_facts(result.revision, result.bundle_sha256)
    if _duration(result.total_seconds):
        facts.append(("Duration", _duration(result.total_seconds)))
    error = result.error
    if error is not None and (error.code or error.message):
        facts.append(("Error", md_cell(f"{error.code or ''} {error.message}".strip())))
    if result.rollback_deployment_id:
        facts.append(("Rolled back by", md_code(result.rollback_deployment_id)))
    if facts:
        lines += ["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in facts] + [""]

    for run in result.runs:
        targets = run.sorted_targets
        if len(result.runs) > 1:
            lines += [f"### {md_cell(run.region)}: {_ident(run)}", ""]
        if run.deployment is None and run.failure is not None:
            # A region whose push or CreateDeployment failed: its error is all there is.
            lines += ["Not deployed: " + md_cell(run.failure.message), ""]
        counts = [f"{name} {count}" for name, count in run.overview.items() if count]
        if counts:
            lines += ["Targets: " + md_cell(", ".join(counts)), ""]
        if targets:
            lines += [*_targets_table(targets, sum(run.overview.values())), ""]
        failures = _failures(targets)
        if failures:
            lines += [*_failure_section(failures), ""]
        if run.console_url:
            ident = md_code(str(run.deployment_id))
            lines += [f"[Open {ident} in the CodeDeploy console]({run.console_url})", ""]
    return "\n".join(lines).rstrip() + "\n"


def _revision_facts(
    revision: Mapping[str, Any] | None, bundle_sha256: str | None
) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    described = describe_revision(revision)
    if described:
        facts.append(("Revision", md_code(described)))
    if bundle_sha256:
        facts.append(("Bundle SHA-256", md_code(bundle_sha256)))
    return facts


# ---------------------------------------------------------------------------------------------
# The reporter


@dataclass(frozen=True)
class GithubPaths:
    """The runner's files and the paths annotations are relative to."""

    output: Path | None
    step_summary: Path | None
    workspace: Path
    source: Path | None


def _group_title(
    event: DeploymentStatusChanged
    | TargetStatusChanged
    | LifecycleEventStarted
    | LifecycleEventEnded,
) -> str:
    """A log group per deployment, naming its region when several are deployed at once."""
    where = f" ({event.region})" if event.region else ""
    return f"CodeDeploy deployment {event.deployment_id}{where}"


class GithubReporter:
    """Progress in collapsible groups, annotations for failures, outputs and a job summary.

    Its text goes through a CommandGuard, so only the commands it means are obeyed. Secrets
    are announced for masking only on GitHub's runner (``masking``): anywhere else no one
    masks them and ``::add-mask::`` would print them in clear."""

    def __init__(
        self,
        stream: TextIO,
        paths: GithubPaths,
        *,
        secrets: Iterable[str] = (),
        masking: bool = True,
        token: Callable[[], str] = new_token,
    ) -> None:
        self._stream = CommandGuard.around(stream)
        self._paths = paths
        self._token = token
        self._group: str | None = None
        self._deployment: str | None = None
        self._annotated: set[tuple[str, ...]] = set()
        self._annotations = 0
        secrets = [secret for secret in secrets if secret.strip()]
        if masking:
            for secret in secrets:
                self._command(workflow_command("add-mask", secret))
        elif secrets:
            self._print(
                "warning: not on GitHub's runner (GITHUB_ACTIONS is not 'true'): no one masks "
                "secrets in this log, so the GitHub token is not announced (it is never printed)"
            )

    # -- progress

    def event(self, event: Event) -> None:
        if isinstance(event, DeploymentStatusChanged):
            if event.deployment_id != self._deployment:
                self._deployment = event.deployment_id
                self._open(_group_title(event))
            elif self._group is None:
                self._open(_group_title(event))
            # The group stays open at a terminal status: the same poll's target events follow
            # it. finish() or the next deployment closes it.
            self._print(format_event(event))
            return
        if isinstance(event, Notice):
            if self._group is None:
                self._open("ci-deploy")
            self._print(format_event(event))
            if event.level == "warning":
                self._annotate("warning", region_label(event) + event.message, title="ci-deploy")
            return
        if isinstance(event, TargetStatusChanged | LifecycleEventStarted) or (
            isinstance(event, LifecycleEventEnded) and event.status != "Failed"
        ):
            if self._group is None:
                self._open(_group_title(event))
            self._print(format_event(event))
            return
        assert isinstance(event, LifecycleEventEnded)
        self._lifecycle_failed(event)

    def _lifecycle_failed(self, event: LifecycleEventEnded) -> None:
        if self._group is None:
            self._open(_group_title(event))
        took = f" in {event.duration_seconds:.1f}s" if event.duration_seconds is not None else ""
        label = region_label(event)
        self._print(f"  {label}{event.target_id}: {event.event_name} Failed{took}")
        diag = event.diagnostics
        if diag is None:
            self._annotate(
                "error",
                f"{event.event_name} failed on {event.target_id}",
                title=f"CodeDeploy {event.event_name} failed",
            )
            return
        script = f" {diag.script_name}" if diag.script_name else ""
        self._print(f"    {diag.error_code}{script}: {diag.message}")
        if diag.log_tail.strip():
            self._print("    log tail:")
            self._command(untrusted_block(diag.log_tail, self._token()))
        message = f"{diag.error_code}{script} on {event.target_id}: {diag.message}"
        tail = diag.log_tail.strip()
        if tail:
            message += "\n" + "\n".join(tail.splitlines()[-10:])
        self._annotate(
            "error",
            message,
            title=f"CodeDeploy {event.event_name} failed",
            file=self._script_file(diag.script_name),
            dedupe=(event.event_name, diag.error_code, diag.script_name or "", diag.message),
        )

    def _script_file(self, script_name: str | None) -> str | None:
        """The hook script as a workspace-relative path, when it is in the source directory,
        so the annotation links to the file in the commit."""
        source = self._paths.source
        if not script_name or source is None:
            return None
        workspace = self._paths.workspace
        base = source if source.is_absolute() else workspace / source
        if not base.is_dir():
            return None
        candidate = (base / script_name.lstrip("/")).resolve()
        try:
            relative = candidate.relative_to(workspace.resolve())
        except ValueError:
            return None
        return relative.as_posix() if candidate.is_file() else None

    # -- appspec diagnostics

    def appspec_problems(self, diagnostics: Iterable[object]) -> None:
        """Annotate AppSpec problems on their file, line and column."""
        for line in appspec_annotations(diagnostics, self._paths.workspace):
            self._command(line)

    # -- the end

    def finish(self, result: Result) -> None:
        self._close()
        self._write_outputs(result)
        if self._paths.step_summary is not None:
            with self._paths.step_summary.open("a", encoding="utf-8") as summary:
                summary.write(summary_markdown(result))
        if (
            isinstance(result, DeploymentsResult)
            and result.status == "Succeeded"
            and result.deployment_id
        ):
            url = result.console_url
            where = f": {url}" if url else ""
            self._command(
                annotation(
                    "notice",
                    f"CodeDeploy deployment {result.deployment_id} succeeded{where}",
                    title="CodeDeploy",
                )
            )

    def _write_outputs(self, result: Result) -> None:
        path = self._paths.output
        if path is None:
            return
        for name, value in outputs_of(result).items():
            write_output(path, name, value, self._token())

    # -- plumbing

    def _annotate(
        self,
        level: str,
        message: str,
        *,
        title: str,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        dedupe: tuple[str, ...] | None = None,
    ) -> None:
        key = dedupe or (level, title, message, file or "", str(line), str(col))
        if key in self._annotated or self._annotations >= MAX_ANNOTATIONS:
            return
        self._annotated.add(key)
        self._annotations += 1
        self._command(annotation(level, message, title=title, file=file, line=line, col=col))

    def _open(self, title: str) -> None:
        self._close()
        self._group = title
        self._command(workflow_command("group", title))

    def _close(self) -> None:
        if self._group is not None:
            self._command(workflow_command("endgroup"))
            self._group = None

    def _print(self, text: str) -> None:
        """Text: a line in it that the runner would obey is printed, not obeyed."""
        self._stream.write(text + "\n")
        self._stream.flush()

    def _command(self, line: str) -> None:
        self._stream.command(line)
        self._stream.flush()


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


def paths_from(env: Mapping[str, str]) -> GithubPaths:
    def file(name: str) -> Path | None:
        return runner_file(name, env.get(name, ""))

    source = env.get("CI_DEPLOY_SOURCE", "").strip() or "."
    return GithubPaths(
        output=file("GITHUB_OUTPUT"),
        step_summary=file("GITHUB_STEP_SUMMARY"),
        workspace=workspace_of(env),
        source=Path(source),
    )


def make_reporter(streams: Streams, env: Mapping[str, str]) -> GithubReporter:
    """The GitHub reporter; on GitHub's runner, secrets that reach ci-deploy through its
    environment are masked before anything else is printed."""
    secrets = [env.get("CI_DEPLOY_GITHUB_TOKEN", "")]
    return GithubReporter(
        streams.stderr, paths_from(env), secrets=secrets, masking=on_github_runner(env)
    )
