"""CodeDeploy's RegisterApplicationRevision, for push (it needs no ``CodeDeployApi``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from ci_deploy.aws.translate import translate

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient


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
        context = f"application '{application}'" + (f" ({region})" if region else "")
        raise translate(error, "RegisterApplicationRevision", context) from error
