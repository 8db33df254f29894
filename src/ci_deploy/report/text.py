"""Plain-text rendering of core events: one line per change, for terminals and CI logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from ci_deploy.events import (
    DeploymentStatusChanged,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    TargetStatusChanged,
)
from ci_deploy.streams import Streams

if TYPE_CHECKING:
    from ci_deploy.result import Result


def region_label(event: Event) -> str:
    """``[eu-west-1] `` for an event of one of several regions deployed at once, else ``""``."""
    return f"[{event.region}] " if event.region else ""


def format_event(event: Event) -> str:
    """One human line (or a few, for a failure's log tail) describing ``event``; lines of one
    of several regions start with the region."""
    label = region_label(event)
    if isinstance(event, DeploymentStatusChanged):
        counts = ", ".join(f"{name} {count}" for name, count in event.overview.items() if count)
        line = f"{label}deployment {event.deployment_id}: {event.status}"
        if counts:
            line += f" ({counts})"
        if event.message:
            line += f" - {event.message}"
        return line
    if isinstance(event, TargetStatusChanged):
        return f"  {label}{event.target_id}: {event.status}"
    if isinstance(event, LifecycleEventStarted):
        return f"  {label}{event.target_id}: {event.event_name} started"
    if isinstance(event, LifecycleEventEnded):
        took = f" in {event.duration_seconds:.1f}s" if event.duration_seconds is not None else ""
        line = f"  {label}{event.target_id}: {event.event_name} {event.status}{took}"
        diag = event.diagnostics
        if diag is not None and event.status == "Failed":
            script = f" {diag.script_name}" if diag.script_name else ""
            line += f"\n    {diag.error_code}{script}: {diag.message}"
            if diag.log_tail.strip():
                tail = "\n".join("    | " + row for row in diag.log_tail.rstrip("\n").split("\n"))
                line += "\n    log tail:\n" + tail
        return line
    prefix = "warning: " if event.level == "warning" else ""
    return prefix + label + event.message


class TextRenderer:
    """Writes each event as it arrives; the caller decides the stream (stderr)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, event: Event) -> None:
        self._stream.write(format_event(event) + "\n")
        self._stream.flush()


class PlainReporter:
    """The plain-text Reporter: one line per change on stderr; no native artefacts."""

    def __init__(self, streams: Streams) -> None:
        self._render = TextRenderer(streams.stderr)

    def event(self, event: Event) -> None:
        self._render(event)

    def finish(self, result: Result) -> None:
        """Plain text has no native artefacts: the JSON result on stdout is the output."""


def make_reporter(streams: Streams, env: Mapping[str, str]) -> PlainReporter:
    return PlainReporter(streams)
