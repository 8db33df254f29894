"""Alarm monitoring: while a deployment runs, its group's CloudWatch alarms (moto's, in its
region) are polled; one in ALARM stops it with ``ALARM_ACTIVE`` (and rolls it back when the
group's auto-rollback lists ``DEPLOYMENT_STOP_ON_ALARM``)."""

from __future__ import annotations

from ci_deploy.emulator.fleets import alarm_states
from ci_deploy.emulator.rollout.state import Rollout

POLL_SECONDS = 0.1
ALARM_MESSAGE = (
    "The deployment was stopped because the CloudWatch alarm(s) {names} of the deployment "
    "group are in the ALARM state."
)
POLL_FAILURE_MESSAGE = (
    "The deployment was stopped because the state of the CloudWatch alarm(s) {names} could not "
    "be retrieved (set ignorePollAlarmFailure to continue regardless)."
)


def watch_alarms(rollout: Rollout) -> None:
    """Poll the group's alarms while the deployment runs, if its alarm configuration is
    enabled (caller holds the lock)."""
    config = rollout.deployment.group.settings.get("alarmConfiguration") or {}
    names = [str(a["name"]) for a in config.get("alarms") or [] if a.get("name")]
    if not config.get("enabled") or not names:
        return
    ignore_failure = bool(config.get("ignorePollAlarmFailure"))
    rollout.spawn(
        lambda: poll(rollout, names, ignore_failure),
        f"alarms-{rollout.deployment.deployment_id}",
    )


def poll(rollout: Rollout, names: list[str], ignore_failure: bool) -> None:
    deployment = rollout.deployment
    while True:
        with rollout.registry.lock:
            if deployment.terminal or deployment.stop_requested.is_set():
                return
            states = alarm_states(rollout.registry.region, names)
            active = [n for n in names if states.get(n) == "ALARM"]
            missing = [n for n in names if n not in states]
            if active:
                stop(rollout, ALARM_MESSAGE.format(names=", ".join(active)))
                return
            if missing and not ignore_failure:
                stop(rollout, POLL_FAILURE_MESSAGE.format(names=", ".join(missing)))
                return
        if deployment.stop_requested.wait(POLL_SECONDS):
            return


def stop(rollout: Rollout, message: str) -> None:
    """Stopped with ALARM_ACTIVE (caller holds the lock); rolled back if the group (or the
    deployment's own auto-rollback) lists DEPLOYMENT_STOP_ON_ALARM."""
    deployment = rollout.deployment
    config = deployment.auto_rollback or {}
    deployment.rollback_on_stop = bool(config.get("enabled")) and (
        "DEPLOYMENT_STOP_ON_ALARM" in (config.get("events") or [])
    )
    rollout.stop_reason = ("ALARM_ACTIVE", message)
    rollout.request_stop()
