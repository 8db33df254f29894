"""`ci-deploy deploy SOURCE`: validate, bundle, upload, CreateDeployment and watch, per region
(with --dry-run: check and print the CreateDeployment requests, changing nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from ci_deploy.aws.session import Clients, ClientsFor
from ci_deploy.commands import Streams
from ci_deploy.commands._clients import clients_for
from ci_deploy.commands._notifying import notifying
from ci_deploy.commands._watching import conclude, reporter, watch_options
from ci_deploy.commands.push import push_request
from ci_deploy.deploying.deploy import DeployRequest, deploy
from ci_deploy.deploying.dry_run import dry_run
from ci_deploy.deploying.options import (
    DeploymentOptions,
    default_description,
    truncate_description,
)
from ci_deploy.errors import InputError
from ci_deploy.github_deployments import reporting_to_github
from ci_deploy.inputs import Request
from ci_deploy.report.text import TextRenderer
from ci_deploy.revision_location import parse_s3_location


def deploy_request(request: Request) -> DeployRequest:
    push = push_request(request)
    description = request.text("description")
    if description is not None and len(description) > 256:
        raise InputError(
            f"input description: at most 256 characters, got {len(description)}",
            hint="shorten --description",
        )
    description = description or default_description(request.ci)
    options = DeploymentOptions(
        application=push.application,
        deployment_group=request.required_text("deployment_group"),
        deployment_config=request.text("deployment_config"),
        description=description,
        file_exists_behavior=request.text("file_exists_behavior"),
        ignore_application_stop_failures=request.flag("ignore_application_stop_failures"),
        auto_rollback=request.items("auto_rollback"),
        update_outdated_instances_only=request.flag("update_outdated_instances_only"),
        wait_for_active=request.flag("wait_for_active"),
        target_instances=request.items("target_instances"),
    )
    return DeployRequest(
        push=replace(push, description=truncate_description(description) if description else None),
        options=options,
        watching=watch_options(request, wait=request.flag("wait")),
        regions=request.items("regions"),
        rollout=request.text("rollout") or "serial",
    )


@contextmanager
def clients_source(request: Request, deploy_req: DeployRequest) -> Iterator[ClientsFor]:
    """AWS (or --endpoint-url); with --emulator, an emulator started for this one command with
    the application, group and bucket created when missing."""
    endpoint_url = request.text("endpoint_url")
    if not request.flag("emulator"):
        yield clients_for(request)
        return
    if endpoint_url:
        raise InputError(
            "inputs emulator and endpoint_url exclude each other",
            hint="drop --endpoint-url to use the embedded emulator, or --emulator to use it",
        )
    try:
        from ci_deploy.aws.demo import emulator_clients, ensure_demo_resources  # noqa: PLC0415
        from ci_deploy.emulator import start  # noqa: PLC0415 - moto is an optional extra
    except ImportError as error:
        raise InputError(
            f"--emulator needs the emulator extra: {error}",
            hint="pip install 'ci-deploy[emulator]'",
        ) from error
    emulator = start(
        instances=request.number("instances") or 3,
        event_delay_ms=request.number("event_delay_ms") or 0,
    )
    try:
        location = deploy_req.push.s3_location
        platform = {"ecs": "ECS", "lambda": "Lambda"}.get(
            deploy_req.push.compute_platform or "", "Server"
        )
        prepared: set[str] = set()

        def emulator_clients_for(region: str | None) -> Clients:
            clients = emulator_clients(emulator.endpoint_url, region or emulator.region)
            if clients.region not in prepared:
                bucket = None
                if location and deploy_req.push.upload:
                    bucket = parse_s3_location(location.replace("{region}", clients.region)).bucket
                ensure_demo_resources(
                    clients,
                    deploy_req.options.application,
                    deploy_req.options.deployment_group,
                    bucket,
                    platform,
                )
                prepared.add(clients.region)
            return clients

        yield emulator_clients_for
    finally:
        emulator.stop()


def run(request: Request, streams: Streams) -> int:
    deploy_req = deploy_request(request)
    if request.flag("dry_run"):
        return run_dry(request, deploy_req, streams)
    with (
        reporting_to_github(request, reporter(request, streams)) as github,
        notifying(request, github, streams) as report,
        clients_source(request, deploy_req) as clients_for,
    ):
        # An AppSpecError's diagnostics (and GitHub annotations) are shown by the CLI's handler.
        outcome = deploy(deploy_req, clients_for, report.event)
        return conclude(outcome, streams, report)


def run_dry(request: Request, deploy_req: DeployRequest, streams: Streams) -> int:
    """--dry-run: the CreateDeployment request of each region as JSON on stdout, a summary on
    stderr; no report, notification or GitHub deployment (nothing was deployed)."""
    with clients_source(request, deploy_req) as clients_for:
        planned = dry_run(deploy_req, clients_for, TextRenderer(streams.stderr))
    streams.stdout.write(json.dumps(planned.as_json(), indent=2) + "\n")
    streams.stdout.flush()
    streams.stderr.write("\n".join(planned.summary()) + "\n")
    return 0
