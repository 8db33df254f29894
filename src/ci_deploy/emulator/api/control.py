"""Steering a running deployment: StopDeployment, ContinueDeployment and
PutLifecycleEventHookExecutionStatus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.registry import Registry


def stop_deployment(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    deployment = registry.deployment(body)
    if deployment.terminal:
        raise ApiError(
            "DeploymentAlreadyCompletedException",
            f"The deployment {deployment.deployment_id} has already completed.",
        )
    # autoRollbackEnabled says; absent, the auto-rollback configuration's
    # DEPLOYMENT_STOP_ON_REQUEST event does.
    asked = body.get("autoRollbackEnabled")
    config = deployment.auto_rollback or {}
    on_request = bool(config.get("enabled")) and (
        "DEPLOYMENT_STOP_ON_REQUEST" in (config.get("events") or [])
    )
    deployment.rollback_on_stop = on_request if asked is None else bool(asked)
    registry.rollouts[deployment.deployment_id].request_stop()
    return {
        "status": "Pending",
        "statusMessage": "Stopping Pending. Stopping to schedule commands in the deployment "
        "instances",
    }


def continue_deployment(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    deployment = registry.deployment(body)
    wait_type = body.get("deploymentWaitType") or "READY_WAIT"
    if wait_type not in ("READY_WAIT", "TERMINATION_WAIT"):
        raise ApiError(
            "InvalidDeploymentWaitTypeException",
            "The wait type is invalid; use READY_WAIT or TERMINATION_WAIT.",
        )
    if deployment.terminal:
        raise ApiError(
            "DeploymentAlreadyCompletedException",
            f"The deployment {deployment.deployment_id} has already completed.",
        )
    waiting = (
        deployment.termination_wait_started
        if wait_type == "TERMINATION_WAIT"
        else deployment.status == "Ready"
    )
    if not waiting:
        state = "waiting for termination" if wait_type == "TERMINATION_WAIT" else "Ready"
        raise ApiError(
            "DeploymentIsNotInReadyStateException",
            f"The deployment {deployment.deployment_id} is not {state}.",
        )
    release = (
        deployment.skip_termination_wait if wait_type == "TERMINATION_WAIT" else deployment.proceed
    )
    release.set()
    registry.rollouts[deployment.deployment_id].changed.notify_all()
    return {}


def put_lifecycle_event_hook_execution_status(
    registry: Registry, body: Mapping[str, Any]
) -> dict[str, Any]:
    deployment = registry.deployment(body)
    execution_id = body.get("lifecycleEventHookExecutionId")
    hook = deployment.hooks.get(execution_id) if isinstance(execution_id, str) else None
    if hook is None:
        raise ApiError(
            "InvalidLifecycleEventHookExecutionIdException",
            f"The lifecycle event hook execution ID {execution_id!r} is not valid for "
            f"deployment {deployment.deployment_id}.",
        )
    status = body.get("status")
    if status not in ("Succeeded", "Failed"):
        raise ApiError(
            "InvalidLifecycleEventHookExecutionStatusException",
            "The hook execution status must be Succeeded or Failed.",
        )
    if hook.status is not None or deployment.terminal:
        raise ApiError(
            "LifecycleEventAlreadyCompletedException",
            f"The lifecycle event {hook.event_name} has already completed.",
        )
    hook.status = status
    hook.reported.set()
    return {"lifecycleEventHookExecutionId": hook.execution_id}
