"""Starting a rollout: its thread runs the deployment on the platform's path, and a bug in the
emulator fails the deployment, never the server."""

from __future__ import annotations

from collections.abc import Callable

from ci_deploy.emulator.model import Deployment
from ci_deploy.emulator.registry import Registry
from ci_deploy.emulator.rollout.fleet import run_server
from ci_deploy.emulator.rollout.state import Rollout
from ci_deploy.emulator.rollout.traffic import run_traffic_shift


def start_rollout(
    registry: Registry, deployment: Deployment, on_finished: Callable[[Deployment], None]
) -> Rollout:
    """Roll ``deployment`` out in its own thread (caller holds the lock); ``on_finished`` is
    called with it, under the lock, once it is terminal."""
    rollout = Rollout(registry, deployment, on_finished)
    registry.rollouts[deployment.deployment_id] = rollout
    rollout.spawn(lambda: run(rollout), f"deployment-{deployment.deployment_id}")
    return rollout


def run(rollout: Rollout) -> None:
    """The rollout's thread: Created for the pacing delay, then the platform's path."""
    deployment = rollout.deployment
    try:
        rollout.pause()  # Created, for as long as the pacing says
        if deployment.compute_platform == "Server":
            run_server(rollout)
        else:
            run_traffic_shift(rollout)
    except Exception as error:  # noqa: BLE001 - a bug fails the deployment, never the server
        with rollout.registry.lock:
            rollout.finish("Failed", "INTERNAL_ERROR", f"emulator error: {error!r}")
