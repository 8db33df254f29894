"""One running deployment's state: its lock condition, threads and stop request, the waits its
steps share, and its terminal status."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from ci_deploy.emulator.model import Deployment, Target
from ci_deploy.emulator.registry import Registry
from ci_deploy.emulator.rollout import triggers

MANUAL_STOP_MESSAGE = "The deployment was stopped by a user request."


class Rollout:
    """Drives one deployment from Created to a terminal status (``run.start_rollout``)."""

    def __init__(
        self,
        registry: Registry,
        deployment: Deployment,
        on_finished: Callable[[Deployment], None],
    ) -> None:
        self.registry = registry
        self.runtime = registry.runtime
        self.deployment = deployment
        # Called with the deployment once it is terminal, under the lock (auto-rollback).
        self.on_finished = on_finished
        self.changed = threading.Condition(registry.lock)
        self.threads: list[threading.Thread] = []
        self.at_gate: set[str] = set()
        self.gate_open = threading.Event()
        # errorInformation of a Stopped deployment: a user's StopDeployment unless a wait ran out
        self.stop_reason = ("MANUAL_STOP", MANUAL_STOP_MESSAGE)

    def now(self) -> float:
        return self.registry.clock()

    def pause(self) -> None:
        """The configured pacing between steps; a stop request cuts it short."""
        delay = self.runtime.event_delay_seconds
        if delay > 0:
            self.deployment.stop_requested.wait(delay)

    def set_target(self, target: Target, status: str) -> None:
        previous = target.status
        target.status = status
        target.last_updated = self.now()
        self.changed.notify_all()
        # InstanceStart once (a Ready replacement going on is no new start).
        if status != previous and not (status == "InProgress" and previous == "Ready"):
            triggers.instance_event(self.registry, self.deployment, target)

    def notify(self, event: str) -> None:
        """Publish a deployment event to the group's triggers (caller holds the lock)."""
        triggers.deployment_event(self.registry, self.deployment, event)

    def request_stop(self) -> None:
        """Stop scheduling, kill running hooks (the engine kills the script's process group),
        release hooks and instances that wait (caller holds the lock)."""
        deployment = self.deployment
        deployment.stop_requested.set()
        for target in deployment.iter_targets():
            target.cancel.set()
        for hook in deployment.hooks.values():
            hook.reported.set()
        self.gate_open.set()
        self.changed.notify_all()

    def spawn(self, work: Callable[[], None], name: str) -> None:
        """Run ``work`` in a new thread of this rollout (stop_all joins them)."""
        thread = threading.Thread(target=work, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def finish(self, status: str, code: str | None = None, message: str | None = None) -> None:
        """Terminal status (caller holds the lock); then roll back if configured."""
        deployment = self.deployment
        if deployment.terminal:
            return
        if not deployment.targets_assigned:
            deployment.targets_assigned = True
        now = self.now()
        for target in deployment.targets.values():
            if target.status in {"Pending", "Ready"}:
                target.status = "Skipped"
                target.last_updated = now
            for event in target.events:
                if event.status in {"Pending", "InProgress"}:
                    event.status = "Skipped"
        deployment.status = status
        if deployment.start_time is None:
            deployment.start_time = now
        deployment.complete_time = now
        if code is not None:
            deployment.error = {"code": code, "message": message or ""}
        for hook in deployment.hooks.values():
            hook.reported.set()
        group = deployment.group
        group.last_attempted = deployment.last_deployment_info()
        if status == "Succeeded":
            group.last_successful = deployment.last_deployment_info()
            group.last_successful_revision = deployment.revision
        self.changed.notify_all()
        self.notify(triggers.DEPLOYMENT_EVENTS.get(status, ""))
        self.on_finished(deployment)

    def hold(self, release: threading.Event, minutes: float | None) -> bool:
        """Wait (caller holds the lock) until ``release`` is set or a stop is requested, for
        at most ``minutes`` (no limit when 0 or absent); False when the time ran out."""
        seconds = float(minutes or 0) * 60
        deadline = self.now() + seconds if seconds else None
        while not release.is_set() and not self.deployment.stop_requested.is_set():
            remaining = None if deadline is None else deadline - self.now()
            if remaining is not None and remaining <= 0:
                return False
            self.changed.wait(remaining)
        return True

    def wait_until_finished(self, targets: list[Target]) -> None:
        while any(t.status in {"InProgress", "Ready"} for t in targets):
            self.changed.wait()

    def wait_for_termination(self, option: object) -> None:
        """The originals (instances, or the ECS task set) live on for
        terminationWaitTimeInMinutes before TERMINATE ends them; the deployment stays
        InProgress meanwhile, and ContinueDeployment(TERMINATION_WAIT) ends the wait early."""
        if not isinstance(option, Mapping) or option.get("action") != "TERMINATE":
            return
        minutes = option.get("terminationWaitTimeInMinutes") or 0
        if minutes <= 0:
            return
        self.deployment.termination_wait_started = True
        self.changed.notify_all()
        self.hold(self.deployment.skip_termination_wait, minutes)
