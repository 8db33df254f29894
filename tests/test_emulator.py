"""The emulator's CodeDeploy API over HTTP with boto3: every operation, its shapes (checked by
the emulator_clients fixture against botocore's model), its errors and state transitions."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any

import botocore.session
import pytest
import requests
from botocore.exceptions import ClientError

from ci_deploy.emulator import start
from ci_deploy.emulator.faults import ERROR_CODES

ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"
FLEET = [{"Key": "ci-deploy:instances", "Value": "3", "Type": "KEY_AND_VALUE"}]
OK_APPSPEC = "version: 0.0\nos: linux\nfiles:\n  - source: app.txt\n    destination: /srv/app\n"


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def s3_revision(location: dict[str, str]) -> dict[str, Any]:
    return {"revisionType": "S3", "s3Location": location}


def test_every_error_the_emulator_names_is_a_codedeploy_error() -> None:
    model = botocore.session.get_session().get_service_model("codedeploy")
    modelled = {shape.name for shape in model.error_shapes}
    # Protocol and common errors of every AWS JSON API, and the emulator's body-size refusal.
    protocol = {
        "SerializationException",
        "UnknownOperationException",
        "AccessDeniedException",
        "InvalidSignatureException",
        "RequestEntityTooLargeException",
    }
    assert ERROR_CODES - protocol <= modelled
    assert sorted(ERROR_CODES - protocol - modelled) == []


def test_applications_create_get_list_batch_and_their_errors(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    created = cd.create_application(applicationName=unique_name, computePlatform="Server")
    info = cd.get_application(applicationName=unique_name)["application"]
    assert info["applicationId"] == created["applicationId"]
    assert info["computePlatform"] == "Server"
    assert info["linkedToGitHub"] is False
    assert unique_name in cd.list_applications()["applications"]
    batch = cd.batch_get_applications(applicationNames=[unique_name])["applicationsInfo"]
    assert [a["applicationName"] for a in batch] == [unique_name]

    assert error_of(cd.create_application, applicationName=unique_name)[0] == (
        "ApplicationAlreadyExistsException"
    )
    assert error_of(cd.get_application, applicationName="no-such-app-x") == (
        "ApplicationDoesNotExistException",
        "No application found for name: no-such-app-x",
    )
    assert error_of(cd.create_application, applicationName="bad name!")[0] == (
        "InvalidApplicationNameException"
    )
    cd.delete_application(applicationName=unique_name)
    assert unique_name not in cd.list_applications()["applications"]


def test_deployment_configs_built_in_and_custom(emulator_clients: Any, unique_name: str) -> None:
    cd = emulator_clients.codedeploy
    names = cd.list_deployment_configs()["deploymentConfigsList"]
    for built_in in (
        "CodeDeployDefault.OneAtATime",
        "CodeDeployDefault.HalfAtATime",
        "CodeDeployDefault.AllAtOnce",
        "CodeDeployDefault.ECSAllAtOnce",
        "CodeDeployDefault.LambdaAllAtOnce",
        "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    ):
        assert built_in in names
    half = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.HalfAtATime")
    assert half["deploymentConfigInfo"]["minimumHealthyHosts"] == {
        "type": "FLEET_PERCENT",
        "value": 50,
    }
    one = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.OneAtATime")
    assert one["deploymentConfigInfo"]["minimumHealthyHosts"]["type"] == "MOST_CONCURRENCY"
    canary = cd.get_deployment_config(
        deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent5Minutes"
    )["deploymentConfigInfo"]
    assert canary["computePlatform"] == "Lambda"
    assert canary["trafficRoutingConfig"]["timeBasedCanary"] == {
        "canaryPercentage": 10,
        "canaryInterval": 5,
    }

    created = cd.create_deployment_config(
        deploymentConfigName=unique_name, minimumHealthyHosts={"type": "HOST_COUNT", "value": 2}
    )
    info = cd.get_deployment_config(deploymentConfigName=unique_name)["deploymentConfigInfo"]
    assert info["deploymentConfigId"] == created["deploymentConfigId"]
    assert info["minimumHealthyHosts"] == {"type": "HOST_COUNT", "value": 2}
    assert unique_name in cd.list_deployment_configs()["deploymentConfigsList"]
    assert error_of(
        cd.create_deployment_config,
        deploymentConfigName=unique_name,
        minimumHealthyHosts={"type": "HOST_COUNT", "value": 1},
    )[0] == ("DeploymentConfigAlreadyExistsException")
    assert error_of(
        cd.create_deployment_config,
        deploymentConfigName=unique_name + "-pct",
        minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 100},
    )[0] == ("InvalidMinimumHealthyHostValueException")
    assert error_of(cd.get_deployment_config, deploymentConfigName="nope-config")[0] == (
        "DeploymentConfigDoesNotExistException"
    )
    cd.delete_deployment_config(deploymentConfigName=unique_name)
    assert unique_name not in cd.list_deployment_configs()["deploymentConfigsList"]


def test_deployment_groups_create_get_update_list_batch(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(
        unique_name,
        "staging",
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "2", "Type": "KEY_AND_VALUE"}],
    )
    info = cd.get_deployment_group(applicationName=unique_name, deploymentGroupName="staging")[
        "deploymentGroupInfo"
    ]
    assert info["deploymentConfigName"] == "CodeDeployDefault.OneAtATime"
    assert info["deploymentStyle"] == {
        "deploymentType": "IN_PLACE",
        "deploymentOption": "WITHOUT_TRAFFIC_CONTROL",
    }
    assert info["serviceRoleArn"] == ROLE
    cd.update_deployment_group(
        applicationName=unique_name,
        currentDeploymentGroupName="staging",
        newDeploymentGroupName="prod",
        deploymentConfigName="CodeDeployDefault.AllAtOnce",
    )
    assert cd.list_deployment_groups(applicationName=unique_name)["deploymentGroups"] == ["prod"]
    batch = cd.batch_get_deployment_groups(
        applicationName=unique_name, deploymentGroupNames=["prod", "gone"]
    )
    assert [g["deploymentGroupName"] for g in batch["deploymentGroupsInfo"]] == ["prod"]
    assert batch["deploymentGroupsInfo"][0]["deploymentGroupId"] == info["deploymentGroupId"]
    assert batch["deploymentGroupsInfo"][0]["deploymentConfigName"] == (
        "CodeDeployDefault.AllAtOnce"
    )
    assert "gone" in batch["errorMessage"]

    assert error_of(
        cd.create_deployment_group,
        applicationName=unique_name,
        deploymentGroupName="prod",
        serviceRoleArn=ROLE,
    )[0] == ("DeploymentGroupAlreadyExistsException")
    assert error_of(
        cd.create_deployment_group,
        applicationName=unique_name,
        deploymentGroupName="badrole",
        serviceRoleArn="CodeDeployServiceRole",
    )[0] == ("InvalidRoleException")
    assert error_of(
        cd.get_deployment_group, applicationName=unique_name, deploymentGroupName="missing"
    ) == ("DeploymentGroupDoesNotExistException", "No Deployment Group found for name: missing")
    assert error_of(
        cd.create_deployment_group,
        applicationName=unique_name,
        deploymentGroupName="tags",
        serviceRoleArn=ROLE,
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "many", "Type": "KEY_AND_VALUE"}],
    )[0] == ("InvalidEC2TagException")
    assert error_of(
        cd.create_deployment_group,
        applicationName=unique_name,
        deploymentGroupName="lambda-config",
        serviceRoleArn=ROLE,
        deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce",
    )[0] == ("InvalidDeploymentConfigNameException")


def test_revisions_register_get_list_batch(emulator_clients: Any, unique_name: str) -> None:
    cd = emulator_clients.codedeploy
    cd.create_application(applicationName=unique_name)
    first = emulator_clients.upload(unique_name, "v1.zip", {"appspec.yml": OK_APPSPEC})
    second = emulator_clients.upload(unique_name, "v2.zip", {"appspec.yml": OK_APPSPEC + "\n"})
    cd.register_application_revision(
        applicationName=unique_name, revision=s3_revision(first), description="first"
    )
    cd.register_application_revision(applicationName=unique_name, revision=s3_revision(second))
    got = cd.get_application_revision(applicationName=unique_name, revision=s3_revision(first))
    assert got["revision"]["s3Location"] == first
    assert got["revisionInfo"]["description"] == "first"
    assert "registerTime" in got["revisionInfo"]
    listed = cd.list_application_revisions(
        applicationName=unique_name, sortBy="registerTime", sortOrder="descending"
    )["revisions"]
    assert [r["s3Location"]["key"] for r in listed] == ["v2.zip", "v1.zip"]
    prefixed = cd.list_application_revisions(
        applicationName=unique_name, s3Bucket=unique_name, s3KeyPrefix="v1"
    )["revisions"]
    assert [r["s3Location"]["key"] for r in prefixed] == ["v1.zip"]
    batch = cd.batch_get_application_revisions(
        applicationName=unique_name, revisions=[s3_revision(first), s3_revision(second)]
    )
    assert [r["revisionLocation"]["s3Location"]["key"] for r in batch["revisions"]] == [
        "v1.zip",
        "v2.zip",
    ]
    unknown = s3_revision({**first, "key": "v9.zip"})
    assert error_of(cd.get_application_revision, applicationName=unique_name, revision=unknown)[
        0
    ] == ("RevisionDoesNotExistException")
    assert error_of(cd.list_application_revisions, applicationName=unique_name, s3KeyPrefix="v")[
        0
    ] == ("BucketNameFilterRequiredException")


def test_deployment_reads_back_through_every_read_operation(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(unique_name)
    location = emulator_clients.upload(
        unique_name, "app.zip", {"appspec.yml": OK_APPSPEC, "app.txt": "v1"}
    )
    deployment_id = cd.create_deployment(
        applicationName=unique_name,
        deploymentGroupName="prod",
        revision=s3_revision(location),
        description="first release",
    )["deploymentId"]
    info = emulator_clients.wait_for(deployment_id, ("Succeeded", "Failed", "Stopped"))
    assert info["status"] == "Succeeded"
    assert info["creator"] == "user"
    assert info["description"] == "first release"
    assert info["fileExistsBehavior"] == "DISALLOW"
    assert info["deploymentOverview"] == {
        "Pending": 0,
        "InProgress": 0,
        "Succeeded": 3,
        "Failed": 0,
        "Skipped": 0,
        "Ready": 0,
    }
    assert info["createTime"] <= info["startTime"] <= info["completeTime"]
    assert info["revision"]["s3Location"] == location

    batch = cd.batch_get_deployments(deploymentIds=[deployment_id])["deploymentsInfo"]
    assert [d["deploymentId"] for d in batch] == [deployment_id]
    listed = cd.list_deployments(
        applicationName=unique_name, deploymentGroupName="prod", includeOnlyStatuses=["Succeeded"]
    )["deployments"]
    assert listed == [deployment_id]
    assert (
        cd.list_deployments(
            applicationName=unique_name, deploymentGroupName="prod", includeOnlyStatuses=["Failed"]
        )["deployments"]
        == []
    )

    targets = emulator_clients.targets(deployment_id)
    assert len(targets) == 3
    one_id, one = sorted(targets.items())[0]
    assert one["status"] == "Succeeded"
    assert [e["lifecycleEventName"] for e in one["lifecycleEvents"]] == [
        "ApplicationStop",
        "DownloadBundle",
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    ]
    assert all(e["status"] == "Succeeded" for e in one["lifecycleEvents"])
    single = cd.get_deployment_target(deploymentId=deployment_id, targetId=one_id)
    assert single["deploymentTarget"]["deploymentTargetType"] == "InstanceTarget"
    assert single["deploymentTarget"]["instanceTarget"]["targetArn"].endswith(one_id)
    succeeded = cd.list_deployment_targets(
        deploymentId=deployment_id, targetFilters={"TargetStatus": ["Succeeded"]}
    )["targetIds"]
    assert sorted(succeeded) == sorted(targets)

    instances = cd.list_deployment_instances(deploymentId=deployment_id)["instancesList"]
    assert sorted(instances) == sorted(targets)
    summaries = cd.batch_get_deployment_instances(
        deploymentId=deployment_id, instanceIds=instances
    )["instancesSummary"]
    assert {s["status"] for s in summaries} == {"Succeeded"}
    summary = cd.get_deployment_instance(deploymentId=deployment_id, instanceId=one_id)
    assert summary["instanceSummary"]["status"] == "Succeeded"

    group = cd.get_deployment_group(applicationName=unique_name, deploymentGroupName="prod")
    assert group["deploymentGroupInfo"]["lastSuccessfulDeployment"]["deploymentId"] == (
        deployment_id
    )
    revision = cd.get_application_revision(
        applicationName=unique_name, revision=s3_revision(location)
    )
    assert revision["revisionInfo"]["deploymentGroups"] == ["prod"]

    assert error_of(cd.stop_deployment, deploymentId=deployment_id)[0] == (
        "DeploymentAlreadyCompletedException"
    )
    assert error_of(cd.continue_deployment, deploymentId=deployment_id)[0] == (
        "DeploymentAlreadyCompletedException"
    )
    assert error_of(
        cd.put_lifecycle_event_hook_execution_status,
        deploymentId=deployment_id,
        lifecycleEventHookExecutionId="nope",
        status="Succeeded",
    )[0] == ("InvalidLifecycleEventHookExecutionIdException")
    assert error_of(cd.get_deployment, deploymentId="d-NOTAREAL1")[0] == (
        "DeploymentDoesNotExistException"
    )
    assert error_of(cd.get_deployment, deploymentId="12345")[0] == "InvalidDeploymentIdException"
    assert error_of(cd.get_deployment_target, deploymentId=deployment_id, targetId="i-nothere")[
        0
    ] == ("DeploymentTargetDoesNotExistException")
    assert error_of(
        cd.batch_get_deployment_targets,
        deploymentId=deployment_id,
        targetIds=[f"i-{n}" for n in range(26)],
    )[0] == ("DeploymentTargetListSizeExceededException")


def test_create_deployment_rejects_what_the_service_rejects(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(unique_name)
    location = emulator_clients.upload(unique_name, "app.zip", {"appspec.yml": OK_APPSPEC})
    base = {"applicationName": unique_name, "deploymentGroupName": "prod"}
    missing = s3_revision({**location, "key": "nothing-here.zip"})
    code, message = error_of(cd.create_deployment, **base, revision=missing)
    assert code == "RevisionDoesNotExistException"
    assert f"s3://{unique_name}/nothing-here.zip" in message
    assert error_of(
        cd.create_deployment, **base, revision=s3_revision({**location, "bundleType": "YAML"})
    )[0] == ("InvalidRevisionException")
    github = {"revisionType": "GitHub", "gitHubLocation": {"repository": "o r", "commitId": "a"}}
    assert error_of(cd.create_deployment, **base, revision=github) == (
        "InvalidRevisionException",
        "The GitHub repository must be given as owner/name (got 'o r').",
    )
    assert error_of(cd.create_deployment, **base)[0] == "RevisionRequiredException"
    assert error_of(
        cd.create_deployment, **base, revision=s3_revision(location), description="x" * 257
    )[0] == ("DescriptionTooLongException")
    assert error_of(
        cd.create_deployment,
        **base,
        revision=s3_revision(location),
        fileExistsBehavior="SOMETIMES",
    )[0] == ("InvalidFileExistsBehaviorException")
    assert error_of(
        cd.create_deployment,
        applicationName=unique_name,
        deploymentGroupName="nope",
        revision=s3_revision(location),
    )[0] == ("DeploymentGroupDoesNotExistException")
    assert error_of(
        cd.create_deployment,
        applicationName="no-app-here",
        deploymentGroupName="prod",
        revision=s3_revision(location),
    )[0] == ("ApplicationDoesNotExistException")
    assert error_of(
        cd.create_deployment,
        **base,
        revision=s3_revision(location),
        autoRollbackConfiguration={"enabled": True, "events": []},
    )[0] == ("InvalidAutoRollbackConfigException")


def test_second_active_deployment_in_a_group_is_refused(
    emulator_clients: Any, unique_name: str, tmp_path: Any
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(
        unique_name,
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "1", "Type": "KEY_AND_VALUE"}],
    )
    gate = tmp_path / "release"
    hold = f'#!/bin/sh\nwhile [ ! -e "{gate}" ]; do sleep 0.05; done\n'
    location = emulator_clients.upload(
        unique_name,
        "hold.zip",
        {
            "appspec.yml": OK_APPSPEC + "hooks:\n  BeforeInstall:\n    - location: hold.sh\n",
            "app.txt": "x",
            "hold.sh": hold,
        },
        executable=("hold.sh",),
    )
    base = {"applicationName": unique_name, "deploymentGroupName": "prod"}
    first = cd.create_deployment(**base, revision=s3_revision(location))["deploymentId"]
    try:
        code, message = error_of(cd.create_deployment, **base, revision=s3_revision(location))
        assert code == "DeploymentLimitExceededException"
        assert message == f"The Deployment Group 'prod' already has an active Deployment '{first}'"
    finally:
        gate.write_text("go")
    assert emulator_clients.wait_for(first, ("Succeeded", "Failed"))["status"] == "Succeeded"
    second = cd.create_deployment(**base, revision=s3_revision(location))["deploymentId"]
    assert emulator_clients.wait_for(second, ("Succeeded", "Failed"))["status"] == "Succeeded"
    info = cd.get_deployment(deploymentId=second)["deploymentInfo"]
    assert info["previousRevision"]["s3Location"] == location


def test_an_instance_fails_install_when_two_permissions_entries_reach_one_path(
    emulator_clients: Any, unique_name: str
) -> None:
    """The simulated instance fails as agent 1.8.1 does: at Install, in its words, before
    copying anything; BeforeInstall has run."""
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(
        unique_name,
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "1", "Type": "KEY_AND_VALUE"}],
    )
    appspec = (
        "version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: /srv/web\n"
        "permissions:\n"
        "  - object: /srv/web\n    type: [file]\n    mode: '644'\n"
        "  - object: /srv/web/sub\n    type: [file]\n    mode: '600'\n"
    )
    location = emulator_clients.upload(
        unique_name, "nested.zip", {"appspec.yml": appspec, "web/sub/a.txt": "a"}
    )
    deployment_id = cd.create_deployment(
        applicationName=unique_name, deploymentGroupName="prod", revision=s3_revision(location)
    )["deploymentId"]
    info = emulator_clients.wait_for(deployment_id, ("Succeeded", "Failed", "Stopped"))
    assert info["status"] == "Failed"
    ((_, target),) = emulator_clients.targets(deployment_id).items()
    events = {e["lifecycleEventName"]: e for e in target["lifecycleEvents"]}
    assert events["BeforeInstall"]["status"] == "Succeeded"
    assert events["Install"]["status"] == "Failed"
    diagnostics = events["Install"]["diagnostics"]
    assert diagnostics["errorCode"] == "UnknownError"
    assert re.match(
        r"The deployment failed because the permissions setting for \(/\S+/srv/web/sub/a\.txt\) "
        r"is specified more than once in the application specification file\. Update the files "
        r"section of the AppSpec file, and then try again\.",
        diagnostics["message"],
    ), diagnostics["message"]
    assert events["AfterInstall"]["status"] == "Skipped"


def test_targets_are_not_listed_before_the_deployment_starts(
    tmp_path: Any, emulator_clients_at: Any
) -> None:
    # Pacing holds a deployment in Created long enough to see the service's answer.
    with start(state_dir=tmp_path, event_delay_ms=60_000, hook_env=dict(os.environ)) as paced:
        clients = emulator_clients_at(paced.endpoint_url)
        s3, cd = clients.s3, clients.codedeploy
        s3.create_bucket(Bucket="paced")
        s3.put_object(Bucket="paced", Key="a.zip", Body=b"PK\x05\x06" + b"\0" * 18)
        clients.make_group("paced", "g")
        deployment_id = cd.create_deployment(
            applicationName="paced",
            deploymentGroupName="g",
            revision=s3_revision({"bucket": "paced", "key": "a.zip", "bundleType": "zip"}),
        )["deploymentId"]
        assert cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"] == (
            "Created"
        )
        assert error_of(cd.list_deployment_targets, deploymentId=deployment_id) == (
            "DeploymentNotStartedException",
            "The specified deployment has not started.",
        )
        assert error_of(cd.list_deployment_instances, deploymentId=deployment_id)[0] == (
            "DeploymentNotStartedException"
        )
        stopped = cd.stop_deployment(deploymentId=deployment_id)
        assert stopped["status"] == "Pending"
        deadline = time.monotonic() + 30
        info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        while info["status"] != "Stopped" and time.monotonic() < deadline:
            time.sleep(0.02)
            info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        assert info["status"] == "Stopped"
        assert info["errorInformation"]["code"] == "MANUAL_STOP"


def test_unknown_operation_and_malformed_body_get_protocol_errors(emulator: Any) -> None:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "CodeDeploy_20141006.ListApplications",
    }
    bad = requests.post(emulator.endpoint_url, data=b"{not json", headers=headers, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["__type"] == "SerializationException"
    headers["X-Amz-Target"] = "CodeDeploy_20141006.FlyToTheMoon"
    unknown = requests.post(emulator.endpoint_url, data=b"{}", headers=headers, timeout=10)
    assert unknown.status_code == 400
    assert unknown.json()["__type"] == "UnknownOperationException"


def test_lambda_and_ecs_revisions_are_validated_at_create(
    emulator_clients: Any, unique_name: str
) -> None:
    cd = emulator_clients.codedeploy
    emulator_clients.make_group(unique_name, "live", "Lambda")
    content = json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "fn": {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {"Name": "api", "Alias": "live", "CurrentVersion": "1"},
                    }
                }
            ],
        }
    )
    revision = {
        "revisionType": "AppSpecContent",
        "appSpecContent": {
            "content": content,
            "sha256": hashlib.sha256(content.encode()).hexdigest(),
        },
    }
    code, message = error_of(
        cd.create_deployment,
        applicationName=unique_name,
        deploymentGroupName="live",
        revision=revision,
    )
    assert code == "InvalidRevisionException"
    assert "targetversion" in message
    code, message = error_of(
        cd.create_deployment,
        applicationName=unique_name,
        deploymentGroupName="live",
        revision=revision,
        fileExistsBehavior="OVERWRITE",
    )
    assert (code, message) == (
        "InvalidFileExistsBehaviorException",
        "For Lambda, ECS and Kubernetes deployment, fileExistsBehavior can not be specified",
    )


def raw_call(emulator: Any, operation: str, body: dict[str, Any]) -> requests.Response:
    """A request botocore would refuse to send (it validates lengths client-side)."""
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"CodeDeploy_20141006.{operation}",
    }
    return requests.post(emulator.endpoint_url, json=body, headers=headers, timeout=10)


def test_names_are_checked_on_the_server_too(emulator: Any) -> None:
    too_long = raw_call(emulator, "CreateApplication", {"applicationName": "x" * 101})
    assert too_long.status_code == 400
    assert too_long.json() == {
        "__type": "InvalidApplicationNameException",
        "message": "The application name was specified in an invalid format.",
    }
    missing = raw_call(emulator, "CreateApplication", {})
    assert missing.json()["__type"] == "ApplicationNameRequiredException"
    group = raw_call(
        emulator, "GetDeploymentGroup", {"applicationName": "a", "deploymentGroupName": "b c"}
    )
    assert group.json()["__type"] == "InvalidDeploymentGroupNameException"
    assert raw_call(emulator, "GetDeployment", {}).json()["__type"] == (
        "DeploymentIdRequiredException"
    )
