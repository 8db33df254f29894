"""The CLI edge: verbs, help, the one error handler and its exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci_deploy import __version__, cli
from ci_deploy.commands import Streams, environment_region
from ci_deploy.errors import AwsError, DeploymentFailed, InputError, WaitTimeout
from ci_deploy.inputs import Request
from github_harness import WorkflowCommand, runner_commands


@pytest.fixture
def probe_command(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[BaseException], None]]:
    """Register a `probe` verb (a hand-written command module) that raises what a test chooses."""
    raised: list[BaseException] = []

    def run(request: Request, streams: Streams) -> int:
        raise raised[0]

    module = types.ModuleType("ci_deploy.commands.probe")
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ci_deploy.commands.probe", module)
    monkeypatch.setattr(cli, "COMMANDS", {**cli.COMMANDS, "probe": ("probe", "Test probe.")})
    yield raised.append


def test_version_on_the_console_script_and_as_a_module() -> None:
    for argv in (["ci-deploy", "--version"], [sys.executable, "-m", "ci_deploy", "--version"]):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert done.returncode == 0
        assert done.stdout.strip() == f"ci-deploy {__version__}"


def test_version_does_not_import_boto3() -> None:
    code = (
        "import sys; from ci_deploy import cli; cli.build_parser(); print('boto3' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_help_lists_every_option_with_its_env_variable() -> None:
    parser = cli.build_parser()
    for verb in cli.COMMANDS:
        done = subprocess.run(
            ["ci-deploy", verb, "--help"], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        text = " ".join(done.stdout.split())
        for spec in cli.for_verb(verb):
            if spec.has_flag:
                assert f"[env: {spec.env}]" in text, (verb, spec.name)
            if not spec.positional and spec.has_flag:
                assert spec.flag in text, (verb, spec.flag)
    assert parser.prog == "ci-deploy"


def test_no_verb_is_bad_input(streams: Streams) -> None:
    assert cli.run([], {}, streams) == 2
    assert "ci-deploy: error: no verb given" in streams.stderr.getvalue()  # type: ignore[attr-defined]


def test_unknown_flag_is_bad_input_without_traceback(streams: Streams) -> None:
    assert cli.run(["validate", "--no-such-flag"], {}, streams) == 2
    err = streams.stderr.getvalue()  # type: ignore[attr-defined]
    assert "unrecognized arguments: --no-such-flag" in err
    assert "Traceback" not in err


def test_bad_env_value_names_the_variable_input(streams: Streams) -> None:
    code = cli.run(["validate", "."], {"CI_DEPLOY_COMPUTE_PLATFORM": "k8s"}, streams)
    assert code == 2
    assert (
        "input compute_platform: expected one of server, ecs, lambda, got 'k8s'"
        in streams.stderr.getvalue()  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InputError("bad", hint="do this"), 2),
        (AwsError("CreateDeployment: denied"), 3),
        (DeploymentFailed("deployment d-1 failed"), 1),
        (WaitTimeout("still running"), 4),
        (KeyboardInterrupt(), 130),
        (RuntimeError("boom"), 5),
    ],
)
def test_one_handler_maps_errors_to_exit_codes(
    probe_command: Callable[[BaseException], None],
    streams: Streams,
    error: BaseException,
    code: int,
) -> None:
    probe_command(error)
    assert cli.run(["probe"], {}, streams) == code
    err = streams.stderr.getvalue()  # type: ignore[attr-defined]
    assert "Traceback" not in err
    if code == 2:
        assert "ci-deploy: error: bad\n  hint: do this\n" in err
    if code == 5:
        assert "unexpected error (a bug): RuntimeError: boom" in err
        assert "rerun with --debug" in err


def test_debug_shows_the_traceback(
    probe_command: Callable[[BaseException], None], streams: Streams
) -> None:
    probe_command(RuntimeError("boom"))
    assert cli.run(["probe"], {"CI_DEPLOY_DEBUG": "true"}, streams) == 5
    assert "Traceback" in streams.stderr.getvalue()  # type: ignore[attr-defined]


def test_github_errors_also_become_an_annotation(
    probe_command: Callable[[BaseException], None], streams: Streams
) -> None:
    probe_command(InputError("50% done\nthen failed"))
    assert cli.run(["probe"], {"GITHUB_ACTIONS": "true"}, streams) == 2
    assert "::error title=ci-deploy::50%25 done%0Athen failed\n" in streams.stderr.getvalue()  # type: ignore[attr-defined]


def test_ci_system_auto_is_the_detected_ci() -> None:
    request = cli.parse_request(["iam-policy", "--ci-system", "auto"], {}, "gitlab")
    assert request.values["ci_system"] == "gitlab"
    chosen = cli.parse_request(["iam-policy", "--ci-system", "jenkins"], {}, "gitlab")
    assert chosen.values["ci_system"] == "jenkins"


# -- On GitHub's runner only ci-deploy's own workflow commands are obeyed. A file name, an AWS
# message or a hook's output can hold a line the runner would obey (`::error::...` once trimmed,
# `##[error]...` anywhere): such a line is printed inside a stop-commands fence (stderr) or
# with `##[` written as the same JSON string (stdout).

PWNED = "x\n::error::pwned\n##[error]pwned"
ON_GITHUB = {"GITHUB_ACTIONS": "true"}


def obeyed(streams: Streams) -> list[WorkflowCommand]:
    """What the runner obeys in the two streams (each read on its own, as its pipe is)."""
    return runner_commands(streams.out) + runner_commands(streams.err)  # type: ignore[attr-defined]


def injected(commands: list[WorkflowCommand]) -> list[WorkflowCommand]:
    return [c for c in commands if c.message.startswith("pwned")]


def printed(text: str) -> str:
    """``text`` as the log shows it: without the fences' own lines."""
    fences = re.compile(r"::stop-commands::(\w+)\n|::\w+::\n")
    return fences.sub("", text)


def cleared(streams: Streams) -> Streams:
    for stream in (streams.stdout, streams.stderr):
        stream.seek(0)
        stream.truncate()
    return streams


def test_an_error_naming_a_file_issues_no_workflow_command(
    probe_command: Callable[[BaseException], None], streams: Streams
) -> None:
    probe_command(InputError(f"cannot read {PWNED}", hint=f"fix {PWNED}"))
    assert cli.run(["probe"], ON_GITHUB, streams) == 2
    err = streams.err  # type: ignore[attr-defined]
    assert f"ci-deploy: error: cannot read {PWNED}\n  hint: fix {PWNED}\n" in printed(err)
    commands = obeyed(streams)
    assert [(c.name, c.message) for c in commands] == [("error", f"cannot read {PWNED}")]


def test_github_rendering_asked_for_elsewhere_is_guarded_too(
    tmp_path: Path, streams: Streams
) -> None:
    """--ci-system github where GITHUB_ACTIONS is not set (ci-deploy in a container started by
    a step): its output may still reach a runner."""
    missing = tmp_path / f"missing{PWNED}"
    assert cli.run(["validate", str(missing), "--ci-system", "github"], {}, streams) == 2
    assert [c.name for c in obeyed(streams)] == ["error"]


def test_validate_on_github_names_the_appspec_but_obeys_nothing_in_its_name(
    tmp_path: Path, streams: Streams
) -> None:
    source = tmp_path / PWNED
    source.mkdir()
    (source / "appspec.yml").write_text("version: 0.0\nos: windows-2000\n")
    env = {**ON_GITHUB, "GITHUB_WORKSPACE": str(tmp_path)}
    assert cli.run(["validate", str(source)], env, streams) == 2
    assert f"{PWNED}/appspec.yml:2:5: error:" in printed(streams.err)  # type: ignore[attr-defined]
    commands = obeyed(streams)
    assert not injected(commands)
    assert [c.name for c in commands] == ["error"]  # the run's annotation, its text escaped
    assert commands[0].message == f"{source}/appspec.yml: " + (
        "invalid Server (EC2/on-premises) AppSpec (1 error, 0 warnings)"
    )

    argv = ["validate", str(source), "--format", "github"]
    assert cli.run(argv, env, cleared(streams)) == 2
    commands = obeyed(streams)
    assert not injected(commands)
    assert [c.name for c in commands] == ["error", "error"]  # the diagnostic's, then the run's
    assert commands[0].properties["file"] == f"{source}/appspec.yml"

    missing = tmp_path / f"missing{PWNED}"
    assert cli.run(["validate", str(missing)], env, cleared(streams)) == 2
    assert [c.name for c in obeyed(streams)] == ["error"]


def test_bundle_on_github_prints_file_names_but_obeys_nothing_in_them(
    tmp_path: Path, streams: Streams
) -> None:
    source = tmp_path / "rev"
    source.mkdir()
    (source / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (source / f"link{PWNED}").symlink_to("/etc/hostname")
    output = tmp_path / f"out {PWNED}.zip"
    argv = ["bundle", str(source), "--output", str(output)]
    assert cli.run(argv, ON_GITHUB, streams) == 2
    assert f"symlink link{PWNED} points outside" in printed(streams.err)  # type: ignore[attr-defined]
    assert [c.name for c in obeyed(streams)] == ["error"]

    (source / f"link{PWNED}").unlink()
    (source / f"file{PWNED}").write_text("a file name holds anything but / and NUL\n")
    assert cli.run(argv, ON_GITHUB, cleared(streams)) == 0
    assert f"into {output} (zip" in printed(streams.err)  # type: ignore[attr-defined]
    assert obeyed(streams) == []
    assert json.loads(streams.out)["path"] == str(output)  # type: ignore[attr-defined]


def _revision_whose_hook_prints_commands(tmp_path: Path) -> Path:
    source = tmp_path / f"rev{PWNED}"
    source.mkdir()
    (source / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  ValidateService:\n    - location: check.sh\n"
    )
    hook = source / "check.sh"
    hook.write_text(
        "#!/bin/sh\n"
        "echo '::error::pwned by the hook'\n"
        "echo '  ##[error]pwned by the hook'\n"
        "printf 'x\\r::error::pwned by the hook\\n'\n"
        "exit 3\n"
    )
    hook.chmod(0o755)
    return source


def _deploy(source: Path, *extra: str) -> list[str]:
    return [
        "deploy",
        str(source),
        "--application",
        "guarded",
        "--deployment-group",
        "fleet",
        "--s3-location",
        "s3://ci-deploy-guarded/bundles",
        "--emulator",
        "--instances",
        "1",
        *extra,
    ]


def test_deploy_on_github_shows_a_hooks_output_but_obeys_nothing_in_it(
    tmp_path: Path, streams: Streams, aws_env: dict[str, str]
) -> None:
    """A failed hook's output reaches the log three ways: the reporter's log tail, the JSON
    result on stdout and the annotation; none of its lines is obeyed."""
    source = _revision_whose_hook_prints_commands(tmp_path)
    env = {**aws_env, **ON_GITHUB, "GITHUB_WORKSPACE": str(tmp_path)}
    assert cli.run(_deploy(source), env, streams) == 1, streams.err  # type: ignore[attr-defined]
    commands = obeyed(streams)
    assert not injected(commands)
    result = json.loads(streams.out)  # type: ignore[attr-defined]
    tail = result["targets"][0]["lifecycle_events"][-1]["diagnostics"]["log_tail"]
    assert "[stdout]  ##[error]pwned by the hook" in tail  # the same JSON value
    assert "::error::pwned by the hook" in printed(streams.err)  # type: ignore[attr-defined]
    assert {c.name for c in commands} == {"group", "endgroup", "error"}
    assert [c.properties.get("title") for c in commands if c.name == "error"] == [
        "CodeDeploy ValidateService failed",
        "ci-deploy",
    ]


def test_github_rendering_elsewhere_never_prints_the_token(
    tmp_path: Path, streams: Streams, aws_env: dict[str, str]
) -> None:
    """--ci-system github on another CI: no ::add-mask:: (no one would mask: it would print
    the token in clear), and a warning that masking is unavailable."""
    source = _revision_whose_hook_prints_commands(tmp_path)
    env = {**aws_env, "CI_DEPLOY_GITHUB_TOKEN": "ghs_fake_job_token"}
    assert cli.run(_deploy(source, "--ci-system", "github"), env, streams) == 1
    assert "ghs_fake_job_token" not in streams.out + streams.err  # type: ignore[attr-defined]
    assert "warning: not on GitHub's runner" in streams.err  # type: ignore[attr-defined]


def test_the_environment_region_is_aws_region_then_aws_default_region() -> None:
    assert environment_region({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}) == (
        "eu-west-1"
    )
    assert environment_region({"AWS_REGION": " ", "AWS_DEFAULT_REGION": " us-east-1\n"}) == (
        "us-east-1"
    )
    assert environment_region({}) is None
