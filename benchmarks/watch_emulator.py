"""CodeDeploy calls and CI log lines of one large deployment against the emulator, this tree's code
side by side with another revision's: a OneAtATime deployment of examples/web-app to 300
instances (`ci-deploy deploy --emulator --instances 300`, plain CI output).

Each run is a real `ci-deploy deploy` process (the package from this tree's src, or from
``--before``'s src exported with `git archive`); the figures are the result's own count of API
calls (deploy's CreateDeployment and friends included), its total seconds and the lines it
wrote on stderr. The emulator's pace depends on the machine, so calls per minute are printed too.

Run: .venv/bin/python benchmarks/watch_emulator.py [--before main] [--instances 300]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    label: str
    calls: int
    seconds: float
    lines: int

    @property
    def per_minute(self) -> float:
        return self.calls / (self.seconds / 60) if self.seconds else 0.0


def export_src(ref: str, into: Path) -> Path:
    """``ref``'s src directory, unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    tar_path = into / "src.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def deploy(label: str, src: Path, instances: int, workdir: Path) -> Run:
    env = {**os.environ, "PYTHONPATH": str(src)}
    for name in list(env):
        if name.startswith(("CI_DEPLOY_", "GITHUB_", "GITLAB_")) or name in ("CI", "JENKINS_URL"):
            del env[name]
    command = [
        sys.executable,
        "-m",
        "ci_deploy",
        "deploy",
        str(ROOT / "examples" / "web-app"),
        "--emulator",
        "--instances",
        str(instances),
        "--application",
        "web",
        "--deployment-group",
        "prod",
        "--s3-location",
        "s3://bench/web",
        "--deployment-config",
        "CodeDeployDefault.OneAtATime",
        "--ci-system",
        "plain",
    ]
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{label}: ci-deploy exited {done.returncode}:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    deployment = result["deployments"][0]
    return Run(
        label,
        calls=int(deployment["api"]["calls"]),
        seconds=float(result["timings"]["total_seconds"]),
        lines=len(done.stderr.splitlines()),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="main", help="git revision to compare with")
    parser.add_argument("--instances", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        before_src = export_src(args.before, work / "before")
        (work / "run").mkdir()
        runs = [
            deploy(f"before ({args.before})", before_src, args.instances, work / "run"),
            deploy("after (this tree)", ROOT / "src", args.instances, work / "run"),
        ]
    print(f"OneAtATime deployment of examples/web-app to {args.instances} emulated instances")
    print(f"{'code':<24} {'calls':>6} {'seconds':>8} {'calls/min':>10} {'stderr lines':>13}")
    for run in runs:
        print(
            f"{run.label:<24} {run.calls:>6} {run.seconds:>8.1f} {run.per_minute:>10.1f} "
            f"{run.lines:>13}"
        )
    before, after = runs
    print(
        f"ratio after / before: calls {after.calls / before.calls:.2f}, calls per minute "
        f"{after.per_minute / before.per_minute:.2f}, stderr lines {after.lines / before.lines:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
