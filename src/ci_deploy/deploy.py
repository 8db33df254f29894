"""Orchestration: push -> CreateDeployment (waiting out another active deployment) -> watch,
across regions; and rollback, which redeploys an earlier deployment's pinned revision."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from ci_deploy.aws.codedeploy import CodeDeployApi, DeploymentGroup, DeploymentLimitExceeded
from ci_deploy.errors import AwsError, InputError
from ci_deploy.events import EventSink, Notice
from ci_deploy.result import RegionRun, build_result
from ci_deploy.watch import (
    OnReady,
    Pacing,
    Verdict,
    Watcher,
    WatchOptions,
    WatchOutcome,
    default_timeout_seconds,
)

DESCRIPTION_MAX_CHARS = 256
_AUTO_ROLLBACK_EVENTS = {
    "failure": "DEPLOYMENT_FAILURE",
    "stop-on-alarm": "DEPLOYMENT_STOP_ON_ALARM",
    "stop-on-request": "DEPLOYMENT_STOP_ON_REQUEST",
}


@dataclass(frozen=True)
class WatchSettings:
    """How to watch: the user's timeout (None: from the group), Ready handling, cancellation."""

    wait: bool = True
    timeout_seconds: int | None = None
    on_ready: OnReady = "wait"
    stop_on_cancel: bool = True
    rollback_on_cancel: bool = False


@dataclass(frozen=True)
class Timekeeping:
    """The clock and sleep the core uses (tests inject their own)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    pacing: Pacing | None = None


@dataclass
class Outcome:
    """Every region's run and its verdict; ``result()`` is the JSON the commands print."""

    runs: list[RegionRun]
    verdicts: dict[str, Verdict | None]
    application: str | None = None
    deployment_group: str | None = None
    revision: Mapping[str, Any] | None = None
    bundle_sha256: str | None = None
    total_seconds: float | None = None
    notes: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        return build_result(
            self.runs,
            application=self.application,
            deployment_group=self.deployment_group,
            revision=self.revision,
            bundle_sha256=self.bundle_sha256,
            total_seconds=self.total_seconds,
        )

    @property
    def verdict(self) -> Verdict | None:
        """The worst verdict across regions (None: not watched)."""
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


def watch_options(
    api: CodeDeployApi, deployment_id: str, settings: WatchSettings, sink: EventSink
) -> WatchOptions:
    """Watch options with the timeout derived from the deployment group's wait times when the
    user gave none."""
    timeout = settings.timeout_seconds
    if timeout is None:
        group = _group_of(api, deployment_id, sink)
        timeout = default_timeout_seconds(group)
    return WatchOptions(
        timeout_seconds=float(timeout),
        on_ready=settings.on_ready,
        stop_on_cancel=settings.stop_on_cancel,
        rollback_on_cancel=settings.rollback_on_cancel,
    )


def _group_of(api: CodeDeployApi, deployment_id: str, sink: EventSink) -> DeploymentGroup | None:
    deployment = api.get_deployment(deployment_id)
    try:
        return api.get_deployment_group(deployment.application, deployment.deployment_group)
    except AwsError as error:
        # Only the default timeout depends on it: carry on with the floor.
        sink(Notice(f"cannot read the deployment group's wait times: {error.message}", "warning"))
        return None


def watch_deployment(
    api: CodeDeployApi,
    deployment_id: str,
    settings: WatchSettings,
    sink: EventSink,
    time_: Timekeeping | None = None,
) -> tuple[RegionRun, Verdict | None]:
    """Watch one deployment to its verdict."""
    time_ = time_ or Timekeeping()
    options = watch_options(api, deployment_id, settings, sink)
    watcher = Watcher(api, sink, clock=time_.clock, sleep=time_.sleep, pacing=time_.pacing)
    outcome = watcher.watch(deployment_id, options)
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


# ---------------------------------------------------------------------------------------------
# CreateDeployment


@dataclass(frozen=True)
class DeploymentOptions:
    """The CreateDeployment options a user sets (None: the group's own setting)."""

    application: str
    deployment_group: str
    deployment_config: str | None = None
    description: str | None = None
    file_exists_behavior: str | None = None
    ignore_application_stop_failures: bool = False
    auto_rollback: tuple[str, ...] = ()
    update_outdated_instances_only: bool = False
    wait_for_active: bool = True


def default_description(env: Mapping[str, str]) -> str | None:
    """Names the commit and the CI run when the environment says (GitHub, GitLab, Jenkins)."""
    commit = env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA") or env.get("GIT_COMMIT")
    run_url = None
    if env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repository = env.get("GITHUB_REPOSITORY", "")
        run_url = f"{server}/{repository}/actions/runs/{env['GITHUB_RUN_ID']}"
    run_url = run_url or env.get("CI_PIPELINE_URL") or env.get("BUILD_URL")
    parts = []
    if commit:
        parts.append(f"commit {commit[:12]}")
    if run_url:
        parts.append(f"run {run_url}")
    if not parts:
        return None
    return truncate_description("ci-deploy: " + ", ".join(parts))


def truncate_description(text: str) -> str:
    if len(text) <= DESCRIPTION_MAX_CHARS:
        return text
    return text[: DESCRIPTION_MAX_CHARS - 1] + "…"


def auto_rollback_configuration(choices: Sequence[str]) -> dict[str, Any] | None:
    """``--auto-rollback failure,stop-on-alarm`` / ``none`` (None: keep the group's setting)."""
    if not choices:
        return None
    if "none" in choices:
        if len(choices) > 1:
            raise InputError(
                "input auto_rollback: 'none' cannot be combined with events",
                hint="pass --auto-rollback none, or a list of failure, stop-on-alarm, "
                "stop-on-request",
            )
        return {"enabled": False}
    events = sorted({_AUTO_ROLLBACK_EVENTS[choice] for choice in choices})
    return {"enabled": True, "events": events}


def create_deployment_params(
    options: DeploymentOptions, revision: Mapping[str, Any], compute_platform: str
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "applicationName": options.application,
        "deploymentGroupName": options.deployment_group,
        "revision": dict(revision),
    }
    if options.deployment_config:
        params["deploymentConfigName"] = options.deployment_config
    if options.description:
        params["description"] = options.description
    # fileExistsBehavior exists only for EC2/on-premises; ECS and Lambda reject it
    # (InvalidFileExistsBehaviorException, jenkinsci/pipeline-aws-plugin#331).
    if options.file_exists_behavior and compute_platform == "Server":
        params["fileExistsBehavior"] = options.file_exists_behavior
    if options.ignore_application_stop_failures:
        params["ignoreApplicationStopFailures"] = True
    rollback = auto_rollback_configuration(options.auto_rollback)
    if rollback is not None:
        params["autoRollbackConfiguration"] = rollback
    if options.update_outdated_instances_only:
        params["updateOutdatedInstancesOnly"] = True
    return params


def create_deployment(
    api: CodeDeployApi,
    params: Mapping[str, Any],
    *,
    wait_for_active: bool,
    settings: WatchSettings,
    sink: EventSink,
    time_: Timekeeping,
) -> str:
    """CreateDeployment; when another deployment is active in the group, wait for it to end
    (found with ListDeployments, never parsed out of the error message), then try again."""
    application = str(params["applicationName"])
    group = str(params["deploymentGroupName"])
    waited: set[str] = set()
    while True:
        try:
            deployment_id = api.create_deployment(params)
        except DeploymentLimitExceeded as error:
            if not wait_for_active:
                raise AwsError(
                    error.message,
                    operation=error.operation,
                    code=error.code,
                    hint="another deployment is active in this group; pass --wait-for-active "
                    "to wait for it, or stop it with 'ci-deploy stop DEPLOYMENT_ID'",
                ) from error
            active = api.list_deployments(application, group)
            if not active:
                # It ended between the two calls: try again after a short pause.
                time_.sleep(2.0)
                continue
            blocker = active[0]
            if blocker in waited:
                time_.sleep(2.0)
            waited.add(blocker)
            sink(
                Notice(
                    f"deployment {blocker} is active in group '{group}': waiting for it to end",
                    "warning",
                )
            )
            # Watch it quietly (its own events are not ours), and never stop it on cancel:
            # cancelling our job must not stop someone else's deployment.
            quiet = WatchSettings(
                timeout_seconds=settings.timeout_seconds, on_ready="wait", stop_on_cancel=False
            )
            _, verdict = watch_deployment(api, blocker, quiet, _notices_only(sink), time_)
            if verdict == "cancelled":
                raise KeyboardInterrupt from None
            if verdict == "timeout":
                raise AwsError(
                    f"deployment {blocker} kept group '{group}' busy past the timeout",
                    operation="CreateDeployment",
                    code="DeploymentLimitExceededException",
                ) from error
            sink(Notice(f"deployment {blocker} ended: starting ours"))
            continue
        sink(Notice(f"created deployment {deployment_id}"))
        return deployment_id


def _notices_only(sink: EventSink) -> EventSink:
    def forward(event: Any) -> None:
        if isinstance(event, Notice):
            sink(event)

    return forward


# ---------------------------------------------------------------------------------------------
# Several regions


def expand_regions(s3_location: str | None, regions: Sequence[str]) -> dict[str, str | None]:
    """Each region's S3 location, with ``{region}`` replaced (a bucket per region)."""
    if s3_location and "{region}" not in s3_location and len(regions) > 1:
        # One bucket for several regions cannot work: CodeDeploy reads the bundle from a
        # bucket in the deployment's own region.
        raise InputError(
            "input s3_location: several regions need a bucket per region",
            hint="put {region} in --s3-location, e.g. s3://my-bundles-{region}/app",
        )
    return {
        region: s3_location.replace("{region}", region) if s3_location else None
        for region in regions
    }


def run_regions(
    regions: Sequence[str],
    one_region: Callable[[str], tuple[RegionRun, Verdict | None]],
    *,
    rollout: Literal["serial", "parallel"],
    sink: EventSink,
) -> tuple[list[RegionRun], dict[str, Verdict | None]]:
    """Deploy to every region; serial stops at the first region that does not succeed."""
    runs: list[RegionRun] = []
    verdicts: dict[str, Verdict | None] = {}
    if rollout == "parallel" and len(regions) > 1:
        with ThreadPoolExecutor(max_workers=len(regions)) as pool:
            for region, (run, verdict) in zip(regions, pool.map(one_region, regions), strict=True):
                runs.append(run)
                verdicts[region] = verdict
        return runs, verdicts
    for index, region in enumerate(regions):
        if len(regions) > 1:
            sink(Notice(f"region {region} ({index + 1}/{len(regions)})"))
        run, verdict = one_region(region)
        runs.append(run)
        verdicts[region] = verdict
        if verdict not in ("succeeded", "ready", None):
            skipped = list(regions[index + 1 :])
            if skipped:
                sink(
                    Notice(
                        f"serial rollout stopped at {region}: not deploying to "
                        + ", ".join(skipped),
                        "warning",
                    )
                )
            break
    return runs, verdicts
