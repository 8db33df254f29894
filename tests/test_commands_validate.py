"""`ci-deploy validate`: output formats, exit codes, inputs from flags and environment, the
shipped examples, and a real process that never imports boto3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ci_deploy.appspec import Diagnostic
from ci_deploy.cli import run
from ci_deploy.report.diagnostics import github_command

REPO = Path(__file__).parents[1]
CASES_DIR = Path(__file__).parent / "appspec_cases"
QUOTED = CASES_DIR / "server-version-quoted.yml"
QUOTED_NAME = QUOTED.as_posix()
EXAMPLES = sorted(path for path in (REPO / "examples").iterdir() if path.is_dir())


def test_text_lists_each_problem_on_stderr_and_exits_2(streams) -> None:  # type: ignore[no-untyped-def]
    code = run(["validate", str(CASES_DIR / "server-hooks-unknown.yml")], {}, streams)

    assert code == 2
    assert streams.out == ""
    lines = streams.err.splitlines()
    name = (CASES_DIR / "server-hooks-unknown.yml").as_posix()
    assert lines[0] == (
        f"{name}:4:3: error: unknown lifecycle event 'BeforeInstal' (did you mean "
        "'BeforeInstall'?): the agent fails the deployment at Install ('unknown lifecycle "
        "events'); use one of ApplicationStop, BeforeInstall, AfterInstall, ApplicationStart, "
        "ValidateService, BeforeBlockTraffic, AfterBlockTraffic, BeforeAllowTraffic, "
        "AfterAllowTraffic [hook-unknown-event]"
    )
    assert lines[1].startswith(f"{name}:6:3: error: unknown lifecycle event 'AfterDeploy'")
    assert lines[2].startswith(
        f"{name}:8:3: error: unknown lifecycle event 'afterinstall' (did "
        "you mean 'AfterInstall'? keys are case-sensitive)"
    )
    assert lines[3] == (
        f"ci-deploy: error: {name}: invalid Server (EC2/on-premises) AppSpec (3 errors, 0 warnings)"
    )
    assert len(lines) == 4


def test_a_valid_revision_exits_0_with_a_summary(streams) -> None:  # type: ignore[no-untyped-def]
    code = run(["validate", str(CASES_DIR / "revision-valid")], {}, streams)

    assert code == 0
    assert streams.out == ""
    assert streams.err == (
        f"{(CASES_DIR / 'revision-valid' / 'appspec.yml').as_posix()}: valid Server "
        "(EC2/on-premises) AppSpec (0 errors, 0 warnings)\n"
    )


def test_warnings_alone_exit_0(streams) -> None:  # type: ignore[no-untyped-def]
    code = run(["validate", str(CASES_DIR / "ecs-placeholder.yaml")], {}, streams)
    assert code == 0
    assert "[ecs-task-definition-placeholder]" in streams.err
    assert streams.err.endswith("valid ECS AppSpec (0 errors, 1 warning)\n")


def test_the_path_defaults_to_the_current_directory(streams, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(CASES_DIR / "revision-yaml-name")
    assert run(["validate"], {}, streams) == 0
    assert (
        streams.err
        == "appspec.yaml: valid Server (EC2/on-premises) AppSpec (0 errors, 0 warnings)\n"
    )


def test_json_format_prints_a_list_on_stdout(streams) -> None:  # type: ignore[no-untyped-def]
    code = run(["validate", "--format", "json", str(QUOTED)], {}, streams)

    assert code == 2
    assert json.loads(streams.out) == [
        {
            "file": QUOTED_NAME,
            "line": 1,
            "column": 10,
            "severity": "error",
            "code": "version-quoted",
            "message": 'version is the quoted string "0.0": the agent compares it with the number '
            "0.0 and rejects a quoted value (the docs' 'string' wording is wrong); write "
            "version: 0.0 without quotes",
        }
    ]
    assert streams.err.startswith("ci-deploy: error: ")


def test_json_format_of_a_valid_appspec_is_an_empty_list(streams) -> None:  # type: ignore[no-untyped-def]
    assert (
        run(["validate", "--format", "json", str(REPO / "examples" / "lambda")], {}, streams) == 0
    )
    assert json.loads(streams.out) == []


def test_github_format_prints_workflow_commands(streams) -> None:  # type: ignore[no-untyped-def]
    case = CASES_DIR / "server-unknown-top-level.yml"
    code = run(["validate", "--format", "github", str(case)], {}, streams)

    assert code == 0
    commands = streams.out.splitlines()
    assert commands[0].startswith(
        f"::warning file={case.as_posix()},line=3,col=1,title=appspec unknown-key::unknown key "
        "'branch_config' in the AppSpec"
    )
    assert commands[1].startswith(
        f"::warning file={case.as_posix()},line=5,col=1,title=appspec unknown-key::unknown key "
        "'Hooks' in the AppSpec (did you mean 'hooks'? keys are case-sensitive)"
    )
    assert len(commands) == 2


def test_github_commands_escape_what_the_runner_would_misread() -> None:
    diagnostic = Diagnostic("a,b:c.yml", 2, 3, "error", "duplicate-key", "100% bad\nkey")
    assert github_command(diagnostic) == (
        "::error file=a%2Cb%3Ac.yml,line=2,col=3,title=appspec duplicate-key::100%25 bad%0Akey"
    )


def test_gitlab_format_is_a_code_quality_report(streams) -> None:  # type: ignore[no-untyped-def]
    case = CASES_DIR / "server-files-missing-keys.yml"
    assert run(["validate", "--format", "gitlab", str(case)], {}, streams) == 2
    report = json.loads(streams.out)

    assert [(issue["check_name"], issue["severity"], issue["location"]) for issue in report] == [
        ("files-source-missing", "major", {"path": case.as_posix(), "lines": {"begin": 4}}),
        ("files-destination-missing", "major", {"path": case.as_posix(), "lines": {"begin": 5}}),
    ]
    assert report[0]["description"].startswith("this files entry has no 'source'")
    fingerprints = [issue["fingerprint"] for issue in report]
    assert len(set(fingerprints)) == 2
    assert all(len(fingerprint) == 64 for fingerprint in fingerprints)


def test_gitlab_fingerprints_are_stable_across_runs(streams) -> None:  # type: ignore[no-untyped-def]
    argv = ["validate", "--format", "gitlab", str(CASES_DIR / "server-acls.yml")]
    run(argv, {}, streams)
    first = streams.out
    streams.stdout.seek(0)
    streams.stdout.truncate()
    run(argv, {}, streams)
    assert streams.out == first


def test_inputs_come_from_the_environment_and_flags_win(streams) -> None:  # type: ignore[no-untyped-def]
    env = {"CI_DEPLOY_FORMAT": "json", "CI_DEPLOY_COMPUTE_PLATFORM": "lambda"}
    case = str(CASES_DIR / "server-minimal-valid.yml")

    assert run(["validate", case], env, streams) == 2
    assert [item["code"] for item in json.loads(streams.out)] == ["missing-key", "unknown-key"]

    streams.stdout.seek(0)
    streams.stdout.truncate()
    assert run(["validate", "--compute-platform", "server", case], env, streams) == 0
    assert json.loads(streams.out) == []


def test_a_bad_compute_platform_names_the_input(streams) -> None:  # type: ignore[no-untyped-def]
    env = {"CI_DEPLOY_COMPUTE_PLATFORM": "ec2"}
    assert run(["validate", str(QUOTED)], env, streams) == 2
    assert streams.err == (
        "ci-deploy: error: input compute_platform: expected one of server, ecs, lambda, got 'ec2'\n"
    )


def test_a_missing_path_is_bad_input_with_a_hint(streams, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run(["validate", str(tmp_path / "absent")], {}, streams) == 2
    assert streams.err == (
        f"ci-deploy: error: input source: {tmp_path / 'absent'} does not exist\n"
        "  hint: pass a revision directory or an appspec file\n"
    )


def test_help_lists_every_option_with_its_variable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ci_deploy", "validate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = " ".join(done.stdout.split())
    for flag, env in (
        ("--compute-platform", "CI_DEPLOY_COMPUTE_PLATFORM"),
        ("--appspec-filename", "CI_DEPLOY_APPSPEC_FILENAME"),
        ("--format", "CI_DEPLOY_FORMAT"),
    ):
        assert flag in text
        assert f"[env: {env}]" in text
    assert "text|json|github|gitlab" in text


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_every_shipped_example_validates(example: Path, streams) -> None:  # type: ignore[no-untyped-def]
    assert run(["validate", str(example)], {}, streams) == 0, streams.err
    assert ": valid " in streams.err


def test_examples_cover_every_platform() -> None:
    assert {"ecs", "lambda", "web-app", "failing-hook"} <= {path.name for path in EXAMPLES}


def test_a_real_process_reports_exit_2_and_never_imports_boto3(cli_without_aws: Any) -> None:
    done, imported_aws = cli_without_aws(["validate", str(QUOTED)])

    assert done.returncode == 2
    assert f"{QUOTED_NAME}:1:10: error: version is the quoted string" in done.stderr
    assert not imported_aws
    assert "Traceback" not in done.stderr


HUGE = "9" * 5000


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "timeout.yml",
            "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: x\n"
            f"      timeout: {HUGE}\n",
            ':6:16: error: timeout is a string ("999',
        ),
        (
            "timeout.json",
            '{"version": 0.0, "os": "linux", "hooks": {"AfterInstall": '
            f'[{{"location": "x", "timeout": {HUGE}}}]}}}}\n',
            ":1:89: error: invalid JSON: a number of 5000 characters is too long to read",
        ),
        (
            "superscript.yml",
            "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: x\n"
            '      timeout: "²"\n',
            ':6:16: error: timeout is a string ("²"): write a whole number of seconds from 1 '
            "to 3600",
        ),
        (
            "range.yml",
            "version: 0.0\nos: linux\npermissions:\n  - object: /srv\n    context:\n"
            f"      type: t\n      name: n\n      range: s{HUGE}\n",
            ":8:14: error: context range 's999",
        ),
        (
            "lambda.yml",
            "version: 0.0\nResources:\n  - fn:\n      Type: AWS::Lambda::Function\n"
            "      Properties:\n        Name: f\n        Alias: a\n"
            f'        CurrentVersion: "²"\n        TargetVersion: "{HUGE}"\n',
            ':8:25: error: currentversion is a string ("²")',
        ),
    ],
)
def test_huge_numbers_and_unicode_digits_are_diagnostics_not_crashes(  # type: ignore[no-untyped-def]
    streams, tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    code = run(["validate", str(path)], {}, streams)

    assert code == 2
    assert f"{path.as_posix()}{expected}" in streams.err
    # A 5000-digit value is cut short, so each diagnostic stays one readable line.
    assert all(len(line) < 400 for line in streams.err.splitlines())
    assert "unexpected error" not in streams.err


def test_a_category_range_far_past_c1023_is_refused_without_expanding_it(  # type: ignore[no-untyped-def]
    streams, tmp_path: Path
) -> None:
    path = tmp_path / "appspec.yml"
    path.write_text(
        "version: 0.0\nos: linux\npermissions:\n  - object: /srv\n    context:\n"
        "      type: t\n      name: n\n      range: s0:" + ",".join(["c0.c9999"] * 2000) + "\n",
        encoding="utf-8",
    )

    code = run(["validate", str(path)], {}, streams)

    assert code == 2
    assert "is invalid: categories go up to c1023" in streams.err


@pytest.mark.parametrize("verb", ["validate", "bundle"])
@pytest.mark.parametrize("name", ["../appspec.yml", "sub/appspec.yml", " "])
def test_an_appspec_filename_with_a_path_is_refused(  # type: ignore[no-untyped-def]
    streams, tmp_path: Path, verb: str, name: str
) -> None:
    revision = tmp_path / "rev"
    revision.mkdir()
    (revision / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    output = ["--output", str(tmp_path / "out.zip")] if verb == "bundle" else []

    code = run([verb, str(revision), "--appspec-filename", name, *output], {}, streams)

    assert code == 2
    assert streams.err.splitlines() == [
        "ci-deploy: error: input appspec_filename: expected a file name at the revision root "
        f"such as appspec.yml, got {name!r}",
        "  hint: the agent reads the AppSpec from the revision root only",
    ]
    assert not (tmp_path / "out.zip").exists()
