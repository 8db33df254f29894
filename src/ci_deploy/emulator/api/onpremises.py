"""The on-premises instance operations: Register, Deregister, Add/RemoveTags, List, Get and
BatchGet OnPremisesInstance(s); a group's on-premises tag filters or tag set select them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.api.members import batch, one_page
from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.fleets import selected_by
from ci_deploy.emulator.model import OnPremisesInstance
from ci_deploy.emulator.registry import Registry

INSTANCE_NAME = re.compile(r"[A-Za-z0-9_.@+=,-]{1,100}")
IAM_SESSION_ARN = re.compile(r"arn:aws[a-z-]*:sts::\d{12}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+")
IAM_USER_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:user/[\w+=,.@/-]+")
MAX_TAGS = 10
NAME_REQUIRED = ("InstanceNameRequiredException", "An on-premises instance name was not specified.")


def instance_name(value: object) -> str:
    if value is None or value == "":
        raise ApiError(*NAME_REQUIRED)
    if not isinstance(value, str) or not INSTANCE_NAME.fullmatch(value):
        raise ApiError(
            "InvalidInstanceNameException", f"The on-premises instance name {value!r} is not valid."
        )
    return value


def registered(registry: Registry, name: str) -> OnPremisesInstance:
    instance = registry.on_premises.get(name)
    if instance is None or instance.deregister_time is not None:
        raise ApiError(
            "InstanceNotRegisteredException", f"The on-premises instance {name} is not registered."
        )
    return instance


def register_on_premises_instance(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    name = instance_name(body.get("instanceName"))
    session, user = body.get("iamSessionArn"), body.get("iamUserArn")
    if session and user:
        raise ApiError(
            "MultipleIamArnsProvidedException",
            "Register the instance with an IAM session ARN or an IAM user ARN, not both.",
        )
    if not session and not user:
        raise ApiError(
            "IamArnRequiredException", "An IAM session ARN or an IAM user ARN is required."
        )
    if session and not IAM_SESSION_ARN.fullmatch(str(session)):
        raise ApiError(
            "InvalidIamSessionArnException", f"The IAM session ARN {session!r} is not valid."
        )
    if user and not IAM_USER_ARN.fullmatch(str(user)):
        raise ApiError("InvalidIamUserArnException", f"The IAM user ARN {user!r} is not valid.")
    existing = registry.on_premises.get(name)
    if existing is not None and existing.deregister_time is None:
        raise ApiError(
            "InstanceNameAlreadyRegisteredException",
            f"The on-premises instance name {name} is already registered.",
        )
    for other in registry.on_premises.values():
        if other.deregister_time is not None:
            continue
        if session and other.iam_session_arn == session:
            raise ApiError(
                "IamSessionArnAlreadyRegisteredException",
                f"The IAM session ARN {session} is already registered.",
            )
        if user and other.iam_user_arn == user:
            raise ApiError(
                "IamUserArnAlreadyRegisteredException",
                f"The IAM user ARN {user} is already registered.",
            )
    registry.on_premises[name] = OnPremisesInstance(
        name, session or None, user or None, registry.clock()
    )
    return {}


def deregister_on_premises_instance(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    name = instance_name(body.get("instanceName"))
    instance = registry.on_premises.get(name)
    if instance is not None and instance.deregister_time is None:
        instance.deregister_time = registry.clock()
    return {}


def tag_pairs(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    tags = body.get("tags")
    if not tags:
        raise ApiError("TagRequiredException", "A tag was not specified.")
    if len(tags) > MAX_TAGS:
        raise ApiError("TagLimitExceededException", f"At most {MAX_TAGS} tags are allowed.")
    pairs = []
    for tag in tags:
        if not isinstance(tag, Mapping) or not tag.get("Key"):
            raise ApiError("InvalidTagException", "Each tag needs a Key.")
        pairs.append((str(tag["Key"]), str(tag.get("Value") or "")))
    return pairs


def tagged_instances(registry: Registry, body: Mapping[str, Any]) -> list[OnPremisesInstance]:
    names = batch(body, "instanceNames", NAME_REQUIRED, what="instance names", limit=10,
                  too_many="InstanceLimitExceededException")  # fmt: skip
    return [registered(registry, instance_name(name)) for name in names]


def add_tags_to_on_premises_instances(
    registry: Registry, body: Mapping[str, Any]
) -> dict[str, Any]:
    pairs = tag_pairs(body)
    instances = tagged_instances(registry, body)
    for instance in instances:
        if len({**instance.tags, **dict(pairs)}) > MAX_TAGS:
            raise ApiError(
                "TagLimitExceededException",
                f"The on-premises instance {instance.name} would have more than {MAX_TAGS} tags.",
            )
    for instance in instances:
        instance.tags.update(pairs)
    return {}


def remove_tags_from_on_premises_instances(
    registry: Registry, body: Mapping[str, Any]
) -> dict[str, Any]:
    pairs = tag_pairs(body)
    for instance in tagged_instances(registry, body):
        for key, value in pairs:
            if instance.tags.get(key) == value or not value:
                instance.tags.pop(key, None)
    return {}


def list_on_premises_instances(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    status = body.get("registrationStatus")
    if status not in (None, "Registered", "Deregistered"):
        raise ApiError(
            "InvalidRegistrationStatusException",
            "The registration status must be Registered or Deregistered.",
        )
    filters = body.get("tagFilters") or []
    for entry in filters:
        if entry.get("Type", "KEY_AND_VALUE") not in ("KEY_ONLY", "VALUE_ONLY", "KEY_AND_VALUE"):
            raise ApiError("InvalidTagFilterException", "The tag filter type is not valid.")
    chosen = []
    for instance in registry.on_premises.values():
        current = "Deregistered" if instance.deregister_time is not None else "Registered"
        if status is not None and current != status:
            continue
        if filters and not selected_by(instance.tags, filters):
            continue
        chosen.append(instance.name)
    return one_page("instanceNames", sorted(chosen), body)


def get_on_premises_instance(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    name = instance_name(body.get("instanceName"))
    instance = registry.on_premises.get(name)
    if instance is None:
        raise ApiError(
            "InstanceNotRegisteredException", f"The on-premises instance {name} is not registered."
        )
    return {"instanceInfo": instance.info(registry.region)}


def batch_get_on_premises_instances(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    names = batch(body, "instanceNames", NAME_REQUIRED, what="instance names", limit=100)
    found = []
    for name in names:
        instance = registry.on_premises.get(instance_name(name))
        if instance is not None:
            found.append(instance.info(registry.region))
    return {"instanceInfos": found}
