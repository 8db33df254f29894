"""Running deployments: schedule simulated instances under the health rules, run the real local
engine on each, simulate ECS/Lambda traffic shifts, stop, continue and roll back."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ci_deploy.agent import (
    ALL_EVENTS,
    BLOCK_TRAFFIC_EVENTS,
    DEFAULT_EVENTS,
    DeploymentResult,
    DeploymentSpec,
)
from ci_deploy.emulator.configs import HealthPlan, health_plan
from ci_deploy.emulator.model import (
    Deployment,
    HookExecution,
    LifecycleEvent,
    Target,
    diagnostics_info,
)
from ci_deploy.emulator.registry import Registry
from ci_deploy.emulator.revisions import S3Object, revision_key
from ci_deploy.errors import CiDeployError
from ci_deploy.events import Event, LifecycleEventEnded, LifecycleEventStarted

# Service messages, worded as CodeDeploy words them.
HEALTH_CONSTRAINTS_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment, "
    "too few healthy instances are available for deployment, or some instances in your "
    "deployment group are experiencing problems."
)
NO_INSTANCES_MESSAGE = (
    "The deployment failed because no instances were found for your deployment group. Check "
    "your deployment group settings to make sure the tags for your Amazon EC2 instances or Auto "
    "Scaling groups correctly identify the instances you want to deploy to, and then try again."
)
MANUAL_STOP_MESSAGE = "The deployment was stopped by a user request."
READY_TIMEOUT_MESSAGE = (
    "The deployment was stopped because traffic was not rerouted to the replacement instances "
    "within the deployment group's deploymentReadyOption waitTimeInMinutes ({minutes}); "
    "continue a Ready deployment with ContinueDeployment (READY_WAIT) in time."
)
# The agent's own words when a GitHub tarball cannot be fetched (webfactory's issue #1: the
# application was not connected to GitHub, so the request carried no token and GitHub said 404).
GITHUB_DOWNLOAD_MESSAGE = (
    "Could not download bundle at 'https://api.github.com/repos/{repository}/tarball/{commit}' "
    "after 3 retries. Server returned codes: 404 'Not Found'; 404 'Not Found'; "
    "404 'Not Found'; 404 'Not Found'."
)
NOT_CONNECTED_TO_GITHUB_MESSAGE = (
    "The deployment failed because application {application} is not connected to GitHub: the "
    "instances could not download {repository} at commit {commit} (GitHub answered 404). "
    "Connect the application to your GitHub account (console: Create deployment, revision "
    "stored on GitHub, Connect to GitHub), or deploy an S3 revision instead (ci-deploy push "
    "uploads one). The emulator's applications are never connected to GitHub."
)

ECS_EVENTS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
LAMBDA_EVENTS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
BLUE_EVENTS = ("BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic")
# Events the service itself performs around the agent's (traffic through the load balancer).
SIMULATED_EVENTS = frozenset({"BlockTraffic", "AllowTraffic"})
GATE_EVENT = "BeforeAllowTraffic"  # blue/green replacement instances wait here while Ready


@dataclass(frozen=True)
class Bundle:
    path: Path | None  # None: it could not be downloaded (``problem`` says why)
    s3: S3Object | None
    bundle_type: str | None
    problem: str | None = None
    # The deployment's errorInformation when the instances fail because of the bundle
    # (otherwise the usual HEALTH_CONSTRAINTS).
    error: tuple[str, str] | None = None

    @property
    def failure(self) -> tuple[str, str]:
        return self.error or ("HEALTH_CONSTRAINTS", HEALTH_CONSTRAINTS_MESSAGE)


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class Rollout:
    """Drives one deployment from Created to a terminal status, in its own thread."""

    def __init__(
        self,
        registry: Registry,
        deployment: Deployment,
        on_finished: Callable[[Deployment], None],
    ) -> None:
        self.registry = registry
        self.runtime = registry.runtime
        self.deployment = deployment
        # Called with the deployment once it is terminal, under the lock (auto-rollback).
        self.on_finished = on_finished
        self.changed = threading.Condition(registry.lock)
        self.threads: list[threading.Thread] = []
        self.at_gate: set[str] = set()
        self.gate_open = threading.Event()
        # errorInformation of a Stopped deployment: a user's StopDeployment unless a wait ran out
        self.stop_reason = ("MANUAL_STOP", MANUAL_STOP_MESSAGE)

    # -- helpers -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.registry.clock()

    def pause(self) -> None:
        """The configured pacing between steps; a stop request cuts it short."""
        delay = self.runtime.event_delay_seconds
        if delay > 0:
            self.deployment.stop_requested.wait(delay)

    def set_target(self, target: Target, status: str) -> None:
        target.status = status
        target.last_updated = self.now()
        self.changed.notify_all()

    def request_stop(self) -> None:
        """Stop scheduling, kill running hooks (the engine kills the script's process group),
        release hooks and instances that wait (caller holds the lock)."""
        deployment = self.deployment
        deployment.stop_requested.set()
        for target in deployment.iter_targets():
            target.cancel.set()
        for hook in deployment.hooks.values():
            hook.reported.set()
        self.gate_open.set()
        self.changed.notify_all()

    def start(self) -> None:
        thread = threading.Thread(
            target=self.run, name=f"deployment-{self.deployment.deployment_id}", daemon=True
        )
        self.threads.append(thread)
        thread.start()

    def run(self) -> None:
        deployment = self.deployment
        try:
            self.pause()  # Created, for as long as the pacing says
            if deployment.compute_platform == "Server":
                self.run_server()
            else:
                self.run_traffic_shift()
        except Exception as error:  # noqa: BLE001 - a bug fails the deployment, never the server
            with self.registry.lock:
                self.finish("Failed", "INTERNAL_ERROR", f"emulator error: {error!r}")

    # -- finishing -----------------------------------------------------------------------------

    def finish(self, status: str, code: str | None = None, message: str | None = None) -> None:
        """Terminal status (caller holds the lock); then roll back if configured."""
        deployment = self.deployment
        if deployment.terminal:
            return
        if not deployment.targets_assigned:
            deployment.targets_assigned = True
        now = self.now()
        for target in deployment.targets.values():
            if target.status in {"Pending", "Ready"}:
                target.status = "Skipped"
                target.last_updated = now
            for event in target.events:
                if event.status in {"Pending", "InProgress"}:
                    event.status = "Skipped"
        deployment.status = status
        if deployment.start_time is None:
            deployment.start_time = now
        deployment.complete_time = now
        if code is not None:
            deployment.error = {"code": code, "message": message or ""}
        for hook in deployment.hooks.values():
            hook.reported.set()
        group = deployment.group
        group.last_attempted = deployment.last_deployment_info()
        if status == "Succeeded":
            group.last_successful = deployment.last_deployment_info()
            group.last_successful_revision = deployment.revision
        self.changed.notify_all()
        self.on_finished(deployment)

    # -- EC2/on-premises -----------------------------------------------------------------------

    def fetch_bundle(self) -> Bundle:
        deployment = self.deployment
        revision = deployment.revision
        if revision["revisionType"] == "GitHub":
            github = revision["gitHubLocation"]
            names = {
                "application": deployment.application,
                "repository": github["repository"],
                "commit": github["commitId"],
            }
            return Bundle(
                None,
                None,
                "tgz",
                GITHUB_DOWNLOAD_MESSAGE.format(**names),
                ("MISSING_GITHUB_TOKEN", NOT_CONNECTED_TO_GITHUB_MESSAGE.format(**names)),
            )
        location = revision["s3Location"]
        bundle_type = location.get("bundleType")
        wanted = S3Object(location["bucket"], location["key"], "", location.get("version"))
        suffix = {"zip": ".zip", "tar": ".tar", "tgz": ".tgz"}.get(bundle_type or "", ".bundle")
        destination = self.registry.bundle_dir / deployment.deployment_id / f"bundle{suffix}"
        got = self.registry.bundles.download(wanted, destination)
        if got is None:
            where = f"s3://{wanted.bucket}/{wanted.key}"
            return Bundle(None, None, bundle_type, f"The bundle {where} could not be downloaded.")
        expected = location.get("eTag")
        if expected and expected.strip('"') != got.etag:
            # The agent compares the eTag (quotes stripped) and fails DownloadBundle.
            return Bundle(
                None,
                got,
                bundle_type,
                f"The eTag of the downloaded bundle ({got.etag}) does not match the eTag of the "
                f"revision ({expected.strip(chr(34))}).",
            )
        return Bundle(destination, got, bundle_type)

    def server_events(self, label: str | None) -> tuple[list[str], tuple[str, ...]]:
        """(events the target shows, events the engine runs)."""
        group = self.deployment.group
        if label == "Green":
            shown = [*DEFAULT_EVENTS, "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
            return shown, (*DEFAULT_EVENTS, "BeforeAllowTraffic", "AfterAllowTraffic")
        if label == "Blue":
            return list(BLUE_EVENTS), BLOCK_TRAFFIC_EVENTS
        if group.has_load_balancer:
            shown = [
                "BeforeBlockTraffic",
                "BlockTraffic",
                "AfterBlockTraffic",
                *DEFAULT_EVENTS,
                "BeforeAllowTraffic",
                "AllowTraffic",
                "AfterAllowTraffic",
            ]
            return shown, ALL_EVENTS
        return list(DEFAULT_EVENTS), DEFAULT_EVENTS

    def run_server(self) -> None:
        registry, deployment = self.registry, self.deployment
        group = deployment.group
        with registry.lock:
            fleet = registry.fleet_of(group)
        if not fleet:
            with registry.lock:
                self.finish("Failed", "NO_INSTANCES", NO_INSTANCES_MESSAGE)
            return
        config = registry.config_info(deployment.config_name)
        plan = health_plan(config.get("minimumHealthyHosts") or {}, len(fleet))
        if plan is None:
            with registry.lock:
                self.finish(
                    "Failed",
                    "HEALTH_CONSTRAINTS_INVALID",
                    f"The deployment failed because the minimum number of healthy instances "
                    f"({config.get('minimumHealthyHosts')}) cannot be met by a deployment group "
                    f"of {len(fleet)} instance(s).",
                )
            return
        bundle = self.fetch_bundle()
        blue_green = group.blue_green
        with registry.lock:
            if blue_green:
                green = registry.replacement_fleet(group, len(fleet))
                for instance in green:
                    self.add_instance_target(instance, "Green")
                for instance in fleet:
                    self.add_instance_target(instance, "Blue")
            else:
                for instance in fleet:
                    self.add_instance_target(instance, None)
                if deployment.options.get("updateOutdatedInstancesOnly"):
                    self.skip_up_to_date()
            deployment.targets_assigned = True
            deployment.status = "InProgress"
            deployment.start_time = self.now()
            self.changed.notify_all()
        if blue_green:
            self.run_blue_green(plan, bundle)
        else:
            self.run_in_place(plan, bundle)

    def add_instance_target(self, instance: Any, label: str | None) -> None:
        shown, _ = self.server_events(label)
        target = Target(
            target_id=instance.instance_id,
            arn=instance.arn(self.registry.region),
            kind="InstanceTarget",
            events=[LifecycleEvent(name) for name in shown],
            last_updated=self.now(),
            label=label,
            instance=instance,
        )
        self.deployment.targets[instance.instance_id] = target

    def skip_up_to_date(self) -> None:
        """updateOutdatedInstancesOnly: an instance whose last successful deployment was of
        this very revision is Skipped, and stays healthy."""
        wanted = revision_key(self.deployment.revision)
        for target in self.deployment.targets.values():
            if target.instance is not None and target.instance.revision_key == wanted:
                target.status = "Skipped"
                for event in target.events:
                    event.status = "Skipped"

    def counts(self, targets: list[Target]) -> tuple[int, int, int]:
        """(healthy on the new revision, offline, still to do); a Skipped instance already
        runs this revision."""
        succeeded = sum(1 for t in targets if t.status in {"Succeeded", "Skipped"})
        running = sum(1 for t in targets if t.status in {"InProgress", "Ready"})
        pending = sum(1 for t in targets if t.status == "Pending")
        return succeeded, running, pending

    def run_in_place(self, plan: HealthPlan, bundle: Bundle) -> None:
        deployment = self.deployment
        targets = list(deployment.targets.values())
        hopeless = False
        with self.changed:
            while True:
                stopping = deployment.stop_requested.is_set()
                succeeded, running, pending = self.counts(targets)
                if not stopping and not hopeless:
                    hopeless = plan.hopeless(succeeded, running, pending)
                if not stopping and not hopeless:
                    while plan.may_start_another(succeeded, pending):
                        target = next(t for t in targets if t.status == "Pending")
                        self.launch(target, bundle)
                        pending -= 1
                        running += 1
                if running == 0 and (pending == 0 or stopping or hopeless):
                    break
                self.changed.wait()
            succeeded, _, _ = self.counts(targets)
            if deployment.stop_requested.is_set():
                self.finish("Stopped", *self.stop_reason)
            elif hopeless or succeeded < plan.required_successes:
                self.finish("Failed", *bundle.failure)
            else:
                self.finish("Succeeded")

    def run_blue_green(self, plan: HealthPlan, bundle: Bundle) -> None:
        """The replacement (Green) instances install the revision and hold before
        BeforeAllowTraffic while the deployment is Ready; once traffic is allowed on them, the
        original (Blue) instances run the last successful revision's Block-traffic hooks; then
        the originals wait out the termination wait (or TERMINATION_WAIT ends it)."""
        deployment = self.deployment
        group = deployment.group
        settings = group.settings.get("blueGreenDeploymentConfiguration") or {}
        green = [t for t in deployment.targets.values() if t.label == "Green"]
        blue = [t for t in deployment.targets.values() if t.label == "Blue"]
        ready_option = settings.get("deploymentReadyOption") or {}
        with self.changed:
            for target in green:
                self.launch(target, bundle)
            # Every replacement instance either waits at the traffic gate or has finished.
            while not deployment.stop_requested.is_set() and any(
                t.target_id not in self.at_gate and t.status == "InProgress" for t in green
            ):
                self.changed.wait()
            failed = sum(1 for t in green if t.status == "Failed")
            healthy_enough = len(green) - failed >= plan.required_successes
            if (
                healthy_enough
                and not deployment.stop_requested.is_set()
                and ready_option.get("actionOnTimeout") == "STOP_DEPLOYMENT"
            ):
                self.wait_ready(green, ready_option.get("waitTimeInMinutes"))
            if not healthy_enough:
                for target in green:
                    target.cancel.set()
            self.gate_open.set()
            self.wait_until_finished(green)
            if deployment.stop_requested.is_set():
                self.finish("Stopped", *self.stop_reason)
                return
            succeeded = sum(1 for t in green if t.status == "Succeeded")
            if succeeded < plan.required_successes:
                self.finish("Failed", *bundle.failure)
                return
            # Traffic now flows to the replacement fleet: the original one is blocked.
            for target in blue:
                self.launch(target, bundle)
            self.wait_until_finished(blue)
            self.registry.adopt_fleet(group, [t.instance for t in green if t.instance])
            if not deployment.stop_requested.is_set():
                blocked = [t for t in blue if t.status == "Failed"]
                if blocked:
                    self.finish(
                        "Failed",
                        "HEALTH_CONSTRAINTS",
                        f"The deployment failed because blocking traffic failed on "
                        f"{len(blocked)} original instance(s) "
                        f"({', '.join(t.target_id for t in blocked)}); traffic already flows "
                        "to the replacement instances.",
                    )
                    return
                self.wait_for_termination(settings.get("terminateBlueInstancesOnDeploymentSuccess"))
            if deployment.stop_requested.is_set():
                self.finish("Stopped", *self.stop_reason)
                return
            self.finish("Succeeded")

    def hold(self, release: threading.Event, minutes: float | None) -> bool:
        """Wait (caller holds the lock) until ``release`` is set or a stop is requested, for
        at most ``minutes`` (no limit when 0 or absent); False when the time ran out."""
        seconds = float(minutes or 0) * 60
        deadline = self.now() + seconds if seconds else None
        while not release.is_set() and not self.deployment.stop_requested.is_set():
            remaining = None if deadline is None else deadline - self.now()
            if remaining is not None and remaining <= 0:
                return False
            self.changed.wait(remaining)
        return True

    def wait_ready(self, green: list[Target], minutes: float | None) -> None:
        """Ready: the replacement instances wait for ContinueDeployment(READY_WAIT); not
        continued in time, the deployment is Stopped (actionOnTimeout STOP_DEPLOYMENT)."""
        deployment = self.deployment
        deployment.status = "Ready"
        for target in green:
            if target.target_id in self.at_gate:
                self.set_target(target, "Ready")
        if not self.hold(deployment.proceed, minutes):
            self.stop_reason = ("TIMEOUT", READY_TIMEOUT_MESSAGE.format(minutes=minutes))
            self.request_stop()
        if not deployment.stop_requested.is_set():
            deployment.status = "InProgress"
            for target in green:
                if target.status == "Ready":
                    self.set_target(target, "InProgress")

    def wait_for_termination(self, option: object) -> None:
        """The originals (instances, or the ECS task set) live on for
        terminationWaitTimeInMinutes before TERMINATE ends them; the deployment stays
        InProgress meanwhile, and ContinueDeployment(TERMINATION_WAIT) ends the wait early."""
        if not isinstance(option, Mapping) or option.get("action") != "TERMINATE":
            return
        minutes = option.get("terminationWaitTimeInMinutes") or 0
        if minutes <= 0:
            return
        self.deployment.termination_wait_started = True
        self.changed.notify_all()
        self.hold(self.deployment.skip_termination_wait, minutes)

    def wait_until_finished(self, targets: list[Target]) -> None:
        while any(t.status in {"InProgress", "Ready"} for t in targets):
            self.changed.wait()

    # -- one instance --------------------------------------------------------------------------

    def launch(self, target: Target, bundle: Bundle) -> None:
        """Start ``target`` (caller holds the lock)."""
        self.set_target(target, "InProgress")
        thread = threading.Thread(
            target=self.run_instance,
            args=(target, bundle),
            name=f"{self.deployment.deployment_id}-{target.target_id}",
            daemon=True,
        )
        self.threads.append(thread)
        thread.start()

    def run_instance(self, target: Target, bundle: Bundle) -> None:
        deployment = self.deployment
        instance = target.instance
        assert instance is not None
        if bundle.path is None:
            self.fail_download(target, bundle.problem or "The bundle could not be downloaded.")
            return
        _, engine_events = self.server_events(target.label)
        options = deployment.options
        spec = DeploymentSpec(
            source=bundle.path,
            application=deployment.application,
            deployment_group=deployment.group.name,
            deployment_group_id=deployment.group.group_id,
            deployment_id=deployment.deployment_id,
            state_dir=instance.state_dir,
            root=instance.root,
            events=engine_events,
            file_exists_behavior=options.get("fileExistsBehavior"),
            ignore_application_stop_failures=bool(options.get("ignoreApplicationStopFailures")),
            max_unpacked_size=self.runtime.max_unpacked_size,
            bundle_type=bundle.bundle_type,
            bundle_env=self.bundle_env(bundle),
            base_env={
                **self.runtime.hook_env,
                "CI_DEPLOY_EMULATOR_INSTANCE": instance.instance_id,
                "CI_DEPLOY_EMULATOR_INSTANCE_INDEX": str(instance.index),
                "CI_DEPLOY_EMULATOR_ROOT": str(instance.root),
            },
        )
        try:
            result = self.runtime.engine(
                spec,
                lambda event: self.on_engine_event(target, event),
                target_id=target.target_id,
                cancel=target.cancel,
                event_delay_seconds=self.runtime.event_delay_seconds,
            )
        except CiDeployError as error:
            self.fail_current_event(target, str(error))
            return
        except Exception as error:  # noqa: BLE001 - an engine bug fails this instance only
            self.fail_current_event(target, f"agent error: {error!r}")
            return
        with self.changed:
            self.apply_result(target, result)

    def bundle_env(self, bundle: Bundle) -> Mapping[str, str]:
        if bundle.s3 is None:
            return {}
        env = {"BUNDLE_BUCKET": bundle.s3.bucket, "BUNDLE_KEY": bundle.s3.key}
        if bundle.s3.version and bundle.s3.version != "null":
            env["BUNDLE_VERSION"] = bundle.s3.version
        if bundle.s3.etag:
            env["BUNDLE_ETAG"] = bundle.s3.etag
        return env

    def on_engine_event(self, target: Target, event: Event) -> None:
        if isinstance(event, LifecycleEventStarted):
            if event.event_name == GATE_EVENT and target.label == "Green":
                self.wait_at_gate(target)  # Ready: rerouting starts with BeforeAllowTraffic
            with self.changed:
                self.mark_started(target, event.event_name)
        elif isinstance(event, LifecycleEventEnded):
            with self.changed:
                record = target.event(event.event_name)
                if record is not None:
                    record.status = event.status
                    if event.status != "Skipped":
                        record.end_time = self.now()
                    if event.diagnostics is not None:
                        record.diagnostics = diagnostics_info(event.diagnostics)
                    target.last_updated = self.now()
                    self.changed.notify_all()

    def mark_started(self, target: Target, name: str) -> None:
        now = self.now()
        names = [event.name for event in target.events]
        if name in names:
            position = names.index(name)
            before = target.events[position - 1] if position else None
            if before is not None and before.name in SIMULATED_EVENTS:
                # The load balancer step between the two agent events has just happened.
                before.status, before.end_time = "Succeeded", now
                before.start_time = before.start_time or now
            record = target.events[position]
            record.status, record.start_time = "InProgress", now
        target.last_updated = now
        self.changed.notify_all()

    def wait_at_gate(self, target: Target) -> None:
        """A replacement instance holds before traffic is allowed until the deployment is
        continued (or immediately, when the group does not stop at Ready)."""
        with self.changed:
            self.at_gate.add(target.target_id)
            self.changed.notify_all()
        self.gate_open.wait()
        with self.changed:
            self.at_gate.discard(target.target_id)

    def apply_result(self, target: Target, result: DeploymentResult) -> None:
        for record in result.events:
            event = target.event(record.name)
            if event is None:
                continue
            event.status = record.status
            event.start_time = _epoch(record.start_time) or event.start_time
            event.end_time = _epoch(record.end_time) or event.end_time
            event.diagnostics = (
                diagnostics_info(record.diagnostics) if record.diagnostics is not None else None
            )
        ok = result.status == "Succeeded"
        if ok and target.instance is not None and target.label != "Blue":
            target.instance.revision_key = revision_key(self.deployment.revision)
        for event in target.events:
            if event.name in SIMULATED_EVENTS and event.status in {"Pending", "InProgress"}:
                now = self.now()
                event.status = "Succeeded" if ok else "Skipped"
                event.start_time = event.start_time or (now if ok else None)
                event.end_time = now if ok else None
            elif event.status in {"Pending", "InProgress"}:
                event.status = "Skipped"
        self.align_simulated_events(target.events)
        self.set_target(target, "Succeeded" if ok else "Failed")

    @staticmethod
    def align_simulated_events(events: list[LifecycleEvent]) -> None:
        """A load balancer step lies between the agent events around it: the agent's own clock
        timed those, so the step takes its times from theirs."""
        for before, step, after in zip(events, events[1:], events[2:], strict=False):
            if step.name in SIMULATED_EVENTS and step.status == "Succeeded":
                step.start_time = before.end_time or step.start_time
                step.end_time = after.start_time or step.end_time

    def fail_download(self, target: Target, message: str) -> None:
        with self.changed:
            now = self.now()
            for event in target.events:
                if event.name == "DownloadBundle":
                    event.status, event.start_time, event.end_time = "Failed", now, now
                    event.diagnostics = {
                        "errorCode": "UnknownError",
                        "scriptName": "",
                        "message": message,
                        "logTail": "",
                    }
                else:
                    event.status = "Skipped"
            self.set_target(target, "Failed")

    def fail_current_event(self, target: Target, message: str) -> None:
        with self.changed:
            now = self.now()
            current = next(
                (e for e in target.events if e.status in {"InProgress", "Pending"}), None
            )
            if current is not None:
                current.status = "Failed"
                current.start_time = current.start_time or now
                current.end_time = now
                current.diagnostics = {
                    "errorCode": "UnknownError",
                    "scriptName": "",
                    "message": message,
                    "logTail": "",
                }
            for event in target.events:
                if event.status in {"Pending", "InProgress"}:
                    event.status = "Skipped"
            self.set_target(target, "Failed")

    # -- ECS and Lambda ------------------------------------------------------------------------

    def run_traffic_shift(self) -> None:
        """Simulate the ECS task-set swap or the Lambda alias shift, reporting each lifecycle
        event on one target; hooks wait for PutLifecycleEventHookExecutionStatus."""
        registry, deployment = self.registry, self.deployment
        plan = deployment.traffic_plan
        with registry.lock:
            target = Target(
                target_id=plan["target_id"],
                arn=plan["target_arn"],
                kind=plan["kind"],
                events=[LifecycleEvent(name) for name in plan["events"]],
                last_updated=self.now(),
                extra=plan["extra"],
            )
            deployment.targets[target.target_id] = target
            deployment.targets_assigned = True
            deployment.status = "InProgress"
            deployment.start_time = self.now()
            self.set_target(target, "InProgress")
        hooks: Mapping[str, str] = plan["hooks"]
        for event in target.events:
            self.pause()
            with self.changed:
                if deployment.stop_requested.is_set():
                    break
                event.status, event.start_time = "InProgress", self.now()
                target.last_updated = self.now()
                self.changed.notify_all()
            function = hooks.get(event.name)
            status = "Succeeded"
            diagnostics: dict[str, Any] | None = None
            if function is not None:
                status, diagnostics = self.run_hook(target, event, function)
            with self.changed:
                if event.name in {"AllowTraffic", "Install"} and status == "Succeeded":
                    self.shift(target, event.name)
                event.status, event.end_time = status, self.now()
                event.diagnostics = diagnostics
                target.last_updated = self.now()
                self.changed.notify_all()
            if status != "Succeeded":
                break
        with self.changed:
            failed = any(event.status == "Failed" for event in target.events)
            if deployment.stop_requested.is_set():
                self.set_target(target, "Failed")
                self.finish("Stopped", *self.stop_reason)
            elif failed:
                self.set_target(target, "Failed")
                self.finish(
                    "Failed",
                    "HOOK_EXECUTION_FAILURE",
                    "The deployment failed because a lifecycle event hook reported Failed or "
                    "did not report in time.",
                )
            else:
                self.set_target(target, "Succeeded")
                if target.kind == "ECSTarget":  # the original task set waits for termination
                    settings = deployment.group.settings.get("blueGreenDeploymentConfiguration")
                    self.wait_for_termination(
                        (settings or {}).get("terminateBlueInstancesOnDeploymentSuccess")
                    )
                if deployment.stop_requested.is_set():
                    self.finish("Stopped", *self.stop_reason)
                else:
                    self.finish("Succeeded")

    def run_hook(
        self, target: Target, event: LifecycleEvent, function: str
    ) -> tuple[str, dict[str, Any] | None]:
        """Wait for the hook's PutLifecycleEventHookExecutionStatus, or report it succeeded
        at once when the emulator does not wait for hooks."""
        deployment = self.deployment
        execution = HookExecution(
            execution_id=str(uuid.uuid4()),
            deployment_id=deployment.deployment_id,
            event_name=event.name,
            function_name=function,
        )
        message = (
            f"Waiting for hook {function}: call PutLifecycleEventHookExecutionStatus with "
            f"lifecycleEventHookExecutionId {execution.execution_id}"
        )
        with self.changed:
            deployment.hooks[execution.execution_id] = execution
            event.diagnostics = {
                "errorCode": "Success",
                "scriptName": function,
                "message": message,
                "logTail": "",
            }
        if not self.runtime.wait_for_hooks:
            execution.status = "Succeeded"
            execution.reported.set()
        reported = execution.reported.wait(self.runtime.hook_timeout_seconds)
        done = {
            "errorCode": "Success",
            "scriptName": function,
            "message": f"Hook {function} reported {execution.status}",
            "logTail": "",
        }
        if deployment.stop_requested.is_set():
            return "Failed", {**done, "errorCode": "UnknownError", "message": "stopped"}
        if not reported or execution.status is None:
            return "Failed", {
                **done,
                "errorCode": "ScriptTimedOut",
                "message": f"Hook {function} did not call PutLifecycleEventHookExecutionStatus "
                f"within {self.runtime.hook_timeout_seconds:.0f} seconds",
            }
        if execution.status != "Succeeded":
            return "Failed", {**done, "errorCode": "ScriptFailed"}
        return "Succeeded", done

    def shift(self, target: Target, step: str) -> None:
        """Move the simulated traffic weights once the step is done."""
        if target.kind == "LambdaTarget" and step == "AllowTraffic":
            info = target.extra["lambdaFunctionInfo"]
            info["targetVersionWeight"] = 1.0
        elif target.kind == "ECSTarget":
            for task_set in target.extra["taskSetsInfo"]:
                if step == "Install" and task_set["taskSetLabel"] == "Green":
                    task_set["runningCount"] = task_set["desiredCount"]
                    task_set["pendingCount"] = 0
                if step == "AllowTraffic":
                    green = task_set["taskSetLabel"] == "Green"
                    task_set["trafficWeight"] = 100.0 if green else 0.0
