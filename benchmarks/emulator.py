"""The emulator's speed and idleness, side by side:

- ``emulator, 50 instances``: one AllAtOnce deployment of a small revision (a file and a hook
  script) to a 50-instance group, over HTTP with boto3, from CreateDeployment to Succeeded
  (target: < 10 s on the project's 2-core machine);
- ``engine x50, serial``: the same 50 installs with the local engine called directly, one after
  another (what the emulator's scheduling and API add or save);
- ``emulator, 1 instance``: the same deployment to a one-instance group (the fixed cost);
- ``emulator, blue/green 50+50``: a second blue/green deployment to a 50-instance group: 50
  replacement instances install the revision, then the 50 originals run the previous revision's
  BeforeBlockTraffic hook for real (no install there);
- idle CPU: a ``ci-deploy emulator`` process's CPU time over a few idle seconds, next to the
  same measure for a process that only sleeps.

One run each, printed as ratios. Run: .venv/bin/python benchmarks/emulator.py
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3

from ci_deploy.agent import DeploymentSpec, run_deployment
from ci_deploy.emulator import start
from ci_deploy.events import discard

ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"
APPSPEC = """version: 0.0
os: linux
files:
  - source: site
    destination: /srv/site
hooks:
  AfterInstall:
    - location: hooks/after.sh
  BeforeBlockTraffic:
    - location: hooks/after.sh
"""
IDLE_SECONDS = 5.0


def small_revision() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("appspec.yml", APPSPEC)
        for n in range(5):
            archive.writestr(f"site/page{n}.html", f"<p>page {n}</p>\n" * 20)
        hook = zipfile.ZipInfo("hooks/after.sh")
        hook.external_attr = 0o755 << 16
        archive.writestr(
            hook, '#!/bin/sh\ntest -f "$CI_DEPLOY_EMULATOR_ROOT/srv/site/page0.html"\n'
        )
    return buffer.getvalue()


def emulator_deployment(instances: int, bundle: bytes, *, blue_green: bool = False) -> float:
    """Seconds from CreateDeployment to Succeeded (blue/green: of the group's second one)."""
    with (
        tempfile.TemporaryDirectory() as state,
        start(state_dir=Path(state), instances=0, hook_env=dict(os.environ)) as running,
    ):
        settings = {
            "endpoint_url": running.endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "x",
            "aws_secret_access_key": "x",
        }
        s3 = boto3.client("s3", **settings)
        cd = boto3.client("codedeploy", **settings)
        # The fleet is what the group's EC2 tag filter selects, as on AWS (a role of this run's
        # own: emulators in one process share moto's EC2).
        role = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("ec2", **settings).run_instances(
            ImageId="ami-12c6146b",
            MinCount=instances,
            MaxCount=instances,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": role}]}
            ],
        )
        s3.create_bucket(Bucket="bench")
        etag = s3.put_object(Bucket="bench", Key="site.zip", Body=bundle)["ETag"]
        cd.create_application(applicationName="bench")
        cd.create_deployment_group(
            applicationName="bench",
            deploymentGroupName="fleet",
            serviceRoleArn=ROLE,
            deploymentConfigName="CodeDeployDefault.AllAtOnce",
            ec2TagFilters=[{"Key": "Role", "Value": role, "Type": "KEY_AND_VALUE"}],
            **(
                {
                    "deploymentStyle": {
                        "deploymentType": "BLUE_GREEN",
                        "deploymentOption": "WITH_TRAFFIC_CONTROL",
                    },
                    "loadBalancerInfo": {"targetGroupInfoList": [{"name": "bench"}]},
                }
                if blue_green
                else {}
            ),
        )
        revision = {
            "revisionType": "S3",
            "s3Location": {"bucket": "bench", "key": "site.zip", "bundleType": "zip", "eTag": etag},
        }
        if blue_green:  # the originals of a first deployment have nothing to block
            deploy_and_wait(cd, revision, instances * 2)
        started = time.perf_counter()
        deploy_and_wait(cd, revision, instances * 2 if blue_green else instances)
        return time.perf_counter() - started


def deploy_and_wait(cd: Any, revision: dict[str, Any], succeeded: int) -> None:
    deployment_id = cd.create_deployment(
        applicationName="bench", deploymentGroupName="fleet", revision=revision
    )["deploymentId"]
    while True:
        info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info["status"] in ("Succeeded", "Failed", "Stopped"):
            break
        time.sleep(0.02)
    if info["status"] != "Succeeded" or info["deploymentOverview"]["Succeeded"] != succeeded:
        raise SystemExit(f"benchmark deployment did not succeed: {info}")


def engine_serial(instances: int, bundle: bytes) -> float:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "site.zip"
        source.write_bytes(bundle)
        started = time.perf_counter()
        for n in range(1, instances + 1):
            home = Path(work) / f"i{n}"
            result = run_deployment(
                DeploymentSpec(
                    source=source,
                    application="bench",
                    deployment_group="fleet",
                    deployment_group_id="fleet-id",
                    deployment_id="d-BENCH0001",
                    state_dir=home / "agent",
                    root=home / "root",
                    bundle_type="zip",
                    base_env={**os.environ, "CI_DEPLOY_EMULATOR_ROOT": str(home / "root")},
                ),
                discard,
            )
            if result.status != "Succeeded":
                raise SystemExit(f"engine run failed: {result.error_message}")
        return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def idle_cpu(command: list[str], ready: str | None) -> float:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        if ready is not None:
            assert process.stdout is not None
            line = process.stdout.readline()
            if ready not in line:
                raise SystemExit(f"unexpected first line: {line!r}")
        time.sleep(1.0)  # let start-up settle
        before = cpu_seconds(process.pid)
        time.sleep(IDLE_SECONDS)
        return cpu_seconds(process.pid) - before
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    bundle = small_revision()
    fleet = emulator_deployment(50, bundle)
    serial = engine_serial(50, bundle)
    single = emulator_deployment(1, bundle)
    blue_green = emulator_deployment(50, bundle, blue_green=True)
    print(f"{'':28} {'wall s':>8} {'ratio':>8}")
    print(f"{'emulator, 50 instances':28} {fleet:8.2f} {1.0:8.2f}   (target < 10 s)")
    print(f"{'engine x50, serial':28} {serial:8.2f} {serial / fleet:8.2f}")
    print(f"{'emulator, 1 instance':28} {single:8.2f} {single / fleet:8.2f}")
    print(f"{'emulator, blue/green 50+50':28} {blue_green:8.2f} {blue_green / fleet:8.2f}")
    emulator_cpu = idle_cpu(
        [sys.executable, "-m", "ci_deploy", "emulator", "--port", "0"], "endpoint_url"
    )
    sleeper_cpu = idle_cpu([sys.executable, "-c", "import time; time.sleep(60)"], None)
    print(
        f"idle CPU over {IDLE_SECONDS:.0f} s: emulator {emulator_cpu:.3f} s "
        f"({emulator_cpu / IDLE_SECONDS:.2%} of a core), a sleeping python {sleeper_cpu:.3f} s"
    )


if __name__ == "__main__":
    main()
