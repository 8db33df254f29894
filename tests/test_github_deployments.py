"""GitHub deployments and statuses through PyGithub, against a loopback fake of the REST API
(the ``fake_github`` fixture in conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ci_deploy.aws.codedeploy import Deployment
from ci_deploy.ci_env import ci_environment
from ci_deploy.errors import ExitCode, InputError
from ci_deploy.events import DeploymentStatusChanged, Event, Notice
from ci_deploy.github_deployments import (
    GithubDeploymentReporter,
    github_deployment_reporter,
    github_run,
    reporting_to_github,
)
from ci_deploy.inputs import Request
from ci_deploy.result import DeploymentsResult, RegionRun, Result, build_result

CONSOLE = (
    "https://console.aws.amazon.com/codesuite/codedeploy/deployments/d-ABCDEF123?region=us-east-1"
)
SHA = "0123456789abcdef0123456789abcdef01234567"


class Recording:
    """The inner reporter: remembers what it was given."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.results: list[Result] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def finish(self, result: Result) -> None:
        self.results.append(result)


def request(fake: Any, **values: str | None) -> Request:
    env = {
        "GITHUB_API_URL": fake.url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "octo/web",
        "GITHUB_SHA": SHA,
        "GITHUB_RUN_ID": "777",
        "GITHUB_RUN_ATTEMPT": "2",
    }
    given: dict[str, str | None] = {"github_deployment": "staging", "github_token": "ghs_tok"}
    given.update(values)
    return Request(verb="deploy", values=given, env=env)  # type: ignore[arg-type]


LOG_URL = "https://github.example/octo/web/actions/runs/777/attempts/2"


def result(status: str) -> DeploymentsResult:
    """Deployment d-ABCDEF123 in us-east-1 (its console URL is CONSOLE)."""
    return build_result([RegionRun("us-east-1", Deployment("d-ABCDEF123", status))])


def wrapped(fake: Any, inner: Recording, **values: str | None) -> GithubDeploymentReporter:
    reporter = github_deployment_reporter(request(fake, **values), inner, seconds_between_writes=0)
    assert isinstance(reporter, GithubDeploymentReporter)
    return reporter


def test_a_successful_deployment_goes_in_progress_then_success(fake_github: Any) -> None:
    inner = Recording()
    reporter = wrapped(fake_github, inner)
    reporter.event(Notice("uploading"))
    assert fake_github.requests == []  # nothing before CodeDeploy accepted the deployment
    reporter.event(DeploymentStatusChanged("d-ABCDEF123", "Created"))
    reporter.event(DeploymentStatusChanged("d-ABCDEF123", "InProgress"))
    reporter.finish(result("Succeeded"))

    assert [(r.method, r.path) for r in fake_github.requests] == [
        ("POST", "/repos/octo/web/deployments"),
        ("POST", "/repos/octo/web/deployments/42/statuses"),
        ("POST", "/repos/octo/web/deployments/42/statuses"),
    ]
    assert {r.authorization for r in fake_github.requests} == {"token ghs_tok"}
    create, progress, done = (r.body for r in fake_github.requests)
    assert create == {
        "ref": SHA,
        "task": "deploy",
        "auto_merge": False,
        "required_contexts": [],
        "payload": {"codedeploy_deployment_id": "d-ABCDEF123"},
        "environment": "staging",
        "description": "CodeDeploy d-ABCDEF123",
    }
    assert progress == {
        "state": "in_progress",
        "log_url": LOG_URL,
        "description": "CodeDeploy d-ABCDEF123 in progress",
        "environment": "staging",
    }
    assert done == {
        "state": "success",
        "log_url": LOG_URL,
        "description": "CodeDeploy d-ABCDEF123: Succeeded",
        "environment": "staging",
        "environment_url": CONSOLE,
    }
    assert inner.results == [result("Succeeded")]
    assert len(inner.events) == 3


@pytest.mark.parametrize(("status", "state"), [("Failed", "failure"), ("Stopped", "failure")])
def test_a_failed_or_stopped_deployment_is_a_failure(
    fake_github: Any, status: str, state: str
) -> None:
    reporter = wrapped(fake_github, Recording())
    reporter.event(DeploymentStatusChanged("d-ABCDEF123", "InProgress"))
    reporter.finish(result(status))
    assert fake_github.requests[-1].body["state"] == state
    assert fake_github.requests[-1].body["environment_url"] == CONSOLE


def test_not_waiting_leaves_the_deployment_in_progress_with_its_console_link(
    fake_github: Any,
) -> None:
    reporter = wrapped(fake_github, Recording())
    reporter.event(DeploymentStatusChanged("d-ABCDEF123", "Created"))
    reporter.finish(result("Created"))
    assert fake_github.requests[-1].body["state"] == "in_progress"
    assert fake_github.requests[-1].body["environment_url"] == CONSOLE


def test_an_api_error_is_a_warning_not_a_failed_deployment(fake_github: Any) -> None:
    fake_github.fail["/deployments"] = 409
    inner = Recording()
    reporter = wrapped(fake_github, inner)
    reporter.event(DeploymentStatusChanged("d-ABCDEF123", "InProgress"))
    reporter.finish(result("Succeeded"))
    assert [r.path for r in fake_github.requests] == ["/repos/octo/web/deployments"]
    warnings = [e for e in inner.events if isinstance(e, Notice)]
    assert len(warnings) == 1
    assert warnings[0].level == "warning"
    assert warnings[0].message.startswith("GitHub deployment status not reported (409):")
    assert "Commit status checks failed" in warnings[0].message
    assert inner.results == [result("Succeeded")]


def test_an_error_before_the_result_marks_the_deployment_failed(fake_github: Any) -> None:
    inner = Recording()
    with (
        pytest.raises(KeyboardInterrupt),
        reporting_to_github(request(fake_github), inner, seconds_between_writes=0) as reporter,
    ):
        reporter.event(DeploymentStatusChanged("d-ABCDEF123", "InProgress"))
        raise KeyboardInterrupt("SIGTERM")
    states = [r.body["state"] for r in fake_github.requests[1:]]
    assert states == ["in_progress", "failure"]
    assert (
        fake_github.requests[-1].body["description"]
        == "ci-deploy stopped: KeyboardInterrupt: SIGTERM"
    )


def test_an_error_after_the_result_posts_nothing_more(fake_github: Any) -> None:
    with (
        pytest.raises(RuntimeError),
        reporting_to_github(
            request(fake_github), Recording(), seconds_between_writes=0
        ) as reporter,
    ):
        reporter.event(DeploymentStatusChanged("d-ABCDEF123", "InProgress"))
        reporter.finish(result("Failed"))
        raise RuntimeError("deployment failed")
    assert [r.body["state"] for r in fake_github.requests[1:]] == ["in_progress", "failure"]


def test_without_an_environment_the_reporter_is_unchanged(fake_github: Any) -> None:
    inner = Recording()
    assert github_deployment_reporter(request(fake_github, github_deployment=None), inner) is inner
    assert github_deployment_reporter(request(fake_github, github_deployment="  "), inner) is inner
    assert fake_github.requests == []


def test_an_environment_name_github_would_refuse_is_bad_input_before_any_request(
    fake_github: Any,
) -> None:
    inner = Recording()
    longest = github_deployment_reporter(request(fake_github, github_deployment="é" * 255), inner)
    assert longest is not inner  # reports to GitHub
    with pytest.raises(InputError) as caught:
        github_deployment_reporter(request(fake_github, github_deployment="é" * 256), Recording())
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.message == (
        "input github_deployment: expected a GitHub environment name of at most 255 characters, "
        "got 256"
    )
    assert fake_github.requests == []


def test_an_environment_without_a_token_is_bad_input(fake_github: Any) -> None:
    with pytest.raises(InputError) as caught:
        github_deployment_reporter(request(fake_github, github_token=""), Recording())
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.message == "input github_deployment needs a token: github_token is empty"
    assert "deployments: write" in (caught.value.hint or "")


def test_outside_github_actions_the_run_is_bad_input() -> None:
    with pytest.raises(InputError, match="needs GITHUB_REPOSITORY and GITHUB_SHA"):
        github_run({}, ci_environment({}))


def test_run_defaults_to_github_com_and_a_log_url_without_attempt() -> None:
    env = {"GITHUB_REPOSITORY": "octo/web", "GITHUB_SHA": SHA, "GITHUB_RUN_ID": "5"}
    run = github_run(env, ci_environment(env))
    assert run.api_url == "https://api.github.com"
    assert run.log_url == "https://github.com/octo/web/actions/runs/5"
