"""CodeDeploy API errors as the service sends them: an exception name and a message, HTTP 400."""

from __future__ import annotations

import re
from collections.abc import Mapping

# The name rule ci-deploy and the service share: the emulator's one import of it.
from ci_deploy.vocabulary import NAME_PATTERN


class ApiError(Exception):
    """An error response of the CodeDeploy JSON protocol (``{"__type", "message"}``)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        if code not in ERROR_CODES:
            raise ValueError(f"not a CodeDeploy error name: {code}")
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> Mapping[str, str]:
        return {"__type": self.code, "message": self.message}


# Every error the emulator can answer with. A conformance test checks each against the error
# shapes of botocore's service model, so a misspelt name fails the build, not a user's retry rule.
ERROR_CODES: frozenset[str] = frozenset(
    {
        "ApplicationAlreadyExistsException",
        "ApplicationDoesNotExistException",
        "ApplicationNameRequiredException",
        "BatchLimitExceededException",
        "BucketNameFilterRequiredException",
        "DeploymentAlreadyCompletedException",
        "DeploymentConfigAlreadyExistsException",
        "DeploymentConfigDoesNotExistException",
        "DeploymentConfigInUseException",
        "DeploymentConfigNameRequiredException",
        "DeploymentDoesNotExistException",
        "DeploymentGroupAlreadyExistsException",
        "DeploymentGroupDoesNotExistException",
        "DeploymentGroupNameRequiredException",
        "DeploymentIdRequiredException",
        "DeploymentIsNotInReadyStateException",
        "DeploymentLimitExceededException",
        "DeploymentNotStartedException",
        "DeploymentTargetDoesNotExistException",
        "DeploymentTargetIdRequiredException",
        "DeploymentTargetListSizeExceededException",
        "DescriptionTooLongException",
        "InstanceDoesNotExistException",
        "InstanceIdRequiredException",
        "InvalidApplicationNameException",
        "InvalidAutoRollbackConfigException",
        "InvalidAutoScalingGroupException",
        "InvalidBlueGreenDeploymentConfigurationException",
        "InvalidComputePlatformException",
        "InvalidDeployedStateFilterException",
        "InvalidDeploymentConfigNameException",
        "InvalidDeploymentGroupNameException",
        "InvalidDeploymentIdException",
        "InvalidDeploymentInstanceTypeException",
        "InvalidDeploymentStatusException",
        "InvalidDeploymentStyleException",
        "InvalidDeploymentTargetIdException",
        "InvalidDeploymentWaitTypeException",
        "InvalidEC2TagException",
        "InvalidFileExistsBehaviorException",
        "InvalidInputException",
        "InvalidInstanceStatusException",
        "InvalidInstanceTypeException",
        "InvalidLifecycleEventHookExecutionIdException",
        "InvalidLifecycleEventHookExecutionStatusException",
        "InvalidMinimumHealthyHostValueException",
        "InvalidNextTokenException",
        "InvalidRevisionException",
        "InvalidRoleException",
        "InvalidSortByException",
        "InvalidSortOrderException",
        "InvalidTargetFilterNameException",
        "InvalidTrafficRoutingConfigurationException",
        "InvalidTimeRangeException",
        "LifecycleEventAlreadyCompletedException",
        "RevisionDoesNotExistException",
        "RevisionRequiredException",
        "RoleRequiredException",
        "UnsupportedActionForDeploymentTypeException",
        "InvalidOnPremisesTagCombinationException",
        "InvalidEC2TagCombinationException",
        "InvalidAlarmConfigException",
        "AlarmsLimitExceededException",
        "TriggerTargetsLimitExceededException",
        "InvalidTriggerConfigException",
        "ArnNotSupportedException",
        "GitHubAccountTokenDoesNotExistException",
        "GitHubAccountTokenNameRequiredException",
        "IamArnRequiredException",
        "IamSessionArnAlreadyRegisteredException",
        "IamUserArnAlreadyRegisteredException",
        "InstanceLimitExceededException",
        "InstanceNameAlreadyRegisteredException",
        "InstanceNameRequiredException",
        "InstanceNotRegisteredException",
        "InvalidArnException",
        "InvalidIamSessionArnException",
        "InvalidIamUserArnException",
        "InvalidInstanceNameException",
        "InvalidRegistrationStatusException",
        "InvalidTagException",
        "InvalidTagFilterException",
        "InvalidTagsToAddException",
        "MultipleIamArnsProvidedException",
        "ResourceArnRequiredException",
        "TagLimitExceededException",
        "TagRequiredException",
        # Protocol-level errors every awsJson1.1 service answers with.
        "SerializationException",
        "UnknownOperationException",
        # The common error of every AWS API for a caller it refuses (HTTP 403).
        "AccessDeniedException",
        # The common error of a request whose SigV4 credential scope names no valid region.
        "InvalidSignatureException",
        # The emulator's answer to a request body over its size limit (HTTP 413).
        "RequestEntityTooLargeException",
    }
)

DEPLOYMENT_ID_PATTERN = re.compile(r"d-[A-Z0-9]{9}")


def required(body: Mapping[str, object], key: str, code: str, message: str) -> object:
    value = body.get(key)
    if value is None or value in ("", []):
        raise ApiError(code, message)
    return value


NAME_WORDS = {
    "Application": "application name",
    "DeploymentGroup": "deployment group name",
    "DeploymentConfig": "deployment configuration name",
}


def name(body: Mapping[str, object], key: str, kind: str) -> str:
    """A required resource name, checked like the service checks it.

    ``kind`` is Application, DeploymentGroup or DeploymentConfig; the error names follow it.
    """
    words = NAME_WORDS[kind]
    value = required(body, key, f"{kind}NameRequiredException", f"The {words} was not specified.")
    return valid_name(value, kind)


def valid_name(value: object, kind: str) -> str:
    """``value`` if it is a well-formed name of a ``kind`` (see ``name``), else the error."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ApiError(
            f"Invalid{kind}NameException",
            f"The {NAME_WORDS[kind]} was specified in an invalid format.",
        )
    return value


# (error, message) of a request without a deployment ID, single or Batch*.
DEPLOYMENT_ID_REQUIRED = (
    "DeploymentIdRequiredException",
    "At least one deployment ID must be specified.",
)


def deployment_id(body: Mapping[str, object], key: str = "deploymentId") -> str:
    value = required(body, key, *DEPLOYMENT_ID_REQUIRED)
    if not isinstance(value, str) or not DEPLOYMENT_ID_PATTERN.fullmatch(value):
        raise ApiError(
            "InvalidDeploymentIdException",
            f"Specified DeploymentId is not in the valid format: {value}",
        )
    return value
