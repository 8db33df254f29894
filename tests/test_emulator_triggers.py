"""Triggers: a group's triggerConfigurations publish the service's notification messages (the
user guide's JSON formats) to SNS for the listed events; the test reads them back from an SQS
queue subscribed to the topic, all through the emulator's one port."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ci_deploy.emulator import RunningEmulator, start
from conftest import boto_client

ROLE = "arn:aws:iam::123456789012:role/codedeploy"
REGION = "ca-central-1"
FLEET = [{"Key": "Name", "Value": "ci-deploy-emulator", "Type": "KEY_AND_VALUE"}]
APPSPEC = (
    "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /srv/app\n"
    "hooks:\n  ValidateService:\n    - location: check.sh\n"
)
ALL_EVENTS = [
    "DeploymentStart",
    "DeploymentSuccess",
    "DeploymentFailure",
    "DeploymentStop",
    "DeploymentRollback",
    "DeploymentReady",
    "InstanceStart",
    "InstanceSuccess",
    "InstanceFailure",
    "InstanceReady",
]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    running = start(port=0, instances=2, state_dir=tmp_path_factory.mktemp("triggers"))
    try:
        yield running
    finally:
        running.stop()


def client(emulator: RunningEmulator, service: str) -> Any:
    return boto_client(emulator, service, REGION)


def subscribed_queue(emulator: RunningEmulator, name: str) -> tuple[str, str]:
    """(topic ARN, queue URL) with the queue subscribed to the topic."""
    sns, sqs = client(emulator, "sns"), client(emulator, "sqs")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue


def drain(emulator: RunningEmulator, queue: str) -> list[dict[str, Any]]:
    """Every notification in the queue (the SNS envelope's Message, decoded)."""
    sqs, found = client(emulator, "sqs"), []
    for _ in range(20):  # bounded
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        for message in batch:
            envelope = json.loads(message["Body"])
            found.append(json.loads(envelope["Message"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def deploy(emulator: RunningEmulator, app: str, check: str, triggers: list[Any]) -> str:
    cd, s3 = client(emulator, "codedeploy"), client(emulator, "s3")
    # moto's S3 is one per process, shared by every emulator a test session starts: a bucket
    # name of this module's own.
    bucket = f"triggers-{app}"
    if app not in cd.list_applications()["applications"]:
        cd.create_application(applicationName=app)
        cd.create_deployment_group(
            applicationName=app,
            deploymentGroupName="g",
            serviceRoleArn=ROLE,
            ec2TagFilters=FLEET,
            triggerConfigurations=triggers,
        )
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("appspec.yml", APPSPEC)
        archive.writestr("index.html", "hi\n")
        info = zipfile.ZipInfo("check.sh")
        info.external_attr = 0o755 << 16
        archive.writestr(info, f"#!/bin/sh\n{check}\n")
    s3.put_object(Bucket=bucket, Key="a.zip", Body=buffer.getvalue())
    deployment_id = cd.create_deployment(
        applicationName=app,
        deploymentGroupName="g",
        fileExistsBehavior="OVERWRITE",
        revision={
            "revisionType": "S3",
            "s3Location": {"bucket": bucket, "key": "a.zip", "bundleType": "zip"},
        },
    )["deploymentId"]
    for _ in range(600):  # bounded: ~60 s
        status = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]
        if status in ("Succeeded", "Failed", "Stopped"):
            return str(deployment_id)
        time.sleep(0.1)
    raise AssertionError(f"{deployment_id} did not finish")


def test_triggers_publish_the_service_s_notifications_to_sns(emulator: RunningEmulator) -> None:
    topic, queue = subscribed_queue(emulator, "deploy-events")
    triggers = [{"triggerName": "all", "triggerTargetArn": topic, "triggerEvents": ALL_EVENTS}]
    deployment_id = deploy(emulator, "notified", "exit 0", triggers)
    messages = drain(emulator, queue)
    deployments = [m for m in messages if "instanceStatus" not in m]
    instances = [m for m in messages if "instanceStatus" in m]
    assert [m["status"] for m in deployments] == ["InProgress", "Succeeded"]
    done = deployments[-1]
    assert done["region"] == REGION and done["accountId"] == "123456789012"
    assert done["eventTriggerName"] == "all"
    assert (done["applicationName"], done["deploymentGroupName"]) == ("notified", "g")
    assert done["deploymentId"] == deployment_id
    assert done["deploymentOverview"]["Succeeded"] == "2"
    assert float(done["completeTime"]) >= float(done["createTime"])
    assert sorted(m["instanceStatus"] for m in instances) == [
        "InProgress",
        "InProgress",
        "Succeeded",
        "Succeeded",
    ]
    succeeded = next(m for m in instances if m["instanceStatus"] == "Succeeded")
    assert succeeded["instanceId"].startswith(f"arn:aws:ec2:{REGION}:123456789012:instance/i-")
    names = [e["LifecycleEvent"] for e in succeeded["lifecycleEvents"]]
    assert names[0] == "ApplicationStop" and "ValidateService" in names
    assert all(e["LifecycleEventStatus"] == "Succeeded" for e in succeeded["lifecycleEvents"])


def test_only_the_listed_events_are_published(emulator: RunningEmulator) -> None:
    topic, queue = subscribed_queue(emulator, "failures-only")
    triggers = [
        {
            "triggerName": "failures",
            "triggerTargetArn": topic,
            "triggerEvents": ["DeploymentFailure", "InstanceFailure"],
        }
    ]
    deploy(emulator, "failing", "exit 3", triggers)
    messages = drain(emulator, queue)
    # OneAtATime: the first instance fails, the deployment fails, the second is Skipped.
    assert sorted(m.get("instanceStatus", m.get("status")) for m in messages) == [
        "Failed",
        "Failed",
    ]
    failed = next(m for m in messages if "instanceStatus" not in m)
    assert failed["errorInformation"]["ErrorCode"]
    assert failed["errorInformation"]["ErrorMessage"]


@pytest.mark.parametrize("kind", ["http", "https", "HTTP", "email", "sms"])
def test_a_subscription_that_would_send_requests_off_the_machine_is_refused(
    emulator: RunningEmulator, webhook_server: Any, kind: str
) -> None:
    """moto delivers http(s) subscriptions by sending real requests (after a confirmation
    request) to any address: the emulator refuses them, so a caller cannot use it as a relay."""
    listener = webhook_server()
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name=f"relay-{kind.lower()}")["TopicArn"]
    with pytest.raises(ClientError) as refused:
        sns.subscribe(TopicArn=topic, Protocol=kind, Endpoint=listener.url("/relay"))
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameter"
    assert "SQS queues" in error["Message"]
    sns.publish(TopicArn=topic, Message="hello")
    assert listener.requests == []
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
