"""A small local AWS region whose CodeDeploy instances run the real local engine.

``start()`` serves the CodeDeploy JSON API, and moto's S3, EC2, Auto Scaling, CloudWatch, SNS and
SQS, on one loopback port (the request's signing scope names the service and the region; state
is kept per region); boto3 and the AWS CLI talk to it unchanged with ``AWS_ENDPOINT_URL`` and
any dummy credentials. A deployment group's fleet is what CodeDeploy would select: the running
EC2 instances its tags select, and those of its Auto Scaling groups.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from ci_deploy.emulator.model import SimulatedInstance
from ci_deploy.emulator.registry import INSTANCE_COUNT_TAG, Engine
from ci_deploy.emulator.server import (
    CONNECTION_TIMEOUT_SECONDS,
    MAX_CONNECTIONS,
    Dispatcher,
    HttpServer,
    bind,
    make_region_apps,
    make_s3_app,
)
from ci_deploy.emulator.service import Service
from ci_deploy.errors import InputError

__all__ = ["INSTANCE_COUNT_TAG", "RunningEmulator", "SimulatedInstance", "start"]

HOST = "127.0.0.1"
REGION = "us-east-1"


class RunningEmulator:
    """A started emulator: its endpoint, its state, and how to stop it."""

    def __init__(
        self, server: HttpServer, service: Service, state_dir: Path, owns_state_dir: bool
    ) -> None:
        self._server = server
        self.service = service
        self.state_dir = state_dir
        self._owns_state_dir = owns_state_dir
        self._stopped = threading.Event()
        self.port: int = server.port
        self.endpoint_url = f"http://{HOST}:{self.port}"
        self.region = REGION

    def client_env(self) -> dict[str, str]:
        """What a shell needs to point boto3 / the AWS CLI here (credentials are dummies)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "emulator",
            "AWS_SECRET_ACCESS_KEY": "emulator",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,  # the AWS CLI v1 reads only this one
        }

    def instances(
        self, application: str, deployment_group: str, region: str | None = None
    ) -> list[SimulatedInstance]:
        """The group's current fleet (in ``region``, default: the emulator's): ids, 1-based
        positions, install roots, agent state dirs."""
        registry = self.service.registry if region is None else self.service.registry_for(region)
        with registry.lock:
            group = registry.groups.get((application, deployment_group))
            return list(group.instances) if group is not None else []

    def wait(self, timeout_seconds: float | None = None) -> bool:
        """Block until ``stop()`` (True) or the timeout (False)."""
        return self._stopped.wait(timeout_seconds)

    def stop(self) -> None:
        """Stop serving, stop running deployments (killing their hooks), remove a temp state dir."""
        if self._stopped.is_set():
            return
        self._server.stop()
        self.service.stop_all()
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self._stopped.set()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def make_state_dir(root: Path) -> None:
    """Create the state dir, or say why it cannot be one (a file, no permission...)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"input state_dir: cannot use {str(root)!r} as the emulator's state directory: "
            f"{error.strerror}",
            hint="pass a writable directory (created when missing) to --state-dir",
        ) from error


def start(
    *,
    port: int = 0,
    instances: int = 3,
    state_dir: Path | None = None,
    event_delay_ms: int = 0,
    hook_env: Mapping[str, str] | None = None,
    wait_for_hooks: bool = False,
    hook_timeout_seconds: float = 3600.0,
    max_unpacked_size: int | None = None,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.time,
    max_connections: int = MAX_CONNECTIONS,
    connection_timeout_seconds: float = CONNECTION_TIMEOUT_SECONDS,
) -> RunningEmulator:
    """Serve the emulator on ``127.0.0.1:port`` (0: any free port) in background threads.

    ``instances`` EC2 instances tagged ``Name=ci-deploy-emulator`` run in each region from its
    first request (a group selects them with that tag filter; one with no tags, no Auto
    Scaling group and no ``ci-deploy:instances`` filter selects nothing: NO_INSTANCES);
    ``state_dir`` holds instance roots and agent state (default: a temp dir removed by stop);
    ``hook_env`` is the environment hook scripts inherit (plus the emulator's variables; None:
    only a system PATH, like the agent's service environment);
    ``wait_for_hooks`` makes ECS/Lambda hooks wait for PutLifecycleEventHookExecutionStatus
    (else they report Succeeded at once); ``max_unpacked_size`` caps what an instance unpacks
    a bundle to (None: the engine's 4 GiB); ``clock`` (epoch seconds) times everything the
    API shows, and the group's minute-based waits (Ready, termination).
    At most ``max_connections`` connections are served at once (one more is answered 503), and
    a connection silent for ``connection_timeout_seconds`` is closed.
    """
    sock = bind(HOST, port)
    owns = state_dir is None
    root = Path(tempfile.mkdtemp(prefix="ci-deploy-emulator-")) if state_dir is None else state_dir
    try:
        make_state_dir(root)
        s3_app = make_s3_app()
        service = Service(
            state_dir=root,
            s3_app=s3_app,
            region=REGION,
            instances=instances,
            event_delay_ms=event_delay_ms,
            engine=engine,
            hook_env=hook_env,
            wait_for_hooks=wait_for_hooks,
            hook_timeout_seconds=hook_timeout_seconds,
            max_unpacked_size=max_unpacked_size,
            clock=clock,
        )
        server = HttpServer(
            Dispatcher(service, s3_app, make_region_apps()),
            sock,
            max_connections=max_connections,
            connection_timeout=connection_timeout_seconds,
        )
    except BaseException:
        sock.close()
        if owns:
            shutil.rmtree(root, ignore_errors=True)
        raise
    server.start()
    return RunningEmulator(server, service, root.resolve(), owns)
