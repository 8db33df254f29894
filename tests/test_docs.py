"""The documentation: the generated inputs reference (scripts/gen-inputs-doc and its --check),
the README's shape, and relative links between README.md, CONTRIBUTING.md and docs/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ci_deploy.inputs import TABLE, VERBS, adapter_inputs
from doc_pages import (
    NONE,
    REPO,
    broken_links,
    code_blocks,
    inputs_reference,
    page,
    pages,
    section,
    unquote,
)

GENERATOR = REPO / "scripts" / "gen-inputs-doc"
REFERENCE = REPO / "docs" / "inputs.md"
# Pages the README links to that other work writes (the lead: SECURITY.md; the releases work:
# docs/releasing.md). Each entry must be removed once its file exists.
PENDING_LINKS: set[str] = set()


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
        if not spec.has_flag or (not spec.verbs and not spec.adapter_only):
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


# ---------------------------------------------------------------------------------------------
# The README


def test_the_readme_stays_short() -> None:
    assert len(page("README.md").splitlines()) <= 300


def test_the_readme_keeps_the_two_set_up_commands_after_the_quick_start() -> None:
    readme = page("README.md")
    set_up = section(readme, "## Set-up: two commands")
    [commands] = code_blocks(set_up, "sh")
    assert [line.split()[0] for line in commands.splitlines()] == [
        "./scripts/demo",
        "./scripts/test",
    ]
    assert readme.index("## Quick start") < readme.index("## Set-up: two commands")
    assert "[CONTRIBUTING.md](CONTRIBUTING.md)" in set_up


def test_the_readme_has_a_quick_start_per_ci_and_the_exit_codes() -> None:
    quick = section(page("README.md"), "## Quick start")
    assert "uses: org/ci-deploy@v1" in quick
    assert "include:" in quick
    assert "ciDeploy application:" in quick
    codes = section(page("README.md"), "## Exit codes")
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"\n| {code} | " in codes


# ---------------------------------------------------------------------------------------------
# Links


def pending(path: Path, link: str) -> bool:
    target = (path.parent / link.partition("#")[0]).resolve()
    return target.is_relative_to(REPO) and str(target.relative_to(REPO)) in PENDING_LINKS


def test_every_relative_link_resolves() -> None:
    checked = pages()
    assert {path.name for path in checked} >= {"README.md", "CONTRIBUTING.md", "inputs.md"}
    broken = {
        str(path.relative_to(REPO)): [
            link for link in broken_links(path) if not pending(path, link)
        ]
        for path in checked
    }
    assert {name: links for name, links in broken.items() if links} == {}


def test_pending_links_are_only_those_still_to_be_written() -> None:
    for name in PENDING_LINKS:
        assert not (REPO / name).exists(), f"{name} exists now: remove it from PENDING_LINKS"
        assert f"]({name})" in page("README.md")


def test_the_link_check_finds_missing_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# B\n\n## Some `code` here\n", encoding="utf-8")
    a = tmp_path / "a.md"
    a.write_text(
        "# A\n\n[ok](docs/b.md) [ok](docs/b.md#some-code-here) [self](#a) [web](https://x.y/z)\n"
        "[gone](docs/c.md) [no anchor](docs/b.md#nowhere) [out](../elsewhere.md)\n"
        "```\n[in code](docs/missing.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(a, root=tmp_path) == ["docs/c.md", "docs/b.md#nowhere", "../elsewhere.md"]
