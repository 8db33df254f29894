"""What a notification says: the typed start or end message, built from a created deployment,
from the result object a command prints, or from the error that stopped the run."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ci_deploy.ci_env import CiEnvironment

Phase = Literal["start", "end"]

# The end message shows this many lines from the start of the failing event's log tail, each cut
# to LOG_LINE_CHARS; the CI log and the result JSON carry the whole tail.
LOG_LINES = 10
LOG_LINE_CHARS = 200
MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Failure:
    """Why the deployment failed, from its first failing target: where, which lifecycle event
    and script, the agent's error code and message, and the first lines of the log tail."""

    region: str | None
    target_id: str
    lifecycle_event: str
    script: str | None
    error_code: str | None
    message: str | None
    log_lines: tuple[str, ...] = ()
    more_lines: int = 0


@dataclass(frozen=True)
class Notification:
    """One message: the start of a deployment (one per deployment created) or the end of the
    run (its result, or the error that stopped it). ``result`` is the result object ci-deploy
    prints, sent as is to JSON hooks (None at the start, or when the run stopped without one)."""

    phase: Phase
    action: str  # deploy, rollback or wait
    application: str | None = None
    deployment_group: str | None = None
    regions: tuple[str, ...] = ()
    deployment_ids: tuple[tuple[str, str], ...] = ()  # (region, deployment id)
    status: str | None = None
    console_url: str | None = None
    run_url: str | None = None
    commit: str | None = None
    total_seconds: float | None = None
    error: str | None = None
    failure: Failure | None = None
    rollback_deployment_id: str | None = None
    result: Mapping[str, Any] | None = None


_URL_SAFE = re.compile(r"https?://[^\s<>|`\"]+")


def _safe_url(value: object) -> str | None:
    """An http(s) link from the environment or the result that fits in every payload's link
    syntax (Slack's ``<url|text>``), else None."""
    text = str(value or "")
    return text if _URL_SAFE.fullmatch(text) else None


def run_link(ci: CiEnvironment) -> str | None:
    """The page with the job's log (GitHub's run attempt, GitLab's job, Jenkins' build), when it
    fits every payload's link syntax."""
    return _safe_url(ci.log_url)


def short_commit(ci: CiEnvironment) -> str | None:
    """The commit's first 12 hex digits, when the CI names a commit that looks like one."""
    value = ci.commit or ""
    return value[:12] if re.fullmatch(r"[0-9a-fA-F]{7,64}", value) else None


def clip(text: object, limit: int = MESSAGE_CHARS) -> str:
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def tail_lines(log_tail: str) -> tuple[tuple[str, ...], int]:
    """The first LOG_LINES lines of a log tail (each clipped) and how many more there are."""
    lines = log_tail.strip("\n").split("\n") if log_tail.strip() else []
    shown = tuple(clip(line.rstrip("\r"), LOG_LINE_CHARS) for line in lines[:LOG_LINES])
    return shown, max(0, len(lines) - LOG_LINES)


def start_notification(
    *,
    action: str,
    application: str | None,
    deployment_group: str | None,
    region: str | None,
    deployment_id: str,
    console_url: str | None,
    ci: CiEnvironment,
) -> Notification:
    """A deployment was created (CodeDeploy accepted it)."""
    return Notification(
        phase="start",
        action=action,
        application=application,
        deployment_group=deployment_group,
        regions=(region,) if region else (),
        deployment_ids=((region or "", deployment_id),),
        status="Created",
        console_url=_safe_url(console_url),
        run_url=run_link(ci),
        commit=short_commit(ci),
    )


def from_result(result: Mapping[str, Any], *, action: str, ci: CiEnvironment) -> Notification:
    """The end message, from the result object the command prints (see result.py): the one
    place that reads it, so a typed result only changes this function."""
    regions = tuple(str(region) for region in result.get("regions") or ())
    ids = tuple(
        (str(region), str(did))
        for region, did in (result.get("deployment_ids") or {}).items()
        if did
    )
    failed = _first_failed(result)
    console = result.get("console_url")
    if failed is not None and failed.get("console_url"):
        console = failed["console_url"]
    timings = result.get("timings") or {}
    return Notification(
        phase="end",
        action=action,
        application=result.get("application"),
        deployment_group=result.get("deployment_group"),
        regions=regions,
        deployment_ids=ids,
        status=result.get("status"),
        console_url=_safe_url(console),
        run_url=run_link(ci),
        commit=short_commit(ci),
        total_seconds=timings.get("total_seconds"),
        error=_error_text((failed or result).get("error")),
        failure=_failure(failed) if failed is not None else None,
        rollback_deployment_id=(failed or result).get("rollback_deployment_id"),
        result=result,
    )


def error_notification(
    *,
    action: str,
    application: str | None,
    deployment_group: str | None,
    regions: Sequence[str],
    deployment_ids: Sequence[tuple[str, str]],
    status: str,
    message: str,
    ci: CiEnvironment,
) -> Notification:
    """The end of a run that stopped without a result: an error (status Error) or a cancel."""
    return Notification(
        phase="end",
        action=action,
        application=application,
        deployment_group=deployment_group,
        regions=tuple(regions),
        deployment_ids=tuple(deployment_ids),
        status=status,
        run_url=run_link(ci),
        commit=short_commit(ci),
        error=clip(message),
    )


def _first_failed(result: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for region in result.get("deployments") or ():
        if region.get("status") in ("Failed", "Stopped", "Error"):
            found: Mapping[str, Any] = region
            return found
    return None


def _error_text(error: object) -> str | None:
    if not isinstance(error, Mapping):
        return None
    code, message = error.get("code"), error.get("message")
    text = ": ".join(str(part) for part in (code, message) if part)
    return clip(text) if text else None


def _failure(region: Mapping[str, Any]) -> Failure | None:
    for target in region.get("targets") or ():
        if target.get("status") != "Failed":
            continue
        for event in target.get("lifecycle_events") or ():
            if event.get("status") != "Failed":
                continue
            diag = event.get("diagnostics") or {}
            lines, more = tail_lines(str(diag.get("log_tail") or ""))
            return Failure(
                region=region.get("region"),
                target_id=str(target.get("target_id")),
                lifecycle_event=str(event.get("name")),
                script=diag.get("script_name"),
                error_code=diag.get("error_code"),
                message=clip(diag["message"]) if diag.get("message") else None,
                log_lines=lines,
                more_lines=more,
            )
    return None
