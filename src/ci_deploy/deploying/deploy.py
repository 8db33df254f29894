"""`deploy`'s orchestration: check the inputs, build the bundle once, then in each region:
read the group, upload and register the revision, create the deployment and follow it."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from ci_deploy.aws.codedeploy import CodeDeployApi
from ci_deploy.aws.session import ClientsFor
from ci_deploy.bundle.builder import BundleResult
from ci_deploy.deploying.create import start_and_follow
from ci_deploy.deploying.follow import Timekeeping, cancellable
from ci_deploy.deploying.options import (
    DeploymentOptions,
    check_options,
    check_target_instances,
    new_deployment,
)
from ci_deploy.deploying.regions import Outcome, check_regions, run_regions
from ci_deploy.events import EventSink, Notice
from ci_deploy.push import PushRequest, prepare_bundle, push_revision, revision_kind
from ci_deploy.result import RegionRun
from ci_deploy.watch import Verdict, WatchOptions


@dataclass(frozen=True)
class DeployRequest:
    push: PushRequest
    options: DeploymentOptions
    watching: WatchOptions
    regions: tuple[str, ...] = ()
    rollout: str = "serial"


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
        bundle = bundle_once(push, regions, Path(directory), sink)

        def one_region(region: str | None, sink: EventSink) -> tuple[RegionRun, Verdict | None]:
            clients = clients_for(region)
            api = CodeDeployApi(clients.codedeploy, clients.region)
            # The group first: a wrong name fails before anything is uploaded.
            group = api.get_deployment_group(options.application, options.deployment_group)
            check_target_instances(options, group)
            located = replace(push, s3_location=s3_location_in(push.s3_location, clients.region))
            pushed = push_revision(located, clients, sink, bundle=bundle)
            run, verdict = start_and_follow(
                api,
                new_deployment(options, pushed.revision),
                group,
                wait_for_active=options.wait_for_active,
                watching=request.watching,
                sink=sink,
                time_=time_,
            )
            return replace(run, bundle_sha256=pushed.bundle_sha256), verdict

        done = run_regions(regions, one_region, rollout=request.rollout, sink=sink, cancel=cancel)
    return done.outcome(options, time_.clock() - started)


def bundle_once(
    push: PushRequest, regions: list[str | None], directory: Path, sink: EventSink
) -> BundleResult | None:
    """Build (and validate) the bundle once, whatever the number of regions; None when the
    revision is no bundle (a GitHub commit, inline AppSpecContent, an existing S3 object)."""
    if revision_kind(push) != "bundle":
        return None
    first = regions[0] or "us-east-1"
    located = replace(push, s3_location=s3_location_in(push.s3_location, first))
    bundle = prepare_bundle(located, directory)
    sink(Notice(f"bundle {bundle.bundle_type}, {bundle.size} bytes, sha256 {bundle.sha256}"))
    return bundle


def s3_location_in(s3_location: str | None, region: str) -> str | None:
    return s3_location.replace("{region}", region) if s3_location else None
