"""A scripted CodeDeploy endpoint over HTTP on 127.0.0.1, for states the emulator cannot reach on
demand (throttling, 5xx, Ready, precise timing). It speaks the awsJson1.1 protocol, so real boto3
clients talk to it unchanged through --endpoint-url.

A deployment is a list of frames (what GetDeployment and BatchGetDeploymentTargets return). By
default each GetDeployment call moves to the next frame; ``advance="time"`` moves by wall clock
instead (``seconds_per_frame``), for latency measurements. The last frame stays.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET_PREFIX = "CodeDeploy_20141006."


@dataclass
class Frame:
    status: str
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: dict[str, str] | None = None
    # A Ready frame with hold=True stays until ContinueDeployment.
    hold: bool = False

    def overview(self) -> dict[str, int]:
        counts = dict.fromkeys(
            ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0
        )
        for target in self.targets.values():
            counts[target["status"]] = counts.get(target["status"], 0) + 1
        return counts


def instance_target(
    target_id: str,
    events: Sequence[tuple[str, str]],
    *,
    diagnostics: Mapping[str, Any] | None = None,
    started: float = 1_700_000_000.0,
) -> dict[str, Any]:
    """An instance target whose lifecycle events have the given statuses (in order); the
    target's status follows from them. ``diagnostics`` go on the failed event."""
    lifecycle = []
    clock = started
    for name, status in events:
        event: dict[str, Any] = {"lifecycleEventName": name, "status": status}
        if status != "Pending":
            event["startTime"] = clock
        if status in ("Succeeded", "Failed", "Skipped"):
            clock += 1.5
            event["endTime"] = clock
        if status == "Failed" and diagnostics is not None:
            event["diagnostics"] = dict(diagnostics)
        lifecycle.append(event)
    overall = target_status([status for _, status in events])
    return {"targetId": target_id, "status": overall, "lifecycleEvents": lifecycle}


def target_status(event_statuses: Sequence[str]) -> str:
    """A target's status from its lifecycle events' (as CodeDeploy reports them)."""
    if "Failed" in event_statuses:
        return "Failed"
    if all(s in ("Succeeded", "Skipped") for s in event_statuses):
        return "Succeeded"
    if all(s == "Pending" for s in event_statuses):
        return "Pending"
    return "InProgress"


def blue_green_group(
    compute_platform: str, *, ready_wait_minutes: int, termination_wait_minutes: int
) -> dict[str, Any]:
    """GetDeploymentGroup's ``deploymentGroupInfo`` fields of a blue/green group whose Ready
    wait stops the deployment when it runs out."""
    return {
        "computePlatform": compute_platform,
        "deploymentStyle": {
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        "blueGreenDeploymentConfiguration": {
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT",
                "waitTimeInMinutes": ready_wait_minutes,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": termination_wait_minutes,
            },
        },
    }


def in_place_frames(
    target_ids: Iterable[str],
    events: Sequence[str] = ("BeforeInstall", "AfterInstall", "ValidateService"),
    *,
    fail: tuple[str, str, Mapping[str, Any]] | None = None,
    error: dict[str, str] | None = None,
) -> list[Frame]:
    """An in-place deployment: Created, then one lifecycle event per frame on every target,
    ending Succeeded; or, with ``fail=(target, event, diagnostics)``, that target failing at
    that event and the deployment ending Failed."""
    ids = list(target_ids)
    frames = [Frame("Created")]
    for step in range(len(events) + 1):
        targets: dict[str, dict[str, Any]] = {}
        failed = False
        for tid in ids:
            statuses = []
            for index, name in enumerate(events):
                if fail and tid == fail[0] and name == fail[1] and index < step:
                    statuses.append((name, "Failed"))
                    failed = True
                elif statuses and statuses[-1][1] == "Failed":
                    statuses.append((name, "Skipped"))
                elif index < step:
                    statuses.append((name, "Succeeded"))
                elif index == step:
                    statuses.append((name, "InProgress"))
                else:
                    statuses.append((name, "Pending"))
            diag = fail[2] if fail and tid == fail[0] else None
            targets[tid] = instance_target(tid, statuses, diagnostics=diag)
        frames.append(Frame("InProgress", targets))
        if failed:
            frames.append(
                Frame(
                    "Failed",
                    targets,
                    error=error
                    or {"code": "HEALTH_CONSTRAINTS", "message": "The overall deployment failed"},
                )
            )
            return frames
    frames.append(Frame("Succeeded", frames[-1].targets))
    return frames


@dataclass
class FakeDeployment:
    deployment_id: str
    application: str
    group: str
    frames: list[Frame]
    advance: str = "poll"  # poll | time
    seconds_per_frame: float = 1.0
    clock: Callable[[], float] = time.time
    created: float = 0.0
    gets: int = 0
    index: int = 0
    continued: bool = False
    stopped: Frame | None = None
    rollback_id: str | None = None
    status_changed_at: dict[str, float] = field(default_factory=dict)
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        self.created = self.created or self.clock()

    def frame(self) -> Frame:
        if self.stopped is not None:
            return self.stopped
        return self.frames[self.index]

    def step(self) -> None:
        """Called on GetDeployment: move to the frame that is due."""
        self.gets += 1
        if self.stopped is not None:
            return
        if self.advance == "time":
            due = int((self.clock() - self.created) / self.seconds_per_frame)
        else:
            due = self.gets - 1
        while self.index < min(due, len(self.frames) - 1):
            current = self.frames[self.index]
            if current.hold and not self.continued:
                break
            self.index += 1
        status = self.frame().status
        self.status_changed_at.setdefault(status, self.clock())


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ConnectionDropped(Exception):
    """The handler closes the connection without answering."""


class FakeCodeDeploy:
    """The server; inspect ``calls`` to see what reached the API."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # The clock that time-advanced deployments and call_times follow (benchmarks scale it).
        self.clock = clock
        self.deployments: dict[str, FakeDeployment] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.call_times: list[float] = []
        # operation -> list of faults to serve before answering normally: "throttle", "503",
        # or "drop" (close the connection without an answer, as a network failure does)
        self.faults: dict[str, list[str]] = {}
        # (operation, region) -> (error code, message) answered every time: a region where
        # something is missing or forbidden
        self.refusals: dict[tuple[str, str], tuple[str, str]] = {}
        # Frames for the next CreateDeployment calls, in order.
        self.next_frames: list[list[Frame]] = []
        self.group_info: dict[str, Any] = {"computePlatform": "Server"}
        self.lock = threading.Lock()
        self.region = "us-east-1"  # of the request being handled
        self._counter = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                operation = self.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
                # SigV4: Credential=KEY/DATE/REGION/codedeploy/aws4_request
                scope = self.headers.get("Authorization", "").split("Credential=")[-1].split("/")
                region = scope[2] if len(scope) > 2 else "us-east-1"
                try:
                    answer = fake.handle(operation, body, region)
                    status, payload = 200, answer
                except ConnectionDropped:
                    self.close_connection = True
                    return
                except ApiError as error:
                    status = error.status
                    payload = {"__type": error.code, "message": error.message}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", "fake-request")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- scripting

    def add(
        self,
        frames: list[Frame],
        *,
        deployment_id: str | None = None,
        application: str = "web",
        group: str = "prod",
        advance: str = "poll",
        seconds_per_frame: float = 1.0,
    ) -> str:
        with self.lock:
            self._counter += 1
            did = deployment_id or f"d-FAKE{self._counter:05d}"
            self.deployments[did] = FakeDeployment(
                did, application, group, frames, advance, seconds_per_frame, self.clock
            )
            return did

    def client(self, *, attempts: int = 1) -> Any:
        """A boto3 CodeDeploy client of this endpoint making ``attempts`` tries per call, so an
        injected fault reaches the caller instead of the SDK's retries."""
        import boto3  # noqa: PLC0415 - the scripted server itself needs no SDK
        from botocore.config import Config  # noqa: PLC0415

        return boto3.client(
            "codedeploy",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="fake",
            aws_secret_access_key="fake",
            config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}),
        )

    def cancel_when_polled(
        self, argv: Sequence[str], env: Mapping[str, str], *, polls: int = 1
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` (a ci-deploy command against this endpoint) and send it SIGTERM, as a
        cancelled CI job does, once it has fetched targets ``polls`` times."""
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while len(self.calls_of("BatchGetDeploymentTargets")) < polls:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"{argv[1]} never polled its targets {polls} time(s)")
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
        finally:
            process.kill()
        return subprocess.CompletedProcess(list(argv), process.returncode, out, err)

    def calls_of(self, operation: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for name, body in self.calls if name == operation]

    # -- the API

    def handle(
        self, operation: str, body: dict[str, Any], region: str = "us-east-1"
    ) -> dict[str, Any]:
        with self.lock:
            self.region = region
            self.calls.append((operation, body))
            self.call_times.append(self.clock())
            queued = self.faults.get(operation)
            if queued:
                fault = queued.pop(0)
                if fault == "throttle":
                    raise ApiError("ThrottlingException", "Rate exceeded")
                if fault == "drop":
                    raise ConnectionDropped
                raise ApiError("InternalFailure", "service unavailable", status=503)
            refusal = self.refusals.get((operation, region))
            if refusal is not None:
                raise ApiError(*refusal)
            handler = getattr(self, "op_" + operation, None)
            if handler is None:
                raise ApiError("UnknownOperationException", f"fake has no {operation}")
            result: dict[str, Any] = handler(body)
            return result

    def _deployment(self, body: Mapping[str, Any]) -> FakeDeployment:
        did = body.get("deploymentId", "")
        if did not in self.deployments:
            raise ApiError("DeploymentDoesNotExistException", f"Deployment {did} does not exist")
        return self.deployments[did]

    def op_GetDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(body)
        deployment.step()
        frame = deployment.frame()
        info: dict[str, Any] = {
            "deploymentId": deployment.deployment_id,
            "applicationName": deployment.application,
            "deploymentGroupName": deployment.group,
            "status": frame.status,
            "computePlatform": "Server",
            "createTime": deployment.created,
            "creator": "user",
            "revision": {
                "revisionType": "S3",
                "s3Location": {"bucket": "b", "key": "k.zip", "bundleType": "zip"},
            },
        }
        if frame.targets:
            info["deploymentOverview"] = frame.overview()
        if frame.error:
            info["errorInformation"] = frame.error
        if frame.status in ("Succeeded", "Failed", "Stopped"):
            info["completeTime"] = deployment.status_changed_at.get(frame.status, self.clock())
        if deployment.rollback_id:
            info["rollbackInfo"] = {"rollbackDeploymentId": deployment.rollback_id}
        return {"deploymentInfo": info}

    def op_ListDeploymentTargets(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(body)
        frame = deployment.frame()
        if frame.status in ("Created", "Queued"):
            raise ApiError("DeploymentNotStartedException", "The deployment has not started")
        wanted = (body.get("targetFilters") or {}).get("TargetStatus")
        ids = sorted(
            tid for tid, target in frame.targets.items() if not wanted or target["status"] in wanted
        )
        # Pages of 100 ids, like the emulator's.
        start = int(body.get("nextToken") or 0)
        page: dict[str, Any] = {"targetIds": ids[start : start + 100]}
        if start + 100 < len(ids):
            page["nextToken"] = str(start + 100)
        return page

    def op_BatchGetDeploymentTargets(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(body)
        ids = body.get("targetIds") or []
        if len(ids) > 25:
            raise ApiError("InstanceIdRequiredException", "at most 25 target ids")
        frame = deployment.frame()
        targets = []
        for tid in ids:
            target = dict(frame.targets[tid])
            target["deploymentId"] = deployment.deployment_id
            targets.append({"deploymentTargetType": "InstanceTarget", "instanceTarget": target})
        return {"deploymentTargets": targets}

    def op_GetDeploymentGroup(self, body: dict[str, Any]) -> dict[str, Any]:
        info = {
            "applicationName": body["applicationName"],
            "deploymentGroupName": body["deploymentGroupName"],
            **self.group_info,
        }
        return {"deploymentGroupInfo": info}

    def op_StopDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(body)
        if deployment.frame().status in ("Succeeded", "Failed", "Stopped"):
            raise ApiError("DeploymentAlreadyCompletedException", "already completed")
        current = deployment.frame()
        deployment.stopped = Frame(
            "Stopped",
            current.targets,
            error={"code": "MANUAL_STOP", "message": "The deployment was stopped by a user"},
        )
        if body.get("autoRollbackEnabled"):
            deployment.rollback_id = "d-ROLLBACK01"
        return {"status": "Pending", "statusMessage": "Stopping"}

    def op_ContinueDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(body)
        if deployment.frame().status != "Ready":
            raise ApiError("DeploymentIsNotInReadyStateException", "not Ready")
        deployment.continued = True
        return {}

    def op_ListDeployments(self, body: dict[str, Any]) -> dict[str, Any]:
        statuses = set(body.get("includeOnlyStatuses") or ())
        ids = [
            d.deployment_id
            for d in self.deployments.values()
            if d.application == body.get("applicationName")
            and d.group == body.get("deploymentGroupName")
            and d.region == self.region
            and (not statuses or d.frame().status in statuses)
        ]
        return {"deployments": ids}

    def op_CreateDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        application = body["applicationName"]
        group = body["deploymentGroupName"]
        for other in self.deployments.values():
            if (
                other.application == application
                and other.group == group
                and other.region == self.region
                and other.frame().status not in ("Succeeded", "Failed", "Stopped")
            ):
                raise ApiError(
                    "DeploymentLimitExceededException",
                    "The deployment group has an active deployment",
                )
        frames = self.next_frames.pop(0) if self.next_frames else in_place_frames(["i-1"])
        self._counter += 1
        did = f"d-NEW{self._counter:06d}"
        self.deployments[did] = FakeDeployment(
            did, application, group, frames, clock=self.clock, region=self.region
        )
        return {"deploymentId": did}
