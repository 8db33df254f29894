"""Least-privilege IAM policies for what ci-deploy will run: the actions the verbs' AWS calls need,
on the ARNs of the application, group, configuration, bucket and key they touch, as an IAM policy
document (JSON) or a Terraform ``aws_iam_policy_document``. Pure computation: no AWS call.

Which action each call needs and on which resource type comes from AWS's Service Authorization
Reference (CodeDeploy, S3, KMS): StopDeployment, ContinueDeployment, ListDeploymentTargets and
BatchGetDeploymentTargets support no resource-level permissions there, so they take ``*``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ci_deploy.errors import InputError, InputValueError
from ci_deploy.revision_location import parse_s3_location

ResourceKind = Literal[
    "deploymentgroup", "application", "deploymentconfig", "any", "bucket", "object", "key"
]

POLICY_VERSION = "2012-10-17"
TERRAFORM_NAME = "ci_deploy"

# A CodeDeploy name, where IAM's wildcards * and ? may stand for part of it.
_NAME = re.compile(r"[A-Za-z0-9._+=,@*?-]{1,100}")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_KEY_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
)
_KEY_ARN = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
)
# Region prefixes of the partitions other than aws (ARNs start arn:PARTITION:).
_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
)


@dataclass(frozen=True)
class PolicyOptions:
    """What the policy is for: the verbs, where they run, and the inputs that decide their calls
    (the names are the input table's)."""

    verbs: tuple[str, ...]
    account_id: str
    regions: tuple[str, ...]
    application: str | None = None
    deployment_group: str | None = None
    deployment_config: str | None = None
    s3_location: str | None = None
    upload: bool = True
    register: bool = True
    kms_key: tuple[str, ...] = ()
    on_ready: str = "wait"
    stop_on_cancel: bool = True


def _always(options: PolicyOptions) -> bool:
    return True


def _s3(options: PolicyOptions) -> bool:
    return bool(options.s3_location)


def _uploads(options: PolicyOptions) -> bool:
    return _s3(options) and options.upload


def _kms(options: PolicyOptions) -> bool:
    return _uploads(options) and bool(options.kms_key)


def _registers(options: PolicyOptions) -> bool:
    return options.register


def _not_registered(options: PolicyOptions) -> bool:
    return not options.register


def _stops_on_cancel(options: PolicyOptions) -> bool:
    return options.stop_on_cancel


def _continues(options: PolicyOptions) -> bool:
    return options.on_ready == "continue"


@dataclass(frozen=True)
class Grant:
    """One action on one kind of resource, and why: the API calls of ours that need it, or (no
    calls) the call the service checks it for."""

    action: str
    resource: ResourceKind
    calls: tuple[str, ...]
    why: str = ""
    when: Callable[[PolicyOptions], bool] = _always


_CREATE_CHECKS = "CreateDeployment checks it"

_PUSH = (
    Grant(
        "s3:ListBucket",
        "bucket",
        ("HeadBucket", "HeadObject"),
        "without it HeadObject answers a key not there yet with 403, not 404",
        when=_uploads,
    ),
    Grant("s3:GetObject", "object", ("HeadObject",), when=_s3),
    Grant(
        "s3:PutObject",
        "object",
        ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"),
        when=_uploads,
    ),
    Grant("s3:AbortMultipartUpload", "object", ("AbortMultipartUpload",), when=_uploads),
    Grant("kms:GenerateDataKey", "key", ("PutObject", "CreateMultipartUpload"), when=_kms),
    Grant("kms:Decrypt", "key", ("UploadPart", "CompleteMultipartUpload"), when=_kms),
    Grant(
        "codedeploy:RegisterApplicationRevision",
        "application",
        ("RegisterApplicationRevision",),
        when=_registers,
    ),
)
_CREATE = (
    Grant("codedeploy:GetDeploymentGroup", "deploymentgroup", ("GetDeploymentGroup",)),
    Grant("codedeploy:CreateDeployment", "deploymentgroup", ("CreateDeployment",)),
    Grant(
        "codedeploy:GetDeploymentConfig",
        "deploymentconfig",
        (),
        f"{_CREATE_CHECKS} on the deployment configuration it uses",
    ),
    # --wait-for-active: who holds the group when CreateDeployment says another is active.
    Grant("codedeploy:ListDeployments", "deploymentgroup", ("ListDeployments",)),
)
_WATCH = (
    Grant("codedeploy:GetDeployment", "deploymentgroup", ("GetDeployment",)),
    Grant("codedeploy:ListDeploymentTargets", "any", ("ListDeploymentTargets",)),
    Grant("codedeploy:BatchGetDeploymentTargets", "any", ("BatchGetDeploymentTargets",)),
    Grant("codedeploy:StopDeployment", "any", ("StopDeployment",), when=_stops_on_cancel),
    Grant("codedeploy:ContinueDeployment", "any", ("ContinueDeployment",), when=_continues),
)

# verb -> what its calls need. Tested against the calls each verb makes on the emulator.
GRANTS: Mapping[str, tuple[Grant, ...]] = {
    "push": _PUSH,
    "deploy": (
        *_PUSH,
        *_CREATE,
        Grant(
            "codedeploy:GetApplicationRevision",
            "application",
            (),
            f"{_CREATE_CHECKS} (or RegisterApplicationRevision) on the application",
            when=_not_registered,
        ),
        *_WATCH,
    ),
    # deploy --dry-run: read-only calls only (deploying/dry_run.py).
    "dry-run": (
        Grant("codedeploy:GetDeploymentGroup", "deploymentgroup", ("GetDeploymentGroup",)),
        Grant("codedeploy:GetDeploymentConfig", "deploymentconfig", ("GetDeploymentConfig",)),
        Grant(
            "s3:ListBucket",
            "bucket",
            ("HeadBucket", "HeadObject"),
            "HeadBucket needs it; without it HeadObject answers a key not there yet with 403",
            when=_uploads,
        ),
        Grant("s3:GetObject", "object", ("HeadObject",), when=_s3),
    ),
    "rollback": (
        Grant("codedeploy:ListDeployments", "deploymentgroup", ("ListDeployments",)),
        Grant("codedeploy:BatchGetDeployments", "deploymentgroup", ("BatchGetDeployments",)),
        *_CREATE,
        Grant(
            "codedeploy:GetApplicationRevision",
            "application",
            (),
            f"{_CREATE_CHECKS} on the application of the revision redeployed",
        ),
        *_WATCH,
    ),
    "wait": (
        Grant("codedeploy:GetDeploymentGroup", "deploymentgroup", ("GetDeploymentGroup",)),
        *_WATCH,
    ),
    "status": _WATCH[:3],
    "stop": (Grant("codedeploy:StopDeployment", "any", ("StopDeployment",)),),
}

# Statement per resource kind, in this order, with its Sid.
_STATEMENTS: tuple[tuple[ResourceKind, str], ...] = (
    ("deploymentgroup", "CodeDeployDeploymentGroup"),
    ("application", "CodeDeployApplication"),
    ("deploymentconfig", "CodeDeployDeploymentConfig"),
    ("any", "CodeDeployNoResourceLevelPermissions"),
    ("bucket", "S3Bucket"),
    ("object", "S3Revisions"),
    ("key", "KmsKey"),
)


def grants(options: PolicyOptions) -> list[Grant]:
    """The grants of the chosen verbs under these options, each (action, resource) once, in
    table order."""
    chosen: dict[tuple[str, str], Grant] = {}
    for verb in options.verbs:
        for grant in GRANTS[verb]:
            if grant.when(options):
                chosen.setdefault((grant.action, grant.resource), grant)
    return list(chosen.values())


def partition_of(region: str) -> str:
    for prefix, partition in _PARTITIONS:
        if region.startswith(prefix):
            return partition
    return "aws"


def check_options(options: PolicyOptions) -> None:
    """Every input the policy names, checked before anything is printed; InputError (exit 2)
    naming the input otherwise."""
    if not options.verbs:
        raise InputError(
            "input verbs: no verb given", hint="pass --verbs deploy (or a list: deploy,rollback)"
        )
    if not (options.account_id == "*" or _ACCOUNT.fullmatch(options.account_id)):
        raise InputValueError("account_id", "12 digits, or * for any account", options.account_id)
    _check_regions(options)
    for name in ("application", "deployment_group", "deployment_config"):
        value = getattr(options, name)
        if value is not None and not _NAME.fullmatch(value):
            raise InputValueError(
                name,
                "a CodeDeploy name: 1-100 letters, digits and . _ + = , @ - (or the wildcards "
                "* and ?)",
                value,
            )
    for key in options.kms_key:
        _check_key(key)


def _check_regions(options: PolicyOptions) -> None:
    regions = options.regions
    if not regions:
        raise InputError(
            "input regions is required for iam-policy: ARNs name the region",
            hint="pass --region (several: --region us-east-1,eu-west-1, any: --region '*') or "
            "set AWS_REGION",
        )
    for region in regions:
        if region != "*" and not _REGION.fullmatch(region):
            raise InputValueError("regions", "AWS region names such as us-east-1, or *", region)
    if "*" in regions and len(regions) > 1:
        named = ", ".join(region for region in regions if region != "*")
        raise InputError(
            f"input regions: * (any region) already covers {named}",
            hint="pass --region '*' alone, or the region names",
        )
    twice = sorted({region for region in regions if regions.count(region) > 1})
    if twice:
        raise InputError(
            f"input regions: {', '.join(twice)} listed more than once",
            hint="name each region once in --region",
        )
    partitions = sorted({partition_of(region) for region in regions})
    if len(partitions) > 1:
        raise InputError(
            f"input regions: {', '.join(regions)} span the partitions {', '.join(partitions)}; "
            "a policy belongs to one",
            hint="print one policy per partition",
        )
    location = options.s3_location
    if location and "{region}" in location and "*" in regions:
        raise InputError(
            "input s3_location: {region} needs the region names, not *",
            hint="pass --region with the regions deploy runs in",
        )
    if location and "{region}" not in location and len(regions) > 1:
        # As deploy says: CodeDeploy reads the bundle from a bucket in the deployment's region.
        raise InputError(
            "input s3_location: several regions need a bucket per region",
            hint="put {region} in --s3-location, e.g. s3://my-bundles-{region}/app",
        )


def _check_key(key: str) -> None:
    if key.startswith("alias/") or ":alias/" in key:
        raise InputValueError(
            "kms_key",
            "a KMS key id or key ARN",
            key,
            hint="IAM policies name keys, not aliases: find the key's ARN with "
            f"'aws kms describe-key --key-id {key}'",
        )
    if not (_KEY_ID.fullmatch(key) or _KEY_ARN.fullmatch(key)):
        raise InputValueError(
            "kms_key",
            "a KMS key id (1234abcd-12ab-34cd-56ef-1234567890ab, mrk-...) or key ARN",
            key,
        )


def _required(options: PolicyOptions, name: str, kind: str) -> str:
    value: str | None = getattr(options, name)
    if value:
        return value
    flag = "--" + name.replace("_", "-")
    raise InputError(
        f"input {name} is required for iam-policy --verbs {','.join(options.verbs)}: it names "
        f"the {kind}",
        hint=f"pass {flag} or set CI_DEPLOY_{name.upper()}",
    )


def _codedeploy_arn(options: PolicyOptions, region: str, resource: str) -> str:
    partition = partition_of(region)
    return f"arn:{partition}:codedeploy:{region}:{options.account_id}:{resource}"


def _objects(options: PolicyOptions, region: str) -> str:
    assert options.s3_location is not None
    location = parse_s3_location(options.s3_location, region)
    if location.key is not None:
        return f"{location.bucket}/{location.key}"
    if not options.upload:
        raise InputError(
            f"input s3_location: {options.s3_location} names no object (with --no-upload it "
            "must end in a file name such as app.zip)",
            hint="pass --s3-location s3://bucket/path/app.zip",
        )
    # Uploads go to prefix/APPLICATION/SHA256.EXT (push's content-addressed key).
    application = _required(options, "application", "uploaded bundles' key prefix")
    return "/".join(part for part in (location.bucket, location.prefix, application, "*") if part)


def _key_arns(options: PolicyOptions, region: str) -> Iterator[str]:
    for key in options.kms_key:
        if key.startswith("arn:"):
            yield key
        else:
            yield f"arn:{partition_of(region)}:kms:{region}:{options.account_id}:key/{key}"


def resources(kind: ResourceKind, options: PolicyOptions) -> list[str]:
    """The ARNs of one resource kind, for every region, each once."""
    found: dict[str, None] = {}
    for region in options.regions:
        partition = partition_of(region)
        if kind == "any":
            arns = ["*"]
        elif kind == "deploymentgroup":
            application = _required(options, "application", "deployment group's application")
            group = _required(options, "deployment_group", "deployment group")
            arns = [_codedeploy_arn(options, region, f"deploymentgroup:{application}/{group}")]
        elif kind == "application":
            application = _required(options, "application", "application")
            arns = [_codedeploy_arn(options, region, f"application:{application}")]
        elif kind == "deploymentconfig":
            # Without --deployment-config, CreateDeployment uses the group's: any of them.
            name = options.deployment_config or "*"
            arns = [_codedeploy_arn(options, region, f"deploymentconfig:{name}")]
        elif kind == "bucket":
            assert options.s3_location is not None
            bucket = parse_s3_location(options.s3_location, region).bucket
            arns = [f"arn:{partition}:s3:::{bucket}"]
        elif kind == "object":
            arns = [f"arn:{partition}:s3:::{_objects(options, region)}"]
        else:
            arns = list(_key_arns(options, region))
        found.update(dict.fromkeys(arns))
    return list(found)


def build_policy(options: PolicyOptions) -> dict[str, Any]:
    """The IAM policy document: one statement per resource kind, actions sorted."""
    check_options(options)
    chosen = grants(options)
    statements: list[dict[str, Any]] = []
    for kind, sid in _STATEMENTS:
        actions = sorted({grant.action for grant in chosen if grant.resource == kind})
        if not actions:
            continue
        arns = resources(kind, options)
        statements.append(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Action": actions,
                "Resource": arns[0] if len(arns) == 1 else arns,
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def render_json(policy: Mapping[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"


def _hcl_string(text: str) -> str:
    """A quoted HCL string: backslashes and quotes escaped, and the template sequences ${ and %{
    written $${ and %%{ so Terraform takes them literally."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def _hcl_list(name: str, items: Sequence[str]) -> list[str]:
    return [f"    {name} = [", *(f"      {_hcl_string(item)}," for item in items), "    ]"]


def render_terraform(policy: Mapping[str, Any], name: str = TERRAFORM_NAME) -> str:
    """The policy as a Terraform ``aws_iam_policy_document`` data block (use its ``.json``)."""
    lines = [f'data "aws_iam_policy_document" "{name}" {{']
    for statement in policy["Statement"]:
        resource = statement["Resource"]
        arns = [resource] if isinstance(resource, str) else list(resource)
        lines += [
            "  statement {",
            f"    sid    = {_hcl_string(statement['Sid'])}",
            f"    effect = {_hcl_string(statement['Effect'])}",
            *_hcl_list("actions", statement["Action"]),
            *_hcl_list("resources", arns),
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def explain(options: PolicyOptions) -> list[str]:
    """One line per action: the calls that need it, or the call the service checks it for."""
    chosen = grants(options)
    width = max((len(grant.action) for grant in chosen), default=0)
    lines = []
    for grant in sorted(chosen, key=lambda g: g.action):
        reason = ", ".join(grant.calls) if grant.calls else f"({grant.why})"
        if grant.calls and grant.why:
            reason += f" ({grant.why})"
        lines.append(f"  {grant.action.ljust(width)}  {reason}")
    return lines
