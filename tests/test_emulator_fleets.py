"""Fleets as CodeDeploy selects them: the running EC2 instances a group's tag filters or tag set
select, the instances of its Auto Scaling groups; nothing selected is NO_INSTANCES. EC2 and Auto
Scaling are moto's, served on the emulator's port by the signing scope."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from ci_deploy.emulator import RunningEmulator, start
from conftest import boto_client

ROLE = "arn:aws:iam::123456789012:role/codedeploy"
APPSPEC = "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /srv/app\n"


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    running = start(port=0, instances=0, state_dir=tmp_path_factory.mktemp("fleets"))
    try:
        yield running
    finally:
        running.stop()


def client(emulator: RunningEmulator, service: str, region_name: str = "us-west-2") -> Any:
    return boto_client(emulator, service, region_name)


def run_tagged(ec2: Any, count: int, tags: dict[str, str]) -> list[str]:
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=count,
        MaxCount=count,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }
        ],
    )
    return [i["InstanceId"] for i in reservation["Instances"]]


def deploy(emulator: RunningEmulator, app: str, **group: Any) -> tuple[dict[str, Any], set[str]]:
    """Create the group, deploy a bundle to it, wait; (deployment info, target ids)."""
    codedeploy, s3 = client(emulator, "codedeploy"), client(emulator, "s3")
    codedeploy.create_application(applicationName=app)
    codedeploy.create_deployment_group(
        applicationName=app, deploymentGroupName="g", serviceRoleArn=ROLE, **group
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("appspec.yml", APPSPEC)
        archive.writestr("index.html", "hi\n")
    s3.create_bucket(Bucket=app, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket=app, Key="a.zip", Body=buffer.getvalue())
    deployment_id = codedeploy.create_deployment(
        applicationName=app,
        deploymentGroupName="g",
        fileExistsBehavior="OVERWRITE",  # hosts are shared: an earlier test's app was here
        revision={
            "revisionType": "S3",
            "s3Location": {"bucket": app, "key": "a.zip", "bundleType": "zip"},
        },
    )["deploymentId"]
    for _ in range(600):  # bounded: ~60 s
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info["status"] in ("Succeeded", "Failed", "Stopped"):
            break
        time.sleep(0.1)
    targets = set(codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"])
    return info, targets


def test_tag_filters_select_the_running_instances_they_match(region: RunningEmulator) -> None:
    ec2 = client(region, "ec2")
    web = run_tagged(ec2, 2, {"Name": "web", "Env": "prod"})
    other = run_tagged(ec2, 1, {"Name": "web", "Env": "test"})
    stopped = run_tagged(ec2, 1, {"Name": "web", "Env": "prod"})
    ec2.terminate_instances(InstanceIds=stopped)
    run_tagged(ec2, 1, {"Name": "db"})
    info, targets = deploy(
        region,
        "by-filter",
        ec2TagFilters=[{"Key": "Name", "Value": "web", "Type": "KEY_AND_VALUE"}],
    )
    assert info["status"] == "Succeeded"
    assert targets == set(web + other)
    # A tag set: an instance must match a filter of every group.
    info, targets = deploy(
        region,
        "by-set",
        ec2TagSet={
            "ec2TagSetList": [
                [{"Key": "Name", "Value": "web", "Type": "KEY_AND_VALUE"}],
                [{"Value": "prod", "Type": "VALUE_ONLY"}],
            ]
        },
    )
    assert info["status"] == "Succeeded"
    assert targets == set(web)


def test_a_group_that_selects_nothing_fails_with_no_instances(region: RunningEmulator) -> None:
    for app, group in (
        ("no-tags", {}),
        (
            "no-match",
            {"ec2TagFilters": [{"Key": "Name", "Value": "nobody", "Type": "KEY_AND_VALUE"}]},
        ),
    ):
        info, targets = deploy(region, app, **group)
        assert info["status"] == "Failed"
        assert info["errorInformation"]["code"] == "NO_INSTANCES"
        assert targets == set()


def test_auto_scaling_group_instances_are_the_fleet(region: RunningEmulator) -> None:
    autoscaling = client(region, "autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId="ami-12c6146b", InstanceType="t2.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="asg-web",
        LaunchConfigurationName="lc",
        MinSize=2,
        MaxSize=2,
        AvailabilityZones=["us-west-2a"],
    )
    members = {
        i["InstanceId"]
        for i in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["asg-web"])[
            "AutoScalingGroups"
        ][0]["Instances"]
    }
    assert len(members) == 2
    info, targets = deploy(region, "by-asg", autoScalingGroups=["asg-web"])
    assert info["status"] == "Succeeded"
    assert targets == members
    with pytest.raises(ClientError) as caught:
        client(region, "codedeploy").create_deployment_group(
            applicationName="by-asg",
            deploymentGroupName="missing",
            serviceRoleArn=ROLE,
            autoScalingGroups=["no-such-asg"],
        )
    assert caught.value.response["Error"]["Code"] == "InvalidAutoScalingGroupException"


def test_instances_option_launches_tagged_instances_in_each_region(tmp_path: Any) -> None:
    with start(port=0, instances=2, state_dir=tmp_path) as emulator:
        for name in ("eu-central-1", "ap-southeast-2"):
            found = client(emulator, "ec2", name).describe_instances(
                Filters=[
                    {"Name": "tag:Name", "Values": ["ci-deploy-emulator"]},
                    {"Name": "instance-state-name", "Values": ["running"]},
                ]
            )
            ids = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
            assert len(ids) == 2


def test_other_services_and_moto_s_api_stay_refused(region: RunningEmulator) -> None:
    url = region.endpoint_url
    for service in ("iam", "lambda", "sts"):
        answer = requests.post(
            url,
            data="Action=ListUsers",
            headers={
                "Authorization": f"AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/{service}/"
                "aws4_request, SignedHeaders=host, Signature=0"
            },
            timeout=10,
        )
        assert answer.status_code == 403
    for path in ("/moto-api/reset", "/moto-api/data.json"):
        answer = requests.post(
            url + path,
            headers={
                "Authorization": "AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/ec2/"
                "aws4_request, SignedHeaders=host, Signature=0"
            },
            timeout=10,
        )
        assert answer.status_code == 403
    # A browser page cannot reach EC2 either.
    answer = requests.post(
        url,
        data="Action=DescribeInstances&Version=2016-11-15",
        headers={
            "Origin": "http://evil.example",
            "Authorization": "AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/ec2/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
        timeout=10,
    )
    assert answer.status_code == 403


def test_malformed_requests_get_the_service_s_errors_and_it_serves_on(
    region: RunningEmulator,
) -> None:
    url = region.endpoint_url
    for service, body in (
        ("ec2", "Action=RunInstances&MinCount=x"),
        ("ec2", "Action=NoSuchThing"),
        ("autoscaling", "Action=CreateAutoScalingGroup"),
        ("sns", "Action=Publish"),
        ("monitoring", "Action=PutMetricAlarm&Threshold=abc"),
        ("ec2", "\\x00\\xff" * 10),
    ):
        answer = requests.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=k/20240101/us-west-2/{service}/"
                "aws4_request, SignedHeaders=host, Signature=0",
            },
            timeout=10,
        )
        assert 400 <= answer.status_code < 500, (service, body, answer.status_code, answer.text)
        assert "Traceback" not in answer.text
        assert re.search(
            r"<Code>(InvalidAction|InvalidParameterValue|ValidationError)</Code>", answer.text
        )
    answer = requests.post(
        url,
        data="{not json",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS.NoSuchThing",
            "Authorization": "AWS4-HMAC-SHA256 Credential=k/20240101/us-west-2/sqs/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
        timeout=10,
    )
    assert answer.status_code == 400 and "Traceback" not in answer.text
    client(region, "ec2").describe_instances()
    client(region, "sqs").list_queues()


def test_blue_green_copies_the_auto_scaling_group_and_deploys_to_the_copy(
    region: RunningEmulator,
) -> None:
    autoscaling = client(region, "autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc-bg", ImageId="ami-12c6146b", InstanceType="t2.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="asg-bg",
        LaunchConfigurationName="lc-bg",
        MinSize=2,
        MaxSize=2,
        AvailabilityZones=["us-west-2a"],
    )
    originals = {
        i["InstanceId"]
        for i in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["asg-bg"])[
            "AutoScalingGroups"
        ][0]["Instances"]
    }
    info, targets = deploy(
        region,
        "copy-asg",
        autoScalingGroups=["asg-bg"],
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        loadBalancerInfo={"targetGroupInfoList": [{"name": "web"}]},
        blueGreenDeploymentConfiguration={
            "greenFleetProvisioningOption": {"action": "COPY_AUTO_SCALING_GROUP"},
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 0,
            },
        },
    )
    assert info["status"] == "Succeeded"
    copy_name = f"CodeDeploy_g_{info['deploymentId']}"
    groups = {
        g["AutoScalingGroupName"]: {i["InstanceId"] for i in g["Instances"]}
        for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    }
    assert "asg-bg" not in groups  # the original went with its fleet (TERMINATE)
    copies = groups[copy_name]
    assert len(copies) == 2 and not copies & originals
    assert targets == copies | originals
    group = client(region, "codedeploy").get_deployment_group(
        applicationName="copy-asg", deploymentGroupName="g"
    )["deploymentGroupInfo"]
    assert [g["name"] for g in group["autoScalingGroups"]] == [copy_name]
