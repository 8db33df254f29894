"""`ci-deploy wait DEPLOYMENT_ID`: watch a deployment until it ends; exit code from its status."""

from __future__ import annotations

import time

from ci_deploy.commands import Streams
from ci_deploy.commands._notifying import notifying
from ci_deploy.commands._watching import (
    api_for,
    conclude,
    reporter,
    single_region,
    watch_options,
)
from ci_deploy.deploying.follow import watch_deployment
from ci_deploy.deploying.regions import Outcome
from ci_deploy.inputs import Request


def run(request: Request, streams: Streams) -> int:
    deployment_id = request.required_text("deployment_id")
    options = watch_options(request)
    api = api_for(request, single_region(request))
    with notifying(request, reporter(request, streams), streams) as report:
        started = time.monotonic()
        run_, verdict = watch_deployment(api, deployment_id, options, report.event)
        outcome = Outcome(
            runs=[run_],
            verdicts={run_.region: verdict},
            total_seconds=time.monotonic() - started,
        )
        return conclude(outcome, streams, report)
