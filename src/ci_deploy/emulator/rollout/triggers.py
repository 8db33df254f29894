"""Triggers: a group's ``triggerConfigurations`` publish the service's notification messages to
their SNS topics (moto's, in the group's region) for the events they list, in the JSON formats
of the user guide's "JSON data formats for CodeDeploy triggers"."""

from __future__ import annotations

import json
from typing import Any

from ci_deploy.emulator.fleets import publish
from ci_deploy.emulator.model import ACCOUNT_ID, Deployment, Target
from ci_deploy.emulator.registry import Registry

DEPLOYMENT_EVENTS = {
    "InProgress": "DeploymentStart",
    "Succeeded": "DeploymentSuccess",
    "Failed": "DeploymentFailure",
    "Stopped": "DeploymentStop",
    "Ready": "DeploymentReady",
}
INSTANCE_EVENTS = {
    "InProgress": "InstanceStart",
    "Succeeded": "InstanceSuccess",
    "Failed": "InstanceFailure",
    "Ready": "InstanceReady",
}


def stamp(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def triggers_for(deployment: Deployment, event: str) -> list[dict[str, Any]]:
    return [
        trigger
        for trigger in deployment.group.settings.get("triggerConfigurations") or []
        if event in (trigger.get("triggerEvents") or []) and trigger.get("triggerTargetArn")
    ]


def deployment_event(registry: Registry, deployment: Deployment, event: str) -> None:
    """Publish a deployment-based notification (caller holds the lock)."""
    for trigger in triggers_for(deployment, event):
        message: dict[str, Any] = {
            "region": registry.region,
            "accountId": ACCOUNT_ID,
            "eventTriggerName": trigger.get("triggerName", ""),
            "applicationName": deployment.application,
            "deploymentId": deployment.deployment_id,
            "deploymentGroupName": deployment.group.name,
            "createTime": stamp(deployment.create_time),
            "completeTime": stamp(deployment.complete_time),
            "deploymentOverview": {k: str(v) for k, v in deployment.overview().items()},
            "status": deployment.status,
        }
        if deployment.error:
            message["errorInformation"] = {
                "ErrorCode": deployment.error.get("code", ""),
                "ErrorMessage": deployment.error.get("message", ""),
            }
        send(registry, trigger, message)


def instance_event(registry: Registry, deployment: Deployment, target: Target) -> None:
    """Publish an instance-based notification for the target's new status (lock held)."""
    event = INSTANCE_EVENTS.get(target.status)
    if event is None or target.kind != "InstanceTarget":
        return
    for trigger in triggers_for(deployment, event):
        send(
            registry,
            trigger,
            {
                "region": registry.region,
                "accountId": ACCOUNT_ID,
                "eventTriggerName": trigger.get("triggerName", ""),
                "deploymentId": deployment.deployment_id,
                "instanceId": target.arn,
                "lastUpdatedAt": stamp(target.last_updated),
                "instanceStatus": target.status,
                "lifecycleEvents": [
                    {
                        "LifecycleEvent": e.name,
                        "LifecycleEventStatus": e.status,
                        "StartTime": stamp(e.start_time),
                        "EndTime": stamp(e.end_time),
                    }
                    for e in target.events
                ],
            },
        )


def send(registry: Registry, trigger: dict[str, Any], message: dict[str, Any]) -> None:
    body = {key: value for key, value in message.items() if value is not None}
    publish(registry.region, str(trigger["triggerTargetArn"]), json.dumps(body))
