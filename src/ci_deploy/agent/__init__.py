"""The local deployment engine: runs a revision's lifecycle on this host like the agent."""

from ci_deploy.agent.engine import run_deployment
from ci_deploy.agent.model import (
    ALL_EVENTS,
    BLOCK_TRAFFIC_EVENTS,
    DEFAULT_EVENTS,
    DeploymentResult,
    DeploymentSpec,
    LifecycleEventRecord,
)

__all__ = [
    "ALL_EVENTS",
    "BLOCK_TRAFFIC_EVENTS",
    "DEFAULT_EVENTS",
    "DeploymentResult",
    "DeploymentSpec",
    "LifecycleEventRecord",
    "run_deployment",
]
