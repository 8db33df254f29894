"""Typed CodeDeploy calls: each wraps one API operation, parses its answer into plain values and
translates its errors (the watcher and deploy never see botocore)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from ci_deploy.aws.translate import translate
from ci_deploy.errors import AwsError
from ci_deploy.events import Diagnostics
from ci_deploy.vocabulary import (
    ACTIVE_DEPLOYMENT_STATUSES,
    OVERVIEW_KEYS,
    SERVER,
    TERMINAL_DEPLOYMENT_STATUSES,
    TERMINAL_TARGET_STATUSES,
)

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient

# BatchGetDeploymentTargets takes at most 25 target ids per call (CodeDeploy API reference).
BATCH_SIZE = 25


@dataclass(frozen=True)
class LifecycleEvent:
    name: str
    status: str  # Pending|InProgress|Succeeded|Failed|Skipped|Unknown
    start_time: datetime | None = None
    end_time: datetime | None = None
    diagnostics: Diagnostics | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return max(0.0, (self.end_time - self.start_time).total_seconds())


@dataclass(frozen=True)
class Target:
    target_id: str
    status: str  # Pending|InProgress|Succeeded|Failed|Skipped|Unknown|Ready
    lifecycle_events: tuple[LifecycleEvent, ...] = ()
    last_updated_at: datetime | None = None
    label: str | None = None  # Blue|Green for blue/green instance targets

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_TARGET_STATUSES


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    status: str
    application: str = ""
    deployment_group: str = ""
    overview: Mapping[str, int] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    rollback_deployment_id: str | None = None
    rollback_message: str | None = None
    compute_platform: str | None = None
    revision: Mapping[str, Any] | None = None
    creator: str | None = None
    create_time: datetime | None = None
    start_time: datetime | None = None
    complete_time: datetime | None = None
    status_messages: tuple[str, ...] = ()
    # autoRollbackConfiguration in effect: the events that trigger a rollback (empty: none).
    auto_rollback_events: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_DEPLOYMENT_STATUSES


@dataclass(frozen=True)
class DeploymentGroup:
    application: str
    name: str
    compute_platform: str
    deployment_config: str | None = None
    blue_green: bool = False
    # deploymentReadyOption: CONTINUE_DEPLOYMENT | STOP_DEPLOYMENT, and how long Ready waits
    ready_action: str | None = None
    ready_wait_minutes: int = 0
    termination_wait_minutes: int = 0


@dataclass(frozen=True)
class AutoRollback:
    """autoRollbackConfiguration: off, or on for these events (``vocabulary.ROLLBACK_ON_*``)."""

    enabled: bool
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetInstances:
    """targetInstances of a blue/green deployment: the replacement instances' Auto Scaling
    groups and (key, value) EC2 tags."""

    auto_scaling_groups: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NewDeployment:
    """What CreateDeployment is asked: a revision (a RevisionLocation, as the API takes it) for
    a deployment group, and the options the user set (None or False: the group's own)."""

    application: str
    deployment_group: str
    revision: Mapping[str, Any]
    deployment_config: str | None = None
    description: str | None = None
    file_exists_behavior: str | None = None
    ignore_application_stop_failures: bool = False
    auto_rollback: AutoRollback | None = None
    update_outdated_instances_only: bool = False
    target_instances: TargetInstances | None = None


@dataclass
class ApiStats:
    """What the calls cost: API calls we made and HTTP requests sent (with the SDK's retries)."""

    calls: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    failures: int = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def retries(self) -> int:
        return max(0, self.requests - self.total_calls)


def _diagnostics(raw: Mapping[str, Any] | None) -> Diagnostics | None:
    if not raw:
        return None
    return Diagnostics(
        error_code=str(raw.get("errorCode") or "UnknownError"),
        script_name=raw.get("scriptName") or None,
        message=str(raw.get("message") or ""),
        log_tail=str(raw.get("logTail") or ""),
    )


def parse_lifecycle_event(raw: Mapping[str, Any]) -> LifecycleEvent:
    return LifecycleEvent(
        name=str(raw.get("lifecycleEventName", "")),
        status=str(raw.get("status", "Unknown")),
        start_time=raw.get("startTime"),
        end_time=raw.get("endTime"),
        diagnostics=_diagnostics(raw.get("diagnostics")),
    )


_TARGET_KEYS = ("instanceTarget", "lambdaTarget", "ecsTarget", "cloudFormationTarget")


def parse_target(raw: Mapping[str, Any]) -> Target:
    """One entry of BatchGetDeploymentTargets' ``deploymentTargets`` (any compute platform)."""
    body: Mapping[str, Any] = next((raw[key] for key in _TARGET_KEYS if raw.get(key)), {})
    return Target(
        target_id=str(body.get("targetId", "")),
        status=str(body.get("status", "Unknown")),
        lifecycle_events=tuple(parse_lifecycle_event(e) for e in body.get("lifecycleEvents") or ()),
        last_updated_at=body.get("lastUpdatedAt"),
        label=body.get("instanceLabel"),
    )


def parse_deployment(raw: Mapping[str, Any]) -> Deployment:
    """GetDeployment's ``deploymentInfo``."""
    error = raw.get("errorInformation") or {}
    rollback = raw.get("rollbackInfo") or {}
    overview_raw = raw.get("deploymentOverview") or {}
    auto_rollback = raw.get("autoRollbackConfiguration") or {}
    # deploymentOverview may be absent early in blue/green deployments (sourcetoad#91).
    overview = {key: int(overview_raw.get(key) or 0) for key in OVERVIEW_KEYS}
    return Deployment(
        deployment_id=str(raw.get("deploymentId", "")),
        status=str(raw.get("status", "Created")),
        application=str(raw.get("applicationName", "")),
        deployment_group=str(raw.get("deploymentGroupName", "")),
        overview=overview,
        error_code=error.get("code"),
        error_message=error.get("message"),
        rollback_deployment_id=rollback.get("rollbackDeploymentId"),
        rollback_message=rollback.get("rollbackMessage"),
        compute_platform=raw.get("computePlatform"),
        revision=raw.get("revision"),
        creator=raw.get("creator"),
        create_time=raw.get("createTime"),
        start_time=raw.get("startTime"),
        complete_time=raw.get("completeTime"),
        status_messages=tuple(str(m) for m in raw.get("deploymentStatusMessages") or ()),
        auto_rollback_events=(
            tuple(str(e) for e in auto_rollback.get("events") or ())
            if auto_rollback.get("enabled")
            else ()
        ),
    )


def parse_deployment_group(raw: Mapping[str, Any]) -> DeploymentGroup:
    """GetDeploymentGroup's ``deploymentGroupInfo``."""
    style = raw.get("deploymentStyle") or {}
    blue_green = raw.get("blueGreenDeploymentConfiguration") or {}
    ready = blue_green.get("deploymentReadyOption") or {}
    terminate = blue_green.get("terminateBlueInstancesOnDeploymentSuccess") or {}
    return DeploymentGroup(
        application=str(raw.get("applicationName", "")),
        name=str(raw.get("deploymentGroupName", "")),
        compute_platform=str(raw.get("computePlatform") or SERVER),
        deployment_config=raw.get("deploymentConfigName"),
        blue_green=style.get("deploymentType") == "BLUE_GREEN",
        ready_action=ready.get("actionOnTimeout"),
        ready_wait_minutes=int(ready.get("waitTimeInMinutes") or 0),
        # EC2 blue/green and ECS both keep the original environment this long after success.
        termination_wait_minutes=int(terminate.get("terminationWaitTimeInMinutes") or 0),
    )


def create_deployment_params(new: NewDeployment, compute_platform: str) -> dict[str, Any]:
    """CreateDeployment's parameters for ``new`` in a group of ``compute_platform``."""
    params: dict[str, Any] = {
        "applicationName": new.application,
        "deploymentGroupName": new.deployment_group,
        "revision": dict(new.revision),
    }
    if new.deployment_config:
        params["deploymentConfigName"] = new.deployment_config
    if new.description:
        params["description"] = new.description
    # fileExistsBehavior exists only for EC2/on-premises; ECS and Lambda reject it
    # (InvalidFileExistsBehaviorException, jenkinsci/pipeline-aws-plugin#331).
    if new.file_exists_behavior and compute_platform == SERVER:
        params["fileExistsBehavior"] = new.file_exists_behavior
    if new.ignore_application_stop_failures:
        params["ignoreApplicationStopFailures"] = True
    if new.auto_rollback is not None:
        rollback: dict[str, Any] = {"enabled": new.auto_rollback.enabled}
        if new.auto_rollback.enabled:
            rollback["events"] = list(new.auto_rollback.events)
        params["autoRollbackConfiguration"] = rollback
    if new.update_outdated_instances_only:
        params["updateOutdatedInstancesOnly"] = True
    if new.target_instances is not None:
        params["targetInstances"] = _target_instances_params(new.target_instances)
    return params


def _target_instances_params(targets: TargetInstances) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if targets.auto_scaling_groups:
        found["autoScalingGroups"] = list(targets.auto_scaling_groups)
    if targets.tags:
        found["tagFilters"] = [
            {"Key": key, "Value": value, "Type": "KEY_AND_VALUE"} for key, value in targets.tags
        ]
    return found


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CodeDeployApi:
    """The CodeDeploy operations ci-deploy uses, for one region's client."""

    def __init__(self, client: CodeDeployClient, region: str) -> None:
        self.client = client
        self.region = region
        self.stats = ApiStats()
        client.meta.events.register("before-send.codedeploy", self._count_request)

    def _count_request(self, **_: Any) -> None:
        self.stats.requests += 1

    def _call(self, operation: str, context: str, **params: Any) -> dict[str, Any]:
        method = getattr(self.client, _snake(operation))
        self.stats.calls[operation] = self.stats.calls.get(operation, 0) + 1
        try:
            response: dict[str, Any] = method(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            self.stats.failures += 1
            where = f"{context} ({self.region})" if context else f"({self.region})"
            raise translate(error, operation, where) from error
        return response

    # -- reading

    def get_deployment(self, deployment_id: str) -> Deployment:
        response = self._call(
            "GetDeployment", f"deployment {deployment_id}", deploymentId=deployment_id
        )
        return parse_deployment(response.get("deploymentInfo") or {})

    def batch_get_deployments(self, deployment_ids: Sequence[str]) -> list[Deployment]:
        """Several deployments, 25 per call (the API reference's limit; the limits page says
        100)."""
        found: list[Deployment] = []
        for chunk in _chunks(list(deployment_ids), BATCH_SIZE):
            response = self._call(
                "BatchGetDeployments", f"{len(chunk)} deployments", deploymentIds=list(chunk)
            )
            found.extend(parse_deployment(raw) for raw in response.get("deploymentsInfo") or ())
        return found

    def list_deployment_targets(
        self, deployment_id: str, statuses: Sequence[str] = (), *, max_pages: int | None = None
    ) -> list[str]:
        """The target ids of the deployment (only those in ``statuses``, when given: the
        ``TargetStatus`` target filter); none yet when it has not started. ``max_pages`` stops
        paging early, for a caller that needs only some of them."""
        ids: list[str] = []
        params: dict[str, Any] = {"deploymentId": deployment_id}
        if statuses:
            params["targetFilters"] = {"TargetStatus": list(statuses)}
        pages = 0
        while True:
            try:
                response = self._call(
                    "ListDeploymentTargets", f"deployment {deployment_id}", **params
                )
            except AwsError as error:
                if error.code == "DeploymentNotStartedException":
                    return []
                raise
            ids.extend(response.get("targetIds") or ())
            pages += 1
            token = response.get("nextToken")
            if not token or (max_pages is not None and pages >= max_pages):
                return ids
            params["nextToken"] = token

    def batch_get_deployment_targets(
        self, deployment_id: str, target_ids: Sequence[str]
    ) -> list[Target]:
        targets: list[Target] = []
        for chunk in _chunks(list(target_ids), BATCH_SIZE):
            response = self._call(
                "BatchGetDeploymentTargets",
                f"deployment {deployment_id}",
                deploymentId=deployment_id,
                targetIds=list(chunk),
            )
            targets.extend(parse_target(raw) for raw in response.get("deploymentTargets") or ())
        return targets

    def get_deployment_group(self, application: str, group: str) -> DeploymentGroup:
        response = self._call(
            "GetDeploymentGroup",
            f"deployment group '{group}' of application '{application}'",
            applicationName=application,
            deploymentGroupName=group,
        )
        return parse_deployment_group(response.get("deploymentGroupInfo") or {})

    def check_deployment_config(self, name: str) -> None:
        """GetDeploymentConfig: AwsError when there is no such configuration (a dry run's
        check; CreateDeployment reads it too)."""
        self._call(
            "GetDeploymentConfig",
            f"deployment configuration '{name}'",
            deploymentConfigName=name,
        )

    def list_deployments(
        self, application: str, group: str, statuses: Sequence[str] = ACTIVE_DEPLOYMENT_STATUSES
    ) -> list[str]:
        """Deployment ids of one group (newest first, as the API returns them)."""
        ids: list[str] = []
        params: dict[str, Any] = {
            "applicationName": application,
            "deploymentGroupName": group,
            "includeOnlyStatuses": list(statuses),
        }
        while True:
            response = self._call(
                "ListDeployments",
                f"deployment group '{group}' of application '{application}'",
                **params,
            )
            ids.extend(response.get("deployments") or ())
            token = response.get("nextToken")
            if not token:
                return ids
            params["nextToken"] = token

    # -- acting

    def create_deployment(self, new: NewDeployment, compute_platform: str = SERVER) -> str:
        response = self._call(
            "CreateDeployment",
            f"deployment group '{new.deployment_group}' of application '{new.application}'",
            **create_deployment_params(new, compute_platform),
        )
        return str(response["deploymentId"])

    def stop_deployment(self, deployment_id: str, *, rollback: bool) -> tuple[str, str]:
        """Ask CodeDeploy to stop; returns (Pending|Succeeded, its status message)."""
        response = self._call(
            "StopDeployment",
            f"deployment {deployment_id}",
            deploymentId=deployment_id,
            autoRollbackEnabled=rollback,
        )
        return str(response.get("status") or "Pending"), str(response.get("statusMessage") or "")

    def continue_deployment(self, deployment_id: str, wait_type: str = "READY_WAIT") -> None:
        self._call(
            "ContinueDeployment",
            f"deployment {deployment_id}",
            deploymentId=deployment_id,
            deploymentWaitType=wait_type,
        )

    # -- demo set-up (the embedded emulator only; never done against AWS)

    def ensure_application_and_group(
        self,
        application: str,
        group: str,
        compute_platform: str,
        service_role_arn: str,
        ec2_tag_filters: list[dict[str, str]] | None = None,
    ) -> None:
        """Create the application and the group (selecting ``ec2_tag_filters``) if missing."""
        try:
            self._call(
                "CreateApplication",
                f"application '{application}'",
                applicationName=application,
                computePlatform=compute_platform,
            )
        except AwsError as error:
            if error.code != "ApplicationAlreadyExistsException":
                raise
        try:
            self._call(
                "CreateDeploymentGroup",
                f"deployment group '{group}' of application '{application}'",
                applicationName=application,
                deploymentGroupName=group,
                serviceRoleArn=service_role_arn,
                **({"ec2TagFilters": ec2_tag_filters} if ec2_tag_filters else {}),
            )
        except AwsError as error:
            if error.code != "DeploymentGroupAlreadyExistsException":
                raise


def _snake(operation: str) -> str:
    out = []
    for index, char in enumerate(operation):
        if char.isupper() and index:
            out.append("_")
        out.append(char.lower())
    return "".join(out)
