"""`ci-deploy rollback`: redeploy the revision of the group's last successful deployment before
the current one (or of --to DEPLOYMENT_ID), pinned as it was, and watch it."""

from __future__ import annotations

from ci_deploy.commands import Streams
from ci_deploy.commands._clients import clients_for
from ci_deploy.commands._notifying import notifying
from ci_deploy.commands._watching import conclude, reporter, watch_options
from ci_deploy.deploying.options import DeploymentOptions
from ci_deploy.deploying.rollback import RollbackRequest, rollback
from ci_deploy.github_deployments import reporting_to_github
from ci_deploy.inputs import Request


def run(request: Request, streams: Streams) -> int:
    rollback_req = RollbackRequest(
        target=DeploymentOptions(
            application=request.required_text("application"),
            deployment_group=request.required_text("deployment_group"),
            wait_for_active=request.flag("wait_for_active"),
        ),
        watching=watch_options(request, wait=request.flag("wait")),
        to=request.text("rollback_to"),
        regions=request.items("regions"),
    )
    with (
        reporting_to_github(request, reporter(request, streams)) as github,
        notifying(request, github, streams) as report,
    ):
        outcome = rollback(rollback_req, clients_for(request), report.event)
        return conclude(outcome, streams, report)
