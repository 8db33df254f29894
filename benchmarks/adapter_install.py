"""How long the GitLab and Jenkins adapters take to install ci-deploy on a runner without it,
side by side:

- ``source archive``: what they did before releases, a venv then ``pip install "ci-deploy @
  <the tag's source archive>"``: pip resolves the dependencies afresh (unpinned) and builds the
  archive (an isolated build environment with the build backend);
- ``pinned + lock``: what they do now, install_ci_deploy of the GitLab template (the same text
  as the Jenkins step's): ``ci-deploy==X.Y.Z`` from the index, its dependencies from the lock
  inside the wheel, every hash checked;
- ``pip cache hit``: the same again with pip's cache of the first run (a GitLab pipeline after
  the first: its ``cache:`` keeps .ci-deploy-cache/), into a fresh venv;
- ``venv cache hit``: the Jenkins step's next build, its venv kept in the workspace's tmp dir.

Everything is served by a package index on 127.0.0.1 (the built wheel, the files the locks pin,
the build backend and the source archive), so the figures compare the installs, not a network:
over a real network the source archive's resolution, with its many index requests, costs more.
Each path starts with an empty pip cache (a fresh runner) unless it says otherwise; each runs
``--runs`` times, the median is printed with its ratio to ``source archive``.

Run: .venv/bin/python benchmarks/adapter_install.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import ci_deploy  # noqa: E402 - after the path set-up, like the helpers
from package_index import build_release, serve_index, wheelhouse  # noqa: E402

PYTHON = Path(sys.base_prefix) / "bin" / "python3"
VERSION = ci_deploy.__version__


def install_function() -> str:
    """install_ci_deploy as the GitLab template's job script defines it."""
    template = (REPO / "gitlab" / "ci-deploy.yml").read_text(encoding="utf-8")
    [_, body] = list(yaml.safe_load_all(template))
    script = "\n".join(body["$[[ inputs.as ]]"]["script"])
    start = script.index("# install_ci_deploy VENV")
    return script[start : script.index("# Find or install the CLI", start)]


def source_archive(source: Path, out: Path) -> Path:
    """The tag's source archive, as the forge serves it: the tree under ci-deploy-X.Y.Z/."""
    out.mkdir()
    archive = out / f"v{VERSION}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=f"ci-deploy-{VERSION}")
    return archive


def runner_env(root: Path, index_url: str, cache: Path) -> dict[str, str]:
    """A runner's environment: its Python, no pip configuration but the index."""
    return {
        "PATH": f"{PYTHON.parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "TMPDIR": str(root),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_INDEX_URL": index_url,
        "PIP_TRUSTED_HOST": index_url.split("/")[2],  # pip caches a plain-http index only so
        "PIP_CACHE_DIR": str(cache),
    }


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stdout}{done.stderr}")
    return elapsed


def old_way(root: Path, index_url: str, archive_url: str) -> float:
    venv = root / "venv"
    shell = (
        f'"{PYTHON}" -m venv "{venv}" && '
        f'"{venv}/bin/python" -m pip install --quiet "ci-deploy @ {archive_url}"'
    )
    return timed(["/bin/sh", "-c", shell], runner_env(root, index_url, root / "pip-cache"))


def new_way(root: Path, index_url: str, cache: Path, venv: Path) -> float:
    script = (
        install_function()
        + 'package_input="input cli_package" lock_input="input cli_lock"'
        + ' index_input="input cli_index_url"\n'
        + f'install_ci_deploy "$1" "ci-deploy=={VERSION}" release "" ""\n'
    )
    return timed(["/bin/sh", "-c", script, "sh", str(venv)], runner_env(root, index_url, cache))


def venv_kept(root: Path, venv: Path) -> float:
    """The Jenkins step's check of its kept venv: the executable is there and runs."""
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "LANG": "C.UTF-8"}
    return timed([str(venv / "bin" / "ci-deploy"), "--version"], env)


def measure(runs: int, work: Path) -> dict[str, float]:
    release = build_release(work / "release")
    archive = source_archive(work / "release" / "source", work / "archive")
    results: dict[str, list[float]] = {}
    with serve_index([release.directory, wheelhouse(), archive.parent]) as index:
        archive_url = index.url.replace("/simple/", f"/files/{archive.name}")

        def pip_cache_hit(root: Path) -> float:
            new_way(root, index.url, root / "cache", root / "first")
            return new_way(root, index.url, root / "cache", root / "second")

        def venv_cache_hit(root: Path) -> float:
            new_way(root, index.url, root / "cache", root / "kept")
            return venv_kept(root, root / "kept")

        paths: dict[str, Callable[[Path], float]] = {
            "source archive": lambda root: old_way(root, index.url, archive_url),
            "pinned + lock": lambda root: new_way(root, index.url, root / "cache", root / "v"),
            "pip cache hit": pip_cache_hit,
            "venv cache hit": venv_cache_hit,
        }
        # Round after round, each path once a round: a busy machine slows them alike.
        for round_number in range(1, runs + 1):
            for name, run in paths.items():
                with tempfile.TemporaryDirectory(dir=work) as tmp:
                    results.setdefault(name, []).append(run(Path(tmp)))
            figures = ", ".join(f"{name} {times[-1]:.2f} s" for name, times in results.items())
            print(f"  round {round_number}: {figures}", flush=True)
    return {name: statistics.median(times) for name, times in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = REPO / "benchmarks" / ".work" / "adapter_install"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"ci-deploy {VERSION}, Python {sys.version.split()[0]}, median of {args.runs} runs:")
    try:
        results = measure(args.runs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nmedian:")
    for name, seconds in results.items():
        print(f"  {name:>15}: {seconds:6.2f} s")
    base = results["source archive"]
    fresh = results["pinned + lock"]
    print("\nratio to source archive (lower is faster; target for pinned + lock: <= 0.50):")
    for name, seconds in results.items():
        print(f"  {name:>15}: {seconds / base:5.2f}")
    print("\nratio to a fresh pinned + lock install:")
    for name in ("pip cache hit", "venv cache hit"):
        print(f"  {name:>15}: {results[name] / fresh:5.2f}")


if __name__ == "__main__":
    main()
