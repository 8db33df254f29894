"""The exception tree: every error class carries the exit code the CLI applies."""

from __future__ import annotations


class ExitCode:
    """Exit codes, documented in the README. Only ever added, never renumbered."""

    OK = 0
    DEPLOYMENT_FAILED = 1
    BAD_INPUT = 2
    AWS_ERROR = 3
    WAIT_TIMEOUT = 4
    BUG = 5
    INTERRUPTED = 130


class CiDeployError(Exception):
    """Base of every error the core raises on purpose.

    ``message`` says what is wrong; ``hint`` says what to do about it.
    """

    exit_code: int = ExitCode.BUG

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(CiDeployError):
    """Bad input: a flag, an environment variable, a path, an appspec."""

    exit_code = ExitCode.BAD_INPUT


class InputValueError(InputError):
    """A single input's value does not parse; the message names the input."""

    def __init__(self, input_name: str, expected: str, got: object, *, hint: str | None = None):
        super().__init__(f"input {input_name}: expected {expected}, got {got!r}", hint=hint)
        self.input_name = input_name


class AppSpecError(InputError):
    """The AppSpec is invalid; ``diagnostics`` holds every problem found."""

    def __init__(self, message: str, diagnostics: list[object] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


class AwsError(CiDeployError):
    """An AWS API call failed (credentials, permissions, missing resources, throttled)."""

    exit_code = ExitCode.AWS_ERROR

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.operation = operation
        self.code = code


class TransientAwsError(AwsError):
    """A call failed in a way that may succeed when repeated: throttling, 5xx, network."""


class DeploymentLimitExceeded(AwsError):
    """CreateDeployment: another deployment is active in the deployment group."""


class DeploymentAlreadyCompleted(AwsError):
    """StopDeployment on a deployment that already ended."""


class DeploymentNotReady(AwsError):
    """ContinueDeployment on a deployment that is not waiting in Ready."""


class DeploymentFailed(CiDeployError):
    """The deployment ended Failed or Stopped. ``result`` carries the diagnostics."""

    exit_code = ExitCode.DEPLOYMENT_FAILED

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result


class WaitTimeout(CiDeployError):
    """We gave up waiting; the deployment may still finish."""

    exit_code = ExitCode.WAIT_TIMEOUT

    def __init__(self, message: str, result: object | None = None, *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.result = result


class Interrupted(CiDeployError):
    """SIGINT/SIGTERM arrived; whatever could be cleaned up was."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result
