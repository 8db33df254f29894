"""How long the GitHub Action takes to install ci-deploy on a runner without it, side by side:

- ``venv + pip``: ``python -m venv`` then ``pip install <action source>`` (the fallback);
- ``pip→uv``: ``pip install --target uv`` then ``uv venv`` + ``uv pip install`` (what the action
  did on a runner without uv before it installed from its lock: uv itself was unpinned);
- ``uv``: ``uv venv`` + ``uv pip install`` with uv already on the runner;
- ``action step``: the action's own steps run by tests/github_harness.py (on a runner without uv:
  the runner's pip, the lock's dependencies with their hashes, then the action's source);
- ``cache hit``: the action's steps again, reusing the environment as a restored cache would.

Each path starts with empty pip and uv caches (a fresh hosted runner), one run each, printed as
ratios to ``venv + pip``. Needs the package registry.

Run: .venv/bin/python benchmarks/action_install.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from github_harness import ActionHarness  # noqa: E402 - the harness lives with the tests

PYTHON = Path(sys.base_prefix) / "bin" / "python3"


def action_copy(root: Path) -> Path:
    action = root / "action"
    action.mkdir()
    for name in ("action.yml", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, action / name)
    shutil.copytree(
        REPO / "src", action / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return action


def fresh_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "CI_DEPLOY_"))}
    env["PIP_CACHE_DIR"] = str(root / "pip-cache")
    env["UV_CACHE_DIR"] = str(root / "uv-cache")
    env["PATH"] = f"{PYTHON.parent}:/usr/bin:/bin"
    return env


def timed(commands: list[list[str]], env: dict[str, str]) -> float:
    started = time.perf_counter()
    for command in commands:
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def venv_pip(root: Path, action: Path) -> float:
    venv = root / "venv"
    return timed(
        [
            [str(PYTHON), "-m", "venv", str(venv)],
            [str(venv / "bin/python"), "-m", "pip", "install", "-q", str(action)],
        ],
        fresh_env(root),
    )


def uv_install(uv: Path, venv: Path, action: Path) -> list[list[str]]:
    """The action's uv commands: a venv, then the action's source into it."""
    return [
        [str(uv), "venv", "-q", "--python", str(PYTHON), str(venv)],
        [
            *(str(uv), "pip", "install", "-q", "--python", str(venv / "bin/python")),
            *("--compile-bytecode", str(action)),
        ],
    ]


def pip_then_uv(root: Path, action: Path) -> float:
    uv = root / "uv-bootstrap" / "bin" / "uv"
    venv = root / "venv"
    return timed(
        [
            [str(PYTHON), "-m", "pip", "install", "-q", "--target", str(uv.parent.parent), "uv"],
            *uv_install(uv, venv, action),
        ],
        fresh_env(root),
    )


def uv_present(root: Path, action: Path) -> float:
    bootstrap = root / "uv-bootstrap"
    env = fresh_env(root)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "-q", "--target", str(bootstrap), "uv"],
        env=env,
        check=True,
    )
    uv = bootstrap / "bin" / "uv"
    venv = root / "venv"
    return timed(uv_install(uv, venv, action), env)


def action_steps(root: Path, action: Path) -> tuple[float, float]:
    workspace = root / "workspace"
    temp = root / "runner-temp"
    workspace.mkdir()
    temp.mkdir()
    shutil.copytree(REPO / "examples" / "web-app", workspace / "app")
    harness = ActionHarness(action, workspace, temp, fresh_env(root))
    inputs = {"command": "validate", "source": "app"}
    started = time.perf_counter()
    first = harness.run(inputs, timeout_seconds=600)
    cold = time.perf_counter() - started
    assert first.exit_code == 0, first.log
    print("   ", first.steps[2].stdout.strip())
    started = time.perf_counter()
    second = harness.run(inputs, timeout_seconds=120)
    warm = time.perf_counter() - started
    assert second.exit_code == 0, second.log
    return cold, warm


def main() -> None:
    results: dict[str, float] = {}
    for name, method in (("venv + pip", venv_pip), ("pip→uv", pip_then_uv), ("uv", uv_present)):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            results[name] = method(root, action_copy(root))
        print(f"{name:>12}: {results[name]:6.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cold, warm = action_steps(root, action_copy(root))
    results["action step"] = cold
    results["cache hit"] = warm
    print(f"{'action step':>12}: {cold:6.2f} s (all steps + validate)")
    print(f"{'cache hit':>12}: {warm:6.2f} s (all steps + validate)")
    base = results["venv + pip"]
    print("\nratio to venv + pip (lower is faster):")
    for name, seconds in results.items():
        print(f"{name:>12}: {seconds / base:5.2f}")


if __name__ == "__main__":
    main()
