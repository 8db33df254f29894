"""The terminal renderer: a live view of the deployment on a TTY, one line per change in CI
logs; and the human form of a `status` snapshot."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from ci_deploy.events import (
    DeploymentStatusChanged,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    Notice,
    TargetStatusChanged,
)
from ci_deploy.report.text import PlainReporter, format_event
from ci_deploy.streams import Streams

if TYPE_CHECKING:
    from ci_deploy.result import DeploymentsResult, Result

# ANSI: move the cursor to the start of the line N lines up, then clear to the end of screen.
_UP = "\x1b[{}F"
_CLEAR_DOWN = "\x1b[J"


@dataclass
class _TargetRow:
    status: str = "Pending"
    step: str = ""


class LiveReporter:
    """Redraws a small block (each deployment's status, one row per target under it) in place on
    each change; notices and failures are printed above it and stay in the scrollback. Several
    regions deployed at once get a block each, so targets of the same id never share a row."""

    def __init__(self, stream: TextIO, width: int | None = None) -> None:
        self._stream = stream
        self._width = width or shutil.get_terminal_size((100, 24)).columns
        # deployment id -> its status line, in the order deployments first appeared
        self._headers: dict[str, str] = {}
        self._rows: dict[tuple[str, str], _TargetRow] = {}
        self._drawn = 0

    def event(self, event: Event) -> None:
        if isinstance(event, DeploymentStatusChanged):
            self._headers[event.deployment_id] = format_event(event)
        elif isinstance(event, TargetStatusChanged):
            self._row(event.deployment_id, event.target_id).status = event.status
        elif isinstance(event, LifecycleEventStarted):
            self._row(event.deployment_id, event.target_id).step = f"{event.event_name} …"
        elif isinstance(event, LifecycleEventEnded):
            took = f" {event.duration_seconds:.1f}s" if event.duration_seconds is not None else ""
            row = self._row(event.deployment_id, event.target_id)
            row.step = f"{event.event_name} {event.status}{took}"
            if event.status == "Failed":
                self._commit(format_event(event))
                return
        elif isinstance(event, Notice):
            self._commit(format_event(event))
            return
        self._redraw()

    def finish(self, result: Result) -> None:
        """The block stays on screen as the final picture; nothing else to write."""

    def _row(self, deployment_id: str, target_id: str) -> _TargetRow:
        self._headers.setdefault(deployment_id, f"deployment {deployment_id}")
        return self._rows.setdefault((deployment_id, target_id), _TargetRow())

    def _lines(self) -> list[str]:
        lines: list[str] = []
        for deployment_id, header in self._headers.items():
            lines.append(header)
            for key in sorted(k for k in self._rows if k[0] == deployment_id):
                row = self._rows[key]
                lines.append(f"  {key[1]:<20} {row.status:<11} {row.step}".rstrip())
        # A line longer than the terminal wraps and breaks the count of lines to move up.
        return [line[: self._width - 1] for line in lines]

    def _erase(self) -> None:
        if self._drawn:
            self._stream.write(_UP.format(self._drawn) + _CLEAR_DOWN)
            self._drawn = 0

    def _commit(self, text: str) -> None:
        self._erase()
        self._stream.write(text + "\n")
        self._redraw()

    def _redraw(self) -> None:
        self._erase()
        lines = self._lines()
        if lines:
            self._stream.write("\n".join(lines) + "\n")
        self._drawn = len(lines)
        self._stream.flush()


def make_reporter(streams: Streams, env: Mapping[str, str]) -> LiveReporter | PlainReporter:
    """A live view on a terminal; one line per change anywhere else (CI logs, files)."""
    if streams.interactive and env.get("TERM", "") != "dumb":
        return LiveReporter(streams.stderr)
    return PlainReporter(streams)


def format_snapshot(result: DeploymentsResult) -> str:
    """A `status` snapshot for humans: the deployment, each target and its lifecycle events,
    with the diagnostics of every failed event."""
    run = result.first
    lines = [f"deployment {run.deployment_id} ({run.region}): {result.status}"]
    counts = ", ".join(f"{k} {v}" for k, v in run.overview.items() if v)
    if counts:
        lines.append(f"  targets: {counts}")
    error = run.failure
    if error:
        lines.append(f"  error: {error.code}: {error.message}")
    for target in run.sorted_targets:
        lines.append(f"  {target.target_id}: {target.status}")
        for event in target.lifecycle_events:
            took = event.duration_seconds
            took_text = f" {took:.1f}s" if took is not None else ""
            lines.append(f"    {event.name:<22} {event.status}{took_text}")
            diag = event.diagnostics if event.status == "Failed" else None
            if diag:
                script = f" {diag.script_name}" if diag.script_name else ""
                lines.append(f"      {diag.error_code}{script}: {diag.message}")
                lines.extend(
                    "      | " + row for row in diag.log_tail.rstrip("\n").split("\n") if row
                )
    if run.rollback_deployment_id:
        lines.append(f"  rollback deployment: {run.rollback_deployment_id}")
    lines.append(f"  console: {run.console_url}")
    return "\n".join(lines) + "\n"
