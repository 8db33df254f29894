"""The deployment group operations, and the checks of a group's settings (styles, blue/green
options, tag filters, auto-rollback)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.api.members import batch, one_page
from ci_deploy.emulator.api.resources import group_arn, remember_tags
from ci_deploy.emulator.configs import DEFAULT_CONFIG
from ci_deploy.emulator.faults import ApiError, name
from ci_deploy.emulator.fleets import check_scaling_groups
from ci_deploy.emulator.model import Application, DeploymentGroup
from ci_deploy.emulator.registry import Registry, check_tag_filters

ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST")
GROUP_SETTINGS = (
    "deploymentConfigName",
    "ec2TagFilters",
    "onPremisesInstanceTagFilters",
    "autoScalingGroups",
    "serviceRoleArn",
    "triggerConfigurations",
    "alarmConfiguration",
    "autoRollbackConfiguration",
    "outdatedInstancesStrategy",
    "deploymentStyle",
    "blueGreenDeploymentConfiguration",
    "loadBalancerInfo",
    "ec2TagSet",
    "ecsServices",
    "onPremisesTagSet",
    "terminationHookEnabled",
)


def check_termination(option: object) -> None:
    """terminateBlueInstancesOnDeploymentSuccess (BlueInstanceTerminationOption)."""
    if option is None:
        return
    if not isinstance(option, Mapping) or option.get("action", "TERMINATE") not in (
        "TERMINATE",
        "KEEP_ALIVE",
    ):
        raise ApiError(
            "InvalidBlueGreenDeploymentConfigurationException",
            "terminateBlueInstancesOnDeploymentSuccess.action must be TERMINATE or KEEP_ALIVE.",
        )
    minutes = option.get("terminationWaitTimeInMinutes", 0)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 2880:
        raise ApiError(
            "InvalidBlueGreenDeploymentConfigurationException",
            "terminationWaitTimeInMinutes must be a whole number of minutes from 0 to 2880.",
        )


def check_auto_rollback(config: object) -> dict[str, Any] | None:
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise ApiError(
            "InvalidAutoRollbackConfigException", "autoRollbackConfiguration must be a structure."
        )
    events = config.get("events") or []
    unknown = [event for event in events if event not in ROLLBACK_EVENTS]
    if unknown:
        raise ApiError(
            "InvalidAutoRollbackConfigException",
            f"Unknown auto-rollback events {unknown}; use {', '.join(ROLLBACK_EVENTS)}.",
        )
    enabled = bool(config.get("enabled"))
    if enabled and not events:
        raise ApiError(
            "InvalidAutoRollbackConfigException",
            "AutoRollback is enabled but no events are specified.",
        )
    return {"enabled": enabled, "events": list(events)}


TRIGGER_EVENTS = (
    "DeploymentStart",
    "DeploymentSuccess",
    "DeploymentFailure",
    "DeploymentStop",
    "DeploymentRollback",
    "DeploymentReady",
    "InstanceStart",
    "InstanceSuccess",
    "InstanceFailure",
    "InstanceReady",
)
MAX_TRIGGERS = 10
MAX_ALARMS = 10


def check_triggers_and_alarms(settings: Mapping[str, Any]) -> None:
    """At most 10 triggers, each with a name, an SNS topic ARN and known events; at most 10
    alarms, each named."""
    triggers = settings.get("triggerConfigurations") or []
    if len(triggers) > MAX_TRIGGERS:
        raise ApiError(
            "TriggerTargetsLimitExceededException",
            f"The maximum allowed number of triggers ({MAX_TRIGGERS}) was exceeded.",
        )
    for trigger in triggers:
        events = trigger.get("triggerEvents") or []
        unknown = [e for e in events if e not in TRIGGER_EVENTS]
        arn = str(trigger.get("triggerTargetArn") or "")
        if not trigger.get("triggerName") or not arn.startswith("arn:aws") or ":sns:" not in arn:
            raise ApiError(
                "InvalidTriggerConfigException",
                "Each trigger needs a triggerName and the ARN of an SNS topic.",
            )
        if unknown:
            raise ApiError(
                "InvalidTriggerConfigException",
                f"Unknown trigger events {unknown}; use {', '.join(TRIGGER_EVENTS)}.",
            )
    alarms = (settings.get("alarmConfiguration") or {}).get("alarms") or []
    if len(alarms) > MAX_ALARMS:
        raise ApiError(
            "AlarmsLimitExceededException",
            f"The maximum number of alarms for a deployment group ({MAX_ALARMS}) was exceeded.",
        )
    if any(not alarm.get("name") for alarm in alarms):
        raise ApiError("InvalidAlarmConfigException", "Each alarm needs a name.")
    for filters, tag_set, error in (
        ("ec2TagFilters", "ec2TagSet", "InvalidEC2TagCombinationException"),
        (
            "onPremisesInstanceTagFilters",
            "onPremisesTagSet",
            "InvalidOnPremisesTagCombinationException",
        ),
    ):
        if settings.get(filters) and settings.get(tag_set):
            raise ApiError(error, f"Specify {filters} or {tag_set}, not both.")


def group_settings(
    registry: Registry, application: Application, body: Mapping[str, Any], base: Mapping[str, Any]
) -> dict[str, Any]:
    settings = dict(base)
    for key in GROUP_SETTINGS:
        if key in body and body[key] is not None:
            settings[key] = body[key]
    platform = application.compute_platform
    config_name = settings.get("deploymentConfigName") or DEFAULT_CONFIG[platform]
    registry.config_for(config_name, platform)
    settings["deploymentConfigName"] = config_name
    role = settings.get("serviceRoleArn")
    if not role:
        raise ApiError("RoleRequiredException", "The service role ARN was not specified.")
    if not isinstance(role, str) or not role.startswith("arn:aws") or ":role/" not in role:
        raise ApiError(
            "InvalidRoleException",
            f"The service role ARN {role!r} is not a valid IAM role ARN.",
        )
    check_triggers_and_alarms(settings)
    for key in ("ec2TagFilters", "onPremisesInstanceTagFilters"):
        check_tag_filters(settings.get(key))
        settings.setdefault(key, [])
    groups = settings.get("autoScalingGroups") or []
    if body.get("autoScalingGroups"):
        check_scaling_groups(registry.region, [str(g) for g in body["autoScalingGroups"]])
    settings["autoScalingGroups"] = [g if isinstance(g, Mapping) else {"name": g} for g in groups]
    default_style = (
        {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}
        if platform == "Server"
        else {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
    )
    style = {**default_style, **(settings.get("deploymentStyle") or {})}
    if style["deploymentType"] not in ("IN_PLACE", "BLUE_GREEN") or style[
        "deploymentOption"
    ] not in ("WITH_TRAFFIC_CONTROL", "WITHOUT_TRAFFIC_CONTROL"):
        raise ApiError(
            "InvalidDeploymentStyleException",
            "deploymentType must be IN_PLACE or BLUE_GREEN and deploymentOption "
            "WITH_TRAFFIC_CONTROL or WITHOUT_TRAFFIC_CONTROL.",
        )
    if platform != "Server" and style != default_style:
        raise ApiError(
            "InvalidDeploymentStyleException",
            f"{platform} deployment groups must use BLUE_GREEN with WITH_TRAFFIC_CONTROL.",
        )
    settings["deploymentStyle"] = style
    if style["deploymentType"] == "BLUE_GREEN" and platform == "Server":
        blue_green = settings.get("blueGreenDeploymentConfiguration") or {}
        ready = blue_green.get("deploymentReadyOption") or {}
        if ready.get("actionOnTimeout", "CONTINUE_DEPLOYMENT") not in (
            "CONTINUE_DEPLOYMENT",
            "STOP_DEPLOYMENT",
        ):
            raise ApiError(
                "InvalidBlueGreenDeploymentConfigurationException",
                "deploymentReadyOption.actionOnTimeout must be CONTINUE_DEPLOYMENT or "
                "STOP_DEPLOYMENT.",
            )
        check_termination(blue_green.get("terminateBlueInstancesOnDeploymentSuccess"))
        settings["blueGreenDeploymentConfiguration"] = blue_green
    elif platform == "ECS" and settings.get("blueGreenDeploymentConfiguration"):
        check_termination(
            settings["blueGreenDeploymentConfiguration"].get(
                "terminateBlueInstancesOnDeploymentSuccess"
            )
        )
    rollback = check_auto_rollback(settings.get("autoRollbackConfiguration"))
    settings["autoRollbackConfiguration"] = rollback or {"enabled": False, "events": []}
    settings.setdefault("outdatedInstancesStrategy", "UPDATE")
    settings.setdefault("triggerConfigurations", [])
    settings.setdefault(
        "alarmConfiguration", {"enabled": False, "ignorePollAlarmFailure": False, "alarms": []}
    )
    settings.setdefault("terminationHookEnabled", False)
    return settings


def create_deployment_group(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    group_name = name(body, "deploymentGroupName", "DeploymentGroup")
    application = registry.application(body)
    if (application.name, group_name) in registry.groups:
        raise ApiError(
            "DeploymentGroupAlreadyExistsException",
            f"The deployment group {group_name} already exists for application {application.name}.",
        )
    settings = group_settings(registry, application, body, {})
    remember_tags(
        registry, group_arn(registry.region, application.name, group_name), body.get("tags")
    )
    group = DeploymentGroup(
        str(uuid.uuid4()), application.name, group_name, settings, application.compute_platform
    )
    registry.groups[(application.name, group_name)] = group
    return {"deploymentGroupId": group.group_id}


def get_deployment_group(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    group_name = name(body, "deploymentGroupName", "DeploymentGroup")
    application = registry.application(body)
    group = registry.group(application, group_name)
    return {"deploymentGroupInfo": group.info()}


def update_deployment_group(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    application = registry.application(body)
    group = registry.group(application, name(body, "currentDeploymentGroupName", "DeploymentGroup"))
    new_name = group.name
    if body.get("newDeploymentGroupName"):
        new_name = name(body, "newDeploymentGroupName", "DeploymentGroup")
        if new_name != group.name and (application.name, new_name) in registry.groups:
            raise ApiError(
                "DeploymentGroupAlreadyExistsException",
                f"The deployment group {new_name} already exists for application "
                f"{application.name}.",
            )
    group.settings = group_settings(registry, application, body, group.settings)
    if new_name != group.name:
        del registry.groups[(application.name, group.name)]
        group.name = new_name
        registry.groups[(application.name, new_name)] = group
    return {"hooksNotCleanedUp": []}


def list_deployment_groups(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    application = registry.application(body)
    names = sorted(g.name for g in registry.groups.values() if g.application == application.name)
    return {"applicationName": application.name, **one_page("deploymentGroups", names, body)}


def batch_get_deployment_groups(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    application = registry.application(body)
    names = batch(
        body,
        "deploymentGroupNames",
        (
            "DeploymentGroupNameRequiredException",
            "The deployment group names were not specified.",
        ),
        what="names or IDs",
        limit=100,
    )
    found, missing = [], []
    for group_name in names:
        group = registry.groups.get((application.name, group_name))
        if group is None:
            missing.append(group_name)
        else:
            found.append(group.info())
    message = f"Deployment groups not found: {', '.join(missing)}" if missing else ""
    return {"deploymentGroupsInfo": found, "errorMessage": message}


def delete_deployment_group(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    group_name = name(body, "deploymentGroupName", "DeploymentGroup")
    application = registry.application(body)
    registry.groups.pop((application.name, group_name), None)
    return {"hooksNotCleanedUp": []}
