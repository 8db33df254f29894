"""The CodeDeploy wrappers, checked against botocore's service model with Stubber."""

from __future__ import annotations

from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

from ci_deploy.aws.codedeploy import CodeDeployApi, NewDeployment, parse_deployment
from ci_deploy.errors import AwsError, DeploymentLimitExceeded, TransientAwsError
from fake_codedeploy import Frame, blue_green_group


@pytest.fixture
def stubbed():
    client = boto3.client(
        "codedeploy", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stubber:
        yield CodeDeployApi(client, "eu-west-1"), stubber
        stubber.assert_no_pending_responses()


def test_batch_get_targets_sends_at_most_25_ids_per_call(stubbed) -> None:
    api, stubber = stubbed
    ids = [f"i-{n:03d}" for n in range(30)]
    for chunk in (ids[:25], ids[25:]):
        stubber.add_response(
            "batch_get_deployment_targets",
            {
                "deploymentTargets": [
                    {
                        "deploymentTargetType": "InstanceTarget",
                        "instanceTarget": {
                            "targetId": tid,
                            "status": "Succeeded",
                            "lifecycleEvents": [],
                        },
                    }
                    for tid in chunk
                ]
            },
            {"deploymentId": "d-1", "targetIds": chunk},
        )
    targets = api.batch_get_deployment_targets("d-1", ids)
    assert [t.target_id for t in targets] == ids
    assert api.stats.calls == {"BatchGetDeploymentTargets": 2}


def test_list_targets_follows_pages_and_is_empty_before_start(stubbed) -> None:
    api, stubber = stubbed
    stubber.add_response(
        "list_deployment_targets", {"targetIds": ["a"], "nextToken": "t"}, {"deploymentId": "d-1"}
    )
    stubber.add_response(
        "list_deployment_targets", {"targetIds": ["b"]}, {"deploymentId": "d-1", "nextToken": "t"}
    )
    stubber.add_client_error(
        "list_deployment_targets", "DeploymentNotStartedException", "not started"
    )
    assert api.list_deployment_targets("d-1") == ["a", "b"]
    assert api.list_deployment_targets("d-2") == []


def test_list_targets_filters_by_status_and_can_stop_after_a_page(stubbed) -> None:
    # The Stubber checks the parameters against botocore's model: targetFilters is a map of
    # TargetStatus to a list of statuses.
    api, stubber = stubbed
    wanted = {"TargetStatus": ["InProgress"]}
    stubber.add_response(
        "list_deployment_targets",
        {"targetIds": ["a"], "nextToken": "t"},
        {"deploymentId": "d-1", "targetFilters": wanted},
    )
    stubber.add_response(
        "list_deployment_targets",
        {"targetIds": ["f"]},
        {"deploymentId": "d-1", "targetFilters": {"TargetStatus": ["Failed"]}},
    )
    assert api.list_deployment_targets("d-1", ("InProgress",), max_pages=1) == ["a"]
    assert api.list_deployment_targets("d-1", ("Failed",)) == ["f"]
    stubber.assert_no_pending_responses()


def test_lambda_and_ecs_targets_parse_like_instances(stubbed) -> None:
    api, stubber = stubbed
    event = {
        "lifecycleEventName": "BeforeAllowTraffic",
        "status": "Failed",
        "startTime": datetime(2026, 1, 1, 0, 0, 0, tzinfo=timezone.utc),
        "endTime": datetime(2026, 1, 1, 0, 0, 4, tzinfo=timezone.utc),
        "diagnostics": {
            "errorCode": "ScriptFailed",
            "message": "hook returned Failed",
            "logTail": "",
        },
    }
    stubber.add_response(
        "batch_get_deployment_targets",
        {
            "deploymentTargets": [
                {
                    "deploymentTargetType": "LambdaTarget",
                    "lambdaTarget": {
                        "targetId": "fn",
                        "status": "Failed",
                        "lifecycleEvents": [event],
                    },
                },
                {
                    "deploymentTargetType": "ECSTarget",
                    "ecsTarget": {"targetId": "c:svc", "status": "InProgress"},
                },
            ]
        },
    )
    fn, ecs = api.batch_get_deployment_targets("d-1", ["fn", "c:svc"])
    assert fn.status == "Failed"
    assert fn.lifecycle_events[0].duration_seconds == 4.0
    assert fn.lifecycle_events[0].diagnostics is not None
    assert fn.lifecycle_events[0].diagnostics.message == "hook returned Failed"
    assert (ecs.target_id, ecs.status) == ("c:svc", "InProgress")


def test_deployment_limit_and_throttling_get_their_own_error_kinds(stubbed) -> None:
    api, stubber = stubbed
    stubber.add_client_error("create_deployment", "DeploymentLimitExceededException", "busy")
    stubber.add_client_error(
        "get_deployment", "ThrottlingException", "Rate exceeded", http_status_code=400
    )
    stubber.add_client_error("get_deployment", "InternalFailure", "oops", http_status_code=500)
    stubber.add_client_error("get_deployment", "DeploymentDoesNotExistException", "no such")
    with pytest.raises(DeploymentLimitExceeded):
        github = {"repository": "octo/web", "commitId": "a" * 40}
        api.create_deployment(
            NewDeployment("web", "prod", {"revisionType": "GitHub", "gitHubLocation": github})
        )
    with pytest.raises(TransientAwsError, match="ThrottlingException"):
        api.get_deployment("d-1")
    with pytest.raises(TransientAwsError, match="InternalFailure"):
        api.get_deployment("d-1")
    with pytest.raises(AwsError) as missing:
        api.get_deployment("d-1")
    assert not isinstance(missing.value, TransientAwsError)
    assert missing.value.message == (
        "GetDeployment deployment d-1 (eu-west-1): DeploymentDoesNotExistException: no such"
    )
    assert missing.value.hint == "check the deployment id and the region"


def test_deployment_overview_absent_early_in_blue_green_reads_as_zeros() -> None:
    deployment = parse_deployment({"deploymentId": "d-1", "status": "InProgress"})
    assert deployment.overview == {
        "Pending": 0,
        "InProgress": 0,
        "Succeeded": 0,
        "Failed": 0,
        "Skipped": 0,
        "Ready": 0,
    }


def test_deployment_group_wait_times(stubbed) -> None:
    api, stubber = stubbed
    stubber.add_response(
        "get_deployment_group",
        {
            "deploymentGroupInfo": {
                "applicationName": "web",
                "deploymentGroupName": "prod",
                **blue_green_group("ECS", ready_wait_minutes=45, termination_wait_minutes=15),
            }
        },
        {"applicationName": "web", "deploymentGroupName": "prod"},
    )
    group = api.get_deployment_group("web", "prod")
    assert (
        group.blue_green,
        group.ready_action,
        group.ready_wait_minutes,
        group.termination_wait_minutes,
    ) == (
        True,
        "STOP_DEPLOYMENT",
        45,
        15,
    )


def test_stop_and_continue_send_what_the_user_asked(stubbed) -> None:
    api, stubber = stubbed
    stubber.add_response(
        "stop_deployment",
        {"status": "Pending", "statusMessage": "Stopping"},
        {"deploymentId": "d-1", "autoRollbackEnabled": True},
    )
    stubber.add_response(
        "continue_deployment", {}, {"deploymentId": "d-1", "deploymentWaitType": "READY_WAIT"}
    )
    assert api.stop_deployment("d-1", rollback=True) == ("Pending", "Stopping")
    api.continue_deployment("d-1")


def test_batch_get_deployments_25_at_a_time(stubbed) -> None:
    api, stubber = stubbed
    ids = [f"d-{n:09d}" for n in range(27)]
    for chunk in (ids[:25], ids[25:]):
        stubber.add_response(
            "batch_get_deployments",
            {"deploymentsInfo": [{"deploymentId": did, "status": "Succeeded"} for did in chunk]},
            {"deploymentIds": chunk},
        )
    found = api.batch_get_deployments(ids)
    assert [d.deployment_id for d in found] == ids
    assert api.stats.calls == {"BatchGetDeployments": 2}


def test_a_dropped_connection_is_transient(fake_codedeploy) -> None:
    """A connection closed without an answer (what a reset or a proxy cut looks like) is a
    network error the watcher retries, not a failure of the deployment's watch."""
    api = CodeDeployApi(fake_codedeploy.client(attempts=1), "us-east-1")
    did = fake_codedeploy.add([Frame("InProgress")])
    fake_codedeploy.faults = {"GetDeployment": ["drop"]}
    with pytest.raises(TransientAwsError, match=f"GetDeployment deployment {did} \\(us-east-1\\)"):
        api.get_deployment(did)
    assert api.stats.failures == 1
    # The next call is answered: nothing about the deployment was wrong.
    assert api.get_deployment(did).status == "InProgress"
