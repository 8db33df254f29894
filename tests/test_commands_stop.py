"""`ci-deploy stop` end to end against a scripted CodeDeploy endpoint over HTTP."""

from __future__ import annotations

import json

from ci_deploy import cli
from fake_codedeploy import Frame, instance_target


def running(fake) -> str:
    return fake.add(
        [Frame("InProgress", {"i-1": instance_target("i-1", [("Install", "InProgress")])})]
    )


def test_stop_with_rollback_reaches_the_api(fake_codedeploy, aws_env, streams) -> None:
    did = running(fake_codedeploy)
    code = cli.run(
        ["stop", did, "--rollback", "--endpoint-url", fake_codedeploy.endpoint_url],
        aws_env,
        streams,
    )
    assert code == 0
    assert fake_codedeploy.calls_of("StopDeployment") == [
        {"deploymentId": did, "autoRollbackEnabled": True}
    ]
    assert json.loads(streams.out)["stop_status"] == "Pending"
    assert f"StopDeployment {did} with rollback: Pending - Stopping" in streams.err
    assert f"see it end with 'ci-deploy wait {did}'" in streams.err


def test_stop_a_finished_deployment_is_an_aws_error(fake_codedeploy, aws_env, streams) -> None:
    did = fake_codedeploy.add([Frame("Succeeded")])
    fake_codedeploy.deployments[did].step()
    code = cli.run(["stop", did, "--endpoint-url", fake_codedeploy.endpoint_url], aws_env, streams)
    assert code == 3
    assert (
        f"StopDeployment deployment {did} (us-east-1): DeploymentAlreadyCompletedException"
        in streams.err
    )
    assert "hint: it has already ended; 'ci-deploy status DEPLOYMENT_ID' shows how" in streams.err
    assert fake_codedeploy.calls_of("StopDeployment") == [
        {"deploymentId": did, "autoRollbackEnabled": False}
    ]


def test_an_endpoint_that_is_not_a_url_is_bad_input(fake_codedeploy, aws_env, streams) -> None:
    for endpoint in ("not a url", "ftp://127.0.0.1/"):
        code = cli.run(["stop", "d-ABCDEF123", "--endpoint-url", endpoint], aws_env, streams)
        assert code == 2
        assert (
            f"ci-deploy: error: input endpoint_url: expected an http:// or https:// URL, "
            f"got {endpoint!r}" in streams.err
        )
    assert "Traceback" not in streams.err
    assert fake_codedeploy.calls == []


def test_a_malformed_region_is_bad_input(fake_codedeploy, aws_env, streams) -> None:
    code = cli.run(
        [
            "stop",
            "d-ABCDEF123",
            "--region",
            "eu west",
            "--endpoint-url",
            fake_codedeploy.endpoint_url,
        ],
        aws_env,
        streams,
    )
    assert code == 2
    assert (
        "ci-deploy: error: input regions: expected an AWS region name such as us-east-1, "
        "got 'eu west'" in streams.err
    )
    assert fake_codedeploy.calls == []


def test_a_malformed_deployment_id_says_what_one_looks_like(emulator, aws_env, streams) -> None:
    code = cli.run(["stop", "d-ü", "--endpoint-url", emulator.endpoint_url], aws_env, streams)
    assert code == 3
    assert (
        "ci-deploy: error: StopDeployment deployment d-ü (us-east-1): "
        "InvalidDeploymentIdException: Specified DeploymentId is not in the valid format: d-ü"
    ) in streams.err
    assert "hint: a deployment id is d- and 9 letters or digits (d-ABCDEF123)" in streams.err
