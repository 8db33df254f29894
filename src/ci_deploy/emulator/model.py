"""The emulator's resources: applications, groups, revisions, deployments and their targets.

Records hold what the API shows; ``*_info()`` methods render the API's own shapes (camelCase
JSON, timestamps as epoch seconds). All mutation happens under the store's one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_deploy.events import Diagnostics
from ci_deploy.vocabulary import OVERVIEW_KEYS, TERMINAL_DEPLOYMENT_STATUSES

ACCOUNT_ID = "123456789012"


@dataclass
class Application:
    application_id: str
    name: str
    compute_platform: str
    create_time: float

    def info(self) -> dict[str, Any]:
        return {
            "applicationId": self.application_id,
            "applicationName": self.name,
            "createTime": self.create_time,
            "linkedToGitHub": False,
            "computePlatform": self.compute_platform,
        }


@dataclass
class SimulatedInstance:
    """A host of a deployment group: its own install root and agent state."""

    instance_id: str
    index: int  # 1-based position in the group's fleet
    root: Path
    state_dir: Path
    revision_key: str | None = None  # the revision its last successful deployment installed
    on_premises: bool = False  # a registered on-premises instance (named, not an EC2 id)

    def arn(self, region: str) -> str:
        if self.on_premises:
            return on_premises_arn(region, self.instance_id)
        return f"arn:aws:ec2:{region}:{ACCOUNT_ID}:instance/{self.instance_id}"


def on_premises_arn(region: str, name: str) -> str:
    """How the service names an on-premises instance (InstanceInfo.instanceArn)."""
    return f"arn:aws:codedeploy:{region}:{ACCOUNT_ID}:instance/{name}"


@dataclass
class OnPremisesInstance:
    """A registered on-premises instance (RegisterOnPremisesInstance)."""

    name: str
    iam_session_arn: str | None
    iam_user_arn: str | None
    register_time: float
    deregister_time: float | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def info(self, region: str) -> dict[str, Any]:
        return {
            "instanceName": self.name,
            "instanceArn": on_premises_arn(region, self.name),
            "registerTime": self.register_time,
            "tags": [{"Key": k, "Value": v} for k, v in self.tags.items()],
            **present(
                iamSessionArn=self.iam_session_arn,
                iamUserArn=self.iam_user_arn,
                deregisterTime=self.deregister_time,
            ),
        }


@dataclass
class DeploymentGroup:
    group_id: str
    application: str
    name: str
    settings: dict[str, Any]  # every CreateDeploymentGroup member except the names
    compute_platform: str
    instances: list[SimulatedInstance] = field(default_factory=list)  # the last fleet chosen
    shortcut_launched: bool = False  # the ci-deploy:instances tag's instances are running
    retired: set[str] = field(default_factory=set)  # originals a blue/green deployment replaced
    scaling_group_copy: str | None = None  # COPY_AUTO_SCALING_GROUP's copy, until adopted
    last_successful: dict[str, Any] | None = None  # LastDeploymentInfo
    last_attempted: dict[str, Any] | None = None
    last_successful_revision: dict[str, Any] | None = None
    target_revision: dict[str, Any] | None = None

    def info(self) -> dict[str, Any]:
        return {
            "applicationName": self.application,
            "deploymentGroupId": self.group_id,
            "deploymentGroupName": self.name,
            "computePlatform": self.compute_platform,
            **self.settings,
            **present(
                targetRevision=self.target_revision,
                lastSuccessfulDeployment=self.last_successful,
                lastAttemptedDeployment=self.last_attempted,
            ),
        }

    @property
    def blue_green(self) -> bool:
        style = self.settings.get("deploymentStyle") or {}
        return bool(style.get("deploymentType") == "BLUE_GREEN")

    @property
    def has_load_balancer(self) -> bool:
        style = self.settings.get("deploymentStyle") or {}
        return bool(
            self.settings.get("loadBalancerInfo")
            and style.get("deploymentOption") == "WITH_TRAFFIC_CONTROL"
        )


@dataclass
class RegisteredRevision:
    location: dict[str, Any]
    description: str | None
    register_time: float | None
    first_used: float | None = None
    last_used: float | None = None
    groups: list[str] = field(default_factory=list)
    # ECS/Lambda: the AppSpec the revision was last deployed with (a rollback deploys it again).
    document: Mapping[str, Any] | None = None

    def generic_info(self) -> dict[str, Any]:
        return {
            "deploymentGroups": list(self.groups),
            **present(
                description=self.description,
                registerTime=self.register_time,
                firstUsedTime=self.first_used,
                lastUsedTime=self.last_used,
            ),
        }


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"
    start_time: float | None = None
    end_time: float | None = None
    diagnostics: dict[str, Any] | None = None

    def info(self) -> dict[str, Any]:
        return {
            "lifecycleEventName": self.name,
            "status": self.status,
            **present(
                startTime=self.start_time, endTime=self.end_time, diagnostics=self.diagnostics
            ),
        }


def present(**members: Any) -> dict[str, Any]:
    """The members that have a value: the API leaves an unset member out (never ``null``)."""
    return {key: value for key, value in members.items() if value is not None}


def diagnostics_info(diagnostics: Diagnostics) -> dict[str, Any]:
    # The agent always sends script_name ("" when no script is concerned).
    return {
        "errorCode": diagnostics.error_code,
        "scriptName": diagnostics.script_name or "",
        "message": diagnostics.message,
        "logTail": diagnostics.log_tail,
    }


@dataclass
class Target:
    """One target of a deployment: an instance, an ECS service or a Lambda function."""

    target_id: str
    arn: str
    kind: str  # InstanceTarget | ECSTarget | LambdaTarget
    events: list[LifecycleEvent]
    last_updated: float
    status: str = "Pending"
    label: str | None = None  # Blue | Green (instances of blue/green deployments)
    instance: SimulatedInstance | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # taskSetsInfo / lambdaFunctionInfo
    cancel: threading.Event = field(default_factory=threading.Event)

    def event(self, name: str) -> LifecycleEvent | None:
        return next((event for event in self.events if event.name == name), None)

    def _progress(self, deployment_id: str) -> dict[str, Any]:
        """What the target API and the legacy instance API both show."""
        return {
            "deploymentId": deployment_id,
            "status": self.status,
            "lastUpdatedAt": self.last_updated,
            "lifecycleEvents": [event.info() for event in self.events],
        }

    def info(self, deployment_id: str) -> dict[str, Any]:
        return {
            **self._progress(deployment_id),
            "targetId": self.target_id,
            "targetArn": self.arn,
            **self.extra,
            **present(instanceLabel=self.label),
        }

    def instance_summary(self, deployment_id: str) -> dict[str, Any]:
        return {
            **self._progress(deployment_id),
            "instanceId": self.arn,
            **present(instanceType=self.label),
        }


@dataclass
class HookExecution:
    """An ECS/Lambda hook waiting for PutLifecycleEventHookExecutionStatus."""

    execution_id: str
    deployment_id: str
    event_name: str
    function_name: str
    status: str | None = None  # Succeeded | Failed once reported
    reported: threading.Event = field(default_factory=threading.Event)


@dataclass
class Deployment:
    deployment_id: str
    application: str
    group: DeploymentGroup
    config_name: str
    revision: dict[str, Any]
    create_time: float
    creator: str
    compute_platform: str
    options: dict[str, Any]  # description, ignoreApplicationStopFailures, fileExistsBehavior...
    previous_revision: dict[str, Any] | None = None
    status: str = "Created"
    start_time: float | None = None
    complete_time: float | None = None
    error: dict[str, str] | None = None
    rollback_info: dict[str, str] | None = None
    status_messages: list[str] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)  # in scheduling order
    targets_assigned: bool = False
    stop_requested: threading.Event = field(default_factory=threading.Event)
    proceed: threading.Event = field(default_factory=threading.Event)  # ContinueDeployment
    # Blue/green: the originals wait for termination; ContinueDeployment(TERMINATION_WAIT).
    termination_wait_started: bool = False
    skip_termination_wait: threading.Event = field(default_factory=threading.Event)
    hooks: dict[str, HookExecution] = field(default_factory=dict)
    auto_rollback: dict[str, Any] | None = None
    rollback_on_stop: bool = False
    # ECS/Lambda: the simulated target (id, arn, kind, events, hooks, extra).
    traffic_plan: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_DEPLOYMENT_STATUSES

    def overview(self) -> dict[str, int]:
        counts = dict.fromkeys(OVERVIEW_KEYS, 0)
        for target in self.targets.values():
            if target.status in counts:
                counts[target.status] += 1
        return counts

    def iter_targets(self) -> Iterator[Target]:
        return iter(list(self.targets.values()))

    def info(self) -> dict[str, Any]:
        group = self.group
        info: dict[str, Any] = {
            "applicationName": self.application,
            "deploymentGroupName": group.name,
            "deploymentConfigName": self.config_name,
            "deploymentId": self.deployment_id,
            "revision": self.revision,
            "status": self.status,
            "createTime": self.create_time,
            "creator": self.creator,
            "computePlatform": self.compute_platform,
            "deploymentStyle": group.settings.get(
                "deploymentStyle",
                {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
            ),
            "deploymentStatusMessages": list(self.status_messages),
            **self.options,
            **present(
                deploymentOverview=self.overview() if self.targets_assigned else None,
                previousRevision=self.previous_revision,
                startTime=self.start_time,
                completeTime=self.complete_time,
                errorInformation=self.error,
                rollbackInfo=self.rollback_info,
                autoRollbackConfiguration=self.auto_rollback,
            ),
        }
        if group.blue_green and self.compute_platform == "Server":
            info["blueGreenDeploymentConfiguration"] = group.settings.get(
                "blueGreenDeploymentConfiguration", {}
            )
        if group.blue_green and self.compute_platform in ("Server", "ECS"):
            info["instanceTerminationWaitTimeStarted"] = self.termination_wait_started
        if group.settings.get("loadBalancerInfo"):
            info["loadBalancerInfo"] = group.settings["loadBalancerInfo"]
        if self.revision.get("revisionType") == "AppSpecContent":
            # GetDeployment never returns the content; GetApplicationRevision does.
            content = dict(self.revision["appSpecContent"])
            content.pop("content", None)
            info["revision"] = {**self.revision, "appSpecContent": content}
        return info

    def last_deployment_info(self) -> dict[str, Any]:
        return {
            "deploymentId": self.deployment_id,
            "status": self.status,
            "createTime": self.create_time,
            **present(endTime=self.complete_time),
        }
