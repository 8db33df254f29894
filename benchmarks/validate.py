"""Wall time of `ci-deploy validate` on a typical revision, side by side with `python -c pass`,
`import yaml` and `import boto3`, and proof (from `python -X importtime`) that validate never
imports boto3 or botocore.

Run: .venv/bin/python benchmarks/validate.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "validate"
TARGET_SECONDS = 0.3

APPSPEC = """\
version: 0.0
os: linux
files:
  - source: app
    destination: /srv/web
  - source: config/web.conf
    destination: /etc/web
file_exists_behavior: OVERWRITE
permissions:
  - object: /srv/web
    pattern: "**"
    owner: web
    group: web
    mode: "0755"
    type: [directory]
  - object: /srv/web/bin
    pattern: "*.sh"
    mode: "0750"
    type: [file]
hooks:
  ApplicationStop:
    - location: scripts/stop.sh
      timeout: 60
  BeforeInstall:
    - location: scripts/prepare.sh
      timeout: 120
  AfterInstall:
    - location: scripts/migrate.sh
      timeout: 900
      runas: web
  ApplicationStart:
    - location: scripts/start.sh
      timeout: 120
  ValidateService:
    - location: scripts/check.sh
      timeout: 300
"""


def build_revision() -> Path:
    """A web app revision: the appspec, five hook scripts, a config file and 300 app files."""
    revision = WORK / "revision"
    if revision.exists():
        shutil.rmtree(revision)
    (revision / "scripts").mkdir(parents=True)
    (revision / "config").mkdir()
    (revision / "appspec.yml").write_text(APPSPEC)
    for name in ("stop", "prepare", "migrate", "start", "check"):
        script = revision / "scripts" / f"{name}.sh"
        script.write_text("#!/bin/sh\nset -eu\necho ok\n")
        script.chmod(0o755)
    (revision / "config" / "web.conf").write_text("port=8080\n")
    for index in range(300):
        page = revision / "app" / f"section{index % 10}" / f"page{index}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<h1>page {index}</h1>\n" * 20)
    return revision


def median_wall(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median wall seconds of each command, runs alternating so load drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def imported_modules(argv: list[str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, check=False
    )
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    revision = build_revision()
    python = sys.executable
    validate = [python, "-m", "ci_deploy", "validate", str(revision)]
    check = subprocess.run(validate, capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise SystemExit(f"the benchmark revision does not validate:\n{check.stderr}")

    medians = median_wall(
        {
            "python -c pass": [python, "-c", "pass"],
            "python -c 'import yaml'": [python, "-c", "import yaml"],
            "python -c 'import boto3'": [python, "-c", "import boto3"],
            "ci-deploy validate REVISION": validate,
        },
        runs,
    )
    base = medians["python -c pass"]
    boto3 = medians["python -c 'import boto3'"]
    print(f"median wall of {runs} alternating runs (revision: 1 appspec, 5 hooks, 300 files)")
    print(f"{'command':32} {'wall':>8} {'vs pass':>8} {'vs boto3':>9}")
    for name, seconds in medians.items():
        print(f"{name:32} {seconds:7.3f}s {seconds / base:7.2f}x {seconds / boto3:8.2f}x")

    modules = imported_modules(["-m", "ci_deploy", "validate", str(revision)])
    aws = sorted(
        name for name in modules if name.split(".")[0] in ("boto3", "botocore", "s3transfer")
    )
    wall = medians["ci-deploy validate REVISION"]
    print(
        f"modules imported by validate: {len(modules)}; boto3/botocore/s3transfer among them: "
        f"{aws or 'none'}"
    )
    print(
        f"target: under {TARGET_SECONDS:.1f}s wall -> "
        f"{'met' if wall < TARGET_SECONDS else 'MISSED'} ({wall:.3f}s)"
    )


if __name__ == "__main__":
    main()
