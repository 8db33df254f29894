"""The watcher with an injected clock and a hand-written API at its seam: no test sleeps."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from ci_deploy.aws.codedeploy import Deployment, DeploymentGroup, LifecycleEvent, Target
from ci_deploy.errors import AwsError, DeploymentAlreadyCompleted, TransientAwsError
from ci_deploy.events import (
    DeploymentStatusChanged,
    Diagnostics,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    Notice,
    TargetStatusChanged,
)
from ci_deploy.watch import (
    TIMEOUT_FLOOR_SECONDS,
    Pacing,
    Watcher,
    WatchOptions,
    default_timeout_seconds,
    verdict_of,
)
from fake_codedeploy import target_status


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Step:
    """What the API shows from one GetDeployment on (until the next step)."""

    status: str
    targets: dict[str, Target] = field(default_factory=dict)
    error: tuple[str, str] | None = None
    auto_rollback: tuple[str, ...] = ()
    rollback_id: str | None = None


def target(tid: str, *events: tuple[str, str], diag: Diagnostics | None = None) -> Target:
    lifecycle = []
    for name, status in events:
        start = 100.0 if status != "Pending" else None
        end = 101.5 if status in ("Succeeded", "Failed", "Skipped") else None
        lifecycle.append(
            LifecycleEvent(
                name,
                status,
                datetime.fromtimestamp(start, timezone.utc) if start else None,
                datetime.fromtimestamp(end, timezone.utc) if end else None,
                diag if status == "Failed" else None,
            )
        )
    return Target(tid, target_status([s for _, s in events]), tuple(lifecycle))


class ScriptedApi:
    """Each GetDeployment moves to the next step; records every call."""

    def __init__(self, steps: Sequence[Step], faults: Sequence[Exception | None] = ()) -> None:
        self.steps = list(steps)
        self.index = -1
        self.calls: list[str] = []
        self.batches: list[list[str]] = []
        self.faults = list(faults)
        self.stopped: tuple[str, bool] | None = None
        self.continued = False
        self.hold_ready = True

    def _step(self) -> Step:
        return self.steps[max(0, min(self.index, len(self.steps) - 1))]

    def get_deployment(self, deployment_id: str) -> Deployment:
        self.calls.append("GetDeployment")
        if self.faults:
            fault = self.faults.pop(0)
            if fault is not None:
                raise fault
        current = self._step()
        if not (current.status == "Ready" and self.hold_ready and not self.continued):
            self.index = min(self.index + 1, len(self.steps) - 1)
        step = self._step()
        overview: dict[str, int] = {}
        for t in step.targets.values():
            overview[t.status] = overview.get(t.status, 0) + 1
        return Deployment(
            deployment_id,
            step.status,
            application="web",
            deployment_group="prod",
            overview=overview,
            error_code=step.error[0] if step.error else None,
            error_message=step.error[1] if step.error else None,
            auto_rollback_events=step.auto_rollback,
            rollback_deployment_id=step.rollback_id,
        )

    def list_deployment_targets(
        self, deployment_id: str, statuses: Sequence[str] = (), *, max_pages: int | None = None
    ) -> list[str]:
        self.calls.append("ListDeploymentTargets")
        targets = self._step().targets
        return sorted(tid for tid, t in targets.items() if not statuses or t.status in statuses)

    def batch_get_deployment_targets(
        self, deployment_id: str, target_ids: Sequence[str]
    ) -> list[Target]:
        self.calls.append("BatchGetDeploymentTargets")
        self.batches.append(list(target_ids))
        return [self._step().targets[tid] for tid in target_ids]

    def stop_deployment(self, deployment_id: str, *, rollback: bool) -> tuple[str, str]:
        self.calls.append("StopDeployment")
        self.stopped = (deployment_id, rollback)
        step = self._step()
        if step.status in ("Succeeded", "Failed", "Stopped"):
            raise DeploymentAlreadyCompleted("already", code="DeploymentAlreadyCompletedException")
        self.steps = [*self.steps[: self.index + 1], Step("Stopped", step.targets)]
        return "Pending", "Stopping"

    def continue_deployment(self, deployment_id: str, wait_type: str = "READY_WAIT") -> None:
        self.calls.append("ContinueDeployment")
        self.continued = True


def watch(
    api: ScriptedApi, options: WatchOptions | None = None, pacing: Pacing | None = None
) -> tuple[object, list[Event], FakeClock]:
    clock = FakeClock()
    events: list[Event] = []
    watcher = Watcher(
        api, events.append, clock=clock, sleep=clock.sleep, rng=random.Random(7), pacing=pacing
    )
    outcome = watcher.watch("d-1", options or WatchOptions(timeout_seconds=3600))
    return outcome, events, clock


EVENTS = ("BeforeInstall", "AfterInstall")


def success_steps() -> list[Step]:
    return [
        Step("Created"),
        Step(
            "InProgress",
            {"i-1": target("i-1", ("BeforeInstall", "InProgress"), (EVENTS[1], "Pending"))},
        ),
        Step(
            "InProgress",
            {"i-1": target("i-1", ("BeforeInstall", "Succeeded"), (EVENTS[1], "InProgress"))},
        ),
        Step(
            "InProgress",
            {"i-1": target("i-1", ("BeforeInstall", "Succeeded"), (EVENTS[1], "Succeeded"))},
        ),
        Step(
            "Succeeded",
            {"i-1": target("i-1", ("BeforeInstall", "Succeeded"), (EVENTS[1], "Succeeded"))},
        ),
    ]


def test_success_emits_each_change_once_and_ends_succeeded() -> None:
    outcome, events, _ = watch(ScriptedApi(success_steps()))
    assert outcome.verdict == "succeeded"
    statuses = [e.status for e in events if isinstance(e, DeploymentStatusChanged)]
    assert statuses == ["Created", "InProgress", "InProgress", "Succeeded"]
    started = [e.event_name for e in events if isinstance(e, LifecycleEventStarted)]
    ended = [
        (e.event_name, e.status, e.duration_seconds)
        for e in events
        if isinstance(e, LifecycleEventEnded)
    ]
    assert started == ["BeforeInstall", "AfterInstall"]
    assert ended == [("BeforeInstall", "Succeeded", 1.5), ("AfterInstall", "Succeeded", 1.5)]
    target_changes = [e.status for e in events if isinstance(e, TargetStatusChanged)]
    assert target_changes == ["InProgress", "Succeeded"]


def test_a_target_starts_before_its_events_and_ends_after_them() -> None:
    # One poll sees the target go from nothing to InProgress, the next from InProgress to done:
    # the log must read "i-1: InProgress", its events, then "i-1: Succeeded".
    steps = [
        Step("InProgress", {"i-1": target("i-1", ("BeforeInstall", "InProgress"))}),
        Step(
            "Succeeded",
            {"i-1": target("i-1", ("BeforeInstall", "Succeeded"), (EVENTS[1], "Succeeded"))},
        ),
    ]
    _, events, _ = watch(ScriptedApi(steps))
    lines = [
        f"{e.target_id} {e.status}" if isinstance(e, TargetStatusChanged) else e.event_name
        for e in events
        if isinstance(e, TargetStatusChanged | LifecycleEventStarted | LifecycleEventEnded)
    ]
    assert lines == [
        "i-1 InProgress",
        "BeforeInstall",
        "BeforeInstall",
        "AfterInstall",
        "i-1 Succeeded",
    ]


def test_finished_targets_are_not_fetched_again() -> None:
    steps = [
        Step(
            "InProgress",
            {"i-1": target("i-1", ("A", "Succeeded")), "i-2": target("i-2", ("A", "InProgress"))},
        ),
        Step(
            "InProgress",
            {"i-1": target("i-1", ("A", "Succeeded")), "i-2": target("i-2", ("A", "InProgress"))},
        ),
        Step(
            "InProgress",
            {"i-1": target("i-1", ("A", "Succeeded")), "i-2": target("i-2", ("A", "Succeeded"))},
        ),
        Step(
            "Succeeded",
            {"i-1": target("i-1", ("A", "Succeeded")), "i-2": target("i-2", ("A", "Succeeded"))},
        ),
    ]
    api = ScriptedApi(steps)
    outcome, _, _ = watch(api)
    assert outcome.verdict == "succeeded"
    assert api.batches[0] == ["i-1", "i-2"]
    assert all(batch == ["i-2"] for batch in api.batches[1:])


def test_failure_carries_the_failing_event_diagnostics() -> None:
    diag = Diagnostics(
        "ScriptFailed", "scripts/validate.sh", "exit 3", "curl: connection refused\n"
    )
    failed = target("i-1", ("BeforeInstall", "Succeeded"), ("ValidateService", "Failed"), diag=diag)
    steps = [
        Step(
            "InProgress",
            {"i-1": target("i-1", ("BeforeInstall", "InProgress"), ("ValidateService", "Pending"))},
        ),
        Step("Failed", {"i-1": failed}, error=("HEALTH_CONSTRAINTS", "too few healthy instances")),
    ]
    outcome, events, _ = watch(ScriptedApi(steps))
    assert outcome.verdict == "failed"
    ended = [e for e in events if isinstance(e, LifecycleEventEnded) and e.status == "Failed"]
    assert ended[0].diagnostics == diag
    last = [e for e in events if isinstance(e, DeploymentStatusChanged)][-1]
    assert last.message == "too few healthy instances"
    assert outcome.targets["i-1"].status == "Failed"


def test_stopped_is_terminal_and_baking_is_not() -> None:
    steps = [Step("InProgress"), Step("Baking"), Step("Baking"), Step("Stopped")]
    outcome, _, _ = watch(ScriptedApi(steps))
    assert outcome.verdict == "stopped"
    assert verdict_of(Deployment("d", "Baking"), "succeed") is None


def ready_steps() -> list[Step]:
    return [Step("InProgress"), Step("Ready"), Step("InProgress"), Step("Succeeded")]


def test_ready_with_continue_calls_continue_deployment_once() -> None:
    api = ScriptedApi(ready_steps())
    outcome, events, _ = watch(api, WatchOptions(timeout_seconds=3600, on_ready="continue"))
    assert outcome.verdict == "succeeded"
    assert api.calls.count("ContinueDeployment") == 1
    assert any(isinstance(e, Notice) and "continued" in e.message for e in events)


def test_ready_with_succeed_ends_at_ready() -> None:
    api = ScriptedApi(ready_steps())
    outcome, _, _ = watch(api, WatchOptions(timeout_seconds=3600, on_ready="succeed"))
    assert outcome.verdict == "ready"
    assert "ContinueDeployment" not in api.calls


def test_ready_with_wait_keeps_waiting_until_the_timeout() -> None:
    api = ScriptedApi(ready_steps())
    outcome, _, clock = watch(api, WatchOptions(timeout_seconds=120, on_ready="wait"))
    assert outcome.verdict == "timeout"
    assert outcome.deployment.status == "Ready"
    assert clock.now == pytest.approx(120)
    assert "ContinueDeployment" not in api.calls


def test_timeout_never_sleeps_past_the_deadline() -> None:
    api = ScriptedApi([Step("InProgress")])
    outcome, _, clock = watch(api, WatchOptions(timeout_seconds=30))
    assert outcome.verdict == "timeout"
    assert clock.now == pytest.approx(30)
    # One last look at the deadline itself.
    assert "GetDeployment" in api.calls[-2:]


def test_interval_grows_while_nothing_changes_with_jitter_below_the_cap() -> None:
    api = ScriptedApi(
        [Step("InProgress", {"i-1": target("i-1", ("A", "InProgress"), ("B", "Pending"))})]
    )
    pacing = Pacing()
    _, _, clock = watch(api, WatchOptions(timeout_seconds=600), pacing)
    waits = clock.sleeps[:-1]
    # First sight is a change: poll again soon; then the interval grows while nothing moves.
    assert pacing.moving_seconds * (1 - pacing.jitter) <= waits[0] <= pacing.moving_seconds
    assert waits[1] > waits[0]
    assert all(w <= pacing.steady_seconds for w in waits)
    assert all(w >= pacing.steady_seconds * (1 - pacing.jitter) for w in waits[5:])
    assert len(set(waits[5:])) > 1  # jittered, not lock-step


def test_steady_state_budget_for_ten_targets() -> None:
    running = {
        f"i-{n}": target(f"i-{n}", ("A", "Succeeded"), ("B", "InProgress"), ("C", "Pending"))
        for n in range(10)
    }
    api = ScriptedApi([Step("InProgress", running)])
    _, _, clock = watch(api, WatchOptions(timeout_seconds=1200))
    # Leave out the first minute (start-up); count calls per minute over the rest.
    calls_per_minute = (len(api.calls) - 20) / ((clock.now - 60) / 60)
    assert calls_per_minute <= 12


def test_finishing_polls_only_get_deployment() -> None:
    last_event = {
        f"i-{n}": target(f"i-{n}", ("A", "Succeeded"), ("B", "InProgress")) for n in range(10)
    }
    api = ScriptedApi([Step("InProgress", last_event)])
    _, _, clock = watch(api, WatchOptions(timeout_seconds=600))
    tail = api.calls[10:]
    assert set(tail) == {"GetDeployment"}
    assert max(clock.sleeps) <= Pacing().finishing_seconds


def test_throttling_backs_off_counts_and_recovers() -> None:
    throttled = TransientAwsError(
        "GetDeployment: ThrottlingException: Rate exceeded", code="ThrottlingException"
    )
    api = ScriptedApi(success_steps(), faults=[None, throttled, throttled])
    outcome, events, clock = watch(api)
    assert outcome.verdict == "succeeded"
    assert outcome.transient_errors == 2
    warnings = [e.message for e in events if isinstance(e, Notice) and e.level == "warning"]
    assert len(warnings) == 2 and all("throttled" in w for w in warnings)
    # Backoff doubles: the second wait is longer than the first's floor.
    backoffs = clock.sleeps[1:3]
    assert backoffs[1] > backoffs[0] * 0.9


def test_5xx_while_polling_is_retried_not_fatal() -> None:
    down = TransientAwsError("GetDeployment: InternalFailure", code="InternalFailure")
    api = ScriptedApi(success_steps(), faults=[None, down])
    outcome, events, _ = watch(api)
    assert outcome.verdict == "succeeded"
    assert any(isinstance(e, Notice) and "polling failed" in e.message for e in events)


def test_a_non_transient_error_is_raised() -> None:
    denied = AwsError("GetDeployment: AccessDeniedException: no", code="AccessDeniedException")
    api = ScriptedApi(success_steps(), faults=[denied])
    with pytest.raises(AwsError, match="AccessDenied"):
        watch(api)


class InterruptingClock(FakeClock):
    """Raises KeyboardInterrupt (what cli.py makes of SIGTERM) on the n-th sleep."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if len(self.sleeps) == self.at:
            raise KeyboardInterrupt("SIGTERM")


@pytest.mark.parametrize("rollback", [True, False])
def test_cancel_stops_the_deployment_and_waits_for_it(rollback: bool) -> None:
    api = ScriptedApi(
        [Step("InProgress"), Step("InProgress"), Step("InProgress"), Step("Succeeded")]
    )
    clock = InterruptingClock(at=1)
    watcher = Watcher(api, lambda e: None, clock=clock, sleep=clock.sleep, rng=random.Random(1))
    outcome = watcher.watch("d-1", WatchOptions(3600, rollback_on_cancel=rollback))
    assert outcome.verdict == "cancelled"
    assert api.stopped == ("d-1", rollback)
    assert outcome.deployment.status == "Stopped"
    assert outcome.stop_status == "Pending"


def test_cancel_with_no_stop_leaves_it_running() -> None:
    api = ScriptedApi([Step("InProgress")])
    clock = InterruptingClock(at=1)
    events: list[Event] = []
    watcher = Watcher(api, events.append, clock=clock, sleep=clock.sleep)
    outcome = watcher.watch("d-1", WatchOptions(3600, stop_on_cancel=False))
    assert outcome.verdict == "cancelled"
    assert "StopDeployment" not in api.calls
    assert any(isinstance(e, Notice) and "left running" in e.message for e in events)


class RollingBackApi(ScriptedApi):
    """StopDeployment with rollback: Stopped at once, the rollback id two looks later."""

    def stop_deployment(self, deployment_id: str, *, rollback: bool) -> tuple[str, str]:
        answer = super().stop_deployment(deployment_id, rollback=rollback)
        stopped = self.steps[-1]
        self.steps = [
            *self.steps[:-1],
            stopped,
            stopped,
            Step("Stopped", stopped.targets, rollback_id="d-RB" if rollback else None),
        ]
        return answer


@pytest.mark.parametrize("rollback", [True, False])
def test_cancel_with_rollback_names_the_rollback_deployment(rollback: bool) -> None:
    api = RollingBackApi([Step("InProgress"), Step("InProgress")])
    clock = InterruptingClock(at=1)
    events: list[Event] = []
    watcher = Watcher(api, events.append, clock=clock, sleep=clock.sleep, rng=random.Random(1))
    outcome = watcher.watch("d-1", WatchOptions(3600, rollback_on_cancel=rollback))
    assert outcome.verdict == "cancelled"
    assert outcome.deployment.status == "Stopped"
    if rollback:
        assert outcome.deployment.rollback_deployment_id == "d-RB"
        assert Notice("rollback deployment: d-RB") in events
    else:  # no rollback asked, none configured: no extra looks
        assert outcome.deployment.rollback_deployment_id is None
        assert api.calls.count("GetDeployment") == 2


class CompletedApi(ScriptedApi):
    def stop_deployment(self, deployment_id: str, *, rollback: bool) -> tuple[str, str]:
        self.calls.append("StopDeployment")
        raise DeploymentAlreadyCompleted("already", code="DeploymentAlreadyCompletedException")


def test_cancel_after_it_completed_reports_already_completed() -> None:
    api = CompletedApi([Step("InProgress"), Step("InProgress"), Step("Succeeded")])
    clock = InterruptingClock(at=1)
    watcher = Watcher(api, lambda e: None, clock=clock, sleep=clock.sleep)
    outcome = watcher.watch("d-1", WatchOptions(3600))
    assert outcome.verdict == "cancelled"
    assert outcome.stop_status == "AlreadyCompleted"
    assert outcome.deployment.status == "Succeeded"


def test_default_timeout_from_group_wait_times_with_a_floor() -> None:
    in_place = DeploymentGroup("web", "prod", "Server")
    assert default_timeout_seconds(in_place) == TIMEOUT_FLOOR_SECONDS
    assert default_timeout_seconds(None) == TIMEOUT_FLOOR_SECONDS
    blue_green = DeploymentGroup(
        "web", "prod", "ECS", blue_green=True, ready_wait_minutes=60, termination_wait_minutes=30
    )
    assert default_timeout_seconds(blue_green) == 600 + 90 * 60
    short = DeploymentGroup("web", "prod", "ECS", blue_green=True, termination_wait_minutes=5)
    assert default_timeout_seconds(short) == TIMEOUT_FLOOR_SECONDS


class FlakyListApi(ScriptedApi):
    """ListDeploymentTargets fails once, on its second call."""

    def __init__(self, steps: Sequence[Step]) -> None:
        super().__init__(steps)
        self.lists = 0

    def list_deployment_targets(self, deployment_id: str) -> list[str]:
        self.lists += 1
        if self.lists == 2:
            raise TransientAwsError("ListDeploymentTargets: 503", code="InternalFailure")
        return super().list_deployment_targets(deployment_id)


def test_a_poll_failing_half_way_lists_the_targets_again() -> None:
    blue = target("i-1", ("Install", "InProgress"))
    green = target("i-2", ("Install", "InProgress"))
    done = {
        "i-1": target("i-1", ("Install", "Succeeded")),
        "i-2": target("i-2", ("Install", "Succeeded")),
    }
    steps = [
        Step("InProgress", {"i-1": blue}),
        Step("InProgress", {"i-1": blue, "i-2": green}),
        Step("InProgress", {"i-1": blue, "i-2": green}),
        Step("InProgress", {"i-1": blue, "i-2": green}),
        Step("Succeeded", done),
    ]
    api = FlakyListApi(steps)
    outcome, events, _ = watch(api)
    assert outcome.verdict == "succeeded"
    assert outcome.transient_errors == 1
    assert sorted(outcome.targets) == ["i-1", "i-2"]
    assert TargetStatusChanged("d-1", "i-2", "InProgress") in events


def test_failure_with_auto_rollback_waits_briefly_for_the_rollback_id() -> None:
    events_ = ("DEPLOYMENT_FAILURE",)
    steps = [
        Step("InProgress"),
        Step("Failed", auto_rollback=events_),
        Step("Failed", auto_rollback=events_),
        Step("Failed", auto_rollback=events_, rollback_id="d-ROLLBACK"),
    ]
    api = ScriptedApi(steps)
    outcome, events, _ = watch(api)
    assert outcome.verdict == "failed"
    assert outcome.deployment.rollback_deployment_id == "d-ROLLBACK"
    assert Notice("rollback deployment: d-ROLLBACK") in events


def test_failure_without_auto_rollback_ends_at_once() -> None:
    api = ScriptedApi([Step("InProgress"), Step("Failed"), Step("Failed", rollback_id="d-X")])
    outcome, _, _ = watch(api)
    assert outcome.verdict == "failed"
    assert outcome.deployment.rollback_deployment_id is None
    assert api.calls.count("GetDeployment") == 2
