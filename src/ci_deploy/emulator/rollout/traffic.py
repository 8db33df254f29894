"""ECS and Lambda deployments: one simulated target walks the lifecycle events, hooks wait for
PutLifecycleEventHookExecutionStatus, and the traffic weights shift."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.model import HookExecution, LifecycleEvent, Target
from ci_deploy.emulator.rollout.state import Rollout


def run_traffic_shift(rollout: Rollout) -> None:
    """Simulate the ECS task-set swap or the Lambda alias shift, reporting each lifecycle
    event on one target; hooks wait for PutLifecycleEventHookExecutionStatus."""
    registry, deployment = rollout.registry, rollout.deployment
    plan = deployment.traffic_plan
    with registry.lock:
        target = Target(
            target_id=plan["target_id"],
            arn=plan["target_arn"],
            kind=plan["kind"],
            events=[LifecycleEvent(name) for name in plan["events"]],
            last_updated=rollout.now(),
            extra=plan["extra"],
        )
        deployment.targets[target.target_id] = target
        deployment.targets_assigned = True
        deployment.status = "InProgress"
        deployment.start_time = rollout.now()
        rollout.notify("DeploymentStart")
        rollout.set_target(target, "InProgress")
    hooks: Mapping[str, str] = plan["hooks"]
    for event in target.events:
        rollout.pause()
        with rollout.changed:
            if deployment.stop_requested.is_set():
                break
            event.status, event.start_time = "InProgress", rollout.now()
            target.last_updated = rollout.now()
            rollout.changed.notify_all()
        function = hooks.get(event.name)
        status = "Succeeded"
        diagnostics: dict[str, Any] | None = None
        if function is not None:
            status, diagnostics = run_hook(rollout, target, event, function)
        with rollout.changed:
            if event.name in {"AllowTraffic", "Install"} and status == "Succeeded":
                shift(target, event.name)
            event.status, event.end_time = status, rollout.now()
            event.diagnostics = diagnostics
            target.last_updated = rollout.now()
            rollout.changed.notify_all()
        if status != "Succeeded":
            break
    with rollout.changed:
        failed = any(event.status == "Failed" for event in target.events)
        if deployment.stop_requested.is_set():
            rollout.set_target(target, "Failed")
            rollout.finish("Stopped", *rollout.stop_reason)
        elif failed:
            rollout.set_target(target, "Failed")
            rollout.finish(
                "Failed",
                "HOOK_EXECUTION_FAILURE",
                "The deployment failed because a lifecycle event hook reported Failed or "
                "did not report in time.",
            )
        else:
            rollout.set_target(target, "Succeeded")
            if target.kind == "ECSTarget":  # the original task set waits for termination
                settings = deployment.group.settings.get("blueGreenDeploymentConfiguration")
                rollout.wait_for_termination(
                    (settings or {}).get("terminateBlueInstancesOnDeploymentSuccess")
                )
            if deployment.stop_requested.is_set():
                rollout.finish("Stopped", *rollout.stop_reason)
            else:
                rollout.finish("Succeeded")


def run_hook(
    rollout: Rollout, target: Target, event: LifecycleEvent, function: str
) -> tuple[str, dict[str, Any] | None]:
    """Wait for the hook's PutLifecycleEventHookExecutionStatus, or report it succeeded
    at once when the emulator does not wait for hooks."""
    deployment = rollout.deployment
    execution = HookExecution(
        execution_id=str(uuid.uuid4()),
        deployment_id=deployment.deployment_id,
        event_name=event.name,
        function_name=function,
    )
    message = (
        f"Waiting for hook {function}: call PutLifecycleEventHookExecutionStatus with "
        f"lifecycleEventHookExecutionId {execution.execution_id}"
    )
    with rollout.changed:
        deployment.hooks[execution.execution_id] = execution
        event.diagnostics = {
            "errorCode": "Success",
            "scriptName": function,
            "message": message,
            "logTail": "",
        }
    if not rollout.runtime.wait_for_hooks:
        execution.status = "Succeeded"
        execution.reported.set()
    reported = execution.reported.wait(rollout.runtime.hook_timeout_seconds)
    done = {
        "errorCode": "Success",
        "scriptName": function,
        "message": f"Hook {function} reported {execution.status}",
        "logTail": "",
    }
    if deployment.stop_requested.is_set():
        return "Failed", {**done, "errorCode": "UnknownError", "message": "stopped"}
    if not reported or execution.status is None:
        return "Failed", {
            **done,
            "errorCode": "ScriptTimedOut",
            "message": f"Hook {function} did not call PutLifecycleEventHookExecutionStatus "
            f"within {rollout.runtime.hook_timeout_seconds:.0f} seconds",
        }
    if execution.status != "Succeeded":
        return "Failed", {**done, "errorCode": "ScriptFailed"}
    return "Succeeded", done


def shift(target: Target, step: str) -> None:
    """Move the simulated traffic weights once the step is done."""
    if target.kind == "LambdaTarget" and step == "AllowTraffic":
        info = target.extra["lambdaFunctionInfo"]
        info["targetVersionWeight"] = 1.0
    elif target.kind == "ECSTarget":
        for task_set in target.extra["taskSetsInfo"]:
            if step == "Install" and task_set["taskSetLabel"] == "Green":
                task_set["runningCount"] = task_set["desiredCount"]
                task_set["pendingCount"] = 0
            if step == "AllowTraffic":
                green = task_set["taskSetLabel"] == "Green"
                task_set["trafficWeight"] = 100.0 if green else 0.0
                # The task set serving production traffic is PRIMARY, the other ACTIVE.
                task_set["status"] = "PRIMARY" if green else "ACTIVE"
