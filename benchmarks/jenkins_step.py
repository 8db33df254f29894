"""What the Jenkins step `ciDeploy` costs on top of calling ci-deploy, and what its install cache
saves, side by side in one Groovy JVM (tests/jenkins/run_pipelines.groovy, steps stubbed, `sh`
running real shells):

- ``bare sh``: ``sh 'ci-deploy validate "$SOURCE"'`` with ci-deploy on PATH (the baseline);
- ``step, CLI on PATH``: ``ciDeploy(command: 'validate', source: ...)``, same CLI;
- ``step, first build``: no ci-deploy on PATH, so the step installs it (the default
  installCommand, ``python3 -m venv`` + ``pip install``, of this checkout instead of the release)
  into the workspace's tmp dir, then validates;
- ``step, next build``: the same workspace again: the cached venv is reused.

A warm-up build compiles the step first; then one run each, printed as ratios to ``bare sh``.
The install needs the package registry (pip builds the checkout and fetches its dependencies).

Run: .venv/bin/python benchmarks/jenkins_step.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HARNESS = REPO / "tests" / "jenkins"
SOURCE = REPO / "examples" / "web-app"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def checkout_copy(root: Path) -> Path:
    copy = root / "ci-deploy-src"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, copy / name)
    shutil.copytree(
        REPO / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return copy


def build(root: Path, name: str, workspace: str, pipeline: str, path: str) -> dict[str, object]:
    return {
        "name": name,
        "workspace": str(root / workspace),
        "log": str(root / f"{name}.log"),
        # The shells read SOURCE and CHECKOUT from the environment, the pipelines from params.
        "env": {
            "PATH": path,
            "PIP_CACHE_DIR": str(root / "pip-cache"),
            "SOURCE": str(SOURCE),
            "CHECKOUT": str(root / "ci-deploy-src"),
        },
        "params": {"SOURCE": str(SOURCE)},
        "pipeline": pipeline,
    }


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-jenkins-"))
    try:
        checkout_copy(root)
        on_path = f"{Path(sys.executable).parent}:{SYSTEM_PATH}"
        step = "ciDeploy(command: 'validate', source: params.SOURCE)"
        install = (
            "ciDeploy(command: 'validate', source: params.SOURCE, installCommand: "
            '\'python3 -m venv "$CI_DEPLOY_INSTALL_DIR" && '
            '"$CI_DEPLOY_INSTALL_DIR/bin/pip" install --quiet "$CHECKOUT"\')'
        )
        builds = [
            build(root, "warm-up", "ws-warm", step, on_path),
            build(root, "bare sh", "ws-bare", "sh 'ci-deploy validate \"$SOURCE\"'", on_path),
            build(root, "step, CLI on PATH", "ws-step", step, on_path),
            build(root, "step, first build", "ws-install", install, SYSTEM_PATH),
            build(root, "step, next build", "ws-install", install, SYSTEM_PATH),
        ]
        spec = root / "spec.json"
        spec.write_text(
            json.dumps({"library": str(REPO / "jenkins"), "describe": None, "builds": builds}),
            encoding="utf-8",
        )
        results_path = root / "results.json"
        subprocess.run(
            [
                "groovy",
                "-cp",
                str(HARNESS / "lib"),
                str(HARNESS / "run_pipelines.groovy"),
                str(spec),
                str(results_path),
            ],
            check=True,
            env={**os.environ, "JAVA_OPTS": "-XX:TieredStopAtLevel=1 -Xshare:auto"},
        )
        results = json.loads(results_path.read_text(encoding="utf-8"))["builds"]
        for name, outcome in results.items():
            if outcome["result"] != "SUCCESS":
                log = (root / f"{name}.log").read_text(encoding="utf-8")
                raise SystemExit(f"{name}: {outcome['result']}\n{log}")
        baseline = results["bare sh"]["seconds"]
        print(f"{'path':<22} {'seconds':>8} {'ratio':>8}")
        for name in ["bare sh", "step, CLI on PATH", "step, first build", "step, next build"]:
            seconds = results[name]["seconds"]
            print(f"{name:<22} {seconds:8.2f} {seconds / baseline:7.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
