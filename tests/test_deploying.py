"""Deploy's pure parts: CreateDeployment parameters, descriptions, the result object, verdicts,
and the terminal renderer."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest

from ci_deploy.aws.codedeploy import (
    AutoRollback,
    Deployment,
    LifecycleEvent,
    NewDeployment,
    Target,
    create_deployment_params,
)
from ci_deploy.ci_env import ci_environment
from ci_deploy.commands import Streams
from ci_deploy.commands._watching import conclude
from ci_deploy.deploying.options import (
    DeploymentOptions,
    auto_rollback,
    default_description,
    new_deployment,
    truncate_description,
)
from ci_deploy.deploying.regions import Outcome, run_regions
from ci_deploy.errors import InputError, Interrupted
from ci_deploy.events import (
    DeploymentStatusChanged,
    Diagnostics,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    Notice,
    TargetStatusChanged,
    discard,
)
from ci_deploy.report import reporter_for
from ci_deploy.report.console import LiveReporter, format_snapshot, make_reporter
from ci_deploy.report.text import PlainReporter
from ci_deploy.result import (
    RegionError,
    RegionRun,
    build_result,
    console_url,
    failure_summary,
    worst_status,
)
from ci_deploy.watch import Verdict

S3_REVISION = {
    "revisionType": "S3",
    "s3Location": {"bucket": "b", "key": "k.zip", "bundleType": "zip", "eTag": "e", "version": "v"},
}


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-east-1", "console.aws.amazon.com"),
        ("cn-north-1", "console.amazonaws.cn"),
        ("us-gov-west-1", "console.amazonaws-us-gov.com"),
    ],
)
def test_console_url_uses_the_partition_host(region: str, host: str) -> None:
    assert console_url(region, "d-1") == (
        f"https://{host}/codesuite/codedeploy/deployments/d-1?region={region}"
    )


def test_worst_status_across_regions() -> None:
    assert worst_status(["Succeeded", "Stopped", "InProgress"]) == "Stopped"
    assert worst_status(["Succeeded", "Failed", "Stopped"]) == "Failed"
    assert worst_status(["Succeeded", "Ready"]) == "Ready"


def test_description_names_the_commit_and_run_of_each_ci() -> None:
    gitlab = {"CI_COMMIT_SHA": "abcdef0123456789", "CI_PIPELINE_URL": "https://gl/p/1"}
    jenkins = {"GIT_COMMIT": "fedcba9876543210", "BUILD_URL": "https://ci/job/9/"}
    github = {"GITHUB_SHA": "0" * 40, "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "77"}
    assert default_description(ci_environment(gitlab)) == (
        "ci-deploy: commit abcdef012345, run https://gl/p/1"
    )
    assert default_description(ci_environment(jenkins)) == (
        "ci-deploy: commit fedcba987654, run https://ci/job/9/"
    )
    assert default_description(ci_environment({})) is None
    assert default_description(ci_environment({**github, "GITHUB_RUN_ATTEMPT": "2"})) == (
        "ci-deploy: commit 000000000000, run https://github.com/o/r/actions/runs/77/attempts/2"
    )
    # A run id without its repository makes no link: the commit alone is named.
    assert default_description(ci_environment({"GITHUB_SHA": "0" * 40, "GITHUB_RUN_ID": "77"})) == (
        "ci-deploy: commit 000000000000"
    )


def test_a_long_default_description_keeps_the_commit_within_256_characters() -> None:
    env = {"CI_COMMIT_SHA": "f" * 40, "CI_PIPELINE_URL": "https://gitlab.example/" + "g" * 300}
    text = default_description(ci_environment(env))
    assert text is not None
    assert len(text) == 256
    assert text.startswith("ci-deploy: commit ffffffffffff, run https://gitlab.example/ggg")
    assert text.endswith("…")


def test_descriptions_are_cut_to_256_characters() -> None:
    cut = truncate_description("x" * 300)
    assert len(cut) == 256
    assert cut.endswith("…")
    assert truncate_description("short") == "short"


def test_auto_rollback_events() -> None:
    assert auto_rollback(()) is None
    assert auto_rollback(("none",)) == AutoRollback(enabled=False)
    chosen = auto_rollback(("stop-on-request", "failure", "failure"))
    assert chosen == AutoRollback(True, ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"))
    with pytest.raises(InputError, match=r"'none' \(--no-auto-rollback\) cannot be combined"):
        auto_rollback(("none", "failure"))

    def sent(rollback: AutoRollback) -> object:
        new = NewDeployment("web", "prod", S3_REVISION, auto_rollback=rollback)
        return create_deployment_params(new, "Server")["autoRollbackConfiguration"]

    assert sent(AutoRollback(enabled=False)) == {"enabled": False}
    assert sent(chosen) == {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"],
    }


def test_file_exists_behavior_only_for_server() -> None:
    options = DeploymentOptions("web", "prod", file_exists_behavior="RETAIN")
    new = new_deployment(options, S3_REVISION)
    assert create_deployment_params(new, "Server")["fileExistsBehavior"] == "RETAIN"
    for platform in ("ECS", "Lambda"):
        assert "fileExistsBehavior" not in create_deployment_params(new, platform)


def run(region: str, status: str, did: str, error: tuple[str, str] | None = None) -> RegionRun:
    diag = Diagnostics("ScriptFailed", "scripts/check.sh", "exit 1", "line one\nline two\n")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    end = datetime(2026, 1, 1, 0, 0, 2, 500000, tzinfo=timezone.utc)
    event = LifecycleEvent("ValidateService", "Failed" if error else "Succeeded", start, end, diag)
    target = Target("i-1", "Failed" if error else "Succeeded", (event,))
    deployment = Deployment(
        did,
        status,
        application="web",
        deployment_group="prod",
        overview={"Succeeded": 0 if error else 1, "Failed": 1 if error else 0},
        error_code=error[0] if error else None,
        error_message=error[1] if error else None,
        rollback_deployment_id="d-RB" if error else None,
        create_time=start,
    )
    return RegionRun(region, deployment, {"i-1": target}, revision=S3_REVISION, bundle_sha256="ab")


def test_result_of_two_regions() -> None:
    built = build_result(
        [
            run("us-east-1", "Succeeded", "d-A"),
            run("eu-west-1", "Failed", "d-B", ("HEALTH_CONSTRAINTS", "bad")),
        ],
        total_seconds=12.3456,
    )
    result = built.as_json()
    assert result["region"] == "us-east-1"
    assert result["regions"] == ["us-east-1", "eu-west-1"]
    assert result["deployment_id"] == "d-A"
    assert result["deployment_ids"] == {"us-east-1": "d-A", "eu-west-1": "d-B"}
    assert result["status"] == "Failed"
    assert result["application"] == "web"
    assert result["revision"] == S3_REVISION
    assert result["bundle_sha256"] == "ab"
    assert result["timings"] == {
        "total_seconds": 12.346,
        "create_time": "2026-01-01T00:00:00+00:00",
        "complete_time": None,
    }
    failed = result["deployments"][1]
    assert failed["error"] == {"code": "HEALTH_CONSTRAINTS", "message": "bad"}
    assert failed["rollback_deployment_id"] == "d-RB"
    event = failed["targets"][0]["lifecycle_events"][0]
    assert event["duration_seconds"] == 2.5
    assert event["diagnostics"]["script_name"] == "scripts/check.sh"
    # Succeeded events carry no diagnostics.
    assert result["targets"][0]["lifecycle_events"][0]["diagnostics"] is None
    assert failure_summary(built) == [
        "deployment d-B (eu-west-1) Failed: HEALTH_CONSTRAINTS: bad",
        "  i-1: ValidateService failed (scripts/check.sh)",
        "    ScriptFailed: exit 1",
        "    log tail:",
        "    | line one",
        "    | line two",
        "  rollback deployment: d-RB",
        "  console: https://console.aws.amazon.com/codesuite/codedeploy/deployments/d-B?region=eu-west-1",
    ]


def test_the_worst_verdict_decides() -> None:
    first = run("us-east-1", "Succeeded", "d-A")
    outcome = Outcome([first], {"us-east-1": "succeeded", "eu-west-1": "timeout"})
    assert outcome.verdict == "timeout"
    outcome.verdicts["ap-south-1"] = "cancelled"
    assert outcome.verdict == "cancelled"
    assert Outcome([first], {"us-east-1": None}).verdict is None


def test_snapshot_text() -> None:
    result = build_result([run("us-east-1", "Failed", "d-B", ("HEALTH_CONSTRAINTS", "bad"))])
    text = format_snapshot(result)
    assert text.splitlines()[:4] == [
        "deployment d-B (us-east-1): Failed",
        "  targets: Failed 1",
        "  error: HEALTH_CONSTRAINTS: bad",
        "  i-1: Failed",
    ]
    assert "      ScriptFailed scripts/check.sh: exit 1" in text
    assert "      | line two" in text


def test_live_view_redraws_in_place_and_keeps_failures_above() -> None:
    stream = io.StringIO()
    live = LiveReporter(stream, width=80)
    live.event(DeploymentStatusChanged("d-1", "InProgress", {"InProgress": 2}))
    live.event(TargetStatusChanged("d-1", "i-1", "InProgress"))
    live.event(LifecycleEventStarted("d-1", "i-1", "Install"))
    diag = Diagnostics("ScriptFailed", "s.sh", "exit 1", "boom\n")
    live.event(LifecycleEventEnded("d-1", "i-1", "Install", "Failed", 1.0, diag))
    live.event(Notice("a note"))
    text = stream.getvalue()
    # Each redraw moves up over the previous block and clears it.
    assert "\x1b[2F\x1b[J" in text
    assert text.count("ScriptFailed s.sh: exit 1") == 1
    assert text.count("a note\n") == 1
    final_block = text.rsplit("\x1b[J", 1)[-1]
    assert final_block.splitlines() == [
        "a note",
        "deployment d-1: InProgress (InProgress 2)",
        "  i-1                  InProgress  Install Failed 1.0s",
    ]


def test_live_view_only_on_a_terminal() -> None:
    tty = Streams(io.StringIO(), io.StringIO(), interactive=True)
    log = Streams(io.StringIO(), io.StringIO(), interactive=False)
    assert isinstance(make_reporter(tty, {"TERM": "xterm"}), LiveReporter)
    assert isinstance(make_reporter(tty, {"TERM": "dumb"}), PlainReporter)
    assert isinstance(make_reporter(log, {}), PlainReporter)
    assert isinstance(reporter_for("plain", tty, {"TERM": "xterm"}), LiveReporter)
    assert isinstance(reporter_for("jenkins", tty, {"TERM": "xterm"}), PlainReporter)


def test_live_view_keeps_a_block_per_deployment_of_several_regions() -> None:
    stream = io.StringIO()
    live = LiveReporter(stream, width=80)
    live.event(DeploymentStatusChanged("d-US", "InProgress", region="us-east-1"))
    live.event(TargetStatusChanged("d-US", "i-1", "InProgress", region="us-east-1"))
    live.event(DeploymentStatusChanged("d-EU", "InProgress", region="eu-west-1"))
    live.event(TargetStatusChanged("d-EU", "i-1", "Succeeded", region="eu-west-1"))
    live.event(LifecycleEventStarted("d-US", "i-1", "Install", region="us-east-1"))
    final_block = stream.getvalue().rsplit("\x1b[J", 1)[-1]
    # The same target id in two regions: two rows, each under its own deployment.
    assert final_block.splitlines() == [
        "[us-east-1] deployment d-US: InProgress",
        "  i-1                  InProgress  Install …",
        "[eu-west-1] deployment d-EU: InProgress",
        "  i-1                  Succeeded",
    ]


def test_result_keeps_a_region_that_got_no_deployment() -> None:
    missing = RegionRun(
        "eu-west-1",
        None,
        error=RegionError(
            "CreateDeployment (eu-west-1): AccessDeniedException: no",
            "AccessDeniedException",
            "check the IAM policy",
        ),
    )
    built = build_result(
        [run("us-east-1", "Succeeded", "d-A"), missing], skipped_regions=["ap-south-1"]
    )
    result = built.as_json()
    assert result["status"] == "Error"
    assert result["deployment_id"] == "d-A"
    assert result["deployment_ids"] == {"us-east-1": "d-A", "eu-west-1": None}
    assert result["skipped_regions"] == ["ap-south-1"]
    assert result["deployments"][1]["error"] == {
        "code": "AccessDeniedException",
        "message": "CreateDeployment (eu-west-1): AccessDeniedException: no",
        "hint": "check the IAM policy",
    }
    assert failure_summary(built) == [
        "region eu-west-1: no deployment: CreateDeployment (eu-west-1): AccessDeniedException: no"
    ]
    # A region that failed first does not take the top-level fields from one that deployed.
    assert build_result([missing, run("us-east-1", "Succeeded", "d-A")]).region == "us-east-1"


def test_a_serial_rollout_cancelled_before_creating_keeps_the_regions_deployed() -> None:
    def one_region(region: str | None, sink: object) -> tuple[RegionRun, Verdict | None]:
        if region == "eu-west-1":
            raise KeyboardInterrupt("SIGTERM")  # during its upload or CreateDeployment
        return run(str(region), "Succeeded", "d-A"), "succeeded"

    events: list[Event] = []
    done = run_regions(
        ["us-east-1", "eu-west-1", "ap-south-1"], one_region, rollout="serial", sink=events.append
    )
    outcome = done.outcome(DeploymentOptions("web", "prod"), 3.0)
    streams = Streams(io.StringIO(), io.StringIO())
    with pytest.raises(Interrupted) as cancelled:
        conclude(outcome, streams, PlainReporter(streams))
    assert cancelled.value.exit_code == 130
    assert cancelled.value.message == "cancelled in eu-west-1 before a deployment was created"
    result = json.loads(streams.stdout.getvalue())
    assert [(d["region"], d["status"]) for d in result["deployments"]] == [
        ("us-east-1", "Succeeded"),
        ("eu-west-1", "Error"),
    ]
    assert result["deployments"][1]["error"]["code"] == "Cancelled"
    assert result["skipped_regions"] == ["ap-south-1"]


def test_a_cancel_before_any_region_deployed_is_not_swallowed() -> None:
    def one_region(region: str | None, sink: object) -> tuple[RegionRun, Verdict | None]:
        raise KeyboardInterrupt("SIGINT")

    with pytest.raises(KeyboardInterrupt):
        run_regions(["us-east-1", "eu-west-1"], one_region, rollout="serial", sink=discard)
