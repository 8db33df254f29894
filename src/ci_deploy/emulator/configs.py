"""Deployment configurations: the CodeDeployDefault.* built-ins and minimum-healthy-hosts math."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BUILT_IN_CREATE_TIME = 1_420_070_400.0  # the built-ins predate every user's resources


def _server(name: str, kind: str, value: int) -> dict[str, Any]:
    return {
        "deploymentConfigName": name,
        "minimumHealthyHosts": {"type": kind, "value": value},
        "computePlatform": "Server",
    }


def _traffic(platform: str, name: str, routing: dict[str, Any]) -> dict[str, Any]:
    return {
        "deploymentConfigName": name,
        "computePlatform": platform,
        "trafficRoutingConfig": routing,
    }


def _canary(percentage: int, minutes: int) -> dict[str, Any]:
    return {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": percentage, "canaryInterval": minutes},
    }


def _linear(percentage: int, minutes: int) -> dict[str, Any]:
    return {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": percentage, "linearInterval": minutes},
    }


_ALL_AT_ONCE = {"type": "AllAtOnce"}

# https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html
# GetDeploymentConfig answers MOST_CONCURRENCY/1 for OneAtATime, a type outside the API's own enum
# (documented under MinimumHealthyHosts in the API reference); we answer what the service answers.
BUILT_INS: tuple[dict[str, Any], ...] = (
    _server("CodeDeployDefault.OneAtATime", "MOST_CONCURRENCY", 1),
    _server("CodeDeployDefault.HalfAtATime", "FLEET_PERCENT", 50),
    _server("CodeDeployDefault.AllAtOnce", "HOST_COUNT", 0),
    _traffic("ECS", "CodeDeployDefault.ECSAllAtOnce", _ALL_AT_ONCE),
    _traffic("ECS", "CodeDeployDefault.ECSLinear10PercentEvery1Minutes", _linear(10, 1)),
    _traffic("ECS", "CodeDeployDefault.ECSLinear10PercentEvery3Minutes", _linear(10, 3)),
    _traffic("ECS", "CodeDeployDefault.ECSCanary10Percent5Minutes", _canary(10, 5)),
    _traffic("ECS", "CodeDeployDefault.ECSCanary10Percent15Minutes", _canary(10, 15)),
    _traffic("Lambda", "CodeDeployDefault.LambdaAllAtOnce", _ALL_AT_ONCE),
    _traffic("Lambda", "CodeDeployDefault.LambdaCanary10Percent5Minutes", _canary(10, 5)),
    _traffic("Lambda", "CodeDeployDefault.LambdaCanary10Percent10Minutes", _canary(10, 10)),
    _traffic("Lambda", "CodeDeployDefault.LambdaCanary10Percent15Minutes", _canary(10, 15)),
    _traffic("Lambda", "CodeDeployDefault.LambdaCanary10Percent30Minutes", _canary(10, 30)),
    _traffic("Lambda", "CodeDeployDefault.LambdaLinear10PercentEvery1Minute", _linear(10, 1)),
    _traffic("Lambda", "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes", _linear(10, 2)),
    _traffic("Lambda", "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes", _linear(10, 3)),
    _traffic("Lambda", "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes", _linear(10, 10)),
)

DEFAULT_CONFIG = {
    "Server": "CodeDeployDefault.OneAtATime",
    "ECS": "CodeDeployDefault.ECSAllAtOnce",
    "Lambda": "CodeDeployDefault.LambdaAllAtOnce",
}


@dataclass(frozen=True)
class HealthPlan:
    """How a fleet of ``fleet_size`` instances may be updated.

    ``minimum_healthy`` instances must stay healthy while others are taken offline; a pending
    instance (still on the old revision) and a succeeded one count as healthy, a running or
    failed one does not. The deployment succeeds when at least ``required_successes`` succeed.
    """

    fleet_size: int
    minimum_healthy: int

    @property
    def required_successes(self) -> int:
        return max(self.minimum_healthy, 1)

    def may_start_another(self, succeeded: int, pending: int) -> bool:
        """Taking one more pending instance offline keeps the minimum healthy."""
        return pending > 0 and succeeded + pending - 1 >= self.minimum_healthy

    def hopeless(self, succeeded: int, running: int, pending: int) -> bool:
        """Even if every running instance succeeds, no pending one could ever be started."""
        return pending > 0 and succeeded + running + pending - 1 < self.minimum_healthy


def health_plan(minimum_healthy_hosts: Mapping[str, Any], fleet_size: int) -> HealthPlan | None:
    """The plan for a fleet, or None when the configuration's minimum cannot be met at all
    (the service's HEALTH_CONSTRAINTS_INVALID).

    Percentages round up (the API reference's example: 40 % of nine instances keeps four healthy
    and deploys to up to five at a time). OneAtATime keeps all instances but one healthy, so a
    failure on the last instance still lets the deployment succeed.
    """
    kind = minimum_healthy_hosts.get("type")
    value = int(minimum_healthy_hosts.get("value", 0))
    if fleet_size <= 1:
        # A single instance is taken offline whatever the minimum (or the deployment could never
        # run); it must succeed for the deployment to succeed.
        if kind == "HOST_COUNT" and value >= 1 and fleet_size == 1:
            return None
        return HealthPlan(fleet_size, 0)
    if kind == "MOST_CONCURRENCY":
        return HealthPlan(fleet_size, fleet_size - 1)
    if kind == "FLEET_PERCENT":
        minimum = math.ceil(value * fleet_size / 100)
        return HealthPlan(fleet_size, min(minimum, fleet_size - 1))
    if value >= fleet_size:
        return None
    return HealthPlan(fleet_size, value)
