"""The deployment operations: CreateDeployment (and the rollouts it starts), the automatic
rollback of a failed or stopped deployment, Get, BatchGet and ListDeployments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.api.documents import (
    Documents,
    NeedsDocument,
    load_document,
    parsed_document,
    plan_traffic,
)
from ci_deploy.emulator.api.groups import check_auto_rollback
from ci_deploy.emulator.api.members import batch, checked_description, one_page
from ci_deploy.emulator.api.revisions import (
    check_bucket_region,
    check_revision,
    missing_object,
    remember,
)
from ci_deploy.emulator.faults import (
    DEPLOYMENT_ID_REQUIRED,
    ApiError,
    deployment_id,
    name,
    valid_name,
)
from ci_deploy.emulator.model import Application, Deployment, DeploymentGroup
from ci_deploy.emulator.registry import Registry
from ci_deploy.emulator.revisions import revision_key
from ci_deploy.emulator.rollout.alarms import watch_alarms
from ci_deploy.emulator.rollout.run import start_rollout
from ci_deploy.emulator.rollout.triggers import deployment_event

# CreateDeployment parses an ECS/Lambda AppSpec outside the lock, then runs again with it; a
# third round only when the revision or platform changed in between.
DOCUMENT_ROUNDS = 3


def create_deployment(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    """CreateDeployment, with an ECS/Lambda AppSpec read and parsed outside the lock: a slow
    document (huge, or hostile YAML) must not hold up every other call."""
    documents: Documents = {}
    for _ in range(DOCUMENT_ROUNDS):
        with registry.lock:
            try:
                return create_deployment_locked(registry, body, documents)
            except NeedsDocument as needed:
                wanted = needed
        documents[wanted.key] = load_document(registry, wanted.source)
    raise ApiError(
        "InvalidRevisionException",
        "The revision or its application changed while the AppSpec was checked; retry.",
    )


def create_deployment_locked(
    registry: Registry, body: Mapping[str, Any], documents: Documents | None = None
) -> dict[str, Any]:
    """Runs under the lock; raises NeedsDocument for an AppSpec not in ``documents`` yet."""
    group_name = name(body, "deploymentGroupName", "DeploymentGroup")
    application = registry.application(body)
    group = registry.group(application, group_name)
    revision = body.get("revision") or group.target_revision
    location = check_revision(application, revision)
    platform = application.compute_platform
    config_name = valid_name(
        body.get("deploymentConfigName") or group.settings["deploymentConfigName"],
        "DeploymentConfig",
    )
    registry.config_for(config_name, platform)
    description = checked_description(body)
    behavior = body.get("fileExistsBehavior")
    if platform != "Server" and behavior is not None:
        raise ApiError(
            "InvalidFileExistsBehaviorException",
            "For Lambda, ECS and Kubernetes deployment, fileExistsBehavior can not be specified",
        )
    if behavior is not None and behavior not in ("DISALLOW", "OVERWRITE", "RETAIN"):
        raise ApiError(
            "InvalidFileExistsBehaviorException",
            "fileExistsBehavior must be DISALLOW, OVERWRITE or RETAIN.",
        )
    rollback = check_auto_rollback(body.get("autoRollbackConfiguration"))
    document = None
    traffic_plan: dict[str, Any] = {}
    if platform != "Server":
        document = parsed_document(application, location, documents or {})
        traffic_plan = plan_traffic(registry, application, group, document)
    if location["revisionType"] == "S3" and platform == "Server":
        s3 = location["s3Location"]
        check_bucket_region(registry, s3)
        if registry.bundles.head(s3["bucket"], s3["key"], s3.get("version")) is None:
            raise missing_object(s3)
    active = registry.active_in(group)
    if active is not None:
        raise ApiError(
            "DeploymentLimitExceededException",
            f"The Deployment Group '{group.name}' already has an active Deployment "
            f"'{active.deployment_id}'",
        )
    options: dict[str, Any] = {
        "ignoreApplicationStopFailures": bool(body.get("ignoreApplicationStopFailures")),
        "updateOutdatedInstancesOnly": bool(body.get("updateOutdatedInstancesOnly")),
    }
    if description is not None:
        options["description"] = description
    if platform == "Server":
        options["fileExistsBehavior"] = behavior or "DISALLOW"
    deployment = start_deployment(
        registry,
        application,
        group,
        location,
        config_name,
        creator="user",
        options=options,
        auto_rollback=rollback or group.settings.get("autoRollbackConfiguration"),
        traffic_plan=traffic_plan,
        document=document,
    )
    return {"deploymentId": deployment.deployment_id}


def start_deployment(
    registry: Registry,
    application: Application,
    group: DeploymentGroup,
    location: dict[str, Any],
    config_name: str,
    *,
    creator: str,
    options: dict[str, Any],
    auto_rollback: dict[str, Any] | None,
    traffic_plan: dict[str, Any],
    document: Mapping[str, Any] | None,
) -> Deployment:
    now = registry.clock()
    record = remember(registry, application, location, description=None, registered=False)
    if document is not None:
        record.document = document  # what a rollback to this revision deploys
    record.first_used = record.first_used or now
    record.last_used = now
    if group.name not in record.groups:
        record.groups.append(group.name)
    deployment = Deployment(
        deployment_id=registry.new_deployment_id(),
        application=application.name,
        group=group,
        config_name=config_name,
        revision=location,
        create_time=now,
        creator=creator,
        compute_platform=application.compute_platform,
        options=options,
        previous_revision=group.last_successful_revision,
        auto_rollback=auto_rollback,
        traffic_plan=traffic_plan,
    )
    registry.deployments[deployment.deployment_id] = deployment
    group.target_revision = location
    rollout = start_rollout(registry, deployment, lambda finished: roll_back(registry, finished))
    watch_alarms(rollout)
    return deployment


def roll_back(registry: Registry, deployment: Deployment) -> None:
    """Roll back a failed (or stopped, when asked) deployment (caller holds the lock)."""
    config = deployment.auto_rollback or {}
    wanted = (
        deployment.status == "Failed"
        and config.get("enabled")
        and "DEPLOYMENT_FAILURE" in (config.get("events") or [])
    ) or (deployment.status == "Stopped" and deployment.rollback_on_stop)
    if not wanted or deployment.creator == "codeDeployRollback":
        return
    group = deployment.group
    previous = group.last_successful_revision
    if previous is None:
        deployment.rollback_info = {
            "rollbackMessage": "Automatic rollback skipped: the deployment group has no "
            "previous successful revision."
        }
        return
    application = registry.applications.get(deployment.application)
    if application is None or registry.groups.get((application.name, group.name)) is not group:
        return
    document = None
    plan: dict[str, Any] = {}
    try:
        if application.compute_platform != "Server":
            # The AppSpec the previous revision was deployed with (parsed then, outside the
            # lock); this runs under the lock, so it is never parsed here.
            record = registry.revisions.get(application.name, {}).get(revision_key(previous))
            document = record.document if record is not None else None
            if document is None:
                raise ApiError(
                    "RevisionDoesNotExistException",
                    "the previous revision's AppSpec is not known to the emulator",
                )
            plan = plan_traffic(registry, application, group, document)
    except ApiError as error:
        deployment.rollback_info = {
            "rollbackMessage": f"Automatic rollback failed to start: {error.message}"
        }
        return
    rollback = start_deployment(
        registry,
        application,
        group,
        previous,
        deployment.config_name,
        creator="codeDeployRollback",
        options=dict(deployment.options),
        auto_rollback=None,
        traffic_plan=plan,
        document=document,
    )
    deployment.rollback_info = {
        "rollbackDeploymentId": rollback.deployment_id,
        "rollbackMessage": f"Deployment {deployment.deployment_id} was rolled back by "
        f"{rollback.deployment_id}.",
    }
    deployment_event(registry, deployment, "DeploymentRollback")
    rollback.rollback_info = {
        "rollbackTriggeringDeploymentId": deployment.deployment_id,
        "rollbackMessage": f"Rollback of {deployment.deployment_id} to the last successful "
        "revision.",
    }


def get_deployment(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"deploymentInfo": registry.deployment(body).info()}


def batch_get_deployments(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    ids = batch(body, "deploymentIds", DEPLOYMENT_ID_REQUIRED, what="deployment IDs")
    found = []
    for identifier in ids:
        deployment_id({"deploymentId": identifier})
        if identifier in registry.deployments:
            found.append(registry.deployments[identifier].info())
    return {"deploymentsInfo": found}


def list_deployments(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    chosen = list(registry.deployments.values())
    if body.get("applicationName") is not None or body.get("deploymentGroupName") is not None:
        application = registry.application(body)
        chosen = [d for d in chosen if d.application == application.name]
        if body.get("deploymentGroupName") is not None:
            group = registry.group(
                application, name(body, "deploymentGroupName", "DeploymentGroup")
            )
            chosen = [d for d in chosen if d.group is group]
    statuses = body.get("includeOnlyStatuses") or []
    valid = {
        "Created",
        "Queued",
        "InProgress",
        "Baking",
        "Succeeded",
        "Failed",
        "Stopped",
        "Ready",
    }
    if any(status not in valid for status in statuses):
        raise ApiError(
            "InvalidDeploymentStatusException",
            "The specified deployment status doesn't exist or cannot be determined.",
        )
    if statuses:
        chosen = [d for d in chosen if d.status in statuses]
    window = body.get("createTimeRange") or {}
    start, end = window.get("start"), window.get("end")
    if start is not None and end is not None and start > end:
        raise ApiError(
            "InvalidTimeRangeException",
            "The specified time range was specified in an invalid format.",
        )
    chosen = [
        d
        for d in chosen
        if (start is None or d.create_time >= start) and (end is None or d.create_time <= end)
    ]
    chosen.sort(key=lambda d: d.create_time, reverse=True)
    return one_page("deployments", [d.deployment_id for d in chosen], body)
