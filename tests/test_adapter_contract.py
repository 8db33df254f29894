"""The CI adapters against the core's input table: action.yml, the GitLab template's spec and the
Jenkins step each offer every input of ``adapter_inputs()`` in the table's order under their own
spelling, with the table's default (and type, and description where the adapter carries the
table's text) and pass it to ci-deploy as the input's environment variable; besides those, only
the adapter's own inputs, named here, and every input is optional and described.

One test for the three adapters: a reader per adapter turns its file into rows, an expectation
per adapter says what the table asks of each row."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_deploy.inputs import Input, adapter_inputs
from jenkins_harness import HELP, help_keys, run_pipelines, sync_keys

REPO = Path(__file__).resolve().parents[1]
SYNC_KEYS = sync_keys()


@dataclass(frozen=True)
class Row:
    """One input as an adapter offers it. ``default`` is written the way the table writes
    defaults (``Input.default_text``; "" for none), ``env`` is the variable the adapter passes
    the value in (None: it passes none), ``kind`` the adapter's own type of the value."""

    name: str
    default: str | None
    description: str
    env: str | None
    kind: str | None


@dataclass(frozen=True)
class Adapter:
    """How to read one adapter's inputs and what the table asks of them. ``before``/``after``:
    the adapter's own inputs, in order, around the table's; ``expect`` gives the fields of a
    table input's row the adapter holds to the table; ``hint`` says how to fix a failure."""

    name: str
    read: Callable[[Path], list[Row]]
    expect: Callable[[Input], dict[str, str | None]]
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    hint: str = ""


# ---------------------------------------------------------------------------------------------
# GitHub: action.yml


ACTION_DEFAULTS = {"github-token": "${{ github.token }}"}  # defaults the action sets itself


def read_action(_: Path) -> list[Row]:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    run = next(step for step in action["runs"]["steps"] if step.get("id") == "run")
    env_of = {value: name for name, value in run["env"].items()}
    return [
        Row(
            name,
            str(entry["default"])
            if "default" in entry and entry.get("required") is False
            else None,
            entry["description"],
            env_of.get(f"${{{{ inputs.{name} }}}}"),
            None,
        )
        for name, entry in action["inputs"].items()
    ]


def expect_action(spec: Input) -> dict[str, str | None]:
    # The action words its descriptions for the workflow author: not the table's text.
    default = ACTION_DEFAULTS.get(spec.action_name, spec.default_text())
    return {"name": spec.action_name, "default": default, "env": spec.env, "kind": None}


def action_hint() -> str:
    """What to paste into action.yml (inputs, the run step's env) for inputs it lacks."""
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    missing = [spec for spec in adapter_inputs() if spec.action_name not in action["inputs"]]
    if not missing:
        return ""
    lines = ["add to action.yml inputs (in table order):"]
    for spec in missing:
        lines += [
            f"  {spec.action_name}:",
            f"    description: {spec.help}",
            "    required: false",
            f"    default: '{spec.default_text()}'",
        ]
    lines.append("and to the run step's env:")
    lines += [f"        {spec.env}: ${{{{ inputs.{spec.action_name} }}}}" for spec in missing]
    lines.append("then run scripts/gen-inputs-doc to update docs/inputs.md.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# GitLab: the spec of gitlab/ci-deploy.yml

# Inputs only the template has: they shape the job, not the ci-deploy call.
JOB_INPUTS = (
    "as",
    "stage",
    "image",
    "rules",
    "allow_failure_exit_codes",
    "interruptible",
    "environment_name",
    "environment_url",
    "environment_action",
    "aws_token_audience",
    "cli_path",
    "cli_package",
    "cli_lock",
    "cli_index_url",
)


def gitlab_kind(kind: str, options: list[Any] | None, regex: str | None) -> str:
    return f"{kind} options={options} regex={regex}"


def read_template(_: Path) -> list[Row]:
    header, body = yaml.safe_load_all((REPO / "gitlab" / "ci-deploy.yml").read_text("utf-8"))
    env_of = {value: name for name, value in body["$[[ inputs.as ]]"]["variables"].items()}
    rows = []
    for name, entry in header["spec"]["inputs"].items():
        default = entry.get("default")
        text = None if "default" not in entry else str(default)
        if isinstance(default, bool):
            text = "true" if default else "false"
        kind = gitlab_kind(entry.get("type", "string"), entry.get("options"), entry.get("regex"))
        env = env_of.get(f"$[[ inputs.{name} ]]")
        rows.append(Row(name, text, entry["description"], env, kind))
    return rows


def expect_template(spec: Input) -> dict[str, str | None]:
    if spec.kind == "bool":
        kind = "boolean"
    elif spec.kind == "int" and spec.default is not None:
        kind = "number"
    else:  # lists are comma-separated strings: a job variable cannot hold an array
        kind = "string"
    options = ([""] if spec.default is None else []) + list(spec.choices)
    regex = "^[0-9]*$" if spec.kind == "int" and spec.default is None else None
    return {
        "name": spec.gitlab_name,
        "default": spec.default_text(),
        "description": spec.help,
        "env": spec.env,
        "kind": gitlab_kind(kind, options if spec.kind == "choice" else None, regex),
    }


# ---------------------------------------------------------------------------------------------
# Jenkins: the step's defaultConfig as its own code reads it, and its help file

STEP_KEYS = ("installLock", "installIndexUrl", "installCommand", "cliPath", "timeoutResult")
GROOVY_TYPES = {"bool": "Boolean", "int": "Integer", "list": "ArrayList"}


def read_step(workdir: Path) -> list[Row]:
    described = run_pipelines(workdir, [], describe="ciDeploy")["describe"]
    help_text = help_keys()
    return [
        Row(key["name"], key["text"] or "", help_text[key["name"]][2], key["env"], key["type"])
        for key in described["keys"]
    ]


def expect_step(spec: Input) -> dict[str, str | None]:
    return {
        "name": spec.jenkins_name,
        "default": spec.default_text(),
        "description": SYNC_KEYS.description(spec),
        "env": spec.env,
        "kind": None if spec.default is None else GROOVY_TYPES.get(spec.kind, "String"),
    }


ADAPTERS = [
    pytest.param(
        Adapter("github", read_action, expect_action, after=("cli-path",), hint=action_hint()),
        id="github",
    ),
    pytest.param(Adapter("gitlab", read_template, expect_template, before=JOB_INPUTS), id="gitlab"),
    pytest.param(
        Adapter(
            "jenkins",
            read_step,
            expect_step,
            after=STEP_KEYS,
            hint=f"{HELP.name} or the step is out of date: run tests/jenkins/sync_keys.py",
        ),
        id="jenkins",
        marks=pytest.mark.adapter,
    ),
]


@pytest.fixture(scope="module", params=ADAPTERS)
def adapter(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Adapter, list[Row]]:
    """An adapter and its inputs, read once per module (Jenkins starts a JVM)."""
    chosen: Adapter = request.param
    return chosen, chosen.read(tmp_path_factory.mktemp(f"adapter-{chosen.name}"))


def test_the_adapter_offers_the_table_s_inputs_in_order_then_only_its_own(
    adapter: tuple[Adapter, list[Row]],
) -> None:
    chosen, rows = adapter
    table = [chosen.expect(spec)["name"] for spec in adapter_inputs()]
    assert [row.name for row in rows] == [*chosen.before, *table, *chosen.after], chosen.hint


@pytest.mark.parametrize("spec", adapter_inputs(), ids=lambda spec: spec.name)
def test_each_table_input_has_the_table_s_default_variable_type_and_description(
    adapter: tuple[Adapter, list[Row]], spec: Input
) -> None:
    chosen, rows = adapter
    expected = chosen.expect(spec)
    found = [asdict(row) for row in rows if row.name == expected["name"]]
    assert found, f"{chosen.name} lacks {expected['name']}: {chosen.hint}"
    assert {field: found[0][field] for field in expected} == expected, chosen.hint


def test_every_input_is_optional_and_described(adapter: tuple[Adapter, list[Row]]) -> None:
    """The smallest use names only what it deploys: no input is required."""
    chosen, rows = adapter
    assert [row.name for row in rows if row.default is None] == []
    for row in rows:
        assert row.description.strip().endswith("."), row.name
        if chosen.name == "github":  # the Actions UI shows one line
            assert "\n" not in row.description, row.name
            assert len(re.findall(r"[a-z0-9)]\. [A-Z]", row.description)) == 0, row.name
