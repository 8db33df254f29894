"""`ci-deploy iam-policy` judged by what the verbs really call: real `ci-deploy` processes run
against the emulator with every botocore API call recorded (S3 heads and multipart parts
included); each call must be allowed by the policy printed for that verb, and every action a
verb's policy can grant must be one some recorded call needs.

Which IAM action and resource each API call needs is written here from AWS's documentation,
apart from the generator's table: the Service Authorization Reference (CodeDeploy, S3, KMS);
CodeDeploy's permissions reference (CreateDeployment also needs GetDeploymentConfig on the
configuration and GetApplicationRevision or RegisterApplicationRevision on the application);
S3's HeadObject (a missing key answers 404 only with s3:ListBucket); S3 multipart uploads with
SSE-KMS (kms:GenerateDataKey to start, kms:Decrypt for the parts).
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ci_deploy import cli
from ci_deploy.commands import Streams
from ci_deploy.iam_policy import GRANTS

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/codedeploy"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PART_SIZE = 5 << 20  # S3's smallest part: a bundle just above it uploads in two parts
# Actions a verb's policy may grant that no scenario below exercises, and why. Empty: every
# conditional path (wait-for-active, cancel, on-ready continue, KMS, multipart abort,
# --no-register) is run for real.
NOT_EXERCISED: dict[str, dict[str, str]] = {}

# The recorder, run in the ci-deploy process itself: every call of every botocore client, with
# its parameters (no bodies) and how it ended. IAM_POLICY_FAIL makes one operation fail once
# (an upload's abort path); IAM_POLICY_PART_SIZE makes uploads multipart above that size.
PROBE = r"""
import functools, json, os, runpy, sys, threading
import botocore.client, botocore.exceptions

_lock = threading.Lock()
_path = os.environ["IAM_POLICY_RECORD"]
_fail = [os.environ.get("IAM_POLICY_FAIL", "")]
_original = botocore.client.BaseClient._make_api_call

def _recorded(self, operation, params):
    entry = {
        "service": self.meta.service_model.service_name,
        "operation": operation,
        "region": self.meta.region_name,
        "params": {k: v for k, v in params.items() if k != "Body"},
    }
    try:
        if operation == _fail[0]:
            _fail[0] = ""
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidPart", "Message": "injected by the test"}}, operation
            )
        response = _original(self, operation, params)
        entry["deploymentId"] = response.get("deploymentId")
        entry["UploadId"] = response.get("UploadId")
        return response
    except botocore.exceptions.ClientError as error:
        entry["error"] = str(error.response.get("Error", {}).get("Code"))
        raise
    except BaseException as error:
        entry["error"] = type(error).__name__
        raise
    finally:
        with _lock, open(_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry, default=str) + "\n")

botocore.client.BaseClient._make_api_call = _recorded
if os.environ.get("IAM_POLICY_PART_SIZE"):
    import ci_deploy.aws.s3 as s3
    size = int(os.environ["IAM_POLICY_PART_SIZE"])
    s3.UploadOptions = functools.partial(s3.UploadOptions, multipart_threshold=size, part_size=size)
sys.argv = ["ci-deploy", *sys.argv[1:]]
runpy.run_module("ci_deploy", run_name="__main__")
"""


# ---------------------------------------------------------------------------------------------
# What IAM checks for each call.


@dataclass(frozen=True)
class Need:
    """One of ``alternatives`` (action, resource) must be allowed."""

    alternatives: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, action: str, resource: str) -> Need:
        return cls(((action, resource),))


@dataclass
class World:
    """What the needs depend on beyond a call's parameters: the account, each deployment's
    group and each group's deployment configuration (read from the emulator), KMS uploads."""

    account: str
    groups_of: dict[str, tuple[str, str]] = field(default_factory=dict)
    configs: dict[tuple[str, str], str] = field(default_factory=dict)
    kms_uploads: dict[str, str] = field(default_factory=dict)


def codedeploy_arn(region: str, account: str, resource: str) -> str:
    return f"arn:aws:codedeploy:{region}:{account}:{resource}"


def key_arn(key: str, region: str, account: str) -> str:
    return key if key.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key}"


def needs(call: dict[str, Any], world: World) -> list[Need]:
    service, operation, params = call["service"], call["operation"], call["params"]
    region, account = call["region"], world.account

    def group(application: str, name: str) -> str:
        return codedeploy_arn(region, account, f"deploymentgroup:{application}/{name}")

    def group_of(deployment_id: str) -> str:
        return group(*world.groups_of[deployment_id])

    if service == "codedeploy":
        application = params.get("applicationName", "")
        # No resource-level permissions for these (Service Authorization Reference): "*".
        if operation in {
            "ListDeploymentTargets",
            "BatchGetDeploymentTargets",
            "StopDeployment",
            "ContinueDeployment",
        }:
            return [Need.of(f"codedeploy:{operation}", "*")]
        if operation == "GetDeploymentConfig":
            name = params["deploymentConfigName"]
            return [
                Need.of(
                    "codedeploy:GetDeploymentConfig",
                    codedeploy_arn(region, account, f"deploymentconfig:{name}"),
                )
            ]
        if operation in {"GetDeploymentGroup", "ListDeployments"}:
            return [
                Need.of(
                    f"codedeploy:{operation}", group(application, params["deploymentGroupName"])
                )
            ]
        if operation == "GetDeployment":
            return [Need.of("codedeploy:GetDeployment", group_of(params["deploymentId"]))]
        if operation == "BatchGetDeployments":
            return [
                Need.of("codedeploy:BatchGetDeployments", group_of(deployment_id))
                for deployment_id in params["deploymentIds"]
            ]
        if operation == "RegisterApplicationRevision":
            return [
                Need.of(
                    "codedeploy:RegisterApplicationRevision",
                    codedeploy_arn(region, account, f"application:{application}"),
                )
            ]
        if operation == "CreateDeployment":
            name = params["deploymentGroupName"]
            config = params.get("deploymentConfigName") or world.configs[(application, name)]
            app_arn = codedeploy_arn(region, account, f"application:{application}")
            return [
                Need.of("codedeploy:CreateDeployment", group(application, name)),
                Need.of(
                    "codedeploy:GetDeploymentConfig",
                    codedeploy_arn(region, account, f"deploymentconfig:{config}"),
                ),
                Need(
                    (
                        ("codedeploy:RegisterApplicationRevision", app_arn),
                        ("codedeploy:GetApplicationRevision", app_arn),
                    )
                ),
            ]
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        if operation == "HeadBucket":
            return [Need.of("s3:ListBucket", bucket)]
        target = f"{bucket}/{params['Key']}"
        if operation == "HeadObject":
            found = [Need.of("s3:GetObject", target)]
            if call.get("error") in {"404", "NoSuchKey", "NotFound"}:
                found.append(Need.of("s3:ListBucket", bucket))
            return found
        if operation == "GetObject":
            found = [Need.of("s3:GetObject", target)]
            if params.get("VersionId"):
                found.append(Need.of("s3:GetObjectVersion", target))
            return found
        if operation == "AbortMultipartUpload":
            return [Need.of("s3:AbortMultipartUpload", target)]
        if operation in {
            "PutObject",
            "CreateMultipartUpload",
            "UploadPart",
            "CompleteMultipartUpload",
        }:
            found = [Need.of("s3:PutObject", target)]
            key = params.get("SSEKMSKeyId")
            if key and operation in {"PutObject", "CreateMultipartUpload"}:
                found.append(Need.of("kms:GenerateDataKey", key_arn(key, region, account)))
            upload_key = world.kms_uploads.get(params.get("UploadId", ""))
            if upload_key and operation in {"UploadPart", "CompleteMultipartUpload"}:
                found.append(Need.of("kms:Decrypt", key_arn(upload_key, region, account)))
            return found
    raise AssertionError(f"no IAM rule for {service}:{operation}: write one from AWS's docs")


def _matches(pattern: str, text: str, *, case: bool) -> bool:
    """IAM's wildcards: * any run of characters, ? one character."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE) is not None


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an identity policy of Allow statements allows ``action`` on ``resource``."""
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        unknown = set(statement) - {"Sid", "Effect", "Action", "Resource"}
        assert not unknown, f"the evaluator does not evaluate {unknown}: teach it first"
        if any(_matches(a, action, case=False) for a in _as_list(statement["Action"])) and any(
            _matches(r, resource, case=True) for r in _as_list(statement["Resource"])
        ):
            return True
    return False


def test_the_evaluator_denies_what_iam_denies() -> None:
    group = codedeploy_arn(REGION, ACCOUNT, "deploymentgroup:app/fleet")
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": ["codedeploy:StopDeployment"], "Resource": group},
            {"Effect": "Allow", "Action": "codedeploy:Get*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/p/*"},
        ]
    }
    # StopDeployment has no resource-level permissions: a group ARN never matches it.
    assert not allows(policy, "codedeploy:StopDeployment", "*")
    assert allows(policy, "codedeploy:getdeployment", group)
    assert allows(policy, "s3:PutObject", "arn:aws:s3:::b/p/app/x.zip")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::b/q/app/x.zip")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::B/p/x.zip")
    missing = {"service": "s3", "operation": "HeadObject", "region": REGION, "error": "404"}
    missing["params"] = {"Bucket": "b", "Key": "p/x.zip"}
    assert Need.of("s3:ListBucket", "arn:aws:s3:::b") in needs(missing, World(ACCOUNT))
    with pytest.raises(AssertionError, match="no IAM rule for s3:DeleteObject"):
        needs({**missing, "operation": "DeleteObject"}, World(ACCOUNT))


# ---------------------------------------------------------------------------------------------
# Running ci-deploy for real.


@dataclass
class Scenario:
    """One recorded `ci-deploy` run, and the iam-policy arguments of the policy it must hold."""

    name: str
    verb: str
    policy_args: list[str]
    calls: list[dict[str, Any]]


class Recording:
    """Runs `ci-deploy ARGS` in a process that records its API calls."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = env
        self.directory = directory
        self.count = 0

    def start(self, args: list[str], **settings: str) -> tuple[subprocess.Popen[str], Path]:
        self.count += 1
        record = self.directory / f"calls-{self.count}.jsonl"
        env = {**self.env, "IAM_POLICY_RECORD": str(record), **settings}
        process = subprocess.Popen(
            [sys.executable, "-c", PROBE, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return process, record

    @staticmethod
    def calls(record: Path) -> list[dict[str, Any]]:
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]

    def run(self, args: list[str], **settings: str) -> tuple[int, str, list[dict[str, Any]]]:
        process, record = self.start(args, **settings)
        out, err = process.communicate(timeout=300)
        return process.returncode, out + err, self.calls(record)

    def run_until(
        self, args: list[str], marker: str, then: Any, **settings: str
    ) -> tuple[int, str, list[dict[str, Any]]]:
        """Run; when ``marker`` shows on stderr, call ``then(process)``; wait for the end."""
        process, record = self.start(args, **settings)
        lines: queue.Queue[str] = queue.Queue()
        assert process.stderr is not None
        stderr = process.stderr

        def drain() -> None:
            for line in stderr:
                lines.put(line)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        seen: list[str] = []
        deadline = time.monotonic() + 120
        while not any(marker in line for line in seen):
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError(f"never saw {marker!r}:\n{''.join(seen)}")
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
        then(process)
        out, _ = process.communicate(timeout=300)
        reader.join(timeout=10)
        while not lines.empty():
            seen.append(lines.get())
        return process.returncode, out + "".join(seen), self.calls(record)


def gated_revision(root: Path, tag: str, gate: Path | None = None, big: bool = False) -> Path:
    """A revision whose ApplicationStart waits (bounded) for ``gate`` to exist; ``big`` adds an
    incompressible file so the bundle uploads in two parts."""
    (root / "site").mkdir(parents=True)
    (root / "site" / "index.html").write_text(f"<p>{tag}</p>\n", encoding="utf-8")
    if big:
        (root / "site" / "blob.bin").write_bytes(os.urandom(PART_SIZE + (64 << 10)))
    hooks = ""
    if gate is not None:
        (root / "scripts").mkdir()
        script = root / "scripts" / "gate.sh"
        script.write_text(
            "#!/bin/sh\n"
            f"i=0; while [ ! -e '{gate}' ]; do\n"
            "  i=$((i + 1)); [ $i -gt 1200 ] && exit 1; sleep 0.1\n"
            "done\n",
            encoding="utf-8",
        )
        script.chmod(0o755)
        hooks = "hooks:\n  ApplicationStart:\n    - location: scripts/gate.sh\n      timeout: 300\n"
    (root / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /srv/app\n" + hooks,
        encoding="utf-8",
    )
    return root


def one_instance() -> list[dict[str, str]]:
    return [{"Key": "ci-deploy:instances", "Value": "1", "Type": "KEY_AND_VALUE"}]


@dataclass
class Lab:
    """The emulator's clients, names and the scenarios run so far."""

    codedeploy: Any
    s3: Any
    app: str
    bucket: str
    root: Path
    recording: Recording
    endpoint: str
    scenarios: list[Scenario] = field(default_factory=list)

    def s3_upload(self, source: Path, key: str) -> dict[str, Any]:
        """Zip ``source`` (modes kept) into the bucket, as a revision to create a deployment of
        with the test's own client: no ci-deploy call, nothing recorded."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(path.relative_to(source).as_posix())
                    info.external_attr = (path.stat().st_mode & 0o777) << 16
                    archive.writestr(info, path.read_bytes())
        put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())
        location = {
            "bucket": self.bucket,
            "key": key,
            "bundleType": "zip",
            "eTag": put["ETag"].strip('"'),
        }
        return {"revisionType": "S3", "s3Location": location}

    def codedeploy_wait(self, deployment_id: str, statuses: tuple[str, ...]) -> None:
        """Poll (bounded) until the deployment's status is one of ``statuses``."""
        deadline = time.monotonic() + 60
        while True:
            info = self.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            if info["status"] in statuses:
                return
            assert time.monotonic() < deadline, f"{deployment_id} still {info['status']}"
            time.sleep(0.05)

    def common(self, group: str = "fleet", app: str | None = None) -> list[str]:
        return [
            "--application",
            app or self.app,
            "--deployment-group",
            group,
            "--endpoint-url",
            self.endpoint,
            "--region",
            REGION,
        ]

    def policy_base(self, group: str = "fleet", app: str | None = None) -> list[str]:
        return [
            "--account-id",
            ACCOUNT,
            "--region",
            REGION,
            "--application",
            app or self.app,
            "--deployment-group",
            group,
        ]

    def add(
        self,
        name: str,
        verb: str,
        policy_args: list[str],
        outcome: tuple[int, str, list[dict[str, Any]]],
        expect: int = 0,
    ) -> list[dict[str, Any]]:
        code, text, calls = outcome
        assert code == expect, f"{name}: exit {code}\n{text}"
        assert calls, f"{name}: no call recorded\n{text}"
        self.scenarios.append(Scenario(name, verb, ["--verbs", verb, *policy_args], calls))
        return calls


def deployment_id_of(calls: list[dict[str, Any]]) -> str:
    created = [c["deploymentId"] for c in calls if c["operation"] == "CreateDeployment"]
    assert created and created[-1], calls
    return str(created[-1])


def sigterm(process: subprocess.Popen[str]) -> None:
    """Cancel the job as a CI system does."""
    process.send_signal(signal.SIGTERM)


def deploy_scenarios(lab: Lab) -> None:
    rec, tmp = lab.recording, lab.root
    with_s3 = ["--s3-location", f"s3://{lab.bucket}/bundles"]
    policy = [*lab.policy_base(), *with_s3]

    # A named configuration: the policy names it alone.
    config = ["--deployment-config", "CodeDeployDefault.AllAtOnce"]
    args = ["deploy", str(gated_revision(tmp / "v1", "v1")), *lab.common(), *with_s3, *config]
    lab.add("deploy", "deploy", [*policy, *config], rec.run(args))

    # Another deployment holds the group: ListDeployments, then watching it to its end.
    gate = tmp / "blocker-gate"
    blocker_revision = lab.s3_upload(gated_revision(tmp / "blocker", "b", gate), "blocker.zip")
    blocker = lab.codedeploy.create_deployment(
        applicationName=lab.app, deploymentGroupName="fleet", revision=blocker_revision
    )["deploymentId"]
    args = ["deploy", str(gated_revision(tmp / "v2", "v2")), *lab.common(), *with_s3]
    marker = f"deployment {blocker} is active"
    outcome = rec.run_until(args, marker, lambda _: gate.write_text("go"))
    calls = lab.add("deploy-wait-for-active", "deploy", policy, outcome)
    assert any(c["operation"] == "ListDeployments" for c in calls)

    # Cancelled while it runs: StopDeployment.
    args = ["deploy", str(gated_revision(tmp / "v3", "v3", tmp / "never")), *lab.common()]
    outcome = rec.run_until([*args, *with_s3], "ApplicationStart started", sigterm)
    calls = lab.add("deploy-cancelled", "deploy", policy, outcome, expect=130)
    assert any(c["operation"] == "StopDeployment" for c in calls)

    # Multipart SSE-KMS uploads: one whose completion fails (abort), one that completes.
    kms = ["--sse", "aws:kms", "--sse-kms-key-id", KMS_KEY]
    args = ["deploy", str(gated_revision(tmp / "v5", "v5", big=True)), *lab.common(), *with_s3]
    kms_policy = [*policy, "--kms-key", KMS_KEY]
    fail = {"IAM_POLICY_PART_SIZE": str(PART_SIZE), "IAM_POLICY_FAIL": "CompleteMultipartUpload"}
    outcome = rec.run([*args, *kms], **fail)
    calls = lab.add("deploy-kms-multipart-abort", "deploy", kms_policy, outcome, expect=3)
    assert any(c["operation"] == "AbortMultipartUpload" for c in calls)
    outcome = rec.run([*args, *kms], IAM_POLICY_PART_SIZE=str(PART_SIZE))
    calls = lab.add("deploy-kms-multipart", "deploy", kms_policy, outcome)
    assert sum(c["operation"] == "UploadPart" for c in calls) == 2


def rollback_scenarios(lab: Lab) -> None:
    rec = lab.recording
    outcome = rec.run(["rollback", *lab.common(), "--wait-timeout-seconds", "120"])
    lab.add("rollback", "rollback", lab.policy_base(), outcome)
    first = deployment_id_of(lab.scenarios[0].calls)
    outcome = rec.run(["rollback", *lab.common(), "--to", first])
    lab.add("rollback-to", "rollback", lab.policy_base(), outcome)


def held_deployment(lab: Lab, tag: str) -> str:
    """A deployment left running (its ApplicationStart waits for a gate never opened)."""
    source = gated_revision(lab.root / tag, tag, lab.root / f"{tag}-never")
    args = ["deploy", str(source), *lab.common(), "--s3-location", f"s3://{lab.bucket}/b"]
    policy = [*lab.policy_base(), "--s3-location", f"s3://{lab.bucket}/b"]
    calls = lab.add(
        f"deploy-no-wait-{tag}", "deploy", policy, lab.recording.run([*args, "--no-wait"])
    )
    held = deployment_id_of(calls)
    lab.codedeploy_wait(held, ("InProgress",))
    return held


def watching_scenarios(lab: Lab) -> None:
    rec = lab.recording
    where = ["--endpoint-url", lab.endpoint, "--region", REGION]
    held = held_deployment(lab, "v4")
    lab.add("status", "status", lab.policy_base(), rec.run(["status", held, *where]))
    outcome = rec.run_until(["wait", held, *where], "ApplicationStart started", sigterm)
    calls = lab.add("wait-cancelled", "wait", lab.policy_base(), outcome, expect=130)
    assert any(c["operation"] == "StopDeployment" for c in calls)
    # stop, then wait for it to end Stopped (exit 1).
    second = held_deployment(lab, "v6")
    stop_policy = ["--account-id", ACCOUNT, "--region", REGION]
    lab.add("stop", "stop", stop_policy, rec.run(["stop", second, *where]))
    outcome = rec.run(["wait", second, *where, "--wait-timeout-seconds", "120"])
    lab.add("wait", "wait", lab.policy_base(), outcome, expect=1)
    # A rollback cancelled while it runs (the revision of the held one waits forever).
    args = ["rollback", *lab.common(), "--to", held]
    outcome = rec.run_until(args, "ApplicationStart started", sigterm)
    calls = lab.add("rollback-cancelled", "rollback", lab.policy_base(), outcome, expect=130)
    assert any(c["operation"] == "StopDeployment" for c in calls)


def push_scenarios(lab: Lab) -> dict[str, Any]:
    """A plain push, then a multipart SSE-KMS one whose completion fails (the abort path);
    returns the first one's PutObject parameters."""
    rec, tmp = lab.recording, lab.root
    with_s3 = ["--s3-location", f"s3://{lab.bucket}/bundles"]
    where = ["--application", lab.app, *with_s3, "--endpoint-url", lab.endpoint]
    policy = ["--account-id", ACCOUNT, "--region", REGION, "--application", lab.app, *with_s3]
    outcome = rec.run(["push", str(gated_revision(tmp / "p1", "p1")), *where, "--region", REGION])
    calls = lab.add("push", "push", policy, outcome)
    kms = ["--sse", "aws:kms", "--sse-kms-key-id", KMS_KEY]
    args = ["push", str(gated_revision(tmp / "p2", "p2", big=True)), *where, *kms]
    fail = {"IAM_POLICY_PART_SIZE": str(PART_SIZE), "IAM_POLICY_FAIL": "CompleteMultipartUpload"}
    outcome = rec.run([*args, "--region", REGION], **fail)
    aborted = lab.add(
        "push-kms-multipart-abort", "push", [*policy, "--kms-key", KMS_KEY], outcome, expect=3
    )
    assert any(c["operation"] == "AbortMultipartUpload" for c in aborted)
    params: dict[str, Any] = next(c for c in calls if c["operation"] == "PutObject")["params"]
    return params


def existing_object_scenario(lab: Lab, pushed: dict[str, Any]) -> None:
    """Deploy an object already in S3, as is, without registering it."""
    flags = ["--s3-location", f"s3://{pushed['Bucket']}/{pushed['Key']}"]
    flags += ["--no-upload", "--no-register"]
    args = ["deploy", str(lab.root / "p1"), *lab.common(), *flags]
    outcome = lab.recording.run(args)
    lab.add("deploy-existing-unregistered", "deploy", [*lab.policy_base(), *flags], outcome)


def blue_green_scenarios(lab: Lab) -> None:
    """A blue/green group whose deployments wait in Ready: --on-ready continue continues them
    (ContinueDeployment) for deploy, wait and rollback."""
    rec, tmp, app = lab.recording, lab.root, f"{lab.app}-bg"
    lab.codedeploy.create_application(applicationName=app)
    lab.codedeploy.create_deployment_group(
        applicationName=app,
        deploymentGroupName="bg",
        serviceRoleArn=ROLE,
        ec2TagFilters=one_instance(),
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        loadBalancerInfo={"targetGroupInfoList": [{"name": "web"}]},
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT",
                "waitTimeInMinutes": 60,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE"},
        },
    )
    with_s3 = ["--s3-location", f"s3://{lab.bucket}/bundles"]
    go = ["--on-ready", "continue"]
    policy = [*lab.policy_base("bg", app), *go]
    common = [*lab.common("bg", app), *go]
    args = ["deploy", str(gated_revision(tmp / "bg1", "bg1")), *common, *with_s3]
    calls = lab.add("deploy-on-ready-continue", "deploy", [*policy, *with_s3], rec.run(args))
    assert any(c["operation"] == "ContinueDeployment" for c in calls)
    first = deployment_id_of(calls)
    args = ["deploy", str(gated_revision(tmp / "bg2", "bg2")), *common, *with_s3, "--no-wait"]
    calls = lab.add("deploy-bg-no-wait", "deploy", [*policy, *with_s3], rec.run(args))
    where = ["--endpoint-url", lab.endpoint, "--region", REGION, *go]
    outcome = rec.run(["wait", deployment_id_of(calls), *where])
    calls = lab.add("wait-on-ready-continue", "wait", policy, outcome)
    assert any(c["operation"] == "ContinueDeployment" for c in calls)
    calls = lab.add(
        "rollback-on-ready-continue",
        "rollback",
        policy,
        rec.run(["rollback", *common, "--to", first]),
    )
    assert any(c["operation"] == "ContinueDeployment" for c in calls)


def dry_run_scenario(lab: Lab) -> None:
    """deploy --dry-run of a bundle not in the bucket yet: read-only calls only."""
    with_s3 = ["--s3-location", f"s3://{lab.bucket}/bundles"]
    source = gated_revision(lab.root / "dry", "dry")
    outcome = lab.recording.run(["deploy", str(source), *lab.common(), *with_s3, "--dry-run"])
    calls = lab.add("deploy-dry-run", "dry-run", [*lab.policy_base(), *with_s3], outcome)
    assert {c["operation"] for c in calls} == {
        "GetDeploymentGroup",
        "GetDeploymentConfig",
        "HeadBucket",
        "HeadObject",
    }


def run_scenarios(lab: Lab) -> None:
    deploy_scenarios(lab)
    rollback_scenarios(lab)
    watching_scenarios(lab)
    existing_object_scenario(lab, push_scenarios(lab))
    blue_green_scenarios(lab)
    dry_run_scenario(lab)


# ---------------------------------------------------------------------------------------------
# The scenarios, run once for the module, and what is checked of them.


def subprocess_env() -> dict[str, str]:
    """This environment without CI markers or AWS settings, plus dummy credentials."""
    drop = ("GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "CI_DEPLOY_")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", *drop)) and name not in drop
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


@pytest.fixture(scope="module")
def lab(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    import boto3  # noqa: PLC0415 - the test's own clients, for set-up and looking up

    settings = {
        "endpoint_url": emulator.endpoint_url,
        "region_name": REGION,
        "aws_access_key_id": "emulator",
        "aws_secret_access_key": "emulator",
    }
    root = tmp_path_factory.mktemp("iam-policy-e2e")
    app = f"iam-policy-{root.name[-8:].strip('-_')}-{os.getpid()}".lower()
    lab = Lab(
        codedeploy=boto3.client("codedeploy", **settings),
        s3=boto3.client("s3", **settings),
        app=app,
        bucket=app,
        root=root,
        recording=Recording(subprocess_env(), root),
        endpoint=emulator.endpoint_url,
    )
    lab.codedeploy.create_application(applicationName=app)
    lab.codedeploy.create_deployment_group(
        applicationName=app,
        deploymentGroupName="fleet",
        serviceRoleArn=ROLE,
        ec2TagFilters=one_instance(),
    )
    lab.s3.create_bucket(Bucket=app)
    lab.s3.put_bucket_versioning(Bucket=app, VersioningConfiguration={"Status": "Enabled"})
    run_scenarios(lab)
    return lab


def printed_policy(args: list[str]) -> dict[str, Any]:
    streams = Streams(stdout=io.StringIO(), stderr=io.StringIO())
    code = cli.run(["iam-policy", *args], {}, streams)
    assert code == 0, streams.stderr.getvalue()  # type: ignore[attr-defined]
    policy: dict[str, Any] = json.loads(streams.stdout.getvalue())  # type: ignore[attr-defined]
    return policy


def world_of(lab: Lab) -> World:
    """Each deployment's group and each group's configuration, as the emulator has them."""
    world = World(ACCOUNT)
    for scenario in lab.scenarios:
        for call in scenario.calls:
            params = call["params"]
            ids = [params.get("deploymentId"), call.get("deploymentId")]
            for deployment_id in [*ids, *params.get("deploymentIds", ())]:
                if deployment_id and deployment_id not in world.groups_of:
                    info = lab.codedeploy.get_deployment(deploymentId=deployment_id)
                    found = info["deploymentInfo"]
                    world.groups_of[deployment_id] = (
                        found["applicationName"],
                        found["deploymentGroupName"],
                    )
            if call["operation"] == "CreateDeployment":
                group = (params["applicationName"], params["deploymentGroupName"])
                if group not in world.configs:
                    info = lab.codedeploy.get_deployment_group(
                        applicationName=group[0], deploymentGroupName=group[1]
                    )["deploymentGroupInfo"]
                    world.configs[group] = info["deploymentConfigName"]
            if call["operation"] == "CreateMultipartUpload" and params.get("SSEKMSKeyId"):
                world.kms_uploads[call["UploadId"] or ""] = params["SSEKMSKeyId"]
    return world


def granted(policy: dict[str, Any], need: Need) -> list[tuple[str, str]]:
    return [(a, r) for a, r in need.alternatives if allows(policy, a, r)]


def test_every_call_each_verb_made_is_allowed_by_its_printed_policy(lab: Lab) -> None:
    world = world_of(lab)
    denied = []
    for scenario in lab.scenarios:
        at = scenario.policy_args.index("--account-id") + 1
        any_account = [*scenario.policy_args[:at], "*", *scenario.policy_args[at + 1 :]]
        for args in (scenario.policy_args, any_account):
            policy = printed_policy(args)
            for call in scenario.calls:
                for need in needs(call, world):
                    if not granted(policy, need):
                        denied.append(f"{scenario.name}: {call['operation']} needs {need}")
    assert denied == [], "\n".join(denied)
    names = {scenario.name for scenario in lab.scenarios}
    assert {"deploy", "dry-run", "rollback", "push", "wait", "status", "stop"} <= {
        scenario.verb for scenario in lab.scenarios
    }, names


def test_each_verb_s_policy_grants_only_actions_its_calls_need(lab: Lab) -> None:
    """The table's actions of a verb (every option on) are exactly those some recorded call of
    that verb needed; the documented exceptions are listed in NOT_EXERCISED, with why."""
    world = world_of(lab)
    used: dict[str, set[str]] = {verb: set() for verb in GRANTS}
    for scenario in lab.scenarios:
        policy = printed_policy(scenario.policy_args)
        for call in scenario.calls:
            for need in needs(call, world):
                used[scenario.verb] |= {action for action, _ in granted(policy, need)}
    for verb, table in GRANTS.items():
        declared = {grant.action for grant in table}
        skipped = set(NOT_EXERCISED.get(verb, {}))
        assert not skipped & used[verb], f"{verb}: {skipped & used[verb]} are exercised now"
        assert used[verb] | skipped == declared, (
            verb,
            declared - used[verb],
            used[verb] - declared,
        )


def test_every_resource_a_policy_names_is_one_a_call_used(lab: Lab) -> None:
    """No statement names a resource no call of its verb touched (a stray bucket, key or
    group); deploymentconfig:* stands for the group's own configuration."""
    world = world_of(lab)
    for scenario in lab.scenarios:
        policy = printed_policy(scenario.policy_args)
        touched = [
            (action, resource)
            for other in lab.scenarios
            if other.verb == scenario.verb
            for call in other.calls
            for need in needs(call, world)
            for action, resource in need.alternatives
        ]
        for statement in policy["Statement"]:
            for pattern in _as_list(statement["Resource"]):
                assert any(
                    _matches(pattern, resource, case=True)
                    and any(_matches(a, action, case=False) for a in statement["Action"])
                    for action, resource in touched
                ), (scenario.name, statement["Sid"], pattern)
