"""CodeDeploy revision calls: RegisterApplicationRevision and GetApplicationRevision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from ci_deploy.aws.session import error_code, translate
from ci_deploy.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient

_HINTS = {
    "ApplicationDoesNotExistException": "create the application in this region or fix "
    "--application",
    "InvalidRevisionException": "the revision location is not valid for CodeDeploy; check "
    "--s3-location, --bundle-type, --github-repository/--commit-id",
    "RevisionDoesNotExistException": "push the revision first (ci-deploy push)",
    "DescriptionTooLongException": "keep the description within 256 characters",
}


def _error(error: Exception, operation: str, application: str, region: str) -> AwsError:
    context = f"application '{application}'" + (f" ({region})" if region else "")
    translated = translate(error, operation, context)
    hint = _HINTS.get(error_code(error) or "")
    if hint:
        translated.hint = hint
    return translated


def register_revision(
    codedeploy: CodeDeployClient,
    application: str,
    revision: Mapping[str, Any],
    description: str | None = None,
    *,
    region: str = "",
) -> None:
    """Make ``revision`` visible in the application's revision list."""
    extra = {"description": description} if description else {}
    try:
        codedeploy.register_application_revision(
            applicationName=application,
            revision=revision,  # type: ignore[arg-type]
            **extra,
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        raise _error(error, "RegisterApplicationRevision", application, region) from error
