"""The engine's contract: what a deployment is asked to do and what it reports back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ci_deploy.appspec import check_appspec_filename
from ci_deploy.errors import InputError, InputValueError
from ci_deploy.events import Diagnostics
from ci_deploy.vocabulary import (
    AGENT_EVENTS,
    ARCHIVE_BUNDLE_TYPES,
    BLOCK_TRAFFIC_HOOKS,
    FILE_EXISTS_BEHAVIORS,
    INSTANCE_EVENTS,
    SERVER_IN_PLACE_EVENTS,
)

# The agent's in-place lifecycle. Traffic events run only when asked for with ``events``.
DEFAULT_EVENTS: tuple[str, ...] = SERVER_IN_PLACE_EVENTS
ALL_EVENTS: tuple[str, ...] = INSTANCE_EVENTS
# Events whose scripts come from the last successful revision of the group, not the new one.
PREVIOUS_REVISION_EVENTS = frozenset({"ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic"})
# Events the agent runs itself; scripts listed under them are never run.
RESERVED_EVENTS = AGENT_EVENTS
# What the service asks of the original instances of a blue/green deployment: only the last
# successful revision's Block-traffic hooks, nothing downloaded or installed.
BLOCK_TRAFFIC_EVENTS: tuple[str, ...] = BLOCK_TRAFFIC_HOOKS
BUNDLE_TYPES: tuple[str, ...] = (*ARCHIVE_BUNDLE_TYPES, "directory")


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of one revision to this host."""

    source: Path  # revision directory, or a zip/tar/tgz archive file on disk
    application: str
    deployment_group: str
    deployment_group_id: str  # stable; cleanup records and "last successful" key on it
    deployment_id: str
    state_dir: Path  # this host's agent state (like /opt/codedeploy-agent/deployment-root)
    root: Path | None  # install prefix for every destination; None = the real /
    events: tuple[str, ...] = ()  # () = default in-place lifecycle; else an ordered subset
    file_exists_behavior: str | None = None  # DISALLOW|OVERWRITE|RETAIN; the appspec's value wins
    ignore_application_stop_failures: bool = False
    appspec_filename: str | None = None
    bundle_type: str | None = None  # zip|tar|tgz|directory; None = detect
    bundle_env: Mapping[str, str] = field(default_factory=dict)  # BUNDLE_BUCKET/KEY/VERSION/...
    base_env: Mapping[str, str] = field(default_factory=dict)  # the environment hooks inherit
    keep_revisions: int = 5
    # Cap on the bytes an archive bundle unpacks to; None = DEFAULT_MAX_UNPACKED_SIZE (4 GiB).
    max_unpacked_size: int | None = None
    # Diagnostics as the agent reports them (the emulator's instances): every event that
    # succeeds carries Success, a failed script's logTail is the agent's log (header lines
    # included), a hook script missing from the revision fails its own event with
    # ScriptMissing, and messages are the agent's words. False: ``ci-deploy local``'s own.
    agent_diagnostics: bool = False


@dataclass(frozen=True)
class LifecycleEventRecord:
    name: str
    status: str  # Succeeded|Failed|Skipped|Pending
    start_time: datetime | None
    end_time: datetime | None
    diagnostics: Diagnostics | None


@dataclass(frozen=True)
class DeploymentResult:
    deployment_id: str
    status: str  # Succeeded|Failed|Stopped
    events: tuple[LifecycleEventRecord, ...]
    error_message: str | None
    installed: tuple[str, ...]  # paths installed by this deployment
    log_path: Path | None = None  # this deployment's scripts.log
    warnings: tuple[str, ...] = ()  # things a user should read (e.g. a hook holding stdout open)


def resolve_events(requested: tuple[str, ...]) -> tuple[str, ...]:
    """The events to run: the default lifecycle, or ``requested`` checked against the agent's
    order with DownloadBundle and Install inserted where they belong (as codedeploy-local).

    A subset of BLOCK_TRAFFIC_EVENTS alone runs as the service runs it on a blue/green
    deployment's original instances: no download, no install (the new revision is not needed).
    """
    if not requested:
        return DEFAULT_EVENTS
    unknown = [name for name in requested if name not in ALL_EVENTS]
    if unknown:
        raise InputValueError(
            "events",
            "lifecycle event names from " + ", ".join(ALL_EVENTS),
            ",".join(requested),
        )
    if len(set(requested)) != len(requested):
        raise InputError(f"input events: an event is listed twice: {','.join(requested)}")
    wanted = set(requested)
    if not wanted <= set(BLOCK_TRAFFIC_EVENTS):
        wanted |= RESERVED_EVENTS
    ordered = tuple(name for name in ALL_EVENTS if name in wanted)
    given_order = [name for name in ordered if name in requested]
    if given_order != list(requested):
        raise InputError(
            f"input events: {','.join(requested)} is not in lifecycle order",
            hint="list them in this order: " + ", ".join(ordered),
        )
    return ordered


def validate_spec(spec: DeploymentSpec) -> None:
    """Reject a spec the engine cannot run, naming the input (InputError, exit 2)."""
    for name in ("application", "deployment_group", "deployment_group_id", "deployment_id"):
        value = getattr(spec, name)
        if not value or not value.strip():
            raise InputError(f"input {name}: must not be empty")
    for name in ("deployment_group_id", "deployment_id"):
        value = getattr(spec, name)
        if "/" in value or value in {".", ".."} or "\x00" in value:
            raise InputValueError(name, "a name without '/'", value)
    if spec.file_exists_behavior is not None and (
        spec.file_exists_behavior not in FILE_EXISTS_BEHAVIORS
    ):
        raise InputValueError(
            "file_exists_behavior",
            "one of " + ", ".join(FILE_EXISTS_BEHAVIORS),
            spec.file_exists_behavior,
        )
    if spec.bundle_type is not None and spec.bundle_type not in BUNDLE_TYPES:
        raise InputValueError("bundle_type", "one of " + ", ".join(BUNDLE_TYPES), spec.bundle_type)
    if spec.keep_revisions < 1:
        raise InputValueError("keep_revisions", "a number >= 1", spec.keep_revisions)
    if spec.max_unpacked_size is not None and spec.max_unpacked_size < 1:
        raise InputValueError(
            "max_unpacked_size", "a size of 1 byte or more", spec.max_unpacked_size
        )
    if "DownloadBundle" in resolve_events(spec.events) and not spec.source.exists():
        raise InputError(
            f"input source: {spec.source} does not exist",
            hint="pass a revision directory or a zip/tar/tgz bundle",
        )
    if spec.root is not None and not spec.root.is_absolute():
        raise InputValueError("root", "an absolute path", str(spec.root))
    if spec.state_dir.exists() and not spec.state_dir.is_dir():
        raise InputError(
            f"input state_dir: {spec.state_dir} exists and is not a directory",
            hint="pass --state-dir DIR naming a directory (it is created when missing)",
        )
    check_appspec_filename(spec.appspec_filename)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def result_as_dict(result: DeploymentResult) -> dict[str, object]:
    """The result as the snake_case JSON ``ci-deploy local --json`` prints."""
    events = []
    for event in result.events:
        duration = (
            (event.end_time - event.start_time).total_seconds()
            if event.start_time is not None and event.end_time is not None
            else None
        )
        diagnostics = event.diagnostics
        events.append(
            {
                "name": event.name,
                "status": event.status,
                "start_time": _time(event.start_time),
                "end_time": _time(event.end_time),
                "duration_seconds": duration,
                "diagnostics": None
                if diagnostics is None
                else {
                    "error_code": diagnostics.error_code,
                    "script_name": diagnostics.script_name,
                    "message": diagnostics.message,
                    "log_tail": diagnostics.log_tail,
                },
            }
        )
    return {
        "deployment_id": result.deployment_id,
        "status": result.status,
        "error_message": result.error_message,
        "events": events,
        "installed": list(result.installed),
        "log_path": str(result.log_path) if result.log_path is not None else None,
        "warnings": list(result.warnings),
    }
