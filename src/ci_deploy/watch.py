"""Poll a deployment, its targets and lifecycle events; emit what changed; decide the verdict."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ci_deploy.aws.codedeploy import BATCH_SIZE, Deployment, DeploymentGroup, Target
from ci_deploy.errors import AwsError, DeploymentAlreadyCompleted, TransientAwsError
from ci_deploy.events import (
    DeploymentStatusChanged,
    EventSink,
    LifecycleEventEnded,
    LifecycleEventStarted,
    Notice,
    TargetStatusChanged,
)
from ci_deploy.vocabulary import (
    NOT_STARTED_DEPLOYMENT_STATUSES,
    ROLLBACK_ON_ALARM,
    ROLLBACK_ON_FAILURE,
    ROLLBACK_ON_REQUEST,
    SETTLED_TARGET_STATUSES,
    TERMINAL_EVENT_STATUSES,
    THROTTLING_CODES,
)

Verdict = Literal["succeeded", "failed", "stopped", "ready", "timeout", "cancelled"]
OnReady = Literal["continue", "wait", "succeed"]

# Without wait times to go by, give a deployment this long: longer than the stock waiter's 30
# minutes that users outgrew (aws-cli#6399), with room for the group's own waits on top.
TIMEOUT_FLOOR_SECONDS = 1800
TIMEOUT_BUFFER_SECONDS = 600

# Fleets up to this many targets are followed target by target (every target's lifecycle
# events); larger ones through the overview counts and the targets that move.
DEFAULT_PROGRESS_TARGETS = 20


class DeploymentApi(Protocol):
    """The CodeDeploy calls the watcher makes (``aws.codedeploy.CodeDeployApi`` in production)."""

    def get_deployment(self, deployment_id: str) -> Deployment: ...

    def list_deployment_targets(
        self, deployment_id: str, statuses: Sequence[str] = (), *, max_pages: int | None = None
    ) -> list[str]: ...

    def batch_get_deployment_targets(
        self, deployment_id: str, target_ids: Sequence[str]
    ) -> list[Target]: ...

    def stop_deployment(self, deployment_id: str, *, rollback: bool) -> tuple[str, str]: ...

    def continue_deployment(self, deployment_id: str, wait_type: str = "READY_WAIT") -> None: ...


@dataclass(frozen=True)
class Pacing:
    """How often to poll. Intervals are drawn from [cap * (1 - jitter), cap] so many CI jobs
    watching at once do not poll in lock-step, and never exceed the cap."""

    # Right after something changed: more change is likely soon.
    moving_seconds: float = 2.0
    growth: float = 1.5
    # Targets are running lifecycle events: GetDeployment plus one BatchGetDeploymentTargets per
    # 25 unfinished targets each poll; 2 calls per ~10.5 s keeps a 10-target deployment
    # under 12 calls per minute.
    steady_seconds: float = 11.0
    # Every unfinished target runs its last lifecycle event: only GetDeployment is polled (its
    # overview counts reveal a target ending), so the poll can be tighter and completion is
    # noticed within ~5 s.
    finishing_seconds: float = 5.0
    jitter: float = 0.1
    # Backoff after a throttled or failed poll (the SDK has already retried by then).
    backoff_max_seconds: float = 60.0
    # After StopDeployment on cancel, how long to wait for the stop to take.
    stop_wait_seconds: float = 20.0
    stop_poll_seconds: float = 2.0
    # After Failed/Stopped with automatic rollback: extra looks for the rollback deployment id.
    rollback_lookups: int = 3


@dataclass(frozen=True)
class WatchOptions:
    """How to watch: for how long (None: from the deployment group's own waits, see
    ``default_timeout_seconds``), what to do at Ready, whether a cancel stops the deployment
    (and rolls it back); ``wait`` False: look once after creating it, do not watch."""

    timeout_seconds: float | None = None
    on_ready: OnReady = "wait"
    stop_on_cancel: bool = True
    rollback_on_cancel: bool = False
    wait: bool = True
    # Fleets up to this size: every target's details. Larger: only the in-progress targets
    # (one batch of them a poll) and each failed one, so the calls a poll makes do not grow
    # with the fleet; the overview counts stand for the rest.
    progress_targets: int = DEFAULT_PROGRESS_TARGETS


@dataclass
class WatchOutcome:
    """Where watching ended, with the last view of the deployment and every target."""

    deployment: Deployment
    targets: dict[str, Target]
    verdict: Verdict | None
    polls: int = 0
    transient_errors: int = 0
    continued: bool = False
    # Cancellation: did we stop it (Pending|Succeeded|the error), or leave it running (None)?
    stop_status: str | None = None
    elapsed_seconds: float = 0.0


def default_timeout_seconds(group: DeploymentGroup | None) -> int:
    """The group's own waits (blue/green ready wait and original-environment termination wait,
    during which the deployment stays in progress) plus a buffer, never below the floor."""
    if group is None or not group.blue_green:
        return TIMEOUT_FLOOR_SECONDS
    waits = group.ready_wait_minutes + group.termination_wait_minutes
    return max(TIMEOUT_FLOOR_SECONDS, TIMEOUT_BUFFER_SECONDS + 60 * waits)


def verdict_of(deployment: Deployment, on_ready: OnReady) -> Verdict | None:
    """The watch's verdict for a status, or None to keep watching (Baking is not terminal)."""
    if deployment.status == "Succeeded":
        return "succeeded"
    if deployment.status == "Failed":
        return "failed"
    if deployment.status == "Stopped":
        return "stopped"
    if deployment.status == "Ready" and on_ready == "succeed":
        return "ready"
    return None


@dataclass
class _State:
    deployment: Deployment | None = None
    target_ids: list[str] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    polls: int = 0
    transient_errors: int = 0
    consecutive_errors: int = 0
    continued: bool = False
    # The overview counts moved since targets were last listed and fetched.
    counts_moved: bool = False
    # A large fleet: the failed target ids listed so far (each is fetched once it is known).
    failed_ids: set[str] = field(default_factory=set)
    listed_moving: bool = False

    def unfinished(self) -> list[str]:
        return [
            tid
            for tid in self.target_ids
            if tid not in self.targets or not self.targets[tid].finished
        ]

    def finishing(self) -> bool:
        """Every unfinished target is known and runs its last lifecycle event (or none is left):
        the next change shows in GetDeployment's overview counts."""
        if not self.target_ids:
            return False
        if self.deployment is not None and self.deployment.overview.get("Pending", 0):
            return False  # a large fleet's pending targets are not listed
        for tid in self.unfinished():
            target = self.targets.get(tid)
            if target is None or not target.lifecycle_events:
                return False
            open_events = [
                e for e in target.lifecycle_events if e.status not in TERMINAL_EVENT_STATUSES
            ]
            if len(open_events) > 1 or any(e.status == "Pending" for e in open_events):
                return False
        return True


class Watcher:
    """Watches one deployment at a time; time, randomness and the API are injected."""

    def __init__(
        self,
        api: DeploymentApi,
        sink: EventSink,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        self.api = api
        self.sink = sink
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self.pacing = pacing or Pacing()

    # -- one look, no events (the `status` verb)

    def snapshot(self, deployment_id: str) -> WatchOutcome:
        deployment = self.api.get_deployment(deployment_id)
        ids = self.api.list_deployment_targets(deployment_id)
        targets = self.api.batch_get_deployment_targets(deployment_id, ids) if ids else []
        return WatchOutcome(
            deployment=deployment,
            targets={t.target_id: t for t in sorted(targets, key=lambda t: t.target_id)},
            verdict=verdict_of(deployment, "wait"),
            polls=1,
        )

    # -- watching

    def watch(
        self, deployment_id: str, options: WatchOptions, group: DeploymentGroup | None = None
    ) -> WatchOutcome:
        """Watch to a verdict; without a timeout in ``options``, ``group``'s waits set it."""
        started = self.clock()
        deadline = started + (options.timeout_seconds or default_timeout_seconds(group))
        state = _State()
        interval = self.pacing.moving_seconds
        try:
            while True:
                try:
                    changed = self._poll(deployment_id, state, options)
                    state.consecutive_errors = 0
                except TransientAwsError as error:
                    state.transient_errors += 1
                    state.consecutive_errors += 1
                    delay = self._backoff(state.consecutive_errors)
                    what = "throttled" if error.code in THROTTLING_CODES else "failed"
                    self.sink(
                        Notice(
                            f"polling {what} ({error.message}); retrying in {delay:.0f}s",
                            level="warning",
                        )
                    )
                    if not self._wait(delay, deadline):
                        if state.deployment is None:
                            raise
                        return self._outcome(state, "timeout", started)
                    continue
                assert state.deployment is not None
                verdict = verdict_of(state.deployment, options.on_ready)
                if verdict is not None:
                    self._await_rollback_id(deployment_id, state)
                    return self._outcome(state, verdict, started)
                interval = self._next_interval(interval, changed, state)
                if not self._wait(interval, deadline):
                    return self._outcome(state, "timeout", started)
        except KeyboardInterrupt:
            return self._cancel(deployment_id, state, options, started)

    def _await_rollback_id(self, deployment_id: str, state: _State, *, asked: bool = False) -> None:
        """A deployment that ended Failed/Stopped with automatic rollback configured (or that we
        stopped with rollback: ``asked``) names its rollback deployment in rollbackInfo, which
        may lag the status by a moment: look again a few times so the report can name it."""
        deployment = state.deployment
        assert deployment is not None
        trigger = {"Failed": ROLLBACK_ON_FAILURE, "Stopped": ROLLBACK_ON_REQUEST}
        wanted = trigger.get(deployment.status)
        if wanted is None or deployment.rollback_deployment_id:
            return
        configured = set(deployment.auto_rollback_events) & {wanted, ROLLBACK_ON_ALARM}
        if not (configured or (asked and deployment.status == "Stopped")):
            return
        for _ in range(self.pacing.rollback_lookups):
            self.sleep(self.pacing.moving_seconds)
            try:
                latest = self.api.get_deployment(deployment_id)
            except AwsError:
                return
            if latest.rollback_deployment_id:
                state.deployment = latest
                self.sink(Notice(f"rollback deployment: {latest.rollback_deployment_id}"))
                return

    def _wait(self, seconds: float, deadline: float) -> bool:
        """Sleep up to ``seconds`` without passing the deadline (one more poll happens at the
        deadline itself); False once it has passed."""
        remaining = deadline - self.clock()
        if remaining <= 0:
            return False
        self.sleep(min(seconds, remaining))
        return True

    def _jittered(self, cap: float) -> float:
        return cap * (1.0 - self.pacing.jitter * self.rng.random())

    def _next_interval(self, previous: float, changed: bool, state: _State) -> float:
        pacing = self.pacing
        if changed:
            return self._jittered(pacing.moving_seconds)
        cap = pacing.finishing_seconds if state.finishing() else pacing.steady_seconds
        return self._jittered(min(cap, max(previous, pacing.moving_seconds) * pacing.growth))

    def _backoff(self, attempt: int) -> float:
        pacing = self.pacing
        cap = min(pacing.backoff_max_seconds, pacing.steady_seconds * 2.0 ** (attempt - 1))
        return cap * (0.5 + 0.5 * self.rng.random())

    def _poll(self, deployment_id: str, state: _State, options: WatchOptions) -> bool:
        """One round of calls; emits an event for every change and says whether any happened."""
        state.polls += 1
        deployment = self.api.get_deployment(deployment_id)
        previous = state.deployment
        state.deployment = deployment
        changed = False
        overview_changed = previous is None or previous.overview != deployment.overview
        if previous is None or previous.status != deployment.status or overview_changed:
            changed = True
            self.sink(
                DeploymentStatusChanged(
                    deployment_id=deployment_id,
                    status=deployment.status,
                    overview={k: v for k, v in deployment.overview.items() if v},
                    message=deployment.error_message if deployment.finished else None,
                )
            )
        if deployment.status in NOT_STARTED_DEPLOYMENT_STATUSES and not state.target_ids:
            return changed
        # Kept until the calls succeed, so a poll that fails half-way still re-reads them.
        state.counts_moved |= overview_changed
        large = sum(deployment.overview.values()) > options.progress_targets
        if large:
            self._list_moving(deployment_id, deployment, state)
        elif state.counts_moved or not state.target_ids:
            # New targets appear (blue/green replacement instances) only with new counts.
            state.target_ids = self.api.list_deployment_targets(deployment_id)
        # While targets only run their last lifecycle event, its end shows in the overview
        # counts: skip fetching them until those move (or the deployment ends).
        quiet = state.finishing() and not state.counts_moved and not deployment.finished
        unfinished = self._to_fetch(state) if large else state.unfinished()
        if unfinished and not quiet:
            for target in self.api.batch_get_deployment_targets(deployment_id, unfinished):
                changed |= self._compare(deployment_id, state.targets.get(target.target_id), target)
                state.targets[target.target_id] = target
        state.counts_moved = False
        if deployment.status == "Ready" and options.on_ready == "continue" and not state.continued:
            self.api.continue_deployment(deployment_id, "READY_WAIT")
            state.continued = True
            changed = True
            self.sink(Notice(f"deployment {deployment_id} is Ready: continued (traffic rerouted)"))
        return changed

    def _list_moving(self, deployment_id: str, deployment: Deployment, state: _State) -> None:
        """A large fleet: when the counts move (and once more at the end), list the targets in
        progress (one page is plenty: one batch of them is fetched a poll) and, when the failed
        count has grown, every failed target. Targets that left the list and whose end was not
        seen are dropped: the counts stand for them."""
        if state.listed_moving and not (state.counts_moved or deployment.finished):
            return
        moving = self.api.list_deployment_targets(deployment_id, ("InProgress",), max_pages=1)
        if deployment.overview.get("Failed", 0) > len(state.failed_ids):
            state.failed_ids.update(self.api.list_deployment_targets(deployment_id, ("Failed",)))
        listed = set(moving) | state.failed_ids
        state.listed_moving = True
        state.target_ids = sorted(listed)
        for tid in [
            t for t, seen in state.targets.items() if t not in listed and not seen.finished
        ]:
            del state.targets[tid]

    @staticmethod
    def _to_fetch(state: _State) -> list[str]:
        """A large fleet's targets to fetch this poll: every failed one not fetched since it
        failed, then at most one batch of those in progress, those never fetched first."""
        failed = [tid for tid in state.unfinished() if tid in state.failed_ids]
        moving = sorted(
            (tid for tid in state.unfinished() if tid not in state.failed_ids),
            key=lambda tid: (tid in state.targets, tid),
        )
        return failed + moving[:BATCH_SIZE]

    def _compare(self, deployment_id: str, before: Target | None, after: Target) -> bool:
        changed = False
        status_changed = before is None or before.status != after.status
        # A target that has ended is announced after the events that ended it, one that starts
        # before its events: the log then reads in the order things happened.
        ended = after.status in SETTLED_TARGET_STATUSES
        if status_changed and not ended:
            changed = True
            self.sink(TargetStatusChanged(deployment_id, after.target_id, after.status))
        old = {e.name: e for e in before.lifecycle_events} if before else {}
        for event in after.lifecycle_events:
            seen = old.get(event.name)
            if seen is not None and seen.status == event.status:
                continue
            if event.status == "InProgress":
                changed = True
                self.sink(LifecycleEventStarted(deployment_id, after.target_id, event.name))
            elif event.status in TERMINAL_EVENT_STATUSES and (
                event.status != "Skipped" or (seen is not None and seen.status == "InProgress")
            ):
                changed = True
                self.sink(
                    LifecycleEventEnded(
                        deployment_id,
                        after.target_id,
                        event.name,
                        event.status,
                        event.duration_seconds,
                        event.diagnostics if event.status == "Failed" else None,
                    )
                )
        if status_changed and ended:
            changed = True
            self.sink(TargetStatusChanged(deployment_id, after.target_id, after.status))
        return changed

    def _outcome(self, state: _State, verdict: Verdict | None, started: float) -> WatchOutcome:
        assert state.deployment is not None
        return WatchOutcome(
            deployment=state.deployment,
            targets={tid: state.targets[tid] for tid in sorted(state.targets)},
            verdict=verdict,
            polls=state.polls,
            transient_errors=state.transient_errors,
            continued=state.continued,
            elapsed_seconds=self.clock() - started,
        )

    def _cancel(
        self, deployment_id: str, state: _State, options: WatchOptions, started: float
    ) -> WatchOutcome:
        """The job was cancelled: stop the deployment (unless told not to), wait briefly for the
        stop to take, and report where it ended up."""
        if state.deployment is None:
            state.deployment = Deployment(deployment_id=deployment_id, status="InProgress")
        if not options.stop_on_cancel:
            self.sink(
                Notice(
                    f"cancelled: deployment {deployment_id} left running (--no-stop-on-cancel)",
                    level="warning",
                )
            )
            return self._outcome(state, "cancelled", started)
        rollback = " with rollback" if options.rollback_on_cancel else ""
        self.sink(Notice(f"cancelled: stopping deployment {deployment_id}{rollback}", "warning"))
        try:
            stop_status, message = self.api.stop_deployment(
                deployment_id, rollback=options.rollback_on_cancel
            )
        except DeploymentAlreadyCompleted:
            stop_status, message = "AlreadyCompleted", "the deployment had already ended"
        except AwsError as error:
            stop_status, message = "Error", error.message
        self.sink(Notice(f"StopDeployment: {stop_status} {message}".rstrip()))
        # Never continue a deployment we are stopping.
        quiet = WatchOptions(
            timeout_seconds=self.pacing.stop_wait_seconds,
            on_ready="wait",
            progress_targets=options.progress_targets,
        )
        deadline = self.clock() + self.pacing.stop_wait_seconds
        try:
            while stop_status != "Error" and not state.deployment.finished:
                if self.clock() >= deadline:
                    break
                self.sleep(self.pacing.stop_poll_seconds)
                try:
                    self._poll(deployment_id, state, quiet)
                except AwsError:
                    break
            if options.rollback_on_cancel and stop_status != "Error":
                self._await_rollback_id(deployment_id, state, asked=True)
        except KeyboardInterrupt:
            pass  # a second signal: stop waiting, report what we know
        outcome = self._outcome(state, "cancelled", started)
        outcome.stop_status = stop_status
        return outcome
