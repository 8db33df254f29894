"""The CLI edge: verbs, help, the one error handler and its exit codes."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Callable, Iterator

import pytest

from ci_deploy import __version__, cli
from ci_deploy.commands import Streams
from ci_deploy.errors import AwsError, DeploymentFailed, InputError, WaitTimeout
from ci_deploy.inputs import Request


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
            if not spec.secret:
                assert f"[env: {spec.env}]" in text, (verb, spec.name)
            if not spec.positional and not spec.secret:
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


def test_ci_system_is_detected_from_the_environment() -> None:
    assert cli.detect_ci_system({"GITHUB_ACTIONS": "true"}) == "github"
    assert cli.detect_ci_system({"GITLAB_CI": "true"}) == "gitlab"
    assert cli.detect_ci_system({"JENKINS_URL": "http://jenkins"}) == "jenkins"
    assert cli.detect_ci_system({}) == "plain"
