"""`ci-deploy deploy --dry-run` against the emulator: it prints the CreateDeployment request a
deploy then really sends (every botocore call recorded), changes nothing in S3 or CodeDeploy,
and fails as a deploy would on a missing group or bucket and on a bad appspec."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest

from ci_deploy import cli
from ci_deploy.commands import Streams

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ROLE = "arn:aws:iam::123456789012:role/codedeploy"
READ_ONLY = {"GetDeploymentGroup", "GetDeploymentConfig", "HeadBucket", "HeadObject"}
# What a CI job says about itself: the deployment's default description names both.
CI_ENV = {"GITHUB_SHA": "0123456789abcdef0123", "GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "o/r"}

Calls = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Every botocore API call made in this process: (service, operation, parameters)."""
    calls: Calls = []
    original = botocore.client.BaseClient._make_api_call

    def record(self: Any, operation: str, params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        calls.append((service, operation, {k: v for k, v in params.items() if k != "Body"}))
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


def clients(endpoint_url: str, region: str) -> tuple[Any, Any]:
    settings = {
        "endpoint_url": endpoint_url,
        "region_name": region,
        "aws_access_key_id": "emulator",
        "aws_secret_access_key": "emulator",
    }
    return boto3.client("codedeploy", **settings), boto3.client("s3", **settings)


def make_target(endpoint_url: str, name: str, region: str) -> None:
    """An application, group and versioned bucket in ``region`` of the emulator."""
    codedeploy, s3 = clients(endpoint_url, region)
    try:
        codedeploy.create_application(applicationName=name, computePlatform="Server")
        codedeploy.create_deployment_group(
            applicationName=name, deploymentGroupName="fleet", serviceRoleArn=ROLE
        )
    except codedeploy.exceptions.ApplicationAlreadyExistsException:
        # The emulator may keep one CodeDeploy for every region: the second finds them there.
        assert region != "us-east-1"
    bucket = f"{name}-{region}"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def state(endpoint_url: str, name: str, regions: tuple[str, ...]) -> dict[str, Any]:
    """What a deploy writes, region by region: the bucket's object versions (and unfinished
    multipart uploads), the applications, the application's revisions, the group's deployments."""
    found: dict[str, Any] = {}
    for region in regions:
        codedeploy, s3 = clients(endpoint_url, region)
        bucket = f"{name}-{region}"
        versions = s3.list_object_versions(Bucket=bucket)
        found[region] = {
            "objects": [
                (v["Key"], v["VersionId"], v["ETag"]) for v in versions.get("Versions", [])
            ],
            "uploads": s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []),
            "applications": sorted(codedeploy.list_applications()["applications"]),
            "revisions": codedeploy.list_application_revisions(applicationName=name)["revisions"],
            "deployments": codedeploy.list_deployments(
                applicationName=name, deploymentGroupName="fleet"
            )["deployments"],
        }
    return found


@pytest.fixture
def target(emulator: Any, unique_name: str, aws_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    make_target(emulator.endpoint_url, unique_name, "us-east-1")
    yield {"name": unique_name, "endpoint": emulator.endpoint_url, "env": {**aws_env, **CI_ENV}}


def run(
    target: dict[str, Any], *args: str, source: Path = EXAMPLES / "web-app"
) -> tuple[int, str, str]:
    streams = Streams(stdout=io.StringIO(), stderr=io.StringIO())
    argv = [
        "deploy",
        str(source),
        "--application",
        target["name"],
        "--deployment-group",
        "fleet",
        "--endpoint-url",
        target["endpoint"],
        *args,
    ]
    code = cli.run(argv, target["env"], streams)
    out, err = streams.stdout.getvalue(), streams.stderr.getvalue()  # type: ignore[attr-defined]
    return code, out, err


def s3_location(target: dict[str, Any]) -> list[str]:
    return ["--s3-location", f"s3://{target['name']}-{{region}}/bundles"]


def created(calls: Calls) -> list[dict[str, Any]]:
    return [params for _, operation, params in calls if operation == "CreateDeployment"]


def test_dry_run_prints_the_request_a_deploy_then_sends_and_changes_nothing(
    target: dict[str, Any], recorded: Calls
) -> None:
    before = state(target["endpoint"], target["name"], ("us-east-1",))
    recorded.clear()
    code, out, err = run(target, *s3_location(target), "--region", "us-east-1", "--dry-run")
    assert code == 0, err
    assert {operation for _, operation, _ in recorded} == READ_ONLY
    assert state(target["endpoint"], target["name"], ("us-east-1",)) == before
    printed = json.loads(out)
    assert printed["dry_run"] is True
    [plan] = printed["requests"]
    assert plan["region"] == "us-east-1" and plan["operation"] == "CreateDeployment"
    assert plan["upload"].startswith(f"s3://{target['name']}-us-east-1/bundles/")
    assert plan["decided_by_upload"] == ["eTag", "version"]
    assert "dry run: nothing was uploaded, registered or created" in err
    assert f"upload the bundle (sha256 {plan['bundle_sha256']})" in err

    # The real deploy sends the same request; only the fields S3 answers on upload are added.
    recorded.clear()
    code, out, err = run(target, *s3_location(target), "--region", "us-east-1", "--no-wait")
    assert code == 0, err
    [sent] = created(recorded)
    location = dict(sent["revision"]["s3Location"])
    assert location.pop("eTag") and location.pop("version")
    assert {**sent, "revision": {**sent["revision"], "s3Location": location}} == plan["request"]
    assert plan["request"]["description"] == "ci-deploy: commit 0123456789ab, run " + (
        "https://github.com/o/r/actions/runs/42"
    )

    # Now that the bundle is in the bucket, a dry run prints exactly what was sent.
    recorded.clear()
    code, out, err = run(target, *s3_location(target), "--region", "us-east-1", "--dry-run")
    assert code == 0, err
    [again] = json.loads(out)["requests"]
    assert again["request"] == sent
    assert again["upload"] is None and again["decided_by_upload"] == []
    assert not created(recorded)


def test_dry_run_reports_one_request_per_region(target: dict[str, Any], recorded: Calls) -> None:
    make_target(target["endpoint"], target["name"], "eu-west-1")
    regions = ("us-east-1", "eu-west-1")
    before = state(target["endpoint"], target["name"], regions)
    code, out, err = run(target, *s3_location(target), "--region", ",".join(regions), "--dry-run")
    assert code == 0, err
    assert state(target["endpoint"], target["name"], regions) == before
    plans = json.loads(out)["requests"]
    assert [plan["region"] for plan in plans] == list(regions)
    for plan in plans:
        bucket = plan["request"]["revision"]["s3Location"]["bucket"]
        assert bucket == f"{target['name']}-{plan['region']}"
    assert {params.get("Bucket") for _, op, params in recorded if op == "HeadBucket"} == {
        f"{target['name']}-{region}" for region in regions
    }


def test_dry_run_of_a_github_revision_touches_no_bucket(
    target: dict[str, Any], recorded: Calls
) -> None:
    github = [
        "--github-repository",
        "o/r",
        "--commit-id",
        "0123456789abcdef0123456789abcdef01234567",
    ]
    code, out, err = run(target, *github, "--region", "us-east-1", "--dry-run")
    assert code == 0, err
    [plan] = json.loads(out)["requests"]
    assert plan["request"]["revision"] == {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": "o/r", "commitId": github[-1]},
    }
    assert plan["upload"] is None and plan["bundle_sha256"] is None
    assert {service for service, _, _ in recorded} == {"codedeploy"}
    assert "CreateDeployment in group 'fleet': GitHub o/r at 0123" in err


FailingCase = Callable[[dict[str, Any]], list[str]]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda t: ["--application", f"{t['name']}-missing", *s3_location(t)],
            "check --application and --region",
        ),
        (
            lambda t: ["--deployment-group", "nowhere", *s3_location(t)],
            "check --deployment-group, --application and --region",
        ),
        (
            lambda t: ["--deployment-config", "NoSuchConfig", *s3_location(t)],
            "check --deployment-config",
        ),
        (
            lambda t: ["--s3-location", f"s3://{t['name']}-missing/bundles"],
            "create it in us-east-1 or fix --s3-location",
        ),
    ],
    ids=["missing-application", "missing-group", "missing-config", "missing-bucket"],
)
def test_dry_run_fails_as_a_deploy_would(
    target: dict[str, Any], recorded: Calls, change: FailingCase, expected: str
) -> None:
    code, out, err = run(target, "--region", "us-east-1", *change(target), "--dry-run")
    assert code == 3, err
    assert f"hint: {expected}" in err
    assert out == ""
    assert {operation for _, operation, _ in recorded} <= READ_ONLY


def test_dry_run_of_an_invalid_appspec_exits_2_before_any_call(
    target: dict[str, Any], recorded: Calls, tmp_path: Path
) -> None:
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: plan9\n", encoding="utf-8")
    code, _, err = run(
        target, *s3_location(target), "--region", "us-east-1", "--dry-run", source=tmp_path
    )
    assert code == 2, err
    assert "os" in err
    assert recorded == []
