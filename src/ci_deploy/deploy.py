"""Orchestration: push -> CreateDeployment (waiting out another active deployment) -> watch,
across regions; and rollback, which redeploys an earlier deployment's pinned revision."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ci_deploy.aws.codedeploy import CodeDeployApi, Deployment, DeploymentGroup
from ci_deploy.aws.session import Clients
from ci_deploy.errors import (
    AwsError,
    CiDeployError,
    DeploymentLimitExceeded,
    InputError,
    InputValueError,
    TransientAwsError,
)
from ci_deploy.events import Event, EventSink, Notice
from ci_deploy.push import PushRequest, prepare_bundle, push_revision, revision_kind
from ci_deploy.result import RegionError, RegionRun, build_result
from ci_deploy.vocabulary import (
    ALL_DEPLOYMENT_STATUSES,
    NAME_PATTERN,
    NAME_RULE,
    ROLLBACK_ON_ALARM,
    ROLLBACK_ON_FAILURE,
    ROLLBACK_ON_REQUEST,
)
from ci_deploy.watch import Pacing, Verdict, Watcher, WatchOptions, WatchOutcome

DESCRIPTION_MAX_CHARS = 256
_AUTO_ROLLBACK_EVENTS = {
    "failure": ROLLBACK_ON_FAILURE,
    "stop-on-alarm": ROLLBACK_ON_ALARM,
    "stop-on-request": ROLLBACK_ON_REQUEST,
}


@dataclass(frozen=True)
class Timekeeping:
    """The clock and sleep the core uses (tests inject their own)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    pacing: Pacing | None = None


@dataclass
class Outcome:
    """Every region's run and its verdict; ``result()`` is the JSON the commands print.
    ``errors`` holds the regions whose push or CreateDeployment failed (their runs carry no
    deployment); ``skipped`` the regions a serial rollout never reached."""

    runs: list[RegionRun]
    verdicts: dict[str, Verdict | None]
    application: str | None = None
    deployment_group: str | None = None
    revision: Mapping[str, Any] | None = None
    bundle_sha256: str | None = None
    total_seconds: float | None = None
    errors: dict[str, CiDeployError] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def result(self) -> dict[str, Any]:
        return build_result(
            self.runs,
            application=self.application,
            deployment_group=self.deployment_group,
            revision=self.revision,
            bundle_sha256=self.bundle_sha256,
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
    target_instances: tuple[str, ...] = ()


def default_description(env: Mapping[str, str]) -> str | None:
    """Names the commit and the CI run when the environment says (GitHub, GitLab, Jenkins)."""
    commit = env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA") or env.get("GIT_COMMIT")
    run = None
    if env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        repository = env.get("GITHUB_REPOSITORY")
        run_id = env["GITHUB_RUN_ID"]
        # Without the repository there is no URL to build: the run id alone still names it.
        run = f"{server}/{repository}/actions/runs/{run_id}" if repository else run_id
    run = run or env.get("CI_PIPELINE_URL") or env.get("BUILD_URL")
    parts = []
    if commit:
        parts.append(f"commit {commit[:12]}")
    if run:
        parts.append(f"run {run}")
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
                "input auto_rollback: 'none' (--no-auto-rollback) cannot be combined with events",
                hint="pass --no-auto-rollback (or --auto-rollback none) to disable it, or a list "
                "of failure, stop-on-alarm, stop-on-request",
            )
        return {"enabled": False}
    events = sorted({_AUTO_ROLLBACK_EVENTS[choice] for choice in choices})
    return {"enabled": True, "events": events}


def target_instances(items: Sequence[str]) -> dict[str, Any] | None:
    """``--target-instances asg:web-asg,tag:Role=web`` -> CreateDeployment's targetInstances."""
    if not items:
        return None
    groups: list[str] = []
    tags: list[dict[str, str]] = []
    for item in items:
        kind, _, rest = item.partition(":")
        key, equals, value = rest.partition("=")
        if kind == "asg" and rest:
            groups.append(rest)
        elif kind == "tag" and equals and key:
            tags.append({"Key": key, "Value": value, "Type": "KEY_AND_VALUE"})
        else:
            raise InputError(
                f"input target_instances: expected asg:NAME or tag:KEY=VALUE, got {item!r}",
                hint="e.g. --target-instances asg:web-asg or --target-instances tag:Role=web",
            )
    found: dict[str, Any] = {}
    if groups:
        found["autoScalingGroups"] = groups
    if tags:
        found["tagFilters"] = tags
    return found


def check_options(options: DeploymentOptions) -> None:
    """Parse the options that can be wrong before anything is bundled or uploaded."""
    for input_name in ("application", "deployment_group", "deployment_config"):
        value = getattr(options, input_name)
        if value is not None and not NAME_PATTERN.fullmatch(value):
            raise InputValueError(input_name, NAME_RULE, value)
    auto_rollback_configuration(options.auto_rollback)
    target_instances(options.target_instances)


def check_target_instances(options: DeploymentOptions, group: DeploymentGroup) -> None:
    if options.target_instances and not group.blue_green:
        raise InputError(
            f"input target_instances: deployment group '{group.name}' deploys in place; "
            "replacement instances apply to blue/green groups",
            hint="drop --target-instances, or deploy to a blue/green group",
        )


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
    targets = target_instances(options.target_instances)
    if targets is not None:
        params["targetInstances"] = targets
    return params


def create_deployment(
    api: CodeDeployApi,
    params: Mapping[str, Any],
    *,
    wait_for_active: bool,
    watching: WatchOptions,
    sink: EventSink,
    time_: Timekeeping,
) -> str:
    """CreateDeployment; when another deployment is active in the group, wait for it to end
    (found with ListDeployments, never parsed out of the error message), then try again."""
    application = str(params["applicationName"])
    group = str(params["deploymentGroupName"])
    waited: set[str] = set()
    transient = 0
    unlisted = 0
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
            try:
                active = api.list_deployments(application, group)
            except TransientAwsError as failure:
                # Waiting, like polling, outlasts a throttled or failed call.
                sink(
                    Notice(f"cannot list the active deployments yet: {failure.message}", "warning")
                )
                transient += 1
                if transient > _CREATE_TRANSIENT_LIMIT:
                    raise
                time_.sleep(2.0 * transient)
                continue
            transient = 0
            if not active:
                # It ended between the two calls: try again after a short pause. A group that
                # stays busy while listing nothing active is not waited on forever.
                unlisted += 1
                if unlisted > _UNLISTED_BLOCKER_LIMIT:
                    raise AwsError(
                        f"{error.message} (ListDeployments shows no active deployment in "
                        f"group '{group}' after {unlisted} tries)",
                        operation=error.operation,
                        code=error.code,
                        hint="find the deployment in the console, or stop it with "
                        "'ci-deploy stop DEPLOYMENT_ID', then run again",
                    ) from error
                time_.sleep(2.0)
                continue
            unlisted = 0
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
            quiet = WatchOptions(
                timeout_seconds=watching.timeout_seconds, on_ready="wait", stop_on_cancel=False
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


# Consecutive failed ListDeployments calls (after the SDK's own retries) before giving up.
_CREATE_TRANSIENT_LIMIT = 5
# Consecutive refusals while ListDeployments lists nothing active (2 s apart) before giving up.
_UNLISTED_BLOCKER_LIMIT = 10


def _notices_only(sink: EventSink) -> EventSink:
    def forward(event: Any) -> None:
        if isinstance(event, Notice):
            sink(event)

    return forward


# ---------------------------------------------------------------------------------------------
# Several regions


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


OneRegion = Callable[[str | None, EventSink], tuple[RegionRun, Verdict | None]]


@dataclass
class Rollout:
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
) -> Rollout:
    """Deploy to every region; serial stops at the first region that does not succeed. A region
    whose push or CreateDeployment fails is recorded with its error, so the regions already
    deployed stay in the result; when no region got a deployment, that error is raised."""
    several = len(regions) > 1
    done = Rollout()

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


# ---------------------------------------------------------------------------------------------
# deploy and rollback


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


ClientsFor = Callable[[str | None], Clients]


@dataclass(frozen=True)
class DeployRequest:
    push: PushRequest
    options: DeploymentOptions
    watching: WatchOptions
    regions: tuple[str, ...] = ()
    rollout: str = "serial"


def start_and_follow(
    api: CodeDeployApi,
    params: Mapping[str, Any],
    group: DeploymentGroup,
    *,
    wait_for_active: bool,
    watching: WatchOptions,
    sink: EventSink,
    time_: Timekeeping,
) -> tuple[RegionRun, Verdict | None]:
    """CreateDeployment (waiting out another active deployment), then watch it, or with
    --no-wait only look at it once. The run records the revision sent."""
    deployment_id = create_deployment(
        api, params, wait_for_active=wait_for_active, watching=watching, sink=sink, time_=time_
    )
    revision = params["revision"]
    if watching.wait:
        run, verdict = watch_deployment(api, deployment_id, watching, sink, time_, group=group)
        return replace(run, revision=revision), verdict
    sink(Notice(f"not waiting: follow it with 'ci-deploy wait {deployment_id}'"))
    try:
        deployment = api.get_deployment(deployment_id)
    except TransientAwsError as error:
        # It was created: a failed look at it must not fail the command.
        sink(Notice(f"cannot read deployment {deployment_id} yet: {error.message}", "warning"))
        deployment = Deployment(
            deployment_id,
            "Created",
            application=str(params["applicationName"]),
            deployment_group=str(params["deploymentGroupName"]),
        )
    run = RegionRun(
        api.region,
        deployment,
        api_calls=api.stats.total_calls,
        api_retries=api.stats.retries,
        revision=revision,
    )
    return run, None


def deploy(
    request: DeployRequest,
    clients_for: ClientsFor,
    sink: EventSink,
    time_: Timekeeping | None = None,
) -> Outcome:
    """validate -> bundle (once) -> per region: upload -> CreateDeployment -> watch."""
    time_ = time_ or Timekeeping()
    started = time_.clock()
    cancel = threading.Event()
    if request.rollout == "parallel" and len(request.regions) > 1:
        time_ = cancellable(time_, cancel)
    push = request.push
    options = request.options
    regions: list[str | None] = list(request.regions) or [None]
    check_regions(push.s3_location, request.regions)
    check_options(options)
    with tempfile.TemporaryDirectory(prefix="ci-deploy-") as directory:
        bundle = None
        if revision_kind(push) == "bundle":
            # Built (and validated) once, whatever the number of regions.
            first = regions[0] or "us-east-1"
            located = replace(push, s3_location=_in_region(push.s3_location, first))
            bundle = prepare_bundle(located, Path(directory))
            sink(
                Notice(f"bundle {bundle.bundle_type}, {bundle.size} bytes, sha256 {bundle.sha256}")
            )

        def one_region(region: str | None, sink: EventSink) -> tuple[RegionRun, Verdict | None]:
            clients = clients_for(region)
            api = CodeDeployApi(clients.codedeploy, clients.region)
            # The group first: a wrong name fails before anything is uploaded.
            group = api.get_deployment_group(options.application, options.deployment_group)
            check_target_instances(options, group)
            located = replace(push, s3_location=_in_region(push.s3_location, clients.region))
            pushed = push_revision(located, clients, sink, bundle=bundle)
            params = create_deployment_params(options, pushed.revision, group.compute_platform)
            run, verdict = start_and_follow(
                api,
                params,
                group,
                wait_for_active=options.wait_for_active,
                watching=request.watching,
                sink=sink,
                time_=time_,
            )
            return replace(run, bundle_sha256=pushed.bundle_sha256), verdict

        done = run_regions(regions, one_region, rollout=request.rollout, sink=sink, cancel=cancel)
    return done.outcome(options, time_.clock() - started)


def _in_region(s3_location: str | None, region: str) -> str | None:
    return s3_location.replace("{region}", region) if s3_location else None


@dataclass(frozen=True)
class RollbackRequest:
    """Redeploy to a group (in each region) the revision of ``to``, or of the last success."""

    target: DeploymentOptions
    watching: WatchOptions
    to: str | None = None
    regions: tuple[str, ...] = ()


# How many of the group's most recent deployments to look through for the last success.
_ROLLBACK_LOOKBACK = 50


def previous_success(api: CodeDeployApi, application: str, group: str) -> Deployment:
    """The last successful deployment of the group before its current (newest) one."""
    ids = api.list_deployments(application, group, ALL_DEPLOYMENT_STATUSES)[:_ROLLBACK_LOOKBACK]
    deployments = api.batch_get_deployments(ids)
    floor = datetime.min.replace(tzinfo=timezone.utc)
    deployments.sort(key=lambda d: d.create_time or floor, reverse=True)
    if not deployments:
        raise InputError(
            f"deployment group '{group}' of application '{application}' has no deployments "
            "to roll back",
            hint="check --application, --deployment-group and --region",
        )
    current = deployments[0]
    for deployment in deployments[1:]:
        if deployment.status == "Succeeded" and deployment.revision:
            return deployment
    raise InputError(
        f"no successful deployment before {current.deployment_id} in group '{group}'",
        hint="name the deployment whose revision to redeploy with --to DEPLOYMENT_ID",
    )


def rollback_source(api: CodeDeployApi, request: RollbackRequest) -> Deployment:
    """The deployment whose revision to redeploy: ``--to``'s (of this group), else the last
    success before the current one."""
    target = request.target
    if not request.to:
        return previous_success(api, target.application, target.deployment_group)
    source = api.get_deployment(request.to)
    if (source.application, source.deployment_group) != (
        target.application,
        target.deployment_group,
    ):
        raise InputError(
            f"input rollback_to: {request.to} belongs to group "
            f"'{source.deployment_group}' of application '{source.application}', not "
            f"'{target.deployment_group}' of '{target.application}'",
            hint="name a deployment of this deployment group",
        )
    return source


def rollback(
    request: RollbackRequest,
    clients_for: ClientsFor,
    sink: EventSink,
    time_: Timekeeping | None = None,
) -> Outcome:
    """Redeploy the revision of the last successful deployment before the current one (or of
    the one named), exactly as it was deployed (S3 version and ETag included), and watch it.
    As CodeDeploy says, rolling back is redeploying."""
    time_ = time_ or Timekeeping()
    started = time_.clock()
    regions: list[str | None] = list(request.regions) or [None]
    target = request.target
    check_options(target)
    check_regions(None, request.regions)

    def one_region(region: str | None, sink: EventSink) -> tuple[RegionRun, Verdict | None]:
        clients = clients_for(region)
        api = CodeDeployApi(clients.codedeploy, clients.region)
        source = rollback_source(api, request)
        if not source.revision:
            raise AwsError(
                f"GetDeployment: deployment {source.deployment_id} reports no revision",
                operation="GetDeployment",
            )
        sink(Notice(f"rolling back to the revision of {source.deployment_id}"))
        group = api.get_deployment_group(target.application, target.deployment_group)
        description = f"ci-deploy rollback: redeploy the revision of {source.deployment_id}"
        options = replace(target, description=truncate_description(description))
        return start_and_follow(
            api,
            create_deployment_params(options, source.revision, group.compute_platform),
            group,
            wait_for_active=target.wait_for_active,
            watching=request.watching,
            sink=sink,
            time_=time_,
        )

    done = run_regions(regions, one_region, rollout="serial", sink=sink)
    return done.outcome(target, time_.clock() - started)
