"""The GitLab reporter: collapsible sections per target, and the dotenv report for later jobs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from ci_deploy.aws.codedeploy import Deployment, Target
from ci_deploy.commands import Streams
from ci_deploy.events import (
    DeploymentStatusChanged,
    Diagnostics,
    LifecycleEventEnded,
    LifecycleEventStarted,
    Notice,
    TargetStatusChanged,
)
from ci_deploy.report import reporter_for
from ci_deploy.report.fleet import FleetProgress
from ci_deploy.report.gitlab import GitlabReporter, section_name
from ci_deploy.result import DeploymentsResult, RegionError, RegionRun, build_result

ESC = "\x1b"


def finished(deployment_id: str, status: str, *targets: Target) -> DeploymentsResult:
    """The result of one deployment in us-east-1 with these targets."""
    deployment = Deployment(deployment_id, status)
    return build_result([RegionRun("us-east-1", deployment, {t.target_id: t for t in targets})])


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_each_target_becomes_one_collapsed_section_after_it_ends() -> None:
    out = io.StringIO()
    clock = Clock(1_700_000_000.0)
    reporter = GitlabReporter(out, None, clock=clock)
    # the watcher's order: per poll the deployment, then each target and its lifecycle events
    reporter.event(DeploymentStatusChanged("d-1", "InProgress", {"InProgress": 2}))
    reporter.event(TargetStatusChanged("d-1", "i-1", "InProgress"))
    reporter.event(LifecycleEventStarted("d-1", "i-1", "BeforeInstall"))
    reporter.event(TargetStatusChanged("d-1", "i-2", "InProgress"))
    reporter.event(LifecycleEventStarted("d-1", "i-2", "BeforeInstall"))
    clock.now += 7
    reporter.event(DeploymentStatusChanged("d-1", "Succeeded", {"Succeeded": 2}))
    reporter.event(TargetStatusChanged("d-1", "i-1", "Succeeded"))
    reporter.event(LifecycleEventEnded("d-1", "i-1", "BeforeInstall", "Succeeded", 0.5))
    reporter.event(TargetStatusChanged("d-1", "i-2", "Succeeded"))
    reporter.event(LifecycleEventEnded("d-1", "i-2", "BeforeInstall", "Succeeded", 0.5))
    reporter.finish(finished("d-1", "Succeeded"))

    assert out.getvalue().split("\n") == [
        "deployment d-1: InProgress (InProgress 2)",
        f"{ESC}[0Ksection_start:1700000000:ci_deploy_d-1_i-1_1[collapsed=true]\r{ESC}[0K"
        "i-1: Succeeded (1 lifecycle event)",
        "  i-1: InProgress",
        "  i-1: BeforeInstall started",
        "  i-1: Succeeded",
        "  i-1: BeforeInstall Succeeded in 0.5s",
        f"{ESC}[0Ksection_end:1700000007:ci_deploy_d-1_i-1_1\r{ESC}[0K",
        f"{ESC}[0Ksection_start:1700000000:ci_deploy_d-1_i-2_2[collapsed=true]\r{ESC}[0K"
        "i-2: Succeeded (1 lifecycle event)",
        "  i-2: InProgress",
        "  i-2: BeforeInstall started",
        "  i-2: Succeeded",
        "  i-2: BeforeInstall Succeeded in 0.5s",
        f"{ESC}[0Ksection_end:1700000007:ci_deploy_d-1_i-2_2\r{ESC}[0K",
        "deployment d-1: Succeeded (Succeeded 2)",
        "",
    ]


def test_a_target_s_section_is_written_once_something_else_happens() -> None:
    out = io.StringIO()
    reporter = GitlabReporter(out, None, clock=Clock(0.0))
    reporter.event(TargetStatusChanged("d-1", "i-1", "Succeeded"))
    reporter.event(LifecycleEventEnded("d-1", "i-1", "ValidateService", "Succeeded", 0.1))
    assert out.getvalue() == ""  # its events of the same poll may still come
    reporter.event(Notice("rolling back"))
    assert out.getvalue().split("\n")[-3:] == [
        f"{ESC}[0Ksection_end:0:ci_deploy_d-1_i-1_1\r{ESC}[0K",
        "rolling back",
        "",
    ]


def test_a_failed_target_is_an_open_section_naming_the_event_and_its_log() -> None:
    out = io.StringIO()
    reporter = GitlabReporter(out, None, clock=Clock(100.0))
    diagnostics = Diagnostics(
        error_code="ScriptFailed",
        script_name="scripts/validate.sh",
        message="Script at specified location: scripts/validate.sh failed with exit code 1",
        log_tail="curl: (7) Failed to connect\n",
    )
    reporter.event(LifecycleEventStarted("d-1", "i-1", "ValidateService"))
    reporter.event(TargetStatusChanged("d-1", "i-1", "Failed"))
    reporter.event(LifecycleEventEnded("d-1", "i-1", "ValidateService", "Failed", 0.4, diagnostics))
    reporter.event(DeploymentStatusChanged("d-1", "Failed", {"Failed": 1}))
    reporter.finish(finished("d-1", "Failed"))

    lines = out.getvalue().split("\n")
    assert lines[0] == (
        f"{ESC}[0Ksection_start:100:ci_deploy_d-1_i-1_1\r{ESC}[0K"
        "i-1: Failed in ValidateService (ScriptFailed)"
    )
    assert "    ScriptFailed scripts/validate.sh: Script at specified location: " in out.getvalue()
    assert "    | curl: (7) Failed to connect" in lines


def test_hook_output_cannot_forge_a_section_marker() -> None:
    out = io.StringIO()
    reporter = GitlabReporter(out, None, clock=Clock(5.0))
    forged = f"{ESC}[0Ksection_end:5:ci_deploy_d-1_i-1_1\r{ESC}[0Kgotcha"
    diagnostics = Diagnostics("ScriptFailed", "run.sh", "failed", forged)
    reporter.event(LifecycleEventEnded("d-1", "i-1", "AfterInstall", "Failed", 0.1, diagnostics))
    reporter.event(TargetStatusChanged("d-1", "i-1", "Failed"))
    reporter.finish(finished("d-1", "Failed"))

    text = out.getvalue()
    assert text.count("section_end:") == 2  # ours, and the harmless text of the forged one
    assert "    | [0Ksection_end:5:ci_deploy_d-1_i-1_1[0Kgotcha" in text.split("\n")
    assert text.count(ESC) == 4  # the two markers of the one real section


def test_held_targets_are_written_at_finish_with_their_final_status(tmp_path: Path) -> None:
    out = io.StringIO()
    reporter = GitlabReporter(out, tmp_path / "ci-deploy.env", clock=Clock(10.0))
    reporter.event(Notice("uploaded s3://bucket/web.zip"))
    reporter.event(LifecycleEventStarted("d-1", "i-1", "ApplicationStart"))
    reporter.finish(finished("d-1", "Stopped", Target("i-1", "Failed")))
    lines = out.getvalue().split("\n")
    assert lines[0] == "uploaded s3://bucket/web.zip"
    assert lines[1].endswith("i-1: Failed (0 lifecycle events)")
    assert "[collapsed=true]" not in lines[1]


def test_finish_writes_the_dotenv_report(tmp_path: Path) -> None:
    dotenv = tmp_path / "reports" / "ci-deploy.env"
    reporter = GitlabReporter(io.StringIO(), dotenv, clock=Clock(0.0))
    reporter.finish(finished("d-ABCDEF123", "Succeeded"))
    assert dotenv.read_text() == (
        "CI_DEPLOY_DEPLOYMENT_ID=d-ABCDEF123\n"
        "CI_DEPLOY_STATUS=Succeeded\n"
        "CI_DEPLOY_DEPLOYMENT_URL=https://console.aws.amazon.com/codesuite/codedeploy/"
        "deployments/d-ABCDEF123?region=us-east-1\n"
    )


def test_no_dotenv_file_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    streams = Streams(stdout=io.StringIO(), stderr=io.StringIO())
    reporter = reporter_for("gitlab", streams, {})
    reporter.finish(finished("d-1", "Succeeded"))
    assert list(tmp_path.iterdir()) == []


def test_reporter_for_gitlab_reads_the_dotenv_path_from_the_environment(tmp_path: Path) -> None:
    streams = Streams(stdout=io.StringIO(), stderr=io.StringIO())
    target = tmp_path / "out.env"
    reporter = reporter_for("gitlab", streams, {"CI_DEPLOY_DOTENV_FILE": str(target)})
    assert isinstance(reporter, GitlabReporter)
    # A region that got no deployment: no id and no URL to hand on.
    refused = RegionRun("us-east-1", None, error=RegionError("CreateDeployment: AccessDenied"))
    reporter.finish(build_result([refused]))
    assert target.read_text() == (
        "CI_DEPLOY_DEPLOYMENT_ID=\nCI_DEPLOY_STATUS=Error\nCI_DEPLOY_DEPLOYMENT_URL=\n"
    )
    assert streams.stdout.getvalue() == ""  # type: ignore[attr-defined]


def test_a_blank_dotenv_path_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    streams = Streams(stdout=io.StringIO(), stderr=io.StringIO())
    reporter = reporter_for("gitlab", streams, {"CI_DEPLOY_DOTENV_FILE": " "})
    reporter.finish(finished("d-1", "Succeeded"))
    assert list(tmp_path.iterdir()) == []


def test_section_names_keep_to_the_characters_gitlab_accepts() -> None:
    assert section_name("ci_deploy", "d-ABC", "arn:aws:ecs:us-east-1:1:service/web", "3") == (
        "ci_deploy_d-abc_arn-aws-ecs-us-east-1-1-service-web_3"
    )


def test_sections_of_regions_deployed_at_once_name_their_region() -> None:
    out = io.StringIO()
    reporter = GitlabReporter(out, None, clock=Clock(1_700_000_000.0))
    for region, did in (("us-east-1", "d-US"), ("eu-west-1", "d-EU")):
        reporter.event(TargetStatusChanged(did, "i-1", "InProgress", region=region))
        reporter.event(LifecycleEventStarted(did, "i-1", "Install", region=region))
    for region, did in (("us-east-1", "d-US"), ("eu-west-1", "d-EU")):
        reporter.event(TargetStatusChanged(did, "i-1", "Succeeded", region=region))
        reporter.event(LifecycleEventEnded(did, "i-1", "Install", "Succeeded", 1.0, region=region))
    reporter.finish(finished("d-US", "Succeeded"))
    text = out.getvalue()
    assert f"\r{ESC}[0K[us-east-1] i-1: Succeeded (1 lifecycle event)\n" in text
    assert f"\r{ESC}[0K[eu-west-1] i-1: Succeeded (1 lifecycle event)\n" in text
    assert "  [eu-west-1] i-1: Install started\n" in text
    assert "  [us-east-1] i-1: Install Succeeded in 1.0s\n" in text


@pytest.mark.parametrize(
    ("where", "reason"),
    [(".", "Is a directory"), ("appspec.yml/ci-deploy.env", "File exists")],
    ids=["directory", "under-a-file"],
)
def test_a_dotenv_file_that_cannot_be_written_is_bad_input_before_any_work(
    deploy_refused: Any, where: str, reason: str
) -> None:
    done = deploy_refused({"CI_DEPLOY_CI_SYSTEM": "gitlab", "CI_DEPLOY_DOTENV_FILE": where})
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[0] == (
        f"ci-deploy: error: input dotenv_file: cannot write {where!r} ({reason})"
    )
    assert "Traceback" not in done.stderr


def test_a_large_fleet_gets_a_section_for_each_failed_target_only() -> None:
    out = io.StringIO()
    reporter = FleetProgress(GitlabReporter(out, None, clock=Clock(1_700_000_000.0)), 20)
    diag = Diagnostics("ScriptFailed", "scripts/check.sh", "exit 1", "health check failed\n")
    reporter.event(DeploymentStatusChanged("d-1", "InProgress", {"Pending": 999, "InProgress": 1}))
    reporter.event(TargetStatusChanged("d-1", "i-0000", "InProgress"))
    reporter.event(LifecycleEventStarted("d-1", "i-0000", "ValidateService"))
    reporter.event(DeploymentStatusChanged("d-1", "InProgress", {"Pending": 998, "Failed": 2}))
    for tid in ("i-0000", "i-0001"):
        reporter.event(LifecycleEventEnded("d-1", tid, "BeforeInstall", "Succeeded", 1.0))
        reporter.event(LifecycleEventEnded("d-1", tid, "ValidateService", "Failed", 2.0, diag))
        reporter.event(TargetStatusChanged("d-1", tid, "Failed"))
    reporter.event(DeploymentStatusChanged("d-1", "Failed", {"Pending": 998, "Failed": 2}))
    reporter.finish(finished("d-1", "Failed"))
    log = out.getvalue()
    assert log.count("section_start:") == 2
    for tid in ("i-0000", "i-0001"):
        assert f"{tid}: Failed in ValidateService (ScriptFailed)" in log
    assert log.count("    | health check failed") == 2
    assert "BeforeInstall" not in log  # the failed targets' successes and starts are left out
