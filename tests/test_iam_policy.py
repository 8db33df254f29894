"""`ci-deploy iam-policy`: statements and ARNs, the options that decide the actions, a policy
linter's verdict, the Terraform form, bad input, no boto3, and the policy in docs/permissions.md.
What the verbs really call is judged in test_iam_policy_e2e.py."""

from __future__ import annotations

import json
import re
import shlex
import warnings
from typing import Any

import pytest

from ci_deploy import cli
from ci_deploy.commands import Streams
from ci_deploy.iam_policy import GRANTS, PolicyOptions, _hcl_string, grants
from ci_deploy.inputs import ADAPTER_VERBS, BY_NAME, adapter_inputs, for_verb
from doc_pages import code_blocks, page, section

ACCOUNT = "123456789012"
ANYWHERE = ["--account-id", ACCOUNT, "--application", "web", "--deployment-group", "prod"]
BASE = [*ANYWHERE, "--region", "us-east-1"]
S3 = ["--s3-location", "s3://my-revisions/bundles"]
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"


def iam_policy(
    streams: Any, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any] | str]:
    code = cli.run(["iam-policy", *args], env or {}, streams)
    out = streams.out
    return code, (json.loads(out) if out.startswith("{") else out)


def policy_of(streams: Any, *args: str) -> dict[str, Any]:
    code, policy = iam_policy(streams, *args)
    assert code == 0, streams.err
    assert isinstance(policy, dict)
    return policy


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def actions(policy: dict[str, Any]) -> set[str]:
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def test_the_default_policy_is_deploy_s_on_the_real_arn_forms(streams: Any) -> None:
    policy = policy_of(streams, *BASE, *S3)
    assert policy["Version"] == "2012-10-17"
    found = statements(policy)
    group = f"arn:aws:codedeploy:us-east-1:{ACCOUNT}:deploymentgroup:web/prod"
    assert found["CodeDeployDeploymentGroup"] == {
        "Sid": "CodeDeployDeploymentGroup",
        "Effect": "Allow",
        "Action": [
            "codedeploy:CreateDeployment",
            "codedeploy:GetDeployment",
            "codedeploy:GetDeploymentGroup",
            "codedeploy:ListDeployments",
        ],
        "Resource": group,
    }
    assert found["CodeDeployApplication"]["Action"] == ["codedeploy:RegisterApplicationRevision"]
    assert found["CodeDeployApplication"]["Resource"] == (
        f"arn:aws:codedeploy:us-east-1:{ACCOUNT}:application:web"
    )
    assert found["CodeDeployDeploymentConfig"]["Resource"] == (
        f"arn:aws:codedeploy:us-east-1:{ACCOUNT}:deploymentconfig:*"
    )
    # No resource-level permissions for these (Service Authorization Reference): "*".
    assert found["CodeDeployNoResourceLevelPermissions"]["Action"] == [
        "codedeploy:BatchGetDeploymentTargets",
        "codedeploy:ListDeploymentTargets",
        "codedeploy:StopDeployment",
    ]
    assert found["CodeDeployNoResourceLevelPermissions"]["Resource"] == "*"
    assert found["S3Bucket"] == {
        "Sid": "S3Bucket",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": "arn:aws:s3:::my-revisions",
    }
    # Uploads go to PREFIX/APPLICATION/SHA256.zip: nothing else of the bucket is writable.
    assert found["S3Revisions"]["Resource"] == "arn:aws:s3:::my-revisions/bundles/web/*"
    assert found["S3Revisions"]["Action"] == [
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert "KmsKey" not in found
    # Humans get each action with the calls that need it.
    assert "codedeploy:GetDeploymentConfig" in streams.err
    assert "CreateDeployment checks it" in streams.err


@pytest.mark.parametrize(
    ("extra", "added", "removed"),
    [
        (["--on-ready", "continue"], {"codedeploy:ContinueDeployment"}, set()),
        (["--no-stop-on-cancel"], set(), {"codedeploy:StopDeployment"}),
        (
            ["--no-register"],
            {"codedeploy:GetApplicationRevision"},
            {"codedeploy:RegisterApplicationRevision"},
        ),
        (["--kms-key", KEY_ID], {"kms:GenerateDataKey", "kms:Decrypt"}, set()),
        (
            ["--s3-location", "s3://my-revisions/app/build.zip", "--no-upload"],
            set(),
            {"s3:ListBucket", "s3:PutObject", "s3:AbortMultipartUpload"},
        ),
        (
            ["--verbs", "deploy,rollback"],
            {"codedeploy:BatchGetDeployments", "codedeploy:GetApplicationRevision"},
            set(),
        ),
    ],
)
def test_the_inputs_of_the_verbs_decide_the_actions(
    streams: Any, extra: list[str], added: set[str], removed: set[str]
) -> None:
    plain = actions(policy_of(streams, *BASE, *S3))
    streams.stdout.seek(0)
    streams.stdout.truncate()
    changed = actions(policy_of(streams, *BASE, *S3, *extra))
    assert changed - plain == added
    assert plain - changed == removed


def test_no_upload_allows_reading_the_one_object_named(streams: Any) -> None:
    location = "s3://my-revisions/app/build.zip"
    found = statements(policy_of(streams, *BASE, "--s3-location", location, "--no-upload"))
    assert found["S3Revisions"] == {
        "Sid": "S3Revisions",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": "arn:aws:s3:::my-revisions/app/build.zip",
    }
    assert "S3Bucket" not in found


def test_stop_alone_needs_no_application_and_keeps_stop_without_stop_on_cancel(
    streams: Any,
) -> None:
    args = ["--verbs", "stop", "--account-id", ACCOUNT, "--region", "us-east-1"]
    policy = policy_of(streams, *args, "--no-stop-on-cancel")
    assert policy["Statement"] == [
        {
            "Sid": "CodeDeployNoResourceLevelPermissions",
            "Effect": "Allow",
            "Action": ["codedeploy:StopDeployment"],
            "Resource": "*",
        }
    ]


def test_without_an_s3_location_there_is_no_s3_access(streams: Any) -> None:
    policy = policy_of(streams, *BASE)
    assert not [a for a in actions(policy) if a.startswith(("s3:", "kms:"))]
    assert "no --s3-location: no S3 access" in streams.err


def test_several_regions_name_every_region_s_resources(streams: Any) -> None:
    args = [*ANYWHERE, "--region", "us-east-1,eu-west-1", "--s3-location", "s3://rev-{region}/b"]
    found = statements(policy_of(streams, *args, "--kms-key", f"{KEY_ID},{KEY_ARN}"))
    assert found["CodeDeployDeploymentGroup"]["Resource"] == [
        f"arn:aws:codedeploy:{region}:{ACCOUNT}:deploymentgroup:web/prod"
        for region in ("us-east-1", "eu-west-1")
    ]
    assert found["S3Bucket"]["Resource"] == [
        "arn:aws:s3:::rev-us-east-1",
        "arn:aws:s3:::rev-eu-west-1",
    ]
    assert found["S3Revisions"]["Resource"] == [
        "arn:aws:s3:::rev-us-east-1/b/web/*",
        "arn:aws:s3:::rev-eu-west-1/b/web/*",
    ]
    # A key id is named in every region (multi-Region keys share it); an ARN as given, once.
    assert found["KmsKey"]["Resource"] == [
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}",
        KEY_ARN,
    ]


def test_any_account_any_region_and_other_partitions(streams: Any) -> None:
    args = ["--account-id", "*", "--region", "*", "--application", "web"]
    found = statements(policy_of(streams, *args, "--deployment-group", "prod"))
    assert found["CodeDeployDeploymentGroup"]["Resource"] == (
        "arn:aws:codedeploy:*:*:deploymentgroup:web/prod"
    )
    streams.stdout.seek(0)
    streams.stdout.truncate()
    args = [*ANYWHERE, "--region", "cn-north-1", "--s3-location", "s3://rev/b"]
    found = statements(policy_of(streams, *args))
    assert found["CodeDeployApplication"]["Resource"] == (
        f"arn:aws-cn:codedeploy:cn-north-1:{ACCOUNT}:application:web"
    )
    assert found["S3Bucket"]["Resource"] == "arn:aws-cn:s3:::rev"


def test_the_region_defaults_to_the_environment_s(streams: Any) -> None:
    code, policy = iam_policy(streams, *ANYWHERE, env={"AWS_REGION": "eu-central-1"})
    assert code == 0, streams.err
    assert isinstance(policy, dict)
    assert ":eu-central-1:" in statements(policy)["CodeDeployApplication"]["Resource"]


def test_the_printed_actions_are_the_table_s(streams: Any) -> None:
    """Every action printed comes from the verbs' table entries that apply, and all of them."""
    for verbs in ("push", "deploy", "rollback", "wait", "status", "stop", "deploy,rollback"):
        for extra in ([], ["--on-ready", "continue", "--kms-key", KEY_ID, "--no-register"]):
            streams.stdout.seek(0)
            streams.stdout.truncate()
            policy = policy_of(streams, *BASE, *S3, "--verbs", verbs, *extra)
            options = PolicyOptions(
                verbs=tuple(verbs.split(",")),
                account_id=ACCOUNT,
                regions=("us-east-1",),
                s3_location="s3://my-revisions/bundles",
                kms_key=(KEY_ID,) if extra else (),
                on_ready="continue" if extra else "wait",
                register=not extra,
            )
            assert actions(policy) == {grant.action for grant in grants(options)}, verbs


# ---------------------------------------------------------------------------------------------
# A policy linter that knows every action, resource type and ARN format.


@pytest.fixture(scope="module")
def parliament() -> Any:
    with warnings.catch_warnings():
        # It reads its data files without closing them.
        warnings.simplefilter("ignore", ResourceWarning)
        import parliament  # noqa: PLC0415

    return parliament


def findings(parliament: Any, policy: dict[str, Any]) -> list[tuple[str, Any]]:
    analysed = parliament.analyze_policy_string(json.dumps(policy), include_community_auditors=True)
    return [(finding.issue, finding.detail) for finding in analysed.findings]


LINTED = [
    [*BASE, *S3],
    [*BASE, *S3, "--verbs", "push,deploy,rollback,wait,status,stop", "--on-ready", "continue"],
    [*BASE, "--verbs", "rollback", "--deployment-config", "CodeDeployDefault.AllAtOnce"],
    [*BASE, "--verbs", "wait,status,stop", "--account-id", "*"],
    [*BASE, *S3, "--account-id", "*", "--kms-key", KEY_ID, "--no-register"],
    [
        *ANYWHERE,
        "--s3-location",
        "s3://rev-{region}/b",
        "--region",
        "us-east-1,eu-west-1",
        "--kms-key",
        KEY_ARN,
    ],
    [*ANYWHERE, "--s3-location", "s3://rev/app/v1.zip", "--no-upload", "--region", "us-gov-west-1"],
    ["--verbs", "stop", "--account-id", "*", "--region", "*"],
]


@pytest.mark.parametrize("args", LINTED, ids=lambda args: " ".join(args[6:]) or "default")
def test_a_policy_linter_finds_nothing(parliament: Any, streams: Any, args: list[str]) -> None:
    assert findings(parliament, policy_of(streams, *args)) == []


def test_the_linter_does_find_a_wrong_resource_or_a_star(parliament: Any, streams: Any) -> None:
    """The check above is live: the same policy with StopDeployment on the group ARN (as
    CodeDeploy's older permissions table had it) or a group ARN widened to * is flagged."""
    policy = policy_of(streams, *BASE, *S3)
    found = statements(policy)
    group = found["CodeDeployDeploymentGroup"]
    moved = json.loads(json.dumps(policy))
    statements(moved)["CodeDeployDeploymentGroup"]["Action"].append("codedeploy:StopDeployment")
    assert (
        "RESOURCE_MISMATCH",
        [{"action": "codedeploy:StopDeployment", "required_format": "*"}],
    ) in (findings(parliament, moved))
    widened = json.loads(json.dumps(policy))
    statements(widened)["CodeDeployDeploymentGroup"]["Resource"] = "*"
    assert ("RESOURCE_STAR", group["Action"]) in findings(parliament, widened)


# ---------------------------------------------------------------------------------------------
# --format terraform


def hcl_text(value: str) -> str:
    """A string as python-hcl2 returns it (quoted, escapes kept), as Terraform reads it."""
    assert value.startswith('"') and value.endswith('"'), value
    body = value[1:-1].replace("$${", "${").replace("%%{", "%{")
    return re.sub(r'\\(["\\n])', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), body)


def test_terraform_prints_the_same_statements_as_a_policy_document(streams: Any) -> None:
    import hcl2  # noqa: PLC0415

    args = [*ANYWHERE, "--region", "us-east-1,eu-west-1", "--s3-location", "s3://rev-{region}/b"]
    args += ["--verbs", "deploy,stop", "--kms-key", KEY_ID]
    policy = policy_of(streams, *args)
    streams.stdout.seek(0)
    streams.stdout.truncate()
    assert cli.run(["iam-policy", *args, "--format", "terraform"], {}, streams) == 0
    parsed = hcl2.loads(streams.out)
    (data,) = parsed["data"]
    block = data['"aws_iam_policy_document"']['"ci_deploy"']
    as_json = [
        {
            "Sid": hcl_text(statement["sid"]),
            "Effect": hcl_text(statement["effect"]),
            "Action": [hcl_text(action) for action in statement["actions"]],
            "Resource": [hcl_text(resource) for resource in statement["resources"]],
        }
        for statement in block["statement"]
    ]
    expected = [
        {**statement, "Resource": [r] if isinstance(r := statement["Resource"], str) else r}
        for statement in policy["Statement"]
    ]
    assert as_json == expected


def test_terraform_strings_keep_template_sequences_literal() -> None:
    assert _hcl_string('a${b}%{c}"\\') == '"a$${b}%%{c}\\"\\\\"'
    assert hcl_text(_hcl_string('p/${x}/%{y}"\\')) == 'p/${x}/%{y}"\\'


# ---------------------------------------------------------------------------------------------
# Bad input: exit 2, naming the input.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*BASE, "--verbs", "deploy,launch"], "input verbs: expected a list of push, deploy"),
        ([*BASE[2:]], "input account_id is required for iam-policy"),
        (["--account-id", "12345", *BASE[2:]], "input account_id: expected 12 digits"),
        ([*ANYWHERE, "--region", "mars-1"], "input regions: expected AWS region names"),
        ([*BASE, "--s3-location", "bucket/key"], "input s3_location: expected s3://bucket"),
        ([*BASE, "--s3-location", "s3://Bad_Bucket"], "input s3_location: expected a bucket"),
        (
            [*ANYWHERE, "--region", "us-east-1,eu-west-1", *S3],
            "input s3_location: several regions need a bucket per region",
        ),
        ([*ANYWHERE, "--region", "us-east-1,*"], "input regions: * (any region) already covers"),
        ([*ANYWHERE, "--region", "us-east-1,cn-north-1"], "span the partitions aws, aws-cn"),
        (["--account-id", ACCOUNT, "--region", "us-east-1"], "input application is required"),
        (
            ["--account-id", ACCOUNT, "--region", "us-east-1", "--application", "web"],
            "input deployment_group is required",
        ),
        ([*BASE, "--application", "web app"], "input application: expected a CodeDeploy name"),
        ([*BASE, *S3, "--kms-key", "alias/bundles"], "input kms_key: expected a KMS key id"),
        ([*BASE, *S3, "--kms-key", "not-a-key"], "input kms_key: expected a KMS key id"),
        ([*BASE, *S3, "--no-upload"], "input s3_location: s3://my-revisions/bundles names no"),
        ([*BASE, "--format", "yaml"], "input policy_format: expected one of json, terraform"),
    ],
)
def test_bad_input_is_exit_2_naming_the_input(streams: Any, args: list[str], message: str) -> None:
    code, out = iam_policy(streams, *args)
    assert code == 2, streams.err
    assert out == ""
    assert message in streams.err
    assert "hint:" in streams.err or "expected" in streams.err
    assert "Traceback" not in streams.err


def test_a_missing_region_says_how_to_give_one(streams: Any) -> None:
    assert iam_policy(streams, *ANYWHERE)[0] == 2
    assert "input regions is required for iam-policy" in streams.err
    assert "set AWS_REGION" in streams.err


def test_an_alias_is_refused_with_how_to_find_its_key(streams: Any) -> None:
    assert iam_policy(streams, *BASE, *S3, "--kms-key", "alias/bundles")[0] == 2
    assert "aws kms describe-key --key-id alias/bundles" in streams.err


# ---------------------------------------------------------------------------------------------
# The command and its inputs.


def test_a_real_process_prints_the_policy_without_importing_boto3(cli_without_aws: Any) -> None:
    done, imported_aws = cli_without_aws(["iam-policy", *BASE, *S3])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Statement"]
    assert not imported_aws


def test_iam_policy_is_a_cli_verb_whose_own_inputs_the_adapters_do_not_take() -> None:
    """A CI job runs with the role this prints: printing it is a job for a person (or
    Terraform), before the pipeline has credentials; so it is not an adapter command."""
    assert "iam-policy" not in ADAPTER_VERBS
    exposed = {spec.name for spec in adapter_inputs()}
    own = {"verbs", "account_id", "kms_key", "policy_format"}
    assert not own & exposed
    assert {spec.name for spec in for_verb("iam-policy")} >= own | {
        "application",
        "deployment_group",
        "deployment_config",
        "s3_location",
        "regions",
        "upload",
        "register",
        "on_ready",
        "stop_on_cancel",
    }
    assert BY_NAME["verbs"].choices == tuple(GRANTS)
    assert BY_NAME["policy_format"].aliases == ("--format",)


def test_inputs_come_from_the_environment_too(streams: Any) -> None:
    env = {
        "CI_DEPLOY_ACCOUNT_ID": ACCOUNT,
        "CI_DEPLOY_APPLICATION": "web",
        "CI_DEPLOY_DEPLOYMENT_GROUP": "prod",
        "CI_DEPLOY_VERBS": "status",
        "AWS_DEFAULT_REGION": "ap-south-1",
    }
    code, policy = iam_policy(streams, env=env)
    assert code == 0, streams.err
    assert isinstance(policy, dict)
    assert actions(policy) == {
        "codedeploy:GetDeployment",
        "codedeploy:ListDeploymentTargets",
        "codedeploy:BatchGetDeploymentTargets",
    }


def test_the_policy_in_the_permissions_page_is_what_the_command_prints(streams: Streams) -> None:
    text = section(page("docs/permissions.md"), "## IAM policy")
    (command,) = code_blocks(text, "sh")
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[:2] == ["ci-deploy", "iam-policy"]
    (documented,) = code_blocks(text, "json")
    assert cli.run(argv[1:], {}, streams) == 0
    assert streams.stdout.getvalue() == documented  # type: ignore[attr-defined]
