"""The install the GitLab template and the Jenkins step share (install_ci_deploy in their scripts;
tests/test_jenkins.py holds the step's copy to the template's): a pinned ci-deploy release from
the package index, its dependencies hash-checked against a lock. Run by sh against a package index
on 127.0.0.1 serving the built release and the wheelhouse: every bad input fails with exit code 2
and a message naming the input to fix, and leaves no environment behind."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import ci_deploy
from package_index import PackageIndex, Release

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "gitlab" / "ci-deploy.yml"
VERSION = ci_deploy.__version__
RUNNER_PATH = f"{Path(sys.base_prefix) / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"

pytestmark = pytest.mark.adapter


def install_function() -> str:
    """install_ci_deploy and its helpers, as the template's job script defines them."""
    [_, body] = list(yaml.safe_load_all(TEMPLATE.read_text(encoding="utf-8")))
    script = "\n".join(body["$[[ inputs.as ]]"]["script"])
    start = script.index("# install_ci_deploy VENV")
    return script[start : script.index("# Find or install the CLI", start)]


@dataclass
class Installed:
    done: subprocess.CompletedProcess[str]
    venv: Path
    tmp: Path

    @property
    def error(self) -> str:
        """The one message line of install_ci_deploy (pip's output comes before it)."""
        lines = [line for line in self.done.stderr.splitlines() if line.startswith("ci-deploy:")]
        assert len(lines) == 1, self.done.stderr
        return lines[0]

    def assert_nothing_left(self) -> None:
        """No environment a later job would take for an install, no temporary files."""
        assert not self.venv.exists()
        assert list(self.tmp.iterdir()) == []


def install(
    tmp_path: Path,
    index: PackageIndex,
    *,
    package: str = f"ci-deploy=={VERSION}",
    lock: str = "release",
    extra: str = "",
    path: str = RUNNER_PATH,
) -> Installed:
    """install_ci_deploy VENV PACKAGE LOCK INDEX EXTRA under sh, pip reading no configuration of
    this machine, as a job of the template with these inputs would."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    venv = tmp_path / "venv"
    script = (
        install_function()
        + 'package_input="input cli_package" lock_input="input cli_lock"'
        + ' index_input="input cli_index_url"\n'
        + 'install_ci_deploy "$@"\n'
    )
    env = {
        "PATH": path,
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_CACHE_DIR": str(tmp_path / "pip-cache"),
    }
    done = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(venv), package, lock, index.url, extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return Installed(done, venv, tmp)


def the_lock(name: str = "runtime") -> str:
    return (REPO / "src" / "ci_deploy" / "lock" / f"{name}.txt").read_text(encoding="utf-8")


def entry(lock: str, name: str) -> str:
    """The entry of package ``name`` in ``lock``: its requirement line, hashes and comments."""
    found = re.search(rf"^{re.escape(name)}==.*?(?=^\S)", lock, flags=re.MULTILINE | re.DOTALL)
    assert found, name
    return found.group(0)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my.lock"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_release_the_index_does_not_have_is_bad_input_naming_cli_package(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    run = install(tmp_path, package_index, package="ci-deploy==9.9.9")
    assert run.done.returncode == 2, run.done.stderr
    assert run.error == (
        f"ci-deploy: error: input cli_package: the package index ({package_index.url}) has no "
        "ci-deploy==9.9.9; name a released version (pip lists the versions it found above)"
    )
    assert f"(from versions: {VERSION})" in run.done.stderr
    run.assert_nothing_left()


def test_a_lock_missing_a_dependency_is_bad_input_naming_cli_lock(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    lock = the_lock()
    lock = write(tmp_path, lock.replace(entry(lock, "pathspec"), ""))
    run = install(tmp_path, package_index, lock=str(lock))
    assert run.done.returncode == 2, run.done.stderr
    assert run.error == (
        "ci-deploy: error: input cli_lock: the lock does not satisfy the requirements of "
        f"ci_deploy-{VERSION}-py3-none-any.whl with the lock {lock} (pip says which above); "
        "use the release's lock (release) or one made for this release by scripts/lock"
    )
    assert "pathspec" in run.done.stderr  # pip names what the lock lacks
    run.assert_nothing_left()


def test_a_lock_pinning_a_version_the_release_does_not_accept_is_bad_input(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    """pyproject.toml asks for PyYAML>=6.0; a lock made for something else pins 5.4.1."""
    lock = the_lock()
    pinned = entry(lock, "pyyaml")
    lock = write(tmp_path, lock.replace(pinned, re.sub(r"^pyyaml==\S+", "pyyaml==5.4.1", pinned)))
    assert "\npyyaml==5.4.1 \\\n" in lock.read_text()
    run = install(tmp_path, package_index, lock=str(lock))
    assert run.done.returncode == 2, run.done.stderr
    assert run.error.startswith("ci-deploy: error: input cli_lock: the lock does not satisfy ")
    assert "pyyaml" in run.done.stderr.lower()
    run.assert_nothing_left()


def test_a_file_whose_hash_is_not_the_lock_s_is_bad_input_naming_cli_lock(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    """The index serves another boto3 file than the one the lock was made from."""
    lock = the_lock()
    pinned = entry(lock, "boto3")
    forged = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, pinned)
    lock = write(tmp_path, lock.replace(pinned, forged))
    run = install(tmp_path, package_index, lock=str(lock))
    assert run.done.returncode == 2, run.done.stderr
    assert run.error == (
        "ci-deploy: error: input cli_lock: a file from the package index does not match its hash "
        "in the lock (pip names it above): the index (input cli_index_url) serves other files "
        "than the lock was made from; use an index with those files, or a lock made against "
        "this one"
    )
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in run.done.stderr
    assert "boto3" in run.done.stderr
    run.assert_nothing_left()


def test_a_lock_file_that_does_not_exist_is_bad_input(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    run = install(tmp_path, package_index, lock="ci/requirements.lock")
    assert run.done.returncode == 2, run.done.stderr
    assert run.error == (
        "ci-deploy: error: input cli_lock: no file ci/requirements.lock; give release, a lock "
        "file, an https:// URL of one, or nothing"
    )
    run.assert_nothing_left()


def test_a_release_without_a_lock_inside_is_bad_input(
    tmp_path: Path, package_index: PackageIndex, release: Release
) -> None:
    """A release made before the locks shipped: lock: release has nothing to read."""
    older = tmp_path / "older" / release.wheel.name
    older.parent.mkdir()
    with zipfile.ZipFile(release.wheel) as source, zipfile.ZipFile(older, "w") as copy:
        for item in source.infolist():
            if not item.filename.startswith("ci_deploy/lock/"):
                copy.writestr(item, source.read(item))
    run = install(tmp_path, package_index, package=str(older))
    assert run.done.returncode == 2, run.done.stderr
    assert run.error == (
        f"ci-deploy: error: input cli_lock: {older.name} has no lock (runtime.txt) inside; set "
        "input cli_lock to a lock made for it by scripts/lock, or empty for none"
    )
    run.assert_nothing_left()


def test_without_python_3_10_on_path_the_install_says_so(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("mktemp", "rm"):
        found = shutil.which(name)
        assert found
        (tools / name).symlink_to(found)
    run = install(tmp_path, package_index, path=str(tools))
    assert run.done.returncode == 2, run.done.stderr
    assert run.error == (
        "ci-deploy: error: installing ci-deploy needs Python 3.10 or newer as python3 on PATH; "
        "install it, or put ci-deploy on PATH"
    )
    run.assert_nothing_left()


def test_the_emulator_extra_installs_from_the_release_s_emulator_lock(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    package_index.forget()
    run = install(tmp_path, package_index, extra="emulator")
    assert run.done.returncode == 0, run.done.stderr
    assert re.fullmatch(
        rf"Installed ci-deploy {re.escape(VERSION)} \(dependencies checked against the lock "
        r"release\) in \d+s\n",
        run.done.stderr,
    )
    python = run.venv / "bin" / "python"
    probe = "import ci_deploy, moto; print(ci_deploy.__file__)"
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert Path(done.stdout.strip()).is_relative_to(run.venv)
    assert any(name.startswith("moto-") for name in package_index.downloads())
    assert list(run.tmp.iterdir()) == []  # the temporary files went; the environment stays
    assert not (run.venv / "bin" / "pip").exists()  # the image's pip installed into it


def test_an_image_without_a_recent_pip_gets_one_in_the_environment(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    """The image's pip installs into the new environment when it is 22.3 or later; an image
    whose python3 has no such pip (a Debian python3 without python3-pip) gets the
    environment's own pip from ensurepip instead."""
    image = tmp_path / "image-bin"
    image.mkdir()
    real = Path(sys.base_prefix) / "bin" / "python3"
    (image / "python3").write_text(
        "#!/bin/sh\n"
        "# python3 of an image whose pip is missing: `import pip` fails\n"
        'case "$2" in *"import sys, pip"*) exit 1 ;; esac\n'
        f'exec {real} "$@"\n'
    )
    (image / "python3").chmod(0o755)
    run = install(tmp_path, package_index, path=f"{image}{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert run.done.returncode == 0, run.done.stderr
    assert run.done.stderr.startswith(f"Installed ci-deploy {VERSION} ")
    assert (run.venv / "bin" / "pip").exists()  # its own, from ensurepip
