"""Minimum-healthy-hosts arithmetic of the emulator's deployment configurations."""

from __future__ import annotations

import pytest

from ci_deploy.emulator.configs import health_plan


@pytest.mark.parametrize(
    ("minimum", "fleet", "healthy", "successes"),
    [
        # The API reference's examples: nine instances.
        ({"type": "HOST_COUNT", "value": 6}, 9, 6, 6),
        ({"type": "FLEET_PERCENT", "value": 40}, 9, 4, 4),
        ({"type": "FLEET_PERCENT", "value": 50}, 9, 5, 5),
        # OneAtATime keeps all but one healthy; one instance must simply succeed.
        ({"type": "MOST_CONCURRENCY", "value": 1}, 4, 3, 3),
        ({"type": "MOST_CONCURRENCY", "value": 1}, 1, 0, 1),
        # AllAtOnce succeeds when one instance does.
        ({"type": "HOST_COUNT", "value": 0}, 50, 0, 1),
    ],
)
def test_health_plans_follow_the_api_reference(
    minimum: dict[str, object], fleet: int, healthy: int, successes: int
) -> None:
    plan = health_plan(minimum, fleet)
    assert plan is not None
    assert (plan.minimum_healthy, plan.required_successes) == (healthy, successes)
    # "deploy to up to three instances at a time" for HOST_COUNT 6 of 9, five for 40 %.
    concurrency = 0
    while plan.may_start_another(0, fleet - concurrency):
        concurrency += 1
    assert concurrency == max(fleet - healthy, 1 if fleet == 1 else 0)


def test_a_host_count_the_fleet_cannot_keep_is_refused() -> None:
    assert health_plan({"type": "HOST_COUNT", "value": 3}, 3) is None
    assert health_plan({"type": "HOST_COUNT", "value": 1}, 1) is None
