"""Revision sources -> RevisionLocation dicts in the CodeDeploy API's shape."""

from __future__ import annotations

import hashlib
import json

import pytest

from ci_deploy.errors import InputError
from ci_deploy.revision_location import (
    S3Location,
    appspec_content_revision,
    github_revision,
    key_bundle_type,
    parse_s3_location,
    s3_revision,
    substitute_task_definition,
)

TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s3://bundles", S3Location("bundles")),
        ("s3://bundles/", S3Location("bundles")),
        ("s3://bundles/ci/web/", S3Location("bundles", prefix="ci/web")),
        ("s3://bundles/ci/web-1.zip", S3Location("bundles", key="ci/web-1.zip")),
        ("s3://bundles/web.tar.gz", S3Location("bundles", key="web.tar.gz")),
        ("s3://bundles-{region}/app", S3Location("bundles-eu-west-1", prefix="app")),
        ("s3://bundles/v1.2", S3Location("bundles", prefix="v1.2")),
    ],
)
def test_parse_s3_location(text: str, expected: S3Location) -> None:
    assert parse_s3_location(text, "eu-west-1") == expected


@pytest.mark.parametrize("text", ["bundles/app", "s3://", "s3://Upper_Case/x", "s3://ab"])
def test_bad_s3_location_names_the_input(text: str) -> None:
    with pytest.raises(InputError, match=r"^input s3_location: expected ") as caught:
        parse_s3_location(text)
    assert caught.value.exit_code == 2


def test_content_addressed_and_explicit_keys() -> None:
    sha = "ab" * 32
    assert S3Location("b", prefix="ci").key_for("web", sha, "tgz") == f"ci/web/{sha}.tgz"
    assert S3Location("b").key_for("web", sha, "zip") == f"web/{sha}.zip"
    assert S3Location("b", key="x/y.zip").key_for("web", sha, "zip") == "x/y.zip"


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("a.zip", "zip"),
        ("a.TGZ", "tgz"),
        ("a.tar.gz", "tgz"),
        ("a.tar", "tar"),
        ("appspec.yaml", "YAML"),
        ("appspec.yml", "YAML"),
        ("appspec.json", "JSON"),
        ("a.bin", None),
        (".zip", None),
    ],
)
def test_key_bundle_type(key: str, kind: str | None) -> None:
    assert key_bundle_type(key) == kind


def test_s3_revision_strips_etag_quotes_and_omits_unknowns() -> None:
    assert s3_revision("b", "k.zip", "zip", etag='"abc-3"', version="v9") == {
        "revisionType": "S3",
        "s3Location": {
            "bucket": "b",
            "key": "k.zip",
            "bundleType": "zip",
            "eTag": "abc-3",
            "version": "v9",
        },
    }
    assert s3_revision("b", "k.zip", "zip") == {
        "revisionType": "S3",
        "s3Location": {"bucket": "b", "key": "k.zip", "bundleType": "zip"},
    }


def test_github_revision_checks_repository_and_commit() -> None:
    sha = "ABCDEF0123456789abcdef0123456789abcdef01"
    assert github_revision("octo/web", sha) == {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": "octo/web", "commitId": sha.lower()},
    }
    with pytest.raises(InputError, match=r"^input github_repository: expected owner/repo"):
        github_revision("web", sha)
    with pytest.raises(InputError, match=r"^input commit_id: expected a full 40-character"):
        github_revision("octo/web", "main")


def test_appspec_content_carries_its_sha256() -> None:
    revision = appspec_content_revision("version: 0.0\n")
    assert revision == {
        "revisionType": "AppSpecContent",
        "appSpecContent": {
            "content": "version: 0.0\n",
            "sha256": hashlib.sha256(b"version: 0.0\n").hexdigest(),
        },
    }


def test_task_definition_substitution_folds_key_case() -> None:
    content = (
        "version: 0.0\nresources:\n  - TargetService:\n      type: aws::ecs::service\n"
        "      properties:\n        taskdefinition: <TASK_DEFINITION>\n"
    )
    document = json.loads(substitute_task_definition(content, TASK_ARN))
    assert document["resources"][0]["TargetService"]["properties"] == {"taskdefinition": TASK_ARN}


def test_task_definition_needs_an_arn_and_an_ecs_service() -> None:
    with pytest.raises(InputError, match=r"^input task_definition: expected a full task"):
        substitute_task_definition("version: 0.0\n", "web:7")
    lambda_spec = (
        "version: 0.0\nresources:\n  - fn:\n      type: AWS::Lambda::Function\n"
        "      properties: {name: f, alias: live, currentversion: '1', targetversion: '2'}\n"
    )
    with pytest.raises(InputError, match=r"has no AWS::ECS::Service resource"):
        substitute_task_definition(lambda_spec, TASK_ARN, "appspec.yaml")


def test_a_bad_bucket_name_hint_names_the_bucket() -> None:
    with pytest.raises(InputError) as caught:
        parse_s3_location("s3://Bad_Bucket/prefix")

    assert caught.value.message == (
        "input s3_location: expected a bucket name of 3-63 lower-case letters, digits, dots "
        "and hyphens, got 's3://Bad_Bucket/prefix'"
    )
    assert caught.value.hint == (
        "write the bucket as s3://my-bucket; 'Bad_Bucket' is not a valid bucket name"
    )


def test_a_bad_bucket_with_a_region_placeholder_explains_the_placeholder() -> None:
    with pytest.raises(InputError) as caught:
        parse_s3_location("s3://Builds-{region}", "us-east-1")

    assert caught.value.hint == "{region} in --s3-location is replaced by each deployment region"
