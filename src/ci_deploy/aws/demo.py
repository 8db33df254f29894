"""The embedded emulator's demo set-up: clients with dummy credentials, and the application,
deployment group and bucket created when missing. Never used against AWS."""

from __future__ import annotations

import boto3
import botocore.exceptions

from ci_deploy.aws.codedeploy import CodeDeployApi
from ci_deploy.aws.session import Clients, client_config
from ci_deploy.aws.translate import translate

# The emulator accepts any credentials; these keep a machine without AWS credentials working.
_DUMMY_KEY = "ci-deploy-emulator"
_DEMO_ROLE = "arn:aws:iam::123456789012:role/ci-deploy-emulator"
# The emulator tags the instances its --instances launches in each region Name=ci-deploy-emulator;
# the demo group selects them (as a group's EC2 tag filters select instances on AWS).
_DEMO_FLEET = [{"Key": "Name", "Value": "ci-deploy-emulator", "Type": "KEY_AND_VALUE"}]


def emulator_clients(endpoint_url: str, region: str) -> Clients:
    session = boto3.session.Session(
        aws_access_key_id=_DUMMY_KEY, aws_secret_access_key=_DUMMY_KEY, region_name=region
    )
    config = client_config(max_attempts=3)
    return Clients(
        region=region,
        s3=session.client("s3", endpoint_url=endpoint_url, config=config),
        codedeploy=session.client("codedeploy", endpoint_url=endpoint_url, config=config),
    )


def ensure_demo_resources(
    clients: Clients, application: str, group: str, bucket: str | None, compute_platform: str
) -> None:
    """Create what a first run against the emulator needs, leaving what exists alone."""
    api = CodeDeployApi(clients.codedeploy, clients.region)
    fleet = _DEMO_FLEET if compute_platform == "Server" else None
    api.ensure_application_and_group(application, group, compute_platform, _DEMO_ROLE, fleet)
    if bucket is None:
        return
    try:
        clients.s3.head_bucket(Bucket=bucket)
        return
    except botocore.exceptions.ClientError:
        pass  # missing: create it below
    try:
        if clients.region == "us-east-1":
            clients.s3.create_bucket(Bucket=bucket)
        else:  # S3 refuses a bucket outside us-east-1 without its location constraint
            clients.s3.create_bucket(
                Bucket=bucket,
                # The stubs list today's regions as literals; any region name is valid here.
                CreateBucketConfiguration={"LocationConstraint": clients.region},  # type: ignore[typeddict-item]
            )
        # Versioning lets the revision be pinned to the object version, as on a real bucket.
        clients.s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        raise translate(error, "CreateBucket", f"bucket '{bucket}' (emulator)") from error
