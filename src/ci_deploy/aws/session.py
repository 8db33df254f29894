"""Create S3 and CodeDeploy clients with retries, and translate botocore errors into ours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config
import botocore.exceptions

from ci_deploy.errors import AwsError, InputValueError

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Clients:
    """The AWS clients of one region."""

    region: str
    s3: S3Client
    codedeploy: CodeDeployClient


def client_config(max_attempts: int = 8) -> botocore.config.Config:
    # "adaptive" adds client-side rate limiting on top of "standard" retries, which back off on
    # ThrottlingException and 5xx: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    return botocore.config.Config(
        retries={"max_attempts": max_attempts, "mode": "adaptive"},
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="ci-deploy",
    )


def make_clients(
    region: str | None, endpoint_url: str | None = None, *, env_region: str | None = None
) -> Clients:
    """Clients for ``region`` (None: ``env_region``, else the SDK's configured region).

    ``env_region`` is ``AWS_REGION`` from the environment: the AWS CLI v2 and the other SDKs
    prefer it to ``AWS_DEFAULT_REGION`` and CI docs set it alone, but boto3 ignores it
    (https://docs.aws.amazon.com/sdkref/latest/guide/feature-region.html).
    ``endpoint_url`` points both services at one endpoint, e.g. the ci-deploy emulator;
    boto3 also honours ``AWS_ENDPOINT_URL`` by itself.
    """
    if endpoint_url and not endpoint_url.lower().startswith(("http://", "https://")):
        raise InputValueError("endpoint_url", "an http:// or https:// URL", endpoint_url)
    try:
        session = boto3.session.Session(region_name=region or env_region or None)
        resolved = session.region_name
        if not resolved:
            raise AwsError(
                "no AWS region configured",
                hint="pass --region, or set AWS_REGION / AWS_DEFAULT_REGION",
            )
        config = client_config()
        s3 = session.client("s3", endpoint_url=endpoint_url, config=config)
        codedeploy = session.client("codedeploy", endpoint_url=endpoint_url, config=config)
    except botocore.exceptions.InvalidRegionError as error:
        if region:
            raise InputValueError(
                "regions", "an AWS region name such as us-east-1", region
            ) from error
        raise AwsError(
            f"cannot create AWS clients: {error}",
            hint="fix AWS_REGION / AWS_DEFAULT_REGION or the profile's region",
        ) from error
    except botocore.exceptions.BotoCoreError as error:
        raise AwsError(f"cannot create AWS clients: {error}") from error
    except ValueError as error:  # botocore: "Invalid endpoint: ..."
        raise InputValueError("endpoint_url", "an http:// or https:// URL", endpoint_url) from error
    return Clients(region=resolved, s3=s3, codedeploy=codedeploy)


def error_code(error: BaseException) -> str | None:
    """The service's error code of a ClientError (e.g. 'ThrottlingException'), else None."""
    if isinstance(error, botocore.exceptions.ClientError):
        code: Any = error.response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


_IAM_HINT = (
    "check the IAM policy of the credentials in use ('ci-deploy iam-policy' prints what it needs)"
)
_HINTS = {
    "AccessDenied": _IAM_HINT,
    "AccessDeniedException": _IAM_HINT,
    "ExpiredToken": "the credentials have expired; refresh them",
    "ExpiredTokenException": "the credentials have expired; refresh them",
    "UnrecognizedClientException": "the credentials are not valid for this account/region",
    "InvalidClientTokenId": "the credentials are not valid for this account/region",
    "ThrottlingException": "the API is throttling this account; retry later or poll less often",
}


def translate(error: Exception, operation: str, context: str = "") -> AwsError:
    """Turn a botocore error into an AwsError naming the operation and what it was doing.

    ``context`` is a short phrase such as "application 'web' (us-east-1)".
    """
    where = f" {context}" if context else ""
    if isinstance(error, botocore.exceptions.ClientError):
        code = error_code(error) or "Unknown"
        message = error.response.get("Error", {}).get("Message") or str(error)
        return AwsError(
            f"{operation}{where}: {code}: {message}",
            operation=operation,
            code=code,
            hint=_HINTS.get(code),
        )
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return AwsError(
            f"{operation}{where}: no AWS credentials found",
            operation=operation,
            code="NoCredentials",
            hint="configure credentials (OIDC role, environment, profile or instance role)",
        )
    if isinstance(error, botocore.exceptions.ConnectionError):
        return AwsError(
            f"{operation}{where}: cannot reach the endpoint: {error}",
            operation=operation,
            code="EndpointConnectionError",
            hint="check the network, the region and --endpoint-url",
        )
    return AwsError(f"{operation}{where}: {error}", operation=operation)
