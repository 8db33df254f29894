"""`ci-deploy deploy`, `wait` and `rollback` end to end: the real CLI against the ci-deploy
emulator over HTTP, whose instances run the examples' hooks for real."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ci_deploy import cli
from doc_pages import code_blocks, page, section

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CI_DEPLOY = str(Path(sys.executable).with_name("ci-deploy"))


@pytest.fixture
def demo(emulator_app: Any, aws_env: dict[str, str]) -> Any:
    """Where to deploy on the session's emulator (conftest's ``emulator_app``: application,
    group ``fleet`` of 3 instances, versioned bucket), as the CLI arguments and environment."""
    app = emulator_app
    return {"name": app.application, "common": app.cli_args, "env": aws_env, "clients": app.clients}


def deploy(demo, streams, example: str, *args: str) -> int:
    argv = [
        "deploy",
        str(EXAMPLES / example),
        *demo["common"],
        "--s3-location",
        f"s3://{demo['name']}/bundles",
        *args,
    ]
    return cli.run(argv, demo["env"], streams)


def test_deploy_web_app_succeeds_with_a_pinned_revision(demo, streams) -> None:
    code = deploy(demo, streams, "web-app")
    assert code == 0, streams.err
    result = json.loads(streams.out)
    assert result["status"] == "Succeeded"
    assert result["overview"]["Succeeded"] == 3
    location = result["revision"]["s3Location"]
    assert location["bucket"] == demo["name"]
    assert location["key"].endswith(f"{result['bundle_sha256']}.zip")
    assert location["version"] and location["eTag"]
    assert len(result["targets"]) == 3
    assert all(t["status"] == "Succeeded" for t in result["targets"])
    names = [e["name"] for e in result["targets"][0]["lifecycle_events"]]
    assert "ValidateService" in names
    err = streams.err
    assert f"created deployment {result['deployment_id']}" in err
    assert f"deployment {result['deployment_id']}: Succeeded (Succeeded 3)" in err
    # What reached the API is what the result says.
    info = demo["clients"].codedeploy.get_deployment(deploymentId=result["deployment_id"])
    assert info["deploymentInfo"]["revision"]["s3Location"]["version"] == location["version"]


def test_deploy_failing_hook_shows_its_diagnostics(demo, streams) -> None:
    code = deploy(demo, streams, "failing-hook", "--timeout-seconds", "120")
    assert code == 1
    err = streams.err
    result = json.loads(streams.out)
    did = result["deployment_id"]
    assert result["status"] == "Failed"
    assert result["error"]["code"] == "HEALTH_CONSTRAINTS"
    assert f"deployment {did} (us-east-1) Failed: HEALTH_CONSTRAINTS" in err
    assert "ValidateService failed (scripts/validate.sh)" in err
    assert "ScriptFailed: Script at specified location: scripts/validate.sh" in err
    assert "| [stderr]health check failed" in err
    assert err.rstrip().endswith(f"ci-deploy: error: deployment {did} Failed")
    failed = [t for t in result["targets"] if t["status"] == "Failed"]
    event = next(e for e in failed[0]["lifecycle_events"] if e["status"] == "Failed")
    assert event["diagnostics"]["script_name"] == "scripts/validate.sh"
    assert "health check failed" in event["diagnostics"]["log_tail"]


def test_no_wait_then_wait(demo, streams) -> None:
    code = deploy(demo, streams, "web-app", "--no-wait")
    assert code == 0, streams.err
    did = json.loads(streams.out)["deployment_id"]
    waited = subprocess.run(
        [CI_DEPLOY, "wait", did, *demo["common"][4:], "--timeout-seconds", "120"],
        env=demo["env"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["status"] == "Succeeded"


def test_rollback_redeploys_the_last_good_revision(demo, streams) -> None:
    assert deploy(demo, streams, "web-app") == 0, streams.err
    good = json.loads(streams.out)
    streams.stdout.truncate(0)
    streams.stdout.seek(0)
    assert deploy(demo, streams, "failing-hook", "--timeout-seconds", "120") == 1
    streams.stdout.truncate(0)
    streams.stdout.seek(0)
    code = cli.run(["rollback", *demo["common"], "--timeout-seconds", "120"], demo["env"], streams)
    assert code == 0, streams.err
    rolled = json.loads(streams.out)
    assert rolled["status"] == "Succeeded"
    assert rolled["revision"]["s3Location"] == good["revision"]["s3Location"]
    assert f"rolling back to the revision of {good['deployment_id']}" in streams.err


def test_rollback_to_a_deployment_of_another_group_is_refused(demo, streams) -> None:
    assert deploy(demo, streams, "web-app") == 0, streams.err
    did = json.loads(streams.out)["deployment_id"]
    demo["clients"].codedeploy.create_deployment_group(
        applicationName=demo["name"],
        deploymentGroupName="other",
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "3", "Type": "KEY_AND_VALUE"}],
    )
    argv = ["rollback", *demo["common"], "--to", did]
    argv[argv.index("fleet")] = "other"
    code = cli.run(argv, demo["env"], streams)
    assert code == 2
    assert f"input rollback_to: {did} belongs to group 'fleet'" in streams.err


def embedded(s3_location: str, regions: str) -> list[str]:
    """The README's first command: examples/web-app to the embedded emulator."""
    return [
        "deploy",
        str(EXAMPLES / "web-app"),
        "--application",
        "demo",
        "--deployment-group",
        "demo-fleet",
        "--s3-location",
        s3_location,
        "--emulator",
        "--region",
        regions,
    ]


def readme_first_command() -> list[str]:
    """The command of the README's "Try it with --emulator", as argv."""
    try_it = section(page("README.md"), "## Try it with `--emulator`")
    first = code_blocks(try_it, "sh")[0]
    return shlex.split(first.replace("\\\n", " "))


def test_the_readme_s_first_command_is_the_one_tested_here() -> None:
    """What the next test runs is what the README tells a user to run (plus a delay that only
    slows the progress down for the eye)."""
    argv = readme_first_command()
    assert argv[:3] == ["ci-deploy", "deploy", "examples/web-app"]
    assert argv[-2:] == ["--event-delay-ms", "200"]
    tested = embedded("s3://ci-deploy-demo/bundles", "us-east-1")
    assert [argv[1], str(EXAMPLES.parent / argv[2]), *argv[3:-2]] == tested


def test_deploy_with_the_embedded_emulator(aws_env, tmp_path) -> None:
    """The README's first command: --emulator creates what is missing and deploys for real."""
    done = subprocess.run(
        [CI_DEPLOY, *embedded("s3://ci-deploy-demo/bundles", "us-east-1")],
        env={**aws_env, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "Succeeded"
    assert result["application"] == "demo"
    assert "uploaded s3://ci-deploy-demo/bundles/demo/" in done.stderr


def test_emulator_and_endpoint_url_exclude_each_other(aws_env, streams) -> None:
    code = cli.run(
        [
            "deploy",
            str(EXAMPLES / "web-app"),
            "--application",
            "demo",
            "--deployment-group",
            "g",
            "--emulator",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        aws_env,
        streams,
    )
    assert code == 2
    assert "inputs emulator and endpoint_url exclude each other" in streams.err


def test_embedded_emulator_deploys_to_a_bucket_per_region(aws_env, streams) -> None:
    """--emulator with two regions creates each region's bucket (outside us-east-1 S3 wants
    the location constraint) and deploys to both."""
    code = cli.run(
        embedded("s3://ci-deploy-demo-{region}/bundles", "us-east-1,eu-west-1"), aws_env, streams
    )
    assert code == 0, streams.err
    result = json.loads(streams.out)
    assert result["status"] == "Succeeded"
    assert set(result["deployment_ids"]) == {"us-east-1", "eu-west-1"}
    assert "uploaded s3://ci-deploy-demo-eu-west-1/bundles/demo/" in streams.err
