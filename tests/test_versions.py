"""One version, everywhere: src/ci_deploy/__init__.py holds it; every pin of it (the GitLab
template, the Jenkins step, action.yml, README.md and docs/*.md, CHANGELOG.md) must equal it, and
scripts/set-version moves them all. The project's address lives in pyproject.toml alone."""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ci_deploy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)
# Pins in prose (README.md, docs/*.md) and in every adapter file.
# A release number: a placeholder (X.Y.Z, $VARIABLE) or a major tag (@v1) is no pin.
RELEASE = r"(\d+\.\d+\.\d+(?:[\w.+-]*\w)?)"
PROSE_PINS = [f"ci-deploy=={RELEASE}", f"@v{RELEASE}", f"/v{RELEASE}/", f"ref: v{RELEASE}"]
# Pins of one adapter each, which must be there.
ADAPTER_PINS = {
    "gitlab/ci-deploy.yml": [
        r"^#     - remote: https://raw\.githubusercontent\.com/[^/]+/[^/]+/v(\S+)/gitlab/ci-deploy\.yml$",
        r"^      default: ci-deploy==(\S+)$",
        r"^    key: ci-deploy-(\S+)$",
    ],
    "jenkins/vars/ciDeploy.groovy": [r"^@Field final String CLI_VERSION = '([^']+)'$"],
}
ADAPTER_FILES = [
    "action.yml",
    "gitlab/ci-deploy.yml",
    "jenkins/vars/ciDeploy.groovy",
    "jenkins/vars/ciDeploy.txt",
]
# What set-version reads and writes, for running it on a copy.
PINNED_FILES = [
    "scripts/set-version",
    "src/ci_deploy/__init__.py",
    "CHANGELOG.md",
    "README.md",
    *ADAPTER_FILES,
]


def version_of(root: Path) -> str:
    found = VERSION_LINE.search((root / "src" / "ci_deploy" / "__init__.py").read_text())
    assert found
    return found.group(1)


def prose_files(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def drift(root: Path) -> list[str]:
    """Every pin under ``root`` that is not the version of src/ci_deploy/__init__.py there."""
    version = version_of(root)
    problems = []
    for name, patterns in ADAPTER_PINS.items():
        text = (root / name).read_text(encoding="utf-8")
        for pattern in patterns:
            found = re.findall(pattern, text, flags=re.MULTILINE)
            if found != [version]:
                problems.append(f"{name}: {pattern} gives {found}, not [{version!r}]")
    for path in [*(root / name for name in ADAPTER_FILES), *prose_files(root)]:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in PROSE_PINS:
            for pinned in re.findall(pattern, text):
                if pinned != version:
                    problems.append(f"{path.relative_to(root)}: {pattern} pins {pinned}")
    releases = re.findall(
        r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d\d-\d\d$", (root / "CHANGELOG.md").read_text(), re.M
    )
    if not releases or releases[0] != version:
        problems.append(f"CHANGELOG.md: the newest release is {releases[:1]}, not {version}")
    return problems


def test_every_pin_is_the_version() -> None:
    assert version_of(REPO) == ci_deploy.__version__
    assert drift(REPO) == [], "run scripts/set-version " + ci_deploy.__version__


def copy_pinned(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in PINNED_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    if (REPO / "docs").is_dir():
        shutil.copytree(REPO / "docs", root / "docs")
    return root


def test_the_drift_check_finds_each_pin_that_moved(tmp_path: Path) -> None:
    root = copy_pinned(tmp_path)
    version = version_of(root)
    edits = {
        "README.md": ("\n", "\nInstall: `pip install ci-deploy==0.0.1`\n"),
        "gitlab/ci-deploy.yml": (f"key: ci-deploy-{version}", "key: ci-deploy-0.0.1"),
        "jenkins/vars/ciDeploy.groovy": (f"CLI_VERSION = '{version}'", "CLI_VERSION = '0.0.1'"),
        "action.yml": ("\n", "\n# uses: org/ci-deploy@v0.0.1\n"),
        "CHANGELOG.md": (f"## [{version}]", "## [0.0.1]"),
    }
    for name, (old, new) in edits.items():
        path = root / name
        path.write_text(path.read_text().replace(old, new, 1))
    problems = drift(root)
    assert len(problems) == len(edits), problems
    for name in edits:
        assert any(problem.startswith(name) for problem in problems), (name, problems)


def set_version(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "set-version"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_set_version_moves_every_pin_and_releases_the_unreleased_notes(tmp_path: Path) -> None:
    root = copy_pinned(tmp_path)
    old = version_of(root)
    changelog = root / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace(
            "## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n\n- Something.\n", 1
        )
    )
    major, minor, _ = (int(part) for part in old.split("."))
    new = f"{major}.{minor + 1}.0"
    done = set_version(root, new)
    assert done.returncode == 0, done.stderr
    assert "updated gitlab/ci-deploy.yml" in done.stdout
    assert version_of(root) == new
    assert drift(root) == []
    text = changelog.read_text()
    today = datetime.date.today().isoformat()
    assert f"## [Unreleased]\n\n## [{new}] - {today}\n\n### Fixed\n\n- Something.\n" in text
    assert f"## [{old}] - " in text  # the earlier release stays as it was
    assert text.endswith(
        f"[Unreleased]: https://github.com/org/ci-deploy/compare/v{new}...HEAD\n"
        f"[{new}]: https://github.com/org/ci-deploy/compare/v{old}...v{new}\n"
        f"[{old}]: https://github.com/org/ci-deploy/releases/tag/v{old}\n"
    )


def test_set_version_with_the_current_version_brings_drifted_pins_back(tmp_path: Path) -> None:
    root = copy_pinned(tmp_path)
    version = version_of(root)
    readme = root / "README.md"
    readme.write_text(readme.read_text() + "\n`pip install ci-deploy==0.0.1`\n")
    before = (root / "CHANGELOG.md").read_text()
    assert drift(root)
    done = set_version(root, version)
    assert done.returncode == 0, done.stderr
    assert drift(root) == []
    assert (root / "CHANGELOG.md").read_text() == before


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("1.2", "the version is X.Y.Z (three numbers), got '1.2'"),
        ("v9.0.0", "the version is X.Y.Z (three numbers), got 'v9.0.0'"),
        ("0.0.1", "0.0.1 is older than the current version "),
        ("99.0.0", "CHANGELOG.md's Unreleased section is empty: write what 99.0.0 changes"),
    ],
)
def test_set_version_refuses_bad_input_and_changes_nothing(
    tmp_path: Path, argument: str, message: str
) -> None:
    root = copy_pinned(tmp_path)
    before = snapshot(root)
    done = set_version(root, argument)
    assert done.returncode == 2
    assert done.stderr.startswith(f"scripts/set-version: error: {message}"), done.stderr
    assert snapshot(root) == before


def test_the_repository_address_is_the_one_in_pyproject_toml() -> None:
    """pyproject.toml's Homepage names the repository; every other mention of it (adapters,
    docs, the changelog) is that one, so moving the project changes one place and this test
    lists the rest."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    home = project["urls"]["Homepage"]
    owner_repo = home.removeprefix("https://github.com/")
    assert all(url.startswith(home) for url in project["urls"].values())
    mention = re.compile(
        r"(?:github\.com/|raw\.githubusercontent\.com/|uses: )([\w.-]+/ci-deploy)\b"
    )
    files = [*(REPO / name for name in ADAPTER_FILES), REPO / "CHANGELOG.md", *prose_files(REPO)]
    found = {(path.name, name) for path in files for name in mention.findall(path.read_text())}
    assert found, "no mention found: the pattern is wrong"
    assert {name for _, name in found} == {owner_repo}, found
