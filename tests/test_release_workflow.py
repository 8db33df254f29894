""".github/workflows/release.yml cannot run here: its shape is held to what a release needs
(build once, test that wheel, trusted publishing from a protected environment, the GitHub
release, the major tag), actionlint and the workflow schema check it with the others
(tests/test_action.py), and every script it calls lives in scripts/ and is run here."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import ci_deploy

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
VERSION = ci_deploy.__version__


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def jobs() -> dict[str, Any]:
    found: dict[str, Any] = workflow()["jobs"]
    return found


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


# ---------------------------------------------------------------------------------------------
# The workflow's shape


def test_it_runs_on_a_version_tag_only_with_read_only_permissions_by_default() -> None:
    # YAML reads the key `on` as True
    assert workflow()[True] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    assert workflow()["permissions"] == {"contents": "read"}


def test_the_jobs_run_in_order_build_test_publish_release() -> None:
    assert list(jobs()) == ["build", "test", "publish", "github-release"]
    assert jobs()["test"]["needs"] == "build"
    assert jobs()["publish"]["needs"] == ["build", "test"]
    assert jobs()["github-release"]["needs"] == ["build", "publish"]


def test_the_tag_is_checked_and_the_files_are_built_once() -> None:
    build = jobs()["build"]
    script = runs(build)
    assert 'python scripts/check-tag "$TAG" >> "$GITHUB_OUTPUT"' in script
    assert 'python scripts/release-notes "$VERSION"' in script
    assert "python -m build\n" in script
    assert "python -m twine check --strict dist/*" in script
    assert "actions/upload-artifact@v6" in uses(build)
    for name, job in jobs().items():
        if name != "build":
            assert "python -m build" not in runs(job), name
            assert "actions/download-artifact@v7" in uses(job), name


def test_the_tests_run_against_the_built_wheel_on_every_supported_python() -> None:
    test = jobs()["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13"]
    script = runs(test)
    assert './scripts/setup "dist/ci_deploy-$VERSION-py3-none-any.whl"' in script
    assert "assert location.is_relative_to(site), location" in script
    assert ".venv/bin/pytest" in script
    assert "pip install -e" not in script


def test_publishing_uses_trusted_publishing_from_a_protected_environment() -> None:
    publish = jobs()["publish"]
    assert publish["environment"] == "package-index"
    assert publish["permissions"] == {"id-token": "write"}
    [publisher] = [step for step in publish["steps"] if "gh-action-pypi-publish" in step["uses"]]
    assert publisher["uses"] == "pypa/gh-action-pypi-publish@release/v1"
    assert "with" not in publisher  # no password, no token: the OIDC identity is the credential
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "secrets." not in text
    assert "password" not in text.lower()
    # only the publishing job can mint an ID token
    for name, job in jobs().items():
        if name != "publish":
            assert "id-token" not in job.get("permissions", {}), name


def test_the_github_release_has_the_changelog_notes_the_files_and_moves_the_major_tag() -> None:
    release = jobs()["github-release"]
    assert release["permissions"] == {"contents": "write"}
    script = runs(release)
    assert 'python3 scripts/release-notes "$VERSION" > "$RUNNER_TEMP/notes.md"' in script
    assert 'gh release create "$TAG" dist/* --verify-tag' in script
    assert '--notes-file "$RUNNER_TEMP/notes.md"' in script
    assert 'major=$(git tag --list | python3 scripts/major-tag "$VERSION")' in script
    assert 'git tag --force "$major" "$TAG^{commit}"' in script
    assert 'git push --force origin "refs/tags/$major"' in script


def test_every_script_the_workflow_calls_is_in_scripts_and_tested_here() -> None:
    called = set(re.findall(r"scripts/([\w-]+)", "\n".join(runs(job) for job in jobs().values())))
    assert called == {"check-tag", "release-notes", "major-tag", "install-tools", "setup"}
    for name in called:
        assert (REPO / "scripts" / name).is_file(), name
    source = Path(__file__).read_text(encoding="utf-8")
    for name in called - {"install-tools", "setup"}:  # those two every test run runs
        assert f'script("{name}")' in source, name


def test_no_expression_inside_any_run_script() -> None:
    for job in jobs().values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step


# ---------------------------------------------------------------------------------------------
# The scripts, run


def script(name: str) -> Path:
    return REPO / "scripts" / name


def run(path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def repo_copy(tmp_path: Path, changelog: str | None = None, version: str | None = None) -> Path:
    """scripts/, src/ci_deploy/__init__.py and CHANGELOG.md, maybe changed, under tmp_path."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "scripts", root / "scripts")
    init = root / "src" / "ci_deploy" / "__init__.py"
    init.parent.mkdir(parents=True)
    text = (REPO / "src" / "ci_deploy" / "__init__.py").read_text()
    init.write_text(text.replace(f'"{VERSION}"', f'"{version}"') if version else text)
    (root / "CHANGELOG.md").write_text(changelog or (REPO / "CHANGELOG.md").read_text())
    return root


def test_check_tag_accepts_the_version_s_tag() -> None:
    done = run(script("check-tag"), f"v{VERSION}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"version={VERSION}\n"


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (VERSION, f"the tag is vX.Y.Z (three numbers), got '{VERSION}'"),
        ("v1.2", "the tag is vX.Y.Z (three numbers), got 'v1.2'"),
        (
            "v99.0.0",
            f"the tag v99.0.0 is not the version {VERSION} of src/ci_deploy/__init__.py: tag the "
            "commit where scripts/set-version 99.0.0 was run",
        ),
    ],
)
def test_check_tag_refuses_a_tag_that_is_not_the_version(tag: str, message: str) -> None:
    done = run(script("check-tag"), tag)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"scripts/check-tag: error: {message}\n"


def test_check_tag_refuses_a_version_without_its_changelog_section(tmp_path: Path) -> None:
    root = repo_copy(tmp_path, version="7.0.0")
    done = run(root / "scripts" / "check-tag", "v7.0.0")
    assert done.returncode == 2
    assert done.stderr == (
        "scripts/check-tag: error: CHANGELOG.md has no section '## [7.0.0] - YYYY-MM-DD'\n"
    )


CHANGELOG = """\
# Changelog

## [Unreleased]

### Fixed

- Not released yet.

## [1.1.0] - 2026-03-01

### Added

- Rollouts.

## [1.0.1] - 2026-02-01

## [1.0.0] - 2026-01-01

The first release.

[Unreleased]: https://github.com/org/ci-deploy/compare/v1.1.0...HEAD
[1.1.0]: https://github.com/org/ci-deploy/compare/v1.0.0...v1.1.0
[1.0.0]: https://github.com/org/ci-deploy/releases/tag/v1.0.0
"""


@pytest.mark.parametrize(
    ("version", "notes"),
    [
        ("1.1.0", "### Added\n\n- Rollouts.\n"),
        ("v1.1.0", "### Added\n\n- Rollouts.\n"),
        ("1.0.0", "The first release.\n"),
    ],
)
def test_release_notes_print_the_section_of_that_release(
    tmp_path: Path, version: str, notes: str
) -> None:
    root = repo_copy(tmp_path, changelog=CHANGELOG)
    done = run(root / "scripts" / "release-notes", version)
    assert done.returncode == 0, done.stderr
    assert done.stdout == notes


def test_release_notes_of_this_release_are_its_changelog_section() -> None:
    done = run(script("release-notes"), VERSION)
    assert done.returncode == 0, done.stderr
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    section = changelog.split(f"## [{VERSION}] - ", 1)[1].split("\n", 1)[1]
    assert done.stdout.strip() == re.split(r"^## \[|^\[", section, flags=re.M)[0].strip()
    assert done.stdout.strip()


@pytest.mark.parametrize(("version", "what"), [("1.0.1", "is empty"), ("2.0.0", "is missing")])
def test_release_notes_refuse_a_missing_or_empty_section(
    tmp_path: Path, version: str, what: str
) -> None:
    root = repo_copy(tmp_path, changelog=CHANGELOG)
    done = run(root / "scripts" / "release-notes", version)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"scripts/release-notes: error: CHANGELOG.md's section for {version} {what}: write it "
        f"under '## [{version}] - YYYY-MM-DD'\n"
    )


@pytest.mark.parametrize(
    ("version", "tags", "moved"),
    [
        ("1.0.0", "", "v1"),  # the first release
        ("1.2.0", "v1.0.0\nv1.1.0\nv1\nv0.9.0\n", "v1"),
        ("1.1.1", "v1.0.0\nv1.1.0\nv1.2.0\nv1\n", ""),  # a fix of an older line keeps v1
        ("2.0.0", "v1.0.0\nv1.9.9\nv1\nnightly\n", "v2"),
        ("1.9.0", "v2.0.0\nv1.8.0\nv1\nv2\n", "v1"),  # a newer major does not matter
    ],
)
def test_major_tag_moves_only_to_the_newest_release_of_its_major(
    version: str, tags: str, moved: str
) -> None:
    done = run(script("major-tag"), version, stdin=tags)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"{moved}\n" if moved else "")


def test_major_tag_refuses_a_version_that_is_not_x_y_z() -> None:
    done = run(script("major-tag"), "1.2", stdin="")
    assert done.returncode == 2
    assert done.stderr == (
        "scripts/major-tag: error: the version is X.Y.Z (three numbers), got '1.2'\n"
    )
