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

from ci_deploy.emulator.configs import health_plan


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


@pytest.mark.parametrize(
    ("minimum", "fleet", "healthy", "successes"),
    [
        # The API reference's examples: nine instances.
        ({"type": "HOST_COUNT", "value": 6}, 9, 6, 6),
        ({"type": "FLEET_PERCENT", "value": 40}, 9, 4, 4),
        ({"type": "FLEET_PERCENT", "value": 50}, 9, 5, 5),
        # OneAtATime keeps all but one healthy; one instance must simply succeed.
        ({"type": "MOST_CONCURRENCY", "value": 1}, 4, 3, 3),
        ({"type": "MOST_CONCURRENCY", "value": 1}, 1, 0, 1),
        # AllAtOnce succeeds when one instance does.
        ({"type": "HOST_COUNT", "value": 0}, 50, 0, 1),
    ],
)
def test_health_plans_follow_the_api_reference(
    minimum: dict[str, object], fleet: int, healthy: int, successes: int
) -> None:
    plan = health_plan(minimum, fleet)
    assert plan is not None
    assert (plan.minimum_healthy, plan.required_successes) == (healthy, successes)
    # "deploy to up to three instances at a time" for HOST_COUNT 6 of 9, five for 40 %.
    concurrency = 0
    while plan.may_start_another(0, fleet - concurrency):
        concurrency += 1
    assert concurrency == max(fleet - healthy, 1 if fleet == 1 else 0)


def test_a_host_count_the_fleet_cannot_keep_is_refused() -> None:
    assert health_plan({"type": "HOST_COUNT", "value": 3}, 3) is None
    assert health_plan({"type": "HOST_COUNT", "value": 1}, 1) is None
