"""S3 uploads against moto's S3 server over HTTP: versions, multipart, SSE, retries, cleanup."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from ci_deploy.aws import s3
from ci_deploy.aws.translate import s3_error
from ci_deploy.errors import AwsError
from ci_deploy.events import Event

MIB = 1 << 20
SMALL_PARTS = s3.UploadOptions(multipart_threshold=5 * MIB, part_size=5 * MIB, concurrency=2)


@pytest.fixture
def client(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


def new_bucket(client: Any, *, versioned: bool = False, region: str = "us-east-1") -> str:
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    if region == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def write_file(path: Path, size: int) -> tuple[Path, str]:
    data = os.urandom(size)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def upload(client: Any, path: Path, bucket: str, key: str, sha: str, **kwargs: Any) -> Any:
    events: list[Event] = []
    options = kwargs.pop("options", s3.UploadOptions())
    stored = s3.upload(
        client,
        path,
        bucket=bucket,
        key=key,
        sha256=sha,
        options=options,
        sink=events.append,
        region="us-east-1",
        **kwargs,
    )
    return stored, events


def test_small_upload_to_unversioned_bucket(client: Any, tmp_path: Path) -> None:
    bucket = new_bucket(client)
    path, sha = write_file(tmp_path / "b.zip", 1000)
    stored, _ = upload(client, path, bucket, "app/b.zip", sha)
    head = client.head_object(Bucket=bucket, Key="app/b.zip")
    assert stored.etag == head["ETag"].strip('"')
    assert stored.version is None
    assert head["Metadata"] == {"sha256": sha}
    assert s3.head(client, bucket, "app/b.zip") == stored
    assert client.get_object(Bucket=bucket, Key="app/b.zip")["Body"].read() == path.read_bytes()


def test_versioned_bucket_reports_the_version(client: Any, tmp_path: Path) -> None:
    bucket = new_bucket(client, versioned=True)
    path, sha = write_file(tmp_path / "b.zip", 1000)
    first, _ = upload(client, path, bucket, "b.zip", sha)
    second, _ = upload(client, path, bucket, "b.zip", sha)
    versions = client.list_object_versions(Bucket=bucket)["Versions"]
    assert {v["VersionId"] for v in versions} == {first.version, second.version}
    assert first.version != second.version
    assert s3.head(client, bucket, "b.zip").version == second.version  # type: ignore[union-attr]


def test_multipart_upload_of_a_large_bundle(client: Any, tmp_path: Path) -> None:
    bucket = new_bucket(client, versioned=True)
    path, sha = write_file(tmp_path / "big.tgz", 11 * MIB)
    stored, events = upload(client, path, bucket, "big.tgz", sha, options=SMALL_PARTS)
    assert stored.etag.endswith("-3")  # S3's multipart ETag: <md5 of part md5s>-<parts>
    assert stored.version is not None
    body = client.get_object(Bucket=bucket, Key="big.tgz")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha
    assert client.head_object(Bucket=bucket, Key="big.tgz")["Metadata"]["sha256"] == sha
    assert [e.message for e in events] == [f"uploading s3://{bucket}/big.tgz in 3 parts"]  # type: ignore[union-attr]


@pytest.mark.parametrize("multipart", [False, True])
def test_sse_parameters_reach_the_object(client: Any, tmp_path: Path, multipart: bool) -> None:
    bucket = new_bucket(client)
    path, sha = write_file(tmp_path / "b.zip", (6 if multipart else 1) * MIB)
    key_id = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    options = s3.UploadOptions(
        sse="aws:kms",
        sse_kms_key_id=key_id,
        metadata={"commit": "abc123"},
        multipart_threshold=SMALL_PARTS.multipart_threshold,
        part_size=SMALL_PARTS.part_size,
    )
    upload(client, path, bucket, "b.zip", sha, options=options)
    head = client.head_object(Bucket=bucket, Key="b.zip")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_id
    assert head["Metadata"] == {"commit": "abc123", "sha256": sha}
    path2, sha2 = write_file(tmp_path / "c.zip", 100)
    upload(client, path2, bucket, "c.zip", sha2, options=s3.UploadOptions(sse="AES256"))
    assert client.head_object(Bucket=bucket, Key="c.zip")["ServerSideEncryption"] == "AES256"


def test_expected_bucket_owner_reaches_every_request(tmp_path: Path) -> None:
    client = boto3.client("s3", region_name="us-east-1")
    path, sha = write_file(tmp_path / "b.zip", 100)
    with Stubber(client) as stub:
        stub.add_response(
            "put_object",
            {"ETag": '"abc"', "VersionId": "v1"},
            {
                "Bucket": "bkt",
                "Key": "b.zip",
                "Body": botocore.stub.ANY,
                "Metadata": {"sha256": sha},
                "ExpectedBucketOwner": "123456789012",
            },
        )
        stored, _ = upload(
            client,
            path,
            "bkt",
            "b.zip",
            sha,
            options=s3.UploadOptions(expected_bucket_owner="123456789012"),
        )
        stub.assert_no_pending_responses()
    assert (stored.etag, stored.version) == ("abc", "v1")


class FailingParts:
    """The real client, except that UploadPart fails for one part number (a fake at our seam)."""

    def __init__(self, real: Any, part: int, code: str, times: int = 99) -> None:
        self._real = real
        self._part = part
        self._code = code
        self._times = times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def upload_part(self, **kwargs: Any) -> Any:
        if kwargs["PartNumber"] == self._part and self._times > 0:
            self._times -= 1
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": self._code, "Message": "injected"}}, "UploadPart"
            )
        return self._real.upload_part(**kwargs)


def test_failed_multipart_upload_is_aborted(client: Any, tmp_path: Path) -> None:
    bucket = new_bucket(client)
    path, sha = write_file(tmp_path / "big.zip", 11 * MIB)
    failing = FailingParts(client, part=2, code="AccessDenied")
    with pytest.raises(AwsError) as caught:
        upload(failing, path, bucket, "big.zip", sha, options=SMALL_PARTS)
    assert caught.value.exit_code == 3
    assert caught.value.message == f"UploadPart s3://{bucket}/big.zip: access denied"
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3.head(client, bucket, "big.zip") is None


def test_transient_part_errors_are_retried(client: Any, tmp_path: Path) -> None:
    bucket = new_bucket(client)
    path, sha = write_file(tmp_path / "big.zip", 11 * MIB)
    pauses: list[float] = []
    flaky = FailingParts(client, part=3, code="SlowDown", times=2)
    stored, _ = upload(
        flaky, path, bucket, "big.zip", sha, options=SMALL_PARTS, sleep=pauses.append
    )
    assert pauses == [2.0, 4.0]
    assert stored.etag.endswith("-3")


def test_missing_bucket_and_wrong_region_are_named(client: Any) -> None:
    with pytest.raises(AwsError) as missing:
        s3.check_bucket(client, "no-such-bucket-here", "us-east-1")
    assert (
        missing.value.message
        == "HeadBucket: bucket 'no-such-bucket-here' does not exist (us-east-1)"
    )
    assert missing.value.hint == "create it in us-east-1 or fix --s3-location"
    bucket = new_bucket(client, region="eu-west-1")
    with pytest.raises(AwsError) as wrong:
        s3.check_bucket(client, bucket, "us-east-1")
    assert wrong.value.exit_code == 3
    assert f"bucket '{bucket}' is in eu-west-1, but the deployment region is us-east-1" in (
        wrong.value.message
    )
    s3.check_bucket(client, bucket, "eu-west-1")


def test_kms_and_access_denied_get_hints() -> None:
    kms = botocore.exceptions.ClientError(
        {"Error": {"Code": "KMS.NotFoundException", "Message": "Invalid keyId alias/x"}},
        "PutObject",
    )
    error = s3_error(kms, "PutObject", "bkt", "a.zip", kms_key="alias/x")
    assert error.exit_code == 3
    assert (
        error.message
        == "PutObject s3://bkt/a.zip: KMS denied: KMS.NotFoundException: Invalid keyId alias/x"
    )
    assert "kms:GenerateDataKey" in (error.hint or "")
    assert "alias/x" in (error.hint or "")
    denied = botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject"
    )
    error = s3_error(denied, "PutObject", "bkt", "a.zip")
    assert error.hint is not None
    assert error.hint.startswith("allow s3:PutObject on arn:aws:s3:::bkt/*")


def test_head_of_a_missing_key_is_none(client: Any) -> None:
    bucket = new_bucket(client)
    assert s3.head(client, bucket, "nothing.zip") is None
