"""Rules of the Amazon ECS AppSpec.

Source: https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html
(ECS section) and .../reference-appspec-file-structure-hooks.html.
"""

from __future__ import annotations

import re

from ci_deploy.appspec.checks import Context, describe, mapping, sequence, string, unknown_keys
from ci_deploy.appspec.nodes import Mapping, Node, Scalar
from ci_deploy.appspec.serverless import (
    Platform,
    check_hooks,
    check_version,
    find,
    the_resource,
)
from ci_deploy.vocabulary import ECS_HOOK_EVENTS, ECS_RESERVED_EVENTS

ECS = Platform(
    label="ECS",
    top_level_keys=("version", "Resources", "Hooks"),
    resources_key="Resources",
    hooks_key="Hooks",
    resource_type="AWS::ECS::Service",
    type_key="Type",
    properties_key="Properties",
    hook_events=ECS_HOOK_EVENTS,
    reserved_events=ECS_RESERVED_EVENTS,
)
RESOURCE_NAME = "TargetService"
PROPERTY_KEYS = (
    "TaskDefinition",
    "LoadBalancerInfo",
    "PlatformVersion",
    "NetworkConfiguration",
    "CapacityProviderStrategy",
)
LOAD_BALANCER_KEYS = ("ContainerName", "ContainerPort")
NETWORK_KEYS = ("AwsvpcConfiguration",)
AWSVPC_KEYS = ("Subnets", "SecurityGroups", "AssignPublicIp")
ASSIGN_PUBLIC_IP = ("ENABLED", "DISABLED")
CAPACITY_PROVIDER_KEYS = ("Base", "CapacityProvider", "Weight")
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
TASK_DEFINITION_ARN = re.compile(
    r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}:\d+"
)
PLACEHOLDER = re.compile(r"<[A-Za-z0-9_]+>")
_CONSEQUENCE = "CodeDeploy does not use it"


def check(ctx: Context, root: Mapping) -> None:
    unknown_keys(ctx, root, ECS.top_level_keys, "the AppSpec", _CONSEQUENCE, fold_case=True)
    check_version(ctx, root)
    _check_resource_name(ctx, root)
    properties = the_resource(ctx, root, ECS)
    if properties is not None:
        _check_properties(ctx, properties)
    check_hooks(ctx, root, ECS)


def _check_resource_name(ctx: Context, root: Mapping) -> None:
    entry = root.get_folded(ECS.resources_key)
    if entry is None or not hasattr(entry[1], "items"):
        return
    for item in getattr(entry[1], "items", []):
        if isinstance(item, Mapping) and len(item.entries) == 1:
            key = item.entries[0][0]
            if str(key.value).lower() != RESOURCE_NAME.lower():
                ctx.warning(
                    key,
                    "ecs-resource-name",
                    f"the ECS resource is named {key.value!r}: the docs name it TargetService; "
                    "write '- TargetService:'",
                )


def _check_properties(ctx: Context, properties: Mapping) -> None:
    unknown_keys(ctx, properties, PROPERTY_KEYS, "Properties", _CONSEQUENCE, fold_case=True)
    node = find(ctx, properties, "TaskDefinition", required_in="Properties")
    if node is not None:
        _check_task_definition(ctx, node)
    node = find(ctx, properties, "LoadBalancerInfo", required_in="Properties")
    if node is not None:
        _check_load_balancer(ctx, node)
    node = find(ctx, properties, "PlatformVersion", required_in=None)
    if node is not None:
        string(ctx, node, "PlatformVersion", 'LATEST or a version such as "1.4.0" (quoted)')
    node = find(ctx, properties, "NetworkConfiguration", required_in=None)
    if node is not None:
        _check_network(ctx, node)
    node = find(ctx, properties, "CapacityProviderStrategy", required_in=None)
    if node is not None:
        _check_capacity_providers(ctx, node)


def _check_task_definition(ctx: Context, node: Node) -> None:
    text = string(ctx, node, "TaskDefinition", "the task definition's full ARN")
    if text is None or TASK_DEFINITION_ARN.fullmatch(text):
        return
    if PLACEHOLDER.fullmatch(text):
        ctx.warning(
            node,
            "ecs-task-definition-placeholder",
            f"TaskDefinition is the placeholder {text}: CodeDeploy rejects it as is; deploy "
            "with --task-definition to substitute the ARN of the new task definition",
        )
        return
    ctx.error(
        node,
        "ecs-task-definition-invalid",
        f"TaskDefinition {text!r} is not a full task definition ARN (CodeDeploy rejects "
        "families, partial ARNs and wildcards): write "
        "arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION, or a placeholder such as "
        "<TASK_DEFINITION> with --task-definition",
    )


def _check_load_balancer(ctx: Context, node: Node) -> None:
    info = mapping(ctx, node, "LoadBalancerInfo", "'ContainerName:' and 'ContainerPort:'")
    if info is None:
        return
    unknown_keys(ctx, info, LOAD_BALANCER_KEYS, "LoadBalancerInfo", _CONSEQUENCE, fold_case=True)
    name = find(ctx, info, "ContainerName", required_in="LoadBalancerInfo")
    if name is not None:
        string(ctx, name, "ContainerName", "the name of a container in the task definition")
    port = find(ctx, info, "ContainerPort", required_in="LoadBalancerInfo")
    if port is not None:
        _check_integer(ctx, port, "ContainerPort", (1, 65535), "ecs-container-port-invalid")


def _check_integer(ctx: Context, node: Node, what: str, limits: tuple[int, int], code: str) -> None:
    low, high = limits
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return
    ctx.error(
        node,
        code,
        f"{what} is {describe(node)}: write a whole number from {low} to {high}, unquoted",
    )


def _check_network(ctx: Context, node: Node) -> None:
    network = mapping(ctx, node, "NetworkConfiguration", "'AwsvpcConfiguration:' under it")
    if network is None:
        return
    unknown_keys(ctx, network, NETWORK_KEYS, "NetworkConfiguration", _CONSEQUENCE, fold_case=True)
    entry = network.get_folded("AwsvpcConfiguration")
    if entry is None:
        ctx.error(
            network,
            "missing-key",
            "NetworkConfiguration has no 'AwsvpcConfiguration': add it with Subnets, "
            "SecurityGroups and AssignPublicIp",
        )
        return
    awsvpc = mapping(
        ctx, entry[1], "AwsvpcConfiguration", "Subnets, SecurityGroups, AssignPublicIp"
    )
    if awsvpc is None:
        return
    unknown_keys(ctx, awsvpc, AWSVPC_KEYS, "AwsvpcConfiguration", _CONSEQUENCE, fold_case=True)
    missing = [name for name in AWSVPC_KEYS if awsvpc.get_folded(name) is None]
    if missing:
        ctx.error(
            entry[0],
            "ecs-awsvpc-incomplete",
            f"AwsvpcConfiguration lacks {', '.join(missing)}: give Subnets, SecurityGroups and "
            "AssignPublicIp together",
        )
    for name, limit in (("Subnets", MAX_SUBNETS), ("SecurityGroups", MAX_SECURITY_GROUPS)):
        found = awsvpc.get_folded(name)
        if found is None:
            continue
        items = sequence(ctx, found[1], name, f"a list of {name[:-1].lower()} ids")
        if items is None:
            continue
        if len(items.items) > limit:
            ctx.error(
                found[1],
                "ecs-awsvpc-too-many",
                f"{name} lists {len(items.items)} ids: ECS takes at most {limit}; remove some",
            )
        for item in items.items:
            string(ctx, item, f"a {name} entry", "an id such as subnet-0123456789abcdef0")
    found = awsvpc.get_folded("AssignPublicIp")
    if found is not None:
        value = found[1].value if isinstance(found[1], Scalar) else None
        if value not in ASSIGN_PUBLIC_IP:
            ctx.error(
                found[1],
                "ecs-assign-public-ip-invalid",
                f"AssignPublicIp is {describe(found[1])}: write ENABLED or DISABLED (a bare "
                "YAML yes/no is a boolean)",
            )


def _check_capacity_providers(ctx: Context, node: Node) -> None:
    items = sequence(ctx, node, "CapacityProviderStrategy", "a list of '- CapacityProvider: ...'")
    for item in items.items if items is not None else []:
        strategy = mapping(ctx, item, "a capacity provider strategy", "'- CapacityProvider: X'")
        if strategy is None:
            continue
        unknown_keys(
            ctx,
            strategy,
            CAPACITY_PROVIDER_KEYS,
            "a capacity provider strategy",
            _CONSEQUENCE,
            fold_case=True,
        )
        name = find(
            ctx, strategy, "CapacityProvider", required_in="this capacity provider strategy"
        )
        if name is not None:
            string(ctx, name, "CapacityProvider", "a capacity provider name such as FARGATE_SPOT")
        for key, high in (("Base", 100000), ("Weight", 1000)):
            found = find(ctx, strategy, key, required_in=None)
            if found is not None:
                _check_integer(ctx, found, key, (0, high), "ecs-capacity-provider-invalid")
