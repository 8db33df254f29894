"""`ci-deploy emulator` as a real process: serves until SIGINT/SIGTERM, prints what to export."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
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
    assert "2 simulated instances per deployment group" in err
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
