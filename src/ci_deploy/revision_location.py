"""Revision sources -> CodeDeploy ``RevisionLocation`` dicts, exactly as CreateDeployment and
RegisterApplicationRevision take them: S3 bundles, GitHub commits and inline AppSpecContent."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from ci_deploy.errors import InputError, InputValueError

RevisionLocation = dict[str, Any]

# Bundle types CodeDeploy accepts in s3Location.bundleType, by file extension.
_KEY_TYPES = (
    (".tar.gz", "tgz"),
    (".tgz", "tgz"),
    (".tar", "tar"),
    (".zip", "zip"),
    (".yaml", "YAML"),
    (".yml", "YAML"),
    (".json", "JSON"),
)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REPOSITORY = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_TASK_DEFINITION_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[^:]+:\d+")


@dataclass(frozen=True)
class S3Location:
    """A parsed ``--s3-location``: a bucket and either a key prefix or an explicit key."""

    bucket: str
    prefix: str = ""
    key: str | None = None

    def key_for(self, application: str, sha256: str, extension: str) -> str:
        """The explicit key, else the content-addressed ``prefix/application/sha256.ext``."""
        if self.key is not None:
            return self.key
        parts = [part for part in (self.prefix, application, f"{sha256}.{extension}") if part]
        return "/".join(parts)


def parse_s3_location(text: str, region: str = "") -> S3Location:
    """``s3://bucket[/prefix]`` or ``s3://bucket/key.ext``; ``{region}`` replaced by ``region``."""
    value = text.strip().replace("{region}", region)
    if not value.startswith("s3://"):
        raise InputValueError("s3_location", "s3://bucket[/prefix] or s3://bucket/key", text)
    bucket, _, path = value[len("s3://") :].partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise InputValueError(
            "s3_location",
            "a bucket name of 3-63 lower-case letters, digits, dots and hyphens",
            text,
            hint=(
                "{region} in --s3-location is replaced by each deployment region"
                if "{region}" in text
                else f"write the bucket as s3://my-bucket; {bucket!r} is not a valid bucket name"
            ),
        )
    path = path.strip("/")
    if path and key_bundle_type(path) is not None:
        return S3Location(bucket, key=path)
    return S3Location(bucket, prefix=path)


def key_bundle_type(key: str) -> str | None:
    """CodeDeploy's bundleType for a key's extension (zip, tar, tgz, YAML, JSON), else None."""
    name = PurePosixPath(key).name.lower()
    for suffix, kind in _KEY_TYPES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return kind
    return None


def extension_for(bundle_type: str) -> str:
    return {"zip": "zip", "tar": "tar", "tgz": "tgz", "YAML": "yaml", "JSON": "json"}[bundle_type]


def s3_revision(
    bucket: str,
    key: str,
    bundle_type: str,
    *,
    etag: str | None = None,
    version: str | None = None,
) -> RevisionLocation:
    """An S3 revision; pinning ``etag`` and ``version`` makes redeploys use exactly these bytes."""
    location: dict[str, str] = {"bucket": bucket, "key": key, "bundleType": bundle_type}
    if etag:
        location["eTag"] = etag.strip('"')
    if version:
        location["version"] = version
    return {"revisionType": "S3", "s3Location": location}


def github_revision(repository: str, commit_id: str) -> RevisionLocation:
    """A GitHub commit (EC2/on-premises only; the application needs a GitHub connection)."""
    if not _REPOSITORY.fullmatch(repository.strip()):
        raise InputValueError("github_repository", "owner/repo", repository)
    if not _COMMIT.fullmatch(commit_id.strip().lower()):
        raise InputValueError(
            "commit_id",
            "a full 40-character commit SHA",
            commit_id,
            hint="pass the full SHA, e.g. $(git rev-parse HEAD)",
        )
    return {
        "revisionType": "GitHub",
        "gitHubLocation": {
            "repository": repository.strip(),
            "commitId": commit_id.strip().lower(),
        },
    }


def appspec_content_revision(content: str) -> RevisionLocation:
    """Inline AppSpecContent (ECS and Lambda): the content and its SHA-256."""
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    return {
        "revisionType": "AppSpecContent",
        "appSpecContent": {"content": content, "sha256": digest},
    }


def _folded(mapping: dict[str, Any], name: str) -> str | None:
    """The key of ``mapping`` spelled ``name`` in any case (the service folds case too)."""
    return next((key for key in mapping if key.lower() == name.lower()), None)


def substitute_task_definition(content: str, task_definition: str, file: str = "appspec") -> str:
    """The ECS appspec with the TargetService's TaskDefinition set to ``task_definition``.

    Users keep the ARN out of the committed appspec (a placeholder such as
    ``<TASK_DEFINITION>``) and pass the freshly registered one here, like the ECS deploy
    action does. The result is JSON (valid YAML too), since comments cannot survive anyway.
    """
    if not _TASK_DEFINITION_ARN.fullmatch(task_definition.strip()):
        raise InputValueError(
            "task_definition",
            "a full task definition ARN (arn:aws:ecs:REGION:ACCOUNT:task-definition/NAME:REV)",
            task_definition,
            hint="ECS rejects family names and wildcards in the appspec",
        )
    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError as error:
        raise InputError(f"{file}: not valid YAML/JSON: {error}") from error
    resources_key = _folded(document, "resources") if isinstance(document, dict) else None
    resources = (
        document.get(resources_key) if resources_key and isinstance(document, dict) else None
    )
    for resource in resources if isinstance(resources, list) else []:
        for body in resource.values() if isinstance(resource, dict) else []:
            if not isinstance(body, dict):
                continue
            type_key = _folded(body, "type")
            if not type_key or str(body[type_key]).lower() != "aws::ecs::service":
                continue
            properties_key = _folded(body, "properties") or "Properties"
            properties = body.setdefault(properties_key, {})
            if not isinstance(properties, dict):
                break
            properties[_folded(properties, "taskdefinition") or "TaskDefinition"] = (
                task_definition.strip()
            )
            return json.dumps(document, indent=2) + "\n"
    raise InputError(
        f"input task_definition: {file} has no AWS::ECS::Service resource to put it in",
        hint="pass --task-definition only with an ECS appspec (Resources: - TargetService: "
        "{Type: AWS::ECS::Service, ...})",
    )
