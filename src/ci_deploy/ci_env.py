"""Which CI runs us, on which commit, and the run's and the job's pages: read from the environment
snapshot once, by ``ci_environment``, and handed to what needs it (docs/architecture.md).

The one place that reads the CI systems' own variables:

- GitHub Actions (``GITHUB_ACTIONS=true``): the commit is ``GITHUB_SHA``; the run's page is
  ``GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID``, plus ``/attempts/N`` when
  ``GITHUB_RUN_ATTEMPT`` is a number (a re-run has its own page); the environment names no job
  page. https://docs.github.com/en/actions/reference/workflows-and-actions/variables
- GitLab CI (``GITLAB_CI=true``): ``CI_COMMIT_SHA``; the run is the pipeline
  (``CI_PIPELINE_URL``), the job is ``CI_JOB_URL``. https://docs.gitlab.com/ci/variables/predefined_variables/
- Jenkins (``JENKINS_URL``): ``GIT_COMMIT`` (the Git plugin); the build is both the run and the
  job (``BUILD_URL``).

Each value comes from the first CI whose variables are set, in that order, so a run started by
hand with only some of them still gets what they name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GITHUB_SERVER = "https://github.com"


@dataclass(frozen=True)
class CiEnvironment:
    """What the CI environment says about this run (None: it does not say)."""

    system: str = "plain"  # github | gitlab | jenkins | plain
    commit: str | None = None
    run_url: str | None = None  # the whole run: GitHub's workflow run, GitLab's pipeline
    job_url: str | None = None  # this job's log where the CI names one
    on_github_runner: bool = False

    @property
    def log_url(self) -> str | None:
        """The page with this job's log: the job's, else the run's."""
        return self.job_url or self.run_url


def ci_environment(env: Mapping[str, str]) -> CiEnvironment:
    """The CI environment of ``env`` (a snapshot of the process environment)."""
    pages = _github_pages(env) or _gitlab_pages(env) or _jenkins_pages(env)
    run_url, job_url = pages or (None, None)
    return CiEnvironment(
        system=_system(env),
        commit=_first(env, "GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"),
        run_url=run_url,
        job_url=job_url,
        # The runner sets GITHUB_ACTIONS=true for every process it starts (ProcessInvoker.cs),
        # and GitHub documents it as always set when Actions runs the workflow.
        on_github_runner=env.get("GITHUB_ACTIONS") == "true",
    )


def _system(env: Mapping[str, str]) -> str:
    if env.get("GITHUB_ACTIONS") == "true":
        return "github"
    if env.get("GITLAB_CI") == "true":
        return "gitlab"
    if env.get("JENKINS_URL"):
        return "jenkins"
    return "plain"


def _first(env: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` set to something other than blanks, stripped."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


Pages = tuple[str | None, str | None]  # (run, job)


def _github_pages(env: Mapping[str, str]) -> Pages | None:
    run_id = _first(env, "GITHUB_RUN_ID")
    repository = _first(env, "GITHUB_REPOSITORY")
    if run_id is None or repository is None:
        return None
    server = (_first(env, "GITHUB_SERVER_URL") or GITHUB_SERVER).rstrip("/")
    url = f"{server}/{repository}/actions/runs/{run_id}"
    attempt = _first(env, "GITHUB_RUN_ATTEMPT") or ""
    return (f"{url}/attempts/{attempt}" if attempt.isdigit() else url), None


def _gitlab_pages(env: Mapping[str, str]) -> Pages | None:
    pipeline, job = _first(env, "CI_PIPELINE_URL"), _first(env, "CI_JOB_URL")
    return (pipeline, job) if pipeline or job else None


def _jenkins_pages(env: Mapping[str, str]) -> Pages | None:
    build = _first(env, "BUILD_URL")
    return (build, build) if build else None
