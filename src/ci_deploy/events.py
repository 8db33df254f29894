"""Progress events the core emits (local engine, watcher, push), rendered by ``report/``.

The local engine and the remote watcher emit the same events, so one renderer shows both.
The core never prints: it calls an ``EventSink`` with these values. ``region`` is set only when
one command deploys to several regions, so renderers can tell their interleaved lines apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Diagnostics:
    """Why a lifecycle event failed, in the CodeDeploy API's own terms."""

    # Success|ScriptMissing|ScriptNotExecutable|ScriptTimedOut|ScriptFailed|UnknownError
    error_code: str
    script_name: str | None
    message: str
    log_tail: str


@dataclass(frozen=True)
class DeploymentStatusChanged:
    deployment_id: str
    status: str
    overview: Mapping[str, int] = field(default_factory=dict)
    message: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class TargetStatusChanged:
    deployment_id: str
    target_id: str
    status: str
    region: str | None = None


@dataclass(frozen=True)
class LifecycleEventStarted:
    deployment_id: str
    target_id: str
    event_name: str
    region: str | None = None


@dataclass(frozen=True)
class LifecycleEventEnded:
    deployment_id: str
    target_id: str
    event_name: str
    status: str  # Succeeded|Failed|Skipped
    duration_seconds: float | None
    diagnostics: Diagnostics | None = None
    region: str | None = None


@dataclass(frozen=True)
class Notice:
    """Something a user should read that is not a status change (an upload skipped, a retry)."""

    message: str
    level: Literal["info", "warning"] = "info"
    region: str | None = None


Event = (
    DeploymentStatusChanged
    | TargetStatusChanged
    | LifecycleEventStarted
    | LifecycleEventEnded
    | Notice
)

EventSink = Callable[[Event], None]


def discard(event: Event) -> None:
    """An event sink for callers that do not want progress."""
