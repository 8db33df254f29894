"""The emulator keeps CodeDeploy state per region (the request's signing scope names it), and a
revision's bucket must be in the deployment's region; `deploy --region a,b` makes a deployment
in each region, visible only there."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from ci_deploy import cli
from ci_deploy.emulator import RunningEmulator, start
from conftest import boto_client

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ROLE = "arn:aws:iam::123456789012:role/codedeploy"
REGIONS = ("us-east-1", "eu-west-1")
# The tag of the instances `--instances N` launches in each region.
DEMO_FLEET = [{"Key": "Name", "Value": "ci-deploy-emulator", "Type": "KEY_AND_VALUE"}]
APPSPEC = "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /srv/app\n"


@pytest.fixture(scope="module")
def region_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    running = start(port=0, instances=2, state_dir=tmp_path_factory.mktemp("regions"))
    try:
        yield running
    finally:
        running.stop()


def client(emulator: RunningEmulator, service: str, region: str) -> Any:
    return boto_client(emulator, service, region)


def make_bucket(s3: Any, bucket: str, region: str) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def upload_bundle(s3: Any, bucket: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("appspec.yml", APPSPEC)
        archive.writestr("index.html", "hello\n")
    s3.put_object(Bucket=bucket, Key="app.zip", Body=buffer.getvalue())
    return {
        "revisionType": "S3",
        "s3Location": {"bucket": bucket, "key": "app.zip", "bundleType": "zip"},
    }


def wait_done(codedeploy: Any, deployment_id: str) -> str:
    for _ in range(600):  # bounded: at most ~60 s
        status = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]
        if status in ("Succeeded", "Failed", "Stopped"):
            return str(status)
        time.sleep(0.1)
    raise AssertionError(f"{deployment_id} did not finish")


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Code"])


def test_each_region_has_its_own_state_both_ways(region_emulator: RunningEmulator) -> None:
    """The same application name lives in two regions; each region's deployment, group and
    revision are seen in that region only, whichever region comes first."""
    ids: dict[str, str] = {}
    for region in REGIONS:
        codedeploy = client(region_emulator, "codedeploy", region)
        s3 = client(region_emulator, "s3", region)
        codedeploy.create_application(applicationName="shop")
        codedeploy.create_deployment_group(
            applicationName="shop",
            deploymentGroupName=f"fleet-{region}",
            serviceRoleArn=ROLE,
            ec2TagFilters=DEMO_FLEET,
        )
        bucket = f"bundles-{region}"
        make_bucket(s3, bucket, region)
        revision = upload_bundle(s3, bucket)
        ids[region] = codedeploy.create_deployment(
            applicationName="shop", deploymentGroupName=f"fleet-{region}", revision=revision
        )["deploymentId"]
        assert wait_done(codedeploy, ids[region]) == "Succeeded"
    for region, other in (REGIONS, REGIONS[::-1]):
        codedeploy = client(region_emulator, "codedeploy", region)
        info = codedeploy.get_deployment(deploymentId=ids[region])["deploymentInfo"]
        assert info["deploymentGroupName"] == f"fleet-{region}"
        assert codedeploy.list_deployments(applicationName="shop")["deployments"] == [ids[region]]
        assert codedeploy.list_deployment_groups(applicationName="shop")["deploymentGroups"] == [
            f"fleet-{region}"
        ]
        assert (
            error_code(codedeploy.get_deployment, deploymentId=ids[other])
            == "DeploymentDoesNotExistException"
        )
        assert (
            error_code(
                codedeploy.get_deployment_group,
                applicationName="shop",
                deploymentGroupName=f"fleet-{other}",
            )
            == "DeploymentGroupDoesNotExistException"
        )
        targets = codedeploy.list_deployment_targets(deploymentId=ids[region])["targetIds"]
        arn = codedeploy.get_deployment_target(deploymentId=ids[region], targetId=targets[0])[
            "deploymentTarget"
        ]["instanceTarget"]["targetArn"]
        assert arn.startswith(f"arn:aws:ec2:{region}:")
    # Instances of each region's group are that region's own.
    assert region_emulator.instances("shop", "fleet-eu-west-1", "eu-west-1")
    assert region_emulator.instances("shop", "fleet-eu-west-1") == []


def test_a_region_only_reads_revisions_from_its_own_buckets(
    region_emulator: RunningEmulator,
) -> None:
    east = client(region_emulator, "codedeploy", "us-east-1")
    west_s3 = client(region_emulator, "s3", "eu-west-1")
    east.create_application(applicationName="far")
    east.create_deployment_group(
        applicationName="far", deploymentGroupName="g", serviceRoleArn=ROLE
    )
    make_bucket(west_s3, "far-bundles-eu", "eu-west-1")
    revision = upload_bundle(west_s3, "far-bundles-eu")
    with pytest.raises(ClientError) as caught:
        east.create_deployment(applicationName="far", deploymentGroupName="g", revision=revision)
    error = caught.value.response["Error"]
    assert error["Code"] == "RevisionDoesNotExistException"
    assert "eu-west-1" in error["Message"] and "us-east-1" in error["Message"]


def test_a_signature_for_no_region_is_refused_and_the_emulator_serves_on(
    region_emulator: RunningEmulator,
) -> None:
    url = region_emulator.endpoint_url
    for scope_region in ("..", "x" * 300, "US-EAST-1x", "us-east-1;rm"):
        answer = requests.post(
            url,
            data="{}",
            headers={
                "X-Amz-Target": "CodeDeploy_20141006.ListApplications",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=k/20240101/{scope_region}/"
                "codedeploy/aws4_request, SignedHeaders=host, Signature=0",
            },
            timeout=10,
        )
        assert answer.status_code == 400
        assert answer.json()["__type"] == "InvalidSignatureException"
    client(region_emulator, "codedeploy", "ap-south-1").list_applications()


def test_deploy_to_two_regions_makes_a_deployment_in_each(
    region_emulator: RunningEmulator, aws_env: dict[str, str], streams: Any
) -> None:
    """`deploy --region us-east-1,eu-west-1` against the emulator: two independent deployments,
    each only in its own region."""
    for region in REGIONS:
        codedeploy = client(region_emulator, "codedeploy", region)
        codedeploy.create_application(applicationName="two")
        codedeploy.create_deployment_group(
            applicationName="two",
            deploymentGroupName="web",
            serviceRoleArn=ROLE,
            ec2TagFilters=DEMO_FLEET,
        )
        make_bucket(client(region_emulator, "s3", region), f"two-{region}", region)
    code = cli.run(
        [
            "deploy",
            str(EXAMPLES / "web-app"),
            "--application",
            "two",
            "--deployment-group",
            "web",
            "--s3-location",
            "s3://two-{region}/bundles",
            "--region",
            ",".join(REGIONS),
            "--endpoint-url",
            region_emulator.endpoint_url,
        ],
        aws_env,
        streams,
    )
    assert code == 0, streams.err
    ids = json.loads(streams.out)["deployment_ids"]
    assert set(ids) == set(REGIONS) and ids["us-east-1"] != ids["eu-west-1"]
    for region, other in (REGIONS, REGIONS[::-1]):
        codedeploy = client(region_emulator, "codedeploy", region)
        info = codedeploy.get_deployment(deploymentId=ids[region])["deploymentInfo"]
        assert info["status"] == "Succeeded"
        assert info["revision"]["s3Location"]["bucket"] == f"two-{region}"
        assert (
            error_code(codedeploy.get_deployment, deploymentId=ids[other])
            == "DeploymentDoesNotExistException"
        )
