"""push: bundle, upload to moto's S3 server over HTTP, register (CodeDeploy stubbed)."""

from __future__ import annotations

import hashlib
import json
import tarfile
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ci_deploy.aws.session import Clients
from ci_deploy.ci_env import ci_environment
from ci_deploy.cli import run
from ci_deploy.commands.push import next_command
from ci_deploy.errors import AppSpecError, AwsError, InputError
from ci_deploy.events import Event, Notice
from ci_deploy.push import PushRequest, ci_metadata, prepare_bundle, push_revision
from ci_deploy.result import PushResult

APPSPEC = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /srv/app\n"
ECS_APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "<TASK_DEFINITION>"
        LoadBalancerInfo:
          ContainerName: "web"
          ContainerPort: 80
"""
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:42"


@pytest.fixture
def s3_client(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def codedeploy(moto_endpoint: str) -> Any:
    """A real CodeDeploy client whose calls a Stubber answers (checked against the model)."""
    return boto3.client("codedeploy", endpoint_url=moto_endpoint, region_name="us-east-1")


def bucket(s3_client: Any, *, versioned: bool = False) -> str:
    name = f"revisions-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    if versioned:
        s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def revision_dir(root: Path, text: str = "hello") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "appspec.yml").write_text(APPSPEC)
    (root / "index.html").write_text(text)
    return root


def push(request: PushRequest, s3_client: Any, codedeploy: Any) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    clients = Clients(region="us-east-1", s3=s3_client, codedeploy=codedeploy)
    return push_revision(request, clients, events.append), events


def test_push_uploads_content_addressed_and_skips_the_same_bytes(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    name = bucket(s3_client)
    request = PushRequest(
        source=revision_dir(tmp_path / "rev"),
        application="web",
        s3_location=f"s3://{name}/builds/",
        register=False,
    )
    first, events = push(request, s3_client, codedeploy)
    key = f"builds/web/{first.bundle_sha256}.zip"
    head = s3_client.head_object(Bucket=name, Key=key)
    assert first.uploaded is True
    assert first.revision == {
        "revisionType": "S3",
        "s3Location": {
            "bucket": name,
            "key": key,
            "bundleType": "zip",
            "eTag": head["ETag"].strip('"'),
        },
    }
    assert first.size == head["ContentLength"]
    assert Notice(f"uploaded s3://{name}/{key} ({first.size} bytes)") in events
    again, events = push(request, s3_client, codedeploy)
    assert again.uploaded is False
    assert again.revision == first.revision
    assert any("upload skipped" in e.message for e in events if isinstance(e, Notice))


def test_versioned_bucket_pins_the_version_and_registration_sends_it(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    name = bucket(s3_client, versioned=True)
    request = PushRequest(
        source=revision_dir(tmp_path / "rev"),
        application="web",
        s3_location=f"s3://{name}",
        description="release 7",
        register=False,
    )
    unregistered, _ = push(request, s3_client, codedeploy)
    location = unregistered.revision["s3Location"]
    head = s3_client.head_object(Bucket=name, Key=location["key"])
    assert location["version"] == head["VersionId"]
    assert location["eTag"] == head["ETag"].strip('"')
    assert unregistered.registered is False
    with Stubber(codedeploy) as stub:
        stub.add_response(
            "register_application_revision",
            {},
            {
                "applicationName": "web",
                "revision": unregistered.revision,
                "description": "release 7",
            },
        )
        registered, _ = push(replace(request, register=True), s3_client, codedeploy)
        stub.assert_no_pending_responses()
    assert registered.revision == unregistered.revision
    assert registered.registered is True


def test_registration_errors_name_the_application(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    request = PushRequest(
        source=Path("."),
        application="ghost",
        github_repository="octo/web",
        commit_id="0123456789abcdef0123456789abcdef01234567",
    )
    with Stubber(codedeploy) as stub:
        stub.add_client_error(
            "register_application_revision",
            "ApplicationDoesNotExistException",
            "No application found for name: ghost",
        )
        with pytest.raises(AwsError) as caught:
            push(request, s3_client, codedeploy)
    assert caught.value.exit_code == 3
    assert caught.value.message == (
        "RegisterApplicationRevision application 'ghost' (us-east-1): "
        "ApplicationDoesNotExistException: No application found for name: ghost"
    )
    assert caught.value.hint == "create the application in this region or fix --application"


def test_explicit_key_sets_the_bundle_type(tmp_path: Path, s3_client: Any, codedeploy: Any) -> None:
    name = bucket(s3_client)
    request = PushRequest(
        source=revision_dir(tmp_path / "rev"),
        application="web",
        s3_location=f"s3://{name}/releases/web-1.tgz",
        register=False,
    )
    result, _ = push(request, s3_client, codedeploy)
    assert result.revision["s3Location"]["key"] == "releases/web-1.tgz"
    assert result.revision["s3Location"]["bundleType"] == "tgz"
    body = s3_client.get_object(Bucket=name, Key="releases/web-1.tgz")["Body"]
    (tmp_path / "down.tgz").write_bytes(body.read())
    with tarfile.open(tmp_path / "down.tgz") as archive:
        assert "appspec.yml" in archive.getnames()


def test_region_placeholder_and_explicit_key(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    name = bucket(s3_client)
    s3_client.create_bucket(Bucket=f"{name}-us-east-1")
    request = PushRequest(
        source=revision_dir(tmp_path / "rev"),
        application="web",
        s3_location=f"s3://{name}-{{region}}/web.tar",
        register=False,
    )
    result, _ = push(request, s3_client, codedeploy)
    assert result.revision["s3Location"]["bucket"] == f"{name}-us-east-1"
    assert result.revision["s3Location"]["bundleType"] == "tar"


def test_explicit_key_conflicting_with_bundle_type_is_an_error(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    request = PushRequest(
        source=revision_dir(tmp_path / "rev"),
        application="web",
        s3_location="s3://some-bucket/web.zip",
        bundle_type="tar",
        register=False,
    )
    with pytest.raises(InputError, match=r"key web.zip names a zip but the bundle is a tar"):
        push(request, s3_client, codedeploy)


def test_prebuilt_archive_and_multi_region_bundle_reuse(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    name = bucket(s3_client)
    base = PushRequest(source=revision_dir(tmp_path / "rev"), application="web")
    built = prepare_bundle(base, tmp_path)
    prebuilt = PushRequest(
        source=built.path, application="web", s3_location=f"s3://{name}", register=False
    )
    result, _ = push(prebuilt, s3_client, codedeploy)
    assert result.bundle_sha256 == built.sha256
    assert result.revision["s3Location"]["key"] == f"web/{built.sha256}.zip"
    (tmp_path / "down.zip").write_bytes(
        s3_client.get_object(Bucket=name, Key=f"web/{built.sha256}.zip")["Body"].read()
    )
    with zipfile.ZipFile(tmp_path / "down.zip") as archive:
        assert archive.read("index.html") == b"hello"


def test_existing_object_without_upload(tmp_path: Path, s3_client: Any, codedeploy: Any) -> None:
    name = bucket(s3_client, versioned=True)
    put = s3_client.put_object(Bucket=name, Key="ready/app.tar", Body=b"tar bytes")
    request = PushRequest(
        source=Path("."),
        application="web",
        s3_location=f"s3://{name}/ready/app.tar",
        upload=False,
        register=False,
    )
    result, _ = push(request, s3_client, codedeploy)
    assert result.revision == {
        "revisionType": "S3",
        "s3Location": {
            "bucket": name,
            "key": "ready/app.tar",
            "bundleType": "tar",
            "eTag": put["ETag"].strip('"'),
            "version": put["VersionId"],
        },
    }
    assert result.uploaded is False
    missing = PushRequest(
        source=Path("."),
        application="web",
        s3_location=f"s3://{name}/ready/none.zip",
        upload=False,
        register=False,
    )
    with pytest.raises(AwsError, match=r"none.zip does not exist") as caught:
        push(missing, s3_client, codedeploy)
    assert caught.value.exit_code == 3


def test_github_revision(s3_client: Any, codedeploy: Any) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    request = PushRequest(
        source=Path("."),
        application="web",
        github_repository="octo/web",
        commit_id=sha,
        register=False,
    )
    result, _ = push(request, s3_client, codedeploy)
    assert result.revision == {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": "octo/web", "commitId": sha},
    }
    short = PushRequest(
        source=Path("."), application="web", github_repository="octo/web", commit_id="abc123"
    )
    with pytest.raises(InputError, match=r"input commit_id: expected a full 40-character"):
        push(short, s3_client, codedeploy)


def test_ecs_appspec_content_with_task_definition(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    appspec = tmp_path / "appspec.yaml"
    appspec.write_text(ECS_APPSPEC)
    request = PushRequest(
        source=appspec, application="web-ecs", task_definition=TASK_ARN, register=False
    )
    result, _ = push(request, s3_client, codedeploy)
    content = result.revision["appSpecContent"]["content"]
    assert result.revision["revisionType"] == "AppSpecContent"
    document = json.loads(content)
    properties = document["Resources"][0]["TargetService"]["Properties"]
    assert properties["TaskDefinition"] == TASK_ARN
    assert properties["LoadBalancerInfo"] == {"ContainerName": "web", "ContainerPort": 80}
    assert (
        result.revision["appSpecContent"]["sha256"] == hashlib.sha256(content.encode()).hexdigest()
    )


def test_invalid_ecs_appspec_is_rejected_before_anything_is_sent(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    appspec = tmp_path / "appspec.yaml"
    appspec.write_text(ECS_APPSPEC.replace("ContainerPort: 80", "ContainerPort: eighty"))
    request = PushRequest(source=appspec, application="web", task_definition=TASK_ARN)
    with pytest.raises(AppSpecError) as caught:
        push(request, s3_client, codedeploy)
    assert caught.value.exit_code == 2


def test_an_appspec_over_the_size_cap_is_refused_even_unvalidated(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    # Read through the validator's loader: never whole, never sent on as AppSpecContent.
    appspec = tmp_path / "appspec.yaml"
    with appspec.open("wb") as handle:
        handle.write(ECS_APPSPEC.encode())
        handle.truncate(50 << 20)  # sparse: 50 MB of NUL bytes after the AppSpec
    request = PushRequest(source=appspec, application="web", validate=False, register=False)
    with pytest.raises(AppSpecError) as caught:
        push(request, s3_client, codedeploy)
    assert caught.value.exit_code == 2
    assert [d.code for d in caught.value.diagnostics] == ["file-too-large"]  # type: ignore[attr-defined]


def test_sse_without_kms_and_missing_location_are_input_errors(
    tmp_path: Path, s3_client: Any, codedeploy: Any
) -> None:
    source = revision_dir(tmp_path / "rev")
    with pytest.raises(InputError, match=r"sse_kms_key_id needs sse aws:kms"):
        push(
            PushRequest(source=source, application="web", sse_kms_key_id="alias/k"),
            s3_client,
            codedeploy,
        )
    with pytest.raises(InputError, match=r"input s3_location is required"):
        push(PushRequest(source=source, application="web"), s3_client, codedeploy)


def test_ci_metadata_names_commit_and_run() -> None:
    env = {
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "octo/web",
        "GITHUB_RUN_ID": "99",
    }
    assert ci_metadata(ci_environment(env)) == {
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "ci-run": "https://github.example/octo/web/actions/runs/99",
    }
    gitlab = {
        "CI_COMMIT_SHA": "abc",
        "CI_PIPELINE_URL": "https://gitlab.example/p/1",
        "CI_JOB_URL": "https://gitlab.example/j/1",
    }
    # The run is GitLab's pipeline, as in the deployment's description (docs/architecture.md).
    assert ci_metadata(ci_environment(gitlab)) == {
        "commit": "abc",
        "ci-run": "https://gitlab.example/p/1",
    }
    assert ci_metadata(ci_environment({"GIT_COMMIT": "é"})) == {}  # headers are ASCII only


def test_cli_push_prints_revision_and_next_command(
    tmp_path: Path, s3_client: Any, moto_endpoint: str, streams: Any
) -> None:
    name = bucket(s3_client)
    source = revision_dir(tmp_path / "rev")
    argv = [
        "push",
        str(source),
        "--application",
        "web",
        "--s3-location",
        f"s3://{name}/ci",
        "--endpoint-url",
        moto_endpoint,
        "--region",
        "us-east-1",
        "--no-register",
        "--sse",
        "AES256",
    ]
    env = {
        "CI_COMMIT_SHA": "feedface",
        "CI_PIPELINE_URL": "https://gitlab.example/pipelines/4",
        "CI_JOB_URL": "https://gitlab.example/jobs/5",
    }
    assert run(argv, env, streams) == 0, streams.err
    result = json.loads(streams.out)
    key = result["revision"]["s3Location"]["key"]
    assert key == f"ci/web/{result['bundle_sha256']}.zip"
    assert result["uploaded"] is True
    head = s3_client.head_object(Bucket=name, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["commit"] == "feedface"
    assert head["Metadata"]["ci-run"] == "https://gitlab.example/pipelines/4"
    assert (
        f"ci-deploy deploy --s3-location s3://{name}/{key} --no-upload --application web "
        "--deployment-group <deployment-group> --region us-east-1"
    ) in streams.err


def test_cli_push_to_a_missing_bucket_exits_3(
    tmp_path: Path, moto_endpoint: str, streams: Any
) -> None:
    argv = [
        "push",
        str(revision_dir(tmp_path / "rev")),
        "--application",
        "web",
        "--s3-location",
        "s3://bucket-that-is-not-{region}",
        "--endpoint-url",
        moto_endpoint,
        "--region",
        "us-east-1",
        "--no-register",
    ]
    assert run(argv, {}, streams) == 3
    assert "bucket 'bucket-that-is-not-us-east-1' does not exist (us-east-1)" in streams.err
    assert "hint: create it in us-east-1 or fix --s3-location" in streams.err
    assert streams.out == ""


def test_the_next_command_quotes_names_and_leaves_only_the_group_to_fill_in() -> None:
    push = PushRequest(source=Path("my rev"), application="GROUP web")
    revision = {
        "revisionType": "S3",
        "s3Location": {"bucket": "builds", "key": "GROUP/a b.zip", "bundleType": "zip"},
    }

    command = next_command(push, PushResult(revision=revision, region="eu-west-1"))  # type: ignore[arg-type]

    assert command == (
        "ci-deploy deploy --s3-location 's3://builds/GROUP/a b.zip' --no-upload "
        "--application 'GROUP web' --deployment-group <deployment-group> --region eu-west-1"
    )
    assert next_command(push, PushResult(revision=revision)).endswith(  # type: ignore[arg-type]
        "--application 'GROUP web' --deployment-group <deployment-group>"
    )


def test_the_next_command_for_github_and_inline_revisions() -> None:
    github = {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": "org/web", "commitId": "a" * 40},
    }
    push = PushRequest(source=Path("."), application="web")
    assert next_command(push, PushResult(revision=github)) == (  # type: ignore[arg-type]
        f"ci-deploy deploy --github-repository org/web --commit-id {'a' * 40} "
        "--application web --deployment-group <deployment-group>"
    )
    inline = {"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}}
    ecs = PushRequest(
        source=Path("ecs app/appspec.yaml"),
        application="web",
        task_definition="arn:aws:ecs:us-east-1:111122223333:task-definition/web:7",
    )
    assert next_command(ecs, PushResult(revision=inline, region="us-east-1")) == (  # type: ignore[arg-type]
        "ci-deploy deploy 'ecs app/appspec.yaml' --task-definition "
        "arn:aws:ecs:us-east-1:111122223333:task-definition/web:7 --application web "
        "--deployment-group <deployment-group> --region us-east-1"
    )


def test_cli_push_to_two_regions_is_bad_input(tmp_path: Path, streams: Any) -> None:
    argv = ["push", str(revision_dir(tmp_path / "rev")), "--application", "web"]
    argv += ["--s3-location", "s3://bundles", "--regions", "us-east-1,eu-west-1"]

    assert run(argv, {}, streams) == 2
    assert streams.err.splitlines() == [
        "ci-deploy: error: push takes one region",
        "  hint: run push once per region, or let deploy push to every region",
    ]


def test_cli_push_takes_the_region_from_aws_region_alone(
    tmp_path: Path, moto_endpoint: str, streams: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI docs (GitLab's among them) set AWS_REGION only; boto3 by itself reads AWS_DEFAULT_REGION.
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    argv = ["push", str(revision_dir(tmp_path / "rev")), "--application", "web"]
    argv += ["--s3-location", "s3://bucket-that-is-not-{region}", "--no-register"]
    argv += ["--endpoint-url", moto_endpoint]
    assert run(argv, {"AWS_REGION": "eu-west-1"}, streams) == 3
    assert "bucket 'bucket-that-is-not-eu-west-1' does not exist (eu-west-1)" in streams.err


def test_a_prebuilt_bundle_that_is_not_what_its_name_says_is_bad_input(
    tmp_path: Path, streams: Any
) -> None:
    # Caught before any upload: otherwise CodeDeploy fails it in DownloadBundle, minutes later.
    not_a_zip = tmp_path / "web.zip"
    not_a_zip.write_text("<html>an error page saved as the artifact</html>\n")
    argv = ["push", str(not_a_zip), "--application", "web", "--s3-location", "s3://bundles"]
    assert run(argv, {}, streams) == 2
    assert "web.zip is not a directory, zip, tar or tgz bundle (unrecognised content)" in (
        streams.err
    )
    tgz = tmp_path / "web.tgz"
    with tarfile.open(tgz, "w:gz") as archive:
        archive.add(revision_dir(tmp_path / "rev") / "appspec.yml", arcname="appspec.yml")
    renamed = tgz.rename(tmp_path / "renamed.zip")
    argv[1] = str(renamed)
    assert run(argv, {}, streams) == 2
    assert "renamed.zip is taken as a zip but holds a tgz" in streams.err
    assert streams.out == ""
