"""`ci-deploy emulator` as a real process: serves until SIGINT/SIGTERM, prints what to export."""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import boto3
import pytest


def launch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ci_deploy", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_signalled_then_exits_zero(
    stop_signal: signal.Signals, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    process = launch("--port", "0", "--instances", "2", "--state-dir", str(state))
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        endpoint = announced["endpoint_url"]
        assert announced["AWS_ENDPOINT_URL"] == endpoint
        client = boto3.client(
            "codedeploy",
            endpoint_url=endpoint,
            region_name=announced["AWS_REGION"],
            aws_access_key_id=announced["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=announced["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_application(applicationName="from-cli")
        assert client.list_applications()["applications"] == ["from-cli"]
        process.send_signal(stop_signal)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert f"export AWS_ENDPOINT_URL={endpoint}" in err
    assert "2 EC2 instances tagged Name=ci-deploy-emulator in each region" in err
    assert "ci-deploy emulator: stopping" in err
    assert "Traceback" not in err
    assert state.is_dir()  # a given state dir is kept


def test_a_busy_port_is_bad_input() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = launch("--port", str(port))
        _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"ci-deploy: error: input port: cannot listen on 127.0.0.1:{port}" in err
    assert "hint: pick another --port, or --port 0 for any free port" in err


def test_instances_must_be_at_least_one() -> None:
    process = launch("--instances", "0")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "input instances: expected a number >= 1, got '0'" in err


def test_a_state_dir_that_is_a_file_is_bad_input(tmp_path: Path) -> None:
    taken = tmp_path / "state file"
    taken.write_text("not a directory\n")
    process = launch("--port", "0", "--state-dir", str(taken / "sub"))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert (
        f"ci-deploy: error: input state_dir: cannot use {str(taken / 'sub')!r} as the "
        "emulator's state directory: Not a directory" in err
    )
    assert "hint: pass a writable directory (created when missing) to --state-dir" in err
    assert "Traceback" not in err


def test_event_delay_is_at_most_a_minute() -> None:
    process = launch("--port", "0", "--event-delay-ms", "99999999999")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "input event_delay_ms: expected a number <= 60000, got '99999999999'" in err


def test_a_bundle_over_max_unpacked_size_fails_download_bundle(tmp_path: Path) -> None:
    process = launch(
        "--port", "0", "--instances", "1", "--state-dir", str(tmp_path / "state"),
        "--max-unpacked-size", "1KiB",
    )  # fmt: skip
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        settings = {
            "endpoint_url": announced["endpoint_url"],
            "region_name": announced["AWS_REGION"],
            "aws_access_key_id": announced["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": announced["AWS_SECRET_ACCESS_KEY"],
        }
        s3, codedeploy = boto3.client("s3", **settings), boto3.client("codedeploy", **settings)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("appspec.yml", "version: 0.0\nos: linux\n")
            archive.writestr("big.bin", b"\0" * 4096)
        s3.create_bucket(Bucket="bundles")
        s3.put_object(Bucket="bundles", Key="big.zip", Body=buffer.getvalue())
        codedeploy.create_application(applicationName="big")
        codedeploy.create_deployment_group(
            applicationName="big",
            deploymentGroupName="prod",
            serviceRoleArn="arn:aws:iam::123456789012:role/CodeDeployServiceRole",
            ec2TagFilters=[{"Key": "Name", "Value": "ci-deploy-emulator", "Type": "KEY_AND_VALUE"}],
        )
        location = {"bucket": "bundles", "key": "big.zip", "bundleType": "zip"}
        deployment_id = codedeploy.create_deployment(
            applicationName="big",
            deploymentGroupName="prod",
            revision={"revisionType": "S3", "s3Location": location},
        )["deploymentId"]
        for _ in range(600):  # bounded: 30 s
            info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            if info["status"] in ("Succeeded", "Failed", "Stopped"):
                break
            time.sleep(0.05)
        assert info["status"] == "Failed"
        (target_id,) = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
        (target,) = codedeploy.batch_get_deployment_targets(
            deploymentId=deployment_id, targetIds=[target_id]
        )["deploymentTargets"]
        events = target["instanceTarget"]["lifecycleEvents"]
        download = next(e for e in events if e["lifecycleEventName"] == "DownloadBundle")
        message = download["diagnostics"]["message"]
        assert "bundle.zip unpacks to at least 4.0 KiB (as it declares)" in message
        assert "more than the limit of 1 KiB (input max_unpacked_size)" in message
        assert "--max-unpacked-size" in message
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_a_bad_max_unpacked_size_is_bad_input() -> None:
    process = launch("--port", "0", "--max-unpacked-size", "lots")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "input max_unpacked_size: expected a size in bytes, or with a unit" in err
