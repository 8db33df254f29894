"""Fleets of any size: the calls a poll makes do not grow with the fleet, every failed target's
diagnostics are still reported, and the log stays readable (per-target lines up to a threshold,
aggregated above it), against the scripted CodeDeploy endpoint over HTTP."""

from __future__ import annotations

import io
import random
from collections.abc import Iterable, Mapping
from typing import Any

from ci_deploy import cli
from ci_deploy.aws.codedeploy import CodeDeployApi
from ci_deploy.events import (
    DeploymentStatusChanged,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    TargetStatusChanged,
)
from ci_deploy.report.fleet import FleetProgress
from ci_deploy.report.text import PlainReporter
from ci_deploy.streams import Streams
from ci_deploy.watch import Watcher, WatchOptions
from fake_codedeploy import FakeCodeDeploy, Frame, instance_target

EVENTS = ("BeforeInstall", "ValidateService")
DIAG = {"errorCode": "ScriptFailed", "scriptName": "scripts/check.sh", "message": "exit 1"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def target(tid: str, state: str) -> dict[str, Any]:
    """pending | running | done | failed (ValidateService failed, with its log tail)."""
    statuses = {
        "pending": [("BeforeInstall", "Pending"), ("ValidateService", "Pending")],
        "running": [("BeforeInstall", "Succeeded"), ("ValidateService", "InProgress")],
        "done": [("BeforeInstall", "Succeeded"), ("ValidateService", "Succeeded")],
        "failed": [("BeforeInstall", "Succeeded"), ("ValidateService", "Failed")],
    }[state]
    diag = {**DIAG, "logTail": f"health check of {tid} failed\n"} if state == "failed" else None
    return instance_target(tid, statuses, diagnostics=diag)


def rolling(
    size: int, waves: int, *, per_wave: int = 2, fail: Mapping[str, int] | None = None
) -> list[Frame]:
    """Created; then ``waves`` frames each running the next ``per_wave`` targets (the earlier
    ones done, or failed: ``fail`` maps a target to the wave it fails in, even one never seen
    running); then the end, every other target done."""
    fail = fail or {}
    ids = [f"i-{n:04d}" for n in range(size)]

    def state(index: int, tid: str, wave: int) -> str:
        if tid in fail and fail[tid] <= wave:
            return "failed"
        if index < wave * per_wave:
            return "done"
        return "running" if index < (wave + 1) * per_wave else "pending"

    frames = [Frame("Created")]
    for wave in range(waves):
        frames.append(
            Frame(
                "InProgress", {tid: target(tid, state(i, tid, wave)) for i, tid in enumerate(ids)}
            )
        )
    end = {tid: target(tid, "failed" if tid in fail else "done") for tid in ids}
    error = {"code": "HEALTH_CONSTRAINTS", "message": "too many failed"} if fail else None
    frames.append(Frame("Failed" if fail else "Succeeded", end, error=error))
    return frames


def watch(
    fake: FakeCodeDeploy, frames: list[Frame], sink: Any = None, progress_targets: int = 20
) -> tuple[Any, list[Event], list[list[str]]]:
    """Watch a scripted deployment; the events, and the operations of each poll."""
    did = fake.add(frames)
    events: list[Event] = []
    clock = Clock()
    watcher = Watcher(
        CodeDeployApi(fake.client(), "us-east-1"),
        sink or events.append,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(3),
    )
    outcome = watcher.watch(
        did, WatchOptions(timeout_seconds=3600, progress_targets=progress_targets)
    )
    return outcome, events, polls(name for name, body in fake.calls if body["deploymentId"] == did)


def polls(operations: Iterable[str]) -> list[list[str]]:
    """The calls grouped by poll (each starts with GetDeployment)."""
    grouped: list[list[str]] = []
    for name in operations:
        if name == "GetDeployment" or not grouped:
            grouped.append([])
        grouped[-1].append(name)
    return grouped


def test_the_calls_a_poll_makes_do_not_grow_with_the_fleet(fake_codedeploy) -> None:
    small_outcome, _, small = watch(fake_codedeploy, rolling(10, 4))
    large_outcome, _, large = watch(fake_codedeploy, rolling(1000, 4))
    assert small_outcome.verdict == large_outcome.verdict == "succeeded"
    assert len(large) == len(small)  # the same polls...
    assert max(map(len, large)) <= max(map(len, small)) == 3  # ...each no dearer
    assert sum(map(len, large)) <= sum(map(len, small))
    # The in-progress targets are found through the TargetStatus filter, one page of them.
    listed = [b for n, b in fake_codedeploy.calls if n == "ListDeploymentTargets"][-1]
    assert listed["targetFilters"] == {"TargetStatus": ["InProgress"]}


def test_more_targets_in_progress_than_a_batch_still_cost_one_batch_a_poll(
    fake_codedeploy,
) -> None:
    _, _, calls = watch(fake_codedeploy, rolling(1000, 3, per_wave=300))
    for poll in calls:
        assert poll.count("BatchGetDeploymentTargets") <= 1
        assert poll.count("ListDeploymentTargets") <= 1


def test_every_failed_target_of_a_large_fleet_is_reported_with_its_diagnostics(
    fake_codedeploy,
) -> None:
    # i-0003 fails while watched; i-0500 and i-0900 fail without ever being seen running; and
    # i-0700 .. i-0739 (more than one batch) fail in the same poll.
    fail = {"i-0003": 1, "i-0500": 2, "i-0900": 3}
    fail.update({f"i-07{n:02d}": 3 for n in range(40)})
    outcome, events, _ = watch(fake_codedeploy, rolling(1000, 4, fail=fail))
    assert outcome.verdict == "failed"
    reported = {
        e.target_id: e.diagnostics
        for e in events
        if isinstance(e, LifecycleEventEnded) and e.status == "Failed"
    }
    assert set(reported) == set(fail)
    for tid, diag in reported.items():
        assert diag is not None
        assert diag.script_name == "scripts/check.sh"
        assert diag.log_tail == f"health check of {tid} failed\n"
        assert outcome.targets[tid].status == "Failed"
    # The outcome holds the failed targets, not a stale view of targets that moved on.
    assert {t.status for t in outcome.targets.values()} == {"Failed"}


def render(
    fake: FakeCodeDeploy, frames: list[Frame], progress_targets: int = 20
) -> tuple[Any, str]:
    stderr = io.StringIO()
    reporter = FleetProgress(PlainReporter(Streams(io.StringIO(), stderr)), progress_targets)
    outcome, _, _ = watch(fake, frames, reporter.event, progress_targets)
    return outcome, stderr.getvalue()


def test_a_large_fleet_logs_counts_not_targets(fake_codedeploy) -> None:
    outcome, log = render(fake_codedeploy, rolling(1000, 40, per_wave=25))
    assert outcome.verdict == "succeeded"
    lines = log.splitlines()
    assert len(lines) <= 150
    assert not any(line.startswith("  i-") for line in lines)
    assert lines[-1].endswith("Succeeded (Succeeded 1000)")


def test_a_large_fleet_logs_each_failure_with_its_script_and_log_tail(fake_codedeploy) -> None:
    fail = {"i-0003": 1, "i-0500": 2}
    _, log = render(fake_codedeploy, rolling(1000, 4, fail=fail))
    for tid in fail:
        assert f"  {tid}: ValidateService Failed" in log
        assert f"    | health check of {tid} failed" in log
    assert log.count("ScriptFailed scripts/check.sh: exit 1") == 2
    assert "i-0004" not in log


def test_a_fleet_up_to_the_threshold_logs_every_target(fake_codedeploy) -> None:
    _, log = render(fake_codedeploy, rolling(20, 10))
    for n in range(20):
        assert f"  i-{n:04d}: ValidateService Succeeded" in log
    _, log = render(fake_codedeploy, rolling(21, 11))
    assert "  i-0000: ValidateService" not in log


def test_progress_targets_raises_the_threshold(fake_codedeploy) -> None:
    _, log = render(fake_codedeploy, rolling(30, 15), progress_targets=30)
    assert "  i-0029: ValidateService Succeeded" in log


def one_at_a_time(size: int) -> Iterable[Event]:
    """The events of a OneAtATime rollout watched at the moving pace: every change of every
    target, as the watcher would emit them for a fleet it follows target by target."""
    counts = {"Pending": size, "InProgress": 0, "Succeeded": 0}
    yield DeploymentStatusChanged("d-1", "InProgress", dict(counts))
    for n in range(size):
        tid = f"i-{n:04d}"
        counts["Pending"] -= 1
        counts["InProgress"] += 1
        yield DeploymentStatusChanged("d-1", "InProgress", dict(counts))
        yield TargetStatusChanged("d-1", tid, "InProgress")
        for name in EVENTS:
            yield LifecycleEventStarted("d-1", tid, name)
            yield LifecycleEventEnded("d-1", tid, name, "Succeeded", 1.0)
        counts["InProgress"] -= 1
        counts["Succeeded"] += 1
        yield DeploymentStatusChanged("d-1", "InProgress", dict(counts))
        yield TargetStatusChanged("d-1", tid, "Succeeded")
    yield DeploymentStatusChanged("d-1", "Succeeded", dict(counts))


def test_a_1000_target_rollout_seen_at_every_change_stays_under_150_lines() -> None:
    stderr = io.StringIO()
    reporter = FleetProgress(PlainReporter(Streams(io.StringIO(), stderr)), 20)
    for event in one_at_a_time(1000):
        reporter.event(event)
    assert 50 <= len(stderr.getvalue().splitlines()) <= 150


def test_the_wait_verb_takes_progress_targets(fake_codedeploy, aws_env, streams) -> None:
    did = fake_codedeploy.add(rolling(3, 1))
    argv = ["wait", did, "--endpoint-url", fake_codedeploy.endpoint_url, "--ci-system", "plain"]
    assert cli.run([*argv, "--progress-targets", "2"], aws_env, streams) == 0
    assert "Succeeded (Succeeded 3)" in streams.err
    assert "i-0000" not in streams.err
    # The in-progress targets were found through the filter: the watcher saw a large fleet.
    assert any(
        "targetFilters" in body for body in fake_codedeploy.calls_of("ListDeploymentTargets")
    )


def test_a_negative_progress_targets_is_bad_input(aws_env, streams) -> None:
    assert cli.run(["wait", "d-1", "--progress-targets", "-1"], aws_env, streams) == 2
    assert "progress_targets" in streams.err
