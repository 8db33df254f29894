"""Runs pipeline snippets against the Jenkins shared library (jenkins/vars/) in one Groovy 2.4
JVM, with the pipeline steps stubbed (tests/jenkins/run_pipelines.groovy), and reads a step's
defaultConfig the way its own code turns values into environment text."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "jenkins"
HARNESS = ROOT / "tests" / "jenkins"
HELP = LIBRARY / "vars" / "ciDeploy.txt"


@dataclass
class Build:
    """One build of a pipeline snippet: `params` reach it as Jenkins build parameters."""

    name: str
    workspace: Path
    pipeline: str
    env: dict[str, str | None] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.workspace.parent / f"{self.name}.log"

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workspace": str(self.workspace),
            "log": str(self.log_path),
            "env": self.env,
            "params": self.params,
            "pipeline": self.pipeline,
        }


def groovy_command(spec_path: Path, results_path: Path) -> list[str]:
    groovy = shutil.which("groovy")
    assert groovy, "groovy is missing: scripts/install-tools installs it"
    return [
        groovy,
        "-cp",
        str(HARNESS / "lib"),
        str(HARNESS / "run_pipelines.groovy"),
        str(spec_path),
        str(results_path),
    ]


def groovy_env() -> dict[str, str]:
    # A short-lived JVM: skip the optimising compiler, start-up dominates.
    return {**os.environ, "JAVA_OPTS": "-XX:TieredStopAtLevel=1 -Xshare:auto"}


def write_spec(directory: Path, builds: list[Build], describe: str | None) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    spec_path = directory / "spec.json"
    spec = {"library": str(LIBRARY), "describe": describe, "builds": [b.spec() for b in builds]}
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    return spec_path, directory / "results.json"


def run_pipelines(
    directory: Path, builds: list[Build], describe: str | None = None, timeout: float = 120
) -> dict[str, Any]:
    """Runs the builds in one Groovy JVM; the JVM itself must finish cleanly and silently."""
    spec_path, results_path = write_spec(directory, builds, describe)
    done = subprocess.run(
        groovy_command(spec_path, results_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=groovy_env(),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # no JVM warnings in the test output
    results: dict[str, Any] = json.loads(results_path.read_text(encoding="utf-8"))
    return results


def sync_keys() -> Any:
    """tests/jenkins/sync_keys.py, the script that writes the keys from the input table: its
    renderings of a key's type, default and description are what the step and its help hold."""
    spec = importlib.util.spec_from_file_location("sync_keys", HARNESS / "sync_keys.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def help_keys(names: list[str] | None = None) -> dict[str, tuple[str, str, str]]:
    """The help file's KEYS section: name -> (type, default, description)."""
    text = HELP.read_text(encoding="utf-8").split("\nKEYS ", 1)[1]
    found: dict[str, tuple[str, str, str]] = {}
    for match in re.finditer(r"^(\w+) \(([^,]+), default: (.*)\)\n((?:    .*\n?)+)", text, re.M):
        description = " ".join(line.strip() for line in match.group(4).splitlines())
        found[match.group(1)] = (match.group(2), match.group(3), description)
    if names is not None:
        return {name: found[name] for name in names}
    return found
