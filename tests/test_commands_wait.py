"""`ci-deploy wait` end to end: the real CLI against a scripted CodeDeploy endpoint over HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ci_deploy import cli
from fake_codedeploy import (
    FakeCodeDeploy,
    Frame,
    blue_green_group,
    in_place_frames,
    instance_target,
)

CI_DEPLOY = str(Path(sys.executable).with_name("ci-deploy"))

VALIDATE_FAILED = {
    "errorCode": "ScriptFailed",
    "scriptName": "scripts/validate.sh",
    "message": "Script at specified location: scripts/validate.sh run as user root failed "
    "with exit code 7",
    "logTail": "[stdout]checking http://localhost:8080/health\n[stderr]curl: (7) refused\n",
}


def run_wait(fake: FakeCodeDeploy, env: dict[str, str], streams, *args: str) -> int:
    return cli.run(["wait", *args, "--endpoint-url", fake.endpoint_url], env, streams)


def test_wait_success_prints_the_result_and_exits_0(fake_codedeploy, aws_env, streams) -> None:
    did = fake_codedeploy.add(in_place_frames(["i-1", "i-2"], ("AfterInstall",)))
    code = run_wait(fake_codedeploy, aws_env, streams, did)
    assert code == 0, streams.err
    result = json.loads(streams.out)
    assert result["status"] == "Succeeded"
    assert result["deployment_id"] == did
    assert result["deployment_ids"] == {"us-east-1": did}
    assert result["overview"]["Succeeded"] == 2
    assert [t["target_id"] for t in result["targets"]] == ["i-1", "i-2"]
    assert result["console_url"] == (
        f"https://console.aws.amazon.com/codesuite/codedeploy/deployments/{did}?region=us-east-1"
    )
    assert f"deployment {did}: Succeeded (Succeeded 2)" in streams.err
    assert "i-1: AfterInstall Succeeded in 1.5s" in streams.err
    # The default timeout came from the group: one GetDeploymentGroup call.
    assert len(fake_codedeploy.calls_of("GetDeploymentGroup")) == 1


def test_wait_failure_shows_why_without_the_console(fake_codedeploy, aws_env, streams) -> None:
    did = fake_codedeploy.add(
        in_place_frames(
            ["i-1", "i-2"],
            ("AfterInstall", "ValidateService"),
            fail=("i-2", "ValidateService", VALIDATE_FAILED),
        )
    )
    code = run_wait(fake_codedeploy, aws_env, streams, did, "--timeout-seconds", "60")
    assert code == 1
    err = streams.err
    assert "HEALTH_CONSTRAINTS: The overall deployment failed" in err
    assert "i-2: ValidateService failed (scripts/validate.sh)" in err
    assert "ScriptFailed: Script at specified location: scripts/validate.sh" in err
    assert "| [stderr]curl: (7) refused" in err
    assert f"console: https://console.aws.amazon.com/codesuite/codedeploy/deployments/{did}" in err
    assert err.rstrip().endswith(f"ci-deploy: error: deployment {did} Failed")
    result = json.loads(streams.out)
    failed = next(t for t in result["targets"] if t["target_id"] == "i-2")
    event = next(e for e in failed["lifecycle_events"] if e["status"] == "Failed")
    assert event["diagnostics"] == {
        "error_code": "ScriptFailed",
        "script_name": "scripts/validate.sh",
        "message": VALIDATE_FAILED["message"],
        "log_tail": VALIDATE_FAILED["logTail"],
    }
    assert result["error"] == {
        "code": "HEALTH_CONSTRAINTS",
        "message": "The overall deployment failed",
    }


def test_wait_stopped_exits_1(fake_codedeploy, aws_env, streams) -> None:
    running = {"i-1": instance_target("i-1", [("Install", "InProgress")])}
    did = fake_codedeploy.add(
        [
            Frame("InProgress", running),
            Frame(
                "Stopped", running, error={"code": "MANUAL_STOP", "message": "stopped by a user"}
            ),
        ]
    )
    code = run_wait(fake_codedeploy, aws_env, streams, did, "--timeout-seconds", "60")
    assert code == 1
    assert json.loads(streams.out)["status"] == "Stopped"
    assert "MANUAL_STOP: stopped by a user" in streams.err
    assert f"ci-deploy: error: deployment {did} Stopped" in streams.err


def test_wait_ready_with_continue(fake_codedeploy, aws_env, streams) -> None:
    fake_codedeploy.group_info = blue_green_group(
        "Server", ready_wait_minutes=30, termination_wait_minutes=5
    )
    green = {"i-9": instance_target("i-9", [("Install", "Succeeded")])}
    did = fake_codedeploy.add(
        [
            Frame("InProgress", green),
            Frame("Ready", green, hold=True),
            Frame("InProgress", green),
            Frame("Succeeded", green),
        ]
    )
    code = run_wait(fake_codedeploy, aws_env, streams, did, "--on-ready", "continue")
    assert code == 0, streams.err
    assert fake_codedeploy.calls_of("ContinueDeployment") == [
        {"deploymentId": did, "deploymentWaitType": "READY_WAIT"}
    ]
    assert "is Ready: continued" in streams.err


def test_wait_timeout_exits_4_and_says_it_is_still_running(
    fake_codedeploy, aws_env, streams
) -> None:
    running = {"i-1": instance_target("i-1", [("Install", "InProgress")])}
    did = fake_codedeploy.add([Frame("InProgress", running)])
    code = run_wait(fake_codedeploy, aws_env, streams, did, "--timeout-seconds", "1")
    assert code == 4
    assert (
        f"ci-deploy: error: gave up waiting: deployment {did} is still InProgress "
        f"(see https://console.aws.amazon.com/codesuite/codedeploy/deployments/{did}"
        "?region=us-east-1)"
    ) in streams.err
    assert f"hint: it may still finish; watch it again with 'ci-deploy wait {did}'" in streams.err
    assert json.loads(streams.out)["status"] == "InProgress"
    assert not fake_codedeploy.calls_of("StopDeployment")


def test_throttling_and_5xx_while_polling_are_retried_and_counted(
    fake_codedeploy, aws_env, streams
) -> None:
    did = fake_codedeploy.add(in_place_frames(["i-1"], ("AfterInstall",)))
    fake_codedeploy.faults = {
        "GetDeployment": ["throttle"],
        "BatchGetDeploymentTargets": ["503"],
    }
    code = run_wait(fake_codedeploy, aws_env, streams, did, "--timeout-seconds", "120")
    assert code == 0, streams.err
    result = json.loads(streams.out)
    assert result["status"] == "Succeeded"
    assert result["deployments"][0]["api"]["retries"] >= 2
    assert not fake_codedeploy.faults["GetDeployment"]
    assert not fake_codedeploy.faults["BatchGetDeploymentTargets"]


def test_dropped_connections_while_polling_are_retried_and_counted(
    fake_codedeploy, aws_env, streams
) -> None:
    did = fake_codedeploy.add(in_place_frames(["i-1"], ("AfterInstall",)))
    fake_codedeploy.faults = {"GetDeployment": ["drop", "drop"], "ListDeploymentTargets": ["drop"]}
    code = run_wait(fake_codedeploy, aws_env, streams, did, "--timeout-seconds", "120")
    assert code == 0, streams.err
    result = json.loads(streams.out)
    assert result["status"] == "Succeeded"
    assert result["deployments"][0]["api"]["retries"] >= 3
    assert not any(fake_codedeploy.faults.values())


def test_unknown_deployment_is_an_aws_error_naming_it(fake_codedeploy, aws_env, streams) -> None:
    code = run_wait(fake_codedeploy, aws_env, streams, "d-NOPE", "--timeout-seconds", "5")
    assert code == 3
    assert (
        "ci-deploy: error: GetDeployment deployment d-NOPE (us-east-1): "
        "DeploymentDoesNotExistException: Deployment d-NOPE does not exist"
    ) in streams.err
    assert "hint: check the deployment id and the region" in streams.err


def test_wait_without_a_deployment_id_is_bad_input(aws_env, streams) -> None:
    code = cli.run(["wait"], aws_env, streams)
    assert code == 2
    assert "input deployment_id is required for wait" in streams.err
    assert "hint: give DEPLOYMENT_ID as an argument or set CI_DEPLOY_DEPLOYMENT_ID" in streams.err


def test_bad_on_ready_names_the_input(aws_env, streams) -> None:
    env = {**aws_env, "CI_DEPLOY_ON_READY": "later"}
    code = cli.run(["wait", "d-1"], env, streams)
    assert code == 2
    assert "input on_ready: expected one of continue, wait, succeed, got 'later'" in streams.err


@pytest.mark.parametrize("rollback", [True, False])
def test_sigterm_stops_the_deployment_and_exits_130(
    fake_codedeploy, aws_env, rollback: bool
) -> None:
    running = {"i-1": instance_target("i-1", [("Install", "InProgress")])}
    did = fake_codedeploy.add([Frame("InProgress", running)])
    flag = "--rollback-on-cancel" if rollback else "--no-rollback-on-cancel"
    done = fake_codedeploy.cancel_when_polled(
        [CI_DEPLOY, "wait", did, "--endpoint-url", fake_codedeploy.endpoint_url, flag], aws_env
    )
    assert done.returncode == 130, done.stderr
    assert fake_codedeploy.calls_of("StopDeployment") == [
        {"deploymentId": did, "autoRollbackEnabled": rollback}
    ]
    assert f"cancelled: stopping deployment {did}" in done.stderr
    assert f"ci-deploy: error: cancelled while deployment {did} was Stopped" in done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "Stopped"
    assert result["rollback_deployment_id"] == ("d-ROLLBACK01" if rollback else None)


def test_sigterm_with_no_stop_on_cancel_leaves_it_running(fake_codedeploy, aws_env) -> None:
    running = {"i-1": instance_target("i-1", [("Install", "InProgress")])}
    did = fake_codedeploy.add([Frame("InProgress", running)])
    argv = [CI_DEPLOY, "wait", did, "--endpoint-url", fake_codedeploy.endpoint_url]
    done = fake_codedeploy.cancel_when_polled([*argv, "--no-stop-on-cancel"], aws_env)
    assert done.returncode == 130
    assert not fake_codedeploy.calls_of("StopDeployment")
    assert "left running (--no-stop-on-cancel)" in done.stderr
