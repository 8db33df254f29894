"""S3 calls for revisions: bucket region check, HeadObject, upload (multipart, bounded
concurrency, retries, abort on failure); their errors are translated by ``aws.translate``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from ci_deploy.aws.translate import bucket_region, error_code, s3_error, translate, wrong_region
from ci_deploy.events import EventSink, Notice
from ci_deploy.vocabulary import S3_RETRY_CODES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SHA256_METADATA = "sha256"  # x-amz-meta-sha256: the bundle's SHA-256, compared before uploading


@dataclass(frozen=True)
class S3Object:
    """An object as HeadObject or an upload reports it; ``etag`` without quotes."""

    bucket: str
    key: str
    etag: str
    version: str | None
    size: int
    sha256: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class UploadOptions:
    sse: str | None = None
    sse_kms_key_id: str | None = None
    expected_bucket_owner: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    multipart_threshold: int = 64 << 20
    part_size: int = 16 << 20
    concurrency: int = 4
    attempts: int = 4


def _owner(expected_bucket_owner: str | None) -> dict[str, Any]:
    return {"ExpectedBucketOwner": expected_bucket_owner} if expected_bucket_owner else {}


def check_bucket(
    s3: S3Client,
    bucket: str,
    region: str,
    expected_bucket_owner: str | None = None,
    *,
    denied_ok: bool = True,
) -> None:
    """The bucket exists and is in ``region``; AwsError otherwise.

    Without s3:ListBucket, HeadBucket is denied: the upload itself then tells (``denied_ok``);
    a dry run, which uploads nothing, reports the denial instead.
    """
    try:
        response = s3.head_bucket(Bucket=bucket, **_owner(expected_bucket_owner))
    except botocore.exceptions.ClientError as error:
        code = error_code(error)
        if code in {"403", "AccessDenied"} and denied_ok:
            return
        if code in {"301", "PermanentRedirect"}:
            raise wrong_region("HeadBucket", bucket, bucket_region(error), region) from error
        raise s3_error(error, "HeadBucket", bucket, region=region) from error
    except botocore.exceptions.BotoCoreError as error:
        raise translate(error, "HeadBucket", f"bucket '{bucket}'") from error
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    actual = headers.get("x-amz-bucket-region")
    if actual and actual != region:
        raise wrong_region("HeadBucket", bucket, actual, region)


def head(
    s3: S3Client,
    bucket: str,
    key: str,
    expected_bucket_owner: str | None = None,
    *,
    region: str = "",
) -> S3Object | None:
    """The object at ``bucket``/``key``, or None when there is none."""
    try:
        response = s3.head_object(Bucket=bucket, Key=key, **_owner(expected_bucket_owner))
    except botocore.exceptions.ClientError as error:
        if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise s3_error(error, "HeadObject", bucket, key, region=region) from error
    except botocore.exceptions.BotoCoreError as error:
        raise translate(error, "HeadObject", f"s3://{bucket}/{key}") from error
    return S3Object(
        bucket=bucket,
        key=key,
        etag=response["ETag"].strip('"'),
        version=_version(response.get("VersionId")),
        size=response.get("ContentLength", 0),
        sha256=response.get("Metadata", {}).get(SHA256_METADATA),
    )


def _version(version: str | None) -> str | None:
    # Unversioned buckets report no version, or the literal "null" for objects written while
    # versioning was suspended; CodeDeploy wants no version then.
    return version if version and version != "null" else None


def _put_arguments(options: UploadOptions, sha256: str) -> dict[str, Any]:
    arguments: dict[str, Any] = {"Metadata": {**options.metadata, SHA256_METADATA: sha256}}
    if options.sse:
        arguments["ServerSideEncryption"] = options.sse
    if options.sse_kms_key_id:
        arguments["SSEKMSKeyId"] = options.sse_kms_key_id
    arguments.update(_owner(options.expected_bucket_owner))
    return arguments


def _with_retries(call: Callable[[], Any], attempts: int, sleep: Callable[[float], None]) -> Any:
    """``call``, again after a pause when S3 answers with a transient error."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except botocore.exceptions.ClientError as error:
            if attempt == attempts or error_code(error) not in S3_RETRY_CODES:
                raise
        except botocore.exceptions.ConnectionError:
            if attempt == attempts:
                raise
        sleep(min(2.0**attempt, 20.0))
    raise AssertionError("unreachable")  # pragma: no cover


def upload(
    s3: S3Client,
    path: Path,
    *,
    bucket: str,
    key: str,
    sha256: str,
    options: UploadOptions,
    sink: EventSink,
    region: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> S3Object:
    """Upload ``path`` (its SHA-256 stored as metadata); multipart above the threshold."""
    size = path.stat().st_size
    arguments = _put_arguments(options, sha256)
    try:
        if size < options.multipart_threshold:
            with path.open("rb") as body:

                def put() -> Any:
                    body.seek(0)
                    return s3.put_object(Bucket=bucket, Key=key, Body=body, **arguments)

                response = _with_retries(put, options.attempts, sleep)
        else:
            response = _multipart(
                s3,
                path,
                size=size,
                bucket=bucket,
                key=key,
                arguments=arguments,
                options=options,
                sink=sink,
                sleep=sleep,
            )
    except botocore.exceptions.ClientError as error:
        operation = error.operation_name or "PutObject"
        raise s3_error(
            error, operation, bucket, key, region=region, kms_key=options.sse_kms_key_id
        ) from error
    except botocore.exceptions.BotoCoreError as error:
        raise translate(error, "PutObject", f"s3://{bucket}/{key}") from error
    return S3Object(
        bucket=bucket,
        key=key,
        etag=str(response["ETag"]).strip('"'),
        version=_version(response.get("VersionId")),
        size=size,
        sha256=sha256,
    )


def _multipart(
    s3: S3Client,
    path: Path,
    *,
    size: int,
    bucket: str,
    key: str,
    arguments: dict[str, Any],
    options: UploadOptions,
    sink: EventSink,
    sleep: Callable[[float], None],
) -> Any:
    owner = _owner(options.expected_bucket_owner)
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, **arguments)
    upload_id = created["UploadId"]
    part_count = -(-size // options.part_size)
    sink(Notice(f"uploading s3://{bucket}/{key} in {part_count} parts"))

    def send(number: int) -> dict[str, Any]:
        offset = (number - 1) * options.part_size
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read(options.part_size)  # one part in memory per worker

        def call() -> Any:
            return s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, **owner
            )

        response = _with_retries(call, options.attempts, sleep)
        return {"ETag": response["ETag"], "PartNumber": number}

    try:
        with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
            parts = list(pool.map(send, range(1, part_count + 1)))
        return s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            **owner,
        )
    except BaseException:
        # An unfinished multipart upload is billed until aborted: never leave one behind.
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, **owner)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            sink(
                Notice(
                    f"could not abort multipart upload {upload_id} of s3://{bucket}/{key}; "
                    "a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans it up",
                    level="warning",
                )
            )
        raise
