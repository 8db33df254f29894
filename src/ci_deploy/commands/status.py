"""`ci-deploy status DEPLOYMENT_ID`: one snapshot of a deployment, its targets and diagnostics."""

from __future__ import annotations

from ci_deploy.commands import Streams
from ci_deploy.commands._watching import api_for, print_result, single_region
from ci_deploy.deploying.follow import snapshot
from ci_deploy.deploying.regions import Outcome
from ci_deploy.errors import ExitCode
from ci_deploy.inputs import Request
from ci_deploy.report.console import format_snapshot


def run(request: Request, streams: Streams) -> int:
    """Humans read the snapshot on stderr; ``--json`` puts the result object on stdout. The
    exit code is 0 whatever the deployment's status: the question was answered."""
    deployment_id = request.required_text("deployment_id")
    api = api_for(request, single_region(request))
    region_run = snapshot(api, deployment_id)
    result = Outcome(runs=[region_run], verdicts={region_run.region: None}).result()
    if request.flag("json"):
        print_result(result, streams)
    else:
        streams.stderr.write(format_snapshot(result))
    return ExitCode.OK
