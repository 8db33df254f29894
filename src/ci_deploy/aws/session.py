"""Create the S3 and CodeDeploy clients of a region, with the SDK's retries and timeouts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


# The clients of a region (None: the configured one), as the commands provide them.
ClientsFor = Callable[[str | None], Clients]


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
