"""The CodeDeploy service: one Registry, answered through the table of operations under its lock."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ci_deploy.agent import run_deployment
from ci_deploy.agent.environment import hook_base_env
from ci_deploy.emulator import protocol
from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.operations import OPERATIONS, SELF_LOCKING
from ci_deploy.emulator.registry import Engine, Registry, Runtime
from ci_deploy.emulator.revisions import WsgiApp


class Service:
    """All of the emulator's CodeDeploy state (``registry``), and the entry point of its API."""

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
        self.registry = Registry(
            state_dir=state_dir,
            s3_app=s3_app,
            region=region,
            instances=instances,
            runtime=Runtime(
                engine=run_deployment if engine is None else engine,
                # A PATH under what the caller gives; given nothing (deploy --emulator), hooks
                # start from the bare base local's hooks start from.
                hook_env={**hook_base_env({}), **(hook_env or {})},
                event_delay_seconds=event_delay_ms / 1000,
                wait_for_hooks=wait_for_hooks,
                hook_timeout_seconds=hook_timeout_seconds,
                max_unpacked_size=max_unpacked_size,
            ),
            clock=lambda: round(clock(), 3),  # the service's timestamps have milliseconds
        )

    def handle(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one request: its body type-checked, then its handler run under the
        registry's lock (a SELF_LOCKING handler takes the lock itself)."""
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException", f"The emulator does not implement {operation}."
            )
        protocol.check_input(operation, body)
        if operation in SELF_LOCKING:
            return handler(self.registry, body)
        with self.registry.lock:
            return handler(self.registry, body)

    def stop_all(self) -> None:
        """Stop every running deployment and wait for its threads (server shutdown)."""
        self.registry.stop_all()
