"""`ci-deploy stop DEPLOYMENT_ID [--rollback]`: ask CodeDeploy to stop a deployment."""

from __future__ import annotations

import json

from ci_deploy.commands import Streams
from ci_deploy.commands._watching import api_for, single_region
from ci_deploy.errors import ExitCode
from ci_deploy.inputs import Request
from ci_deploy.result import console_url


def run(request: Request, streams: Streams) -> int:
    deployment_id = request.required_text("deployment_id")
    rollback = request.flag("rollback")
    api = api_for(request, single_region(request))
    status, message = api.stop_deployment(deployment_id, rollback=rollback)
    with_rollback = " with rollback" if rollback else ""
    streams.stderr.write(
        f"StopDeployment {deployment_id}{with_rollback}: {status}"
        + (f" - {message}" if message else "")
        + f"\n  see it end with 'ci-deploy wait {deployment_id}'\n"
    )
    result = {
        "deployment_id": deployment_id,
        "region": api.region,
        "stop_status": status,
        "stop_message": message,
        "rollback": rollback,
        "console_url": console_url(api.region, deployment_id),
    }
    streams.stdout.write(json.dumps(result, indent=2) + "\n")
    return ExitCode.OK
