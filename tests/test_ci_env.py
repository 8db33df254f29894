"""The CI environment, read once: which CI, which commit, the run's and the job's pages."""

from __future__ import annotations

import pytest

from ci_deploy.ci_env import CiEnvironment, ci_environment

SHA = "3b18e512dba79e4c8300dd08aeb37f8e728b8dad"

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SHA": SHA,
    "GITHUB_SERVER_URL": "https://github.example/",
    "GITHUB_REPOSITORY": "octo/web",
    "GITHUB_RUN_ID": "99",
    "GITHUB_RUN_ATTEMPT": "2",
}
GITLAB = {
    "GITLAB_CI": "true",
    "CI_COMMIT_SHA": SHA,
    "CI_PIPELINE_URL": "https://gl.example/g/p/-/pipelines/3",
    "CI_JOB_URL": "https://gl.example/g/p/-/jobs/7",
}
JENKINS = {
    "JENKINS_URL": "https://jenkins.example/",
    "GIT_COMMIT": SHA,
    "BUILD_URL": "https://jenkins.example/job/web/12/",
}


def test_github_names_the_run_attempt_and_no_job_page() -> None:
    assert ci_environment(GITHUB) == CiEnvironment(
        system="github",
        commit=SHA,
        run_url="https://github.example/octo/web/actions/runs/99/attempts/2",
        job_url=None,
        on_github_runner=True,
    )
    assert ci_environment(GITHUB).log_url == (
        "https://github.example/octo/web/actions/runs/99/attempts/2"
    )


def test_gitlab_s_run_is_the_pipeline_and_its_job_is_the_job() -> None:
    ci = ci_environment(GITLAB)
    assert (ci.system, ci.commit, ci.on_github_runner) == ("gitlab", SHA, False)
    assert ci.run_url == "https://gl.example/g/p/-/pipelines/3"
    assert ci.job_url == ci.log_url == "https://gl.example/g/p/-/jobs/7"


def test_jenkins_build_is_both_the_run_and_the_job() -> None:
    ci = ci_environment(JENKINS)
    assert (ci.system, ci.commit) == ("jenkins", SHA)
    assert ci.run_url == ci.job_url == "https://jenkins.example/job/web/12/"


def test_no_ci_says_nothing() -> None:
    assert ci_environment({}) == CiEnvironment()
    assert CiEnvironment().system == "plain"
    assert CiEnvironment().log_url is None


@pytest.mark.parametrize(
    ("env", "run_url"),
    [
        # GitHub without the repository: no page can be built.
        ({"GITHUB_RUN_ID": "5"}, None),
        ({"GITHUB_REPOSITORY": "o/r"}, None),
        # The default server; an attempt that is not a number is left out.
        (
            {"GITHUB_RUN_ID": "5", "GITHUB_REPOSITORY": "o/r"},
            "https://github.com/o/r/actions/runs/5",
        ),
        (
            {"GITHUB_RUN_ID": "5", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ATTEMPT": "x"},
            "https://github.com/o/r/actions/runs/5",
        ),
        # GitLab with only a job page: the run's page is not known.
        ({"CI_JOB_URL": "https://gl.example/j/1"}, None),
        ({"BUILD_URL": "  "}, None),
    ],
)
def test_missing_variables_leave_the_run_page_unknown(
    env: dict[str, str], run_url: str | None
) -> None:
    assert ci_environment(env).run_url == run_url


def test_the_commit_is_the_first_one_set_and_stripped() -> None:
    assert ci_environment({"GITHUB_SHA": " ", "CI_COMMIT_SHA": f" {SHA}\n"}).commit == SHA
    assert ci_environment({"GIT_COMMIT": "abc"}).commit == "abc"
    assert ci_environment({"GITHUB_SHA": ""}).commit is None


def test_the_system_is_named_by_the_ci_s_own_flag() -> None:
    assert ci_environment({"GITHUB_ACTIONS": "true"}).system == "github"
    assert ci_environment({"GITHUB_ACTIONS": "false"}).system == "plain"
    assert ci_environment({"GITLAB_CI": "true"}).system == "gitlab"
    assert ci_environment({"JENKINS_URL": "http://jenkins"}).system == "jenkins"
    # GitHub's runner is known by its flag alone, whatever the other variables say.
    assert not ci_environment({"GITHUB_RUN_ID": "5", "GITHUB_REPOSITORY": "o/r"}).on_github_runner


def test_one_ci_s_pages_are_never_mixed_with_another_s() -> None:
    ci = ci_environment({**JENKINS, **GITLAB})
    assert (ci.run_url, ci.job_url) == (GITLAB["CI_PIPELINE_URL"], GITLAB["CI_JOB_URL"])
