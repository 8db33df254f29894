"""`rollback`'s orchestration: find the deployment whose revision to redeploy (--to's, or the
group's last success before its current one) and redeploy that revision, pinned as it was."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone

from ci_deploy.aws.codedeploy import CodeDeployApi, Deployment
from ci_deploy.aws.session import ClientsFor
from ci_deploy.deploying.create import start_and_follow
from ci_deploy.deploying.follow import Timekeeping
from ci_deploy.deploying.options import (
    DeploymentOptions,
    check_options,
    new_deployment,
    truncate_description,
)
from ci_deploy.deploying.regions import Outcome, check_regions, run_regions
from ci_deploy.errors import AwsError, InputError
from ci_deploy.events import EventSink, Notice
from ci_deploy.result import RegionRun
from ci_deploy.vocabulary import ALL_DEPLOYMENT_STATUSES
from ci_deploy.watch import Verdict, WatchOptions


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
            new_deployment(options, source.revision),
            group,
            wait_for_active=target.wait_for_active,
            watching=request.watching,
            sink=sink,
            time_=time_,
        )

    done = run_regions(regions, one_region, rollout="serial", sink=sink)
    return done.outcome(target, time_.clock() - started)
