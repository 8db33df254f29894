"""`ci-deploy status` end to end against a scripted CodeDeploy endpoint over HTTP."""

from __future__ import annotations

import json

from ci_deploy import cli
from fake_codedeploy import in_place_frames

FAILED_HOOK = {
    "errorCode": "ScriptFailed",
    "scriptName": "scripts/start.sh",
    "message": "Script at specified location: scripts/start.sh failed with exit code 2",
    "logTail": "[stderr]port 8080 already in use\n",
}


def failed_deployment(fake) -> str:
    frames = in_place_frames(
        ["i-1", "i-2"], ("ApplicationStart",), fail=("i-1", "ApplicationStart", FAILED_HOOK)
    )
    # Show the last frame straight away: status is one look.
    return fake.add(frames[-1:])


def test_status_json_is_one_snapshot(fake_codedeploy, aws_env, streams) -> None:
    did = failed_deployment(fake_codedeploy)
    code = cli.run(
        ["status", did, "--json", "--endpoint-url", fake_codedeploy.endpoint_url], aws_env, streams
    )
    assert code == 0
    result = json.loads(streams.out)
    assert result["status"] == "Failed"
    assert result["application"] == "web"
    assert result["deployment_group"] == "prod"
    assert result["overview"] == {
        "Pending": 0,
        "InProgress": 0,
        "Succeeded": 1,
        "Failed": 1,
        "Skipped": 0,
        "Ready": 0,
    }
    failed = result["targets"][0]
    assert failed["target_id"] == "i-1"
    assert (
        failed["lifecycle_events"][0]["diagnostics"]["log_tail"]
        == "[stderr]port 8080 already in use\n"
    )
    # One look: a single GetDeployment, one list and one batch.
    assert [name for name, _ in fake_codedeploy.calls] == [
        "GetDeployment",
        "ListDeploymentTargets",
        "BatchGetDeploymentTargets",
    ]


def test_status_text_goes_to_stderr(fake_codedeploy, aws_env, streams) -> None:
    did = failed_deployment(fake_codedeploy)
    code = cli.run(
        ["status", did, "--endpoint-url", fake_codedeploy.endpoint_url], aws_env, streams
    )
    assert code == 0
    assert streams.out == ""
    assert f"deployment {did} (us-east-1): Failed" in streams.err
    assert "  i-1: Failed" in streams.err
    assert "ScriptFailed scripts/start.sh: Script at specified location" in streams.err
    assert "| [stderr]port 8080 already in use" in streams.err
    assert "error: HEALTH_CONSTRAINTS: The overall deployment failed" in streams.err


def test_status_in_one_region_only(aws_env, streams) -> None:
    code = cli.run(["status", "d-1", "--region", "us-east-1,eu-west-1"], aws_env, streams)
    assert code == 2
    assert "input regions: status works on one deployment in one region" in streams.err


def test_aws_region_alone_names_the_region(fake_codedeploy, aws_env, streams, monkeypatch) -> None:
    # GitLab and Jenkins docs set AWS_REGION only; boto3 ignores it, the AWS CLI v2 does not.
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    env = {name: value for name, value in aws_env.items() if name != "AWS_DEFAULT_REGION"}
    did = failed_deployment(fake_codedeploy)
    code = cli.run(
        ["status", did, "--json", "--endpoint-url", fake_codedeploy.endpoint_url],
        {**env, "AWS_REGION": "eu-west-1"},
        streams,
    )
    assert code == 0, streams.err
    result = json.loads(streams.out)
    assert result["region"] == "eu-west-1"
    assert "region=eu-west-1" in result["console_url"]


def test_no_region_anywhere_is_an_aws_error(fake_codedeploy, aws_env, streams, monkeypatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    env = {name: value for name, value in aws_env.items() if name != "AWS_DEFAULT_REGION"}
    code = cli.run(
        ["status", "d-ABCDEFGHI", "--endpoint-url", fake_codedeploy.endpoint_url], env, streams
    )
    assert code == 3
    assert "ci-deploy: error: no AWS region configured" in streams.err
    assert "hint: pass --region, or set AWS_REGION / AWS_DEFAULT_REGION" in streams.err
    assert fake_codedeploy.calls == []
