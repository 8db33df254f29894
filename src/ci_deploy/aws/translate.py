"""Turn botocore errors into ours, in one place: the message naming the operation and what it
was doing, the error kind the core catches, and the hint that says what to do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from ci_deploy.errors import (
    AwsError,
    DeploymentAlreadyCompleted,
    DeploymentLimitExceeded,
    DeploymentNotReady,
    TransientAwsError,
)
from ci_deploy.vocabulary import THROTTLING_CODES

_IAM_HINT = (
    "check the IAM policy of the credentials in use ('ci-deploy iam-policy' prints what it needs)"
)
_EXPIRED_HINT = "the credentials have expired; refresh them"
_NOT_VALID_HINT = "the credentials are not valid for this account/region"

# Error code -> what to do about it.
HINTS: Mapping[str, str] = {
    # any service
    "AccessDenied": _IAM_HINT,
    "AccessDeniedException": _IAM_HINT,
    "ExpiredToken": _EXPIRED_HINT,
    "ExpiredTokenException": _EXPIRED_HINT,
    "UnrecognizedClientException": _NOT_VALID_HINT,
    "InvalidClientTokenId": _NOT_VALID_HINT,
    "ThrottlingException": "the API is throttling this account; retry later or poll less often",
    # CodeDeploy
    "DeploymentDoesNotExistException": "check the deployment id and the region",
    "InvalidDeploymentIdException": "a deployment id is d- and 9 letters or digits (d-ABCDEF123)",
    "ApplicationDoesNotExistException": "check --application and --region",
    "DeploymentGroupDoesNotExistException": "check --deployment-group, --application and --region",
    "DeploymentConfigDoesNotExistException": "check --deployment-config",
    "InvalidFileExistsBehaviorException": "--file-exists-behavior applies to the Server platform",
    "DescriptionTooLongException": "keep --description within 256 characters",
    "UnsupportedActionForDeploymentTypeException": "this deployment type cannot be stopped",
    "DeploymentAlreadyCompletedException": "it has already ended; 'ci-deploy status "
    "DEPLOYMENT_ID' shows how",
}
# (operation, error code) -> a hint that fits that operation better than the code's own.
OPERATION_HINTS: Mapping[tuple[str, str], str] = {
    ("RegisterApplicationRevision", "ApplicationDoesNotExistException"): "create the "
    "application in this region or fix --application",
    ("RegisterApplicationRevision", "InvalidRevisionException"): "the revision location is not "
    "valid for CodeDeploy; check --s3-location, --bundle-type, --github-repository/--commit-id",
    ("RegisterApplicationRevision", "RevisionDoesNotExistException"): "push the revision first "
    "(ci-deploy push)",
    ("RegisterApplicationRevision", "DescriptionTooLongException"): "keep the description "
    "within 256 characters",
}
# Error code -> the kind the core catches (any other code: AwsError).
_KINDS: Mapping[str, type[AwsError]] = {
    "DeploymentLimitExceededException": DeploymentLimitExceeded,
    "DeploymentAlreadyCompletedException": DeploymentAlreadyCompleted,
    "DeploymentIsNotInReadyStateException": DeploymentNotReady,
}


def error_code(error: BaseException) -> str | None:
    """The service's error code of a ClientError (e.g. 'ThrottlingException'), else None."""
    if isinstance(error, botocore.exceptions.ClientError):
        code: Any = error.response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def is_transient(error: BaseException) -> bool:
    """Throttled, a 5xx answer, or the network: the same call may succeed later."""
    # Network failures: no connection (ConnectionError, its timeouts and TLS failures) or one
    # dropped, reset or timed out while the answer was read (HTTPClientError:
    # ConnectionClosedError, ReadTimeoutError...). The SDK's standard retries treat both kinds
    # as transient too.
    if isinstance(error, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        return True
    if isinstance(error, botocore.exceptions.ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error_code(error) in THROTTLING_CODES or status >= 500
    return False


def translate(error: Exception, operation: str, context: str = "") -> AwsError:
    """Turn a botocore error into an AwsError naming the operation and what it was doing, of
    the kind the core catches, with the hint for its code.

    ``context`` is a short phrase such as "application 'web' (us-east-1)".
    """
    where = f" {context}" if context else ""
    if isinstance(error, botocore.exceptions.ClientError):
        code = error_code(error) or "Unknown"
        message = error.response.get("Error", {}).get("Message") or str(error)
        kind = TransientAwsError if is_transient(error) else _KINDS.get(code, AwsError)
        return kind(
            f"{operation}{where}: {code}: {message}",
            operation=operation,
            code=code,
            hint=OPERATION_HINTS.get((operation, code)) or HINTS.get(code),
        )
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return AwsError(
            f"{operation}{where}: no AWS credentials found",
            operation=operation,
            code="NoCredentials",
            hint="configure credentials (OIDC role, environment, profile or instance role)",
        )
    kind = TransientAwsError if is_transient(error) else AwsError
    if isinstance(error, botocore.exceptions.ConnectionError):
        return kind(
            f"{operation}{where}: cannot reach the endpoint: {error}",
            operation=operation,
            code="EndpointConnectionError",
            hint="check the network, the region and --endpoint-url",
        )
    return kind(f"{operation}{where}: {error}", operation=operation)


# -- S3: the usual causes of a failed upload or read get their own message ---------------------


def bucket_region(error: botocore.exceptions.ClientError) -> str | None:
    """The region S3 says a bucket is in, from a redirect's headers or its error body."""
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = headers.get("x-amz-bucket-region") or error.response.get("Error", {}).get("Region")
    return str(region) if region else None


def s3_error(
    error: Exception,
    operation: str,
    bucket: str,
    key: str | None = None,
    *,
    region: str = "",
    kms_key: str | None = None,
) -> AwsError:
    """An AwsError naming the operation and the object, with a hint for the usual causes."""
    where = f"s3://{bucket}/{key}" if key else f"bucket '{bucket}'"
    code = error_code(error) or ""
    message = ""
    if isinstance(error, botocore.exceptions.ClientError):
        message = str(error.response.get("Error", {}).get("Message") or "")
    in_region = f" ({region})" if region else ""
    if code == "NoSuchBucket" or (code == "404" and key is None):
        return AwsError(
            f"{operation}: bucket '{bucket}' does not exist{in_region}",
            operation=operation,
            code=code,
            hint=f"create it in {region or 'the deployment region'} or fix --s3-location",
        )
    if code.startswith("KMS.") or "kms" in message.lower():
        key_text = f"key {kms_key}" if kms_key else "the bucket's KMS key"
        return AwsError(
            f"{operation} {where}: KMS denied: {code}: {message}",
            operation=operation,
            code=code,
            hint=f"allow kms:GenerateDataKey and kms:Decrypt on {key_text} for these "
            "credentials and for the instances' role",
        )
    if code in {"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId"}:
        action = "s3:GetObject" if operation in {"HeadObject", "GetObject"} else "s3:PutObject"
        arn = f"arn:aws:s3:::{bucket}/*"
        if operation == "HeadBucket":
            action, arn = "s3:ListBucket", f"arn:aws:s3:::{bucket}"
        return AwsError(
            f"{operation} {where}: access denied",
            operation=operation,
            code=code,
            hint=f"allow {action} on {arn} for these credentials "
            "(and check --expected-bucket-owner)",
        )
    if code in {"PermanentRedirect", "AuthorizationHeaderMalformed", "301"} and isinstance(
        error, botocore.exceptions.ClientError
    ):
        return wrong_region(operation, bucket, bucket_region(error), region)
    return translate(error, operation, where)


def wrong_region(operation: str, bucket: str, actual: str | None, wanted: str) -> AwsError:
    return AwsError(
        f"{operation}: bucket '{bucket}' is in {actual or 'another region'}, but the deployment "
        f"region is {wanted}; CodeDeploy reads revisions only from a bucket in its own region",
        operation=operation,
        code="WrongRegion",
        hint=f"use a bucket in {wanted} (--s3-location may contain {{region}}, e.g. "
        "s3://my-bundles-{region}/app)",
    )
