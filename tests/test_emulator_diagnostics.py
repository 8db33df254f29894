"""The emulator's lifecycle-event diagnostics are the agent's, word for word: what
command_poller.rb sends for a success, hook_executor.rb's ScriptError codes, messages and log
(header lines, [stdout]/[stderr] lines, the 2048-character trim), linux_util.rb's tar message;
and the service's millisecond timestamps and ECS task-set statuses."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from ci_deploy.agent.state import GroupState

ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"
DONE = ("Succeeded", "Failed", "Stopped")
SUCCESS = {"errorCode": "Success", "scriptName": "", "message": "Succeeded", "logTail": ""}
AGENT_EVENTS = (
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
)


def one_instance_group(clients: Any, app: str) -> None:
    clients.codedeploy.create_application(applicationName=app)
    clients.codedeploy.create_deployment_group(
        applicationName=app,
        deploymentGroupName="prod",
        serviceRoleArn=ROLE,
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "1", "Type": "KEY_AND_VALUE"}],
    )


def appspec(hooks: dict[str, list[str]], timeout: int = 30) -> str:
    lines = ["version: 0.0", "os: linux", "files:", "  - source: app.txt", "    destination: /srv"]
    lines.append("hooks:")
    for event, scripts in hooks.items():
        lines.append(f"  {event}:")
        for script in scripts:
            lines += [f"    - location: {script}", f"      timeout: {timeout}"]
    return "\n".join(lines) + "\n"


def deploy(clients: Any, app: str, location: dict[str, str]) -> tuple[str, dict[str, Any]]:
    deployment_id = clients.codedeploy.create_deployment(
        applicationName=app,
        deploymentGroupName="prod",
        revision={"revisionType": "S3", "s3Location": location},
    )["deploymentId"]
    clients.wait_for(deployment_id, DONE)
    (instance_id,) = clients.codedeploy.list_deployment_instances(deploymentId=deployment_id)[
        "instancesList"
    ]
    summary = clients.codedeploy.get_deployment_instance(
        deploymentId=deployment_id, instanceId=instance_id
    )["instanceSummary"]
    target = clients.codedeploy.get_deployment_target(
        deploymentId=deployment_id, targetId=instance_id
    )["deploymentTarget"]["instanceTarget"]
    assert target["lifecycleEvents"] == summary["lifecycleEvents"]
    return deployment_id, summary


def events_of(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {event["lifecycleEventName"]: event for event in summary["lifecycleEvents"]}


def test_every_successful_event_carries_the_agents_success_diagnostics(
    emulator_clients: Any, unique_name: str
) -> None:
    one_instance_group(emulator_clients, unique_name)
    files = {
        "appspec.yml": appspec({"ValidateService": ["check.sh"]}),
        "app.txt": "v1",
        "check.sh": "#!/bin/sh\necho healthy\n",
    }
    location = emulator_clients.upload(unique_name, "ok.zip", files, ("check.sh",))
    _, summary = deploy(emulator_clients, unique_name, location)

    events = events_of(summary)
    assert list(events) == list(AGENT_EVENTS)
    for name in AGENT_EVENTS:
        assert events[name]["status"] == "Succeeded"
        assert events[name]["diagnostics"] == SUCCESS, name
    # The service's timestamps are epoch seconds with milliseconds, never finer.
    stamps = [summary["lastUpdatedAt"]]
    stamps += [e[k] for e in events.values() for k in ("startTime", "endTime")]
    assert all(stamp.microsecond % 1000 == 0 for stamp in stamps)


def test_a_failing_script_reports_the_agents_log_with_its_header_lines(
    emulator_clients: Any, unique_name: str
) -> None:
    one_instance_group(emulator_clients, unique_name)
    files = {
        "appspec.yml": appspec({"ValidateService": ["first.sh", "check.sh"]}),
        "app.txt": "v1",
        "first.sh": "#!/bin/sh\necho warming up\n",
        "check.sh": "#!/bin/sh\necho 'health check failed' >&2\nexit 3\n",
    }
    location = emulator_clients.upload(unique_name, "f.zip", files, ("first.sh", "check.sh"))
    _, summary = deploy(emulator_clients, unique_name, location)

    event = events_of(summary)["ValidateService"]
    assert event["status"] == "Failed"
    assert event["diagnostics"] == {
        "errorCode": "ScriptFailed",
        "scriptName": "check.sh",
        "message": "Script at specified location: check.sh failed with exit code 3",
        "logTail": "LifecycleEvent - ValidateService\n"
        "Script - first.sh\n"
        "[stdout]warming up\n"
        "Script - check.sh\n"
        "[stderr]health check failed\n",
    }


def test_a_script_missing_from_the_bundle_fails_its_own_event_with_script_missing(
    emulator: Any, emulator_clients: Any, unique_name: str
) -> None:
    one_instance_group(emulator_clients, unique_name)
    files = {
        "appspec.yml": appspec({"BeforeInstall": ["before.sh"], "AfterInstall": ["gone.sh"]}),
        "app.txt": "v1",
        "before.sh": "#!/bin/sh\necho before\n",
    }
    location = emulator_clients.upload(unique_name, "m.zip", files, ("before.sh",))
    deployment_id, summary = deploy(emulator_clients, unique_name, location)

    events = events_of(summary)
    ran = ("ApplicationStop", "DownloadBundle", "BeforeInstall", "Install")
    assert [events[name]["status"] for name in ran] == ["Succeeded"] * 4
    (instance,) = emulator.instances(unique_name, "prod")
    group_id = emulator_clients.codedeploy.get_deployment_group(
        applicationName=unique_name, deploymentGroupName="prod"
    )["deploymentGroupInfo"]["deploymentGroupId"]
    archive = GroupState(instance.state_dir, group_id).deployment_dir(deployment_id)
    where = archive.absolute() / "deployment-archive" / "gone.sh"
    assert events["AfterInstall"]["status"] == "Failed"
    assert events["AfterInstall"]["diagnostics"] == {
        "errorCode": "ScriptMissing",
        "scriptName": "gone.sh",
        "message": f"Script does not exist at specified location: {where}",
        "logTail": "LifecycleEvent - AfterInstall\n",
    }
    assert [events[name]["status"] for name in ("ApplicationStart", "ValidateService")] == [
        "Skipped",
        "Skipped",
    ]


def test_a_timed_out_script_gets_the_agents_message(
    emulator_clients: Any, unique_name: str
) -> None:
    one_instance_group(emulator_clients, unique_name)
    files = {
        "appspec.yml": appspec({"ApplicationStart": ["slow.sh"]}, timeout=1),
        "app.txt": "v1",
        "slow.sh": "#!/bin/sh\necho starting\nsleep 30\n",
    }
    location = emulator_clients.upload(unique_name, "t.zip", files, ("slow.sh",))
    _, summary = deploy(emulator_clients, unique_name, location)

    assert events_of(summary)["ApplicationStart"]["diagnostics"] == {
        "errorCode": "ScriptTimedOut",
        "scriptName": "slow.sh",
        "message": "Script at specified location: slow.sh failed to complete in 1 seconds",
        "logTail": "LifecycleEvent - ApplicationStart\nScript - slow.sh\n[stdout]starting\n",
    }


def test_a_tar_bundle_that_is_not_a_tar_fails_download_bundle_as_the_agents_tar_does(
    emulator_clients: Any, unique_name: str
) -> None:
    one_instance_group(emulator_clients, unique_name)
    emulator_clients.s3.create_bucket(Bucket=unique_name)
    emulator_clients.s3.put_object(Bucket=unique_name, Key="b.tar", Body=b"not a tar at all\n")
    location = {"bucket": unique_name, "key": "b.tar", "bundleType": "tar"}
    _, summary = deploy(emulator_clients, unique_name, location)

    event = events_of(summary)["DownloadBundle"]
    assert event["status"] == "Failed"
    assert event["diagnostics"] == {
        "errorCode": "UnknownError",
        "scriptName": "",
        "message": "Error extracting tar archive: 2",
        "logTail": "",
    }


def test_a_real_tar_bundle_still_deploys(emulator_clients: Any, unique_name: str) -> None:
    one_instance_group(emulator_clients, unique_name)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in {"appspec.yml": appspec({}), "app.txt": "v1"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    emulator_clients.s3.create_bucket(Bucket=unique_name)
    emulator_clients.s3.put_object(Bucket=unique_name, Key="b.tar", Body=buffer.getvalue())
    location = {"bucket": unique_name, "key": "b.tar", "bundleType": "tar"}
    _, summary = deploy(emulator_clients, unique_name, location)
    assert summary["status"] == "Succeeded"


ECS_APPSPEC = """version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:7
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 80
"""


def test_the_ecs_replacement_task_set_becomes_primary_once_it_takes_the_traffic(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    cd.create_application(applicationName=unique_name, computePlatform="ECS")
    cd.create_deployment_group(
        applicationName=unique_name,
        deploymentGroupName="prod",
        serviceRoleArn=ROLE,
        ecsServices=[{"serviceName": "web", "clusterName": "main"}],
    )
    deployment_id = cd.create_deployment(
        applicationName=unique_name,
        deploymentGroupName="prod",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": ECS_APPSPEC}},
    )["deploymentId"]
    assert emulator_clients.wait_for(deployment_id, DONE)["status"] == "Succeeded"
    target = cd.get_deployment_target(deploymentId=deployment_id, targetId="main:web")
    task_sets = target["deploymentTarget"]["ecsTarget"]["taskSetsInfo"]
    shown = {t["taskSetLabel"]: (t["status"], t["trafficWeight"]) for t in task_sets}
    assert shown == {"Blue": ("ACTIVE", 0.0), "Green": ("PRIMARY", 100.0)}


def test_the_agent_tail_trims_as_the_agents_script_log_does() -> None:
    from ci_deploy.agent.hooks import AgentTail  # noqa: PLC0415

    tail = AgentTail()
    tail.append("LifecycleEvent - AfterInstall\n")
    tail.append("Script - fail.sh\n")
    tail.append("[stdout]" + "x" * 3000 + "\n")  # longer than the buffer: the agent drops all
    assert tail.text() == ""
    tail.append("[stdout]final line\n")
    assert tail.text() == "[stdout]final line\n"
    many = AgentTail()
    lines = [f"[stdout]line {i:04d} of the output\n" for i in range(200)]  # 32 characters each
    for line in lines:
        many.append(line)
    # 32-character entries: the walk keeps 63 of them (2016 characters).
    assert many.text() == "".join(lines[-63:])


def test_a_bundle_s3_refuses_is_reported_in_s3s_own_words(
    emulator: Any, emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    # What the agent's GetObject raises, and so the DownloadBundle message it reports.
    from ci_deploy.emulator.revisions import S3Object  # noqa: PLC0415

    emulator_clients.s3.create_bucket(Bucket=unique_name)
    bundles = emulator.service.registry.bundles
    gone = bundles.download(S3Object(unique_name, "gone.zip", "", None), tmp_path / "b.zip")
    assert gone == "The specified key does not exist."
    no_bucket = bundles.download(S3Object(f"{unique_name}-x", "a.zip", "", None), tmp_path / "c")
    assert no_bucket == "The specified bucket does not exist"
    assert not (tmp_path / "b.zip").exists()
