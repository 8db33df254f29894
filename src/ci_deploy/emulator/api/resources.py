"""The account-level operations: TagResource, UntagResource, ListTagsForResource (applications,
deployment groups and configurations by ARN), UpdateApplication (a rename), the GitHub token
operations (no GitHub connection: no tokens), SkipWaitTimeForInstanceTermination and
DeleteResourcesByExternalId."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.api.control import continue_deployment
from ci_deploy.emulator.api.members import one_page
from ci_deploy.emulator.faults import ApiError, name
from ci_deploy.emulator.model import ACCOUNT_ID
from ci_deploy.emulator.registry import Registry

RESOURCE_ARN = re.compile(
    r"arn:aws[a-z-]*:codedeploy:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<kind>[a-z]+):(?P<name>.+)"
)
MAX_TAGS = 50


def application_arn(region: str, application: str) -> str:
    return f"arn:aws:codedeploy:{region}:{ACCOUNT_ID}:application:{application}"


def group_arn(region: str, application: str, group: str) -> str:
    return f"arn:aws:codedeploy:{region}:{ACCOUNT_ID}:deploymentgroup:{application}/{group}"


def resource(registry: Registry, body: Mapping[str, Any]) -> str:
    """The ARN of an existing application, deployment group or configuration of this region."""
    arn = body.get("ResourceArn")
    if not arn:
        raise ApiError("ResourceArnRequiredException", "A resource ARN is required.")
    found = RESOURCE_ARN.fullmatch(str(arn))
    if found is None or found["region"] != registry.region or found["account"] != ACCOUNT_ID:
        raise ApiError(
            "InvalidArnException", f"The ARN {arn} is not valid in this account and region."
        )
    kind, rest = found["kind"], found["name"]
    if kind == "application":
        registry.application({"applicationName": rest})
    elif kind == "deploymentgroup":
        application, _, group = rest.partition("/")
        registry.group(registry.application({"applicationName": application}), group)
    elif kind == "deploymentconfig":
        registry.config_info(rest)
    else:
        raise ApiError("ArnNotSupportedException", f"Tags are not supported on {kind} resources.")
    return str(arn)


def remember_tags(registry: Registry, arn: str, tags: object) -> None:
    """Tags given to CreateApplication, CreateDeploymentGroup or TagResource."""
    if not tags:
        return
    if not isinstance(tags, list) or not all(isinstance(t, Mapping) and t.get("Key") for t in tags):
        raise ApiError("InvalidTagsToAddException", "Each tag needs a Key.")
    current = registry.resource_tags.setdefault(arn, {})
    merged = {**current, **{str(t["Key"]): str(t.get("Value") or "") for t in tags}}
    if len(merged) > MAX_TAGS:
        raise ApiError("InvalidTagsToAddException", f"A resource has at most {MAX_TAGS} tags.")
    current.update(merged)


def tag_resource(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    arn = resource(registry, body)
    if not body.get("Tags"):
        raise ApiError("TagRequiredException", "A tag was not specified.")
    remember_tags(registry, arn, body["Tags"])
    return {}


def untag_resource(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    arn = resource(registry, body)
    keys = body.get("TagKeys")
    if not keys:
        raise ApiError("TagRequiredException", "A tag key was not specified.")
    for key in keys:
        registry.resource_tags.get(arn, {}).pop(str(key), None)
    return {}


def list_tags_for_resource(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    arn = resource(registry, body)
    tags = [{"Key": k, "Value": v} for k, v in sorted(registry.resource_tags.get(arn, {}).items())]
    page = one_page("Tags", tags, {"nextToken": body.get("NextToken")})
    return {
        "Tags": page["Tags"],
        **({"NextToken": page["nextToken"]} if "nextToken" in page else {}),
    }


def update_application(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    """A rename: the groups, revisions, deployments and tags follow the application."""
    application = registry.application(body)
    if not body.get("newApplicationName"):
        return {}
    new_name = name(body, "newApplicationName", "Application")
    if new_name == application.name:
        return {}
    if new_name in registry.applications:
        raise ApiError(
            "ApplicationAlreadyExistsException",
            f"The application {new_name} already exists with the IAM user or AWS account.",
        )
    old = application.name
    del registry.applications[old]
    application.name = new_name
    registry.applications[new_name] = application
    registry.revisions[new_name] = registry.revisions.pop(old, {})
    for key in [key for key in registry.groups if key[0] == old]:
        group = registry.groups.pop(key)
        group.application = new_name
        registry.groups[(new_name, key[1])] = group
    for deployment in registry.deployments.values():
        if deployment.application == old:
            deployment.application = new_name
    old_arn, new_arn = (
        application_arn(registry.region, old),
        application_arn(registry.region, new_name),
    )
    old_groups = old_arn.replace(":application:", ":deploymentgroup:") + "/"
    for arn in list(registry.resource_tags):
        if arn == old_arn:
            registry.resource_tags[new_arn] = registry.resource_tags.pop(arn)
        elif arn.startswith(old_groups):
            group_name = arn[len(old_groups) :]
            registry.resource_tags[group_arn(registry.region, new_name, group_name)] = (
                registry.resource_tags.pop(arn)
            )
    return {}


def list_git_hub_account_token_names(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    """No GitHub connection is ever made here, so there are no tokens."""
    return one_page("tokenNameList", [], body)


def delete_git_hub_account_token(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    token = body.get("tokenName")
    if not token:
        raise ApiError("GitHubAccountTokenNameRequiredException", "The token name is required.")
    raise ApiError(
        "GitHubAccountTokenDoesNotExistException",
        f"No GitHub account connection exists with the name {token}.",
    )


def skip_wait_time_for_instance_termination(
    registry: Registry, body: Mapping[str, Any]
) -> dict[str, Any]:
    """The deprecated form of ContinueDeployment(TERMINATION_WAIT)."""
    return continue_deployment(
        registry,
        {"deploymentId": body.get("deploymentId"), "deploymentWaitType": "TERMINATION_WAIT"},
    )


def delete_resources_by_external_id(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    """Deletes what a CloudFormation/external id created; nothing here is created by one."""
    return {}
