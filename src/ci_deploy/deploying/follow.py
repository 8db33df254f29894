"""Follow one deployment in one region: watch it to its verdict, or look at it once; what was
seen becomes the region's run. The clock and sleep are injected (``Timekeeping``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ci_deploy.aws.codedeploy import CodeDeployApi, DeploymentGroup
from ci_deploy.errors import AwsError, TransientAwsError
from ci_deploy.events import EventSink, Notice
from ci_deploy.result import RegionRun
from ci_deploy.watch import Pacing, Verdict, Watcher, WatchOptions, WatchOutcome


@dataclass(frozen=True)
class Timekeeping:
    """The clock and sleep the core uses (tests inject their own)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    pacing: Pacing | None = None


def cancellable(time_: Timekeeping, cancel: threading.Event) -> Timekeeping:
    """Timekeeping whose sleep raises KeyboardInterrupt (once per thread) when ``cancel`` is
    set: how a cancelled job reaches watchers running in worker threads."""
    interrupted: set[int] = set()

    def sleep(seconds: float) -> None:
        me = threading.get_ident()
        if me in interrupted:
            time_.sleep(seconds)
            return
        if cancel.wait(seconds):
            interrupted.add(me)
            raise KeyboardInterrupt("cancelled")

    return Timekeeping(clock=time_.clock, sleep=sleep, pacing=time_.pacing)


def _group_of(api: CodeDeployApi, deployment_id: str, sink: EventSink) -> DeploymentGroup | None:
    try:
        deployment = api.get_deployment(deployment_id)
    except TransientAwsError as error:
        sink(Notice(f"cannot read the deployment yet: {error.message}", "warning"))
        return None
    try:
        return api.get_deployment_group(deployment.application, deployment.deployment_group)
    except AwsError as error:
        # Only the default timeout depends on it: carry on with the floor.
        sink(Notice(f"cannot read the deployment group's wait times: {error.message}", "warning"))
        return None


def watch_deployment(
    api: CodeDeployApi,
    deployment_id: str,
    options: WatchOptions,
    sink: EventSink,
    time_: Timekeeping | None = None,
    *,
    group: DeploymentGroup | None = None,
) -> tuple[RegionRun, Verdict | None]:
    """Watch one deployment to its verdict. Without ``group`` (and a timeout from the user), the
    deployment's group is read for its wait times."""
    time_ = time_ or Timekeeping()
    if group is None and options.timeout_seconds is None:
        group = _group_of(api, deployment_id, sink)
    watcher = Watcher(api, sink, clock=time_.clock, sleep=time_.sleep, pacing=time_.pacing)
    outcome = watcher.watch(deployment_id, options, group)
    return region_run(api, outcome), outcome.verdict


def region_run(api: CodeDeployApi, outcome: WatchOutcome) -> RegionRun:
    return RegionRun(
        region=api.region,
        deployment=outcome.deployment,
        targets=outcome.targets,
        api_calls=api.stats.total_calls,
        api_retries=api.stats.retries,
        transient_errors=outcome.transient_errors,
    )


def snapshot(api: CodeDeployApi, deployment_id: str) -> RegionRun:
    watcher = Watcher(api, lambda event: None)
    return region_run(api, watcher.snapshot(deployment_id))
