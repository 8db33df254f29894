"""The documentation: the generated inputs reference (scripts/gen-inputs-doc and its --check)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ci_deploy.inputs import TABLE, VERBS, adapter_inputs
from doc_pages import (
    NONE,
    REPO,
    inputs_reference,
    section,
    unquote,
)

GENERATOR = REPO / "scripts" / "gen-inputs-doc"
REFERENCE = REPO / "docs" / "inputs.md"


def generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


# ---------------------------------------------------------------------------------------------
# The generated inputs reference


def test_the_inputs_reference_is_up_to_date() -> None:
    done = generate("--check")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_the_generator_is_an_executable_python_script() -> None:
    assert GENERATOR.stat().st_mode & 0o111
    assert GENERATOR.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3\n")


def test_a_stale_reference_is_detected_and_rewritten(tmp_path: Path) -> None:
    stale = tmp_path / "inputs.md"
    current = REFERENCE.read_text(encoding="utf-8")
    # an input the table gained since the file was written: its row is missing
    stale.write_text(current.replace(current.splitlines()[-1] + "\n", ""), encoding="utf-8")
    before = stale.read_text(encoding="utf-8")

    checked = generate("--check", "--output", str(stale))
    assert checked.returncode == 1
    assert checked.stderr == (
        f"{stale} is out of date: run scripts/gen-inputs-doc --output {stale}\n"
    )
    assert stale.read_text(encoding="utf-8") == before  # --check writes nothing

    written = generate("--output", str(stale))
    assert written.returncode == 0, written.stderr
    assert stale.read_text(encoding="utf-8") == current
    assert generate("--check", "--output", str(stale)).returncode == 0


def test_the_message_for_the_project_s_file_names_the_plain_command(tmp_path: Path) -> None:
    """What CI prints: the path from the repository root and the command to run."""
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    (copy / "docs").mkdir()
    shutil.copy2(GENERATOR, copy / "scripts" / "gen-inputs-doc")
    shutil.copytree(REPO / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "docs" / "inputs.md").write_text("# Inputs\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(copy / "scripts" / "gen-inputs-doc"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == "docs/inputs.md is out of date: run scripts/gen-inputs-doc\n"


def test_a_missing_reference_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "docs" / "inputs.md"
    done = generate("--check", "--output", str(missing))
    assert done.returncode == 1
    assert done.stderr == f"{missing} is missing: run scripts/gen-inputs-doc --output {missing}\n"
    assert not missing.exists()


def test_a_bad_option_is_bad_input() -> None:
    done = generate("--chek")
    assert done.returncode == 2
    assert "unrecognized arguments: --chek" in done.stderr


def test_the_reference_has_one_row_per_input_with_every_spelling() -> None:
    rows = inputs_reference()
    assert list(rows) == [spec.name for spec in TABLE]
    exposed = {spec.name for spec in adapter_inputs()}
    for spec in TABLE:
        row = rows[spec.name]
        assert unquote(row["environment variable"]) == spec.env
        names = (row["GitHub Action"], row["GitLab"], row["Jenkins"])
        if spec.name in exposed:
            expected = (spec.action_name, spec.gitlab_name, spec.jenkins_name)
            assert tuple(unquote(name) for name in names) == expected
        else:
            assert names == (NONE, NONE, NONE), spec.name
        assert row["default"] == (f"`{spec.default_text()}`" if spec.default_text() else NONE)
        assert row["help"].replace("\\|", "|").startswith(spec.help)


def test_the_cli_column_says_how_the_command_line_takes_each_input() -> None:
    rows = inputs_reference()
    for spec in TABLE:
        cli = rows[spec.name]["CLI"]
        if spec.secret or (not spec.verbs and not spec.adapter_only):
            assert cli == f"{NONE} (environment only)", spec.name
        elif spec.positional:
            assert cli == f"`{spec.name.upper()}` (argument)"
        elif spec.kind == "bool":
            assert cli == f"`{spec.flag}` / `--no-{spec.flag[2:]}`"
        elif not spec.adapter_only:
            assert cli.startswith(f"`{spec.flag} "), spec.name
            for alias in spec.aliases:
                assert f"`{alias} " in cli, spec.name
    assert "Secret: from the environment only." in rows["github_token"]["help"]


def test_the_by_verb_index_lists_each_verb_s_inputs() -> None:
    index = section(REFERENCE.read_text(encoding="utf-8"), "## By verb")
    for verb in VERBS:
        [line] = [line for line in index.splitlines() if line.startswith(f"- `{verb}`: ")]
        listed = line.split(": ", 1)[1].split(", ")
        expected = [f"[`{spec.name}`](#{spec.name})" for spec in TABLE if verb in spec.verbs]
        assert listed == expected
