"""The GitLab CI template: its spec against the core's input table, the GitLab CI schema, its
documentation (docs/gitlab-ci.md, the generated docs/inputs.md, the README's quick start), and
pipelines that include it run by the real gitlab-ci-local (shell executor)."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import ci_deploy
from ci_deploy.inputs import BY_NAME, adapter_inputs
from doc_pages import adapter_column, code_blocks, inputs_reference, page, section, table_after
from package_index import PackageIndex

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "gitlab" / "ci-deploy.yml"
GITLAB_CI_LOCAL = REPO / ".tools" / "node_modules" / ".bin" / "gitlab-ci-local"
BIN = Path(sys.executable).parent

# Variables the job sets besides one per adapter input.
JOB_VARIABLES = {
    "CI_DEPLOY_CLI_PATH": "$[[ inputs.cli_path ]]",
    "CI_DEPLOY_CLI_PACKAGE": "$[[ inputs.cli_package ]]",
    "CI_DEPLOY_CLI_LOCK": "$[[ inputs.cli_lock ]]",
    "CI_DEPLOY_CLI_INDEX_URL": "$[[ inputs.cli_index_url ]]",
    BY_NAME["ci_system"].env: "gitlab",
    BY_NAME["dotenv_file"].env: ".ci-deploy/ci-deploy.env",
}
JOB_NAME = "$[[ inputs.as ]]"


def documents() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(TEMPLATE.read_text(encoding="utf-8")))


def spec_inputs() -> dict[str, dict[str, Any]]:
    inputs: dict[str, dict[str, Any]] = documents()[0]["spec"]["inputs"]
    return inputs


def job_inputs() -> set[str]:
    """The inputs that shape the job, not the ci-deploy call (tests/test_adapter_contract.py
    lists them)."""
    table = {spec.gitlab_name for spec in adapter_inputs()}
    return {name for name in spec_inputs() if name not in table}


def job() -> dict[str, Any]:
    body: dict[str, Any] = documents()[1][JOB_NAME]
    return body


# ---------------------------------------------------------------------------------------------
# The job (the spec's contract with the core's input table: tests/test_adapter_contract.py)


def test_the_job_sets_only_the_inputs_variables_and_its_own() -> None:
    """Each input's variable is held by tests/test_adapter_contract.py; nothing else is set."""
    inputs = {spec.env for spec in adapter_inputs()}
    own = {name: value for name, value in job()["variables"].items() if name not in inputs}
    assert own == JOB_VARIABLES


def test_the_install_is_this_release_pinned_with_the_release_s_own_lock() -> None:
    inputs = spec_inputs()
    assert inputs["cli_package"]["default"] == f"ci-deploy=={ci_deploy.__version__}"
    assert inputs["cli_lock"]["default"] == "release"
    assert inputs["cli_index_url"]["default"] == ""


def test_pip_s_cache_is_kept_per_release_in_the_project() -> None:
    assert job()["cache"] == {
        "key": f"ci-deploy-{ci_deploy.__version__}",
        "paths": [".ci-deploy-cache/"],
        "when": "always",
    }
    script = "\n".join(job()["script"])
    assert 'PIP_CACHE_DIR="$PWD/.ci-deploy-cache/pip"' in script


def test_the_remote_include_reads_the_template_at_this_release_s_tag() -> None:
    remote = f"https://raw.githubusercontent.com/org/ci-deploy/v{ci_deploy.__version__}/gitlab/"
    assert f"#     - remote: {remote}ci-deploy.yml" in TEMPLATE.read_text(encoding="utf-8")
    assert f"  - remote: {remote}ci-deploy.yml" in gitlab_doc()
    assert f"  - remote: {remote}ci-deploy.yml" in readme_quick_start()


def test_nothing_global_and_the_job_shape_comes_from_inputs() -> None:
    header, body = documents()
    assert list(header) == ["spec"]
    assert list(body) == [JOB_NAME]  # no default:, stages:, workflow:, variables: at the top
    shaped = job()
    assert shaped["stage"] == "$[[ inputs.stage ]]"
    assert shaped["image"] == "$[[ inputs.image ]]"
    # No `needs:`: the job runs after the earlier stages, the safe default for a deployment;
    # a pipeline sets `needs:` on its own job of the same name (GitLab merges the two).
    assert "needs" not in shaped
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
        'exec "$cli" "$CI_DEPLOY_COMMAND" > .ci-deploy/result.json'
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


def check_schema(*paths: Path, output: str = "text") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci"),
            *("--output-format", output, *map(str, paths)),
        ],
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
    checked = check_schema(broken, output="json")
    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    assert report["parse_errors"] == []
    [error] = report["errors"]  # the one bad input, and only the offending key
    assert error["path"] == "$.spec.inputs.wait"
    assert error["best_deep_match"] == {
        "path": "$.spec.inputs.wait.type",
        "message": "'bool' is not one of ['array', 'boolean', 'number', 'string']",
    }


# ---------------------------------------------------------------------------------------------
# The documentation: docs/gitlab-ci.md, docs/inputs.md and the README's quick start


def doc_default(entry: dict[str, Any]) -> str:
    if "default" not in entry:
        return "required"
    value = entry["default"]
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`" + yaml.safe_dump(value, default_flow_style=True, width=1000).strip() + "`"
    return f"`{value}`" if value != "" else ""


def gitlab_doc() -> str:
    return page("docs/gitlab-ci.md")


def readme_quick_start() -> str:
    return section(page("README.md"), "### GitLab CI")


def test_the_docs_job_inputs_table_is_the_template_s() -> None:
    """The inputs that shape the job are documented by hand: held to the template here."""
    rows = table_after(section(gitlab_doc(), "## Inputs"), "| input | default | description |")
    expected = [
        [f"`{name}`", doc_default(entry), " ".join(entry["description"].split())]
        for name, entry in spec_inputs().items()
        if name in job_inputs()
    ]
    assert [[cell.replace("\\|", "|") for cell in row] for row in rows] == expected


def test_the_inputs_reference_lists_the_template_s_ci_deploy_inputs() -> None:
    """docs/inputs.md is generated from the core's table; this holds it to the template too."""
    inputs = spec_inputs()
    assert adapter_column("GitLab") == [name for name in inputs if name not in job_inputs()]
    rows = {row["GitLab"].strip("`"): row for row in inputs_reference().values()}
    for name in adapter_column("GitLab"):
        assert rows[name]["default"] == (doc_default(inputs[name]) or "—"), name
        documented = rows[name]["help"].replace("\\|", "|")
        documented = documented.removesuffix(SECRET_NOTE).removesuffix(SECRET_FLAG_NOTE)
        assert documented == " ".join(inputs[name]["description"].split()), name


SECRET_NOTE = " Secret: from the environment only."
SECRET_FLAG_NOTE = " Secret: prefer the environment variable (a flag's value shows in `ps`)."


def doc_pipelines() -> list[dict[str, Any]]:
    """The pipelines of docs/gitlab-ci.md and of the README's quick start."""
    blocks = [*code_blocks(gitlab_doc(), "yaml"), *code_blocks(readme_quick_start(), "yaml")]
    return [yaml.safe_load(block) for block in blocks]


def test_doc_examples_are_valid_pipelines_with_known_inputs(tmp_path: Path) -> None:
    pipelines = doc_pipelines()
    assert len(pipelines) >= 5
    known = set(spec_inputs())
    included = 0
    for number, pipeline in enumerate(pipelines):
        path = tmp_path / f"example-{number}.yml"
        path.write_text(yaml.safe_dump(pipeline), encoding="utf-8")
        checked = check_schema(path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        for include in pipeline.get("include", []):
            assert set(include["inputs"]) <= known, include["inputs"]
            included += 1
    assert included >= 5  # remote (docs and README), project (twice), component


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


def pipeline_repo(
    tmp_path: Path,
    inputs: dict[str, Any],
    *,
    files: dict[str, str] | None = None,
    extra_jobs: dict[str, Any] | None = None,
    more_inputs: tuple[dict[str, Any], ...] = (),
    rejected_by_gitlab: bool = False,
) -> Path:
    """A committed repository whose .gitlab-ci.yml includes the template with ``inputs``, plus
    ``files`` (``*.sh`` executable) and ``extra_jobs``. Unless ``rejected_by_gitlab``, every
    include passes GitLab's input rules, which gitlab-ci-local checks only in part."""
    for each in (inputs, *more_inputs):
        errors = gitlab_input_errors(spec_inputs(), each)
        assert bool(errors) == rejected_by_gitlab, errors or "GitLab would accept these inputs"
    repo = tmp_path / "repo"
    (repo / "gitlab").mkdir(parents=True)
    (repo / "gitlab" / "ci-deploy.yml").write_text(TEMPLATE.read_text(encoding="utf-8"))
    for name, text in (files or {}).items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
    pipeline = {
        "stages": ["test", "deploy", "verify"],
        "include": [
            {"local": "gitlab/ci-deploy.yml", "inputs": each} for each in (inputs, *more_inputs)
        ],
        **(extra_jobs or {}),
    }
    (repo / ".gitlab-ci.yml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "pipeline")
    return repo


def gitlab_ci_local(
    tmp_path: Path, variables: dict[str, str] | None = None, options: tuple[str, ...] = ()
) -> tuple[list[str], dict[str, str]]:
    """The gitlab-ci-local command line (shell executor, even for a job with an image) and its
    environment: this venv's bin first on PATH, a private HOME."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }
    command = [str(GITLAB_CI_LOCAL), "--force-shell-executor", "--no-color", *options]
    for name, value in (variables or {}).items():
        command += ["--variable", f"{name}={value}"]
    return command, env


def run_pipeline(
    tmp_path: Path,
    inputs: dict[str, Any],
    *,
    files: dict[str, str] | None = None,
    extra_jobs: dict[str, Any] | None = None,
    variables: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
    more_inputs: tuple[dict[str, Any], ...] = (),
    timeout: float = 120,
    rejected_by_gitlab: bool = False,
) -> Run:
    """Run gitlab-ci-local in a ``pipeline_repo`` and return its exit code and output."""
    repo = pipeline_repo(
        tmp_path,
        inputs,
        files=files,
        extra_jobs=extra_jobs,
        more_inputs=more_inputs,
        rejected_by_gitlab=rejected_by_gitlab,
    )
    command, env = gitlab_ci_local(tmp_path, variables, options)
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
    # its own reports and pip's cache stay out of the bundle
    assert env["CI_DEPLOY_EXCLUDE"] == "/.ci-deploy/,/.ci-deploy-cache/"
    assert not (run.repo / "pwned").exists() and not (run.repo / "pwned2").exists()
    assert deploy_call["token"] is None  # no AWS_ROLE_ARN: no web identity


@pytest.mark.adapter
def test_the_id_token_becomes_a_private_web_identity_token_file(tmp_path: Path) -> None:
    cli, record = fake_cli(tmp_path)
    run = run_pipeline(
        tmp_path,
        {"cli_path": str(cli), "command": "status", "deployment_id": "d-1"},
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
        {"command": "stop", "deployment_id": "d-1", "environment_action": "stop"},
        variables={"PATH": f"{cli.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert run.job_result() == ("PASS", 0)
    assert [call["argv"] for call in calls(record)] == [["stop"]]
    assert calls(record)[0]["env"]["CI_DEPLOY_DEPLOYMENT_ID"] == "d-1"


@pytest.mark.adapter
def test_an_unknown_input_fails_the_job_naming_the_input_it_left_out(tmp_path: Path) -> None:
    """GitLab rejects an unknown input when it creates the pipeline ("unknown input
    arguments"); gitlab-ci-local 4.73.0 does not check names, so there the misspelt input is
    simply missing, and ci-deploy itself refuses to run without it (exit 2)."""
    run = run_pipeline(
        tmp_path,
        {"command": "status", "deployment_idd": "d-1"},
        rejected_by_gitlab=True,
    )
    assert run.job_result() == ("FAIL", 2)
    assert "ci-deploy: error: input deployment_id is required for status" in run.log()


# GitLab's rules for `include: inputs` against a `spec: inputs` header
# (https://docs.gitlab.com/ci/inputs/): every given input must be declared; an input without a
# `default` is required; the value must have the input's `type` (string by default); with
# `options` it must be one of them; with `regex` a string must match it. gitlab-ci-local applies
# all but the first rule (it only reads the inputs the template interpolates), so these tests
# hold this checker to gitlab-ci-local where both check, and use it for the rule it skips.
SPEC_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "number": (int, float),
    "array": (list,),
}


def gitlab_input_errors(spec: dict[str, dict[str, Any]], given: dict[str, Any]) -> list[str]:
    errors = []
    unknown = sorted(set(given) - set(spec))
    if unknown:
        errors.append(f"unknown input arguments: {', '.join(unknown)}")
    for name, entry in spec.items():
        if name not in given:
            if "default" not in entry:
                errors.append(f"`{name}` input: required value has not been provided")
            continue
        value = given[name]
        kind = entry.get("type", "string")
        wrong_type = not isinstance(value, SPEC_TYPES[kind]) or (
            kind == "number" and isinstance(value, bool)
        )
        if wrong_type:
            errors.append(f"`{name}` input: provided value is not a {kind}")
        elif "options" in entry and value not in entry["options"]:
            errors.append(f"`{name}` input: `{value}` cannot be used because it is not in the list")
        elif "regex" in entry and not re.search(entry["regex"], str(value)):
            errors.append(f"`{name}` input: `{value}` does not match required regex")
    return errors


def test_a_misspelt_input_is_rejected_by_gitlab_s_rules() -> None:
    given = {"command": "status", "deployment_idd": "d-1", "Application": "web"}
    assert gitlab_input_errors(spec_inputs(), given) == [
        "unknown input arguments: Application, deployment_idd"
    ]


def test_needs_is_not_an_input_any_more() -> None:
    """An include written for the old template, which required it, is refused by name."""
    given = {"application": "web", "deployment_group": "prod", "needs": ["unit-tests"]}
    assert gitlab_input_errors(spec_inputs(), given) == ["unknown input arguments: needs"]


@pytest.mark.adapter
@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"command": "deplyo"}, "`command` input: `deplyo` cannot be used because"),
        ({"wait": "ture"}, "`wait` input: provided value is not a boolean"),
        ({"instances": "three"}, "`instances` input: provided value is not a number"),
        ({"wait_timeout_seconds": "10m"}, "`wait_timeout_seconds` input: `10m` does"),
        ({"rules": "manual"}, "`rules` input: provided value is not a array"),
    ],
    ids=["option", "boolean", "number", "regex", "array"],
)
def test_gitlab_s_rules_and_gitlab_ci_local_reject_the_same_inputs(
    tmp_path: Path, inputs: dict[str, Any], message: str
) -> None:
    [error] = gitlab_input_errors(spec_inputs(), inputs)
    assert error.startswith(message)
    run = run_pipeline(tmp_path, inputs, rejected_by_gitlab=True)
    assert run.returncode == 1
    assert message in run.output
    assert not (run.repo / ".gitlab-ci-local" / "output" / "ci-deploy.log").exists()


def test_every_include_in_the_docs_and_these_tests_passes_gitlab_s_rules() -> None:
    includes = [
        include["inputs"] for pipeline in doc_pipelines() for include in pipeline.get("include", [])
    ]
    assert len(includes) >= 5
    for given in [*includes, FULL_INPUTS]:
        assert gitlab_input_errors(spec_inputs(), given) == [], given


FULL_INPUTS: dict[str, Any] = {
    "as": "deploy-production",
    "stage": "deploy",
    "image": "registry.example.com/tools/ci-deploy:0.1.0",
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


# The smallest include: what to deploy and where, nothing about the pipeline's order.
MINIMAL_INPUTS: dict[str, Any] = {
    "application": "web",
    "deployment_group": "prod",
    "source": "app",
    "s3_location": "s3://my-revisions/web",
}
UNIT_TESTS = {"unit-tests": {"stage": "test", "script": ["true"]}}


def preview(tmp_path: Path, inputs: dict[str, Any], jobs: dict[str, Any]) -> dict[str, Any]:
    """The pipeline as gitlab-ci-local expands it (inputs interpolated, includes merged),
    checked against GitLab's schema."""
    run = run_pipeline(tmp_path, inputs, extra_jobs=jobs, options=("--preview",))
    assert run.returncode == 0, run.output
    expanded = tmp_path / "expanded.yml"
    expanded.write_text(run.stdout)
    checked = check_schema(expanded)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    pipeline: dict[str, Any] = yaml.safe_load(expanded.read_text())
    return pipeline


@pytest.mark.adapter
@pytest.mark.parametrize("inputs", [MINIMAL_INPUTS, FULL_INPUTS], ids=["minimal", "full"])
def test_the_job_as_included_validates_against_the_schema(
    tmp_path: Path, inputs: dict[str, Any]
) -> None:
    """GitLab checks the job after interpolating the inputs (a `$[[ ]]` block stands for an
    array, a boolean or a number there), so the schema is applied to what the include yields."""
    pipeline = preview(tmp_path, inputs, UNIT_TESTS)
    job = pipeline[inputs.get("as", "ci-deploy")]
    assert "$[[" not in json.dumps(job)
    assert "needs" not in job  # after the earlier stages
    assert job["variables"]["CI_DEPLOY_S3_LOCATION"] == inputs["s3_location"]


def gitlab_merge(included: Any, local: Any) -> Any:
    """GitLab's rule for a job of the same name in the pipeline's own file and in an include
    (https://docs.gitlab.com/ci/yaml/includes/#override-included-configuration-values): maps
    are merged key by key, anything else (a list such as `needs:`) is the local value."""
    if isinstance(included, dict) and isinstance(local, dict):
        merged = dict(included)
        for key, value in local.items():
            merged[key] = gitlab_merge(included[key], value) if key in included else value
        return merged
    return local


def spelt_out(needs: list[Any]) -> list[dict[str, Any]]:
    """`needs:` entries in their long form, with GitLab's defaults (as the preview shows them)."""
    return [
        {"artifacts": True, "optional": False} | ({"job": need} if isinstance(need, str) else need)
        for need in needs
    ]


@pytest.mark.adapter
@pytest.mark.parametrize(
    ("inputs", "needs"),
    [(MINIMAL_INPUTS, ["unit-tests"]), (FULL_INPUTS, [{"job": "unit-tests", "artifacts": False}])],
    ids=["minimal", "full"],
)
def test_a_job_of_the_same_name_in_the_pipeline_gives_it_needs(
    tmp_path: Path, inputs: dict[str, Any], needs: list[Any]
) -> None:
    """The README's snippet: `<as>: {needs: [...]}` in the pipeline's own file. The job keeps
    everything the include gives it and waits only for what its `needs:` names."""
    name = inputs.get("as", "ci-deploy")
    jobs = UNIT_TESTS | {"lint": {"stage": "test", "script": ["true"]}}
    included = preview(tmp_path / "included", inputs, jobs)[name]
    merged = preview(tmp_path / "merged", inputs, jobs | {name: {"needs": needs}})[name]
    assert merged == gitlab_merge(included, {"needs": spelt_out(needs)})
    assert [need["job"] for need in merged["needs"]] == ["unit-tests"]  # not lint
    assert merged["script"] == included["script"] and merged["stage"] == "deploy"


# ---------------------------------------------------------------------------------------------
# End to end: the real ci-deploy against the emulator, under gitlab-ci-local

EXAMPLES = REPO / "examples"


def revision_files(example: str, under: str = "app") -> dict[str, str]:
    root = EXAMPLES / example
    return {
        f"{under}/{path.relative_to(root).as_posix()}": path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def fleet(emulator_app: Any) -> dict[str, Any]:
    """Where to deploy on the session's emulator (conftest's ``emulator_app``: application,
    group ``fleet`` of 3 instances, bucket) and the variables a job needs to reach it (dummy
    credentials, no AWS config)."""
    unique_name, codedeploy = emulator_app.application, emulator_app.clients.codedeploy
    return {
        "inputs": {
            "application": unique_name,
            "deployment_group": "fleet",
            "s3_location": f"s3://{unique_name}/bundles",
            "endpoint_url": emulator_app.endpoint_url,
            "regions": "us-east-1",
        },
        "variables": {
            "AWS_ACCESS_KEY_ID": "emulator",
            "AWS_SECRET_ACCESS_KEY": "emulator",
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
        "codedeploy": codedeploy,
        "name": unique_name,
    }


@pytest.mark.adapter
def test_a_pipeline_deploys_the_example_and_later_jobs_get_the_deployment_id(
    tmp_path: Path, fleet: dict[str, Any]
) -> None:
    """The minimal include (application, deployment group, source, S3 location; the endpoint
    and region reach the emulator): the job runs after the test stage, with no `needs:`."""
    jobs = {
        "unit-tests": {"stage": "test", "script": ["true"]},
        "smoke-test": {
            "stage": "verify",
            "needs": ["ci-deploy"],
            "script": ['echo "got $CI_DEPLOY_DEPLOYMENT_ID $CI_DEPLOY_STATUS"'],
        },
    }
    inputs = {**MINIMAL_INPUTS, "source": "app", **fleet["inputs"]}
    assert set(inputs) - set(MINIMAL_INPUTS) == {"endpoint_url", "regions"}
    run = run_pipeline(
        tmp_path,
        inputs,
        files=revision_files("web-app"),
        extra_jobs=jobs,
        variables=fleet["variables"],
        timeout=180,
    )
    assert run.job_result("unit-tests") == ("PASS", 0), run.output
    assert run.job_result() == ("PASS", 0), run.output
    # the test stage ended before the deployment started (names are padded to one width)
    tested = re.search(r"^unit-tests\s+finished in", run.output, flags=re.MULTILINE)
    started = re.search(r"^ci-deploy\s+starting", run.output, flags=re.MULTILINE)
    assert tested and started and tested.start() < started.start(), run.output
    dotenv = run.dotenv()
    deployment_id = dotenv["CI_DEPLOY_DEPLOYMENT_ID"]
    assert re.fullmatch(r"d-[A-Z0-9]{9}", deployment_id), dotenv
    assert dotenv["CI_DEPLOY_STATUS"] == "Succeeded"
    assert dotenv["CI_DEPLOY_DEPLOYMENT_URL"] == (
        "https://console.aws.amazon.com/codesuite/codedeploy/deployments/"
        f"{deployment_id}?region=us-east-1"
    )
    deployment = fleet["codedeploy"].get_deployment(deploymentId=deployment_id)
    assert deployment["deploymentInfo"]["status"] == "Succeeded"
    assert f"got {deployment_id} Succeeded" in run.log("smoke-test")
    log = run.log()
    # one section per instance (gitlab-ci-local renders the markers as "<name>_started" and
    # "<name> took <time>"), then the verdict
    sections = re.findall(r"^(ci_deploy_[a-z0-9_.-]+)_started$", log, flags=re.MULTILINE)
    targets = fleet["codedeploy"].list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    assert len(targets) == 3
    # in the order ListDeploymentTargets gives them (the fleet's)
    assert [name.split("_")[3] for name in sections] == targets
    assert all(re.search(rf"^{name} took \d+ms$", log, flags=re.MULTILINE) for name in sections)
    assert log.strip().endswith(f"deployment {deployment_id}: Succeeded (Succeeded 3)")
    # the result JSON is an artifact, not log noise
    result = json.loads((run.repo / ".ci-deploy" / "result.json").read_text())
    assert result["deployment_id"] == deployment_id and result["status"] == "Succeeded"
    # the Code Quality pass found nothing: an empty report, which clears old findings in a MR
    report = run.repo / ".ci-deploy" / "gl-code-quality-report.json"
    assert json.loads(report.read_text()) == []


@pytest.mark.adapter
def test_a_later_wait_job_picks_up_the_deployment_from_the_dotenv_report(
    tmp_path: Path, fleet: dict[str, Any]
) -> None:
    """Start without waiting, then watch it in a later stage: the second include names no
    deployment_id; the first job's dotenv report supplies CI_DEPLOY_DEPLOYMENT_ID."""
    start = {"source": "app", "wait": False, **fleet["inputs"]}
    watch = {
        "as": "watch",
        "stage": "verify",
        "command": "wait",
        "environment_action": "verify",
        "endpoint_url": fleet["inputs"]["endpoint_url"],
        "regions": "us-east-1",
    }
    run = run_pipeline(
        tmp_path,
        start,
        more_inputs=(watch,),
        files=revision_files("web-app"),
        # the second job waits for the first one only, by its name (GitLab merges the two)
        extra_jobs={"watch": {"needs": ["ci-deploy"]}},
        variables=fleet["variables"],
        timeout=180,
    )
    assert run.job_result("ci-deploy") == ("PASS", 0), run.output
    assert run.job_result("watch") == ("PASS", 0), run.output
    started = run.dotenv("ci-deploy")
    assert started["CI_DEPLOY_STATUS"] in {"Created", "Queued", "InProgress", "Succeeded"}
    watched = run.dotenv("watch")
    assert watched["CI_DEPLOY_DEPLOYMENT_ID"] == started["CI_DEPLOY_DEPLOYMENT_ID"]
    assert watched["CI_DEPLOY_STATUS"] == "Succeeded"


BROKEN_APPSPEC = """\
version: 0.0
os: linux
hooks:
  AfterInstal:
    - location: scripts/after_install.sh
      timeout: 30
"""


@pytest.mark.adapter
def test_a_broken_appspec_yields_the_code_quality_report_and_a_failed_job(
    tmp_path: Path,
) -> None:
    files = revision_files("web-app")
    files["app/appspec.yml"] = BROKEN_APPSPEC
    inputs = {
        "source": "app",
        "application": "web",
        "deployment_group": "prod",
        "s3_location": "s3://revisions/web",
        # nothing listens here: an invalid appspec stops the job before any AWS call
        "endpoint_url": "http://127.0.0.1:9",
    }
    run = run_pipeline(tmp_path, inputs, files=files)
    assert run.job_result() == ("FAIL", 2), run.output
    report = json.loads((run.repo / ".ci-deploy" / "gl-code-quality-report.json").read_text())
    assert report, "the report lists the problem"
    (issue,) = [item for item in report if item["location"]["lines"]["begin"] == 4]
    assert issue["location"]["path"] == "app/appspec.yml"
    assert "AfterInstal" in issue["description"]
    assert issue["severity"] in {"major", "critical", "blocker"}
    assert re.fullmatch(r"[0-9a-f]{64}", issue["fingerprint"])
    # the log shows the same problem as a line a reader can follow
    assert re.search(r"app/appspec\.yml:4:\d+: error: .*AfterInstal", run.log())
    assert not (run.repo / ".ci-deploy" / "ci-deploy.env").exists()


SLOW_APPSPEC = """\
version: 0.0
os: linux
hooks:
  ApplicationStart:
    - location: scripts/slow.sh
      timeout: 300
"""


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat_line.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def hook_running(fleet: dict[str, Any], timeout: float = 60.0) -> str:
    """Poll the emulator (bounded) until the slow ApplicationStart hook runs; its deployment."""
    codedeploy = fleet["codedeploy"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = codedeploy.list_deployments(
            applicationName=fleet["name"], deploymentGroupName="fleet"
        )["deployments"]
        for deployment_id in listed:
            ids = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
            targets = (
                codedeploy.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=ids)[
                    "deploymentTargets"
                ]
                if ids
                else []
            )
            for target in targets:
                events = target["instanceTarget"]["lifecycleEvents"]
                if any(
                    e["lifecycleEventName"] == "ApplicationStart" and e["status"] == "InProgress"
                    for e in events
                ):
                    return str(deployment_id)
        time.sleep(0.2)
    raise AssertionError(f"no ApplicationStart hook ran within {timeout}s")


@pytest.mark.adapter
def test_cancelling_the_job_stops_the_deployment(tmp_path: Path, fleet: dict[str, Any]) -> None:
    """GitLab Runner cancels a job with SIGTERM to its processes; the script exec'd ci-deploy,
    so the signal reaches it there. gitlab-ci-local has no cancel of its own (Ctrl-C leaves
    shell jobs running), so the test sends the runner's SIGTERM to the job's ci-deploy."""
    files = {"app/appspec.yml": SLOW_APPSPEC, "app/scripts/slow.sh": "#!/bin/sh\nsleep 120\n"}
    repo = pipeline_repo(tmp_path, {"source": "app", **fleet["inputs"]}, files=files)
    command, env = gitlab_ci_local(tmp_path, fleet["variables"])
    with subprocess.Popen(
        command,
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as pipeline:
        try:
            deployment_id = hook_running(fleet)
            watchers = [
                pid
                for pid in descendants(pipeline.pid)
                if any(Path(part).name == "ci-deploy" for part in cmdline(pid)[:2])
                and "deploy" in cmdline(pid)[1:3]
            ]
            assert len(watchers) == 1, [cmdline(pid) for pid in descendants(pipeline.pid)]
            os.kill(watchers[0], signal.SIGTERM)
            output, _ = pipeline.communicate(timeout=90)
        finally:
            if pipeline.poll() is None:
                os.killpg(pipeline.pid, signal.SIGKILL)
    run = Run(repo, pipeline.returncode, output, output)
    assert run.job_result() == ("FAIL", 130), output
    info = fleet["codedeploy"].get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Stopped"
    log = run.log()
    assert f"cancelled: stopping deployment {deployment_id}" in log
    assert run.dotenv()["CI_DEPLOY_STATUS"] == "Stopped"


def runner_variables(index: PackageIndex) -> dict[str, str]:
    """A job on an image with Python and no ci-deploy (the runner's Python first on PATH), whose
    pip reads no configuration of this machine; the package index is ``index``."""
    return {
        "PATH": f"{Path(sys.base_prefix) / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_INDEX_URL": index.url,
        # pip caches what a plain-http index serves only from a host it trusts (an https index,
        # as a real one is, needs no such setting)
        "PIP_TRUSTED_HOST": index.host,
    }


# Each job in a build directory of its own, with the cache and artifacts copied in and out, as
# a GitLab runner does (without it, a shell job runs in the repository itself).
ISOLATED = ("--shell-isolation",)


def rerun(run: Run, tmp_path: Path, variables: dict[str, str], timeout: float) -> Run:
    """gitlab-ci-local again in the same repository: a later pipeline of the same project."""
    command, env = gitlab_ci_local(tmp_path, variables, ISOLATED)
    done = subprocess.run(
        command, cwd=run.repo, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(run.repo, done.returncode, done.stdout + done.stderr, done.stdout)


@pytest.mark.adapter
def test_the_job_installs_the_pinned_release_and_a_later_pipeline_reuses_pip_s_cache(
    tmp_path: Path, fleet: dict[str, Any], package_index: PackageIndex
) -> None:
    """The default install: ci-deploy==VERSION from the package index (here a loopback index of
    the built wheel and the locked files), its dependencies hash-checked against the lock inside
    that wheel; then it deploys. The second pipeline finds pip's cache and downloads no file."""
    variables = {**fleet["variables"], **runner_variables(package_index)}
    package_index.forget()
    first = run_pipeline(
        tmp_path,
        {"source": "app", **fleet["inputs"]},
        files=revision_files("web-app"),
        variables=variables,
        options=ISOLATED,
        timeout=300,
    )
    assert first.job_result() == ("PASS", 0), first.output
    log = first.log()
    version = ci_deploy.__version__
    assert re.search(
        rf"^Installed ci-deploy {re.escape(version)} \(dependencies checked against the lock "
        r"release\) in \d+s$",
        log,
        flags=re.MULTILINE,
    ), log
    assert "pip cache:" not in log  # nothing kept yet
    downloaded = package_index.downloads()
    assert f"ci_deploy-{version}-py3-none-any.whl" in downloaded
    assert any(name.startswith("boto3-") for name in downloaded)
    assert not any(name.startswith("moto-") for name in downloaded)  # no emulator extra
    assert first.dotenv()["CI_DEPLOY_STATUS"] == "Succeeded"

    package_index.forget()
    second = rerun(first, tmp_path, variables, timeout=300)
    assert second.job_result() == ("PASS", 0), second.output
    log = second.log()
    kept = re.search(r"^pip cache: (\d+) files kept from an earlier job$", log, flags=re.M)
    assert kept and int(kept.group(1)) > 0, log
    assert package_index.downloads() == []  # every file came from the cache
    assert "Installed ci-deploy" in log
    assert second.dotenv()["CI_DEPLOY_STATUS"] == "Succeeded"


@pytest.mark.adapter
def test_a_release_the_index_does_not_have_fails_the_job_naming_cli_package(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    """Bad install input fails the job with exit code 2 before any ci-deploy call; every other
    bad input of the install is tested in tests/test_adapter_install.py."""
    run = run_pipeline(
        tmp_path,
        {"command": "validate", "cli_package": "ci-deploy==9.9.9"},
        variables=runner_variables(package_index),
        options=ISOLATED,
    )
    assert run.job_result() == ("FAIL", 2), run.output
    assert (
        f"ci-deploy: error: input cli_package: the package index ({package_index.url}) has no "
        "ci-deploy==9.9.9; name a released version"
    ) in run.log()
    assert not (run.repo / ".ci-deploy" / "result.json").exists()
