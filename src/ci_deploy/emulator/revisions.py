"""Revisions: read bundles from the in-process S3, check ECS/Lambda AppSpecContent."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from werkzeug.test import Client

from ci_deploy.appspec import validate_text
from ci_deploy.emulator.faults import ApiError
from ci_deploy.vocabulary import (
    APPSPEC_BUNDLE_TYPES,
    ARCHIVE_BUNDLE_TYPES,
    ECS_HOOK_EVENTS,
    LAMBDA_HOOK_EVENTS,
)

SERVER_BUNDLE_TYPES = tuple(sorted(ARCHIVE_BUNDLE_TYPES))  # the order of the service's message
TASK_DEFINITION_ARN = re.compile(
    r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]+:\d+"
)
GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")

WsgiApp = Callable[..., Iterable[bytes]]

# moto answers unsigned requests as an anonymous caller (403 on private buckets). The service
# reads bundles with its own credentials; moto does not verify signatures, so a well-formed
# SigV4 header naming the s3 scope is all it needs.
SERVICE_HEADERS = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=codedeploy/20141006/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0",
    "Host": "127.0.0.1",
}


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    etag: str  # without quotes
    version: str | None


class BundleStore:
    """Reads objects from the S3 endpoint served in this process, through its own protocol
    (no socket: the WSGI app is called directly)."""

    def __init__(self, s3_app: WsgiApp) -> None:
        self._client = Client(s3_app)

    def _url(self, bucket: str, key: str) -> str:
        return f"/{quote(bucket)}/{quote(key)}"

    def bucket_region(self, bucket: str) -> str | None:
        """The region a bucket was created in (its location), or None if there is no bucket."""
        response = self._client.head(f"/{quote(bucket)}", headers=SERVICE_HEADERS)
        if response.status_code != 200:
            return None
        return response.headers.get("x-amz-bucket-region") or "us-east-1"

    def head(self, bucket: str, key: str, version: str | None) -> S3Object | None:
        query = {"versionId": version} if version else {}
        response = self._client.head(
            self._url(bucket, key), query_string=query, headers=SERVICE_HEADERS
        )
        if response.status_code != 200:
            return None
        return S3Object(
            bucket=bucket,
            key=key,
            etag=(response.headers.get("ETag") or "").strip('"'),
            version=response.headers.get("x-amz-version-id"),
        )

    def download(self, obj: S3Object, destination: Path) -> S3Object | str:
        """Write the object's bytes to ``destination``; if S3 refuses, its error message (what
        the agent's S3 client raises and the agent reports)."""
        query = {"versionId": obj.version} if obj.version else {}
        response = self._client.get(
            self._url(obj.bucket, obj.key),
            query_string=query,
            headers=SERVICE_HEADERS,
            buffered=False,
        )
        try:
            if response.status_code != 200:
                return s3_error_message(response.get_data(as_text=True))
            destination.parent.mkdir(parents=True, exist_ok=True)
            with destination.open("wb") as out:
                for chunk in response.iter_encoded():
                    out.write(chunk)
            return S3Object(
                bucket=obj.bucket,
                key=obj.key,
                etag=(response.headers.get("ETag") or "").strip('"'),
                version=response.headers.get("x-amz-version-id"),
            )
        finally:
            response.close()

    def read(self, obj: S3Object) -> bytes | None:
        query = {"versionId": obj.version} if obj.version else {}
        response = self._client.get(
            self._url(obj.bucket, obj.key), query_string=query, headers=SERVICE_HEADERS
        )
        if response.status_code != 200:
            return None
        return response.get_data()


def revision_key(location: Mapping[str, Any]) -> str:
    """Identifies a revision: the same key is the same revision (registered revisions, and
    updateOutdatedInstancesOnly)."""
    kind = location.get("revisionType")
    if kind == "S3":
        s3 = location.get("s3Location") or {}
        parts: Any = [
            s3.get("bucket"),
            s3.get("key"),
            s3.get("bundleType"),
            s3.get("version"),
            s3.get("eTag"),
        ]
    elif kind == "GitHub":
        github = location.get("gitHubLocation") or {}
        parts = [github.get("repository"), github.get("commitId")]
    elif kind == "AppSpecContent":
        content = location.get("appSpecContent") or {}
        parts = [
            content.get("sha256")
            or hashlib.sha256(str(content.get("content", "")).encode()).hexdigest()
        ]
    else:
        raw = location.get("string") or {}
        parts = [
            raw.get("sha256") or hashlib.sha256(str(raw.get("content", "")).encode()).hexdigest()
        ]
    return json.dumps([kind, *parts])


def check_s3_location(location: Mapping[str, Any], compute_platform: str) -> None:
    """The checks CreateDeployment makes on an S3 revision before anything runs."""
    if not location.get("bucket") or not location.get("key"):
        raise ApiError("InvalidRevisionException", "The S3 location must name a bucket and a key.")
    bundle_type = location.get("bundleType")
    allowed = SERVER_BUNDLE_TYPES if compute_platform == "Server" else APPSPEC_BUNDLE_TYPES
    if bundle_type is not None and bundle_type not in allowed:
        raise ApiError(
            "InvalidRevisionException",
            f"BundleType must be either {' or '.join(allowed)}"
            if compute_platform != "Server"
            else f"BundleType must be one of {', '.join(allowed)}",
        )


def check_github_location(location: object, compute_platform: str) -> None:
    """The checks CreateDeployment makes on a GitHub revision (EC2/on-premises only)."""
    if compute_platform != "Server":
        raise ApiError(
            "InvalidRevisionException",
            "GitHub revisions are for the Server (EC2/on-premises) compute platform only.",
        )
    if not isinstance(location, Mapping):
        raise ApiError("InvalidRevisionException", "A GitHub revision needs a gitHubLocation.")
    repository, commit = location.get("repository"), location.get("commitId")
    if not isinstance(repository, str) or not GITHUB_REPOSITORY.fullmatch(repository):
        raise ApiError(
            "InvalidRevisionException",
            f"The GitHub repository must be given as owner/name (got {repository!r}).",
        )
    if not isinstance(commit, str) or not commit:
        raise ApiError("InvalidRevisionException", "A GitHub revision needs a commitId.")


# ---------------------------------------------------------------------------------------------
# ECS and Lambda AppSpec content, checked as the service checks it at CreateDeployment.


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    """Top-level and resource keys are matched without regard to case (ECS documents
    ``Resources``/``Hooks``, Lambda ``resources``/``hooks``)."""
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidRevisionException", f"The AppSpec file is invalid: {message}")


def parse_appspec_content(content: str, sha256: str | None, platform: str) -> Mapping[str, Any]:
    """The ECS/Lambda AppSpec as a mapping, after the project's validator found no error
    (``platform`` is ecs or lambda); the first errors become the InvalidRevisionException."""
    if sha256 and hashlib.sha256(content.encode()).hexdigest() != sha256.lower():
        raise ApiError(
            "InvalidRevisionException",
            "The sha256 of the AppSpec content does not match the content.",
        )
    result = validate_text(
        content,
        "AppSpecContent",
        compute_platform=platform,
        as_json=content.lstrip().startswith("{"),
    )
    if not result.ok or result.document is None:
        problems = "; ".join(
            f"line {d.line}, column {d.column}: {d.message}" for d in result.errors[:3]
        )
        raise _invalid(problems)
    document = result.document  # the validator's parse: no second one
    if str(_get(document, "version")) != "0.0":
        raise _invalid("version must be 0.0")
    return document


def hooks_of(document: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, str]:
    """Hook event -> function name, from the list of single-key maps."""
    hooks = _get(document, "hooks") or []
    if not isinstance(hooks, list):
        raise _invalid("Hooks must be a list of '- EventName: FunctionName' entries")
    found: dict[str, str] = {}
    for entry in hooks:
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise _invalid("each hook must be a single 'EventName: FunctionName' pair")
        ((event, function),) = entry.items()
        if event not in allowed:
            raise _invalid(f"{event} is not a hook event here; use one of {', '.join(allowed)}")
        if not isinstance(function, str) or not function:
            raise _invalid(f"hook {event} must name a Lambda function")
        found[event] = function
    return found


def _resources(document: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    resources = _get(document, "resources")
    if not isinstance(resources, list) or not resources:
        raise _invalid("Resources must be a non-empty list")
    result: list[tuple[str, Mapping[str, Any]]] = []
    for entry in resources:
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise _invalid("each resource must be a single 'Name: {Type, Properties}' entry")
        ((name, body),) = entry.items()
        if not isinstance(body, Mapping):
            raise _invalid(f"resource {name} must be a mapping with Type and Properties")
        result.append((str(name), body))
    return result


@dataclass(frozen=True)
class EcsSpec:
    task_definition: str
    container_name: str
    container_port: int
    hooks: dict[str, str]


@dataclass(frozen=True)
class LambdaSpec:
    function_name: str
    alias: str
    current_version: str
    target_version: str
    hooks: dict[str, str]


def _only_resource(
    document: Mapping[str, Any], resource_type: str, how_many: str
) -> tuple[str, Mapping[str, Any]]:
    """The name and properties of the AppSpec's one resource, of type ``resource_type``."""
    resources = _resources(document)
    if len(resources) != 1:
        raise _invalid(how_many)
    name, body = resources[0]
    if _get(body, "type") != resource_type:
        raise _invalid(f"resource {name} must have Type {resource_type}")
    properties = _get(body, "properties")
    if not isinstance(properties, Mapping):
        raise _invalid(f"resource {name} must have Properties")
    return name, properties


def check_ecs(document: Mapping[str, Any]) -> EcsSpec:
    _, properties = _only_resource(
        document,
        "AWS::ECS::Service",
        "an ECS AppSpec must have exactly one TargetService resource",
    )
    task_definition = _get(properties, "TaskDefinition")
    if not isinstance(task_definition, str) or not TASK_DEFINITION_ARN.fullmatch(task_definition):
        raise _invalid(
            "TaskDefinition must be a full task definition ARN with a revision "
            f"(got {task_definition!r})"
        )
    balancer = _get(properties, "LoadBalancerInfo")
    if not isinstance(balancer, Mapping):
        raise _invalid("LoadBalancerInfo with ContainerName and ContainerPort is required")
    container = _get(balancer, "ContainerName")
    port = _get(balancer, "ContainerPort")
    if not isinstance(container, str) or not container:
        raise _invalid("LoadBalancerInfo.ContainerName is required")
    if not isinstance(port, int) or isinstance(port, bool):
        raise _invalid("LoadBalancerInfo.ContainerPort must be a number")
    return EcsSpec(task_definition, container, port, hooks_of(document, ECS_HOOK_EVENTS))


def check_lambda(document: Mapping[str, Any]) -> LambdaSpec:
    name, properties = _only_resource(
        document, "AWS::Lambda::Function", "a Lambda AppSpec deploys exactly one function"
    )
    values: dict[str, str] = {}
    for key in ("name", "alias", "currentversion", "targetversion"):
        value = _get(properties, key)
        if value is None or str(value) == "":
            raise _invalid(f"resource {name} is missing properties.{key}")
        values[key] = str(value)
    for key in ("currentversion", "targetversion"):
        if not values[key].isdigit() or int(values[key]) < 1:
            raise _invalid(f"properties.{key} must be a positive version number")
    return LambdaSpec(
        values["name"],
        values["alias"],
        values["currentversion"],
        values["targetversion"],
        hooks_of(document, LAMBDA_HOOK_EVENTS),
    )


def s3_error_message(body: str) -> str:
    """The <Message> of an S3 error document (unescaped), or the whole body if it has none."""
    found = re.search(r"<Message>(.*?)</Message>", body, re.DOTALL)
    if found is None:
        return body.strip() or "S3 refused the download"
    return html.unescape(found.group(1))
