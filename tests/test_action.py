"""The GitHub Action: action.yml against the core's input table, the schemas, actionlint and
shellcheck, its documentation (docs/github-actions.md, the generated docs/inputs.md, the README's
quick start), and its steps run the way the runner runs them (tests/github_harness.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_deploy.inputs import ADAPTER_VERBS
from ci_deploy.report.github_commands import outputs_of
from ci_deploy.result import PushResult
from doc_pages import adapter_column, code_blocks, inputs_reference, page, section, table_after
from github_harness import ActionHarness, Cancel
from package_index import wheelhouse

REPO = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
BIN = Path(sys.executable).parent

# Inputs only the action has (not in the core's table), and defaults the action sets itself.
ACTION_ONLY_INPUTS = {"cli-path": ""}
ACTION_DEFAULTS = {"github-token": "${{ github.token }}"}
OUTPUTS = (
    "deployment-id",
    "deployment-ids",
    "status",
    "deployment-url",
    "revision",
    "bundle-sha256",
)


def tool(name: str) -> str:
    """A tool installed beside this interpreter (the test extra) or by scripts/install-tools."""
    found = shutil.which(name, path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    assert found, f"{name} is not installed: run ./scripts/install-tools and ./scripts/setup"
    return found


def run_tool(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def run_steps() -> list[dict[str, Any]]:
    return [step for step in ACTION["runs"]["steps"] if "run" in step]


# ---------------------------------------------------------------------------------------------
# action.yml (its contract with the core's input table: tests/test_adapter_contract.py)


def test_the_action_s_own_input_and_the_run_step_s_own_variables() -> None:
    """The table's inputs are held by tests/test_adapter_contract.py; these are the action's."""
    assert {name: ACTION["inputs"][name]["default"] for name in ACTION_ONLY_INPUTS} == (
        ACTION_ONLY_INPUTS
    )
    env = next(step for step in run_steps() if step.get("id") == "run")["env"]
    assert env["CI_DEPLOY_CI_SYSTEM"] == "github"
    assert env["CI_DEPLOY_FORMAT"] == "github"


def test_no_expression_inside_any_run_script() -> None:
    for step in run_steps():
        assert "${{" not in step["run"], step.get("id")


def test_the_command_check_lists_exactly_the_adapter_verbs() -> None:
    script = next(step for step in run_steps() if step.get("id") == "run")["run"]
    case = re.search(r"^\s*([a-z| ]+)\) ;;$", script, re.MULTILINE)
    assert case is not None
    assert tuple(verb.strip() for verb in case.group(1).split("|")) == ADAPTER_VERBS
    assert script.rstrip().endswith('exec "$ACTION_CLI" "$CI_DEPLOY_COMMAND"')


def test_outputs_are_the_reporter_s_outputs() -> None:
    assert tuple(ACTION["outputs"]) == OUTPUTS
    assert tuple(outputs_of(PushResult(revision={}))) == OUTPUTS
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


def test_the_inputs_reference_lists_the_action_s_inputs_with_their_defaults() -> None:
    """docs/inputs.md is generated from the core's table; this holds it to action.yml too."""
    shared = [name for name in ACTION["inputs"] if name not in ACTION_ONLY_INPUTS]
    assert adapter_column("GitHub Action") == shared
    rows = {row["GitHub Action"].strip("`"): row for row in inputs_reference().values()}
    for name in shared:
        if name in ACTION_DEFAULTS:
            continue  # documented in docs/github-actions.md, below
        default = str(ACTION["inputs"][name]["default"])
        assert rows[name]["default"] == (f"`{default}`" if default else "—"), name


def test_the_docs_tables_match_action_yml() -> None:
    """docs/github-actions.md: the action's own inputs, the defaults it sets itself, and the
    outputs, each with action.yml's default and description."""
    inputs_part = section(page("docs/github-actions.md"), "## Inputs")
    outputs_part = section(page("docs/github-actions.md"), "## Outputs")
    own = table_after(inputs_part, "| input | default | description |")
    documented = {cells[0].strip("`"): cells[1:] for cells in own}
    own_names = [
        name for name in ACTION["inputs"] if name in {*ACTION_ONLY_INPUTS, *ACTION_DEFAULTS}
    ]
    assert list(documented) == own_names
    for name in own_names:
        spec = ACTION["inputs"][name]
        default, description = documented[name]
        assert default == (f"`{spec['default']}`" if spec["default"] != "" else ""), name
        assert description.replace("\\|", "|") == spec["description"], name
    outputs = table_after(outputs_part, "| output | description |")
    assert [cells[0].strip("`") for cells in outputs] == list(ACTION["outputs"])
    for name, description in outputs:
        spec = ACTION["outputs"][name.strip("`")]
        assert description.replace("\\|", "|") == spec["description"], name


def documented_workflows() -> list[dict[str, Any]]:
    """The workflows of the README's quick start and docs/github-actions.md."""
    texts = [section(page("README.md"), "### GitHub Actions"), page("docs/github-actions.md")]
    return [yaml.safe_load(block) for text in texts for block in code_blocks(text, "yaml")]


def test_documented_workflows_pass_the_schema_and_use_only_the_action_s_inputs(
    tmp_path: Path,
) -> None:
    workflows = documented_workflows()
    steps = [
        step
        for workflow in workflows
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("org/ci-deploy@")
    ]
    assert len(steps) >= 2
    for step in steps:
        assert set(step["with"]) <= set(ACTION["inputs"]), step["with"]
    paths = []
    for number, workflow in enumerate(workflows):
        path = tmp_path / f"workflow-{number}.yml"
        # PyYAML reads the key `on` as True; write it back as the workflow key it is
        text = yaml.safe_dump(
            {("on" if key is True else key): value for key, value in workflow.items()}
        )
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    done = run_tool(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *paths)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------
# Schemas and linters, run for real


def test_action_yml_passes_the_github_actions_schema() -> None:
    done = run_tool(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-actions",
        "action.yml",
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_pass_the_github_workflows_schema() -> None:
    workflows = sorted(str(path) for path in (REPO / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) >= 2
    done = run_tool(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.adapter
def test_workflows_pass_actionlint_with_shellcheck() -> None:
    done = run_tool(tool("actionlint"), "-shellcheck", tool("shellcheck"), "-no-color", cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.adapter
def test_actionlint_catches_an_expression_in_a_run_script(tmp_path: Path) -> None:
    """The linter really runs: it flags what the project's rule forbids."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    done = run_tool(
        tool("actionlint"), "-shellcheck", tool("shellcheck"), "-no-color", cwd=tmp_path
    )
    assert done.returncode == 1
    assert "potentially untrusted" in done.stdout


@pytest.mark.adapter
def test_action_scripts_and_repo_scripts_pass_shellcheck(tmp_path: Path) -> None:
    files = []
    for index, step in enumerate(run_steps()):
        path = tmp_path / f"action-step-{step.get('id', index)}.sh"
        path.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"])
        files.append(str(path))
    shell_scripts = [
        path
        for path in sorted((REPO / "scripts").iterdir())
        if path.is_file()
        and re.fullmatch(r"#!.*\b(ba)?sh", path.read_text(encoding="utf-8").split("\n", 1)[0])
    ]  # scripts/gen-inputs-doc is Python: ruff and mypy check it
    assert {path.name for path in shell_scripts} >= {"demo", "install-tools", "setup", "test"}
    files += [str(path) for path in shell_scripts]
    done = run_tool(tool("shellcheck"), "--shell=bash", "--severity=style", *files)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------
# The steps, run as the runner runs them


def harness_env(path: str) -> dict[str, str]:
    """The machine's environment (a self-hosted runner's: proxies, certificates, pip config),
    without anything of this test run or of ci-deploy, with fake AWS credentials."""
    ours = ("CI_DEPLOY_", "GITHUB_", "RUNNER_", "PYTEST", "VIRTUAL_ENV", "COV_CORE", "AWS_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(ours)}
    env.update(
        {
            "PATH": path,
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "GITHUB_REPOSITORY": "octo/web",
            "GITHUB_SHA": "0" * 40,
        }
    )
    return env


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def harness(tmp_path: Path, workspace: Path) -> ActionHarness:
    """The action from this checkout, with this interpreter's ci-deploy on PATH."""
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    return ActionHarness(REPO, workspace, temp, harness_env(f"{BIN}:/usr/bin:/bin"))


def test_an_unknown_command_is_bad_input_naming_the_input(harness: ActionHarness) -> None:
    run = harness.run({"command": "deploy;rm"})
    assert run.exit_code == 2
    assert run.step("locate").outcome == "success"
    assert run.step("run").outcome == "failure"
    [error] = run.annotations("error")
    assert error.message == (
        "input command: expected one of deploy, validate, bundle, push, wait, status, stop, "
        "rollback, got 'deploy?rm'"
    )


def test_a_cli_path_that_is_not_executable_is_bad_input(
    harness: ActionHarness, workspace: Path
) -> None:
    (workspace / "ci-deploy").write_text("not a program")
    run = harness.run({"cli-path": str(workspace / "ci-deploy")})
    assert run.exit_code == 2
    assert [step.outcome for step in run.steps] == ["failure", "skipped", "skipped", "skipped"]
    [error] = run.annotations("error")
    assert error.message.startswith("input cli-path: expected an executable file, got '")


def test_ci_deploy_on_path_is_used_as_is(harness: ActionHarness, workspace: Path) -> None:
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")
    run = harness.run({"command": "validate", "source": "app"})
    assert run.exit_code == 0, run.log
    assert run.step("locate").outputs == {"cli": str(BIN / "ci-deploy"), "install": "false"}
    assert [step.outcome for step in run.steps] == ["success", "skipped", "skipped", "success"]
    assert "app/appspec.yml: valid Server" in run.step("run").stderr


def test_cli_path_overrides_path(harness: ActionHarness, workspace: Path) -> None:
    wrapper = workspace / "my-ci-deploy"
    wrapper.write_text(f'#!/bin/sh\necho "wrapped $*"\nexec {BIN / "ci-deploy"} "$@"\n')
    wrapper.chmod(0o755)
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")
    run = harness.run({"command": "validate", "source": "app", "cli-path": str(wrapper)})
    assert run.exit_code == 0, run.log
    assert run.step("run").stdout.startswith("wrapped validate\n")


def test_a_broken_appspec_is_annotated_on_its_file_and_line(
    harness: ActionHarness, workspace: Path
) -> None:
    app = workspace / "app"
    (app / "scripts").mkdir(parents=True)
    (app / "scripts" / "validate.sh").write_text("#!/bin/sh\n")
    (app / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  ValidateService:\n"
        "    - location: scripts/validate.sh\n      timeout: 9000\n"
    )
    run = harness.run({"command": "validate", "source": "app"})
    assert run.exit_code == 2
    located = [a for a in run.annotations("error") if "file" in a.properties]
    assert [(a.properties["file"], a.properties["line"], a.properties["col"]) for a in located] == [
        ("app/appspec.yml", "6", "16")
    ]
    assert located[0].properties["title"] == "appspec hook-timeout-invalid"
    assert located[0].message.startswith("timeout is a number (9000)")


def action_at_its_ref(tmp_path: Path) -> Path:
    """The action as the runner downloads it at the ref a workflow pinned: a copy of what the
    install reads (and safe from edits meanwhile)."""
    action = tmp_path / "action"
    action.mkdir()
    # README.md: pyproject's readme; LICENSE: its license file
    for name in ("action.yml", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, action / name)
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "src", action / "src", ignore=junk)
    return action


def offline_runner_env(find_links: Path) -> dict[str, str]:
    """The runner's Python only (no ci-deploy, no uv) on PATH, its pip set up for a mirror:
    the wheelhouse or ``find_links`` (the files the locks pin and the build backend), no
    index."""
    runner_python = Path(sys.base_prefix) / "bin"
    assert not (runner_python / "ci-deploy").exists()
    assert not (runner_python / "uv").exists()
    env = harness_env(f"{runner_python}:/usr/bin:/bin")
    env = {name: value for name, value in env.items() if not name.startswith(("PIP_", "UV_"))}
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(find_links),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    )
    return env


def test_without_ci_deploy_on_path_the_action_installs_its_source_with_its_lock(
    tmp_path: Path, workspace: Path
) -> None:
    """The action installs the dependencies its lock pins (hashes required), then
    $GITHUB_ACTION_PATH, into a venv under $RUNNER_TEMP; a second run reuses it (what a cache
    hit restores)."""
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    action = action_at_its_ref(tmp_path)
    harness = ActionHarness(action, workspace, temp, offline_runner_env(wheelhouse()))
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")

    first = harness.run({"command": "validate", "source": "app"}, timeout_seconds=300)
    assert first.exit_code == 0, first.log
    located = first.step("locate").outputs
    env = temp / "ci-deploy-env"
    assert located["install"] == "true"
    assert located["cli"] == str(env / "bin" / "ci-deploy")
    assert located["env-python"] == str(env / "bin" / "python")
    assert located["lock"] == f"{action}/src/ci_deploy/lock/runtime.txt"
    key = re.compile(r"ci-deploy-Linux-X64-py3\.\d+-[0-9a-f]{8}-[0-9a-f]{16}")
    assert key.fullmatch(located["cache-key"])
    [cache] = [step for step in first.steps if step.kind == "uses"]
    assert cache.with_ == {"path": str(env), "key": located["cache-key"]}
    installed = re.compile(r"^Installed ci-deploy \S+ with venv \+ pip in [0-9.]+s$", re.M)
    assert installed.search(first.steps[2].stdout), first.log
    assert (env / ".ci-deploy-complete").is_file()
    assert "valid Server" in first.step("run").stderr
    # the dependencies are the lock's pins; the venv has no pip (the runner's installed it)
    listing = "import importlib.metadata as m\nfor d in m.distributions(): print(d.name, d.version)"
    installed_dists = subprocess.run(
        [str(env / "bin" / "python"), "-c", listing], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    lock = (REPO / "src" / "ci_deploy" / "lock" / "runtime.txt").read_text()
    assert len(installed_dists) > 10
    for line in installed_dists:
        name, version = line.split()
        name = re.sub(r"[-_.]+", "-", name).lower()
        if name != "ci-deploy":
            assert re.search(rf"^{re.escape(name)}=={re.escape(version)} ", lock, re.M), line
    assert not (env / "bin" / "pip").exists()

    second = harness.run({"command": "validate", "source": "app"}, timeout_seconds=60)
    assert second.exit_code == 0, second.log
    assert second.step("locate").outputs["cache-key"] == located["cache-key"]
    assert second.steps[2].stdout.startswith("Using the cached ci-deploy ")


def test_a_file_whose_hash_is_not_the_lock_s_fails_the_install_and_leaves_no_environment(
    tmp_path: Path, workspace: Path
) -> None:
    """The runner's mirror serves another boto3 file than the one the lock was made from."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for path in wheelhouse().iterdir():
        if path.name.startswith("boto3-"):
            (mirror / path.name).write_bytes(path.read_bytes() + b"tampered")
        elif not path.name.startswith("."):
            (mirror / path.name).symlink_to(path)
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    action = action_at_its_ref(tmp_path)
    harness = ActionHarness(action, workspace, temp, offline_runner_env(mirror))
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")

    run = harness.run({"command": "validate", "source": "app"}, timeout_seconds=300)
    assert run.exit_code == 1, run.log
    assert [step.outcome for step in run.steps] == ["success", "success", "failure", "skipped"]
    [error] = run.annotations("error")
    assert error.message == (
        "a file from the package index does not match its hash in the action's lock "
        "(src/ci_deploy/lock/runtime.txt): the runner's index or mirror serves other files than "
        "the lock was made from; point pip (PIP_INDEX_URL) or uv (UV_INDEX_URL) at one that "
        "serves the original files"
    )
    assert "boto3" in run.steps[2].stdout
    assert not (temp / "ci-deploy-env").exists()


WINDOWS_PYTHON = """#!/bin/sh
# The runner's Python on a Windows runner: the action's layout script (`python - ...`) runs
# with sys.platform win32; everything else is this interpreter.
if [ "$1" = "-" ]; then
  exec {python} -c 'import sys; sys.platform = "win32"; sys.argv = sys.argv[1:]
exec(compile(sys.stdin.read(), "<stdin>", "exec"))' "$@"
fi
exec {python} "$@"
"""

# uv on a Windows runner: `uv venv` makes Scripts/, `uv pip install` leaves Scripts/ci-deploy.exe
# (here a script running this checkout's ci-deploy).
WINDOWS_UV = """#!/bin/sh
printf '%s\\n' "$*" >> {record}
case "$1" in
  venv) mkdir -p "$5/Scripts" ;;
  pip)
    scripts=$(dirname "$5")
    printf '#!/bin/sh\\nexec {cli} "$@"\\n' > "$scripts/ci-deploy.exe"
    chmod +x "$scripts/ci-deploy.exe"
    ;;
esac
"""


def test_on_a_windows_runner_the_action_installs_into_the_venv_s_scripts_dir(
    tmp_path: Path, workspace: Path
) -> None:
    """Windows venvs keep executables in Scripts/ with .exe names: the action asks the runner's
    Python for the layout instead of assuming bin/."""
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    tools = tmp_path / "runner-tools"
    tools.mkdir()
    record = tmp_path / "uv-calls.txt"
    (tools / "python3").write_text(WINDOWS_PYTHON.format(python=sys.executable))
    (tools / "uv").write_text(WINDOWS_UV.format(record=record, cli=BIN / "ci-deploy"))
    for script in tools.iterdir():
        script.chmod(0o755)
    harness = ActionHarness(REPO, workspace, temp, harness_env(f"{tools}:/usr/bin:/bin"))
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")

    run = harness.run({"command": "validate", "source": "app"})

    assert run.exit_code == 0, run.log
    env = temp / "ci-deploy-env"
    located = run.step("locate").outputs
    assert located["cli"] == f"{env}/Scripts/ci-deploy.exe"
    assert located["env-python"] == f"{env}/Scripts/python.exe"
    python = f"{env}/Scripts/python.exe"
    lock = "src/ci_deploy/lock/runtime.txt"
    assert record.read_text().splitlines() == [
        f"venv -q --python {tools / 'python3'} {env}",
        f"pip install -q --python {python} --require-hashes -r {REPO / lock}",
        f"pip install -q --python {python} --no-deps --compile-bytecode {REPO}",
    ]
    assert "app/appspec.yml: valid Server" in run.step("run").stderr


# ---------------------------------------------------------------------------------------------
# End to end: the action deploys to the emulator


def deploy_inputs(source: str, application: str, **more: str) -> dict[str, str]:
    return {
        "source": source,
        "application": application,
        "deployment-group": "github-action",
        "s3-location": f"s3://{application}-revisions/builds",
        **more,
    }


def test_deploying_web_app_sets_outputs_groups_and_the_job_summary(
    harness: ActionHarness, workspace: Path
) -> None:
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")
    run = harness.run(deploy_inputs("app", "gh-web", emulator="true"), timeout_seconds=180)
    assert run.exit_code == 0, run.log

    outputs = run.outputs
    assert outputs["status"] == "Succeeded"
    deployment_id = outputs["deployment-id"]
    assert re.fullmatch(r"d-[A-Z0-9]{9}", deployment_id)
    assert json.loads(outputs["deployment-ids"]) == {"us-east-1": deployment_id}
    assert outputs["deployment-url"] == (
        "https://console.aws.amazon.com/codesuite/codedeploy/deployments/"
        f"{deployment_id}?region=us-east-1"
    )
    revision = json.loads(outputs["revision"])
    assert revision["revisionType"] == "S3"
    assert revision["s3Location"]["bucket"] == "gh-web-revisions"
    assert revision["s3Location"]["key"].startswith("builds/")
    assert re.fullmatch(r"[0-9a-f]{64}", outputs["bundle-sha256"])

    groups = [c.message for c in run.named("group")]
    assert f"CodeDeploy deployment {deployment_id}" in groups
    assert len(run.named("endgroup")) == len(groups)
    assert not run.annotations("error")
    [notice] = run.annotations("notice")
    assert (
        notice.message
        == f"CodeDeploy deployment {deployment_id} succeeded: {outputs['deployment-url']}"
    )

    summary = run.summary
    assert summary.startswith("## ✅ CodeDeploy gh-web / github-action: Succeeded\n")
    assert "| Target | Status | ApplicationStop | DownloadBundle | BeforeInstall |" in summary
    assert len(re.findall(r"^\| i-[0-9a-f]+ \| ✅ Succeeded \|", summary, re.MULTILINE)) == 3
    assert f"[Open `{deployment_id}` in the CodeDeploy console]" in summary


def test_a_failing_hook_fails_the_step_with_an_annotation_on_its_script(
    harness: ActionHarness, workspace: Path
) -> None:
    shutil.copytree(REPO / "examples" / "failing-hook", workspace / "app")
    run = harness.run(deploy_inputs("app", "gh-failing", emulator="true"), timeout_seconds=180)
    assert run.exit_code == 1, run.log
    assert run.step("run").outcome == "failure"
    assert run.outputs["status"] == "Failed"

    hook = [a for a in run.annotations("error") if a.properties.get("file")]
    assert len(hook) == 1
    assert hook[0].properties["file"] == "app/scripts/validate.sh"
    assert hook[0].properties["title"] == "CodeDeploy ValidateService failed"
    assert hook[0].message.startswith("ScriptFailed scripts/validate.sh on i-")

    summary = run.summary
    assert summary.startswith("## ❌ CodeDeploy gh-failing / github-action: Failed\n")
    assert re.search(r"^#### ❌ ValidateService failed on `i-[0-9a-f]+`$", summary, re.MULTILINE)
    assert "script `scripts/validate.sh`" in summary
    assert "<details open><summary>Log tail</summary>" in summary


def test_deploying_a_broken_appspec_annotates_its_lines_and_uploads_nothing(
    harness: ActionHarness, workspace: Path
) -> None:
    app = workspace / "app"
    app.mkdir()
    (app / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  ValidateService:\n"
        "    - location: scripts/missing.sh\n      timeout: 9000\n"
    )
    run = harness.run(deploy_inputs("app", "gh-broken", emulator="true"), timeout_seconds=120)
    assert run.exit_code == 2, run.log
    located = sorted(
        (a.properties["file"], int(a.properties["line"]), a.properties["title"])
        for a in run.annotations("error")
        if "file" in a.properties
    )
    assert located == [
        ("app/appspec.yml", 5, "AppSpec: hook-script-not-found"),
        ("app/appspec.yml", 6, "AppSpec: hook-timeout-invalid"),
    ]
    assert "uploaded" not in run.log
    assert run.outputs["status"] == ""


def test_github_deployment_reports_the_deployment_with_the_job_token(
    tmp_path: Path, workspace: Path, fake_github: Any
) -> None:
    """github-deployment: the action passes the job's token (its default) and ci-deploy creates
    a GitHub deployment on the run's commit, in_progress then success, via the API URL."""
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    env = harness_env(f"{BIN}:/usr/bin:/bin")
    env.update(
        {
            "GITHUB_API_URL": fake_github.url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "99",
        }
    )
    harness = ActionHarness(REPO, workspace, temp, env, github={"token": "ghs_job_token"})
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")
    inputs = deploy_inputs("app", "gh-envs", emulator="true", **{"github-deployment": "staging"})
    run = harness.run(inputs, timeout_seconds=180)
    assert run.exit_code == 0, run.log

    assert run.named("add-mask")[0].message == "ghs_job_token"
    assert "ghs_job_token" not in run.log.replace("::add-mask::ghs_job_token", "")
    paths = [(r.method, r.path) for r in fake_github.requests]
    assert paths == [
        ("POST", "/repos/octo/web/deployments"),
        ("POST", "/repos/octo/web/deployments/42/statuses"),
        ("POST", "/repos/octo/web/deployments/42/statuses"),
    ]
    assert {r.authorization for r in fake_github.requests} == {"token ghs_job_token"}
    create, progress, done = (r.body for r in fake_github.requests)
    assert create["ref"] == "0" * 40
    assert create["environment"] == "staging"
    assert create["payload"] == {"codedeploy_deployment_id": run.outputs["deployment-id"]}
    assert progress["state"] == "in_progress"
    assert done["state"] == "success"
    assert done["environment_url"] == run.outputs["deployment-url"]
    assert done["log_url"] == "https://github.example/octo/web/actions/runs/99"


def test_notify_posts_to_the_hooks_and_the_log_never_shows_their_urls(
    harness: ActionHarness, workspace: Path, webhook_server: Any
) -> None:
    """notify: the action hands the hooks to ci-deploy through its environment; on the runner
    ci-deploy has them masked before anything else is printed, then posts the start and the
    end to each."""
    slack, generic = webhook_server(), webhook_server()
    token = "/services/T0001/B0002/Xy7TopSecretToken"
    hooks = f"slack:{slack.url(token)}\n{generic.url('/hooks/Ab9OtherSecretToken')}"
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")
    inputs = deploy_inputs("app", "gh-notify", emulator="true", notify=hooks)
    run = harness.run(inputs, timeout_seconds=180)
    assert run.exit_code == 0, run.log

    masked = [c.message for c in run.named("add-mask")]
    assert masked == [
        "ghs_harness_token",  # the job's token, masked by the reporter first
        slack.url(token),
        token,
        generic.url("/hooks/Ab9OtherSecretToken"),
        "/hooks/Ab9OtherSecretToken",
    ]
    shown = "\n".join(line for line in run.log.splitlines() if not line.startswith("::add-mask::"))
    assert "SecretToken" not in shown
    deployment_id = run.outputs["deployment-id"]
    assert [b["blocks"][0]["text"]["text"] for b in slack.bodies()] == [
        "🚀 Deployment started",
        "✅ Deployment succeeded",
    ]
    start, end = generic.bodies()
    assert start["deployment_ids"] == {"us-east-1": deployment_id}
    assert start["run_url"] is None  # the harness sets no GITHUB_RUN_ID
    assert end["result"]["deployment_id"] == deployment_id


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cancelling_mid_deployment_stops_the_codedeploy_deployment(
    harness: ActionHarness, workspace: Path, emulator_app: Any, signum: int
) -> None:
    """Cancelling the workflow: the runner signals the step's process (the shell it started),
    SIGINT first, SIGTERM 7.5 s later; the step `exec`s ci-deploy, so ci-deploy gets the signal,
    calls StopDeployment and exits 130. (Without `exec`, bash holds the signal until its child
    ends: this test then hits its time limit.)"""
    app = workspace / "app"
    (app / "scripts").mkdir(parents=True)
    (app / "scripts" / "slow.sh").write_text("#!/bin/sh\nsleep 60\n")
    (app / "scripts" / "slow.sh").chmod(0o755)
    (app / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n"
        "    - location: scripts/slow.sh\n      timeout: 120\n"
    )
    target = {
        "deployment-group": emulator_app.group,
        "s3-location": f"s3://{emulator_app.bucket}/builds",
        "endpoint-url": emulator_app.endpoint_url,
    }

    started = time.monotonic()
    run = harness.run(
        deploy_inputs("app", emulator_app.application, **target),
        timeout_seconds=60,
        cancel=Cancel("run", r"BeforeInstall started", signum),
    )
    assert time.monotonic() - started < 40, "ci-deploy did not stop promptly"
    assert run.exit_code == 130, run.log
    assert run.step("run").outcome == "cancelled"
    created = re.search(r"created deployment (d-[A-Z0-9]{9})", run.log)
    assert created, run.log
    deployment_id = created.group(1)
    codedeploy = emulator_app.clients.codedeploy
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Stopped"
    assert run.outputs["status"] == "Stopped"
    assert "::warning title=ci-deploy::cancelled: stopping deployment" in run.step("run").stderr
