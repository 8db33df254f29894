"""`deploy --dry-run`: what a deploy would do, found with read-only calls only. The bundle is
built and validated, its content-addressed S3 key computed; in each region the group
(GetDeploymentGroup, which also says whether the application exists), its deployment
configuration (GetDeploymentConfig), the bucket (HeadBucket) and the key (HeadObject) are
checked; the result is the CreateDeployment request of each region, built by the same
``create_deployment_params`` a deploy sends. Nothing is uploaded, registered or created."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ci_deploy.aws.codedeploy import CodeDeployApi, create_deployment_params
from ci_deploy.aws.session import ClientsFor
from ci_deploy.bundle.builder import BundleResult
from ci_deploy.deploying.deploy import DeployRequest, bundle_once, s3_location_in
from ci_deploy.deploying.follow import Timekeeping
from ci_deploy.deploying.options import check_options, check_target_instances, new_deployment
from ci_deploy.deploying.regions import check_regions, in_region
from ci_deploy.events import EventSink, Notice
from ci_deploy.push import plan_revision


@dataclass(frozen=True)
class PlannedDeployment:
    """One region's dry run: the CreateDeployment parameters, and what a deploy would write
    before sending them (the upload, when the bundle is not in the bucket yet, and the
    registration)."""

    region: str
    params: dict[str, Any]
    upload_to: str | None = None
    decided_by_upload: tuple[str, ...] = ()
    register: bool = True
    bundle_sha256: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "operation": "CreateDeployment",
            "request": self.params,
            "upload": self.upload_to,
            "decided_by_upload": list(self.decided_by_upload),
            "register": self.register,
            "bundle_sha256": self.bundle_sha256,
        }


@dataclass(frozen=True)
class DryRun:
    """Every region's planned deployment, in the order a deploy would go."""

    application: str
    deployment_group: str
    plans: tuple[PlannedDeployment, ...]
    total_seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": True,
            "application": self.application,
            "deployment_group": self.deployment_group,
            "requests": [plan.as_json() for plan in self.plans],
            "total_seconds": round(self.total_seconds, 3),
        }

    def summary(self) -> list[str]:
        """The readable account of what a deploy would do, for stderr."""
        lines = ["dry run: nothing was uploaded, registered or created; a deploy would:"]
        for plan in self.plans:
            where = f"  {plan.region}: "
            if plan.upload_to:
                fields = " and ".join(plan.decided_by_upload)
                lines.append(
                    f"{where}upload the bundle (sha256 {plan.bundle_sha256}) to "
                    f"{plan.upload_to} (S3 then answers its {fields})"
                )
            if plan.register:
                lines.append(f"{where}register the revision with application '{self.application}'")
            lines.append(
                f"{where}CreateDeployment in group '{self.deployment_group}': "
                + _revision_text(plan.params["revision"])
            )
        return lines


def _revision_text(revision: dict[str, Any]) -> str:
    if revision.get("revisionType") == "S3":
        where = revision["s3Location"]
        pinned = [f"{name} {where[name]}" for name in ("eTag", "version") if where.get(name)]
        text = f"s3://{where['bucket']}/{where['key']} ({where['bundleType']}"
        return text + (", " + ", ".join(pinned) if pinned else "") + ")"
    if revision.get("revisionType") == "GitHub":
        found = revision["gitHubLocation"]
        return f"GitHub {found['repository']} at {found['commitId']}"
    return "inline AppSpecContent"


def dry_run(
    request: DeployRequest,
    clients_for: ClientsFor,
    sink: EventSink,
    time_: Timekeeping | None = None,
) -> DryRun:
    """validate -> bundle (once) -> per region: read-only checks -> the CreateDeployment
    request. Any check failing raises, as the deploy would fail there."""
    time_ = time_ or Timekeeping()
    started = time_.clock()
    push = request.push
    regions: list[str | None] = list(request.regions) or [None]
    check_regions(push.s3_location, request.regions)
    check_options(request.options)
    plans: list[PlannedDeployment] = []
    with tempfile.TemporaryDirectory(prefix="ci-deploy-") as directory:
        bundle = bundle_once(push, regions, Path(directory), sink)
        for region in regions:
            labelled = in_region(sink, region) if len(regions) > 1 and region else sink
            plans.append(_plan_region(request, region, clients_for, bundle, labelled))
    options = request.options
    return DryRun(
        options.application, options.deployment_group, tuple(plans), time_.clock() - started
    )


def _plan_region(
    request: DeployRequest,
    region: str | None,
    clients_for: ClientsFor,
    bundle: BundleResult | None,
    sink: EventSink,
) -> PlannedDeployment:
    clients = clients_for(region)
    api = CodeDeployApi(clients.codedeploy, clients.region)
    options = request.options
    group = api.get_deployment_group(options.application, options.deployment_group)
    check_target_instances(options, group)
    config = options.deployment_config or group.deployment_config
    if config:
        api.check_deployment_config(config)
    located = replace(
        request.push, s3_location=s3_location_in(request.push.s3_location, clients.region)
    )
    planned = plan_revision(located, clients, bundle=bundle)
    params = create_deployment_params(
        new_deployment(options, planned.revision), group.compute_platform
    )
    sink(Notice(f"checked group '{group.name}', configuration {config or '(none)'}"))
    return PlannedDeployment(
        region=clients.region,
        params=params,
        upload_to=planned.upload_to,
        decided_by_upload=planned.decided_by_upload,
        register=located.register,
        bundle_sha256=planned.bundle_sha256,
    )
