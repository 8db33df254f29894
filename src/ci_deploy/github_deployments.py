"""GitHub deployments for CodeDeploy runs, so a repository's Environments page shows them.

One GitHub deployment per ci-deploy run (on the commit being built), with the statuses
``in_progress`` when CodeDeploy accepted the deployment, then ``success`` or ``failure`` with
the CodeDeploy console as ``environment_url`` and the workflow run as ``log_url``. Reporting is
best effort: a GitHub API failure becomes a warning, never a failed deployment.
REST reference: https://docs.github.com/en/rest/deployments/deployments and
https://docs.github.com/en/rest/deployments/statuses
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from github import Auth, Github, GithubException
from requests import RequestException

from ci_deploy.ci_env import CiEnvironment
from ci_deploy.errors import InputError
from ci_deploy.events import DeploymentStatusChanged, Event, Notice
from ci_deploy.inputs import Request
from ci_deploy.report import Reporter
from ci_deploy.result import DeploymentsResult, Result

# CodeDeploy's final status -> the GitHub deployment state it shows as.
_STATES = {"Succeeded": "success", "Failed": "failure", "Stopped": "failure"}


@dataclass(frozen=True)
class GithubRun:
    """What the workflow run tells us through its environment (set by the runner)."""

    api_url: str
    repository: str
    sha: str
    log_url: str | None  # the run attempt's page (ci_env)


def github_run(env: Mapping[str, str], ci: CiEnvironment) -> GithubRun:
    """The run's coordinates; GITHUB_REPOSITORY and GITHUB_SHA are required."""
    missing = [
        name for name in ("GITHUB_REPOSITORY", "GITHUB_SHA") if not env.get(name, "").strip()
    ]
    if missing:
        raise InputError(
            f"input github_deployment needs {' and '.join(missing)}, which GitHub Actions sets",
            hint="use github-deployment only inside a GitHub Actions job, or leave it empty",
        )
    return GithubRun(
        api_url=env.get("GITHUB_API_URL", "").strip() or "https://api.github.com",
        repository=env["GITHUB_REPOSITORY"].strip(),
        sha=env["GITHUB_SHA"].strip(),
        log_url=ci.run_url,
    )


def connect(token: str, api_url: str, *, seconds_between_writes: float | None = 1.0) -> Github:
    """A PyGithub client. GitHub asks for a pause between writes to stay clear of its
    secondary rate limits; tests pass 0."""
    return Github(
        base_url=api_url,
        auth=Auth.Token(token),
        lazy=True,  # no GET /repos/{repo} before the first write
        retry=3,
        timeout=15,
        seconds_between_requests=None,
        seconds_between_writes=seconds_between_writes or None,
    )


class GithubDeployment:
    """One GitHub deployment and its statuses."""

    def __init__(self, client: Github, run: GithubRun, environment: str) -> None:
        self._client = client
        self._run = run
        self._environment = environment
        self._url: str | None = None

    @property
    def created(self) -> bool:
        return self._url is not None

    def create(self, codedeploy_id: str) -> None:
        """Create the deployment on the run's commit and mark it in progress."""
        repo = self._client.get_repo(self._run.repository)
        deployment = repo.create_deployment(
            ref=self._run.sha,
            task="deploy",
            # Without these GitHub merges the default branch into the ref, and refuses to
            # deploy while other status checks of the commit are still pending (HTTP 409).
            auto_merge=False,
            required_contexts=[],
            payload={"codedeploy_deployment_id": codedeploy_id},
            environment=self._environment,
            description=f"CodeDeploy {codedeploy_id}"[:140],
        )
        self._url = deployment.url
        self.status("in_progress", f"CodeDeploy {codedeploy_id} in progress")

    def status(self, state: str, description: str, environment_url: str | None = None) -> None:
        """Post a status. PyGithub's ``create_status`` has no ``log_url`` (it only knows the
        deprecated ``target_url``), so the request goes through its requester."""
        if self._url is None:
            raise RuntimeError("the GitHub deployment was not created")
        body: dict[str, Any] = {
            "state": state,
            "description": description[:140],
            "environment": self._environment,
        }
        if self._run.log_url:
            body["log_url"] = self._run.log_url
        if environment_url:
            body["environment_url"] = environment_url
        self._client.requester.requestJsonAndCheck("POST", f"{self._url}/statuses", input=body)


def state_of(result: Result) -> str:
    """The GitHub state for a result: success, failure, or in_progress while CodeDeploy goes
    on (``wait: false``)."""
    status = result.status if isinstance(result, DeploymentsResult) else None
    return _STATES.get(str(status), "in_progress")


class GithubDeploymentReporter:
    """A Reporter that forwards everything to ``inner`` and mirrors the CodeDeploy deployment
    as a GitHub deployment."""

    def __init__(self, inner: Reporter, deployment: GithubDeployment) -> None:
        self._inner = inner
        self._deployment = deployment
        self._final = False

    def event(self, event: Event) -> None:
        self._inner.event(event)
        if isinstance(event, DeploymentStatusChanged) and not self._deployment.created:
            self._call(lambda: self._deployment.create(event.deployment_id))

    def finish(self, result: Result) -> None:
        self._inner.finish(result)
        if not self._deployment.created or not isinstance(result, DeploymentsResult):
            return
        state = state_of(result)
        ident = result.deployment_id or "deployment"
        description = f"CodeDeploy {ident}: {result.status or 'unknown'}"
        url = result.console_url
        self._final = state != "in_progress"
        self._call(lambda: self._deployment.status(state, description, url or None))

    def fail(self, message: str) -> None:
        """Mark the GitHub deployment failed when ci-deploy stopped without a result."""
        if self._deployment.created and not self._final:
            self._final = True
            self._call(lambda: self._deployment.status("failure", message))

    def _call(self, action: Any) -> None:
        try:
            action()
        except (GithubException, RequestException, OSError) as error:
            reason = getattr(error, "status", None) or type(error).__name__
            self._inner.event(
                Notice(f"GitHub deployment status not reported ({reason}): {error}", "warning")
            )


# GitHub refuses longer environment names (the deployment would never be reported).
MAX_ENVIRONMENT_NAME = 255


def github_deployment_reporter(
    request: Request,
    reporter: Reporter,
    *,
    seconds_between_writes: float | None = 1.0,
) -> Reporter:
    """``reporter``, mirrored to a GitHub deployment when the github_deployment input is set."""
    environment = (request.text("github_deployment") or "").strip()
    if not environment:
        return reporter
    # https://docs.github.com/en/actions/reference/workflows-and-actions/deployments-and-environments
    if len(environment) > MAX_ENVIRONMENT_NAME:
        raise InputError(
            f"input github_deployment: expected a GitHub environment name of at most "
            f"{MAX_ENVIRONMENT_NAME} characters, got {len(environment)}",
            hint="name the environment as the repository's Settings > Environments does",
        )
    token = (request.text("github_token") or "").strip()
    if not token:
        raise InputError(
            "input github_deployment needs a token: github_token is empty",
            hint="set CI_DEPLOY_GITHUB_TOKEN (the action passes the job's token by default; "
            "the job needs `permissions: deployments: write`)",
        )
    run = github_run(request.env, request.ci)
    client = connect(token, run.api_url, seconds_between_writes=seconds_between_writes)
    return GithubDeploymentReporter(reporter, GithubDeployment(client, run, environment))


@contextmanager
def reporting_to_github(
    request: Request,
    reporter: Reporter,
    *,
    seconds_between_writes: float | None = 1.0,
) -> Iterator[Reporter]:
    """Yield the reporter to use; if the block raises before a final result was reported,
    the GitHub deployment is marked failed (so it never stays in progress)."""
    wrapped = github_deployment_reporter(
        request, reporter, seconds_between_writes=seconds_between_writes
    )
    try:
        yield wrapped
    except BaseException as error:
        if isinstance(wrapped, GithubDeploymentReporter):
            wrapped.fail(f"ci-deploy stopped: {type(error).__name__}: {error}"[:140])
        raise
