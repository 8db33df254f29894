"""The appspec library API: finding the file, load_appspec, platform detection, the loader's
edge cases, and the JSON Schema kept in step with the validator's rules."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ci_deploy.appspec import (
    AppSpec,
    find_appspec,
    load_appspec,
    validate_path,
    validate_text,
)
from ci_deploy.appspec.schema import SCHEMA_FILE, render_server_schema
from ci_deploy.errors import AppSpecError, ExitCode, InputError

CASES_DIR = Path(__file__).parent / "appspec_cases"
SCHEMA_PATH = Path(__file__).parents[1] / "src" / "ci_deploy" / "schemas" / SCHEMA_FILE


def codes(text: str, **kwargs: object) -> list[tuple[int, int, str]]:
    result = validate_text(text, "appspec.yml", **kwargs)  # type: ignore[arg-type]
    return [(d.line, d.column, d.code) for d in result.diagnostics]


# -- finding the appspec ---------------------------------------------------------------------


def test_a_directory_without_appspec_is_bad_input_naming_both_names(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        find_appspec(tmp_path)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert "no appspec.yml or appspec.yaml at the root of" in caught.value.message
    assert "--appspec-filename" in (caught.value.hint or "")


def test_an_appspec_one_level_down_is_pointed_out(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    with pytest.raises(InputError) as caught:
        validate_path(tmp_path)
    assert caught.value.hint == (
        f"{tmp_path / 'build'} has one: pass that directory (the revision root) instead"
    )


def test_an_unreadable_appspec_is_bad_input() -> None:
    # /proc/self/mem is a regular file whose read fails (EIO) even for root, whom permission
    # bits would not stop.
    with pytest.raises(InputError) as caught:
        validate_path(Path("/proc/self/mem"))
    assert caught.value.message.startswith("input source: cannot read /proc/self/mem: ")
    assert caught.value.exit_code == ExitCode.BAD_INPUT


def test_a_missing_path_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        validate_path(tmp_path / "nope")


def test_a_bundle_is_refused_with_what_to_pass_instead(tmp_path: Path) -> None:
    bundle = tmp_path / "web.zip"
    bundle.write_bytes(b"PK\x05\x06" + bytes(18))
    with pytest.raises(InputError, match="is a bundle"):
        validate_path(bundle)


def test_a_custom_appspec_filename_is_read_from_the_revision(tmp_path: Path) -> None:
    (tmp_path / "deploy-prod.yml").write_text('version: "0.0"\nos: linux\n')
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\n")

    result = validate_path(tmp_path, appspec_filename="deploy-prod.yml")

    assert result.appspec_path == tmp_path / "deploy-prod.yml"
    assert [d.code for d in result.diagnostics] == ["version-quoted"]


def test_appspec_yml_wins_over_appspec_yaml_like_the_agent(tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (tmp_path / "appspec.yaml").write_text("version: 0.0\nos: windows\n")

    loaded = load_appspec(tmp_path)

    assert loaded.path == tmp_path / "appspec.yml"
    assert loaded.document["os"] == "linux"
    assert [d.code for d in loaded.warnings] == ["appspec-both-names"]


# -- load_appspec ----------------------------------------------------------------------------


def test_load_appspec_returns_the_document_and_platform() -> None:
    loaded = load_appspec(CASES_DIR / "revision-valid")

    assert isinstance(loaded, AppSpec)
    assert loaded.platform == "server"
    assert loaded.document["files"][0] == {"source": "app", "destination": "/srv/web"}
    assert loaded.document["hooks"]["AfterInstall"] == [
        {"location": "scripts/migrate.sh", "timeout": 300}
    ]
    assert loaded.document["permissions"][0]["mode"] == "0755"


def test_load_appspec_raises_appspec_error_carrying_every_diagnostic() -> None:
    with pytest.raises(AppSpecError) as caught:
        load_appspec(CASES_DIR / "server-hooks-reserved.yml")

    error = caught.value
    assert error.exit_code == ExitCode.BAD_INPUT
    assert error.message.endswith("the AppSpec has 4 errors; run 'ci-deploy validate' to list them")
    assert [d.code for d in error.diagnostics] == ["hook-reserved-event"] * 4  # type: ignore[attr-defined]


def test_load_appspec_honours_a_forced_platform() -> None:
    loaded = load_appspec(CASES_DIR / "lambda-valid.yaml", compute_platform="lambda")
    assert loaded.platform == "lambda"
    assert loaded.document["resources"][0]["myLambdaFunction"]["properties"]["alias"] == (
        "myLambdaFunctionAlias"
    )


# -- platform detection and inline content ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "platform"),
    [
        ("version: 0.0\nos: linux\n", "server"),
        ("version: 0.0\n", "server"),
        ("version: 0.0\nResources: []\n", "ecs"),
        ("version: 0.0\nresources: []\n", "lambda"),
        ("version: 0.0\nresources:\n  - x:\n      type: AWS::ECS::Service\n", "ecs"),
        ("version: 0.0\nResources:\n  - x:\n      Type: AWS::Lambda::Function\n", "lambda"),
        ("version: 0.0\nhooks:\n  - AfterAllowTestTraffic: f\n", "ecs"),
        ("version: 0.0\nhooks:\n  - AfterAllowTraffic: f\n", "lambda"),
        ("version: 0.0\nHooks:\n  - AfterAllowTraffic: f\n", "ecs"),
    ],
)
def test_the_platform_is_detected_from_the_content(text: str, platform: str) -> None:
    assert validate_text(text, "appspec.yaml").platform == platform


def test_inline_json_content_is_validated_with_positions() -> None:
    content = '{"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service"}}]}'
    result = validate_text(content, "AppSpecContent", as_json=True)
    assert result.platform == "ecs"
    assert [(d.line, d.column, d.code) for d in result.diagnostics] == [(1, 50, "missing-key")]
    assert result.diagnostics[0].file == "AppSpecContent"


def test_a_json_looking_yml_file_is_read_as_json_so_tabs_are_fine() -> None:
    assert codes('{\n\t"version": 0.0,\n\t"os": "linux"\n}\n') == []


def test_a_yaml_flow_mapping_that_is_not_json_still_parses_as_yaml() -> None:
    assert codes("{version: 0.0, os: linux}\n") == []


def test_a_recursive_alias_is_reported_not_followed() -> None:
    assert codes("version: 0.0\nos: linux\nfiles: &x\n  - *x\n") == [
        (3, 8, "recursive-alias"),  # an alias is the node it names: reported where that starts
        (3, 8, "wrong-type"),  # the list's one entry (the cut-off alias) is not a mapping
    ]


def test_nesting_deeper_than_any_appspec_is_reported() -> None:
    text = "version: 0.0\nos: linux\nx: " + "[" * 150 + "]" * 150 + "\n"
    found = codes(text)
    assert (3, 1, "unknown-key") in found
    assert any(code == "too-deep" for _, _, code in found)


def test_json_nesting_deeper_than_any_appspec_is_a_syntax_error() -> None:
    result = validate_text('{"a": ' + "[" * 150 + "]" * 150 + "}", "a.json", as_json=True)
    assert [d.code for d in result.diagnostics] == ["json-syntax"]
    assert "nesting deeper than 100 levels" in result.diagnostics[0].message


def test_messages_say_what_to_write_instead() -> None:
    result = validate_text(
        "version: 0.0\nos: linux\npermissions:\n  - object: /a\n    mode: 0644\n", "appspec.yml"
    )
    by_code = {d.code: d.message for d in result.diagnostics}
    assert by_code["mode-leading-zero"] == (
        "mode 0644 is unquoted with a leading zero: YAML 1.1 (the 1.x agent) reads it as the "
        'octal number 420 and applies mode 420; quote it (mode: "0644") or drop the zero '
        "(mode: 644)"
    )


def test_a_misspelt_top_level_key_gets_a_suggestion() -> None:
    result = validate_text("version: 0.0\nos: linux\nhook:\n  BeforeInstall: []\n", "appspec.yml")
    assert result.diagnostics[0].message.startswith(
        "unknown key 'hook' in the AppSpec (did you mean 'hooks'?): the agent ignores it"
    )
    assert result.diagnostics[0].severity == "warning"


# -- JSON Schema -----------------------------------------------------------------------------

# Codes whose problem the schema can express: a case with one of them must fail the schema.
SCHEMA_EXPRESSIBLE = {
    "version-quoted",
    "version-invalid",
    "version-missing",
    "os-invalid",
    "os-missing",
    "files-source-missing",
    "files-destination-missing",
    "file-exists-behavior-invalid",
    "permissions-object-missing",
    "permissions-object-relative",
    "permissions-type-invalid",
    "context-type-missing",
    "context-user-key",
    "context-role",
    "acl-invalid",
    "hook-reserved-event",
    "hook-unknown-event",
    "hook-location-missing",
    "hook-timeout-invalid",
}


def test_the_shipped_schema_is_generated_from_the_rules() -> None:
    assert SCHEMA_PATH.read_text() == render_server_schema(), (
        "regenerate it: python -c 'from ci_deploy.appspec.schema import render_server_schema as "
        f'r; open("{SCHEMA_PATH}", "w").write(r())\''
    )
    jsonschema.Draft7Validator.check_schema(json.loads(SCHEMA_PATH.read_text()))


def server_cases() -> list[Path]:
    found = []
    for expect in sorted(CASES_DIR.glob("*.expect")):
        text = expect.read_text()
        if "platform: server" in text and "force:" not in text:
            found.append(expect.with_name(expect.name[: -len(".expect")]))
    return found


def test_the_schema_agrees_with_the_validator_on_the_server_corpus() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_PATH.read_text()))
    checked = 0
    for case in server_cases():
        result = validate_path(case)
        if result.document is None:
            continue
        schema_errors = list(validator.iter_errors(result.document))
        codes_found = {d.code for d in result.errors}
        if not codes_found:
            assert schema_errors == [], f"{case.name}: valid for the validator, not the schema"
        elif codes_found & SCHEMA_EXPRESSIBLE:
            assert schema_errors, f"{case.name}: the schema misses {codes_found}"
        checked += 1
    assert checked >= 40


def test_the_docs_list_every_code_the_corpus_produces() -> None:
    guide = (Path(__file__).parents[1] / "docs" / "validate.md").read_text(encoding="utf-8")
    section = guide.split("\n## Diagnostic codes\n", 1)[1].split("\n## ", 1)[0]
    produced = set()
    for expect in CASES_DIR.glob("*.expect"):
        for line in expect.read_text().splitlines():
            if line[:1].isdigit():
                produced.add(line.split()[2])
    assert len(produced) >= 50
    missing = sorted(code for code in produced if f"`{code}`" not in section)
    assert missing == []


def test_the_chmod_hint_for_a_script_named_with_a_space_can_be_pasted(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "start app.sh").write_text("#!/bin/sh\n")
    (tmp_path / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/start app.sh\n"
    )

    result = validate_path(tmp_path)

    (warning,) = result.diagnostics
    assert (warning.line, warning.column, warning.code) == (5, 17, "hook-script-not-executable")
    assert warning.message.endswith("""run "chmod +x 'scripts/start app.sh'" and commit it""")
