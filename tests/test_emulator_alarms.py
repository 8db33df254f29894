"""Alarms and stop requests as the service acts on them: a group's CloudWatch alarm in ALARM
stops its deployment with ALARM_ACTIVE (rolled back on DEPLOYMENT_STOP_ON_ALARM), an alarm
whose state cannot be read stops it unless ignorePollAlarmFailure, and a plain StopDeployment
rolls back when the group lists DEPLOYMENT_STOP_ON_REQUEST."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from ci_deploy.emulator import RunningEmulator, start
from conftest import boto_client

ROLE = "arn:aws:iam::123456789012:role/codedeploy"
REGION = "us-west-1"
FLEET = [{"Key": "Name", "Value": "ci-deploy-emulator", "Type": "KEY_AND_VALUE"}]
APPSPEC = "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /srv/app\n"
TERMINAL = ("Succeeded", "Failed", "Stopped")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    # Paced, so that a deployment is still running when the test acts on it.
    running = start(
        port=0, instances=1, event_delay_ms=150, state_dir=tmp_path_factory.mktemp("alarms")
    )
    try:
        yield running
    finally:
        running.stop()


def client(emulator: RunningEmulator, service: str) -> Any:
    return boto_client(emulator, service, REGION)


def make_app(emulator: RunningEmulator, app: str, **group: Any) -> dict[str, Any]:
    cd, s3 = client(emulator, "codedeploy"), client(emulator, "s3")
    cd.create_application(applicationName=app)
    cd.create_deployment_group(
        applicationName=app,
        deploymentGroupName="g",
        serviceRoleArn=ROLE,
        ec2TagFilters=FLEET,
        **group,
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("appspec.yml", APPSPEC)
        archive.writestr("index.html", "hi\n")
    s3.create_bucket(Bucket=app, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=app, Key="a.zip", Body=buffer.getvalue())
    return {
        "revisionType": "S3",
        "s3Location": {"bucket": app, "key": "a.zip", "bundleType": "zip"},
    }


def deploy(emulator: RunningEmulator, app: str, revision: dict[str, Any]) -> str:
    return str(
        client(emulator, "codedeploy").create_deployment(
            applicationName=app,
            deploymentGroupName="g",
            revision=revision,
            fileExistsBehavior="OVERWRITE",
        )["deploymentId"]
    )


def wait_for(emulator: RunningEmulator, deployment_id: str, statuses: tuple[str, ...]) -> Any:
    cd = client(emulator, "codedeploy")
    for _ in range(600):  # bounded: ~60 s
        info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info["status"] in statuses:
            return info
        time.sleep(0.05)
    raise AssertionError(f"{deployment_id} is still {info['status']}")


def test_an_alarm_in_alarm_stops_the_deployment_and_rolls_it_back(
    emulator: RunningEmulator,
) -> None:
    cloudwatch = client(emulator, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="errors-high",
        MetricName="Errors",
        Namespace="Web",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    revision = make_app(
        emulator,
        "watched",
        alarmConfiguration={"enabled": True, "alarms": [{"name": "errors-high"}]},
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]},
    )
    first = deploy(emulator, "watched", revision)
    assert wait_for(emulator, first, TERMINAL)["status"] == "Succeeded"
    second = deploy(emulator, "watched", revision)
    wait_for(emulator, second, ("InProgress",))
    cloudwatch.set_alarm_state(AlarmName="errors-high", StateValue="ALARM", StateReason="test")
    info = wait_for(emulator, second, TERMINAL)
    cloudwatch.set_alarm_state(AlarmName="errors-high", StateValue="OK", StateReason="test")
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "errors-high" in info["errorInformation"]["message"]
    assert info["rollbackInfo"]["rollbackDeploymentId"]


def test_an_alarm_that_cannot_be_read_stops_unless_ignored(emulator: RunningEmulator) -> None:
    missing = {"alarms": [{"name": "no-such-alarm"}], "enabled": True}
    revision = make_app(emulator, "unreadable", alarmConfiguration=missing)
    info = wait_for(emulator, deploy(emulator, "unreadable", revision), TERMINAL)
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "ALARM_ACTIVE")
    revision = make_app(
        emulator, "ignored", alarmConfiguration={**missing, "ignorePollAlarmFailure": True}
    )
    assert wait_for(emulator, deploy(emulator, "ignored", revision), TERMINAL)["status"] == (
        "Succeeded"
    )
    revision = make_app(emulator, "disabled", alarmConfiguration={**missing, "enabled": False})
    assert wait_for(emulator, deploy(emulator, "disabled", revision), TERMINAL)["status"] == (
        "Succeeded"
    )


def test_a_plain_stop_rolls_back_on_stop_on_request(emulator: RunningEmulator) -> None:
    cd = client(emulator, "codedeploy")
    revision = make_app(
        emulator,
        "on-request",
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_STOP_ON_REQUEST"]},
    )
    assert wait_for(emulator, deploy(emulator, "on-request", revision), TERMINAL)["status"] == (
        "Succeeded"
    )
    stopped = deploy(emulator, "on-request", revision)
    wait_for(emulator, stopped, ("InProgress",))
    cd.stop_deployment(deploymentId=stopped)
    info = wait_for(emulator, stopped, TERMINAL)
    assert info["status"] == "Stopped"
    rollback = info["rollbackInfo"]["rollbackDeploymentId"]
    assert wait_for(emulator, rollback, TERMINAL)["status"] == "Succeeded"
    # Asked explicitly not to roll back, it does not.
    kept = deploy(emulator, "on-request", revision)
    wait_for(emulator, kept, ("InProgress",))
    cd.stop_deployment(deploymentId=kept, autoRollbackEnabled=False)
    assert "rollbackDeploymentId" not in wait_for(emulator, kept, TERMINAL).get("rollbackInfo", {})
