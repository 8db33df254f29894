"""Every operation of CodeDeploy's botocore model is served; on-premises instances are registered,
tagged, listed and selected by their groups' tag filters, named and ARN'd as the service does."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
import requests
from botocore.exceptions import ClientError

from ci_deploy.emulator import RunningEmulator, start
from conftest import boto_client

ROLE = "arn:aws:iam::123456789012:role/codedeploy"
USER = "arn:aws:iam::123456789012:user/rack-{n}"
APPSPEC = "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /srv/app\n"
REGION = "eu-north-1"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    running = start(port=0, instances=0, state_dir=tmp_path_factory.mktemp("operations"))
    try:
        yield running
    finally:
        running.stop()


def client(emulator: RunningEmulator, service: str = "codedeploy") -> Any:
    return boto_client(emulator, service, REGION)


def code_of(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Code"])


def test_every_operation_of_the_model_is_served(emulator: RunningEmulator) -> None:
    model = botocore.session.get_session().get_service_model("codedeploy")
    assert len(model.operation_names) >= 47
    for operation in model.operation_names:
        answer = requests.post(
            emulator.endpoint_url,
            data="{}",
            headers={
                "X-Amz-Target": f"CodeDeploy_20141006.{operation}",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=k/20240101/{REGION}/codedeploy/"
                "aws4_request, SignedHeaders=host, Signature=0",
            },
            timeout=10,
        )
        assert answer.status_code in (200, 400), (operation, answer.text)
        if answer.status_code == 400:
            kind = answer.json()["__type"]
            assert kind != "UnknownOperationException", operation
            assert kind in {s.name for s in model.error_shapes} | {"SerializationException"}, (
                operation,
                kind,
            )


def test_on_premises_instances_register_tag_list_get_and_deregister(
    emulator: RunningEmulator,
) -> None:
    cd = client(emulator)
    for n in (1, 2):
        cd.register_on_premises_instance(instanceName=f"rack-{n}", iamUserArn=USER.format(n=n))
    assert (
        code_of(
            cd.register_on_premises_instance, instanceName="rack-1", iamUserArn=USER.format(n=9)
        )
        == "InstanceNameAlreadyRegisteredException"
    )
    assert (
        code_of(
            cd.register_on_premises_instance, instanceName="rack-3", iamUserArn=USER.format(n=1)
        )
        == "IamUserArnAlreadyRegisteredException"
    )
    assert code_of(cd.register_on_premises_instance, instanceName="rack-3") == (
        "IamArnRequiredException"
    )
    assert (
        code_of(
            cd.register_on_premises_instance,
            instanceName="rack-3",
            iamUserArn=USER.format(n=3),
            iamSessionArn="arn:aws:sts::123456789012:assumed-role/r/s",
        )
        == "MultipleIamArnsProvidedException"
    )
    cd.add_tags_to_on_premises_instances(
        instanceNames=["rack-1"], tags=[{"Key": "Role", "Value": "web"}]
    )
    info = cd.get_on_premises_instance(instanceName="rack-1")["instanceInfo"]
    assert info["instanceArn"] == f"arn:aws:codedeploy:{REGION}:123456789012:instance/rack-1"
    assert info["tags"] == [{"Key": "Role", "Value": "web"}]
    assert info["iamUserArn"] == USER.format(n=1)
    tagged = cd.list_on_premises_instances(
        tagFilters=[{"Key": "Role", "Value": "web", "Type": "KEY_AND_VALUE"}]
    )
    assert tagged["instanceNames"] == ["rack-1"]
    cd.remove_tags_from_on_premises_instances(
        instanceNames=["rack-1"], tags=[{"Key": "Role", "Value": "web"}]
    )
    assert cd.get_on_premises_instance(instanceName="rack-1")["instanceInfo"]["tags"] == []
    cd.deregister_on_premises_instance(instanceName="rack-2")
    assert cd.list_on_premises_instances(registrationStatus="Deregistered")["instanceNames"] == [
        "rack-2"
    ]
    infos = cd.batch_get_on_premises_instances(instanceNames=["rack-1", "rack-2", "nope"])
    assert [i["instanceName"] for i in infos["instanceInfos"]] == ["rack-1", "rack-2"]
    assert "deregisterTime" in infos["instanceInfos"][1]
    assert (
        code_of(
            cd.add_tags_to_on_premises_instances,
            instanceNames=["rack-2"],
            tags=[{"Key": "a", "Value": "b"}],
        )
        == "InstanceNotRegisteredException"
    )


def test_a_group_deploys_to_the_on_premises_instances_its_tags_select(
    emulator: RunningEmulator,
) -> None:
    cd, s3 = client(emulator), client(emulator, "s3")
    for name in ("dc-a", "dc-b", "dc-c"):
        cd.register_on_premises_instance(
            instanceName=name, iamUserArn=f"arn:aws:iam::123456789012:user/{name}"
        )
    cd.add_tags_to_on_premises_instances(
        instanceNames=["dc-a", "dc-b"], tags=[{"Key": "Site", "Value": "lab"}]
    )
    cd.create_application(applicationName="onprem")
    cd.create_deployment_group(
        applicationName="onprem",
        deploymentGroupName="lab",
        serviceRoleArn=ROLE,
        onPremisesInstanceTagFilters=[{"Key": "Site", "Value": "lab", "Type": "KEY_AND_VALUE"}],
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("appspec.yml", APPSPEC)
        archive.writestr("index.html", "hi\n")
    s3.create_bucket(Bucket="onprem-b", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="onprem-b", Key="a.zip", Body=buffer.getvalue())
    deployment_id = cd.create_deployment(
        applicationName="onprem",
        deploymentGroupName="lab",
        revision={
            "revisionType": "S3",
            "s3Location": {"bucket": "onprem-b", "key": "a.zip", "bundleType": "zip"},
        },
    )["deploymentId"]
    for _ in range(600):  # bounded: ~60 s
        info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info["status"] in ("Succeeded", "Failed", "Stopped"):
            break
        time.sleep(0.1)
    assert info["status"] == "Succeeded"
    targets = cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    assert sorted(targets) == ["dc-a", "dc-b"]
    target = cd.get_deployment_target(deploymentId=deployment_id, targetId="dc-a")
    assert target["deploymentTarget"]["instanceTarget"]["targetArn"] == (
        f"arn:aws:codedeploy:{REGION}:123456789012:instance/dc-a"
    )


def test_tags_rename_and_the_remaining_operations(emulator: RunningEmulator) -> None:
    cd = client(emulator)
    cd.create_application(applicationName="tagged", tags=[{"Key": "tier", "Value": "1"}])
    cd.create_deployment_group(
        applicationName="tagged",
        deploymentGroupName="g",
        serviceRoleArn=ROLE,
        tags=[{"Key": "env", "Value": "prod"}],
    )
    group = f"arn:aws:codedeploy:{REGION}:123456789012:deploymentgroup:tagged/g"
    assert cd.list_tags_for_resource(ResourceArn=group)["Tags"] == [{"Key": "env", "Value": "prod"}]
    arn = f"arn:aws:codedeploy:{REGION}:123456789012:application:tagged"
    cd.untag_resource(ResourceArn=arn, TagKeys=["tier"])
    cd.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "web"}])
    assert cd.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "web"}]
    cd.update_application(applicationName="tagged", newApplicationName="renamed")
    assert "renamed" in cd.list_applications()["applications"]
    assert cd.list_deployment_groups(applicationName="renamed")["deploymentGroups"] == ["g"]
    new_arn = arn.replace(":tagged", ":renamed")
    assert cd.list_tags_for_resource(ResourceArn=new_arn)["Tags"] == [
        {"Key": "team", "Value": "web"}
    ]
    assert cd.list_tags_for_resource(ResourceArn=group.replace("tagged/", "renamed/"))["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    cd.untag_resource(ResourceArn=new_arn, TagKeys=["team"])
    assert cd.list_tags_for_resource(ResourceArn=new_arn)["Tags"] == []
    assert code_of(cd.list_tags_for_resource, ResourceArn=arn) == (
        "ApplicationDoesNotExistException"
    )
    assert code_of(cd.list_tags_for_resource, ResourceArn="arn:aws:s3:::bucket") == (
        "InvalidArnException"
    )
    assert cd.list_git_hub_account_token_names()["tokenNameList"] == []
    assert code_of(cd.delete_git_hub_account_token, tokenName="mine") == (
        "GitHubAccountTokenDoesNotExistException"
    )
    assert (
        code_of(cd.skip_wait_time_for_instance_termination, deploymentId="d-AAAAAAAAA")
        == "DeploymentDoesNotExistException"
    )
    cd.delete_resources_by_external_id(externalId="stack-1")
    # Triggers, alarms and tag filters are checked as the service checks them.
    for settings, error in (
        (
            {"triggerConfigurations": [{"triggerName": "t", "triggerTargetArn": "nope"}]},
            "InvalidTriggerConfigException",
        ),
        (
            {
                "alarmConfiguration": {
                    "enabled": True,
                    "alarms": [{"name": f"a{n}"} for n in range(11)],
                }
            },
            "AlarmsLimitExceededException",
        ),
        (
            {
                "ec2TagFilters": [{"Key": "a", "Value": "b", "Type": "KEY_AND_VALUE"}],
                "ec2TagSet": {
                    "ec2TagSetList": [[{"Key": "a", "Value": "b", "Type": "KEY_AND_VALUE"}]]
                },
            },
            "InvalidEC2TagCombinationException",
        ),
    ):
        assert (
            code_of(
                cd.create_deployment_group,
                applicationName="renamed",
                deploymentGroupName="bad",
                serviceRoleArn=ROLE,
                **settings,
            )
            == error
        )


BAD_VALUES: tuple[object, ...] = (12345, "x" * 3000, [{}], {"": None}, None, "", [], True)


def test_malformed_members_get_the_service_s_errors_never_a_failure(
    emulator: RunningEmulator,
) -> None:
    """Each member of each operation, given values of the wrong type, out of range, empty or
    null, is answered (a modelled error or SerializationException), never InternalFailure; the
    emulator serves on."""
    model = botocore.session.get_session().get_service_model("codedeploy")
    allowed = {s.name for s in model.error_shapes} | {"SerializationException"}
    for operation in model.operation_names:
        shape = model.operation_model(operation).input_shape
        members = list(shape.members) if shape is not None else []
        for member in members:
            for value in BAD_VALUES:
                answer = requests.post(
                    emulator.endpoint_url,
                    json={member: value},
                    headers={
                        "X-Amz-Target": f"CodeDeploy_20141006.{operation}",
                        "Content-Type": "application/x-amz-json-1.1",
                        "Authorization": f"AWS4-HMAC-SHA256 Credential=k/20240101/{REGION}/"
                        "codedeploy/aws4_request, SignedHeaders=host, Signature=0",
                    },
                    timeout=10,
                )
                assert answer.status_code in (200, 400), (operation, member, value, answer.text)
                if answer.status_code == 400:
                    assert answer.json()["__type"] in allowed, (operation, member, answer.text)
    assert client(emulator).list_applications()["applications"] is not None
