"""The CodeDeploy service: validation and the operations of the JSON API, over one Registry."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_deploy.agent import run_deployment
from ci_deploy.agent.environment import hook_base_env
from ci_deploy.emulator import protocol, revisions
from ci_deploy.emulator.configs import BUILT_INS, DEFAULT_CONFIG
from ci_deploy.emulator.faults import ApiError, deployment_id, name, required, valid_name
from ci_deploy.emulator.model import (
    ACCOUNT_ID,
    Application,
    Deployment,
    DeploymentGroup,
    RegisteredRevision,
)
from ci_deploy.emulator.registry import Engine, Registry, Runtime, check_tag_filters, existing
from ci_deploy.emulator.revisions import S3Object, WsgiApp, revision_key
from ci_deploy.emulator.rollout import ECS_EVENTS, LAMBDA_EVENTS, Rollout

PLATFORMS = ("Server", "Lambda", "ECS")
# CreateDeployment parses an ECS/Lambda AppSpec outside the service lock, then runs again with
# it; a third round only when the revision or platform changed in between.
DOCUMENT_ROUNDS = 3
BATCH_LIMIT = 25
PAGE_SIZE = 100
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


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError("InvalidInputException", f"{key} must be a string.")
    return value


@dataclass(frozen=True)
class AppSpecSource:
    """Where an ECS/Lambda revision's AppSpec comes from: inline content, or an S3 object."""

    platform: str  # ecs or lambda
    content: str | None = None
    sha256: str | None = None
    s3: Mapping[str, Any] | None = None


DocumentKey = tuple[str, str]  # (revision_key, platform)
Documents = dict[DocumentKey, Mapping[str, Any] | ApiError]


class _NeedsDocument(Exception):
    """CreateDeployment needs this AppSpec parsed, which is done outside the service lock."""

    def __init__(self, key: DocumentKey, source: AppSpecSource) -> None:
        super().__init__(key)
        self.key = key
        self.source = source


def _platform(body: Mapping[str, Any]) -> str:
    platform = body.get("computePlatform") or "Server"
    if platform not in PLATFORMS:
        raise ApiError(
            "InvalidComputePlatformException",
            f"The computePlatform {platform} is not valid; use Server, Lambda or ECS.",
        )
    return str(platform)


def _description(body: Mapping[str, Any]) -> str | None:
    description = _text(body, "description")
    if description is not None and len(description) > 256:
        raise ApiError("DescriptionTooLongException", "The description is too long.")
    return description


def _batch(
    body: Mapping[str, Any],
    key: str,
    missing: tuple[str, str],
    *,
    what: str,
    limit: int = BATCH_LIMIT,
    too_many: str = "BatchLimitExceededException",
) -> list[Any]:
    """The names or ids of a Batch* request: present (else ``missing``: code, message), a list,
    and at most ``limit`` of them."""
    items = required(body, key, *missing)
    if not isinstance(items, list):
        raise ApiError("InvalidInputException", f"{key} must be a list.")
    if len(items) > limit:
        raise ApiError(
            too_many,
            f"The maximum number of {what} allowed for this request ({limit}) was exceeded.",
        )
    return items


def _page(key: str, items: list[Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """A List* answer: one page of ``items`` under ``key``, and the token of the next one."""
    page, token = _paginate(items, body.get("nextToken"))
    return {key: page, **({"nextToken": token} if token else {})}


def _missing_object(s3: Mapping[str, Any]) -> ApiError:
    version = f" (version {s3['version']})" if s3.get("version") else ""
    return ApiError(
        "RevisionDoesNotExistException",
        "No application revision found for revision: the object "
        f"s3://{s3['bucket']}/{s3['key']}{version} does not exist.",
    )


def _paginate(items: list[Any], token: object) -> tuple[list[Any], str | None]:
    start = 0
    if token is not None:
        if not isinstance(token, str) or not token.startswith("page-") or not token[5:].isdigit():
            raise ApiError(
                "InvalidNextTokenException", "The next token was specified in an invalid format."
            )
        start = int(token[5:])
    page = items[start : start + PAGE_SIZE]
    after = start + PAGE_SIZE
    return page, (f"page-{after}" if after < len(items) else None)


def _check_termination(option: object) -> None:
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


def _check_auto_rollback(config: object) -> dict[str, Any] | None:
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


class Service:
    """All of the emulator's CodeDeploy state, behind one lock."""

    def __init__(
        self,
        *,
        state_dir: Path,
        s3_app: WsgiApp,
        region: str = "us-east-1",
        instances: int = 3,
        event_delay_ms: int = 0,
        engine: Engine | None = None,
        hook_env: Mapping[str, str] | None = None,
        wait_for_hooks: bool = False,
        hook_timeout_seconds: float = 3600.0,
        max_unpacked_size: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = Registry(
            state_dir=state_dir,
            s3_app=s3_app,
            region=region,
            instances=instances,
            runtime=Runtime(
                engine=run_deployment if engine is None else engine,
                # A PATH under what the caller gives; given nothing (deploy --emulator), hooks
                # start from the bare base local's hooks start from.
                hook_env={**hook_base_env({}), **(hook_env or {})},
                event_delay_seconds=event_delay_ms / 1000,
                wait_for_hooks=wait_for_hooks,
                hook_timeout_seconds=hook_timeout_seconds,
                max_unpacked_size=max_unpacked_size,
            ),
            clock=clock,
        )

    def stop_all(self) -> None:
        """Stop every running deployment and wait for its threads (server shutdown)."""
        self.registry.stop_all()

    # -- the protocol entry point --------------------------------------------------------------

    def handle(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise ApiError(
                "UnknownOperationException", f"The emulator does not implement {operation}."
            )
        protocol.check_input(operation, body)
        if operation == "CreateDeployment":
            return self.create_deployment(body)
        with self.registry.lock:
            result: dict[str, Any] = handler(body)
        return result

    def create_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """CreateDeployment, with an ECS/Lambda AppSpec read and parsed outside the lock: a slow
        document (huge, or hostile YAML) must not hold up every other call."""
        documents: Documents = {}
        for _ in range(DOCUMENT_ROUNDS):
            with self.registry.lock:
                try:
                    return self.op_CreateDeployment(body, documents)
                except _NeedsDocument as needed:
                    wanted = needed
            documents[wanted.key] = self.load_document(wanted.source)
        raise ApiError(
            "InvalidRevisionException",
            "The revision or its application changed while the AppSpec was checked; retry.",
        )

    def load_document(self, source: AppSpecSource) -> Mapping[str, Any] | ApiError:
        """The parsed AppSpec, or the API error it is (called without the lock)."""
        try:
            if source.s3 is None:
                return revisions.parse_appspec_content(
                    source.content or "", source.sha256, source.platform
                )
            s3 = source.s3
            data = self.registry.bundles.read(
                S3Object(s3["bucket"], s3["key"], "", s3.get("version"))
            )
            if data is None:
                return _missing_object(s3)
            return revisions.parse_appspec_content(
                data.decode("utf-8", errors="replace"), None, source.platform
            )
        except ApiError as error:
            return error

    # -- applications --------------------------------------------------------------------------

    def op_CreateApplication(self, body: Mapping[str, Any]) -> dict[str, Any]:
        app_name = name(body, "applicationName", "Application")
        platform = _platform(body)
        if app_name in self.registry.applications:
            raise ApiError(
                "ApplicationAlreadyExistsException",
                f"The application {app_name} already exists with the IAM user or AWS account.",
            )
        application = Application(str(uuid.uuid4()), app_name, platform, self.registry.clock())
        self.registry.applications[app_name] = application
        self.registry.revisions[app_name] = {}
        return {"applicationId": application.application_id}

    def op_GetApplication(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"application": self.registry.application(body).info()}

    def op_ListApplications(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return _page("applications", sorted(self.registry.applications), body)

    def op_BatchGetApplications(self, body: Mapping[str, Any]) -> dict[str, Any]:
        names = _batch(
            body,
            "applicationNames",
            (
                "ApplicationNameRequiredException",
                "The minimum number of required application names was not specified.",
            ),
            what="names or IDs",
            limit=100,
        )
        return {
            "applicationsInfo": [
                self.registry.application({"applicationName": n}).info() for n in names
            ]
        }

    def op_DeleteApplication(self, body: Mapping[str, Any]) -> dict[str, Any]:
        app_name = name(body, "applicationName", "Application")
        if app_name in self.registry.applications:
            del self.registry.applications[app_name]
            self.registry.revisions.pop(app_name, None)
            for key in [key for key in self.registry.groups if key[0] == app_name]:
                del self.registry.groups[key]
        return {}

    # -- deployment configurations -------------------------------------------------------------

    def op_CreateDeploymentConfig(self, body: Mapping[str, Any]) -> dict[str, Any]:
        config_name = name(body, "deploymentConfigName", "DeploymentConfig")
        platform = _platform(body)
        if (
            any(c["deploymentConfigName"] == config_name for c in BUILT_INS)
            or config_name in self.registry.configs
        ):
            raise ApiError(
                "DeploymentConfigAlreadyExistsException",
                f"A deployment configuration with the name {config_name} already exists.",
            )
        config: dict[str, Any] = {
            "deploymentConfigId": str(uuid.uuid4()),
            "deploymentConfigName": config_name,
            "createTime": self.registry.clock(),
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
            if kind not in kinds or (
                kinds[kind] and not isinstance(routing.get(kinds[kind]), Mapping)
            ):
                raise ApiError(
                    "InvalidTrafficRoutingConfigurationException",
                    "The trafficRoutingConfig must be AllAtOnce, or "
                    "TimeBasedCanary/TimeBasedLinear with its settings.",
                )
            config["trafficRoutingConfig"] = dict(routing)
        self.registry.configs[config_name] = config
        return {"deploymentConfigId": config["deploymentConfigId"]}

    def op_GetDeploymentConfig(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "deploymentConfigInfo": self.registry.config_info(
                name(body, "deploymentConfigName", "DeploymentConfig")
            )
        }

    def op_ListDeploymentConfigs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        names = [c["deploymentConfigName"] for c in BUILT_INS] + sorted(self.registry.configs)
        return _page("deploymentConfigsList", names, body)

    def op_DeleteDeploymentConfig(self, body: Mapping[str, Any]) -> dict[str, Any]:
        config_name = name(body, "deploymentConfigName", "DeploymentConfig")
        if any(c["deploymentConfigName"] == config_name for c in BUILT_INS):
            raise ApiError(
                "InvalidDeploymentConfigNameException",
                f"The built-in deployment configuration {config_name} cannot be deleted.",
            )
        if any(
            g.settings.get("deploymentConfigName") == config_name
            for g in self.registry.groups.values()
        ):
            raise ApiError(
                "DeploymentConfigInUseException",
                f"The deployment configuration {config_name} is still in use by a deployment "
                "group.",
            )
        self.registry.configs.pop(config_name, None)
        return {}

    # -- deployment groups ---------------------------------------------------------------------

    def _group_settings(
        self, application: Application, body: Mapping[str, Any], base: Mapping[str, Any]
    ) -> dict[str, Any]:
        settings = dict(base)
        for key in GROUP_SETTINGS:
            if key in body and body[key] is not None:
                settings[key] = body[key]
        platform = application.compute_platform
        config_name = settings.get("deploymentConfigName") or DEFAULT_CONFIG[platform]
        self.registry.config_for(config_name, platform)
        settings["deploymentConfigName"] = config_name
        role = settings.get("serviceRoleArn")
        if not role:
            raise ApiError("RoleRequiredException", "The service role ARN was not specified.")
        if not isinstance(role, str) or not role.startswith("arn:aws") or ":role/" not in role:
            raise ApiError(
                "InvalidRoleException",
                f"The service role ARN {role!r} is not a valid IAM role ARN.",
            )
        for key in ("ec2TagFilters", "onPremisesInstanceTagFilters"):
            check_tag_filters(settings.get(key))
            settings.setdefault(key, [])
        groups = settings.get("autoScalingGroups") or []
        settings["autoScalingGroups"] = [
            g if isinstance(g, Mapping) else {"name": g} for g in groups
        ]
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
            _check_termination(blue_green.get("terminateBlueInstancesOnDeploymentSuccess"))
            settings["blueGreenDeploymentConfiguration"] = blue_green
        elif platform == "ECS" and settings.get("blueGreenDeploymentConfiguration"):
            _check_termination(
                settings["blueGreenDeploymentConfiguration"].get(
                    "terminateBlueInstancesOnDeploymentSuccess"
                )
            )
        rollback = _check_auto_rollback(settings.get("autoRollbackConfiguration"))
        settings["autoRollbackConfiguration"] = rollback or {"enabled": False, "events": []}
        settings.setdefault("outdatedInstancesStrategy", "UPDATE")
        settings.setdefault("triggerConfigurations", [])
        settings.setdefault(
            "alarmConfiguration", {"enabled": False, "ignorePollAlarmFailure": False, "alarms": []}
        )
        settings.setdefault("terminationHookEnabled", False)
        return settings

    def op_CreateDeploymentGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        group_name = name(body, "deploymentGroupName", "DeploymentGroup")
        application = self.registry.application(body)
        if (application.name, group_name) in self.registry.groups:
            raise ApiError(
                "DeploymentGroupAlreadyExistsException",
                f"The deployment group {group_name} already exists for application "
                f"{application.name}.",
            )
        settings = self._group_settings(application, body, {})
        group = DeploymentGroup(
            str(uuid.uuid4()), application.name, group_name, settings, application.compute_platform
        )
        self.registry.groups[(application.name, group_name)] = group
        return {"deploymentGroupId": group.group_id}

    def op_GetDeploymentGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        group_name = name(body, "deploymentGroupName", "DeploymentGroup")
        application = self.registry.application(body)
        group = self.registry.group(application, group_name)
        return {"deploymentGroupInfo": group.info()}

    def op_UpdateDeploymentGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        application = self.registry.application(body)
        group = self.registry.group(
            application, name(body, "currentDeploymentGroupName", "DeploymentGroup")
        )
        new_name = group.name
        if body.get("newDeploymentGroupName"):
            new_name = name(body, "newDeploymentGroupName", "DeploymentGroup")
            if new_name != group.name and (application.name, new_name) in self.registry.groups:
                raise ApiError(
                    "DeploymentGroupAlreadyExistsException",
                    f"The deployment group {new_name} already exists for application "
                    f"{application.name}.",
                )
        group.settings = self._group_settings(application, body, group.settings)
        if new_name != group.name:
            del self.registry.groups[(application.name, group.name)]
            group.name = new_name
            self.registry.groups[(application.name, new_name)] = group
        return {"hooksNotCleanedUp": []}

    def op_ListDeploymentGroups(self, body: Mapping[str, Any]) -> dict[str, Any]:
        application = self.registry.application(body)
        names = sorted(
            g.name for g in self.registry.groups.values() if g.application == application.name
        )
        return {"applicationName": application.name, **_page("deploymentGroups", names, body)}

    def op_BatchGetDeploymentGroups(self, body: Mapping[str, Any]) -> dict[str, Any]:
        application = self.registry.application(body)
        names = _batch(
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
            group = self.registry.groups.get((application.name, group_name))
            if group is None:
                missing.append(group_name)
            else:
                found.append(group.info())
        message = f"Deployment groups not found: {', '.join(missing)}" if missing else ""
        return {"deploymentGroupsInfo": found, "errorMessage": message}

    def op_DeleteDeploymentGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        group_name = name(body, "deploymentGroupName", "DeploymentGroup")
        application = self.registry.application(body)
        self.registry.groups.pop((application.name, group_name), None)
        return {"hooksNotCleanedUp": []}

    # -- revisions -----------------------------------------------------------------------------

    def _check_revision(self, application: Application, location: object) -> dict[str, Any]:
        if not isinstance(location, Mapping) or not location.get("revisionType"):
            raise ApiError("RevisionRequiredException", "The revision ID was not specified.")
        kind = location["revisionType"]
        platform = application.compute_platform
        if kind == "S3":
            s3 = location.get("s3Location")
            if not isinstance(s3, Mapping):
                raise ApiError("InvalidRevisionException", "An S3 revision needs an s3Location.")
            revisions.check_s3_location(s3, platform)
        elif kind == "AppSpecContent":
            if platform == "Server":
                raise ApiError(
                    "InvalidRevisionException",
                    "AppSpecContent revisions are for the ECS and Lambda compute platforms only.",
                )
            if not isinstance(location.get("appSpecContent"), Mapping) or not location[
                "appSpecContent"
            ].get("content"):
                raise ApiError(
                    "InvalidRevisionException", "An AppSpecContent revision needs its content."
                )
        elif kind == "String":
            if platform != "Lambda":
                raise ApiError(
                    "InvalidRevisionException",
                    "String revisions are for the Lambda compute platform only.",
                )
        elif kind == "GitHub":
            revisions.check_github_location(location.get("gitHubLocation"), platform)
        else:
            raise ApiError("InvalidRevisionException", f"The revision type {kind} is not valid.")
        return dict(location)

    def _remember(
        self,
        application: Application,
        location: dict[str, Any],
        *,
        description: str | None,
        registered: bool,
    ) -> RegisteredRevision:
        known = self.registry.revisions.setdefault(application.name, {})
        key = revision_key(location)
        record = known.get(key)
        if record is None:
            record = RegisteredRevision(
                location, description, self.registry.clock() if registered else None
            )
            known[key] = record
        elif registered:
            record.register_time = self.registry.clock()
            record.description = description if description is not None else record.description
        return record

    def op_RegisterApplicationRevision(self, body: Mapping[str, Any]) -> dict[str, Any]:
        application = self.registry.application(body)
        location = self._check_revision(application, body.get("revision"))
        description = _description(body)
        self._remember(application, location, description=description, registered=True)
        return {}

    def _find_revision(self, application: Application, location: object) -> RegisteredRevision:
        if not isinstance(location, Mapping):
            raise ApiError("RevisionRequiredException", "The revision ID was not specified.")
        record = self.registry.revisions.get(application.name, {}).get(revision_key(location))
        if record is None:
            raise ApiError(
                "RevisionDoesNotExistException",
                "No application revision found for revision "
                f"{json.dumps(location, sort_keys=True)}",
            )
        return record

    def op_GetApplicationRevision(self, body: Mapping[str, Any]) -> dict[str, Any]:
        application = self.registry.application(body)
        record = self._find_revision(application, body.get("revision"))
        return {
            "applicationName": application.name,
            "revision": record.location,
            "revisionInfo": record.generic_info(),
        }

    def op_BatchGetApplicationRevisions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        application = self.registry.application(body)
        wanted = _batch(
            body,
            "revisions",
            ("RevisionRequiredException", "The revision ID was not specified."),
            what="revisions",
        )
        found = []
        for location in wanted:
            record = self._find_revision(application, location)
            found.append(
                {"revisionLocation": record.location, "genericRevisionInfo": record.generic_info()}
            )
        return {"applicationName": application.name, "errorMessage": "", "revisions": found}

    def op_ListApplicationRevisions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        application = self.registry.application(body)
        sort_by = body.get("sortBy")
        if sort_by not in (None, "registerTime", "firstUsedTime", "lastUsedTime"):
            raise ApiError(
                "InvalidSortByException",
                "The column name to sort by is either not present or was specified in an "
                "invalid format.",
            )
        order = body.get("sortOrder") or "ascending"
        if order not in ("ascending", "descending"):
            raise ApiError(
                "InvalidSortOrderException", "The sort order was specified in an invalid format."
            )
        bucket, prefix = body.get("s3Bucket"), body.get("s3KeyPrefix")
        if prefix and not bucket:
            raise ApiError(
                "BucketNameFilterRequiredException",
                "A bucket name is required when a key prefix is given.",
            )
        deployed = body.get("deployed") or "ignore"
        if deployed not in ("include", "exclude", "ignore"):
            raise ApiError(
                "InvalidDeployedStateFilterException",
                "The deployed state filter was specified in an invalid format.",
            )
        records = list(self.registry.revisions.get(application.name, {}).values())
        if bucket:
            records = [
                r
                for r in records
                if (r.location.get("s3Location") or {}).get("bucket") == bucket
                and str((r.location.get("s3Location") or {}).get("key", "")).startswith(
                    prefix or ""
                )
            ]
        if deployed == "include":
            records = [r for r in records if r.first_used is not None]
        elif deployed == "exclude":
            records = [r for r in records if r.first_used is None]
        if sort_by:
            field = {
                "registerTime": "register_time",
                "firstUsedTime": "first_used",
                "lastUsedTime": "last_used",
            }[sort_by]
            records.sort(key=lambda r: getattr(r, field) or 0.0, reverse=order == "descending")
        return _page("revisions", [r.location for r in records], body)

    # -- deployments ---------------------------------------------------------------------------

    def op_CreateDeployment(
        self, body: Mapping[str, Any], documents: Documents | None = None
    ) -> dict[str, Any]:
        """Runs under the lock; raises _NeedsDocument for an AppSpec not in ``documents`` yet."""
        group_name = name(body, "deploymentGroupName", "DeploymentGroup")
        application = self.registry.application(body)
        group = self.registry.group(application, group_name)
        revision = body.get("revision") or group.target_revision
        location = self._check_revision(application, revision)
        platform = application.compute_platform
        config_name = valid_name(
            body.get("deploymentConfigName") or group.settings["deploymentConfigName"],
            "DeploymentConfig",
        )
        self.registry.config_for(config_name, platform)
        description = _description(body)
        behavior = body.get("fileExistsBehavior")
        if platform != "Server" and behavior is not None:
            raise ApiError(
                "InvalidFileExistsBehaviorException",
                "For Lambda, ECS and Kubernetes deployment, fileExistsBehavior can not be "
                "specified",
            )
        if behavior is not None and behavior not in ("DISALLOW", "OVERWRITE", "RETAIN"):
            raise ApiError(
                "InvalidFileExistsBehaviorException",
                "fileExistsBehavior must be DISALLOW, OVERWRITE or RETAIN.",
            )
        rollback = _check_auto_rollback(body.get("autoRollbackConfiguration"))
        document = None
        traffic_plan: dict[str, Any] = {}
        if platform != "Server":
            document = self._document(application, location, documents or {})
            traffic_plan = self._traffic_plan(application, group, document)
        if location["revisionType"] == "S3" and platform == "Server":
            s3 = location["s3Location"]
            if self.registry.bundles.head(s3["bucket"], s3["key"], s3.get("version")) is None:
                raise _missing_object(s3)
        active = self.registry.active_in(group)
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
        deployment = self._start_deployment(
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

    def _start_deployment(
        self,
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
        now = self.registry.clock()
        record = self._remember(application, location, description=None, registered=False)
        if document is not None:
            record.document = document  # what a rollback to this revision deploys
        record.first_used = record.first_used or now
        record.last_used = now
        if group.name not in record.groups:
            record.groups.append(group.name)
        deployment = Deployment(
            deployment_id=self.registry.new_deployment_id(),
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
        self.registry.deployments[deployment.deployment_id] = deployment
        group.target_revision = location
        rollout = Rollout(self.registry, deployment, self.deployment_finished)
        self.registry.rollouts[deployment.deployment_id] = rollout
        rollout.start()
        return deployment

    def _document(
        self, application: Application, location: Mapping[str, Any], documents: Documents
    ) -> Mapping[str, Any]:
        """The revision's parsed AppSpec from ``documents``; _NeedsDocument when not there yet."""
        kind = location["revisionType"]
        platform = application.compute_platform.lower()
        key = (revision_key(location), platform)
        found = documents.get(key)
        if found is None:
            if kind in ("AppSpecContent", "String"):
                inline = location.get("appSpecContent" if kind == "AppSpecContent" else "string")
                inline = inline or {}
                source = AppSpecSource(
                    platform, str(inline.get("content", "")), inline.get("sha256")
                )
            else:
                source = AppSpecSource(platform, s3=dict(location["s3Location"]))
            raise _NeedsDocument(key, source)
        if isinstance(found, ApiError):
            raise found
        return found

    def _traffic_plan(
        self, application: Application, group: DeploymentGroup, document: Mapping[str, Any]
    ) -> dict[str, Any]:
        if application.compute_platform == "ECS":
            ecs = revisions.check_ecs(document)
            services = group.settings.get("ecsServices") or [
                {"clusterName": "default", "serviceName": application.name}
            ]
            cluster, service_name = (
                services[0].get("clusterName", "default"),
                services[0].get("serviceName", application.name),
            )
            target_id = f"{cluster}:{service_name}"
            task_sets = [
                {
                    # "identifer" (sic) is the API's own spelling of ECSTaskSet's member.
                    "identifer": f"ecs-svc/{n}",
                    "desiredCount": 1,
                    "pendingCount": 0 if label == "Blue" else 1,
                    "runningCount": 1 if label == "Blue" else 0,
                    "status": "PRIMARY" if label == "Blue" else "ACTIVE",
                    "trafficWeight": 100.0 if label == "Blue" else 0.0,
                    "taskSetLabel": label,
                }
                for n, label in ((1, "Blue"), (2, "Green"))
            ]
            return {
                "target_id": target_id,
                "target_arn": (
                    f"arn:aws:ecs:{self.registry.region}:{ACCOUNT_ID}:service/{cluster}/{service_name}"
                ),
                "kind": "ECSTarget",
                "events": ECS_EVENTS,
                "hooks": ecs.hooks,
                "extra": {"taskSetsInfo": task_sets},
            }
        function = revisions.check_lambda(document)
        return {
            "target_id": function.function_name,
            "target_arn": (
                f"arn:aws:lambda:{self.registry.region}:{ACCOUNT_ID}:function:"
                f"{function.function_name}:{function.alias}"
            ),
            "kind": "LambdaTarget",
            "events": LAMBDA_EVENTS,
            "hooks": function.hooks,
            "extra": {
                "lambdaFunctionInfo": {
                    "functionName": function.function_name,
                    "functionAlias": function.alias,
                    "currentVersion": function.current_version,
                    "targetVersion": function.target_version,
                    "targetVersionWeight": 0.0,
                }
            },
        }

    def deployment_finished(self, deployment: Deployment) -> None:
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
        application = self.registry.applications.get(deployment.application)
        if (
            application is None
            or self.registry.groups.get((application.name, group.name)) is not group
        ):
            return
        document = None
        plan: dict[str, Any] = {}
        try:
            if application.compute_platform != "Server":
                # The AppSpec the previous revision was deployed with (parsed then, outside the
                # lock); this runs under the lock, so it is never parsed here.
                record = self.registry.revisions.get(application.name, {}).get(
                    revision_key(previous)
                )
                document = record.document if record is not None else None
                if document is None:
                    raise ApiError(
                        "RevisionDoesNotExistException",
                        "the previous revision's AppSpec is not known to the emulator",
                    )
                plan = self._traffic_plan(application, group, document)
        except ApiError as error:
            deployment.rollback_info = {
                "rollbackMessage": f"Automatic rollback failed to start: {error.message}"
            }
            return
        rollback = self._start_deployment(
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
        rollback.rollback_info = {
            "rollbackTriggeringDeploymentId": deployment.deployment_id,
            "rollbackMessage": f"Rollback of {deployment.deployment_id} to the last successful "
            "revision.",
        }

    def op_GetDeployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"deploymentInfo": self.registry.deployment(body).info()}

    def op_BatchGetDeployments(self, body: Mapping[str, Any]) -> dict[str, Any]:
        ids = _batch(
            body,
            "deploymentIds",
            ("DeploymentIdRequiredException", "At least one deployment ID must be specified."),
            what="deployment IDs",
        )
        found = []
        for identifier in ids:
            deployment_id({"deploymentId": identifier})
            if identifier in self.registry.deployments:
                found.append(self.registry.deployments[identifier].info())
        return {"deploymentsInfo": found}

    def op_ListDeployments(self, body: Mapping[str, Any]) -> dict[str, Any]:
        chosen = list(self.registry.deployments.values())
        if body.get("applicationName") is not None or body.get("deploymentGroupName") is not None:
            application = self.registry.application(body)
            chosen = [d for d in chosen if d.application == application.name]
            if body.get("deploymentGroupName") is not None:
                group = self.registry.group(
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
        return _page("deployments", [d.deployment_id for d in chosen], body)

    def _started(self, deployment: Deployment) -> None:
        if not deployment.targets_assigned:
            raise ApiError(
                "DeploymentNotStartedException", "The specified deployment has not started."
            )

    def op_ListDeploymentTargets(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
        self._started(deployment)
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
        return _page("targetIds", [t.target_id for t in targets], body)

    def _target_info(self, deployment: Deployment, target_id: object) -> dict[str, Any]:
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

    def op_BatchGetDeploymentTargets(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
        ids = _batch(
            body,
            "targetIds",
            ("DeploymentTargetIdRequiredException", "A deployment target ID was not provided."),
            what="targets",
            too_many="DeploymentTargetListSizeExceededException",
        )
        return {
            "deploymentTargets": [self._target_info(deployment, target_id) for target_id in ids]
        }

    def op_GetDeploymentTarget(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
        target_id = required(
            body,
            "targetId",
            "DeploymentTargetIdRequiredException",
            "A deployment target ID was not provided.",
        )
        return {"deploymentTarget": self._target_info(deployment, target_id)}

    def _instances_of(self, deployment: Deployment) -> None:
        if deployment.compute_platform == "ECS":
            raise ApiError(
                "InvalidComputePlatformException",
                "The instance APIs do not support the ECS compute platform; use "
                "ListDeploymentTargets.",
            )
        self._started(deployment)

    def op_ListDeploymentInstances(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
        self._instances_of(deployment)
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
        return _page("instancesList", [t.target_id for t in targets], body)

    def _instance_summary(self, deployment: Deployment, instance_id: object) -> dict[str, Any]:
        if not isinstance(instance_id, str) or not instance_id:
            raise ApiError("InstanceIdRequiredException", "The instance ID was not specified.")
        target = existing(
            deployment.targets.get(instance_id),
            "InstanceDoesNotExistException",
            f"The instance {instance_id} is not part of the deployment {deployment.deployment_id}.",
        )
        return target.instance_summary(deployment.deployment_id)

    def op_BatchGetDeploymentInstances(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
        self._instances_of(deployment)
        ids = _batch(
            body,
            "instanceIds",
            ("InstanceIdRequiredException", "The instance ID was not specified."),
            what="instance IDs",
        )
        return {
            "instancesSummary": [self._instance_summary(deployment, i) for i in ids],
            "errorMessage": "",
        }

    def op_GetDeploymentInstance(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
        self._instances_of(deployment)
        return {"instanceSummary": self._instance_summary(deployment, body.get("instanceId"))}

    # -- control -------------------------------------------------------------------------------

    def op_StopDeployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
        if deployment.terminal:
            raise ApiError(
                "DeploymentAlreadyCompletedException",
                f"The deployment {deployment.deployment_id} has already completed.",
            )
        deployment.rollback_on_stop = bool(body.get("autoRollbackEnabled"))
        self.registry.rollouts[deployment.deployment_id].request_stop()
        return {
            "status": "Pending",
            "statusMessage": "Stopping Pending. Stopping to schedule commands in the deployment "
            "instances",
        }

    def op_ContinueDeployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
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
            deployment.skip_termination_wait
            if wait_type == "TERMINATION_WAIT"
            else deployment.proceed
        )
        release.set()
        self.registry.rollouts[deployment.deployment_id].changed.notify_all()
        return {}

    def op_PutLifecycleEventHookExecutionStatus(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.registry.deployment(body)
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
