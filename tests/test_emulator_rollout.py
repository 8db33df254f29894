"""Deployments in the emulator: health-constrained scheduling over real instances running the
local engine, stop (killing hooks), auto-rollback, blue/green Ready, ECS and Lambda hooks."""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ci_deploy.emulator import start

ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"
DONE = ("Succeeded", "Failed", "Stopped")
APPSPEC = """version: 0.0
os: linux
files:
  - source: app.txt
    destination: /srv/app
hooks:
  ValidateService:
    - location: check.sh
"""


def fail_on(*indexes: int) -> str:
    """A hook that fails on the instances at these 1-based positions of the fleet."""
    wanted = " ".join(str(i) for i in indexes)
    return (
        "#!/bin/sh\n"
        f'case " {wanted} " in *" $CI_DEPLOY_EMULATOR_INSTANCE_INDEX "*)\n'
        '  echo "refusing on instance $CI_DEPLOY_EMULATOR_INSTANCE_INDEX" >&2; exit 1;;\n'
        "esac\n"
    )


def fleet(count: int) -> list[dict[str, str]]:
    return [{"Key": "ci-deploy:instances", "Value": str(count), "Type": "KEY_AND_VALUE"}]


def deploy(
    clients: Any, app: str, files: dict[str, str], *, group: str = "prod", **kwargs: Any
) -> str:
    location = clients.upload(app, f"{len(files)}-{time.monotonic_ns()}.zip", files, ("check.sh",))
    return str(
        clients.codedeploy.create_deployment(
            applicationName=app,
            deploymentGroupName=group,
            revision={"revisionType": "S3", "s3Location": location},
            **kwargs,
        )["deploymentId"]
    )


def deploy_failing_on(
    clients: Any, app: str, *indexes: int, version: str = "v1", **kwargs: Any
) -> tuple[str, dict[str, Any]]:
    """Deploy APPSPEC whose hook fails on the instances at ``indexes``; wait for the end."""
    files = {"appspec.yml": APPSPEC, "app.txt": version, "check.sh": fail_on(*indexes)}
    deployment_id = deploy(clients, app, files, **kwargs)
    return deployment_id, clients.wait_for(deployment_id, DONE)


def make_group(clients: Any, app: str, count: int, **settings: Any) -> None:
    """Application ``app`` with deployment group ``prod`` of ``count`` instances."""
    clients.make_group(app, ec2TagFilters=fleet(count), **settings)


def by_index(emulator: Any, app: str, targets: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Targets keyed by their instance's position in the fleet (what the hooks see)."""
    positions = {i.instance_id: i.index for i in emulator.instances(app, "prod")}
    return {positions[target_id]: target for target_id, target in targets.items()}


def root_of(emulator: Any, app: str, instance_id: str) -> Path:
    (instance,) = [i for i in emulator.instances(app, "prod") if i.instance_id == instance_id]
    return Path(instance.root)


def first_start(target: dict[str, Any]) -> float:
    return min(e["startTime"] for e in target["lifecycleEvents"] if "startTime" in e)


def last_end(target: dict[str, Any]) -> float:
    return max(e["endTime"] for e in target["lifecycleEvents"] if "endTime" in e)


def test_half_at_a_time_tolerates_one_failure_in_four_and_waits_for_health(
    emulator: Any, emulator_clients: Any, unique_name: str
) -> None:
    make_group(emulator_clients, unique_name, 4)
    deployment_id, info = deploy_failing_on(
        emulator_clients, unique_name, 2, deploymentConfigName="CodeDeployDefault.HalfAtATime"
    )
    # HalfAtATime keeps ceil(4/2) = 2 healthy and succeeds with at least 2 successes.
    assert info["status"] == "Succeeded"
    assert info["deploymentOverview"]["Succeeded"] == 3
    assert info["deploymentOverview"]["Failed"] == 1
    targets = by_index(emulator, unique_name, emulator_clients.targets(deployment_id))
    failed = targets[2]
    assert failed["status"] == "Failed"
    validate = next(
        e for e in failed["lifecycleEvents"] if e["lifecycleEventName"] == "ValidateService"
    )
    assert validate["diagnostics"]["errorCode"] == "ScriptFailed"
    assert validate["diagnostics"]["scriptName"] == "check.sh"
    assert "refusing on instance 2" in validate["diagnostics"]["logTail"]
    # With instance 2 down, one more instance may go offline only once instance 1 is healthy
    # again, and instance 4 only after instance 3 is.
    assert first_start(targets[3]) >= last_end(targets[1])
    assert first_start(targets[4]) >= last_end(targets[3])


def test_half_at_a_time_stops_scheduling_when_the_minimum_cannot_be_met(
    emulator: Any, emulator_clients: Any, unique_name: str
) -> None:
    make_group(emulator_clients, unique_name, 4)
    deployment_id, info = deploy_failing_on(
        emulator_clients, unique_name, 2, 3, deploymentConfigName="CodeDeployDefault.HalfAtATime"
    )
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    assert info["errorInformation"]["message"].startswith(
        "The overall deployment failed because too many individual instances failed"
    )
    targets = by_index(emulator, unique_name, emulator_clients.targets(deployment_id))
    assert [targets[i]["status"] for i in (1, 2, 3, 4)] == [
        "Succeeded",
        "Failed",
        "Failed",
        "Skipped",
    ]
    assert {e["status"] for e in targets[4]["lifecycleEvents"]} == {"Skipped"}
    # The targets are the group's EC2 instances, by the ids EC2 gave them.
    ids = [t["targetId"] for _, t in sorted(targets.items())]
    assert len(set(ids)) == 4 and all(re.fullmatch(r"i-[0-9a-f]{17}", i) for i in ids)
    untouched = root_of(emulator, unique_name, targets[4]["targetId"]) / "srv/app"
    assert not (untouched / "app.txt").exists()
    installed = root_of(emulator, unique_name, targets[1]["targetId"]) / "srv/app"
    assert (installed / "app.txt").read_text() == "v1"


def test_one_at_a_time_fails_at_the_first_failure_but_not_at_the_last(
    emulator: Any, emulator_clients: Any, unique_name: str
) -> None:
    make_group(emulator_clients, unique_name, 4)
    early, info = deploy_failing_on(emulator_clients, unique_name, 2)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    targets = by_index(emulator, unique_name, emulator_clients.targets(early))
    assert [targets[i]["status"] for i in (1, 2, 3, 4)] == [
        "Succeeded",
        "Failed",
        "Skipped",
        "Skipped",
    ]
    # OneAtATime keeps all instances but one healthy: a failure on the last one is allowed.
    _, info = deploy_failing_on(emulator_clients, unique_name, 4, version="v2")
    assert info["status"] == "Succeeded"
    assert info["deploymentOverview"]["Failed"] == 1


def test_all_at_once_needs_one_success_and_host_count_must_fit_the_fleet(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    make_group(emulator_clients, unique_name, 3)
    _, info = deploy_failing_on(
        emulator_clients, unique_name, 1, 2, deploymentConfigName="CodeDeployDefault.AllAtOnce"
    )
    assert info["status"] == "Succeeded"
    assert info["deploymentOverview"]["Failed"] == 2
    cd.create_deployment_config(
        deploymentConfigName=unique_name, minimumHealthyHosts={"type": "HOST_COUNT", "value": 3}
    )
    _, info = deploy_failing_on(
        emulator_clients, unique_name, version="v2", deploymentConfigName=unique_name
    )
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS_INVALID"


def test_a_group_whose_tags_match_no_instance_fails_with_no_instances(
    emulator_clients: Any, unique_name: str
) -> None:
    make_group(emulator_clients, unique_name, 0)
    deployment_id = deploy(
        emulator_clients,
        unique_name,
        {"appspec.yml": APPSPEC, "app.txt": "v1", "check.sh": fail_on()},
    )
    info = emulator_clients.wait_for(deployment_id, DONE)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "NO_INSTANCES"


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting for a parent that never reaps."""
    status = Path(f"/proc/{pid}/status")
    try:
        state = next(line for line in status.read_text().splitlines() if line.startswith("State"))
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "Z" not in state.split()[1]


def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return path.read_text()


def hanging_hook(pid_file: Path) -> str:
    return (
        "#!/bin/sh\n"
        "sleep 300 &\n"
        f'echo "$$ $!" > "{pid_file}.tmp" && mv "{pid_file}.tmp" "{pid_file}"\n'
        "wait\n"
    )


def test_stop_deployment_mid_hook_kills_the_hook_and_skips_the_rest(
    emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    cd = emulator_clients.codedeploy
    make_group(emulator_clients, unique_name, 2)
    pid_file = tmp_path / "pids"
    deployment_id = deploy(
        emulator_clients,
        unique_name,
        {"appspec.yml": APPSPEC, "app.txt": "v1", "check.sh": hanging_hook(pid_file)},
    )
    pids = [int(pid) for pid in wait_for_file(pid_file).split()]
    assert all(alive(pid) for pid in pids)
    answer = cd.stop_deployment(deploymentId=deployment_id)
    assert answer["status"] == "Pending"
    info = emulator_clients.wait_for(deployment_id, DONE)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "MANUAL_STOP"
    assert not any(alive(pid) for pid in pids)
    statuses = sorted(t["status"] for t in emulator_clients.targets(deployment_id).values())
    assert statuses == ["Failed", "Skipped"]


def test_failed_deployment_rolls_back_to_the_last_successful_revision(
    emulator: Any, emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    make_group(
        emulator_clients,
        unique_name,
        2,
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )
    good = deploy(
        emulator_clients,
        unique_name,
        {"appspec.yml": APPSPEC, "app.txt": "v1", "check.sh": fail_on()},
    )
    assert emulator_clients.wait_for(good, DONE)["status"] == "Succeeded"
    good_revision = cd.get_deployment(deploymentId=good)["deploymentInfo"]["revision"]
    bad = deploy(
        emulator_clients,
        unique_name,
        {"appspec.yml": APPSPEC, "app.txt": "v2", "check.sh": fail_on(1, 2)},
    )
    failed = emulator_clients.wait_for(bad, DONE)
    assert failed["status"] == "Failed"
    rollback_id = failed["rollbackInfo"]["rollbackDeploymentId"]
    # Both messages name the real ids (the failed one once said "{rollback.deployment_id}").
    assert failed["rollbackInfo"]["rollbackMessage"] == (
        f"Deployment {bad} was rolled back by {rollback_id}."
    )
    rollback = emulator_clients.wait_for(rollback_id, DONE)
    assert rollback["rollbackInfo"]["rollbackMessage"] == (
        f"Rollback of {bad} to the last successful revision."
    )
    assert rollback["status"] == "Succeeded"
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == bad
    assert rollback["revision"] == good_revision
    for target_id in emulator_clients.targets(rollback_id):
        app = root_of(emulator, unique_name, target_id) / "srv/app/app.txt"
        assert app.read_text() == "v1"


def test_stop_with_auto_rollback_redeploys_the_previous_revision(
    emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    cd = emulator_clients.codedeploy
    make_group(emulator_clients, unique_name, 1)
    good = deploy(
        emulator_clients,
        unique_name,
        {"appspec.yml": APPSPEC, "app.txt": "v1", "check.sh": fail_on()},
    )
    assert emulator_clients.wait_for(good, DONE)["status"] == "Succeeded"
    pid_file = tmp_path / "pids"
    hanging = deploy(
        emulator_clients,
        unique_name,
        {"appspec.yml": APPSPEC, "app.txt": "v2", "check.sh": hanging_hook(pid_file)},
    )
    wait_for_file(pid_file)
    cd.stop_deployment(deploymentId=hanging, autoRollbackEnabled=True)
    stopped = emulator_clients.wait_for(hanging, DONE)
    assert stopped["status"] == "Stopped"
    rollback_id = stopped["rollbackInfo"]["rollbackDeploymentId"]
    assert emulator_clients.wait_for(rollback_id, DONE)["status"] == "Succeeded"


def test_etag_mismatch_fails_download_bundle_on_every_instance(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    make_group(emulator_clients, unique_name, 1)
    location = emulator_clients.upload(
        unique_name, "app.zip", {"appspec.yml": APPSPEC, "app.txt": "v1", "check.sh": fail_on()}
    )
    deployment_id = cd.create_deployment(
        applicationName=unique_name,
        deploymentGroupName="prod",
        revision={"revisionType": "S3", "s3Location": {**location, "eTag": "0" * 32}},
    )["deploymentId"]
    info = emulator_clients.wait_for(deployment_id, DONE)
    assert info["status"] == "Failed"
    (target,) = emulator_clients.targets(deployment_id).values()
    download = next(
        e for e in target["lifecycleEvents"] if e["lifecycleEventName"] == "DownloadBundle"
    )
    assert download["status"] == "Failed"
    # command_executor.rb, download_from_s3: the agent's words, S3's eTag quoted.
    assert download["diagnostics"] == {
        "errorCode": "UnknownError",
        "scriptName": "",
        "message": f"Expected deployment artifact bundle etag {'0' * 32} but was actually "
        f'"{location["eTag"]}"',
        "logTail": "",
    }


def test_an_invalid_appspec_in_the_bundle_fails_the_deployment_with_its_reason(
    emulator_clients: Any, unique_name: str
) -> None:
    make_group(emulator_clients, unique_name, 1)
    deployment_id = deploy(
        emulator_clients,
        unique_name,
        {"appspec.yml": "version: 0.0\nos: linux\nfiles: [\n", "app.txt": "v1"},
    )
    info = emulator_clients.wait_for(deployment_id, DONE)
    assert info["status"] == "Failed"
    (target,) = emulator_clients.targets(deployment_id).values()
    failed = [e for e in target["lifecycleEvents"] if e["status"] == "Failed"]
    assert len(failed) == 1
    assert "appspec" in failed[0]["diagnostics"]["message"].lower()


def test_blue_green_waits_in_ready_until_continued(
    emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    cd = emulator_clients.codedeploy
    blue_green_group(
        emulator_clients,
        unique_name,
        2,
        deploymentReadyOption={"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60},
        terminateBlueInstancesOnDeploymentSuccess={"action": "TERMINATE"},
    )
    log = tmp_path / "traffic.log"
    deployment_id = deploy(emulator_clients, unique_name, traffic_revision("v1", log))
    ready = emulator_clients.wait_for(deployment_id, ("Ready", *DONE))
    assert ready["status"] == "Ready"
    green = cd.list_deployment_targets(
        deploymentId=deployment_id, targetFilters={"ServerInstanceLabel": ["Green"]}
    )["targetIds"]
    blue = cd.list_deployment_targets(
        deploymentId=deployment_id, targetFilters={"ServerInstanceLabel": ["Blue"]}
    )["targetIds"]
    assert len(green) == 2
    assert len(blue) == 2
    assert ready["deploymentOverview"]["Ready"] == 2
    # Ready comes after ValidateService; rerouting (BeforeAllowTraffic first) waits for it.
    for target_id, target in emulator_clients.targets(deployment_id).items():
        statuses = {e["lifecycleEventName"]: e["status"] for e in target["lifecycleEvents"]}
        if target_id in green:
            assert target["status"] == "Ready"
            assert statuses["ValidateService"] == "Succeeded"
            assert statuses["BeforeAllowTraffic"] == "Pending"
        else:
            assert set(statuses.values()) == {"Pending"}
    assert not log.exists()
    with pytest.raises(ClientError) as raised:
        cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="TERMINATION_WAIT")
    assert raised.value.response["Error"]["Code"] == "DeploymentIsNotInReadyStateException"
    cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="READY_WAIT")
    info = emulator_clients.wait_for(deployment_id, DONE)
    assert info["status"] == "Succeeded"
    targets = emulator_clients.targets(deployment_id)
    green_events = [e["lifecycleEventName"] for e in targets[green[0]]["lifecycleEvents"]]
    assert green_events[-3:] == ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
    assert {e["status"] for e in targets[green[0]]["lifecycleEvents"]} == {"Succeeded"}
    assert [e["lifecycleEventName"] for e in targets[blue[0]]["lifecycleEvents"]] == [
        "BeforeBlockTraffic",
        "BlockTraffic",
        "AfterBlockTraffic",
    ]
    assert targets[blue[0]]["instanceLabel"] == "Blue"
    assert sorted(log.read_text().splitlines()) == sorted(
        f"{event} v1 {instance}"
        for event in ("AfterAllowTraffic", "BeforeAllowTraffic")
        for instance in green
    )


def test_lambda_traffic_shift_reports_hooks_and_weights(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(unique_name, "live", "Lambda")
    appspec = {
        "version": 0.0,
        "Resources": [
            {
                "api": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": "api",
                        "Alias": "live",
                        "CurrentVersion": "3",
                        "TargetVersion": "4",
                    },
                }
            }
        ],
        "Hooks": [{"BeforeAllowTraffic": "CodeDeployHook_check"}],
    }
    deployment_id = cd.create_deployment(
        applicationName=unique_name,
        deploymentGroupName="live",
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": json.dumps(appspec)},
        },
    )["deploymentId"]
    info = emulator_clients.wait_for(deployment_id, DONE)
    assert info["status"] == "Succeeded"
    assert info["computePlatform"] == "Lambda"
    assert "content" not in info["revision"]["appSpecContent"]
    detail = cd.get_deployment_target(deploymentId=deployment_id, targetId="api")[
        "deploymentTarget"
    ]
    assert detail["deploymentTargetType"] == "LambdaTarget"
    target = detail["lambdaTarget"]
    assert target["lambdaFunctionInfo"]["targetVersionWeight"] == 1.0
    assert [(e["lifecycleEventName"], e["status"]) for e in target["lifecycleEvents"]] == [
        ("BeforeAllowTraffic", "Succeeded"),
        ("AllowTraffic", "Succeeded"),
        ("AfterAllowTraffic", "Succeeded"),
    ]
    assert target["lifecycleEvents"][0]["diagnostics"]["scriptName"] == "CodeDeployHook_check"


ECS_APPSPEC = """version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:7
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 80
Hooks:
  - AfterAllowTestTraffic: CodeDeployHook_smoke
"""


def hook_execution_id(cd: Any, deployment_id: str, target_id: str, kind: str = "ecsTarget") -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        target = cd.get_deployment_target(deploymentId=deployment_id, targetId=target_id)
        for event in target["deploymentTarget"][kind]["lifecycleEvents"]:
            message = (event.get("diagnostics") or {}).get("message", "")
            found = re.search(r"lifecycleEventHookExecutionId (\S+)", message)
            if event["status"] == "InProgress" and found:
                return found.group(1)
        time.sleep(0.02)
    raise AssertionError("the hook never started")


def test_ecs_hooks_wait_for_put_lifecycle_event_hook_execution_status(
    tmp_path: Path, emulator_clients_at: Any
) -> None:
    with start(state_dir=tmp_path, wait_for_hooks=True, hook_env=dict(os.environ)) as running:
        clients = emulator_clients_at(running.endpoint_url)
        cd = clients.codedeploy
        clients.make_group(
            "shop", "blue-green", "ECS", ecsServices=[{"serviceName": "web", "clusterName": "main"}]
        )
        revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": ECS_APPSPEC}}

        def run(verdict: str) -> dict[str, Any]:
            deployment_id = cd.create_deployment(
                applicationName="shop", deploymentGroupName="blue-green", revision=revision
            )["deploymentId"]
            execution = hook_execution_id(cd, deployment_id, "main:web")
            answer = cd.put_lifecycle_event_hook_execution_status(
                deploymentId=deployment_id, lifecycleEventHookExecutionId=execution, status=verdict
            )
            assert answer["lifecycleEventHookExecutionId"] == execution
            deadline = time.monotonic() + 20
            while True:
                info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
                if info["status"] in DONE or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            with pytest.raises(ClientError) as raised:
                cd.put_lifecycle_event_hook_execution_status(
                    deploymentId=deployment_id,
                    lifecycleEventHookExecutionId=execution,
                    status=verdict,
                )
            assert raised.value.response["Error"]["Code"] == (
                "LifecycleEventAlreadyCompletedException"
            )
            return dict(info)

        passed = run("Succeeded")
        assert passed["status"] == "Succeeded"
        target = cd.get_deployment_target(deploymentId=passed["deploymentId"], targetId="main:web")[
            "deploymentTarget"
        ]["ecsTarget"]
        weights = {t["taskSetLabel"]: t["trafficWeight"] for t in target["taskSetsInfo"]}
        assert weights == {"Blue": 0.0, "Green": 100.0}
        assert [e["lifecycleEventName"] for e in target["lifecycleEvents"]] == [
            "BeforeInstall",
            "Install",
            "AfterInstall",
            "AllowTestTraffic",
            "AfterAllowTestTraffic",
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic",
        ]
        with pytest.raises(ClientError) as raised:
            cd.list_deployment_instances(deploymentId=passed["deploymentId"])
        assert raised.value.response["Error"]["Code"] == "InvalidComputePlatformException"

        refused = run("Failed")
        assert refused["status"] == "Failed"
        assert refused["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"


def lambda_appspec(target_version: str) -> str:
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "api": {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {
                            "Name": "api",
                            "Alias": "live",
                            "CurrentVersion": "1",
                            "TargetVersion": target_version,
                        },
                    }
                }
            ],
            "Hooks": [{"BeforeAllowTraffic": "CodeDeployHook_check"}],
        }
    )


def test_a_failed_lambda_deployment_rolls_back_to_the_appspec_of_the_last_success(
    tmp_path: Path, emulator_clients_at: Any
) -> None:
    """The rollback runs under the service lock, where no AppSpec is parsed: it deploys the
    document the previous revision was deployed with."""
    with start(state_dir=tmp_path, wait_for_hooks=True) as running:
        clients = emulator_clients_at(running.endpoint_url)
        cd = clients.codedeploy
        clients.make_group(
            "fn",
            "live",
            "Lambda",
            deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce",
            autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
        )

        def run(target_version: str, verdict: str) -> dict[str, Any]:
            deployment_id = cd.create_deployment(
                applicationName="fn",
                deploymentGroupName="live",
                revision={
                    "revisionType": "AppSpecContent",
                    "appSpecContent": {"content": lambda_appspec(target_version)},
                },
            )["deploymentId"]
            return answer(deployment_id, verdict)

        def answer(deployment_id: str, verdict: str) -> dict[str, Any]:
            execution = hook_execution_id(cd, deployment_id, "api", "lambdaTarget")
            cd.put_lifecycle_event_hook_execution_status(
                deploymentId=deployment_id, lifecycleEventHookExecutionId=execution, status=verdict
            )
            deadline = time.monotonic() + 20
            info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            while info["status"] not in DONE and time.monotonic() < deadline:
                time.sleep(0.02)
                info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            return dict(info)

        assert run("2", "Succeeded")["status"] == "Succeeded"
        failed = run("3", "Failed")
        assert failed["status"] == "Failed"
        rollback_id = failed["rollbackInfo"]["rollbackDeploymentId"]
        rollback = answer(rollback_id, "Succeeded")
        assert rollback["status"] == "Succeeded"
        assert rollback["creator"] == "codeDeployRollback"
        function = cd.get_deployment_target(deploymentId=rollback_id, targetId="api")[
            "deploymentTarget"
        ]["lambdaTarget"]["lambdaFunctionInfo"]
        assert function["targetVersion"] == "2"


TRAFFIC_APPSPEC = """version: 0.0
os: linux
files:
  - source: app.txt
    destination: /srv/app
hooks:
  BeforeBlockTraffic:
    - location: check.sh
  AfterBlockTraffic:
    - location: check.sh
  BeforeAllowTraffic:
    - location: check.sh
  AfterAllowTraffic:
    - location: check.sh
"""


def traffic_revision(version: str, log: Path, *, refuse_block: bool = False) -> dict[str, str]:
    """A revision whose traffic hooks log '<event> <version> <instance>' to ``log``."""
    refuse = '[ "$LIFECYCLE_EVENT" != BeforeBlockTraffic ] || exit 3\n' if refuse_block else ""
    hook = f'#!/bin/sh\necho "$LIFECYCLE_EVENT {version} $CI_DEPLOY_EMULATOR_INSTANCE" >> {log}\n'
    return {"appspec.yml": TRAFFIC_APPSPEC, "app.txt": version, "check.sh": hook + refuse}


BLUE_GREEN = {
    "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
    "loadBalancerInfo": {"targetGroupInfoList": [{"name": "web"}]},
}


def blue_green_group(clients: Any, app: str, count: int, **configuration: Any) -> None:
    make_group(clients, app, count, **BLUE_GREEN, blueGreenDeploymentConfiguration=configuration)


def fleet_ids(emulator: Any, app: str) -> list[str]:
    return [i.instance_id for i in emulator.instances(app, "prod")]


def test_blue_green_originals_run_the_last_revisions_block_traffic_hooks_after_allow(
    emulator: Any, emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    log = tmp_path / "traffic.log"
    blue_green_group(
        emulator_clients,
        unique_name,
        2,
        terminateBlueInstancesOnDeploymentSuccess={"action": "KEEP_ALIVE"},
    )
    first = deploy(emulator_clients, unique_name, traffic_revision("v1", log))
    assert emulator_clients.wait_for(first, DONE)["status"] == "Succeeded"
    v1_fleet = fleet_ids(emulator, unique_name)
    # The originals of a first deployment have no revision: nothing to block there.
    assert sorted(log.read_text().splitlines()) == sorted(
        f"{event} v1 {instance}"
        for event in ("BeforeAllowTraffic", "AfterAllowTraffic")
        for instance in v1_fleet
    )
    log.unlink()
    second = deploy(emulator_clients, unique_name, traffic_revision("v2", log))
    assert emulator_clients.wait_for(second, DONE)["status"] == "Succeeded"
    v2_fleet = fleet_ids(emulator, unique_name)
    assert not set(v2_fleet) & set(v1_fleet)
    lines = log.read_text().splitlines()
    allow = [line for line in lines if "AllowTraffic" in line]
    block = [line for line in lines if "BlockTraffic" in line]
    assert lines == allow + block  # traffic reaches the replacements before the originals stop
    assert sorted(allow) == sorted(
        f"{event} v2 {instance}"
        for event in ("BeforeAllowTraffic", "AfterAllowTraffic")
        for instance in v2_fleet
    )
    for instance in v1_fleet:  # each original ran v1's scripts, Before then After
        assert [line for line in block if line.endswith(instance)] == [
            f"BeforeBlockTraffic v1 {instance}",
            f"AfterBlockTraffic v1 {instance}",
        ]
    targets = emulator_clients.targets(second)
    for instance in v1_fleet:
        original = targets[instance]
        assert original["instanceLabel"] == "Blue"
        assert original["status"] == "Succeeded"
        events = original["lifecycleEvents"]
        assert [(e["lifecycleEventName"], e["status"]) for e in events] == [
            ("BeforeBlockTraffic", "Succeeded"),
            ("BlockTraffic", "Succeeded"),
            ("AfterBlockTraffic", "Succeeded"),
        ]
        assert events[0]["endTime"] <= events[1]["startTime"] <= events[2]["startTime"]
        assert first_start(original) >= max(last_end(targets[g]) for g in v2_fleet)
    # The originals keep what they had: blocking traffic installs nothing.
    for instance in v1_fleet:
        assert (root_of_any(emulator, unique_name, instance) / "srv/app/app.txt").read_text() == (
            "v1"
        )


def root_of_any(emulator: Any, app: str, instance_id: str) -> Path:
    """An instance's install root, also after it left the group's fleet."""
    return Path(emulator.service.registry.hosts[instance_id].root)


def test_a_failing_block_traffic_hook_fails_the_deployment_unless_ignored(
    emulator: Any, emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    log = tmp_path / "traffic.log"
    blue_green_group(emulator_clients, unique_name, 1)
    first = deploy(emulator_clients, unique_name, traffic_revision("v1", log, refuse_block=True))
    assert emulator_clients.wait_for(first, DONE)["status"] == "Succeeded"
    (original,) = fleet_ids(emulator, unique_name)
    second = deploy(emulator_clients, unique_name, traffic_revision("v2", log, refuse_block=True))
    failed = emulator_clients.wait_for(second, DONE)
    assert failed["status"] == "Failed"
    assert failed["errorInformation"] == {
        "code": "HEALTH_CONSTRAINTS",
        "message": "The deployment failed because blocking traffic failed on 1 original "
        f"instance(s) ({original}); traffic already flows to the replacement instances.",
    }
    events = emulator_clients.targets(second)[original]["lifecycleEvents"]
    assert [(e["lifecycleEventName"], e["status"]) for e in events] == [
        ("BeforeBlockTraffic", "Failed"),
        ("BlockTraffic", "Skipped"),
        ("AfterBlockTraffic", "Skipped"),
    ]
    assert events[0]["diagnostics"]["errorCode"] == "ScriptFailed"
    assert events[0]["diagnostics"]["scriptName"] == "check.sh"
    assert f"BeforeBlockTraffic v1 {original}" in log.read_text()
    third = deploy(
        emulator_clients,
        unique_name,
        traffic_revision("v3", log),
        ignoreApplicationStopFailures=True,
    )
    assert emulator_clients.wait_for(third, DONE)["status"] == "Succeeded"
    (replacement_of_second,) = [
        t for t, v in emulator_clients.targets(second).items() if v["instanceLabel"] == "Green"
    ]
    blocked = emulator_clients.targets(third)[replacement_of_second]["lifecycleEvents"]
    assert [e["status"] for e in blocked] == ["Succeeded"] * 3


def test_termination_wait_keeps_the_deployment_in_progress_until_continued(
    emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    cd = emulator_clients.codedeploy
    wait = {"action": "TERMINATE", "terminationWaitTimeInMinutes": 60}
    blue_green_group(
        emulator_clients, unique_name, 1, terminateBlueInstancesOnDeploymentSuccess=wait
    )
    with pytest.raises(ClientError) as raised:
        cd.create_deployment_group(
            applicationName=unique_name,
            deploymentGroupName="too-long",
            serviceRoleArn=ROLE,
            **BLUE_GREEN,
            blueGreenDeploymentConfiguration={
                "terminateBlueInstancesOnDeploymentSuccess": {
                    **wait,
                    "terminationWaitTimeInMinutes": 5000,
                }
            },
        )
    assert raised.value.response["Error"] == {
        "Code": "InvalidBlueGreenDeploymentConfigurationException",
        "Message": "terminationWaitTimeInMinutes must be a whole number of minutes from 0 to 2880.",
    }
    deployment_id = deploy(emulator_clients, unique_name, traffic_revision("v1", tmp_path / "l"))
    info = in_termination_wait(cd, deployment_id)
    assert info["status"] == "InProgress"
    assert info["deploymentOverview"]["Succeeded"] == 2  # replacement and original are done
    with pytest.raises(ClientError) as raised:
        cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="READY_WAIT")
    assert raised.value.response["Error"]["Code"] == "DeploymentIsNotInReadyStateException"
    cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="TERMINATION_WAIT")
    done = emulator_clients.wait_for(deployment_id, DONE)
    assert done["status"] == "Succeeded"
    assert done["instanceTerminationWaitTimeStarted"] is True
    with pytest.raises(ClientError) as raised:
        cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="TERMINATION_WAIT")
    assert raised.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def in_termination_wait(cd: Any, deployment_id: str) -> dict[str, Any]:
    """GetDeployment (bounded poll) once the originals' termination wait has started."""
    deadline = time.monotonic() + 30
    while True:
        info: dict[str, Any] = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info["instanceTerminationWaitTimeStarted"] or info["status"] in DONE:
            return info
        assert time.monotonic() < deadline, "the termination wait never started"
        time.sleep(0.05)


def test_stop_during_the_termination_wait_stops_the_deployment(
    emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    cd = emulator_clients.codedeploy
    blue_green_group(
        emulator_clients,
        unique_name,
        1,
        terminateBlueInstancesOnDeploymentSuccess={
            "action": "TERMINATE",
            "terminationWaitTimeInMinutes": 30,
        },
    )
    deployment_id = deploy(emulator_clients, unique_name, traffic_revision("v1", tmp_path / "l"))
    assert in_termination_wait(cd, deployment_id)["status"] == "InProgress"
    cd.stop_deployment(deploymentId=deployment_id)
    stopped = emulator_clients.wait_for(deployment_id, DONE)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "MANUAL_STOP"


def test_update_outdated_instances_only_skips_instances_already_on_the_revision(
    emulator: Any, emulator_clients: Any, unique_name: str, tmp_path: Path
) -> None:
    cd = emulator_clients.codedeploy
    make_group(emulator_clients, unique_name, 3, deploymentConfigName="CodeDeployDefault.AllAtOnce")
    refuse = tmp_path / "refuse"
    refuse.touch()
    check = f'#!/bin/sh\n[ ! -e {refuse} ] || [ "$CI_DEPLOY_EMULATOR_INSTANCE_INDEX" != 3 ]\n'
    location = emulator_clients.upload(
        unique_name, "app.zip", {"appspec.yml": APPSPEC, "app.txt": "v1", "check.sh": check}
    )
    revision = {"revisionType": "S3", "s3Location": location}

    def run(**options: Any) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
        deployment_id = cd.create_deployment(
            applicationName=unique_name, deploymentGroupName="prod", revision=revision, **options
        )["deploymentId"]
        info = emulator_clients.wait_for(deployment_id, DONE)
        return info, by_index(emulator, unique_name, emulator_clients.targets(deployment_id))

    info, targets = run()
    assert info["status"] == "Succeeded"  # AllAtOnce: one success is enough
    assert {i: t["status"] for i, t in targets.items()} == {
        1: "Succeeded",
        2: "Succeeded",
        3: "Failed",
    }
    refuse.unlink()
    info, targets = run(updateOutdatedInstancesOnly=True)
    assert info["status"] == "Succeeded"
    assert info["updateOutdatedInstancesOnly"] is True
    assert info["deploymentOverview"]["Skipped"] == 2
    assert {i: t["status"] for i, t in targets.items()} == {
        1: "Skipped",
        2: "Skipped",
        3: "Succeeded",
    }
    assert {e["status"] for e in targets[1]["lifecycleEvents"]} == {"Skipped"}
    info, targets = run(updateOutdatedInstancesOnly=True)
    assert info["status"] == "Succeeded"
    assert info["deploymentOverview"]["Skipped"] == 3
    info, targets = run()  # without the option every instance is deployed again
    assert {t["status"] for t in targets.values()} == {"Succeeded"}


def test_ecs_termination_wait_keeps_the_original_task_set_until_continued(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(
        unique_name,
        "prod",
        "ECS",
        ecsServices=[{"serviceName": "web", "clusterName": "main"}],
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 15,
            }
        },
    )
    deployment_id = cd.create_deployment(
        applicationName=unique_name,
        deploymentGroupName="prod",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": ECS_APPSPEC}},
    )["deploymentId"]
    info = in_termination_wait(cd, deployment_id)
    assert info["status"] == "InProgress"
    (target,) = emulator_clients.targets(deployment_id).values()
    assert target["status"] == "Succeeded"
    weights = {t["taskSetLabel"]: t["trafficWeight"] for t in target["taskSetsInfo"]}
    assert weights == {"Blue": 0.0, "Green": 100.0}
    cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="TERMINATION_WAIT")
    assert emulator_clients.wait_for(deployment_id, DONE)["status"] == "Succeeded"


def test_group_waits_run_out_on_the_clock(tmp_path: Path, emulator_clients_at: Any) -> None:
    """Ready not continued within waitTimeInMinutes stops the deployment (TIMEOUT) before any
    Allow-traffic script runs; a termination wait that runs out ends in Succeeded. The clock
    moves a minute at every reading, so a one-minute wait is over when it is checked."""
    ticks = itertools.count()
    base = time.time()
    with start(
        state_dir=tmp_path / "state",
        hook_env=dict(os.environ),
        clock=lambda: base + 60 * next(ticks),
    ) as running:
        clients = emulator_clients_at(running.endpoint_url)
        log = tmp_path / "traffic.log"
        blue_green_group(
            clients,
            "ready",
            1,
            deploymentReadyOption={"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 1},
        )
        deployment_id = deploy(clients, "ready", traffic_revision("v1", log))
        stopped = clients.wait_for(deployment_id, DONE)
        assert stopped["status"] == "Stopped"
        assert stopped["errorInformation"] == {
            "code": "TIMEOUT",
            "message": "The deployment was stopped because traffic was not rerouted to the "
            "replacement instances within the deployment group's deploymentReadyOption "
            "waitTimeInMinutes (1); continue a Ready deployment with ContinueDeployment "
            "(READY_WAIT) in time.",
        }
        assert not log.exists()  # no BeforeAllowTraffic script ran
        targets = clients.targets(deployment_id)
        originals = [t for t, v in targets.items() if v["instanceLabel"] == "Blue"]
        assert fleet_ids(running, "ready") == originals  # traffic never moved
        (replacement,) = [v for v in targets.values() if v["instanceLabel"] == "Green"]
        events = {e["lifecycleEventName"]: e for e in replacement["lifecycleEvents"]}
        assert events["ValidateService"]["status"] == "Succeeded"
        assert events["BeforeAllowTraffic"]["diagnostics"]["message"] == (
            "the deployment was stopped before check.sh started"
        )
        assert events["AllowTraffic"]["status"] == "Skipped"
        blue_green_group(
            clients,
            "terminate",
            1,
            terminateBlueInstancesOnDeploymentSuccess={
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 1,
            },
        )
        done = clients.wait_for(deploy(clients, "terminate", traffic_revision("v1", log)), DONE)
        assert done["status"] == "Succeeded"
        assert done["instanceTerminationWaitTimeStarted"] is True
