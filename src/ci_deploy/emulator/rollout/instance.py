"""One simulated instance of an EC2/on-premises deployment: fetch the bundle, run the real local
engine with the instance's root and state, and mirror its lifecycle events on the target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ci_deploy.agent import (
    ALL_EVENTS,
    BLOCK_TRAFFIC_EVENTS,
    DEFAULT_EVENTS,
    DeploymentResult,
    DeploymentSpec,
)
from ci_deploy.emulator.model import DeploymentGroup, LifecycleEvent, Target, diagnostics_info
from ci_deploy.emulator.revisions import S3Object, revision_key
from ci_deploy.emulator.rollout.state import Rollout
from ci_deploy.errors import CiDeployError
from ci_deploy.events import Event, LifecycleEventEnded, LifecycleEventStarted

# Service messages, worded as CodeDeploy words them.
HEALTH_CONSTRAINTS_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment, "
    "too few healthy instances are available for deployment, or some instances in your "
    "deployment group are experiencing problems."
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
    """Epoch seconds to the millisecond, the service's precision."""
    return round(value.timestamp(), 3) if value is not None else None


def fetch_bundle(rollout: Rollout) -> Bundle:
    deployment = rollout.deployment
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
    destination = rollout.registry.bundle_dir / deployment.deployment_id / f"bundle{suffix}"
    got = rollout.registry.bundles.download(wanted, destination)
    if isinstance(got, str):
        # The agent's GetObject raises; command_poller.rb reports the error's message alone.
        return Bundle(None, None, bundle_type, got)
    expected = location.get("eTag")
    if expected and expected.strip('"') != got.etag:
        # The agent compares the eTags with their quotes stripped and fails DownloadBundle in
        # its own words: the revision's eTag as given, S3's as S3 sends it (quoted).
        return Bundle(
            None,
            got,
            bundle_type,
            f'Expected deployment artifact bundle etag {expected} but was actually "{got.etag}"',
        )
    return Bundle(destination, got, bundle_type)


def server_events(group: DeploymentGroup, label: str | None) -> tuple[list[str], tuple[str, ...]]:
    """(events the target shows, events the engine runs) on an instance of ``group``."""
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


def launch(rollout: Rollout, target: Target, bundle: Bundle) -> None:
    """Start ``target`` (caller holds the lock)."""
    rollout.set_target(target, "InProgress")
    rollout.spawn(
        lambda: run_instance(rollout, target, bundle),
        f"{rollout.deployment.deployment_id}-{target.target_id}",
    )


def run_instance(rollout: Rollout, target: Target, bundle: Bundle) -> None:
    deployment = rollout.deployment
    instance = target.instance
    assert instance is not None
    if bundle.path is None:
        fail_download(rollout, target, bundle.problem or "The bundle could not be downloaded.")
        return
    _, engine_events = server_events(deployment.group, target.label)
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
        max_unpacked_size=rollout.runtime.max_unpacked_size,
        agent_diagnostics=True,
        bundle_type=bundle.bundle_type,
        bundle_env=bundle_env(bundle),
        base_env={
            **rollout.runtime.hook_env,
            "CI_DEPLOY_EMULATOR_INSTANCE": instance.instance_id,
            "CI_DEPLOY_EMULATOR_INSTANCE_INDEX": str(instance.index),
            "CI_DEPLOY_EMULATOR_ROOT": str(instance.root),
        },
    )
    try:
        result = rollout.runtime.engine(
            spec,
            lambda event: on_engine_event(rollout, target, event),
            target_id=target.target_id,
            cancel=target.cancel,
            event_delay_seconds=rollout.runtime.event_delay_seconds,
        )
    except CiDeployError as error:
        fail_current_event(rollout, target, str(error))
        return
    except Exception as error:  # noqa: BLE001 - an engine bug fails this instance only
        # The agent reports an unexpected exception by its message alone (command_poller.rb,
        # gather_diagnostics_from_error).
        fail_current_event(rollout, target, str(error))
        return
    with rollout.changed:
        apply_result(rollout, target, result)


def bundle_env(bundle: Bundle) -> Mapping[str, str]:
    if bundle.s3 is None:
        return {}
    env = {"BUNDLE_BUCKET": bundle.s3.bucket, "BUNDLE_KEY": bundle.s3.key}
    if bundle.s3.version and bundle.s3.version != "null":
        env["BUNDLE_VERSION"] = bundle.s3.version
    if bundle.s3.etag:
        env["BUNDLE_ETAG"] = bundle.s3.etag
    return env


def on_engine_event(rollout: Rollout, target: Target, event: Event) -> None:
    if isinstance(event, LifecycleEventStarted):
        if event.event_name == GATE_EVENT and target.label == "Green":
            wait_at_gate(rollout, target)  # Ready: rerouting starts with BeforeAllowTraffic
        with rollout.changed:
            mark_started(rollout, target, event.event_name)
    elif isinstance(event, LifecycleEventEnded):
        with rollout.changed:
            record = target.event(event.event_name)
            if record is not None:
                record.status = event.status
                if event.status != "Skipped":
                    record.end_time = rollout.now()
                if event.diagnostics is not None:
                    record.diagnostics = diagnostics_info(event.diagnostics)
                target.last_updated = rollout.now()
                rollout.changed.notify_all()


def mark_started(rollout: Rollout, target: Target, name: str) -> None:
    now = rollout.now()
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
    rollout.changed.notify_all()


def wait_at_gate(rollout: Rollout, target: Target) -> None:
    """A replacement instance holds before traffic is allowed until the deployment is
    continued (or immediately, when the group does not stop at Ready)."""
    with rollout.changed:
        rollout.at_gate.add(target.target_id)
        rollout.changed.notify_all()
    rollout.gate_open.wait()
    with rollout.changed:
        rollout.at_gate.discard(target.target_id)


def apply_result(rollout: Rollout, target: Target, result: DeploymentResult) -> None:
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
        target.instance.revision_key = revision_key(rollout.deployment.revision)
    for event in target.events:
        if event.name in SIMULATED_EVENTS and event.status in {"Pending", "InProgress"}:
            now = rollout.now()
            event.status = "Succeeded" if ok else "Skipped"
            event.start_time = event.start_time or (now if ok else None)
            event.end_time = now if ok else None
        elif event.status in {"Pending", "InProgress"}:
            event.status = "Skipped"
    align_simulated_events(target.events)
    rollout.set_target(target, "Succeeded" if ok else "Failed")


def align_simulated_events(events: list[LifecycleEvent]) -> None:
    """A load balancer step lies between the agent events around it: the agent's own clock
    timed those, so the step takes its times from theirs."""
    for before, step, after in zip(events, events[1:], events[2:], strict=False):
        if step.name in SIMULATED_EVENTS and step.status == "Succeeded":
            step.start_time = before.end_time or step.start_time
            step.end_time = after.start_time or step.end_time


def fail_download(rollout: Rollout, target: Target, message: str) -> None:
    with rollout.changed:
        now = rollout.now()
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
        rollout.set_target(target, "Failed")


def fail_current_event(rollout: Rollout, target: Target, message: str) -> None:
    with rollout.changed:
        now = rollout.now()
        current = next((e for e in target.events if e.status in {"InProgress", "Pending"}), None)
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
        rollout.set_target(target, "Failed")
