"""Rules of the AWS Lambda AppSpec.

Source: https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html
(Lambda section) and .../reference-appspec-file-structure-hooks.html.
"""

from __future__ import annotations

import re

from ci_deploy.appspec.checks import Context, describe, plain_number, string, unknown_keys
from ci_deploy.appspec.nodes import Mapping, Node, Scalar
from ci_deploy.appspec.serverless import (
    FUNCTION_NAME,
    Platform,
    check_hooks,
    check_version,
    find,
    the_resource,
)
from ci_deploy.vocabulary import LAMBDA_HOOK_EVENTS, LAMBDA_RESERVED_EVENTS

LAMBDA = Platform(
    label="Lambda",
    top_level_keys=("version", "resources", "hooks"),
    resources_key="resources",
    hooks_key="hooks",
    resource_type="AWS::Lambda::Function",
    type_key="type",
    properties_key="properties",
    hook_events=LAMBDA_HOOK_EVENTS,
    reserved_events=LAMBDA_RESERVED_EVENTS,
)
PROPERTY_KEYS = ("name", "alias", "currentversion", "targetversion")
ALIAS = re.compile(r"(?!\d+$)[A-Za-z0-9_-]{1,128}")
_CONSEQUENCE = "CodeDeploy does not use it"


def check(ctx: Context, root: Mapping) -> None:
    unknown_keys(ctx, root, LAMBDA.top_level_keys, "the AppSpec", _CONSEQUENCE, fold_case=True)
    check_version(ctx, root)
    properties = the_resource(ctx, root, LAMBDA)
    if properties is not None:
        _check_properties(ctx, properties)
    check_hooks(ctx, root, LAMBDA)


def _check_properties(ctx: Context, properties: Mapping) -> None:
    unknown_keys(ctx, properties, PROPERTY_KEYS, "properties", _CONSEQUENCE, fold_case=True)
    _check_name(
        ctx,
        properties,
        "name",
        what="the function's name",
        pattern=FUNCTION_NAME,
        code="lambda-name-invalid",
        expected=(
            "a Lambda function name: write the name (letters, digits, '-', '_', at most 64) "
            "or its ARN"
        ),
    )
    _check_name(
        ctx,
        properties,
        "alias",
        what="the alias CodeDeploy shifts",
        pattern=ALIAS,
        code="lambda-alias-invalid",
        expected=(
            "a Lambda alias name: write letters, digits, '-' or '_' (not only digits), such as live"
        ),
    )
    versions = []
    for key in ("currentversion", "targetversion"):
        node = find(ctx, properties, key, required_in="properties")
        if node is not None:
            versions.append((node, _check_version_number(ctx, node, key)))
    if len(versions) == 2 and versions[0][1] is not None and versions[0][1] == versions[1][1]:
        ctx.warning(
            versions[1][0],
            "lambda-same-version",
            f"targetversion equals currentversion ({versions[0][1]}): the deployment shifts no "
            "traffic; set targetversion to the newly published version",
        )


def _check_name(
    ctx: Context,
    properties: Mapping,
    key: str,
    *,
    what: str,
    pattern: re.Pattern[str],
    code: str,
    expected: str,
) -> None:
    """The required text property ``key`` matches ``pattern``; else ``code``: "is not
    ``expected``"."""
    node = find(ctx, properties, key, required_in="properties")
    text = string(ctx, node, key, what) if node is not None else None
    if node is not None and text is not None and not pattern.fullmatch(text):
        ctx.error(node, code, f"{key} {text!r} is not {expected}")


def _check_version_number(ctx: Context, node: Node, key: str) -> int | None:
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    number = plain_number(value) if isinstance(value, str) else None
    if number is not None and number > 0:
        return number
    ctx.error(
        node,
        "lambda-version-invalid",
        f'{key} is {describe(node)}: write a published version number such as "3" '
        "($LATEST and aliases cannot be shifted)",
    )
    return None
