"""The Jenkins shared-library step vars/ciDeploy.groovy, run by Groovy 2.4 with stubbed steps.

tests/jenkins/run_pipelines.groovy loads the step like Jenkins does and runs pipeline snippets
with `sh` really running shells in the withEnv environment. Builds that only need a stand-in CLI
(tests/jenkins/fake-ci-deploy, which records what reached it) run together in one JVM.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_deploy import __version__
from ci_deploy.inputs import ADAPTER_VERBS, TABLE, Input, adapter_inputs
from doc_pages import adapter_column, page, section, table_after
from package_index import PackageIndex, Release, serve_index, wheelhouse

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "jenkins"
STEP = LIBRARY / "vars" / "ciDeploy.groovy"
HELP = LIBRARY / "vars" / "ciDeploy.txt"
HARNESS = ROOT / "tests" / "jenkins"
FAKE_CLI = HARNESS / "fake-ci-deploy"
STEP_KEYS = ["installLock", "installIndexUrl", "installCommand", "cliPath", "timeoutResult"]
# When the input table changed, `.venv/bin/python tests/jenkins/sync_keys.py` rewrites the step's
# input keys and its help (scripts/gen-inputs-doc the generated docs/inputs.md); the contract
# tests below then hold them again.
SYNC = "out of date with the input table: run tests/jenkins/sync_keys.py"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = pytest.mark.adapter


@dataclass
class Build:
    """One build of a pipeline snippet: `params` reach it as Jenkins build parameters."""

    name: str
    workspace: Path
    pipeline: str
    env: dict[str, str | None] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.workspace.parent / f"{self.name}.log"

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workspace": str(self.workspace),
            "log": str(self.log_path),
            "env": self.env,
            "params": self.params,
            "pipeline": self.pipeline,
        }


def groovy_command(spec_path: Path, results_path: Path) -> list[str]:
    groovy = shutil.which("groovy")
    assert groovy, "groovy is missing: scripts/install-tools installs it"
    return [
        groovy,
        "-cp",
        str(HARNESS / "lib"),
        str(HARNESS / "run_pipelines.groovy"),
        str(spec_path),
        str(results_path),
    ]


def groovy_env() -> dict[str, str]:
    # A short-lived JVM: skip the optimising compiler, start-up dominates.
    return {**os.environ, "JAVA_OPTS": "-XX:TieredStopAtLevel=1 -Xshare:auto"}


def write_spec(directory: Path, builds: list[Build], describe: str | None) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    spec_path = directory / "spec.json"
    spec = {"library": str(LIBRARY), "describe": describe, "builds": [b.spec() for b in builds]}
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    return spec_path, directory / "results.json"


def run_pipelines(
    directory: Path, builds: list[Build], describe: str | None = None, timeout: float = 120
) -> dict[str, Any]:
    """Runs the builds in one Groovy JVM; the JVM itself must finish cleanly and silently."""
    spec_path, results_path = write_spec(directory, builds, describe)
    done = subprocess.run(
        groovy_command(spec_path, results_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=groovy_env(),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # no JVM warnings in the test output
    results: dict[str, Any] = json.loads(results_path.read_text(encoding="utf-8"))
    return results


def records(path: Path) -> list[dict[str, Any]]:
    """What reached the fake ci-deploy, one entry per run."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fake_env(
    record: Path,
    *,
    stdout: Path | None = None,
    exit_code: int = 0,
    stderr: str = "",
    path: str = SYSTEM_PATH,
) -> dict[str, str | None]:
    return {
        "PATH": path,
        "FAKE_CI_DEPLOY_RECORD": str(record),
        "FAKE_CI_DEPLOY_STDOUT": str(stdout) if stdout else None,
        "FAKE_CI_DEPLOY_EXIT": str(exit_code),
        "FAKE_CI_DEPLOY_STDERR": stderr,
        "JENKINS_URL": "http://127.0.0.1:1/",
    }


SUCCEEDED = {
    "application": "web",
    "deployment_group": "prod",
    "region": "us-east-1",
    "regions": ["us-east-1", "eu-west-1"],
    "deployment_id": "d-ABCDEF123",
    "deployment_ids": {"us-east-1": "d-ABCDEF123", "eu-west-1": "d-EU0000001"},
    "status": "Succeeded",
    "revision": {"revisionType": "S3", "s3Location": {"bucket": "artifacts", "key": "web.zip"}},
    "console_url": "https://console.aws.amazon.com/codesuite/codedeploy/deployments/d-ABCDEF123?region=us-east-1",
    "error": None,
}

FAILED = {
    **SUCCEEDED,
    "status": "Failed",
    "error": {"code": "HEALTH_CONSTRAINTS", "message": "too many individual instances failed"},
    "targets": [
        {
            "target_id": "i-1",
            "status": "Failed",
            "lifecycle_events": [
                {
                    "name": "Install",
                    "status": "Succeeded",
                    "duration_seconds": 0.1,
                    "diagnostics": None,
                },
                {
                    "name": "ValidateService",
                    "status": "Failed",
                    "duration_seconds": 0.4,
                    "diagnostics": {
                        "error_code": "ScriptFailed",
                        "script_name": "scripts/validate.sh",
                        "message": "Script at specified location: scripts/validate.sh "
                        "run as user root failed with exit code 1",
                        "log_tail": "health check failed: got 503",
                    },
                },
            ],
        }
    ],
}

TIMED_OUT = {**SUCCEEDED, "status": "InProgress"}

HOSTILE = (
    "'; rm -rf /nonexistent-ci-deploy-canary; touch {canary}; ' "
    '$(touch {canary}) `touch {canary}` "${{HOME}}" \\'
)


@dataclass
class FakeRuns:
    """The batch of fake-CLI builds, run once per test module (one JVM)."""

    root: Path
    results: dict[str, Any]

    def build(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.results["builds"][name]
        return result

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(encoding="utf-8")

    def records(self, name: str) -> list[dict[str, Any]]:
        return records(self.root / f"{name}.record")


@pytest.fixture(scope="module")
def fake_runs(tmp_path_factory: pytest.TempPathFactory) -> FakeRuns:
    root = tmp_path_factory.mktemp("jenkins-fake")
    canned = root / "canned"
    canned.mkdir()
    for name, result in {"succeeded": SUCCEEDED, "failed": FAILED, "timed_out": TIMED_OUT}.items():
        (canned / f"{name}.json").write_text(json.dumps(result), encoding="utf-8")
    on_path = root / "bin"
    on_path.mkdir()
    (on_path / "ci-deploy").symlink_to(FAKE_CLI)
    (root / "canary-dir").mkdir()

    def record(name: str) -> Path:
        return root / f"{name}.record"

    cli = f"cliPath: '{FAKE_CLI}'"
    install = (
        'mkdir -p "$CI_DEPLOY_INSTALL_DIR/bin"'
        ' && cp "$FAKE_CLI" "$CI_DEPLOY_INSTALL_DIR/bin/ci-deploy"'
        ' && echo "$CI_DEPLOY_INSTALL_VERSION" >>"$INSTALL_LOG"'
    )
    install_env = {"FAKE_CLI": str(FAKE_CLI), "INSTALL_LOG": str(root / "installs.log")}
    shared = root / "ws-install"
    builds = [
        Build(
            "succeeded",
            root / "ws-succeeded",
            "return ciDeploy(application: 'web', deploymentGroup: 'prod', wait: false, "
            f"waitTimeoutSeconds: 600, regions: ['us-east-1', 'eu-west-1'], {cli})",
            fake_env(record("succeeded"), stdout=canned / "succeeded.json"),
        ),
        Build(
            "hostile",
            root / "ws-hostile",
            f"ciDeploy(application: 'web', description: params.DESCRIPTION, {cli})",
            fake_env(record("hostile"), stdout=canned / "succeeded.json"),
            params={"DESCRIPTION": HOSTILE.format(canary=root / "canary-dir" / "pwned")},
        ),
        Build(
            "unknown_key",
            root / "ws-unknown",
            f"ciDeploy(aplication: 'web', deployment_group: 'prod', {cli})",
            fake_env(record("unknown_key")),
        ),
        Build(
            "bad_command",
            root / "ws-bad-command",
            f"ciDeploy(command: 'local', {cli})",
            fake_env(record("bad_command")),
        ),
        Build(
            "bad_value",
            root / "ws-bad-value",
            f"ciDeploy(application: [name: 'web'], {cli})",
            fake_env(record("bad_value")),
        ),
        Build(
            "failed",
            root / "ws-failed",
            f"ciDeploy(application: 'web', deploymentGroup: 'prod', {cli})",
            fake_env(
                record("failed"),
                stdout=canned / "failed.json",
                exit_code=1,
                stderr="ValidateService failed on i-1\n  | health check failed: got 503\n",
            ),
        ),
        Build(
            "timeout_unstable",
            root / "ws-timeout-unstable",
            f"def r = ciDeploy(application: 'web', timeoutResult: 'UNSTABLE', {cli})\n"
            'echo "branch on ${r.status}"\nreturn r',
            fake_env(record("timeout_unstable"), stdout=canned / "timed_out.json", exit_code=4),
        ),
        Build(
            "timeout_failure",
            root / "ws-timeout-failure",
            f"ciDeploy(application: 'web', {cli})",
            fake_env(record("timeout_failure"), stdout=canned / "timed_out.json", exit_code=4),
        ),
        Build(
            "bad_input",
            root / "ws-bad-input",
            f"ciDeploy(application: 'web', {cli})",
            fake_env(
                record("bad_input"), exit_code=2, stderr="ci-deploy: error: input wait: ...\n"
            ),
        ),
        Build(
            "on_path",
            root / "ws-on-path",
            "dir('app') { return ciDeploy(command: 'status', deploymentId: 'd-1') }",
            fake_env(
                record("on_path"), stdout=canned / "succeeded.json", path=f"{on_path}:{SYSTEM_PATH}"
            ),
        ),
        *[
            Build(
                name,
                shared,
                f"return ciDeploy(command: 'validate', installCommand: '{command}')",
                {**fake_env(record("install")), **install_env},
            )
            for name, command in [
                ("install_first", install),
                ("install_cached", install),
                ("install_changed", install + " && true"),
            ]
        ],
        Build(
            "install_fails",
            root / "ws-install-fails",
            "ciDeploy(installCommand: 'echo pip says no >&2; exit 7')",
            fake_env(record("install_fails")),
        ),
    ]
    results = run_pipelines(root, builds, describe="ciDeploy")
    return FakeRuns(root, results)


# -- the returned Map -------------------------------------------------------------------------


def test_a_deployment_returns_the_map_parsed_from_the_result_json(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("succeeded")
    assert build["result"] == "SUCCESS"
    value = build["value"]
    assert {key: value[key] for key in ["deploymentId", "status", "deploymentUrl"]} == {
        "deploymentId": "d-ABCDEF123",
        "status": "Succeeded",
        "deploymentUrl": SUCCEEDED["console_url"],
    }
    assert value["deploymentIds"] == SUCCEEDED["deployment_ids"]
    assert value["revision"] == SUCCEEDED["revision"]
    assert value["result"] == SUCCEEDED


def test_values_reach_ci_deploy_as_its_environment_variables(fake_runs: FakeRuns) -> None:
    [run] = fake_runs.records("succeeded")
    assert run["argv"][1:] == ["deploy"]
    env = run["env"]
    assert env["CI_DEPLOY_APPLICATION"] == "web"
    assert env["CI_DEPLOY_DEPLOYMENT_GROUP"] == "prod"
    assert env["CI_DEPLOY_WAIT"] == "false"
    assert env["CI_DEPLOY_WAIT_TIMEOUT_SECONDS"] == "600"
    assert env["CI_DEPLOY_REGIONS"] == "us-east-1,eu-west-1"
    # The CLI-only inputs the adapter sets itself.
    assert env["CI_DEPLOY_CI_SYSTEM"] == "jenkins"
    assert env["CI_DEPLOY_JSON"] == "true"
    # Unset keys stay unset, so ci-deploy applies its own default.
    assert "CI_DEPLOY_DESCRIPTION" not in env
    assert "CI_DEPLOY_GITHUB_TOKEN" not in env


def test_the_step_leaves_no_result_file_behind(fake_runs: FakeRuns) -> None:
    tmp = Path(f"{fake_runs.root / 'ws-succeeded'}@tmp")
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith("ci-deploy")) == []


# -- no value is ever run by a shell ----------------------------------------------------------


def test_a_hostile_value_reaches_ci_deploy_verbatim_and_runs_nothing(fake_runs: FakeRuns) -> None:
    canary = fake_runs.root / "canary-dir" / "pwned"
    [run] = fake_runs.records("hostile")
    assert run["env"]["CI_DEPLOY_DESCRIPTION"] == HOSTILE.format(canary=canary)
    assert fake_runs.build("hostile")["result"] == "SUCCESS"
    assert not canary.exists()
    assert (fake_runs.root / "canary-dir").is_dir()


def test_shell_scripts_are_constants_never_groovy_strings() -> None:
    source = STEP.read_text(encoding="utf-8")
    calls = re.findall(r"\bsh\(([^()]*)\)", source)
    assert len(calls) == 2
    assert all(re.search(r"script: [A-Z_]+_SCRIPT$", call) for call in calls), calls
    scripts = re.findall(r"@Field final String ([A-Z_]+_SCRIPT) = (.{3})", source)
    assert scripts == [("FIND_SCRIPT", "'''"), ("RUN_SCRIPT", "'''")]


# -- bad keys ---------------------------------------------------------------------------------


def test_an_unknown_key_is_rejected_listing_the_valid_ones(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("unknown_key")
    assert build["result"] == "FAILURE"
    message = build["error"]
    assert message.startswith(
        "ciDeploy: unknown keys 'aplication' (did you mean 'application'?), "
        "'deployment_group' (did you mean 'deploymentGroup'?). Valid keys: command, source, "
    )
    valid = [spec.jenkins_name for spec in adapter_inputs()] + STEP_KEYS
    assert f"Valid keys: {', '.join(valid)}." in message
    assert fake_runs.records("unknown_key") == []


def test_a_command_that_is_not_an_adapter_verb_is_rejected(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("bad_command")
    assert build["error"] == (
        "ciDeploy: key command: expected one of deploy, validate, bundle, push, wait, status, "
        "stop, rollback, got 'local'"
    )
    assert fake_runs.records("bad_command") == []


def test_a_value_of_the_wrong_shape_is_rejected_naming_the_key(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("bad_value")
    assert build["error"] == (
        "ciDeploy: key application: expected a string, boolean, number or list of strings, "
        "got LinkedHashMap [name:web]"
    )
    assert fake_runs.records("bad_value") == []


# -- failures ---------------------------------------------------------------------------------


def test_a_failed_deployment_raises_with_its_diagnostics(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("failed")
    assert build["result"] == "FAILURE"
    assert build["exception"] is None  # raised through the `error` step
    assert build["error"] == (
        "ciDeploy: deployment d-ABCDEF123 ended Failed\n"
        "  HEALTH_CONSTRAINTS: too many individual instances failed\n"
        "  i-1 ValidateService: ScriptFailed in scripts/validate.sh: Script at specified "
        "location: scripts/validate.sh run as user root failed with exit code 1\n"
        "  ci-deploy's own output is in the log above."
    )
    log = fake_runs.log("failed")
    assert "  | health check failed: got 503\n" in log  # ci-deploy's stderr, in the build log
    assert log.endswith("Finished: FAILURE\n")


def test_exit_code_4_marks_the_build_unstable_when_asked(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("timeout_unstable")
    assert build["result"] == "UNSTABLE"
    assert build["value"]["status"] == "InProgress"
    log = fake_runs.log("timeout_unstable")
    assert (
        "WARNING: ciDeploy: deployment d-ABCDEF123 was still InProgress when ci-deploy gave up "
        "waiting (exit code 4); it may still finish\n"
    ) in log
    assert "branch on InProgress\n" in log


def test_exit_code_4_fails_the_build_by_default(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("timeout_failure")
    assert build["result"] == "FAILURE"
    assert build["error"].startswith(
        "ciDeploy: deployment d-ABCDEF123 was still InProgress when ci-deploy gave up waiting"
    )


def test_bad_input_names_the_exit_code_and_points_at_the_log(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("bad_input")
    assert build["error"] == (
        "ciDeploy: ci-deploy deploy was given bad input (exit code 2)\n"
        "  ci-deploy's own output is in the log above."
    )
    assert "ci-deploy: error: input wait: ...\n" in fake_runs.log("bad_input")


# -- finding or installing the CLI ------------------------------------------------------------


def test_a_ci_deploy_on_path_is_used_as_is_in_the_current_dir(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("on_path")
    assert build["result"] == "SUCCESS"
    [run] = fake_runs.records("on_path")
    assert run["argv"] == [str(fake_runs.root / "bin" / "ci-deploy"), "status"]
    assert run["cwd"] == str(fake_runs.root / "ws-on-path" / "app")
    assert run["env"]["CI_DEPLOY_DEPLOYMENT_ID"] == "d-1"
    assert not (
        Path(f"{fake_runs.root / 'ws-on-path' / 'app'}@tmp") / f"ci-deploy-{__version__}"
    ).exists()


def test_without_one_on_path_it_installs_into_the_workspace_tmp_once(fake_runs: FakeRuns) -> None:
    venv = Path(f"{fake_runs.root / 'ws-install'}@tmp") / f"ci-deploy-{__version__}"
    runs = fake_runs.records("install")
    assert [run["argv"] for run in runs] == [[str(venv / "bin" / "ci-deploy"), "validate"]] * 3
    for name in ["install_first", "install_cached", "install_changed"]:
        assert fake_runs.build(name)["result"] == "SUCCESS"
    # Installed by the first build, reused by the second, reinstalled when the command changed;
    # the install command sees the library's pinned version.
    installs = (fake_runs.root / "installs.log").read_text(encoding="utf-8")
    assert installs == f"{__version__}\n{__version__}\n"
    assert "installing ci-deploy" in fake_runs.log("install_first")
    assert "installing ci-deploy" not in fake_runs.log("install_cached")


def install_env(index: PackageIndex, workspace: Path) -> dict[str, str | None]:
    """An agent with Python and no ci-deploy, whose pip reads no configuration of this machine;
    the index is named by the installIndexUrl key."""
    unset: dict[str, str | None] = {name: None for name in os.environ if name.startswith("PIP_")}
    return {
        **unset,
        "PATH": f"{Path(sys.base_prefix) / 'bin'}:{SYSTEM_PATH}",
        "HOME": str(workspace.parent / "home"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_CACHE_DIR": str(workspace.parent / "pip-cache"),
        "JENKINS_URL": "http://127.0.0.1:1/",
    }


def test_the_default_install_is_the_pinned_release_with_its_lock_reused_by_later_builds(
    tmp_path: Path, package_index: PackageIndex, release: Release
) -> None:
    """ci-deploy==CLI_VERSION from the index, its dependencies checked against the lock inside
    the release, in ${WORKSPACE}@tmp/ci-deploy-VERSION; the next build runs it as it is. A
    library revision whose version the index lacks fails naming what to fix, leaving nothing."""
    app = tmp_path / "app"
    shutil.copytree(ROOT / "examples" / "web-app", app)
    workspace = tmp_path / "ws"
    pipeline = (
        "return ciDeploy(command: 'validate', source: params.SOURCE, installIndexUrl: params.INDEX)"
    )
    with serve_index([wheelhouse()]) as without_ci_deploy:
        builds = [
            Build(name, workspace, pipeline, install_env(package_index, workspace), params=params)
            for name, params in [
                ("first", {"SOURCE": str(app), "INDEX": package_index.url}),
                ("again", {"SOURCE": str(app), "INDEX": package_index.url}),
            ]
        ] + [
            Build(
                "unreleased",
                tmp_path / "ws-unreleased",
                pipeline,
                install_env(without_ci_deploy, tmp_path / "ws-unreleased"),
                params={"SOURCE": str(app), "INDEX": without_ci_deploy.url},
            )
        ]
        results = run_pipelines(tmp_path / "runs", builds, timeout=600)["builds"]
    venv = Path(f"{workspace}@tmp") / f"ci-deploy-{__version__}"
    first = builds[0].log_path.read_text(encoding="utf-8")
    assert results["first"]["result"] == "SUCCESS", first
    assert f"installing ci-deploy {__version__} into {venv}" in first
    assert re.search(
        rf"^Installed ci-deploy {re.escape(__version__)} \(dependencies checked against the lock "
        r"release\) in \d+s$",
        first,
        flags=re.MULTILINE,
    ), first
    assert "appspec.yml: valid Server" in first
    again = builds[1].log_path.read_text(encoding="utf-8")
    assert results["again"]["result"] == "SUCCESS", again
    assert "installing" not in again and "Installed" not in again
    assert "appspec.yml: valid Server" in again

    unreleased = builds[2].log_path.read_text(encoding="utf-8")
    assert results["unreleased"]["result"] == "FAILURE", unreleased
    assert results["unreleased"]["error"] == "script returned exit code 2"
    assert (
        "ci-deploy: error: the library revision (load a release tag of it, "
        "@Library('ci-deploy@vX.Y.Z')): the package index "
        f"({without_ci_deploy.url}) has no ci-deploy=={__version__}; name a released version"
    ) in unreleased
    leftover = Path(f"{tmp_path / 'ws-unreleased'}@tmp") / f"ci-deploy-{__version__}"
    assert not leftover.exists()


def test_the_install_is_the_gitlab_template_s(fake_runs: FakeRuns) -> None:
    """install_ci_deploy is one text in both adapters (as Groovy hands the script to sh)."""
    script = fake_runs.results["describe"]["scripts"]["FIND_SCRIPT"]
    start = script.index("# install_ci_deploy VENV")
    ours = script[start : script.index('stamp="$CI_DEPLOY_INSTALL_DIR', start)]
    [_, body] = list(yaml.safe_load_all((ROOT / "gitlab" / "ci-deploy.yml").read_text()))
    template = "\n".join(body["$[[ inputs.as ]]"]["script"])
    start = template.index("# install_ci_deploy VENV")
    assert ours == template[start : template.index("# Find or install the CLI", start)]


def test_a_failing_install_fails_the_build_with_its_output(fake_runs: FakeRuns) -> None:
    build = fake_runs.build("install_fails")
    assert build["result"] == "FAILURE"
    assert build["error"] == "script returned exit code 1"  # the `sh` step's own failure
    log = fake_runs.log("install_fails")
    assert "pip says no\nciDeploy: installCommand failed with exit code 7\n" in log


# -- contract: the step's keys are ci-deploy's adapter inputs ---------------------------------


def groovy_type(spec: Input, default_present: bool) -> str | None:
    if not default_present:
        return None
    return {"bool": "Boolean", "int": "Integer", "list": "ArrayList"}.get(spec.kind, "String")


def test_default_config_holds_the_adapter_inputs_and_their_defaults(fake_runs: FakeRuns) -> None:
    described = fake_runs.results["describe"]
    keys = {key["name"]: key for key in described["keys"]}
    inputs = adapter_inputs()
    assert list(keys) == [spec.jenkins_name for spec in inputs] + STEP_KEYS, SYNC
    assert described["stepKeys"] == STEP_KEYS
    for spec in inputs:
        key = keys[spec.jenkins_name]
        assert (key["text"] or "") == spec.default_text(), spec.name
        assert key["env"] == spec.env, spec.name
        assert key["type"] == groovy_type(spec, spec.default is not None), spec.name


def test_commands_and_version_follow_the_core(fake_runs: FakeRuns) -> None:
    described = fake_runs.results["describe"]
    assert tuple(described["commands"]) == ADAPTER_VERBS
    assert described["cliVersion"] == __version__
    assert described["timeoutResults"] == ["FAILURE", "UNSTABLE"]


def test_the_step_shell_scripts_pass_shellcheck(fake_runs: FakeRuns, tmp_path: Path) -> None:
    scripts = fake_runs.results["describe"]["scripts"]
    assert sorted(scripts) == ["FIND_SCRIPT", "RUN_SCRIPT"]
    for name, text in scripts.items():
        assert text.startswith("#!/bin/sh\n")  # run as is by Jenkins: no `sh -xe` tracing
        (tmp_path / name).write_text(text, encoding="utf-8")
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: scripts/install-tools installs it"
    done = subprocess.run(
        [shellcheck, "--shell=sh", "--severity=style", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_step_own_variables_are_not_input_variables() -> None:
    names = set(re.findall(r"\bCI_DEPLOY_[A-Z_]+", STEP.read_text(encoding="utf-8")))
    inputs = {spec.env for spec in TABLE}
    own = {
        "CI_DEPLOY_STEP_DIR",
        "CI_DEPLOY_STEP_CLI",
        "CI_DEPLOY_INSTALL_DIR",
        "CI_DEPLOY_INSTALL_VERSION",
        "CI_DEPLOY_INSTALL_COMMAND",
        "CI_DEPLOY_INSTALL_LOCK",
        "CI_DEPLOY_INSTALL_INDEX_URL",
        "CI_DEPLOY_INSTALL_EXTRA",
    }
    assert names - inputs == own
    assert not own & inputs


def _sync_keys() -> Any:
    """tests/jenkins/sync_keys.py, the script that writes the keys from the input table: its
    renderings of a key's type, default and description are what the step and its help hold."""
    spec = importlib.util.spec_from_file_location("sync_keys", HARNESS / "sync_keys.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SYNC_KEYS = _sync_keys()
documented_default = SYNC_KEYS.groovy_default
documented_type = SYNC_KEYS.groovy_type
documented_description = SYNC_KEYS.description


def expected_docs() -> list[tuple[str, str, str]]:
    """(key, type, default) for every key, in order."""
    step_keys = help_keys(STEP_KEYS)
    return [
        *((s.jenkins_name, documented_type(s), documented_default(s)) for s in adapter_inputs()),
        *((name, kind, default) for name, (kind, default, _) in step_keys.items()),
    ]


def help_keys(names: list[str] | None = None) -> dict[str, tuple[str, str, str]]:
    """The help file's KEYS section: name -> (type, default, description)."""
    text = HELP.read_text(encoding="utf-8").split("\nKEYS ", 1)[1]
    found: dict[str, tuple[str, str, str]] = {}
    for match in re.finditer(r"^(\w+) \(([^,]+), default: (.*)\)\n((?:    .*\n?)+)", text, re.M):
        description = " ".join(line.strip() for line in match.group(4).splitlines())
        found[match.group(1)] = (match.group(2), match.group(3), description)
    if names is not None:
        return {name: found[name] for name in names}
    return found


def test_the_help_file_documents_every_key_with_type_default_and_description() -> None:
    documented = help_keys()
    listed = [(name, kind, default) for name, (kind, default, _) in documented.items()]
    assert listed == expected_docs(), SYNC
    for spec in adapter_inputs():
        assert documented[spec.jenkins_name][2] == documented_description(spec), SYNC
    help_text = HELP.read_text(encoding="utf-8")
    for example in [
        "withAWS(",
        "withCredentials([aws(",
        "instance role",
        "@Library('ci-deploy') _",
    ]:
        assert example in help_text


def docs_keys_section() -> str:
    return section(page("docs/jenkins.md"), "## Keys")


def test_the_docs_keys_table_matches_the_step() -> None:
    """The step's own keys are documented by hand: held to its help (and, below, its defaults)."""
    rows = table_after(docs_keys_section(), "| key | type | default | description |")
    documented = {name.strip("`"): (kind, default, text) for name, kind, default, text in rows}
    assert list(documented) == STEP_KEYS
    step_help = help_keys(STEP_KEYS)
    for name in STEP_KEYS:
        kind, default, description = step_help[name]
        assert documented[name] == (f"`{kind}`", f"`{default}`", description), name


def test_the_inputs_reference_lists_the_step_s_input_keys() -> None:
    """docs/inputs.md is generated from the core's table; this holds it to the step's keys, and
    the docs' rule for Groovy types to what sync_keys.py writes."""
    step_keys = [name for name in help_keys() if name not in STEP_KEYS]
    assert adapter_column("Jenkins") == step_keys
    rule = "a `bool` input is a `boolean`, an `int` an `int`, a `list` a `List<String>`"
    assert rule in " ".join(docs_keys_section().split())
    written = {"bool": "boolean", "int": "int", "list": "List<String>"}
    for spec in adapter_inputs():
        assert documented_type(spec) == written.get(spec.kind, "String"), spec.name


def test_the_docs_document_the_library_layout() -> None:
    guide = page("docs/jenkins.md")
    for needle in [
        "Library Path",
        "`jenkins/`",
        "@Library('ci-deploy') _",
        "ciDeploy application:",
        "withAWS(",
        "withCredentials([aws(",
        "instance role",
    ]:
        assert needle in guide
    quick_start = section(page("README.md"), "### Jenkins")
    assert "@Library('ci-deploy') _" in quick_start
    assert "ciDeploy application:" in quick_start


def test_the_step_defaults_match_its_documented_defaults(fake_runs: FakeRuns) -> None:
    described = {key["name"]: key for key in fake_runs.results["describe"]["keys"]}
    for name, (_, default, _) in help_keys(STEP_KEYS).items():
        text = described[name]["text"]
        assert default == ("null" if text is None else f"'{text}'")


# -- end to end: the real ci-deploy against the emulator -------------------------------------


@dataclass
class Target:
    """An application, deployment group and versioned bucket on the session's emulator."""

    endpoint_url: str
    application: str
    group: str
    bucket: str


@pytest.fixture
def target(emulator: Any, emulator_clients: Any, unique_name: str) -> Target:
    codedeploy, s3 = emulator_clients.codedeploy, emulator_clients.s3
    codedeploy.create_application(applicationName=unique_name, computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName=unique_name,
        deploymentGroupName="prod",
        serviceRoleArn="arn:aws:iam::123456789012:role/ci-deploy-test",
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "3", "Type": "KEY_AND_VALUE"}],
    )
    s3.create_bucket(Bucket=unique_name)
    s3.put_bucket_versioning(Bucket=unique_name, VersioningConfiguration={"Status": "Enabled"})
    return Target(emulator.endpoint_url, unique_name, "prod", unique_name)


def real_cli_env(tmp_path: Path) -> dict[str, str | None]:
    """A Jenkins agent with ci-deploy on PATH and (fake) AWS credentials from a binding."""
    empty = tmp_path / "no-aws-config"
    return {
        "PATH": f"{Path(sys.executable).parent}:{SYSTEM_PATH}",
        "JENKINS_URL": "http://127.0.0.1:1/",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_ENDPOINT_URL": None,
    }


DEPLOY_CALL = (
    "ciDeploy(application: params.APPLICATION, deploymentGroup: 'prod', source: params.SOURCE, "
    "s3Location: params.S3_LOCATION, endpointUrl: params.ENDPOINT_URL{extra})"
)


def deploy_build(
    tmp_path: Path, name: str, target: Target, source: Path, pipeline: str = "return {call}"
) -> Build:
    """A build whose pipeline calls the step on ``target``; ``{call}`` in ``pipeline`` is the
    call, ``{call:EXTRA}`` the call with more keys."""
    call = re.sub(
        r"\{call(?::([^}]*))?\}",
        lambda found: DEPLOY_CALL.format(extra=f", {found.group(1)}" if found.group(1) else ""),
        pipeline,
    )
    return Build(
        name,
        tmp_path / f"ws-{name}",
        call,
        real_cli_env(tmp_path),
        params={
            "APPLICATION": target.application,
            "SOURCE": str(source),
            "S3_LOCATION": f"s3://{target.bucket}/builds",
            "ENDPOINT_URL": target.endpoint_url,
        },
    )


def test_a_deploy_to_the_emulator_returns_the_map(
    tmp_path: Path, target: Target, emulator_clients: Any
) -> None:
    build = deploy_build(tmp_path, "deploy", target, ROOT / "examples" / "web-app")
    results = run_pipelines(tmp_path, [build])
    outcome = results["builds"]["deploy"]
    assert outcome["result"] == "SUCCESS", build.log_path.read_text(encoding="utf-8")
    value = outcome["value"]
    deployment_id = value["deploymentId"]
    assert re.fullmatch(r"d-[A-Z0-9]{9}", deployment_id)
    assert value["status"] == "Succeeded"
    assert value["deploymentUrl"] == (
        "https://console.aws.amazon.com/codesuite/codedeploy/deployments/"
        f"{deployment_id}?region=us-east-1"
    )
    assert value["deploymentIds"] == {"us-east-1": deployment_id}
    location = value["revision"]["s3Location"]
    assert location["bucket"] == target.bucket
    assert location["key"].startswith("builds/")
    # The map describes the deployment that really happened.
    info = emulator_clients.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    assert info["applicationName"] == target.application
    assert info["revision"]["s3Location"]["key"] == location["key"]


def test_a_failing_deployment_raises_through_error_with_the_diagnostics_in_the_log(
    tmp_path: Path, target: Target
) -> None:
    build = deploy_build(tmp_path, "failing", target, ROOT / "examples" / "failing-hook")
    outcome = run_pipelines(tmp_path, [build])["builds"]["failing"]
    assert outcome["result"] == "FAILURE"
    assert outcome["exception"] is None
    message = outcome["error"]
    assert re.match(r"ciDeploy: deployment d-[A-Z0-9]{9} ended Failed\n", message), message
    assert "ValidateService: ScriptFailed in scripts/validate.sh: " in message
    log = build.log_path.read_text(encoding="utf-8")
    # ci-deploy's own diagnostics, with the hook's output, are in the build log.
    assert "health check failed: expected HTTP 200 from /health, got 503" in log
    assert log.endswith(f"ERROR: {message}\nFinished: FAILURE\n")


def slow_revision(directory: Path, started: Path, release: Path) -> Path:
    """A revision whose ApplicationStart hook says it started, then holds until released."""
    (directory / "site").mkdir(parents=True)
    (directory / "site" / "index.html").write_text("slow\n", encoding="utf-8")
    (directory / "scripts").mkdir()
    hook = directory / "scripts" / "start.sh"
    hook.write_text(
        "#!/bin/sh\n"
        f"touch '{started}'\n"
        "i=0\n"
        f"while [ ! -e '{release}' ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    (directory / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /srv/slow\n"
        "hooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 60\n",
        encoding="utf-8",
    )
    return directory


def wait_until(
    condition: Any, what: str, process: subprocess.Popen[str], timeout: float = 60
) -> Any:
    """Poll (bounded) until ``condition()`` is truthy, failing early if the JVM has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert process.poll() is None, f"the pipeline ended before {what}"
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_aborting_the_build_stops_the_deployment(
    tmp_path: Path, target: Target, emulator_clients: Any
) -> None:
    started, release = tmp_path / "hook-started", tmp_path / "hook-release"
    source = slow_revision(tmp_path / "slow", started, release)
    build = deploy_build(tmp_path, "aborted", target, source)
    spec_path, results_path = write_spec(tmp_path, [build], None)
    process = subprocess.Popen(
        groovy_command(spec_path, results_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=groovy_env(),
    )
    try:

        def deploy_pid() -> int | None:
            if not build.log_path.exists():
                return None
            log = build.log_path.read_text(encoding="utf-8")
            found = re.search(r"\[Pipeline\] sh \(ci-deploy deploy\)\n\[stub\] sh pid (\d+)", log)
            return int(found.group(1)) if found else None

        pid = wait_until(deploy_pid, "the ci-deploy sh step", process)
        wait_until(started.exists, "the deployment's hook to start", process)
        # `exec`: the process Jenkins signals is ci-deploy itself, not a shell around it.
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:3] == [str(Path(sys.executable).parent / "ci-deploy").encode(), b"deploy"]
        os.kill(pid, signal.SIGTERM)  # what Jenkins does to the sh step's processes on abort
        wait_until(
            lambda: "StopDeployment: " in build.log_path.read_text(encoding="utf-8"),
            "ci-deploy to call StopDeployment",
            process,
        )
        release.touch()
        stdout, stderr = process.communicate(timeout=60)
    finally:
        release.touch()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stdout + stderr
    outcome = json.loads(results_path.read_text(encoding="utf-8"))["builds"]["aborted"]
    assert outcome["result"] == "FAILURE"
    found = re.match(
        r"ciDeploy: deployment (d-[A-Z0-9]{9}) was interrupted \(exit code 130\)", outcome["error"]
    )
    assert found, outcome["error"]
    log = build.log_path.read_text(encoding="utf-8")
    assert f"cancelled: stopping deployment {found.group(1)}" in log
    info = emulator_clients.wait_for(found.group(1), ("Stopped", "Failed", "Succeeded"))
    assert info["status"] == "Stopped"


def test_giving_up_waiting_marks_the_build_unstable_and_the_deployment_goes_on(
    tmp_path: Path, target: Target, emulator_clients: Any
) -> None:
    started, release = tmp_path / "hook-started", tmp_path / "hook-release"
    source = slow_revision(tmp_path / "slow", started, release)
    pipeline = (
        "def deployment = {call:waitTimeoutSeconds: 1, timeoutResult: 'UNSTABLE'}\n"
        'echo "branching on ${deployment.status}"\n'
        "return deployment"
    )
    build = deploy_build(tmp_path, "impatient", target, source, pipeline)
    try:
        outcome = run_pipelines(tmp_path, [build])["builds"]["impatient"]
    finally:
        release.touch()
    log = build.log_path.read_text(encoding="utf-8")
    assert outcome["result"] == "UNSTABLE", log
    deployment_id = outcome["value"]["deploymentId"]
    assert outcome["value"]["status"] == "InProgress"
    assert (
        f"WARNING: ciDeploy: deployment {deployment_id} was still InProgress when ci-deploy "
        "gave up waiting (exit code 4); it may still finish\n"
    ) in log
    assert "branching on InProgress\n" in log
    assert log.endswith("Finished: UNSTABLE\n")
    info = emulator_clients.wait_for(deployment_id, ("Succeeded", "Failed", "Stopped"))
    assert info["status"] == "Succeeded"
