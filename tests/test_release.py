"""The release: the sdist and wheel `python -m build` makes (metadata, content, twine check), the
hash locks against pyproject.toml, and the built wheel installed with its lock into a fresh
virtual environment that cannot see this checkout, then run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import ci_deploy
from package_index import Release, offline_pip_env, wheelhouse

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "ci_deploy"
LOCKS = PACKAGE / "lock"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = ci_deploy.__version__
BIN = Path(sys.executable).parent


# ---------------------------------------------------------------------------------------------
# The sdist and the wheel


def wheel_names(release: Release) -> list[str]:
    with zipfile.ZipFile(release.wheel) as wheel:
        return wheel.namelist()


def metadata(release: Release) -> Message:
    with zipfile.ZipFile(release.wheel) as wheel:
        text = wheel.read(f"ci_deploy-{VERSION}.dist-info/METADATA").decode()
    return Parser().parsestr(text)


def test_build_makes_an_sdist_and_a_wheel_of_this_version(release: Release) -> None:
    assert release.sdist.name == f"ci_deploy-{VERSION}.tar.gz"
    assert release.wheel.name == f"ci_deploy-{VERSION}-py3-none-any.whl"


def test_twine_check_strict_passes_on_both(release: Release) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "check",
            "--strict",
            str(release.sdist),
            str(release.wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_the_wheel_carries_the_whole_package_and_nothing_else(release: Release) -> None:
    """Every file of src/ci_deploy (modules, schemas, py.typed, the emulator, the locks), the
    dist-info with the license, and nothing from tests/."""
    names = wheel_names(release)
    source = sorted(
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    assert source == sorted(name for name in names if name.startswith("ci_deploy/"))
    for needed in [
        "ci_deploy/py.typed",
        "ci_deploy/schemas/appspec-server.schema.json",
        "ci_deploy/emulator/__init__.py",
        "ci_deploy/lock/runtime.txt",
        "ci_deploy/lock/emulator.txt",
    ]:
        assert needed in names
    dist_info = f"ci_deploy-{VERSION}.dist-info/"
    assert {name.split("/")[0] + "/" for name in names} == {"ci_deploy/", dist_info}
    assert f"{dist_info}licenses/LICENSE" in names
    with zipfile.ZipFile(release.wheel) as wheel:
        entry_points = wheel.read(f"{dist_info}entry_points.txt").decode()
    assert "[console_scripts]\nci-deploy = ci_deploy.cli:main\n" in entry_points


def test_the_sdist_is_the_package_source_with_its_license_and_locks(release: Release) -> None:
    with tarfile.open(release.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in [
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "src/ci_deploy/cli.py",
        "src/ci_deploy/lock/runtime.txt",
        "src/ci_deploy/lock/emulator.txt",
    ]:
        assert needed in names
    assert not [name for name in names if name.startswith("tests")]


def test_the_metadata_has_what_a_package_index_page_shows(release: Release) -> None:
    meta = metadata(release)
    assert meta["Name"] == "ci-deploy"
    assert meta["Version"] == VERSION
    assert meta["Summary"] == PYPROJECT["project"]["description"]
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["License-File"] == "LICENSE"
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().startswith("# ")  # the README as the long description
    urls = dict(value.split(", ", 1) for value in meta.get_all("Project-URL", []))
    assert set(urls) >= {"Homepage", "Documentation", "Changelog", "Issues"}
    home = PYPROJECT["project"]["urls"]["Homepage"]
    assert all(url.startswith(home) for url in urls.values()), urls
    classifiers = meta.get_all("Classifier", [])
    for minor in range(10, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Typing :: Typed" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # the expression says it
    assert {"aws", "codedeploy"} <= set(meta["Keywords"].split(","))
    assert "emulator" in meta.get_all("Provides-Extra", [])
    assert 'moto[s3,server]>=5.0; extra == "emulator"' in meta.get_all("Requires-Dist", [])


# ---------------------------------------------------------------------------------------------
# The locks


def lock_entries(text: str) -> list[tuple[Requirement, list[str], list[str]]]:
    """Each entry of a lock: its pinned requirement, its hashes and what it is required by."""
    entries = []
    for block in re.split(r"\n(?=[a-z0-9])", text):
        lines = block.splitlines()
        if not lines or not re.match(r"[a-z0-9]", lines[0]):
            continue
        requirement = Requirement(lines[0].rstrip(" \\"))
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        via = [
            line.strip("# ").removeprefix("via").strip()
            for line in lines[1:]
            if line.lstrip().startswith("#")
        ]
        entries.append((requirement, hashes, [name for name in via if name]))
    return entries


def pins(text: str) -> dict[str, list[tuple[Version, Marker | None]]]:
    found: dict[str, list[tuple[Version, Marker | None]]] = {}
    for requirement, _, _ in lock_entries(text):
        [spec] = requirement.specifier
        assert spec.operator == "==", requirement
        found.setdefault(canonicalize_name(requirement.name), []).append(
            (Version(spec.version), requirement.marker)
        )
    return found


def wanted(extra: str | None) -> list[Requirement]:
    project = PYPROJECT["project"]
    listed = list(project["dependencies"])
    if extra:
        listed += project["optional-dependencies"][extra]
    return [Requirement(text) for text in listed]


def lock_problems(text: str, requirements: list[Requirement]) -> list[str]:
    """What keeps the lock ``text`` from satisfying ``requirements`` (pyproject.toml's), read
    without resolving: each requirement pinned at versions it accepts, and every entry the lock
    says pyproject.toml asked for is still asked for."""
    problems = []
    pinned = pins(text)
    names = {canonicalize_name(requirement.name) for requirement in requirements}
    for requirement in requirements:
        versions = pinned.get(canonicalize_name(requirement.name))
        if not versions:
            problems.append(f"{requirement} is not in the lock")
            continue
        for version, _ in versions:
            if not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{requirement} does not accept the lock's {version}")
    for requirement, _, via in lock_entries(text):
        asked = "ci-deploy (pyproject.toml)" in via
        if asked and canonicalize_name(requirement.name) not in names:
            problems.append(
                f"{requirement.name} is locked for pyproject.toml, which no longer asks"
            )
    return problems


LOCK_FILES = {"runtime": None, "emulator": "emulator"}


@pytest.mark.parametrize(("name", "extra"), LOCK_FILES.items())
def test_the_lock_satisfies_pyproject_toml(name: str, extra: str | None) -> None:
    text = (LOCKS / f"{name}.txt").read_text(encoding="utf-8")
    assert lock_problems(text, wanted(extra)) == [], "run scripts/lock (docs/releasing.md)"


def test_the_check_catches_a_lock_that_no_longer_satisfies_pyproject_toml() -> None:
    text = (LOCKS / "runtime.txt").read_text(encoding="utf-8")
    requirements = wanted(None)
    tighter = [Requirement("boto3>=99") if r.name == "boto3" else r for r in requirements]
    assert lock_problems(text, tighter) == [
        "boto3>=99 does not accept the lock's " + str(pins(text)["boto3"][0][0])
    ]
    added = [*requirements, Requirement("rich>=13")]
    assert lock_problems(text, added) == ["rich>=13 is not in the lock"]
    dropped = [r for r in requirements if r.name != "pathspec"]
    assert lock_problems(text, dropped) == [
        "pathspec is locked for pyproject.toml, which no longer asks"
    ]


@pytest.mark.parametrize("name", LOCK_FILES)
def test_the_lock_is_a_universal_resolution_with_the_hash_of_every_file(name: str) -> None:
    """Made by scripts/lock: one resolution for Linux, macOS and Windows on Python 3.10 and
    later, every entry with hashes (a platform-specific project has one per platform's wheel)."""
    text = (LOCKS / f"{name}.txt").read_text(encoding="utf-8")
    assert text.startswith(
        "# This file was autogenerated by uv via the following command:\n"
        "#    scripts/lock (uv pip compile --universal --python-version 3.10 --generate-hashes)\n"
    )
    entries = lock_entries(text)
    assert entries
    for requirement, hashes, via in entries:
        assert hashes, requirement
        assert via, requirement
    platform_wheels = {
        str(r.name): len(h) for r, h, _ in entries if r.name in {"pyyaml", "zlib-ng"}
    }
    assert all(count > 20 for count in platform_wheels.values()), platform_wheels


def test_the_runtime_lock_pins_what_the_emulator_lock_pins() -> None:
    runtime = pins((LOCKS / "runtime.txt").read_text(encoding="utf-8"))
    emulator = pins((LOCKS / "emulator.txt").read_text(encoding="utf-8"))
    for name, versions in runtime.items():
        assert versions == emulator[name], name


# ---------------------------------------------------------------------------------------------
# The wheel, installed with its lock where the checkout cannot be seen


@pytest.fixture(scope="module")
def installed(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv of the base interpreter with the built wheel and the emulator extra,
    installed as the docs say: the lock inside the wheel with --require-hashes, then the wheel,
    every file from the wheelhouse (no index)."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    base = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base), "-m", "venv", str(venv)], check=True, timeout=300)
    lock = root / "emulator.txt"
    with zipfile.ZipFile(release.wheel) as wheel:
        lock.write_bytes(wheel.read("ci_deploy/lock/emulator.txt"))
    env = offline_pip_env([wheelhouse()])
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    for command in [
        [*pip, "install", "--quiet", "--require-hashes", "-r", str(lock)],
        [*pip, "install", "--quiet", "--no-deps", str(release.wheel)],
        [*pip, "check"],
    ]:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return venv


def run_installed(
    venv: Path, cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """ci-deploy from ``venv``, in ``cwd`` outside the checkout, with no PYTHONPATH, no AWS
    configuration and this checkout nowhere on PATH."""
    env = {name: value for name, value in offline_pip_env().items() if "AWS_" not in name}
    env.update(
        {
            "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(cwd),
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return subprocess.run(
        [str(venv / "bin" / "ci-deploy"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_installed_wheel_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    probe = "import ci_deploy, sys; print(ci_deploy.__file__); print(sys.path)"
    done = subprocess.run(
        [str(installed / "bin" / "python"), "-c", probe],
        cwd=tmp_path,
        env=offline_pip_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    location, path = done.stdout.splitlines()
    assert Path(location).is_relative_to(installed)
    assert str(REPO) not in path


def test_the_installed_wheel_runs_version_validate_and_a_deploy_to_the_emulator(
    installed: Path, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "examples" / "web-app", tmp_path / "web-app")
    version = run_installed(installed, tmp_path, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"ci-deploy {VERSION}"

    validated = run_installed(installed, tmp_path, "validate", "web-app")
    assert validated.returncode == 0, validated.stderr
    assert "web-app/appspec.yml: valid Server" in validated.stderr

    deployed = run_installed(
        installed,
        tmp_path,
        "deploy",
        "web-app",
        "--application",
        "web-app",
        "--deployment-group",
        "fleet",
        "--s3-location",
        "s3://web-app-revisions/release",
        "--emulator",
        "--region",
        "us-east-1",
        timeout=300,
    )
    assert deployed.returncode == 0, deployed.stderr
    result = json.loads(deployed.stdout)
    assert result["status"] == "Succeeded"
    assert re.fullmatch(r"d-[A-Z0-9]{9}", result["deployment_id"])
