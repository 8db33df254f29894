"""The deployment configuration operations: Create, Get, List and Delete DeploymentConfig(s)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.api.members import compute_platform, one_page
from ci_deploy.emulator.configs import BUILT_INS
from ci_deploy.emulator.faults import ApiError, name
from ci_deploy.emulator.registry import Registry


def create_deployment_config(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    config_name = name(body, "deploymentConfigName", "DeploymentConfig")
    platform = compute_platform(body)
    if (
        any(c["deploymentConfigName"] == config_name for c in BUILT_INS)
        or config_name in registry.configs
    ):
        raise ApiError(
            "DeploymentConfigAlreadyExistsException",
            f"A deployment configuration with the name {config_name} already exists.",
        )
    config: dict[str, Any] = {
        "deploymentConfigId": str(uuid.uuid4()),
        "deploymentConfigName": config_name,
        "createTime": registry.clock(),
        "computePlatform": platform,
    }
    if platform == "Server":
        minimum = body.get("minimumHealthyHosts")
        if not isinstance(minimum, Mapping):
            raise ApiError(
                "InvalidMinimumHealthyHostValueException",
                "minimumHealthyHosts with a type and a value is required for the Server "
                "compute platform.",
            )
        kind, value = minimum.get("type"), minimum.get("value")
        if (
            kind not in ("HOST_COUNT", "FLEET_PERCENT")
            or not isinstance(value, int)
            or value < 0
            or (kind == "FLEET_PERCENT" and value > 99)
        ):
            raise ApiError(
                "InvalidMinimumHealthyHostValueException",
                "The minimum healthy instance value was specified in an invalid format: "
                "HOST_COUNT needs a value >= 0, FLEET_PERCENT a value from 0 to 99.",
            )
        config["minimumHealthyHosts"] = {"type": kind, "value": value}
    else:
        routing = body.get("trafficRoutingConfig") or {"type": "AllAtOnce"}
        kinds = {
            "AllAtOnce": None,
            "TimeBasedCanary": "timeBasedCanary",
            "TimeBasedLinear": "timeBasedLinear",
        }
        kind = routing.get("type")
        if kind not in kinds or (kinds[kind] and not isinstance(routing.get(kinds[kind]), Mapping)):
            raise ApiError(
                "InvalidTrafficRoutingConfigurationException",
                "The trafficRoutingConfig must be AllAtOnce, or "
                "TimeBasedCanary/TimeBasedLinear with its settings.",
            )
        config["trafficRoutingConfig"] = dict(routing)
    registry.configs[config_name] = config
    return {"deploymentConfigId": config["deploymentConfigId"]}


def get_deployment_config(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "deploymentConfigInfo": registry.config_info(
            name(body, "deploymentConfigName", "DeploymentConfig")
        )
    }


def list_deployment_configs(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    names = [c["deploymentConfigName"] for c in BUILT_INS] + sorted(registry.configs)
    return one_page("deploymentConfigsList", names, body)


def delete_deployment_config(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    config_name = name(body, "deploymentConfigName", "DeploymentConfig")
    if any(c["deploymentConfigName"] == config_name for c in BUILT_INS):
        raise ApiError(
            "InvalidDeploymentConfigNameException",
            f"The built-in deployment configuration {config_name} cannot be deleted.",
        )
    if any(g.settings.get("deploymentConfigName") == config_name for g in registry.groups.values()):
        raise ApiError(
            "DeploymentConfigInUseException",
            f"The deployment configuration {config_name} is still in use by a deployment group.",
        )
    registry.configs.pop(config_name, None)
    return {}
