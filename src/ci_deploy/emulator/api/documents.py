"""The AppSpec of an ECS/Lambda deployment: read and parsed outside the lock, and the simulated
target and traffic shift it describes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ci_deploy.emulator import revisions
from ci_deploy.emulator.api.revisions import check_bucket_region, missing_object
from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.model import ACCOUNT_ID, Application, DeploymentGroup
from ci_deploy.emulator.registry import Registry
from ci_deploy.emulator.revisions import S3Object, revision_key
from ci_deploy.vocabulary import ECS_EVENTS, LAMBDA_EVENTS

DocumentKey = tuple[str, str]  # (revision_key, platform)
Documents = dict[DocumentKey, Mapping[str, Any] | ApiError]


@dataclass(frozen=True)
class AppSpecSource:
    """Where an ECS/Lambda revision's AppSpec comes from: inline content, or an S3 object."""

    platform: str  # ecs or lambda
    content: str | None = None
    sha256: str | None = None
    s3: Mapping[str, Any] | None = None


class NeedsDocument(Exception):
    """CreateDeployment needs this AppSpec parsed, which is done outside the lock."""

    def __init__(self, key: DocumentKey, source: AppSpecSource) -> None:
        super().__init__(key)
        self.key = key
        self.source = source


def load_document(registry: Registry, source: AppSpecSource) -> Mapping[str, Any] | ApiError:
    """The parsed AppSpec, or the API error it is (called without the lock)."""
    try:
        if source.s3 is None:
            return revisions.parse_appspec_content(
                source.content or "", source.sha256, source.platform
            )
        s3 = source.s3
        check_bucket_region(registry, s3)
        data = registry.bundles.read(S3Object(s3["bucket"], s3["key"], "", s3.get("version")))
        if data is None:
            return missing_object(s3)
        return revisions.parse_appspec_content(
            data.decode("utf-8", errors="replace"), None, source.platform
        )
    except ApiError as error:
        return error


def parsed_document(
    application: Application, location: Mapping[str, Any], documents: Documents
) -> Mapping[str, Any]:
    """The revision's parsed AppSpec from ``documents``; NeedsDocument when not there yet."""
    kind = location["revisionType"]
    platform = application.compute_platform.lower()
    key = (revision_key(location), platform)
    found = documents.get(key)
    if found is None:
        if kind in ("AppSpecContent", "String"):
            inline = location.get("appSpecContent" if kind == "AppSpecContent" else "string")
            inline = inline or {}
            source = AppSpecSource(platform, str(inline.get("content", "")), inline.get("sha256"))
        else:
            source = AppSpecSource(platform, s3=dict(location["s3Location"]))
        raise NeedsDocument(key, source)
    if isinstance(found, ApiError):
        raise found
    return found


def plan_traffic(
    registry: Registry,
    application: Application,
    group: DeploymentGroup,
    document: Mapping[str, Any],
) -> dict[str, Any]:
    """The simulated target of an ECS/Lambda deployment, from its checked AppSpec: id, ARN,
    kind, lifecycle events, hook functions, and the task sets or alias weights it shows."""
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
                f"arn:aws:ecs:{registry.region}:{ACCOUNT_ID}:service/{cluster}/{service_name}"
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
            f"arn:aws:lambda:{registry.region}:{ACCOUNT_ID}:function:"
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
