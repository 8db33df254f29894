"""What the watching verbs share: reading the watch inputs, the API of one region, and turning a
verdict into output and an exit code."""

from __future__ import annotations

import json

from ci_deploy.aws.codedeploy import CodeDeployApi
from ci_deploy.commands import Streams
from ci_deploy.commands._clients import clients_for
from ci_deploy.deploying.regions import Outcome
from ci_deploy.errors import DeploymentFailed, ExitCode, InputError, Interrupted, WaitTimeout
from ci_deploy.inputs import Request
from ci_deploy.report import Reporter, reporter_for
from ci_deploy.report.fleet import FleetProgress
from ci_deploy.result import DeploymentsResult, Result, failure_summary, worst_status
from ci_deploy.watch import DEFAULT_PROGRESS_TARGETS, OnReady, WatchOptions


def reporter(request: Request, streams: Streams) -> Reporter:
    """The CI system's reporter, aggregating the progress of fleets above progress_targets."""
    inner = reporter_for(request.text("ci_system") or "plain", streams, request.env)
    return FleetProgress(inner, progress_targets(request))


def progress_targets(request: Request) -> int:
    chosen = request.number("progress_targets")
    return DEFAULT_PROGRESS_TARGETS if chosen is None else chosen


def single_region(request: Request) -> str | None:
    regions = request.items("regions")
    if len(regions) > 1:
        raise InputError(
            f"input regions: {request.verb} works on one deployment in one region, "
            f"got {', '.join(regions)}",
            hint="pass one --region (the deployment's)",
        )
    return regions[0] if regions else None


def api_for(request: Request, region: str | None) -> CodeDeployApi:
    clients = clients_for(request)(region)
    return CodeDeployApi(clients.codedeploy, clients.region)


def watch_options(request: Request, *, wait: bool = True) -> WatchOptions:
    on_ready: OnReady = "wait"
    chosen = request.text("on_ready") or "wait"
    if chosen == "continue":
        on_ready = "continue"
    elif chosen == "succeed":
        on_ready = "succeed"
    return WatchOptions(
        wait=wait,
        timeout_seconds=request.number("wait_timeout_seconds"),
        on_ready=on_ready,
        stop_on_cancel=request.flag("stop_on_cancel"),
        rollback_on_cancel=request.flag("rollback_on_cancel"),
        progress_targets=progress_targets(request),
    )


def print_result(result: Result, streams: Streams) -> None:
    """The result as JSON on stdout: the command's machine-readable output."""
    streams.stdout.write(json.dumps(result.as_json(), indent=2, sort_keys=False) + "\n")
    streams.stdout.flush()


def conclude(outcome: Outcome, streams: Streams, report: Reporter) -> int:
    """Print the result, hand it to the reporter, and turn the outcome into an exit code (or the
    error that carries one). The worst region decides: a cancel, then a region that got no
    deployment (its own error and exit code), then Failed/Stopped, then a timeout."""
    result = outcome.result()
    verdict = outcome.verdict
    print_result(result, streams)
    report.finish(result)
    # Name the region that decided the outcome (the worst status of those with a deployment),
    # not just the first one.
    deployed = [run for run in result.runs if run.deployment is not None]
    status = worst_status([run.status for run in deployed]) if deployed else result.status
    deciding = next((run for run in deployed if run.status == status), result.first)
    deployment_id = deciding.deployment_id
    where = f" ({deciding.region})" if len(result.regions) > 1 else ""
    if verdict == "cancelled":
        raise Interrupted(_cancelled_message(outcome, result), result)
    if outcome.errors or verdict in ("failed", "stopped"):
        for line in failure_summary(result):
            streams.stderr.write(line + "\n")
    if outcome.errors:
        raise next(iter(outcome.errors.values()))
    if verdict in ("failed", "stopped"):
        raise DeploymentFailed(f"deployment {deployment_id}{where} {status}", result)
    if verdict == "timeout":
        raise WaitTimeout(
            f"gave up waiting: deployment {deployment_id}{where} is still {status} "
            f"(see {deciding.console_url})",
            result,
            hint=f"it may still finish; watch it again with 'ci-deploy wait {deployment_id}'",
        )
    return ExitCode.OK


def _cancelled_message(outcome: Outcome, result: DeploymentsResult) -> str:
    """Where the cancel caught the run: the first cancelled region's deployment and status."""
    region = next(r for r, v in outcome.verdicts.items() if v == "cancelled")
    where = f" ({region})" if len(result.regions) > 1 else ""
    found = next((run for run in result.runs if run.region == region), result.first)
    if not found.deployment_id:
        return f"cancelled in {region} before a deployment was created"
    return f"cancelled while deployment {found.deployment_id}{where} was {found.status}"
