"""The target operations of a started deployment: List, BatchGet and Get DeploymentTarget(s), and
the legacy List, BatchGet and Get DeploymentInstance(s)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.api.members import batch, one_page
from ci_deploy.emulator.faults import ApiError, required
from ci_deploy.emulator.model import Deployment
from ci_deploy.emulator.registry import Registry, existing

TARGET_ID_REQUIRED = (
    "DeploymentTargetIdRequiredException",
    "A deployment target ID was not provided.",
)
INSTANCE_ID_REQUIRED = ("InstanceIdRequiredException", "The instance ID was not specified.")


def require_started(deployment: Deployment) -> None:
    if not deployment.targets_assigned:
        raise ApiError("DeploymentNotStartedException", "The specified deployment has not started.")


def list_deployment_targets(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    deployment = registry.deployment(body)
    require_started(deployment)
    filters = body.get("targetFilters") or {}
    targets = list(deployment.iter_targets())
    for key, values in filters.items():
        if key == "TargetStatus":
            targets = [t for t in targets if t.status in values]
        elif key == "ServerInstanceLabel":
            targets = [t for t in targets if t.label in values]
        else:
            raise ApiError(
                "InvalidTargetFilterNameException",
                f"The target filter name {key} is invalid; use TargetStatus or "
                "ServerInstanceLabel.",
            )
    return one_page("targetIds", [t.target_id for t in targets], body)


def target_info(deployment: Deployment, target_id: object) -> dict[str, Any]:
    if not isinstance(target_id, str) or not target_id:
        raise ApiError(
            "InvalidDeploymentTargetIdException", "The target ID provided was not valid."
        )
    target = existing(
        deployment.targets.get(target_id),
        "DeploymentTargetDoesNotExistException",
        f"The provided target ID {target_id} does not belong to the deployment "
        f"{deployment.deployment_id}.",
    )
    member = {
        "InstanceTarget": "instanceTarget",
        "ECSTarget": "ecsTarget",
        "LambdaTarget": "lambdaTarget",
    }[target.kind]
    return {"deploymentTargetType": target.kind, member: target.info(deployment.deployment_id)}


def batch_get_deployment_targets(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    deployment = registry.deployment(body)
    ids = batch(
        body,
        "targetIds",
        TARGET_ID_REQUIRED,
        what="targets",
        too_many="DeploymentTargetListSizeExceededException",
    )
    return {"deploymentTargets": [target_info(deployment, target_id) for target_id in ids]}


def get_deployment_target(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    deployment = registry.deployment(body)
    target_id = required(body, "targetId", *TARGET_ID_REQUIRED)
    return {"deploymentTarget": target_info(deployment, target_id)}


def require_instance_api(deployment: Deployment) -> None:
    if deployment.compute_platform == "ECS":
        raise ApiError(
            "InvalidComputePlatformException",
            "The instance APIs do not support the ECS compute platform; use ListDeploymentTargets.",
        )
    require_started(deployment)


def list_deployment_instances(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    deployment = registry.deployment(body)
    require_instance_api(deployment)
    statuses = body.get("instanceStatusFilter") or []
    valid = {"Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Unknown", "Ready"}
    if any(status not in valid for status in statuses):
        raise ApiError(
            "InvalidInstanceStatusException", "The specified instance status does not exist."
        )
    kinds = body.get("instanceTypeFilter") or []
    if any(kind not in ("Blue", "Green") for kind in kinds):
        raise ApiError(
            "InvalidInstanceTypeException",
            "An invalid instance type was specified for instances in a blue/green deployment.",
        )
    targets = [
        t
        for t in deployment.iter_targets()
        if (not statuses or t.status in statuses) and (not kinds or t.label in kinds)
    ]
    return one_page("instancesList", [t.target_id for t in targets], body)


def instance_summary(deployment: Deployment, instance_id: object) -> dict[str, Any]:
    if not isinstance(instance_id, str) or not instance_id:
        raise ApiError(*INSTANCE_ID_REQUIRED)
    target = existing(
        deployment.targets.get(instance_id),
        "InstanceDoesNotExistException",
        f"The instance {instance_id} is not part of the deployment {deployment.deployment_id}.",
    )
    return target.instance_summary(deployment.deployment_id)


def batch_get_deployment_instances(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    deployment = registry.deployment(body)
    require_instance_api(deployment)
    ids = batch(body, "instanceIds", INSTANCE_ID_REQUIRED, what="instance IDs")
    return {
        "instancesSummary": [instance_summary(deployment, i) for i in ids],
        "errorMessage": "",
    }


def get_deployment_instance(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    deployment = registry.deployment(body)
    require_instance_api(deployment)
    return {"instanceSummary": instance_summary(deployment, body.get("instanceId"))}
