"""EC2/on-premises deployments: the group's fleet becomes targets, updated in place under the
health plan, or blue/green (replacements install, wait Ready, take the traffic; the originals
block it and wait for termination)."""

from __future__ import annotations

from ci_deploy.emulator.configs import HealthPlan, health_plan
from ci_deploy.emulator.model import LifecycleEvent, SimulatedInstance, Target
from ci_deploy.emulator.revisions import revision_key
from ci_deploy.emulator.rollout.instance import Bundle, fetch_bundle, launch, server_events
from ci_deploy.emulator.rollout.state import Rollout

NO_INSTANCES_MESSAGE = (
    "The deployment failed because no instances were found for your deployment group. Check "
    "your deployment group settings to make sure the tags for your Amazon EC2 instances or Auto "
    "Scaling groups correctly identify the instances you want to deploy to, and then try again."
)
READY_TIMEOUT_MESSAGE = (
    "The deployment was stopped because traffic was not rerouted to the replacement instances "
    "within the deployment group's deploymentReadyOption waitTimeInMinutes ({minutes}); "
    "continue a Ready deployment with ContinueDeployment (READY_WAIT) in time."
)


def run_server(rollout: Rollout) -> None:
    """The group's fleet (and, blue/green, as many replacements) become targets; then the
    deployment runs in place or blue/green."""
    registry, deployment = rollout.registry, rollout.deployment
    group = deployment.group
    with registry.lock:
        fleet = registry.fleet_of(group)
    if not fleet:
        with registry.lock:
            rollout.finish("Failed", "NO_INSTANCES", NO_INSTANCES_MESSAGE)
        return
    config = registry.config_info(deployment.config_name)
    plan = health_plan(config.get("minimumHealthyHosts") or {}, len(fleet))
    if plan is None:
        with registry.lock:
            rollout.finish(
                "Failed",
                "HEALTH_CONSTRAINTS_INVALID",
                f"The deployment failed because the minimum number of healthy instances "
                f"({config.get('minimumHealthyHosts')}) cannot be met by a deployment group "
                f"of {len(fleet)} instance(s).",
            )
        return
    bundle = fetch_bundle(rollout)
    blue_green = group.blue_green
    with registry.lock:
        if blue_green:
            green = registry.replacement_fleet(group, len(fleet), deployment.deployment_id)
            for instance in green:
                add_instance_target(rollout, instance, "Green")
            for instance in fleet:
                add_instance_target(rollout, instance, "Blue")
        else:
            for instance in fleet:
                add_instance_target(rollout, instance, None)
            if deployment.options.get("updateOutdatedInstancesOnly"):
                skip_up_to_date(rollout)
        deployment.targets_assigned = True
        deployment.status = "InProgress"
        deployment.start_time = rollout.now()
        rollout.notify("DeploymentStart")
        rollout.changed.notify_all()
    if blue_green:
        run_blue_green(rollout, plan, bundle)
    else:
        run_in_place(rollout, plan, bundle)


def add_instance_target(rollout: Rollout, instance: SimulatedInstance, label: str | None) -> None:
    shown, _ = server_events(rollout.deployment.group, label)
    target = Target(
        target_id=instance.instance_id,
        arn=instance.arn(rollout.registry.region),
        kind="InstanceTarget",
        events=[LifecycleEvent(name) for name in shown],
        last_updated=rollout.now(),
        label=label,
        instance=instance,
    )
    rollout.deployment.targets[instance.instance_id] = target


def skip_up_to_date(rollout: Rollout) -> None:
    """updateOutdatedInstancesOnly: an instance whose last successful deployment was of
    this very revision is Skipped, and stays healthy."""
    wanted = revision_key(rollout.deployment.revision)
    for target in rollout.deployment.targets.values():
        if target.instance is not None and target.instance.revision_key == wanted:
            target.status = "Skipped"
            for event in target.events:
                event.status = "Skipped"


def counts(targets: list[Target]) -> tuple[int, int, int]:
    """(healthy on the new revision, offline, still to do); a Skipped instance already
    runs this revision."""
    succeeded = sum(1 for t in targets if t.status in {"Succeeded", "Skipped"})
    running = sum(1 for t in targets if t.status in {"InProgress", "Ready"})
    pending = sum(1 for t in targets if t.status == "Pending")
    return succeeded, running, pending


def run_in_place(rollout: Rollout, plan: HealthPlan, bundle: Bundle) -> None:
    deployment = rollout.deployment
    targets = list(deployment.targets.values())
    hopeless = False
    with rollout.changed:
        while True:
            stopping = deployment.stop_requested.is_set()
            succeeded, running, pending = counts(targets)
            if not stopping and not hopeless:
                hopeless = plan.hopeless(succeeded, running, pending)
            if not stopping and not hopeless:
                while plan.may_start_another(succeeded, pending):
                    target = next(t for t in targets if t.status == "Pending")
                    launch(rollout, target, bundle)
                    pending -= 1
                    running += 1
            if running == 0 and (pending == 0 or stopping or hopeless):
                break
            rollout.changed.wait()
        succeeded, _, _ = counts(targets)
        if deployment.stop_requested.is_set():
            rollout.finish("Stopped", *rollout.stop_reason)
        elif hopeless or succeeded < plan.required_successes:
            rollout.finish("Failed", *bundle.failure)
        else:
            rollout.finish("Succeeded")


def run_blue_green(rollout: Rollout, plan: HealthPlan, bundle: Bundle) -> None:
    """The replacement (Green) instances install the revision and hold before
    BeforeAllowTraffic while the deployment is Ready; once traffic is allowed on them, the
    original (Blue) instances run the last successful revision's Block-traffic hooks; then
    the originals wait out the termination wait (or TERMINATION_WAIT ends it)."""
    deployment = rollout.deployment
    group = deployment.group
    settings = group.settings.get("blueGreenDeploymentConfiguration") or {}
    green = [t for t in deployment.targets.values() if t.label == "Green"]
    blue = [t for t in deployment.targets.values() if t.label == "Blue"]
    ready_option = settings.get("deploymentReadyOption") or {}
    with rollout.changed:
        for target in green:
            launch(rollout, target, bundle)
        # Every replacement instance either waits at the traffic gate or has finished.
        while not deployment.stop_requested.is_set() and any(
            t.target_id not in rollout.at_gate and t.status == "InProgress" for t in green
        ):
            rollout.changed.wait()
        failed = sum(1 for t in green if t.status == "Failed")
        healthy_enough = len(green) - failed >= plan.required_successes
        if (
            healthy_enough
            and not deployment.stop_requested.is_set()
            and ready_option.get("actionOnTimeout") == "STOP_DEPLOYMENT"
        ):
            wait_ready(rollout, green, ready_option.get("waitTimeInMinutes"))
        if not healthy_enough:
            for target in green:
                target.cancel.set()
        rollout.gate_open.set()
        rollout.wait_until_finished(green)
        if deployment.stop_requested.is_set():
            rollout.finish("Stopped", *rollout.stop_reason)
            return
        succeeded = sum(1 for t in green if t.status == "Succeeded")
        if succeeded < plan.required_successes:
            rollout.finish("Failed", *bundle.failure)
            return
        # Traffic now flows to the replacement fleet: the original one is blocked.
        for target in blue:
            launch(rollout, target, bundle)
        rollout.wait_until_finished(blue)
        rollout.registry.adopt_fleet(group, [t.instance for t in green if t.instance])
        if not deployment.stop_requested.is_set():
            blocked = [t for t in blue if t.status == "Failed"]
            if blocked:
                rollout.finish(
                    "Failed",
                    "HEALTH_CONSTRAINTS",
                    f"The deployment failed because blocking traffic failed on "
                    f"{len(blocked)} original instance(s) "
                    f"({', '.join(t.target_id for t in blocked)}); traffic already flows "
                    "to the replacement instances.",
                )
                return
            rollout.wait_for_termination(settings.get("terminateBlueInstancesOnDeploymentSuccess"))
        if deployment.stop_requested.is_set():
            rollout.finish("Stopped", *rollout.stop_reason)
            return
        rollout.finish("Succeeded")


def wait_ready(rollout: Rollout, green: list[Target], minutes: float | None) -> None:
    """Ready: the replacement instances wait for ContinueDeployment(READY_WAIT); not
    continued in time, the deployment is Stopped (actionOnTimeout STOP_DEPLOYMENT)."""
    deployment = rollout.deployment
    deployment.status = "Ready"
    rollout.notify("DeploymentReady")
    for target in green:
        if target.target_id in rollout.at_gate:
            rollout.set_target(target, "Ready")
    if not rollout.hold(deployment.proceed, minutes):
        rollout.stop_reason = ("TIMEOUT", READY_TIMEOUT_MESSAGE.format(minutes=minutes))
        rollout.request_stop()
    if not deployment.stop_requested.is_set():
        deployment.status = "InProgress"
        for target in green:
            if target.status == "Ready":
                rollout.set_target(target, "InProgress")
