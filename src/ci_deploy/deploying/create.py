"""Start a deployment: CreateDeployment, waiting out another deployment active in the group,
then follow it (or, with --no-wait, look at it once)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ci_deploy.aws.codedeploy import CodeDeployApi, Deployment, DeploymentGroup, NewDeployment
from ci_deploy.deploying.follow import Timekeeping, watch_deployment
from ci_deploy.errors import AwsError, DeploymentLimitExceeded, TransientAwsError
from ci_deploy.events import EventSink, Notice
from ci_deploy.result import RegionRun
from ci_deploy.watch import Verdict, WatchOptions


def create_deployment(
    api: CodeDeployApi,
    new: NewDeployment,
    *,
    compute_platform: str,
    wait_for_active: bool,
    watching: WatchOptions,
    sink: EventSink,
    time_: Timekeeping,
) -> str:
    """CreateDeployment; when another deployment is active in the group, wait for it to end
    (found with ListDeployments, never parsed out of the error message), then try again."""
    application, group = new.application, new.deployment_group
    waited: set[str] = set()
    transient = 0
    unlisted = 0
    while True:
        try:
            deployment_id = api.create_deployment(new, compute_platform)
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
                timeout_seconds=watching.timeout_seconds,
                on_ready="wait",
                stop_on_cancel=False,
                progress_targets=watching.progress_targets,
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


def start_and_follow(
    api: CodeDeployApi,
    new: NewDeployment,
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
        api,
        new,
        compute_platform=group.compute_platform,
        wait_for_active=wait_for_active,
        watching=watching,
        sink=sink,
        time_=time_,
    )
    revision = new.revision
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
            application=new.application,
            deployment_group=new.deployment_group,
        )
    run = RegionRun(
        api.region,
        deployment,
        api_calls=api.stats.total_calls,
        api_retries=api.stats.retries,
        revision=revision,
    )
    return run, None
