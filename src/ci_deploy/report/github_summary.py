"""The GitHub job summary: one run's result as Markdown (verdict, facts, targets and their
lifecycle events, the first failure's script and log tail, the console link)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ci_deploy.result import DeploymentsResult, RegionRun, Result

if TYPE_CHECKING:
    from ci_deploy.aws.codedeploy import LifecycleEvent, Target


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
