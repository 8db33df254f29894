"""Keeps a large fleet's CI log readable: per-target lines up to a threshold, above it aggregated
progress lines (the overview counts, at most one per step of progress) and each target that fails,
as it fails, with its diagnostics; wraps any Reporter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_deploy.events import (
    DeploymentStatusChanged,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    TargetStatusChanged,
)
from ci_deploy.vocabulary import SETTLED_TARGET_STATUSES

if TYPE_CHECKING:
    from ci_deploy.report import Reporter
    from ci_deploy.result import Result

# Above the threshold, a counts line is written each time this share of the fleet more has
# settled (and whenever the status or the failed count changes): at most 50 for a whole rollout.
PROGRESS_STEP = 0.02


@dataclass
class _Fleet:
    size: int = 0
    status: str | None = None
    failed: int = -1
    step: int = -1


class FleetProgress:
    """A Reporter that passes every event through for a fleet of up to ``threshold`` targets;
    above it, only aggregated status lines and failures reach ``inner``."""

    def __init__(self, inner: Reporter, threshold: int) -> None:
        self.inner = inner
        self.threshold = threshold
        self._fleets: dict[str, _Fleet] = {}

    def event(self, event: Event) -> None:
        if isinstance(event, DeploymentStatusChanged):
            if self._worth_a_line(event):
                self.inner.event(event)
            return
        if not self._hidden(event):
            self.inner.event(event)

    def finish(self, result: Result) -> None:
        self.inner.finish(result)

    def _hidden(self, event: Event) -> bool:
        """A target's event in a large fleet that is not a failure."""
        if isinstance(event, LifecycleEventStarted):
            return self._large(event.deployment_id)
        if isinstance(event, TargetStatusChanged | LifecycleEventEnded):
            return self._large(event.deployment_id) and event.status != "Failed"
        return False

    def _large(self, deployment_id: str) -> bool:
        fleet = self._fleets.get(deployment_id)
        return fleet is not None and fleet.size > self.threshold

    def _worth_a_line(self, event: DeploymentStatusChanged) -> bool:
        fleet = self._fleets.setdefault(event.deployment_id, _Fleet())
        fleet.size = max(fleet.size, sum(event.overview.values()))
        settled = sum(event.overview.get(status, 0) for status in SETTLED_TARGET_STATUSES)
        step = int(settled / fleet.size / PROGRESS_STEP) if fleet.size else 0
        failed = event.overview.get("Failed", 0)
        news = event.status != fleet.status or failed != fleet.failed or step > fleet.step
        if news:
            fleet.status, fleet.failed, fleet.step = event.status, failed, step
        return news or fleet.size <= self.threshold
