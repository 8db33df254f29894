"""What the GitLab template's quiet Code Quality pass costs a deployment job, side by side:

- ``deploy``: the job's one call, ``ci-deploy deploy examples/web-app`` against the emulator;
- ``validate + deploy``: what the template runs, ``ci-deploy validate --format gitlab`` (the
  Code Quality report) and then the same call;
- ``validate``: the pass alone.

Alternating runs against one emulator started here (3 instances, hooks run for real); medians,
printed as ratios to ``deploy``.

Run: .venv/bin/python benchmarks/gitlab_template.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3

from ci_deploy.emulator import start

REPO = Path(__file__).resolve().parent.parent
CI_DEPLOY = str(Path(sys.executable).with_name("ci-deploy"))
SOURCE = REPO / "examples" / "web-app"


def timed(commands: list[list[str]], env: dict[str, str]) -> float:
    started = time.perf_counter()
    for command in commands:
        with open(os.devnull, "w") as sink:
            subprocess.run(command, env=env, check=True, stdout=sink, stderr=sink)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as state:
        emulator = start(port=0, instances=3, state_dir=Path(state), hook_env=dict(os.environ))
        try:
            name = f"bench-{uuid.uuid4().hex[:8]}"
            settings = {
                "endpoint_url": emulator.endpoint_url,
                "region_name": "us-east-1",
                "aws_access_key_id": "emulator",
                "aws_secret_access_key": "emulator",
            }
            codedeploy = boto3.client("codedeploy", **settings)
            codedeploy.create_application(applicationName=name, computePlatform="Server")
            codedeploy.create_deployment_group(
                applicationName=name,
                deploymentGroupName="fleet",
                serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
            )
            boto3.client("s3", **settings).create_bucket(Bucket=name)
            env = {
                **os.environ,
                **emulator.client_env(),
                "CI_DEPLOY_CI_SYSTEM": "gitlab",
                "CI_DEPLOY_SOURCE": str(SOURCE),
                "CI_DEPLOY_APPLICATION": name,
                "CI_DEPLOY_DEPLOYMENT_GROUP": "fleet",
                "CI_DEPLOY_S3_LOCATION": f"s3://{name}/bundles",
                "CI_DEPLOY_ENDPOINT_URL": emulator.endpoint_url,
            }
            validate = [CI_DEPLOY, "validate", "--format", "gitlab"]
            deploy = [CI_DEPLOY, "deploy"]
            variants = {
                "deploy": [deploy],
                "validate + deploy": [validate, deploy],
                "validate": [validate],
            }
            timed([deploy], env)  # warm-up: first bundle upload, page cache
            times: dict[str, list[float]] = {label: [] for label in variants}
            for _ in range(runs):
                for label, commands in variants.items():
                    times[label].append(timed(commands, env))
        finally:
            emulator.stop()
    base = statistics.median(times["deploy"])
    print(f"{'variant':<20} {'median s':>9} {'vs deploy':>10}   ({runs} runs each, alternating)")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:<20} {median:>9.3f} {median / base:>10.2f}")


if __name__ == "__main__":
    main()
