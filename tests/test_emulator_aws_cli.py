"""An operator's session against the emulator with the AWS CLI v1 itself (the test extra installs
it): applications, deployment configs, groups by tag filter, `aws deploy push` into the
emulator's S3, create-deployment, `aws deploy wait`, a failing hook's diagnostics and a stop;
fleets of EC2 instances (`aws ec2 run-instances`), an Auto Scaling group and on-premises
instances (register, tag, list, get), a filter that selects nothing (NO_INSTANCES); a CloudWatch
alarm set to ALARM stopping a deployment (ALARM_ACTIVE); a trigger's DeploymentSuccess message
read from an SQS queue subscribed to its SNS topic; one application name in two regions.
Every JSON answer of a CodeDeploy operation is checked against botocore's output shape; other
services' answers by the fields the test uses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from ci_deploy.emulator import RunningEmulator, start
from conftest import conformance_problems

ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"
DONE = ("Succeeded", "Failed", "Stopped")
SUCCESS = {"errorCode": "Success", "scriptName": "", "message": "Succeeded", "logTail": ""}
APPSPEC = """version: 0.0
os: linux
files:
  - source: app.txt
    destination: /srv/app
hooks:
  ApplicationStart:
    - location: scripts/start.sh
      timeout: 60
  ValidateService:
    - location: scripts/check.sh
"""


def aws_executable() -> str:
    """The `aws` of this test environment (next to its Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "aws"
    found = str(beside) if beside.is_file() else shutil.which("aws")
    assert found, "the AWS CLI is missing: ./scripts/setup installs it (awscli, test extra)"
    return found


class Aws:
    """Runs `aws` against one emulator; checks each JSON answer against botocore's shapes."""

    def __init__(self, running: RunningEmulator, home: Path) -> None:
        self.executable = aws_executable()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),  # no ~/.aws of the machine's user
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            **running.client_env(),
        }
        self.model = botocore.session.get_session().get_service_model("codedeploy")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def deploy(self, command: str, *args: str) -> dict[str, Any]:
        """`aws deploy COMMAND ARGS --output json`: the answer, checked against the shape of
        the operation the command names (create-deployment is CreateDeployment)."""
        done = self.run("deploy", command, *args, "--output", "json")
        assert done.returncode == 0, f"aws deploy {command}: {done.stderr}"
        answer: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
        operation = self.model.operation_model("".join(w.title() for w in command.split("-")))
        output = operation.output_shape
        if output is None:
            assert answer == {}, f"{command}: no output expected, got {answer}"
        else:
            assert conformance_problems(output, answer, operation.name) == []
        return answer

    def other(self, service: str, command: str, *args: str) -> dict[str, Any]:
        """`aws SERVICE COMMAND ARGS --output json` of a service other than CodeDeploy (the
        caller checks the fields it uses)."""
        # The CLI v1 sends sqs to its legacy queue.amazonaws.com hosts unless --endpoint-url
        # is given on the command line: AWS_ENDPOINT_URL alone is not enough there.
        endpoint = ("--endpoint-url", self.env["AWS_ENDPOINT_URL"]) if service == "sqs" else ()
        done = self.run(*endpoint, service, command, *args, "--output", "json")
        assert done.returncode == 0, f"aws {service} {command}: {done.stderr}"
        return dict(json.loads(done.stdout)) if done.stdout.strip() else {}

    def wait_until_done(self, deployment_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            info = self.deploy("get-deployment", "--deployment-id", deployment_id)
            if info["deploymentInfo"]["status"] in DONE or time.monotonic() > deadline:
                return dict(info["deploymentInfo"])
            time.sleep(0.1)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with start(state_dir=tmp_path_factory.mktemp("aws-cli"), hook_env=dict(os.environ)) as it:
        yield it


@pytest.fixture
def aws(running: RunningEmulator, tmp_path: Path) -> Aws:
    home = tmp_path / "home"
    home.mkdir()
    cli = Aws(running, home)
    version = cli.run("--version")
    assert version.returncode == 0 and "aws-cli/1." in version.stdout + version.stderr
    return cli


def revision(root: Path, check: str, start_script: str = "#!/bin/sh\necho started\n") -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "appspec.yml").write_text(APPSPEC)
    (root / "app.txt").write_text("v1\n")
    for name, text in {"start.sh": start_script, "check.sh": check}.items():
        script = root / "scripts" / name
        script.write_text(text)
        script.chmod(0o755)
    return root


def make_group(aws: Aws, app: str, instances: int) -> None:
    aws.deploy("create-application", "--application-name", app)
    aws.deploy(
        "create-deployment-group",
        "--application-name",
        app,
        "--deployment-group-name",
        "prod",
        "--service-role-arn",
        ROLE,
        "--deployment-config-name",
        "CodeDeployDefault.AllAtOnce",
        "--ec2-tag-filters",
        f"Key=ci-deploy:instances,Value={instances},Type=KEY_AND_VALUE",
    )


def push(aws: Aws, app: str, source: Path, bucket: str = "") -> str:
    """`aws deploy push` the directory to a new bucket (default: named after the application);
    the --s3-location its output suggests for create-deployment."""
    bucket = bucket or app
    assert aws.run("s3", "mb", f"s3://{bucket}").returncode == 0
    pushed = aws.run(
        "deploy",
        "push",
        "--application-name",
        app,
        "--s3-location",
        f"s3://{bucket}/{bucket}.zip",
        "--source",
        str(source),
    )
    assert pushed.returncode == 0, pushed.stderr
    location = re.search(r"--s3-location (\S+)", pushed.stdout)
    assert location is not None, pushed.stdout
    assert f"bucket={bucket},key={bucket}.zip,bundleType=zip,eTag=" in location.group(1)
    return location.group(1)


def create_deployment(aws: Aws, app: str, group: str, location: str) -> str:
    created = aws.deploy(
        "create-deployment",
        "--application-name",
        app,
        "--deployment-group-name",
        group,
        "--s3-location",
        location,
        "--file-exists-behavior",
        "OVERWRITE",  # the simulated hosts are shared by the groups that select them
    )
    return str(created["deploymentId"])


def push_and_deploy(aws: Aws, app: str, source: Path) -> str:
    """`aws deploy push` the directory, then the create-deployment its output suggests."""
    return create_deployment(aws, app, "prod", push(aws, app, source))


def test_applications_configs_and_groups_by_tag_filter(aws: Aws) -> None:
    created = aws.deploy("create-application", "--application-name", "shop")
    assert (
        aws.deploy("get-application", "--application-name", "shop")["application"]["applicationId"]
        == (created["applicationId"])
    )
    assert "shop" in aws.deploy("list-applications")["applications"]
    assert [
        a["applicationName"]
        for a in aws.deploy("batch-get-applications", "--application-names", "shop")[
            "applicationsInfo"
        ]
    ] == ["shop"]

    aws.deploy(
        "create-deployment-config",
        "--deployment-config-name",
        "TwoHealthy",
        "--minimum-healthy-hosts",
        "type=HOST_COUNT,value=2",
    )
    config = aws.deploy("get-deployment-config", "--deployment-config-name", "TwoHealthy")
    assert config["deploymentConfigInfo"]["minimumHealthyHosts"] == {
        "type": "HOST_COUNT",
        "value": 2,
    }
    configs = aws.deploy("list-deployment-configs")["deploymentConfigsList"]
    assert {"TwoHealthy", "CodeDeployDefault.OneAtATime"} <= set(configs)

    aws.deploy(
        "create-deployment-group",
        "--application-name",
        "shop",
        "--deployment-group-name",
        "web",
        "--service-role-arn",
        ROLE,
        "--deployment-config-name",
        "TwoHealthy",
        "--ec2-tag-filters",
        "Key=ci-deploy:instances,Value=4,Type=KEY_AND_VALUE",
    )
    group = aws.deploy(
        "get-deployment-group", "--application-name", "shop", "--deployment-group-name", "web"
    )["deploymentGroupInfo"]
    assert group["ec2TagFilters"] == [
        {"Key": "ci-deploy:instances", "Value": "4", "Type": "KEY_AND_VALUE"}
    ]
    assert group["deploymentConfigName"] == "TwoHealthy"
    listed = aws.deploy("list-deployment-groups", "--application-name", "shop")
    assert listed["deploymentGroups"] == ["web"]
    batch = aws.deploy(
        "batch-get-deployment-groups",
        "--application-name",
        "shop",
        "--deployment-group-names",
        "web",
    )
    assert [g["deploymentGroupName"] for g in batch["deploymentGroupsInfo"]] == ["web"]
    aws.deploy(
        "update-deployment-group",
        "--application-name",
        "shop",
        "--current-deployment-group-name",
        "web",
        "--deployment-config-name",
        "CodeDeployDefault.OneAtATime",
    )
    aws.deploy(
        "delete-deployment-group", "--application-name", "shop", "--deployment-group-name", "web"
    )
    aws.deploy("delete-deployment-config", "--deployment-config-name", "TwoHealthy")
    aws.deploy("delete-application", "--application-name", "shop")
    assert "shop" not in aws.deploy("list-applications")["applications"]
    missing = aws.run("deploy", "get-application", "--application-name", "shop")
    assert missing.returncode == 255 and "ApplicationDoesNotExistException" in missing.stderr


def test_push_create_deployment_and_wait_for_success(aws: Aws, tmp_path: Path) -> None:
    make_group(aws, "pushed", 2)
    source = revision(tmp_path / "rev", "#!/bin/sh\necho healthy\n")
    deployment_id = push_and_deploy(aws, "pushed", source)

    revisions = aws.deploy("list-application-revisions", "--application-name", "pushed")
    (registered,) = revisions["revisions"]
    assert registered["s3Location"]["key"] == "pushed.zip"
    assert aws.wait_until_done(deployment_id)["status"] == "Succeeded"
    waited = aws.run("deploy", "wait", "deployment-successful", "--deployment-id", deployment_id)
    assert waited.returncode == 0, waited.stderr

    instances = aws.deploy("list-deployment-instances", "--deployment-id", deployment_id)
    assert len(instances["instancesList"]) == 2
    targets = aws.deploy("list-deployment-targets", "--deployment-id", deployment_id)
    assert sorted(targets["targetIds"]) == sorted(instances["instancesList"])
    batch = aws.deploy(
        "batch-get-deployment-targets",
        "--deployment-id",
        deployment_id,
        "--target-ids",
        *targets["targetIds"],
    )
    for target in batch["deploymentTargets"]:
        events = target["instanceTarget"]["lifecycleEvents"]
        assert [e["status"] for e in events] == ["Succeeded"] * 7
        assert all(e["diagnostics"] == SUCCESS for e in events)
    summary = aws.deploy(
        "get-deployment-instance",
        "--deployment-id",
        deployment_id,
        "--instance-id",
        instances["instancesList"][0],
    )
    assert summary["instanceSummary"]["status"] == "Succeeded"
    listed = aws.deploy(
        "list-deployments", "--application-name", "pushed", "--deployment-group-name", "prod"
    )
    assert listed["deployments"] == [deployment_id]


def test_a_failing_hook_shows_the_agents_diagnostics_and_wait_fails(
    aws: Aws, tmp_path: Path
) -> None:
    make_group(aws, "failing", 1)
    check = "#!/bin/sh\necho 'checking the service'\necho 'no answer on :8080' >&2\nexit 7\n"
    source = revision(tmp_path / "rev", "#!/bin/sh\nexit 7\n")
    (source / "scripts" / "check.sh").write_text(check)
    deployment_id = push_and_deploy(aws, "failing", source)

    info = aws.wait_until_done(deployment_id)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    waited = aws.run("deploy", "wait", "deployment-successful", "--deployment-id", deployment_id)
    assert waited.returncode == 255
    assert "Waiter DeploymentSuccessful failed" in waited.stderr

    (instance_id,) = aws.deploy("list-deployment-targets", "--deployment-id", deployment_id)[
        "targetIds"
    ]
    target = aws.deploy(
        "get-deployment-target", "--deployment-id", deployment_id, "--target-id", instance_id
    )["deploymentTarget"]["instanceTarget"]
    events = {e["lifecycleEventName"]: e for e in target["lifecycleEvents"]}
    assert events["ValidateService"]["diagnostics"] == {
        "errorCode": "ScriptFailed",
        "scriptName": "scripts/check.sh",
        "message": "Script at specified location: scripts/check.sh failed with exit code 7",
        "logTail": "LifecycleEvent - ValidateService\n"
        "Script - scripts/check.sh\n"
        "[stdout]checking the service\n"
        "[stderr]no answer on :8080\n",
    }
    assert events["ApplicationStart"]["diagnostics"] == SUCCESS
    legacy = aws.deploy(
        "get-deployment-instance", "--deployment-id", deployment_id, "--instance-id", instance_id
    )["instanceSummary"]
    assert legacy["lifecycleEvents"] == target["lifecycleEvents"]


def test_stop_deployment_stops_a_running_hook(aws: Aws, tmp_path: Path) -> None:
    make_group(aws, "stopped", 1)
    started = tmp_path / "started"
    hanging = f"#!/bin/sh\ntouch {started}\nsleep 60\n"
    source = revision(tmp_path / "rev", "#!/bin/sh\nexit 0\n", start_script=hanging)
    deployment_id = push_and_deploy(aws, "stopped", source)

    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), "ApplicationStart never ran"
    answer = aws.deploy("stop-deployment", "--deployment-id", deployment_id)
    assert answer["status"] in {"Pending", "Succeeded"}
    info = aws.wait_until_done(deployment_id)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "MANUAL_STOP"
    (instance_id,) = aws.deploy("list-deployment-targets", "--deployment-id", deployment_id)[
        "targetIds"
    ]
    target = aws.deploy(
        "get-deployment-target", "--deployment-id", deployment_id, "--target-id", instance_id
    )["deploymentTarget"]["instanceTarget"]
    statuses = {e["lifecycleEventName"]: e["status"] for e in target["lifecycleEvents"]}
    assert statuses["ApplicationStart"] == "Failed"
    assert statuses["ValidateService"] == "Skipped"
    waited = aws.run("deploy", "wait", "deployment-successful", "--deployment-id", deployment_id)
    assert waited.returncode == 255


def group(aws: Aws, app: str, name: str, *selection: str) -> None:
    aws.deploy(
        "create-deployment-group",
        "--application-name",
        app,
        "--deployment-group-name",
        name,
        "--service-role-arn",
        ROLE,
        "--deployment-config-name",
        "CodeDeployDefault.AllAtOnce",
        *selection,
    )


def deployed_to(aws: Aws, app: str, name: str, location: str) -> tuple[dict[str, Any], set[str]]:
    """Deploy the pushed revision to the group and wait: (deployment info, target ids)."""
    deployment_id = create_deployment(aws, app, name, location)
    info = aws.wait_until_done(deployment_id)
    targets = aws.deploy("list-deployment-targets", "--deployment-id", deployment_id)
    return info, set(targets["targetIds"])


def test_fleets_of_ec2_tags_auto_scaling_and_on_premises_instances(
    aws: Aws, tmp_path: Path
) -> None:
    launched = aws.other(
        "ec2",
        "run-instances",
        "--image-id",
        "ami-12c6146b",
        "--count",
        "2",
        "--tag-specifications",
        "ResourceType=instance,Tags=[{Key=Name,Value=cli-web}]",
    )
    web = {i["InstanceId"] for i in launched["Instances"]}
    assert len(web) == 2
    aws.other(
        "autoscaling",
        "create-launch-configuration",
        "--launch-configuration-name",
        "cli-lc",
        "--image-id",
        "ami-12c6146b",
        "--instance-type",
        "t2.micro",
    )
    aws.other(
        "autoscaling",
        "create-auto-scaling-group",
        "--auto-scaling-group-name",
        "cli-asg",
        "--launch-configuration-name",
        "cli-lc",
        "--min-size",
        "2",
        "--max-size",
        "2",
        "--availability-zones",
        "us-east-1a",
    )
    (asg,) = aws.other(
        "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "cli-asg"
    )["AutoScalingGroups"]
    members = {i["InstanceId"] for i in asg["Instances"]}
    assert len(members) == 2

    aws.deploy(
        "register-on-premises-instance",
        "--instance-name",
        "cli-rack-1",
        "--iam-user-arn",
        "arn:aws:iam::123456789012:user/cli-rack-1",
    )
    aws.deploy(
        "add-tags-to-on-premises-instances",
        "--instance-names",
        "cli-rack-1",
        "--tags",
        "Key=Rack,Value=cli-east",
    )
    listed = aws.deploy("list-on-premises-instances", "--tag-filters", "Key=Rack,Value=cli-east")
    assert listed["instanceNames"] == ["cli-rack-1"]
    rack = aws.deploy("get-on-premises-instance", "--instance-name", "cli-rack-1")["instanceInfo"]
    assert rack["tags"] == [{"Key": "Rack", "Value": "cli-east"}]
    assert rack["iamUserArn"] == "arn:aws:iam::123456789012:user/cli-rack-1"
    assert rack["instanceArn"] == "arn:aws:codedeploy:us-east-1:123456789012:instance/cli-rack-1"

    app = "cli-fleets"
    aws.deploy("create-application", "--application-name", app)
    group(aws, app, "by-tag", "--ec2-tag-filters", "Key=Name,Value=cli-web,Type=KEY_AND_VALUE")
    group(aws, app, "by-asg", "--auto-scaling-groups", "cli-asg")
    group(
        aws,
        app,
        "on-premises",
        "--on-premises-instance-tag-filters",
        "Key=Rack,Value=cli-east,Type=KEY_AND_VALUE",
    )
    group(aws, app, "nobody", "--ec2-tag-filters", "Key=Name,Value=cli-nobody,Type=KEY_AND_VALUE")
    location = push(aws, app, revision(tmp_path / "rev", "#!/bin/sh\necho healthy\n"))

    info, targets = deployed_to(aws, app, "by-tag", location)
    assert (info["status"], targets) == ("Succeeded", web)
    info, targets = deployed_to(aws, app, "by-asg", location)
    assert (info["status"], targets) == ("Succeeded", members)
    info, targets = deployed_to(aws, app, "on-premises", location)
    assert (info["status"], targets) == ("Succeeded", {"cli-rack-1"})
    info, targets = deployed_to(aws, app, "nobody", location)
    assert (info["status"], targets) == ("Failed", set())
    assert info["errorInformation"]["code"] == "NO_INSTANCES"


def test_an_alarm_stops_a_deployment_and_a_trigger_reaches_an_sqs_queue(
    aws: Aws, tmp_path: Path
) -> None:
    app = "cli-watched"
    aws.deploy("create-application", "--application-name", app)
    aws.other(
        "cloudwatch",
        "put-metric-alarm",
        "--alarm-name",
        "cli-errors-high",
        "--metric-name",
        "Errors",
        "--namespace",
        "Web",
        "--statistic",
        "Sum",
        "--period",
        "60",
        "--evaluation-periods",
        "1",
        "--threshold",
        "1",
        "--comparison-operator",
        "GreaterThanThreshold",
    )
    alarms = {"enabled": True, "alarms": [{"name": "cli-errors-high"}]}
    group(
        aws,
        app,
        "alarmed",
        "--ec2-tag-filters",
        "Key=ci-deploy:instances,Value=1,Type=KEY_AND_VALUE",
        "--alarm-configuration",
        json.dumps(alarms),
    )
    topic = aws.other("sns", "create-topic", "--name", "cli-deploy-events")["TopicArn"]
    queue = aws.other("sqs", "create-queue", "--queue-name", "cli-deploy-events")["QueueUrl"]
    queue_arn = aws.other(
        "sqs", "get-queue-attributes", "--queue-url", queue, "--attribute-names", "QueueArn"
    )["Attributes"]["QueueArn"]
    aws.other(
        "sns",
        "subscribe",
        "--topic-arn",
        topic,
        "--protocol",
        "sqs",
        "--notification-endpoint",
        queue_arn,
    )
    trigger = {
        "triggerName": "done",
        "triggerTargetArn": topic,
        "triggerEvents": ["DeploymentSuccess"],
    }
    group(
        aws,
        app,
        "notified",
        "--ec2-tag-filters",
        "Key=ci-deploy:instances,Value=1,Type=KEY_AND_VALUE",
        "--trigger-configurations",
        json.dumps([trigger]),
    )
    started = tmp_path / "started"
    hanging = f"#!/bin/sh\ntouch {started}\nsleep 60\n"  # ends when the deployment stops
    location = push(aws, app, revision(tmp_path / "rev", "#!/bin/sh\nexit 0\n", hanging))

    # The alarm: ALARM while the hook runs stops the deployment.
    deployment_id = create_deployment(aws, app, "alarmed", location)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), "ApplicationStart never ran"
    state = ("--alarm-name", "cli-errors-high", "--state-reason", "test", "--state-value")
    aws.other("cloudwatch", "set-alarm-state", *state, "ALARM")
    try:
        info = aws.wait_until_done(deployment_id)
    finally:
        aws.other("cloudwatch", "set-alarm-state", *state, "OK")
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "cli-errors-high" in info["errorInformation"]["message"]

    # The trigger: DeploymentSuccess in the queue, in the user guide's format.
    quick = push(aws, app, revision(tmp_path / "quick", "#!/bin/sh\nexit 0\n"), f"{app}-quick")
    info, _ = deployed_to(aws, app, "notified", quick)
    assert info["status"] == "Succeeded"
    messages: list[dict[str, Any]] = []
    for _ in range(5):  # bounded
        received = aws.other(
            "sqs", "receive-message", "--queue-url", queue, "--max-number-of-messages", "10"
        )
        batch = received.get("Messages", [])
        messages += [json.loads(json.loads(m["Body"])["Message"]) for m in batch]
        if not batch or any(m.get("deploymentId") == info["deploymentId"] for m in messages):
            break
    (message,) = messages
    assert message["deploymentId"] == info["deploymentId"]
    assert message["status"] == "Succeeded" and message["eventTriggerName"] == "done"
    assert (message["region"], message["accountId"]) == ("us-east-1", "123456789012")
    assert (message["applicationName"], message["deploymentGroupName"]) == (app, "notified")
    assert message["deploymentOverview"]["Succeeded"] == "1"
    assert float(message["completeTime"]) >= float(message["createTime"])


def test_the_same_application_name_in_two_regions(aws: Aws) -> None:
    ids = {}
    for region in ("us-east-1", "eu-west-1"):
        ids[region] = aws.deploy(
            "create-application", "--application-name", "cli-twin", "--region", region
        )["applicationId"]
    aws.deploy("create-application", "--application-name", "cli-west-only", "--region", "eu-west-1")
    assert ids["us-east-1"] != ids["eu-west-1"]
    east = aws.deploy("list-applications", "--region", "us-east-1")["applications"]
    west = aws.deploy("list-applications", "--region", "eu-west-1")["applications"]
    assert "cli-twin" in east and "cli-west-only" not in east
    assert sorted(west) == ["cli-twin", "cli-west-only"]
    missing = aws.run("deploy", "get-application", "--application-name", "cli-west-only")
    assert missing.returncode == 255 and "ApplicationDoesNotExistException" in missing.stderr
    aws.deploy("delete-application", "--application-name", "cli-twin", "--region", "eu-west-1")
    east_twin = aws.deploy("get-application", "--application-name", "cli-twin")["application"]
    assert east_twin["applicationId"] == ids["us-east-1"]
