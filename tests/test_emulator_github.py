"""GitHub revisions in the emulator: it reaches no GitHub, so it behaves as the service does for
an application without a GitHub connection (webfactory/create-aws-codedeploy-deployment#1):
the deployment is created, DownloadBundle fails on the instance with the agent's 404 message,
and the deployment fails with MISSING_GITHUB_TOKEN."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ci_deploy import cli

COMMIT = "3b18e512dba79e4c8300dd08aeb37f8e728b8dad"
GITHUB = {
    "revisionType": "GitHub",
    "gitHubLocation": {"repository": "octo/web", "commitId": COMMIT},
}
AGENT_MESSAGE = (
    f"Could not download bundle at 'https://api.github.com/repos/octo/web/tarball/{COMMIT}' "
    "after 3 retries. Server returned codes: 404 'Not Found'; 404 'Not Found'; "
    "404 'Not Found'; 404 'Not Found'."
)


TWO_INSTANCES = [{"Key": "ci-deploy:instances", "Value": "2", "Type": "KEY_AND_VALUE"}]


def test_a_github_revision_fails_download_bundle_as_for_an_unconnected_application(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(unique_name, ec2TagFilters=TWO_INSTANCES)
    deployment_id = cd.create_deployment(
        applicationName=unique_name, deploymentGroupName="prod", revision=GITHUB
    )["deploymentId"]
    info = emulator_clients.wait_for(deployment_id, ("Succeeded", "Failed", "Stopped"))
    assert info["status"] == "Failed"
    assert info["revision"] == GITHUB
    error = info["errorInformation"]
    assert error["code"] == "MISSING_GITHUB_TOKEN"
    assert error["message"].startswith(
        f"The deployment failed because application {unique_name} is not connected to GitHub: "
        f"the instances could not download octo/web at commit {COMMIT} (GitHub answered 404)."
    )
    assert "deploy an S3 revision instead (ci-deploy push uploads one)" in error["message"]
    targets = emulator_clients.targets(deployment_id)
    # OneAtATime: the first instance fails, so the second is never started.
    assert sorted(t["status"] for t in targets.values()) == ["Failed", "Skipped"]
    (failed,) = [t for t in targets.values() if t["status"] == "Failed"]
    events = {e["lifecycleEventName"]: e for e in failed["lifecycleEvents"]}
    assert events["DownloadBundle"]["status"] == "Failed"
    assert events["DownloadBundle"]["diagnostics"]["errorCode"] == "UnknownError"
    assert events["DownloadBundle"]["diagnostics"]["message"] == AGENT_MESSAGE
    assert {name: e["status"] for name, e in events.items() if name != "DownloadBundle"} == {
        "ApplicationStop": "Skipped",
        "BeforeInstall": "Skipped",
        "Install": "Skipped",
        "AfterInstall": "Skipped",
        "ApplicationStart": "Skipped",
        "ValidateService": "Skipped",
    }
    assert cd.get_application(applicationName=unique_name)["application"]["linkedToGitHub"] is False


def test_github_revisions_register_and_are_checked_like_the_service(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(unique_name, ec2TagFilters=TWO_INSTANCES)
    cd.register_application_revision(
        applicationName=unique_name, revision=GITHUB, description="from CI"
    )
    got = cd.get_application_revision(applicationName=unique_name, revision=GITHUB)
    assert got["revision"] == GITHUB
    assert got["revisionInfo"]["description"] == "from CI"
    listed = cd.list_application_revisions(applicationName=unique_name)["revisions"]
    assert listed == [GITHUB]
    lambda_app = f"{unique_name}-fn"
    cd.create_application(applicationName=lambda_app, computePlatform="Lambda")
    with pytest.raises(ClientError) as raised:
        cd.register_application_revision(applicationName=lambda_app, revision=GITHUB)
    assert raised.value.response["Error"] == {
        "Code": "InvalidRevisionException",
        "Message": "GitHub revisions are for the Server (EC2/on-premises) compute platform only.",
    }
    no_commit = {"revisionType": "GitHub", "gitHubLocation": {"repository": "octo/web"}}
    with pytest.raises(ClientError) as raised:
        cd.create_deployment(
            applicationName=unique_name, deploymentGroupName="prod", revision=no_commit
        )
    assert raised.value.response["Error"]["Message"] == "A GitHub revision needs a commitId."


def test_deploy_with_a_github_revision_shows_why_it_failed(
    emulator: Any, emulator_clients: Any, unique_name: str, aws_env: dict[str, str], streams: Any
) -> None:
    """`ci-deploy deploy --github-repository` end to end: exit 1, and the CI log says what the
    console would (the cause and the instance's download error), not just "failed"."""
    emulator_clients.make_group(unique_name, ec2TagFilters=TWO_INSTANCES)
    argv = [
        "deploy",
        "--github-repository",
        "octo/web",
        "--commit-id",
        COMMIT,
        "--application",
        unique_name,
        "--deployment-group",
        "prod",
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        "us-east-1",
        "--timeout-seconds",
        "60",
    ]
    code = cli.run(argv, aws_env, streams)
    assert code == 1, streams.err
    result = json.loads(streams.out)
    did = result["deployment_id"]
    assert result["status"] == "Failed"
    assert result["revision"] == GITHUB
    assert result["error"]["code"] == "MISSING_GITHUB_TOKEN"
    err = streams.err
    cause = (
        f"deployment {did} (us-east-1) Failed: MISSING_GITHUB_TOKEN: The deployment failed "
        f"because application {unique_name} is not connected to GitHub"
    )
    assert cause in err
    assert "DownloadBundle failed" in err
    assert f"UnknownError: {AGENT_MESSAGE}" in err
    assert err.rstrip().endswith(f"ci-deploy: error: deployment {did} Failed")
