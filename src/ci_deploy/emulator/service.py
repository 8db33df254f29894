"""The CodeDeploy service: one Registry per region, answered through the table of operations
under that registry's lock."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ci_deploy.agent import run_deployment
from ci_deploy.agent.environment import hook_base_env
from ci_deploy.emulator import protocol
from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.fleets import DEMO_TAG, known_region
from ci_deploy.emulator.operations import OPERATIONS, SELF_LOCKING
from ci_deploy.emulator.registry import Engine, Registry, Runtime
from ci_deploy.emulator.revisions import WsgiApp

# A region's name as a signing scope carries it (us-east-1, eu-west-1, us-gov-west-1, ...).
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+){1,3}-[0-9]{1,2}")
# Regions served at once: each is a registry; a request for one more is refused.
MAX_REGIONS = 64


class Service:
    """The emulator's CodeDeploy state, kept per region (``registry`` is the default region's),
    and the entry point of its API."""

    def __init__(
        self,
        *,
        state_dir: Path,
        s3_app: WsgiApp,
        region: str = "us-east-1",
        instances: int = 3,
        event_delay_ms: int = 0,
        engine: Engine | None = None,
        hook_env: Mapping[str, str] | None = None,
        wait_for_hooks: bool = False,
        hook_timeout_seconds: float = 3600.0,
        max_unpacked_size: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self._state_dir = state_dir
        self._s3_app = s3_app
        self._instances = instances
        self._clock = lambda: round(clock(), 3)  # the service's timestamps have milliseconds
        self._runtime = Runtime(
            engine=run_deployment if engine is None else engine,
            # A PATH under what the caller gives; given nothing (deploy --emulator), hooks
            # start from the bare base local's hooks start from.
            hook_env={**hook_base_env({}), **(hook_env or {})},
            event_delay_seconds=event_delay_ms / 1000,
            wait_for_hooks=wait_for_hooks,
            hook_timeout_seconds=hook_timeout_seconds,
            max_unpacked_size=max_unpacked_size,
        )
        self._regions_lock = threading.Lock()
        self.registries: dict[str, Registry] = {}
        self.registry = self.registry_for(region)

    def registry_for(self, region: str) -> Registry:
        """The region's state, created empty on its first request (the default region's state
        lives in the state dir itself, another region's under ``regions/<name>``)."""
        if not (len(region) <= 32 and REGION_NAME.fullmatch(region) and known_region(region)):
            raise ApiError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not {region[:64]!r}; sign the "
                "request for the region to deploy in (e.g. us-east-1).",
            )
        with self._regions_lock:
            registry = self.registries.get(region)
            if registry is None and len(self.registries) >= MAX_REGIONS:
                raise ApiError(
                    "InvalidSignatureException",
                    f"The emulator serves at most {MAX_REGIONS} regions at once; the request is "
                    f"signed for one more ({region}).",
                )
            if registry is None:
                root = self._state_dir
                if self.registries:
                    root = self._state_dir / "regions" / region
                registry = Registry(
                    state_dir=root,
                    s3_app=self._s3_app,
                    region=region,
                    instances=self._instances,
                    runtime=self._runtime,
                    clock=self._clock,
                )
                self.registries[region] = registry
                # --instances N: N running EC2 instances in each region, tagged for the demo.
                registry.launch(self._instances, DEMO_TAG)
            return registry

    def handle(
        self, operation: str, body: Mapping[str, Any], region: str | None = None
    ) -> dict[str, Any]:
        """The answer to one request in ``region`` (None: the default region): its body
        type-checked, then its handler run under that region's lock (a SELF_LOCKING handler
        takes the lock itself)."""
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException", f"The emulator does not implement {operation}."
            )
        protocol.check_input(operation, body)
        registry = self.registry if region is None else self.registry_for(region)
        if operation in SELF_LOCKING:
            return handler(registry, body)
        with registry.lock:
            return handler(registry, body)

    def stop_all(self) -> None:
        """Stop every running deployment, in every region, and wait for its threads."""
        with self._regions_lock:
            registries = list(self.registries.values())
        for registry in registries:
            registry.stop_all()
