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

Run: .venv/bin/python benchmarks/watch.py [--scale 30] [--trials 8] [--workers 3]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=30.0)
    parser.add_argument("--trials", type=int, default=8)
    # Few at once: contention slows real HTTP round trips, which count x scale in virtual time.
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
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
    return 0 if ok_calls and ok_latency else 1


if __name__ == "__main__":
    raise SystemExit(main())
