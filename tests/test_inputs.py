"""The input table: derived names, strict parsers, flag/env/default resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_deploy.errors import InputError, InputValueError
from ci_deploy.inputs import BY_NAME, TABLE, VERBS, Request, adapter_inputs, for_verb, resolve


def test_names_derive_from_one_snake_case_name() -> None:
    spec = BY_NAME["deployment_group"]
    assert spec.flag == "--deployment-group"
    assert spec.env == "CI_DEPLOY_DEPLOYMENT_GROUP"
    assert spec.action_name == "deployment-group"
    assert spec.gitlab_name == "deployment_group"
    assert spec.jenkins_name == "deploymentGroup"
    assert BY_NAME["wait_timeout_seconds"].jenkins_name == "waitTimeoutSeconds"


def test_table_is_consistent() -> None:
    names = [spec.name for spec in TABLE]
    assert len(names) == len(set(names)), "input names are unique"
    for spec in TABLE:
        assert spec.name == spec.name.lower() and " " not in spec.name
        assert spec.help.endswith("."), f"{spec.name}: help is one sentence ending with a period"
        assert set(spec.verbs) <= set(VERBS), spec.name
        if spec.kind == "choice":
            assert spec.choices, spec.name
        if spec.kind == "choice" and spec.default is not None:
            assert spec.default in spec.choices, spec.name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("yes", True), ("1", True), ("false", False), ("no", False)],
)
def test_bool_parser_accepts_plain_spellings(raw: str, expected: bool) -> None:
    assert BY_NAME["wait"].parse(raw) is expected


def test_bool_parser_names_the_input_and_the_value() -> None:
    with pytest.raises(InputValueError) as caught:
        BY_NAME["wait"].parse("ture")
    assert str(caught.value) == "input wait: expected true or false, got 'ture'"
    assert caught.value.exit_code == 2


def test_int_parser_is_strict_and_bounded() -> None:
    spec = BY_NAME["wait_timeout_seconds"]
    assert spec.parse(" 600 ") == 600
    with pytest.raises(InputValueError, match="expected a whole number, got '30s'"):
        spec.parse("30s")
    with pytest.raises(InputValueError, match="expected a number >= 1, got '0'"):
        spec.parse("0")


def test_choice_parser_folds_case_to_the_canonical_spelling() -> None:
    spec = BY_NAME["file_exists_behavior"]
    assert spec.parse("overwrite") == "OVERWRITE"
    with pytest.raises(InputValueError, match="one of DISALLOW, OVERWRITE, RETAIN"):
        spec.parse("REPLACE")


def test_list_parser_splits_commas_and_newlines_and_checks_choices() -> None:
    assert BY_NAME["regions"].parse("us-east-1, eu-west-1\nap-south-1") == (
        "us-east-1",
        "eu-west-1",
        "ap-south-1",
    )
    assert BY_NAME["auto_rollback"].parse("failure,stop-on-request") == (
        "failure",
        "stop-on-request",
    )
    with pytest.raises(InputValueError, match="input auto_rollback"):
        BY_NAME["auto_rollback"].parse("failure,on-alarm")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1048576", 1 << 20),
        ("500MiB", 500 << 20),
        (" 4GiB ", 4 << 30),
        ("4 gib", 4 << 30),
        ("1KiB", 1024),
        ("10MB", 10_000_000),
        ("2kB", 2000),
        ("1TiB", 1 << 40),
        ("7B", 7),
    ],
)
def test_size_parser_takes_bytes_or_a_unit(raw: str, expected: int) -> None:
    assert BY_NAME["max_unpacked_size"].parse(raw) == expected


@pytest.mark.parametrize("raw", ["", "4G", "4XB", "1.5GiB", "-1", "GiB", "4GiB5", "0", "0MiB"])
def test_size_parser_is_strict_and_names_the_input(raw: str) -> None:
    with pytest.raises(InputValueError) as caught:
        BY_NAME["max_unpacked_size"].parse(raw)
    assert str(caught.value).startswith("input max_unpacked_size: expected a size")
    assert caught.value.exit_code == 2


def test_max_unpacked_size_defaults_to_4_gib_for_local_and_the_emulator() -> None:
    spec = BY_NAME["max_unpacked_size"]
    assert spec.verbs == ("local", "emulator")
    assert spec.default_text() == "4GiB"
    for verb in ("local", "emulator"):
        assert resolve(verb, {}, {})["max_unpacked_size"] == 4 << 30
    env = {"CI_DEPLOY_MAX_UNPACKED_SIZE": "500MiB"}
    assert resolve("local", {}, env)["max_unpacked_size"] == 500 << 20
    assert resolve("local", {"max_unpacked_size": "1KiB"}, env)["max_unpacked_size"] == 1024


def test_resolve_prefers_flags_then_env_then_defaults() -> None:
    env = {"CI_DEPLOY_APPLICATION": "from-env", "CI_DEPLOY_DEPLOYMENT_GROUP": "group-env"}
    values = resolve("deploy", {"application": "from-flag"}, env)
    assert values["application"] == "from-flag"
    assert values["deployment_group"] == "group-env"
    assert values["wait"] is True
    assert values["source"] == Path()
    assert values["regions"] == ()


def test_resolve_ignores_empty_env_values() -> None:
    # CI systems set unset inputs to the empty string; that means "not given".
    values = resolve("deploy", {}, {"CI_DEPLOY_WAIT": "", "CI_DEPLOY_REGIONS": " "})
    assert values["wait"] is True
    assert values["regions"] == ()


def test_resolve_parses_env_strictly() -> None:
    with pytest.raises(InputValueError, match="input wait_timeout_seconds"):
        resolve("wait", {}, {"CI_DEPLOY_WAIT_TIMEOUT_SECONDS": "ten"})


def test_repeated_list_flags_with_commas_merge() -> None:
    values = resolve("deploy", {"regions": ["us-east-1,eu-west-1", "ap-south-1"]}, {})
    assert values["regions"] == ("us-east-1", "eu-west-1", "ap-south-1")


def test_request_typed_access_and_required_inputs() -> None:
    request = Request("deploy", resolve("deploy", {}, {}))
    assert request.flag("wait") is True
    assert request.number("wait_timeout_seconds") is None
    assert request.items("exclude") == ()
    with pytest.raises(InputError) as caught:
        request.required_text("application")
    assert caught.value.message == "input application is required for deploy"
    assert caught.value.hint == "pass --application or set CI_DEPLOY_APPLICATION"


def test_adapter_inputs_exclude_cli_only_and_local_verbs() -> None:
    names = [spec.name for spec in adapter_inputs()]
    assert names[0] == "command"
    assert "application" in names and "deployment_group" in names
    assert "format" not in names and "ci_system" not in names
    assert "root" not in names and "port" not in names  # local/emulator only


def test_every_verb_takes_debug() -> None:
    for verb in VERBS:
        assert "debug" in [spec.name for spec in for_verb(verb)]
