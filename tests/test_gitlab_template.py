"""The GitLab CI template: its spec against the core's input table, the GitLab CI schema, the
README, and pipelines that include it run by the real gitlab-ci-local (shell executor)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import ci_deploy
from ci_deploy.inputs import BY_NAME, Input, adapter_inputs

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "gitlab" / "ci-deploy.yml"
GITLAB_CI_LOCAL = REPO / ".tools" / "node_modules" / ".bin" / "gitlab-ci-local"
BIN = Path(sys.executable).parent

# Inputs only the template has: they shape the job, not the ci-deploy call.
JOB_INPUTS = {
    "as",
    "stage",
    "image",
    "needs",
    "rules",
    "allow_failure_exit_codes",
    "interruptible",
    "environment_name",
    "environment_url",
    "environment_action",
    "aws_token_audience",
    "cli_path",
    "cli_package",
}
# Variables the job sets besides one per adapter input.
JOB_VARIABLES = {
    "CI_DEPLOY_CLI_PATH": "$[[ inputs.cli_path ]]",
    "CI_DEPLOY_CLI_PACKAGE": "$[[ inputs.cli_package ]]",
    BY_NAME["ci_system"].env: "gitlab",
    BY_NAME["dotenv_file"].env: ".ci-deploy/ci-deploy.env",
}
JOB_NAME = "$[[ inputs.as ]]"


def documents() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(TEMPLATE.read_text(encoding="utf-8")))


def spec_inputs() -> dict[str, dict[str, Any]]:
    inputs: dict[str, dict[str, Any]] = documents()[0]["spec"]["inputs"]
    return inputs


def job() -> dict[str, Any]:
    body: dict[str, Any] = documents()[1][JOB_NAME]
    return body


def default_text(entry: dict[str, Any]) -> str:
    """A spec input's default the way the core's table writes defaults."""
    value = entry["default"]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expected_type(spec: Input) -> str:
    if spec.kind == "bool":
        return "boolean"
    if spec.kind == "int" and spec.default is not None:
        return "number"
    # lists are comma-separated strings: a job variable cannot hold an array
    return "string"


# ---------------------------------------------------------------------------------------------
# Contract: the spec <-> the core's input table


def test_spec_inputs_are_the_adapter_inputs_in_table_order_plus_the_job_s_own() -> None:
    inputs = spec_inputs()
    table = [spec.gitlab_name for spec in adapter_inputs()]
    assert [name for name in inputs if name not in JOB_INPUTS] == table
    assert set(inputs) == set(table) | JOB_INPUTS


@pytest.mark.parametrize("spec", adapter_inputs(), ids=lambda spec: spec.name)
def test_each_input_has_the_table_s_default_type_options_and_help(spec: Input) -> None:
    entry = spec_inputs()[spec.gitlab_name]
    assert "default" in entry, f"{spec.name}: every ci-deploy input is optional in the template"
    assert default_text(entry) == spec.default_text()
    assert entry.get("type", "string") == expected_type(spec)
    if spec.kind == "choice":
        assert entry["options"] == ([""] if spec.default is None else []) + list(spec.choices)
    else:
        assert "options" not in entry
    if spec.kind == "int" and spec.default is None:
        assert entry["regex"] == "^[0-9]*$"
    assert entry["description"] == spec.help


def test_the_job_maps_every_input_to_its_variable_and_nothing_else() -> None:
    variables = job()["variables"]
    expected = {spec.env: f"$[[ inputs.{spec.gitlab_name} ]]" for spec in adapter_inputs()}
    assert variables == expected | JOB_VARIABLES


def test_only_needs_is_required_and_every_input_is_described() -> None:
    inputs = spec_inputs()
    assert [name for name, entry in inputs.items() if "default" not in entry] == ["needs"]
    for name, entry in inputs.items():
        assert entry["description"].strip().endswith("."), name


def test_the_install_fallback_is_this_release() -> None:
    assert spec_inputs()["cli_package"]["default"] == f"ci-deploy=={ci_deploy.__version__}"


def test_nothing_global_and_the_job_shape_comes_from_inputs() -> None:
    header, body = documents()
    assert list(header) == ["spec"]
    assert list(body) == [JOB_NAME]  # no default:, stages:, workflow:, variables: at the top
    shaped = job()
    assert shaped["stage"] == "$[[ inputs.stage ]]"
    assert shaped["image"] == "$[[ inputs.image ]]"
    assert shaped["needs"] == "$[[ inputs.needs ]]"
    assert shaped["rules"] == "$[[ inputs.rules ]]"
    assert shaped["allow_failure"] == {"exit_codes": "$[[ inputs.allow_failure_exit_codes ]]"}
    assert shaped["environment"] == {
        "name": "$[[ inputs.environment_name ]]",
        "url": "$[[ inputs.environment_url ]]",
        "action": "$[[ inputs.environment_action ]]",
    }
    assert shaped["artifacts"]["reports"]["dotenv"] == JOB_VARIABLES["CI_DEPLOY_DOTENV_FILE"]
    assert shaped["artifacts"]["when"] == "always"


def test_inputs_reach_the_script_only_through_the_environment() -> None:
    script = "\n".join(job()["script"])
    assert "$[[" not in script
    # one ci-deploy call that replaces the shell, so a cancel's SIGTERM reaches it
    assert re.findall(r'^exec "\$cli".*$', script, flags=re.MULTILINE) == [
        'exec "$cli" "$CI_DEPLOY_COMMAND"'
    ]


def test_the_script_passes_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("\n".join(job()["script"]) + "\n", encoding="utf-8")
    checked = subprocess.run(
        ["shellcheck", "--shell=sh", str(script)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout


# ---------------------------------------------------------------------------------------------
# The GitLab CI schema that check-jsonschema vendors


def check_schema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_spec_header_validates(tmp_path: Path) -> None:
    header = tmp_path / "header.yml"
    header.write_text(yaml.safe_dump(documents()[0]), encoding="utf-8")
    checked = check_schema(header)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_catches_a_bad_header(tmp_path: Path) -> None:
    header = documents()[0]
    header["spec"]["inputs"]["wait"]["type"] = "bool"
    broken = tmp_path / "header.yml"
    broken.write_text(yaml.safe_dump(header), encoding="utf-8")
    assert check_schema(broken).returncode == 1


# ---------------------------------------------------------------------------------------------
# The README


def readme_default(entry: dict[str, Any]) -> str:
    if "default" not in entry:
        return "required"
    value = entry["default"]
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`" + yaml.safe_dump(value, default_flow_style=True, width=1000).strip() + "`"
    return f"`{value}`" if value != "" else ""


def gitlab_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## GitLab CI\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_readme_inputs_table_is_the_template_s() -> None:
    rows = [
        line
        for line in gitlab_section().split("\n### Inputs\n", 1)[1].splitlines()
        if line.startswith("| `")
    ]
    expected = [
        f"| `{name}` | {readme_default(entry)} | "
        + " ".join(entry["description"].split()).replace("|", "\\|")
        + " |"
        for name, entry in spec_inputs().items()
    ]
    assert rows == expected


def readme_pipelines() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", gitlab_section(), flags=re.DOTALL)
    return [yaml.safe_load(block) for block in blocks]


def test_readme_examples_are_valid_pipelines_with_known_inputs(tmp_path: Path) -> None:
    pipelines = readme_pipelines()
    assert len(pipelines) >= 4
    known = set(spec_inputs())
    included = 0
    for number, pipeline in enumerate(pipelines):
        path = tmp_path / f"example-{number}.yml"
        path.write_text(yaml.safe_dump(pipeline), encoding="utf-8")
        checked = check_schema(path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        for include in pipeline.get("include", []):
            assert set(include["inputs"]) <= known, include["inputs"]
            assert "needs" in include["inputs"], "needs is required"
            included += 1
    assert included >= 4  # remote, project (twice), component


# ---------------------------------------------------------------------------------------------
# gitlab-ci-local runs pipelines that include the template


@dataclass
class Run:
    repo: Path
    returncode: int
    output: str
    stdout: str

    def job_result(self, job_name: str = "ci-deploy") -> tuple[str, int | None]:
        """PASS, WARN or FAIL, and the exit code. gitlab-ci-local's own exit code is no guide:
        4.73.0 exits 0 when a failed job has ``allow_failure: exit_codes:``, whatever the code."""
        found = re.search(
            rf"^{re.escape(job_name)}\s+finished in [^\n]*?(?:(WARN|FAIL) (\d+))?\s*$",
            self.output,
            flags=re.MULTILINE,
        )
        assert found, self.output
        if found.group(1) is None:
            return "PASS", 0
        return found.group(1), int(found.group(2))

    def log(self, job_name: str = "ci-deploy") -> str:
        return (self.repo / ".gitlab-ci-local" / "output" / f"{job_name}.log").read_text()

    def dotenv(self, job_name: str = "ci-deploy") -> dict[str, str]:
        path = (
            self.repo
            / ".gitlab-ci-local/artifacts"
            / job_name
            / ".gitlab-ci-reports/dotenv"
            / JOB_VARIABLES["CI_DEPLOY_DOTENV_FILE"]
        )
        pairs = (line.split("=", 1) for line in path.read_text().splitlines())
        return dict(pairs)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def run_pipeline(
    tmp_path: Path,
    inputs: dict[str, Any],
    *,
    files: dict[str, str] | None = None,
    extra_jobs: dict[str, Any] | None = None,
    variables: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
    timeout: float = 120,
) -> Run:
    """Commit a repository whose .gitlab-ci.yml includes the template with ``inputs`` (plus
    ``files``), run gitlab-ci-local in it, and return its exit code and output."""
    repo = tmp_path / "repo"
    (repo / "gitlab").mkdir(parents=True)
    (repo / "gitlab" / "ci-deploy.yml").write_text(TEMPLATE.read_text(encoding="utf-8"))
    for name, text in (files or {}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    pipeline = {
        "stages": ["test", "deploy", "verify"],
        "include": [{"local": "gitlab/ci-deploy.yml", "inputs": inputs}],
        **(extra_jobs or {}),
    }
    (repo / ".gitlab-ci.yml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "pipeline")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }
    command = [str(GITLAB_CI_LOCAL), "--force-shell-executor", "--no-color", *options]
    for name, value in (variables or {}).items():
        command += ["--variable", f"{name}={value}"]
    done = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(repo, done.returncode, done.stdout + done.stderr, done.stdout)


FAKE_CLI = """\
#!{python}
# Stands in for ci-deploy: records its argv and environment, one JSON line per call.
import json, os, sys
with open({record!r}, "a") as out:
    env = {{k: v for k, v in os.environ.items() if k.startswith(("CI_DEPLOY_", "AWS_"))}}
    token_file = os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    token = None
    if token_file:
        token = [open(token_file).read(), oct(os.stat(token_file).st_mode & 0o777)]
    out.write(json.dumps({{"argv": sys.argv[1:], "env": env, "token": token}}) + "\\n")
"""


def fake_cli(tmp_path: Path) -> tuple[Path, Path]:
    record = tmp_path / "calls.jsonl"
    cli = tmp_path / "fake-bin" / "ci-deploy"
    cli.parent.mkdir()
    cli.write_text(FAKE_CLI.format(python=sys.executable, record=str(record)))
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    return cli, record


def calls(record: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


@pytest.mark.adapter
def test_values_reach_ci_deploy_verbatim_through_the_environment(tmp_path: Path) -> None:
    cli, record = fake_cli(tmp_path)
    hostile = 'it\'s "quoted" $(touch pwned) `touch pwned2`; exit 3'
    run = run_pipeline(
        tmp_path,
        {
            "needs": [],
            "cli_path": str(cli),
            "application": "web",
            "deployment_group": "prod",
            "description": hostile,
            "wait": False,
            "instances": 5,
            "regions": "us-east-1,eu-west-1",
        },
    )
    assert run.job_result() == ("PASS", 0)
    validate_call, deploy_call = calls(record)
    # the quiet Code Quality pass, then the one call that is the job's result
    assert validate_call["argv"] == ["validate", "--format", "gitlab"]
    assert deploy_call["argv"] == ["deploy"]
    env = deploy_call["env"]
    assert env["CI_DEPLOY_DESCRIPTION"] == hostile
    assert env["CI_DEPLOY_WAIT"] == "false"
    assert env["CI_DEPLOY_INSTANCES"] == "5"
    assert env["CI_DEPLOY_REGIONS"] == "us-east-1,eu-west-1"
    assert env["CI_DEPLOY_CI_SYSTEM"] == "gitlab"
    assert env["CI_DEPLOY_EXCLUDE"] == "/.ci-deploy/"  # its own reports stay out of the bundle
    assert not (run.repo / "pwned").exists() and not (run.repo / "pwned2").exists()
    assert deploy_call["token"] is None  # no AWS_ROLE_ARN: no web identity


@pytest.mark.adapter
def test_the_id_token_becomes_a_private_web_identity_token_file(tmp_path: Path) -> None:
    cli, record = fake_cli(tmp_path)
    run = run_pipeline(
        tmp_path,
        {"needs": [], "cli_path": str(cli), "command": "status", "deployment_id": "d-1"},
        # gitlab-ci-local does not mint ID tokens; a runner sets the id_tokens variable so
        variables={
            "CI_DEPLOY_ID_TOKEN": "eyJ.header.signature",
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/gitlab-deploy",
        },
    )
    assert run.job_result() == ("PASS", 0)
    (call,) = calls(record)  # status reads no source: no Code Quality pass
    assert call["argv"] == ["status"]
    assert call["env"]["AWS_ROLE_ARN"] == "arn:aws:iam::123456789012:role/gitlab-deploy"
    assert call["token"] == ["eyJ.header.signature", "0o600"]
    assert not call["env"]["AWS_WEB_IDENTITY_TOKEN_FILE"].startswith(str(run.repo))


@pytest.mark.adapter
def test_a_ci_deploy_on_path_is_used_as_is(tmp_path: Path) -> None:
    cli, record = fake_cli(tmp_path)
    run = run_pipeline(
        tmp_path,
        {"needs": [], "command": "stop", "deployment_id": "d-1", "environment_action": "stop"},
        variables={"PATH": f"{cli.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert run.job_result() == ("PASS", 0)
    assert [call["argv"] for call in calls(record)] == [["stop"]]
    assert calls(record)[0]["env"]["CI_DEPLOY_DEPLOYMENT_ID"] == "d-1"


@pytest.mark.adapter
def test_a_missing_required_input_is_rejected(tmp_path: Path) -> None:
    run = run_pipeline(tmp_path, {"application": "web", "deployment_group": "prod"})
    assert run.returncode == 1
    assert "`needs` input: required value has not been provided" in run.output
    assert not (run.repo / ".gitlab-ci-local" / "output" / "ci-deploy.log").exists()


@pytest.mark.adapter
@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"command": "deplyo"}, "`command` input: `deplyo` cannot be used because it is not in"),
        ({"wait": "ture"}, "`wait` input: provided value is not a boolean"),
        ({"instances": "three"}, "`instances` input: provided value is not a number"),
        ({"wait_timeout_seconds": "10m"}, "`wait_timeout_seconds` input: `10m` does not match"),
    ],
    ids=["option", "boolean", "number", "regex"],
)
def test_a_bad_input_value_is_rejected(
    tmp_path: Path, inputs: dict[str, Any], message: str
) -> None:
    run = run_pipeline(tmp_path, {"needs": [], **inputs})
    assert run.returncode == 1
    assert message in run.output


@pytest.mark.adapter
def test_an_unknown_input_fails_the_job_naming_the_input_it_left_out(tmp_path: Path) -> None:
    """GitLab rejects an unknown input when it creates the pipeline ("unknown input
    arguments"); gitlab-ci-local 4.73.0 does not check names, so there the misspelt input is
    simply missing, and ci-deploy itself refuses to run without it (exit 2)."""
    run = run_pipeline(tmp_path, {"needs": [], "command": "status", "deployment_idd": "d-1"})
    assert run.job_result() == ("FAIL", 2)
    assert "ci-deploy: error: input deployment_id is required for status" in run.log()


FULL_INPUTS: dict[str, Any] = {
    "as": "deploy-production",
    "stage": "deploy",
    "image": "registry.example.com/tools/ci-deploy:0.1.0",
    "needs": [{"job": "unit-tests", "artifacts": False}],
    "rules": [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "manual"}],
    "allow_failure_exit_codes": [1, 4],
    "interruptible": True,
    "environment_name": "production",
    "environment_url": "https://web.example.com",
    "environment_action": "start",
    "command": "deploy",
    "source": "app",
    "application": "web",
    "deployment_group": "production",
    "s3_location": "s3://my-revisions/web",
    "wait_timeout_seconds": "900",
    "instances": 2,
    "auto_rollback": "failure,stop-on-alarm",
}


@pytest.mark.adapter
@pytest.mark.parametrize("inputs", [{"needs": []}, FULL_INPUTS], ids=["minimal", "full"])
def test_the_job_as_included_validates_against_the_schema(
    tmp_path: Path, inputs: dict[str, Any]
) -> None:
    """GitLab checks the job after interpolating the inputs (a `$[[ ]]` block stands for an
    array, a boolean or a number there), so the schema is applied to what the include yields."""
    unit_tests = {"unit-tests": {"stage": "test", "script": ["true"]}}
    run = run_pipeline(tmp_path, inputs, extra_jobs=unit_tests, options=("--preview",))
    assert run.returncode == 0, run.output
    expanded = tmp_path / "expanded.yml"
    expanded.write_text(run.stdout)
    pipeline = yaml.safe_load(expanded.read_text())
    job_name = inputs.get("as", "ci-deploy")
    assert "$[[" not in json.dumps(pipeline[job_name])
    checked = check_schema(expanded)
    assert checked.returncode == 0, checked.stdout + checked.stderr
