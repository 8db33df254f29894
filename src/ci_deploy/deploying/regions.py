"""Several regions: check them, deploy to each (serially, stopping at the first that does not
succeed, or in parallel), and collect every region's run and verdict into the ``Outcome``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from ci_deploy.deploying.options import DeploymentOptions
from ci_deploy.errors import AwsError, CiDeployError, InputError
from ci_deploy.events import Event, EventSink, Notice
from ci_deploy.result import DeploymentsResult, RegionError, RegionRun, build_result
from ci_deploy.watch import Verdict


def check_regions(s3_location: str | None, regions: Sequence[str]) -> None:
    """Each region once (the result keys deployments by region); several regions need a
    bucket each: ``{region}`` in the S3 location."""
    twice = sorted({region for region in regions if regions.count(region) > 1})
    if twice:
        raise InputError(
            f"input regions: {', '.join(twice)} listed more than once",
            hint="name each region once in --region",
        )
    if s3_location and "{region}" not in s3_location and len(regions) > 1:
        # CodeDeploy reads the bundle from a bucket in the deployment's own region.
        raise InputError(
            "input s3_location: several regions need a bucket per region",
            hint="put {region} in --s3-location, e.g. s3://my-bundles-{region}/app",
        )


def in_region(sink: EventSink, region: str) -> EventSink:
    """A sink that labels every event with ``region`` (several regions deploy at once, so their
    lines interleave)."""

    def forward(event: Event) -> None:
        sink(replace(event, region=region))

    return forward


@dataclass
class Outcome:
    """Every region's run and its verdict; ``result()`` is what the commands report.
    ``errors`` holds the regions whose push or CreateDeployment failed (their runs carry no
    deployment); ``skipped`` the regions a serial rollout never reached."""

    runs: list[RegionRun]
    verdicts: dict[str, Verdict | None]
    application: str | None = None
    deployment_group: str | None = None
    total_seconds: float | None = None
    errors: dict[str, CiDeployError] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def result(self) -> DeploymentsResult:
        return build_result(
            self.runs,
            application=self.application,
            deployment_group=self.deployment_group,
            total_seconds=self.total_seconds,
            skipped_regions=self.skipped,
        )

    @property
    def verdict(self) -> Verdict | None:
        """The worst verdict across the regions that have a deployment (None: not watched)."""
        order: tuple[Verdict | None, ...] = (
            "cancelled",
            "failed",
            "stopped",
            "timeout",
            None,
            "ready",
            "succeeded",
        )
        return min(self.verdicts.values(), key=order.index, default=None)


OneRegion = Callable[[str | None, EventSink], tuple[RegionRun, Verdict | None]]


@dataclass
class RegionTally:
    """What run_regions collects, region by region."""

    runs: list[RegionRun] = field(default_factory=list)
    verdicts: dict[str, Verdict | None] = field(default_factory=dict)
    errors: dict[str, CiDeployError] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def add(self, region: str, ended: tuple[RegionRun, Verdict | None] | CiDeployError) -> bool:
        """Record one region's end; True when it succeeded (a serial rollout goes on)."""
        if isinstance(ended, CiDeployError):
            self.errors[region] = ended
            code = ended.code if isinstance(ended, AwsError) else None
            self.runs.append(
                RegionRun(region, None, error=RegionError(ended.message, code, ended.hint))
            )
            return False
        run, verdict = ended
        self.runs.append(run)
        self.verdicts[run.region] = verdict
        return verdict in ("succeeded", "ready", None)

    def cancelled(self, region: str) -> None:
        """The job was cancelled before ``region`` had a deployment to watch."""
        message = "cancelled before a deployment was created"
        self.runs.append(RegionRun(region, None, error=RegionError(message, "Cancelled")))
        self.verdicts[region] = "cancelled"

    def outcome(self, options: DeploymentOptions, total_seconds: float) -> Outcome:
        return Outcome(
            runs=self.runs,
            verdicts=self.verdicts,
            application=options.application,
            deployment_group=options.deployment_group,
            total_seconds=total_seconds,
            errors=self.errors,
            skipped=self.skipped,
        )


def run_regions(
    regions: Sequence[str | None],
    one_region: OneRegion,
    *,
    rollout: str,
    sink: EventSink,
    cancel: threading.Event | None = None,
) -> RegionTally:
    """Deploy to every region; serial stops at the first region that does not succeed. A region
    whose push or CreateDeployment fails is recorded with its error, so the regions already
    deployed stay in the result; when no region got a deployment, that error is raised."""
    several = len(regions) > 1
    done = RegionTally()

    def attempt(region: str | None) -> tuple[RegionRun, Verdict | None] | CiDeployError:
        try:
            return one_region(region, in_region(sink, region) if several and region else sink)
        except CiDeployError as error:
            if not several:
                raise
            return error

    if rollout == "parallel" and several:
        with ThreadPoolExecutor(max_workers=len(regions)) as pool:
            futures = [pool.submit(attempt, region) for region in regions]
            for region, future in zip(regions, futures, strict=True):
                while True:
                    try:
                        ended = future.result()
                        break
                    except KeyboardInterrupt:
                        # Signals reach the main thread only: pass the cancellation on to
                        # every region's watcher, then collect how each one ended.
                        if cancel is None or cancel.is_set():
                            raise
                        cancel.set()
                done.add(str(region), ended)
    else:
        for index, region in enumerate(regions):
            if several:
                sink(Notice(f"region {region} ({index + 1}/{len(regions)})"))
            try:
                ended = attempt(region)
            except KeyboardInterrupt:
                if not done.runs:
                    raise  # nothing deployed yet: nothing to report
                # Cancelled while uploading or creating (a watcher reports its own cancel):
                # keep the regions already deployed in the result.
                done.cancelled(str(region))
                done.skipped = tuple(str(r) for r in regions[index + 1 :])
                break
            if done.add(str(region), ended):
                continue
            done.skipped = tuple(str(r) for r in regions[index + 1 :])
            if done.skipped:
                sink(
                    Notice(
                        f"serial rollout stopped at {region}: not deploying to "
                        + ", ".join(done.skipped),
                        "warning",
                    )
                )
            break
    if done.errors and all(run.deployment is None for run in done.runs):
        raise next(iter(done.errors.values()))
    return done
