"""The GitHub reporter: workflow commands, outputs file, job summary (ci_deploy.report.github)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ci_deploy.appspec import Diagnostic
from ci_deploy.aws.codedeploy import Deployment, LifecycleEvent, Target
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
from ci_deploy.report.github import GithubPaths, GithubReporter, make_reporter
from ci_deploy.report.github_commands import (
    annotation,
    escape_data,
    escape_property,
    workflow_command,
    write_output,
)
from ci_deploy.report.github_summary import SUMMARY_TARGET_ROWS, md_fenced, summary_markdown
from ci_deploy.report.runner_log import CommandGuard
from ci_deploy.result import DeploymentsResult, PushResult, RegionError, RegionRun, build_result
from github_harness import runner_commands

CONSOLE = (
    "https://console.aws.amazon.com/codesuite/codedeploy/deployments/d-ABCDEF123?region=us-east-1"
)


def tokens() -> object:
    counter = iter(range(1000))
    return lambda: f"tok{next(counter)}"


REVISION = {
    "revisionType": "S3",
    "s3Location": {
        "bucket": "b",
        "key": "web/abc.zip",
        "bundleType": "zip",
        "eTag": "e1",
        "version": "v1",
    },
}
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def lifecycle_event(
    name: str, seconds: float, diagnostics: Diagnostics | None = None
) -> LifecycleEvent:
    status = "Failed" if diagnostics else "Succeeded"
    return LifecycleEvent(name, status, START, START + timedelta(seconds=seconds), diagnostics)


def result(status: str = "Succeeded", failed: bool = False) -> DeploymentsResult:
    diagnostics = Diagnostics(
        "ScriptFailed",
        "scripts/validate.sh",
        "Script at specified location: scripts/validate.sh run as user root "
        "failed with exit code 3",
        "checking http://localhost/health\ncurl: (7) | refused ```x```\n",
    )
    targets = {}
    for n in (1, 2):
        fails = failed and n == 1
        events = (
            lifecycle_event("BeforeInstall", 1.25),
            lifecycle_event("ValidateService", 0.4, diagnostics if fails else None),
        )
        targets[f"i-{n}"] = Target(f"i-{n}", "Failed" if fails else "Succeeded", events)
    deployment = Deployment(
        "d-ABCDEF123",
        status,
        application="web",
        deployment_group="prod",
        overview={"Succeeded": 1 if failed else 2, "Failed": 1 if failed else 0},
        error_code="HEALTH_CONSTRAINTS" if failed else None,
        error_message="too many failed" if failed else None,
        create_time=START,
    )
    run = RegionRun("us-east-1", deployment, targets, revision=REVISION, bundle_sha256="a" * 64)
    return build_result([run], total_seconds=12.34)


def reporter(tmp_path: Path, source: Path | None = None) -> tuple[GithubReporter, io.StringIO]:
    stream = io.StringIO()
    paths = GithubPaths(
        output=tmp_path / "output",
        step_summary=tmp_path / "summary",
        workspace=tmp_path,
        source=source,
    )
    (tmp_path / "output").touch()
    return GithubReporter(stream, paths, secrets=["s3cr3t"], token=tokens()), stream  # type: ignore[arg-type]


def test_escaping_follows_the_runner_rules() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    line = workflow_command("error", "x\ny", file="dir/a,b.yml", line=3, col=None, title="")
    assert line == "::error file=dir/a%2Cb.yml,line=3::x%0Ay"


def test_annotation_leaves_out_empty_properties_and_positions_without_a_file() -> None:
    assert annotation("warning", "careful") == "::warning::careful"
    assert annotation("error", "bad", line=4, col=2) == "::error::bad"
    assert (
        annotation("error", "bad", title="AppSpec", file="appspec.yml", line=4, col=2)
        == "::error title=AppSpec,file=appspec.yml,line=4,col=2::bad"
    )
    with pytest.raises(ValueError, match="error, warning or notice"):
        annotation("fatal", "x")


def test_outputs_use_a_random_delimiter_and_survive_multiline_values(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, "revision", '{"a":\n1}', "t1")
    write_output(out, "status", "Succeeded", "t2")
    assert out.read_text() == (
        'revision<<ghadelimiter_t1\n{"a":\n1}\nghadelimiter_t1\nstatus<<ghadelimiter_t2\nSucceeded\nghadelimiter_t2\n'
    )
    with pytest.raises(ValueError, match="delimiter"):
        write_output(out, "evil", "x\nghadelimiter_t3\ninjected=1", "t3")


def test_secrets_are_masked_before_anything_else(tmp_path: Path) -> None:
    _, stream = reporter(tmp_path)
    assert stream.getvalue() == "::add-mask::s3cr3t\n"


def test_progress_is_grouped_per_deployment_and_closed_by_finish(tmp_path: Path) -> None:
    rep, stream = reporter(tmp_path)
    rep.event(Notice("uploaded web/abc.zip"))
    rep.event(DeploymentStatusChanged("d-ABCDEF123", "InProgress", {"InProgress": 2}))
    rep.event(TargetStatusChanged("d-ABCDEF123", "i-1", "InProgress"))
    rep.event(LifecycleEventStarted("d-ABCDEF123", "i-1", "BeforeInstall"))
    rep.event(LifecycleEventEnded("d-ABCDEF123", "i-1", "BeforeInstall", "Succeeded", 1.25))
    rep.event(DeploymentStatusChanged("d-ABCDEF123", "Succeeded", {"Succeeded": 2}))
    rep.event(TargetStatusChanged("d-ABCDEF123", "i-1", "Succeeded"))
    rep.finish(result())
    lines = stream.getvalue().splitlines()[1:-1]
    assert lines == [
        "::group::ci-deploy",
        "uploaded web/abc.zip",
        "::endgroup::",
        "::group::CodeDeploy deployment d-ABCDEF123",
        "deployment d-ABCDEF123: InProgress (InProgress 2)",
        "  i-1: InProgress",
        "  i-1: BeforeInstall started",
        "  i-1: BeforeInstall Succeeded in 1.2s",
        "deployment d-ABCDEF123: Succeeded (Succeeded 2)",
        "  i-1: Succeeded",
        "::endgroup::",
    ]


def test_warnings_become_annotations(tmp_path: Path) -> None:
    rep, stream = reporter(tmp_path)
    rep.event(Notice("bucket has no versioning", level="warning"))
    assert "::warning title=ci-deploy::bucket has no versioning" in stream.getvalue().splitlines()
    rep.event(Notice("polling throttled; retrying in 9s", "warning", region="eu-west-1"))
    assert (
        "::warning title=ci-deploy::[eu-west-1] polling throttled; retrying in 9s"
        in stream.getvalue().splitlines()
    )


def test_a_failed_hook_is_annotated_on_its_script_once_and_its_log_cannot_issue_commands(
    tmp_path: Path,
) -> None:
    source = tmp_path / "app"
    (source / "scripts").mkdir(parents=True)
    (source / "scripts" / "validate.sh").write_text("exit 3\n")
    rep, stream = reporter(tmp_path, source=Path("app"))
    diag = Diagnostics(
        "ScriptFailed", "scripts/validate.sh", "exit code 3", "ok\n::add-mask::x\n::error::fake\n"
    )
    for target in ("i-1", "i-2"):
        rep.event(
            LifecycleEventEnded("d-ABCDEF123", target, "ValidateService", "Failed", 0.4, diag)
        )
    text = stream.getvalue()
    annotations = [line for line in text.splitlines() if line.startswith("::error ")]
    assert annotations == [
        "::error title=CodeDeploy ValidateService failed,file=app/scripts/validate.sh::"
        "ScriptFailed scripts/validate.sh on i-1: exit code 3%0Aok%0A::add-mask::x%0A::error::fake"
    ]
    assert "::stop-commands::tok0\nok\n::add-mask::x\n::error::fake\n::tok0::" in text
    assert "    ScriptFailed scripts/validate.sh: exit code 3" in text


def test_a_failed_hook_whose_script_is_not_in_the_source_has_no_file(tmp_path: Path) -> None:
    rep, stream = reporter(tmp_path, source=Path("missing"))
    diag = Diagnostics("ScriptTimedOut", "scripts/slow.sh", "timed out", "")
    rep.event(LifecycleEventEnded("d-1", "i-1", "AfterInstall", "Failed", 30.0, diag))
    assert (
        "::error title=CodeDeploy AfterInstall failed::"
        "ScriptTimedOut scripts/slow.sh on i-1: timed out" in stream.getvalue().splitlines()
    )


def test_appspec_problems_are_annotated_on_file_line_and_column(tmp_path: Path) -> None:
    rep, stream = reporter(tmp_path)
    rep.appspec_problems(
        [
            Diagnostic(
                str(tmp_path / "app" / "appspec.yml"),
                7,
                5,
                "error",
                "hook-timeout",
                "timeout must be <= 3600",
            ),
            Diagnostic("app/appspec.yml", 2, 1, "warning", "os", "os: linux expected"),
        ]
    )
    lines = stream.getvalue().splitlines()
    assert (
        "::error title=AppSpec%3A hook-timeout,file=app/appspec.yml,line=7,col=5::"
        "timeout must be <= 3600" in lines
    )
    assert (
        "::warning title=AppSpec%3A os,file=app/appspec.yml,line=2,col=1::os: linux expected"
        in lines
    )


def test_finish_writes_every_output(tmp_path: Path) -> None:
    rep, _ = reporter(tmp_path)
    rep.finish(result())
    text = (tmp_path / "output").read_text()
    assert "deployment-id<<ghadelimiter_tok0\nd-ABCDEF123\nghadelimiter_tok0\n" in text
    assert (
        'deployment-ids<<ghadelimiter_tok1\n{"us-east-1": "d-ABCDEF123"}\nghadelimiter_tok1\n'
        in text
    )
    assert "status<<ghadelimiter_tok2\nSucceeded\nghadelimiter_tok2\n" in text
    assert f"deployment-url<<ghadelimiter_tok3\n{CONSOLE}\nghadelimiter_tok3\n" in text
    revision = text.split("revision<<ghadelimiter_tok4\n")[1].split("\nghadelimiter_tok4")[0]
    assert json.loads(revision)["s3Location"]["key"] == "web/abc.zip"
    assert f"bundle-sha256<<ghadelimiter_tok5\n{'a' * 64}\nghadelimiter_tok5\n" in text


def test_success_summary_has_facts_targets_and_the_console_link(tmp_path: Path) -> None:
    rep, stream = reporter(tmp_path)
    rep.finish(result())
    summary = (tmp_path / "summary").read_text()
    assert summary.startswith("## ✅ CodeDeploy web / prod: Succeeded\n")
    assert f"| Deployment | [`d-ABCDEF123`]({CONSOLE}) in us-east-1: ✅ Succeeded |" in summary
    assert "| Revision | `s3://b/web/abc.zip (type zip, version v1, ETag e1)` |" in summary
    assert "| Duration | 12.3 s |" in summary
    assert "| Target | Status | BeforeInstall | ValidateService |" in summary
    assert "| i-1 | ✅ Succeeded | ✅ 1.2 s | ✅ 0.4 s |" in summary
    assert f"[Open `d-ABCDEF123` in the CodeDeploy console]({CONSOLE})" in summary
    assert "Log tail" not in summary
    assert (
        f"::notice title=CodeDeploy::CodeDeploy deployment d-ABCDEF123 succeeded: {CONSOLE}"
        in stream.getvalue()
    )


def test_failure_summary_shows_the_script_message_and_log_tail() -> None:
    summary = summary_markdown(result("Failed", failed=True))
    assert summary.startswith("## ❌ CodeDeploy web / prod: Failed\n")
    assert "| Error | HEALTH_CONSTRAINTS too many failed |" in summary
    assert "| i-1 | ❌ Failed | ✅ 1.2 s | ❌ 0.4 s |" in summary
    assert "#### ❌ ValidateService failed on `i-1`" in summary
    assert "ScriptFailed · script `scripts/validate.sh`: Script at specified location" in summary
    # The log tail holds a ``` run, so the fence is longer; a | in it stays inside the fence.
    assert (
        "````text\nchecking http://localhost/health\ncurl: (7) | refused ```x```\n````" in summary
    )


def test_summary_of_several_regions_has_a_section_per_region() -> None:
    base = result()
    first = base.runs[0]
    assert first.deployment is not None
    second = replace(
        first,
        region="eu-west-1",
        deployment=replace(first.deployment, deployment_id="d-EU0000001", status="Failed"),
    )
    summary = summary_markdown(replace(base, runs=(first, second)))
    assert "### us-east-1: `d-ABCDEF123`" in summary
    assert "### eu-west-1: `d-EU0000001`" in summary
    assert "in eu-west-1: ❌ Failed" in summary


def test_md_fenced_outgrows_backticks() -> None:
    assert md_fenced("a\n`````b") == "``````text\na\n`````b\n``````"


def test_reporter_for_github_uses_the_runner_files(tmp_path: Path) -> None:
    (tmp_path / "out").touch()
    stderr = io.StringIO()
    env = {
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "sum"),
        "GITHUB_WORKSPACE": str(tmp_path),
        "CI_DEPLOY_GITHUB_TOKEN": "ghs_abc",
        "GITHUB_ACTIONS": "true",
    }
    rep = reporter_for("github", Streams(io.StringIO(), stderr), env)
    assert isinstance(rep, GithubReporter)
    rep.finish(result())
    assert stderr.getvalue().startswith("::add-mask::ghs_abc\n")
    assert "status<<ghadelimiter_" in (tmp_path / "out").read_text()
    assert (tmp_path / "sum").read_text().startswith("## ✅")


def test_the_token_is_announced_for_masking_only_on_githubs_runner() -> None:
    """Elsewhere (--ci-system github on another CI) no one masks: ::add-mask:: would print the
    token in clear, so it is not printed at all and a warning says masking is unavailable."""
    env = {"CI_DEPLOY_GITHUB_TOKEN": "ghs_secret_token"}
    elsewhere = io.StringIO()
    reporter_for("github", Streams(io.StringIO(), elsewhere), env).finish(result())
    assert "ghs_secret_token" not in elsewhere.getvalue()
    assert elsewhere.getvalue().startswith("warning: not on GitHub's runner (GITHUB_ACTIONS")
    assert "add-mask" not in elsewhere.getvalue()
    on_runner = io.StringIO()
    reporter_for("github", Streams(io.StringIO(), on_runner), {**env, "GITHUB_ACTIONS": "true"})
    assert on_runner.getvalue() == "::add-mask::ghs_secret_token\n"
    assert [c.name for c in runner_commands(on_runner.getvalue())] == ["add-mask"]


EVIL = "x\n::error::pwned\r  ::add-mask::leak ##[set-output name=status]pwned"


def test_text_from_elsewhere_is_printed_but_issues_no_workflow_command(tmp_path: Path) -> None:
    """Messages, ids and hook output come from AWS, file names and scripts: a line in them
    that the runner would obey (``::``/``##[``) is printed inside a stop-commands fence."""
    rep, stream = reporter(tmp_path)
    rep.event(Notice(f"uploaded {EVIL}"))
    rep.event(Notice(f"retrying {EVIL}", level="warning"))
    rep.event(DeploymentStatusChanged("d-1", "InProgress", {}, EVIL))
    rep.event(TargetStatusChanged("d-1", f"i-{EVIL}", "InProgress"))
    diag = Diagnostics("ScriptFailed", f"s/{EVIL}", EVIL, f"out\n{EVIL}\n")
    rep.event(LifecycleEventEnded("d-1", "i-1", "ValidateService", "Failed", 0.4, diag))
    rep.finish(result())
    log = stream.getvalue()
    assert "::error::pwned" in log and "##[set-output name=status]pwned" in log  # printed
    commands = runner_commands(log)
    assert [c.name for c in commands] == [
        "add-mask",
        "group",
        "warning",
        "endgroup",
        "group",
        "error",
        "endgroup",
        "notice",
    ]
    assert commands[0].message == "s3cr3t"
    assert commands[2].message == f"retrying {EVIL}"  # the whole text, as the annotation's
    assert commands[5].properties["title"] == "CodeDeploy ValidateService failed"


def test_a_guard_fences_obeyable_lines_of_its_text_and_passes_commands_as_is() -> None:
    out = io.StringIO()
    counter = iter(range(10))
    guard = CommandGuard(out, token=lambda: f"t{next(counter)}")
    guard.write("ok\n::error::a\n  ::warning::b\nfine ##[error]c\nok")
    guard.write(" again\nlast\r::notice::d")
    guard.command("::group::mine")
    guard.write("::endgroup::")
    guard.end()
    assert out.getvalue() == (
        "ok\n::stop-commands::t0\n::error::a\n  ::warning::b\nfine ##[error]c\n::t0::\n"
        "ok again\n::stop-commands::t1\nlast\r::notice::d\n::t1::\n::group::mine\n"
        "::stop-commands::t2\n::endgroup::\n::t2::\n"
    )
    assert [c.name for c in runner_commands(out.getvalue())] == ["group"]
    data = io.StringIO()
    json_guard = CommandGuard(data, json=True)
    json_guard.write(json.dumps({"key": "a ##[error]b"}) + "\n")
    assert "##[" not in data.getvalue()
    assert json.loads(data.getvalue()) == {"key": "a ##[error]b"}


def test_without_runner_files_finish_only_prints(tmp_path: Path) -> None:
    stderr = io.StringIO()
    rep = make_reporter(Streams(io.StringIO(), stderr), {})
    rep.finish(result())
    assert "::notice" in stderr.getvalue()
    assert list(tmp_path.iterdir()) == []


def test_a_pushed_revision_has_its_own_summary_and_outputs(tmp_path: Path) -> None:
    rep, _ = reporter(tmp_path)
    pushed = PushResult(
        revision=REVISION,
        bundle_sha256="b" * 64,
        uploaded=True,
        size=3856,
        registered=True,
        region="us-east-1",
    )
    rep.finish(pushed)
    summary = (tmp_path / "summary").read_text()
    assert summary.startswith("## 📦 CodeDeploy revision uploaded\n")
    assert "| Revision | `s3://b/web/abc.zip (type zip, version v1, ETag e1)` |" in summary
    assert "| Bundle SHA-256 | `" + "b" * 64 + "` |" in summary
    outputs = (tmp_path / "output").read_text()
    assert "deployment-id<<ghadelimiter_tok0\n\nghadelimiter_tok0\n" in outputs
    assert "deployment-ids<<ghadelimiter_tok1\n{}\nghadelimiter_tok1\n" in outputs
    assert f"bundle-sha256<<ghadelimiter_tok5\n{'b' * 64}\nghadelimiter_tok5\n" in outputs


def test_regions_deployed_at_once_are_named_in_groups_and_lines(tmp_path: Path) -> None:
    rep, stream = reporter(tmp_path)
    rep.event(DeploymentStatusChanged("d-US", "InProgress", region="us-east-1"))
    rep.event(TargetStatusChanged("d-US", "i-1", "InProgress", region="us-east-1"))
    rep.event(DeploymentStatusChanged("d-EU", "InProgress", region="eu-west-1"))
    diag = Diagnostics("ScriptFailed", "scripts/validate.sh", "exit code 3", "")
    rep.event(
        LifecycleEventEnded("d-EU", "i-1", "ValidateService", "Failed", 0.4, diag, "eu-west-1")
    )
    lines = stream.getvalue().splitlines()
    assert lines[1:] == [
        "::group::CodeDeploy deployment d-US (us-east-1)",
        "[us-east-1] deployment d-US: InProgress",
        "  [us-east-1] i-1: InProgress",
        "::endgroup::",
        "::group::CodeDeploy deployment d-EU (eu-west-1)",
        "[eu-west-1] deployment d-EU: InProgress",
        "  [eu-west-1] i-1: ValidateService Failed in 0.4s",
        "    ScriptFailed scripts/validate.sh: exit code 3",
        "::error title=CodeDeploy ValidateService failed::"
        "ScriptFailed scripts/validate.sh on i-1: exit code 3",
    ]


def test_summary_names_a_region_that_got_no_deployment() -> None:
    base = result()
    missing = RegionRun(
        "eu-west-1",
        None,
        error=RegionError(
            "CreateDeployment (eu-west-1): AccessDeniedException: not authorized",
            "AccessDeniedException",
        ),
    )
    summary = summary_markdown(replace(base, runs=(base.runs[0], missing)))
    assert summary.startswith("## ❌ CodeDeploy web / prod: Error\n")
    assert "| Deployment | no deployment in eu-west-1: ❌ Error |" in summary
    assert "### eu-west-1: no deployment" in summary
    assert (
        "Not deployed: CreateDeployment (eu-west-1): AccessDeniedException: not authorized"
        in summary
    )
    assert "`None`" not in summary


# -- the runner's files, through the real CLI ------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "where", "reason"),
    [
        ("GITHUB_OUTPUT", "missing/out", "No such file or directory"),
        ("GITHUB_STEP_SUMMARY", ".", "Is a directory"),
    ],
    ids=["missing-dir", "directory"],
)
def test_a_runner_file_that_cannot_be_written_is_bad_input_before_any_work(
    tmp_path: Path, deploy_refused: Any, variable: str, where: str, reason: str
) -> None:
    """Checked before anything reaches AWS, so a broken set-up never costs a deployment whose
    outputs are then lost."""
    done = deploy_refused({"CI_DEPLOY_CI_SYSTEM": "github", variable: str(tmp_path / where)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[0] == (
        f"ci-deploy: error: {variable}: cannot write {str(tmp_path / where)!r} ({reason})"
    )
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_summary_table_lists_failed_then_unfinished_targets_first_and_caps_the_rest() -> None:
    base = result("InProgress")
    first = base.runs[0]
    assert first.deployment is not None
    done = (lifecycle_event("BeforeInstall", 1.0),)
    targets = {f"i-{n:03d}": Target(f"i-{n:03d}", "Succeeded", done) for n in range(40)}
    targets["i-035"] = Target("i-035", "Failed", done)
    targets["i-038"] = Target("i-038", "InProgress", done)
    # A large fleet's view holds only some of its 1,000 targets: the counts hold the rest.
    overview = {"Succeeded": 997, "Failed": 1, "InProgress": 1, "Pending": 1}
    run = replace(first, targets=targets, deployment=replace(first.deployment, overview=overview))
    summary = summary_markdown(replace(base, runs=(run,)))
    rows = [line for line in summary.splitlines() if line.startswith("| `i-") or "| i-" in line]
    assert len(rows) == SUMMARY_TARGET_ROWS
    assert "i-035" in rows[0] and "Failed" in rows[0]
    assert "i-038" in rows[1] and "InProgress" in rows[1]
    assert "i-000" in rows[2]
    assert f"… and {1000 - SUMMARY_TARGET_ROWS} more targets (counts above)." in summary
