"""Rules the ECS and Lambda AppSpecs share: version, the one resource, Lambda hook functions.

CodeDeploy validates these AppSpecs in the service at CreateDeployment; the docs spell the keys
in a fixed case (ECS capitalised, Lambda lower case) while the service and the official ECS
action match them ignoring case, so keys are matched ignoring case here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ci_deploy.appspec.checks import (
    Context,
    describe,
    key_name,
    mapping,
    sequence,
    suggestion,
    unknown_keys,
)
from ci_deploy.appspec.nodes import Mapping, Node, Scalar, is_null

FUNCTION_NAME = re.compile(
    r"(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}"
    r"(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?"
)
_CONSEQUENCE = "CodeDeploy does not use it"
# What to write for a missing required key.
EXAMPLES = {
    "resources": "a list holding the one resource to deploy",
    "type": "the resource type",
    "properties": "the resource's settings",
    "taskdefinition": "the task definition's full ARN, "
    "arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION",
    "loadbalancerinfo": "ContainerName and ContainerPort under it",
    "containername": "the name of the container that receives traffic",
    "containerport": "the container port that receives traffic, such as 8080",
    "capacityprovider": "a capacity provider name, such as FARGATE_SPOT",
    "name": "the Lambda function's name",
    "alias": "the alias CodeDeploy shifts, such as live",
    "currentversion": 'the version the alias points at now, such as "3"',
    "targetversion": 'the version to shift to, such as "4"',
}


@dataclass(frozen=True)
class Platform:
    """The names one platform's AppSpec uses, as the docs spell them."""

    label: str
    top_level_keys: tuple[str, ...]
    resources_key: str
    hooks_key: str
    resource_type: str
    type_key: str
    properties_key: str
    hook_events: tuple[str, ...]
    reserved_events: tuple[str, ...]

    @property
    def article(self) -> str:
        """'an ECS' / 'a Lambda', for messages."""
        return ("an " if self.label[0] in "AEIOU" else "a ") + self.label


def check_version(ctx: Context, root: Mapping) -> None:
    """`version: 0.0`; the service reads the text, so a quoted "0.0" is fine here."""
    entry = root.get_folded("version")
    if entry is None:
        ctx.error(root, "version-missing", "'version' is missing: add 'version: 0.0'")
        return
    node = entry[1]
    value = node.value if isinstance(node, Scalar) else None
    if value in ("0.0", "0") or (
        isinstance(value, int | float) and not isinstance(value, bool) and value == 0
    ):
        return
    ctx.error(node, "version-invalid", f"version is {describe(node)}: write version: 0.0")


def find(ctx: Context, parent: Mapping, name: str, *, required_in: str | None) -> Node | None:
    """The value of key ``name`` (any case); an error naming ``required_in`` when missing."""
    entry = parent.get_folded(name)
    if entry is None:
        if required_in is not None:
            example = EXAMPLES.get(name.lower())
            ctx.error(
                parent,
                "missing-key",
                f"{required_in} has no {name!r}: add '{name}:'"
                + (f" with {example}" if example else ""),
            )
        return None
    return entry[1]


def the_resource(ctx: Context, root: Mapping, platform: Platform) -> Mapping | None:
    """The properties mapping of the one resource, checking the list around it."""
    node = find(ctx, root, platform.resources_key, required_in="the AppSpec")
    if node is None:
        return None
    example = f"'- MyName:' with '{platform.type_key}: {platform.resource_type}'"
    items = sequence(ctx, node, platform.resources_key, example)
    if items is None:
        return None
    if len(items.items) != 1:
        ctx.error(
            items,
            "resource-count",
            f"{platform.resources_key} lists {len(items.items)} resources: {platform.article} "
            f"deployment targets exactly one {platform.resource_type}; keep one entry",
        )
        if not items.items:
            return None
    named = mapping(ctx, items.items[0], "a resource", example)
    if named is None:
        return None
    if len(named.entries) != 1:
        ctx.error(
            named,
            "resource-shape",
            "a resource is one name with its definition under it: write "
            f"'- MyName:' and indent '{platform.type_key}:' and '{platform.properties_key}:' "
            "below it",
        )
        return None
    return _resource_body(ctx, named.entries[0][0], named.entries[0][1], platform)


def _resource_body(ctx: Context, name: Scalar, node: Node, platform: Platform) -> Mapping | None:
    body = mapping(
        ctx,
        node,
        f"resource {key_name(name)!r}",
        f"'{platform.type_key}:' and '{platform.properties_key}:' under it",
    )
    if body is None:
        return None
    unknown_keys(
        ctx,
        body,
        (platform.type_key, platform.properties_key),
        f"resource {key_name(name)!r}",
        _CONSEQUENCE,
        fold_case=True,
    )
    kind = find(ctx, body, platform.type_key, required_in=f"resource {key_name(name)!r}")
    if kind is not None:
        value = kind.value if isinstance(kind, Scalar) else None
        if not (isinstance(value, str) and value.lower() == platform.resource_type.lower()):
            ctx.error(
                kind,
                "resource-type-invalid",
                f"{platform.type_key} is {describe(kind)}: {platform.article} AppSpec deploys "
                f"a resource of type {platform.resource_type}",
            )
    properties = find(
        ctx, body, platform.properties_key, required_in=f"resource {key_name(name)!r}"
    )
    if properties is None:
        return None
    return mapping(ctx, properties, platform.properties_key, "the resource's settings")


def check_hooks(ctx: Context, root: Mapping, platform: Platform) -> None:
    """`hooks`: a list of single-key maps, lifecycle event -> Lambda function."""
    node = find(ctx, root, platform.hooks_key, required_in=None)
    if node is None or is_null(node):
        return
    example = f"'- {platform.hook_events[0]}: MyHookFunction'"
    items = sequence(ctx, node, platform.hooks_key, f"a list of entries such as {example}")
    if items is None:
        return
    seen: dict[str, Scalar] = {}
    for item in items.items:
        hook = mapping(ctx, item, "a hook", example)
        for key, value in hook.entries if hook is not None else []:
            name = key_name(key)
            if name in seen:
                ctx.warning(
                    key,
                    "hook-duplicate-event",
                    f"{name} already has a hook (line {seen[name].line}): CodeDeploy runs one "
                    "function per event; keep one entry",
                )
            seen[name] = key
            _check_event(ctx, key, platform)
            _check_function(ctx, value)


def _check_event(ctx: Context, key: Scalar, platform: Platform) -> None:
    name = key_name(key)
    if name in platform.hook_events:
        return
    if name in platform.reserved_events:
        ctx.error(
            key,
            "hook-reserved-event",
            f"{name} is run by CodeDeploy itself and takes no hook: use one of "
            + ", ".join(platform.hook_events),
        )
        return
    ctx.error(
        key,
        "hook-unknown-event",
        f"unknown {platform.label} lifecycle event {name!r}"
        f"{suggestion(name, platform.hook_events)}: use one of " + ", ".join(platform.hook_events),
    )


def _check_function(ctx: Context, node: Node) -> None:
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, str) and FUNCTION_NAME.fullmatch(value):
        return
    ctx.error(
        node,
        "hook-function-invalid",
        f"the hook is {describe(node)}: write the name or ARN of a Lambda function, such as "
        "CodeDeployHook_validate",
    )
