"""Polling budget and completion latency of the watcher, side by side with the alternatives:
the SDK's stock waiter (GetDeployment every 15 s) and a naive 2-second poller that fetches every
target on every poll (the aws-codedeploy-watcher / techpivot style).

Everything talks real HTTP to the scripted CodeDeploy endpoint (tests/fake_codedeploy.py) with
real boto3 clients. Time is virtual and runs SCALE times faster than the wall clock: the
watcher's clock and sleep are injected (as in production code), and the endpoint's deployments
advance on the same clock, so a 5-minute deployment takes seconds. HTTP round trips are real and
therefore count SCALE times longer in virtual time, which only makes the latency figures worse.

Scenario "long last event" (virtual seconds): 10 targets; 0-5 Created; 5-180 every target runs
event B of A,B,C (steady state: nothing changes); 180-240 every target runs its last event C;
targets finish one by one from 240 (3 s apart); the deployment reports Succeeded at T (270..281,
spread over one steady poll cycle across the trials).

Scenario "quick last event": the same, but every target runs B until T-3 and its last event C
takes 2 s, so the end comes straight out of the steady state. No watcher within the call budget
can promise to see that within 5 s (GetDeployment alone every 5 s is 12 calls a minute); it is
measured to show the worst case honestly.

Targets (issue 6): at most 12 CodeDeploy calls per minute at steady state for 10 targets;
completion noticed within 5 s of the service reporting it.

Fleets (virtual seconds), 10, 100 and 1,000 targets: 0-5 Created; 5-185 ten targets run event B
of A,B,C, the rest wait (steady state: nothing changes); 185-215 a rollout, one target
ending every 3 s and the next starting (the counts move at every poll); then Succeeded. Calls per
minute are counted in 45-185 (steady) and 185-215 (rollout), for the watcher as it is and for
today's behaviour of following every target (the same watcher with --progress-targets above the
fleet size: every target listed, every unfinished one fetched each poll). Targets: calls per
minute for 1,000 targets within 1.5x of those for 10 in both phases, <= 12 at steady state.

Run: .venv/bin/python benchmarks/watch.py [--scale 30] [--trials 8] [--workers 3] [--fleets-only]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ci_deploy.aws.codedeploy import CodeDeployApi
from ci_deploy.aws.session import client_config
from ci_deploy.events import discard
from ci_deploy.watch import Watcher, WatchOptions
from fake_codedeploy import FakeCodeDeploy, Frame, instance_target

TARGETS = [f"i-{n:02d}" for n in range(10)]
STEADY = (60.0, 180.0)  # the window measured as steady state (after start-up)
BUDGET_CALLS_PER_MINUTE = 12
BUDGET_LATENCY_SECONDS = 5.0
FLEETS = (10, 100, 1000)
FLEET_STEADY = (45.0, 185.0)
FLEET_ROLLOUT = (185.0, 215.0)
FLEET_RATIO_BUDGET = 1.5


class VirtualClock:
    """Virtual seconds that run ``scale`` times faster than the wall clock."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self.origin) * self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.scale)


def scenario(complete_at: int, tail: str = "long") -> list[Frame]:
    def targets(events: Callable[[int], list[tuple[str, str]]]) -> dict[str, dict[str, object]]:
        return {tid: instance_target(tid, events(i)) for i, tid in enumerate(TARGETS)}

    created = Frame("Created")
    steady = Frame(
        "InProgress",
        targets(lambda i: [("A", "Succeeded"), ("B", "InProgress"), ("C", "Pending")]),
    )
    last = Frame(
        "InProgress",
        targets(lambda i: [("A", "Succeeded"), ("B", "Succeeded"), ("C", "InProgress")]),
    )
    finished = targets(lambda i: [("A", "Succeeded"), ("B", "Succeeded"), ("C", "Succeeded")])
    frames: list[Frame] = []
    # "quick": B runs on until 3 s before the end, C takes 2 s, the last second all are done.
    steady_until, last_until = (180, 240) if tail == "long" else (complete_at - 3, complete_at - 1)
    for second in range(complete_at):
        if second < 5:
            frames.append(created)
        elif second < steady_until:
            frames.append(steady)
        elif second < last_until:
            frames.append(last)
        elif tail == "quick":
            frames.append(Frame("InProgress", finished))
        else:
            done = lambda i, s=second: 240 + 3 * i <= s  # noqa: E731
            frames.append(
                Frame(
                    "InProgress",
                    targets(
                        lambda i, d=done: [
                            ("A", "Succeeded"),
                            ("B", "Succeeded"),
                            ("C", "Succeeded" if d(i) else "InProgress"),
                        ]
                    ),
                )
            )
    frames.append(Frame("Succeeded", finished))
    return frames


@dataclass
class Trial:
    method: str
    tail: str
    calls_per_minute: float
    latency_seconds: float


def client(endpoint_url: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "codedeploy",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=client_config(),
    )


def ci_deploy_watcher(fake: FakeCodeDeploy, clock: VirtualClock, did: str) -> None:
    api = CodeDeployApi(client(fake.endpoint_url), "us-east-1")
    watcher = Watcher(api, discard, clock=clock.now, sleep=clock.sleep)
    outcome = watcher.watch(did, WatchOptions(timeout_seconds=3600))
    assert outcome.verdict == "succeeded", outcome.verdict


def stock_waiter(fake: FakeCodeDeploy, clock: VirtualClock, did: str) -> None:
    cd = client(fake.endpoint_url)
    while cd.get_deployment(deploymentId=did)["deploymentInfo"]["status"] != "Succeeded":
        clock.sleep(15)


def naive_poller(fake: FakeCodeDeploy, clock: VirtualClock, did: str) -> None:
    cd = client(fake.endpoint_url)
    while True:
        status = cd.get_deployment(deploymentId=did)["deploymentInfo"]["status"]
        ids = (
            cd.list_deployment_targets(deploymentId=did).get("targetIds", [])
            if status != "Created"
            else []
        )
        if ids:
            cd.batch_get_deployment_targets(deploymentId=did, targetIds=ids)
        if status == "Succeeded":
            return
        clock.sleep(2)


METHODS = {
    "ci-deploy watcher": ci_deploy_watcher,
    "stock waiter (15 s)": stock_waiter,
    "naive 2 s poller": naive_poller,
}


def run_trial(
    fake: FakeCodeDeploy, clock: VirtualClock, method: str, complete_at: int, tail: str
) -> Trial:
    did = fake.add(scenario(complete_at, tail), advance="time", seconds_per_frame=1.0)
    created = fake.deployments[did].created
    METHODS[method](fake, clock, did)
    noticed = clock.now()
    with fake.lock:
        times = [
            at - created
            for (name, body), at in zip(fake.calls, fake.call_times, strict=True)
            if body.get("deploymentId") == did
        ]
    in_window = [t for t in times if STEADY[0] <= t < STEADY[1]]
    minutes = (STEADY[1] - STEADY[0]) / 60
    return Trial(method, tail, len(in_window) / minutes, noticed - (created + complete_at))


def fleet_scenario(size: int) -> list[Frame]:
    """One frame per virtual second of the fleet scenario (the module docstring); targets are
    shared between frames, so a 1,000-target fleet stays cheap to script."""
    ids = [f"i-{n:04d}" for n in range(size)]
    steps = {
        "pending": [("A", "Pending"), ("B", "Pending"), ("C", "Pending")],
        "running": [("A", "Succeeded"), ("B", "InProgress"), ("C", "Pending")],
        "done": [("A", "Succeeded"), ("B", "Succeeded"), ("C", "Succeeded")],
    }
    made = {(tid, state): instance_target(tid, steps[state]) for tid in ids for state in steps}

    def frame(done: int) -> Frame:
        def state(index: int) -> str:
            if index < done:
                return "done"
            return "running" if index < done + 10 else "pending"

        return Frame("InProgress", {tid: made[tid, state(i)] for i, tid in enumerate(ids)})

    frames = [Frame("Created")] * 5
    steady = frame(0)
    frames += [steady] * int(FLEET_ROLLOUT[0] - 5)
    for second in range(int(FLEET_ROLLOUT[0]), int(FLEET_ROLLOUT[1])):
        frames.append(frame((second - int(FLEET_ROLLOUT[0])) // 3 + 1))
    frames.append(Frame("Succeeded", {tid: made[tid, "done"] for tid in ids}))
    return frames


@dataclass
class FleetTrial:
    size: int
    method: str
    steady: float
    rollout: float


def run_fleet_trial(
    fake: FakeCodeDeploy, clock: VirtualClock, size: int, method: str, frames: list[Frame]
) -> FleetTrial:
    did = fake.add(frames, advance="time", seconds_per_frame=1.0)
    created = fake.deployments[did].created
    api = CodeDeployApi(client(fake.endpoint_url), "us-east-1")
    watcher = Watcher(api, discard, clock=clock.now, sleep=clock.sleep)
    follow = size + 1 if method == "today" else WatchOptions().progress_targets
    outcome = watcher.watch(did, WatchOptions(timeout_seconds=3600, progress_targets=follow))
    assert outcome.verdict == "succeeded", outcome.verdict
    with fake.lock:
        times = [
            at - created
            for (name, body), at in zip(fake.calls, fake.call_times, strict=True)
            if body.get("deploymentId") == did
        ]

    def rate(window: tuple[float, float]) -> float:
        count = sum(1 for t in times if window[0] <= t < window[1])
        return count / ((window[1] - window[0]) / 60)

    return FleetTrial(size, method, rate(FLEET_STEADY), rate(FLEET_ROLLOUT))


def fleets(args: argparse.Namespace) -> bool:
    """The fleet scenario for 10, 100 and 1,000 targets; True when the budgets are met."""
    clock = VirtualClock(args.scale)
    fake = FakeCodeDeploy(clock=clock.now)
    frames = {size: fleet_scenario(size) for size in FLEETS}
    jobs = [
        (size, method)
        for _ in range(args.trials)
        for size in FLEETS
        for method in ("ours", "today")
    ]
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            trials = list(
                pool.map(lambda job: run_fleet_trial(fake, clock, *job, frames[job[0]]), jobs)
            )
    finally:
        fake.close()
    wall = time.monotonic() - started
    print(
        f"\nfleets of {', '.join(map(str, FLEETS))} targets, {args.trials} trials each, virtual "
        f"time x{args.scale:g} ({wall:.1f} s wall); calls per minute"
    )
    print(f"{'targets':>7} {'steady':>7} {'rollout':>8} {'today steady':>13} {'today rollout':>14}")
    rates: dict[tuple[int, str], tuple[float, float]] = {}
    for size in FLEETS:
        for method in ("ours", "today"):
            mine = [t for t in trials if t.size == size and t.method == method]
            rates[size, method] = (
                statistics.mean(t.steady for t in mine),
                statistics.mean(t.rollout for t in mine),
            )
        ours, today = rates[size, "ours"], rates[size, "today"]
        print(f"{size:>7} {ours[0]:>7.1f} {ours[1]:>8.1f} {today[0]:>13.1f} {today[1]:>14.1f}")
    small, large = rates[FLEETS[0], "ours"], rates[FLEETS[-1], "ours"]
    steady_ratio, rollout_ratio = large[0] / small[0], large[1] / small[1]
    for size in FLEETS:
        ours, today = rates[size, "ours"], rates[size, "today"]
        print(
            f"ratio ci-deploy / today's, {size} targets: steady {ours[0] / today[0]:.2f}, "
            f"rollout {ours[1] / today[1]:.2f}"
        )
    ok = (
        steady_ratio <= FLEET_RATIO_BUDGET
        and rollout_ratio <= FLEET_RATIO_BUDGET
        and all(rates[size, "ours"][0] <= BUDGET_CALLS_PER_MINUTE for size in FLEETS)
    )
    print(
        f"budget: {FLEETS[-1]} / {FLEETS[0]} targets within {FLEET_RATIO_BUDGET:g}x (steady "
        f"{steady_ratio:.2f}, rollout {rollout_ratio:.2f}) and <= {BUDGET_CALLS_PER_MINUTE} "
        f"calls/min at steady state: {'met' if ok else 'MISSED'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=30.0)
    parser.add_argument("--trials", type=int, default=8)
    # Few at once: contention slows real HTTP round trips, which count x scale in virtual time.
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--fleets-only", action="store_true", help="only the fleet scenario")
    args = parser.parse_args()
    if args.fleets_only:
        return 0 if fleets(args) else 1
    clock = VirtualClock(args.scale)
    fake = FakeCodeDeploy(clock=clock.now)
    # The end falls at a different moment of the steady poll cycle (about 11 s) in each trial.
    jobs = [
        (method, 270 + round(n * 11 / args.trials), tail)
        for n in range(args.trials)
        for method in METHODS
        for tail in ("long", "quick")
    ]
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            trials = list(pool.map(lambda job: run_trial(fake, clock, *job), jobs))
    finally:
        fake.close()
    wall = time.monotonic() - started
    print(
        f"10-target deployment, {args.trials} trials per method and scenario, virtual time "
        f"x{args.scale:g} ({wall:.1f} s wall)"
    )
    header = f"{'method':<22} {'last event':<10} {'calls/min (steady)':>19}"
    print(f"{header} {'latency mean':>13} {'latency max':>12}")
    summary: dict[tuple[str, str], tuple[float, float, float]] = {}
    for method in METHODS:
        for tail in ("long", "quick"):
            mine = [t for t in trials if t.method == method and t.tail == tail]
            rate = statistics.mean(t.calls_per_minute for t in mine)
            mean = statistics.mean(t.latency_seconds for t in mine)
            worst = max(t.latency_seconds for t in mine)
            summary[method, tail] = (rate, mean, worst)
            print(f"{method:<22} {tail:<10} {rate:>19.1f} {mean:>12.1f}s {worst:>11.1f}s")
    ours = summary["ci-deploy watcher", "long"]
    for method in list(METHODS)[1:]:
        rate, mean, _ = summary[method, "long"]
        quick_ratio = summary["ci-deploy watcher", "quick"][1] / summary[method, "quick"][1]
        print(
            f"ratio ci-deploy / {method}: calls per minute {ours[0] / rate:.2f}, "
            f"mean latency {ours[1] / mean:.2f} (quick last event: {quick_ratio:.2f})"
        )
    ok_calls = ours[0] <= BUDGET_CALLS_PER_MINUTE
    ok_latency = ours[2] <= BUDGET_LATENCY_SECONDS
    quick_worst = summary["ci-deploy watcher", "quick"][2]
    print(
        f"budget: <= {BUDGET_CALLS_PER_MINUTE} calls/min: {'met' if ok_calls else 'MISSED'}; "
        f"completion within {BUDGET_LATENCY_SECONDS:g} s (worst trial, long last event): "
        f"{'met' if ok_latency else 'MISSED'}; quick last event: worst {quick_worst:.1f} s "
        f"({'met' if quick_worst <= BUDGET_LATENCY_SECONDS else 'not met'})"
    )
    ok_fleets = fleets(args)
    return 0 if ok_calls and ok_latency and ok_fleets else 1


if __name__ == "__main__":
    raise SystemExit(main())
