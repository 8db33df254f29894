"""The emulator's state: every resource, the simulated fleets and the lookups, behind one lock.

Operations and rollouts share one ``Registry``: they read and change it only while holding its
lock (the rollouts wait on conditions built on that same lock).
"""

from __future__ import annotations

import random
import string
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ci_deploy.agent import DeploymentResult
from ci_deploy.emulator import fleets
from ci_deploy.emulator.configs import BUILT_IN_CREATE_TIME, BUILT_INS
from ci_deploy.emulator.faults import ApiError, deployment_id, name
from ci_deploy.emulator.model import (
    Application,
    Deployment,
    DeploymentGroup,
    OnPremisesInstance,
    RegisteredRevision,
    SimulatedInstance,
)
from ci_deploy.emulator.revisions import BundleStore, WsgiApp

Engine = Callable[..., DeploymentResult]

# A shortcut: a tag filter with this key (KEY_AND_VALUE, value N) launches N EC2 instances of
# the group's own (tagged with it and the group's id) the first time it deploys.
INSTANCE_COUNT_TAG = "ci-deploy:instances"
MAX_INSTANCES = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Runtime:
    """How the simulated instances run deployments (the options of ``start()``)."""

    engine: Engine
    hook_env: Mapping[str, str]
    event_delay_seconds: float
    wait_for_hooks: bool
    hook_timeout_seconds: float
    max_unpacked_size: int | None


class Running(Protocol):
    """A deployment being rolled out: what operations need to wake, stop or wait for it."""

    deployment: Deployment
    changed: threading.Condition
    threads: list[threading.Thread]

    def request_stop(self) -> None: ...


def existing(value: T | None, code: str, message: str) -> T:
    """``value``, or the API error saying it does not exist."""
    if value is None:
        raise ApiError(code, message)
    return value


def check_tag_filters(filters: object) -> int | None:
    """Validate EC2/on-premises tag filters; return the simulated instance count they name."""
    if filters is None:
        return None
    if not isinstance(filters, list):
        raise ApiError("InvalidEC2TagException", "Tag filters must be a list.")
    count = None
    for entry in filters:
        if not isinstance(entry, Mapping):
            raise ApiError("InvalidEC2TagException", "Each tag filter must be a structure.")
        kind = entry.get("Type", "KEY_AND_VALUE")
        if kind not in ("KEY_ONLY", "VALUE_ONLY", "KEY_AND_VALUE"):
            raise ApiError("InvalidEC2TagException", f"The tag filter type {kind} is not valid.")
        if entry.get("Key") == INSTANCE_COUNT_TAG:
            value = str(entry.get("Value", ""))
            if kind != "KEY_AND_VALUE" or not value.isdigit() or int(value) > MAX_INSTANCES:
                raise ApiError(
                    "InvalidEC2TagException",
                    f"The emulator's {INSTANCE_COUNT_TAG} tag filter needs Type KEY_AND_VALUE "
                    f"and a Value from 0 to {MAX_INSTANCES} (got {value!r}).",
                )
            count = int(value)
    return count


def built_in_id(config_name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"codedeploy:{config_name}"))


class Registry:
    """All of the emulator's CodeDeploy state, behind one lock."""

    def __init__(
        self,
        *,
        state_dir: Path,
        s3_app: WsgiApp,
        region: str,
        instances: int,
        runtime: Runtime,
        clock: Callable[[], float],
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.region = region
        self.runtime = runtime
        self.state_dir = state_dir.resolve()
        self.bundle_dir = self.state_dir / "bundles"
        self.instance_dir = self.state_dir / "instances"
        self.bundles = BundleStore(s3_app)
        self.default_instances = instances
        self.applications: dict[str, Application] = {}
        self.groups: dict[tuple[str, str], DeploymentGroup] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.revisions: dict[str, dict[str, RegisteredRevision]] = {}
        self.deployments: dict[str, Deployment] = {}
        self.rollouts: dict[str, Running] = {}
        self.hosts: dict[str, SimulatedInstance] = {}
        self.on_premises: dict[str, OnPremisesInstance] = {}
        self.resource_tags: dict[str, dict[str, str]] = {}  # by resource ARN
        self.launched: list[str] = []
        self._random = random.SystemRandom()

    # -- lookups -------------------------------------------------------------------------------

    def application(self, body: Mapping[str, Any], key: str = "applicationName") -> Application:
        app_name = name(body, key, "Application")
        return existing(
            self.applications.get(app_name),
            "ApplicationDoesNotExistException",
            f"No application found for name: {app_name}",
        )

    def group(self, application: Application, group_name: str) -> DeploymentGroup:
        return existing(
            self.groups.get((application.name, group_name)),
            "DeploymentGroupDoesNotExistException",
            f"No Deployment Group found for name: {group_name}",
        )

    def deployment(self, body: Mapping[str, Any]) -> Deployment:
        identifier = deployment_id(body)
        return existing(
            self.deployments.get(identifier),
            "DeploymentDoesNotExistException",
            f"The deployment {identifier} could not be found.",
        )

    def config_info(self, config_name: str) -> dict[str, Any]:
        for built_in in BUILT_INS:
            if built_in["deploymentConfigName"] == config_name:
                return {
                    "deploymentConfigId": built_in_id(config_name),
                    "createTime": BUILT_IN_CREATE_TIME,
                    **built_in,
                }
        return existing(
            self.configs.get(config_name),
            "DeploymentConfigDoesNotExistException",
            f"No deployment configuration found for name: {config_name}",
        )

    def config_for(self, config_name: str, platform: str) -> dict[str, Any]:
        """The configuration, which must be one for ``platform``."""
        config = self.config_info(config_name)
        if config.get("computePlatform", "Server") != platform:
            raise ApiError(
                "InvalidDeploymentConfigNameException",
                f"The deployment configuration {config_name} is for the "
                f"{config.get('computePlatform')} compute platform, not {platform}.",
            )
        return config

    def active_in(self, group: DeploymentGroup) -> Deployment | None:
        return next(
            (d for d in self.deployments.values() if d.group is group and not d.terminal), None
        )

    def new_deployment_id(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        while True:
            candidate = "d-" + "".join(self._random.choice(alphabet) for _ in range(9))
            if candidate not in self.deployments:
                return candidate

    # -- fleets --------------------------------------------------------------------------------

    def host(self, instance_id: str, index: int, on_premises: bool = False) -> SimulatedInstance:
        """The simulated host of an EC2 or on-premises instance (one for every group it is in)."""
        key = f"on-premises/{instance_id}" if on_premises else instance_id
        instance = self.hosts.get(key)
        if instance is None:
            home = self.instance_dir / key
            instance = SimulatedInstance(
                instance_id, index, home / "root", home / "agent", on_premises=on_premises
            )
            instance.root.mkdir(parents=True, exist_ok=True)
            instance.state_dir.mkdir(parents=True, exist_ok=True)
            self.hosts[key] = instance
        instance.index = index
        return instance

    def launch(self, count: int, tags: Mapping[str, str]) -> list[str]:
        """Run ``count`` tagged EC2 instances here (terminated when the emulator stops)."""
        launched = fleets.launch(self.region, count, tags)
        self.launched.extend(launched)
        return launched

    def fleet_of(self, group: DeploymentGroup) -> list[SimulatedInstance]:
        """What CodeDeploy would deploy to now: the running instances the group's tag filters,
        tag set and Auto Scaling groups select (the ci-deploy:instances shortcut launches its
        own the first time), in launch order, less the originals a blue/green replaced."""
        count = None
        for key in ("ec2TagFilters", "onPremisesInstanceTagFilters"):
            tagged = check_tag_filters(group.settings.get(key))
            count = tagged if tagged is not None else count
        shortcut = group.group_id if count is not None else None
        if count is not None and not group.shortcut_launched:
            self.launch(count, {INSTANCE_COUNT_TAG: str(count), fleets.GROUP_TAG: group.group_id})
            group.shortcut_launched = True
        chosen = [
            i
            for i in fleets.ec2_fleet(self.region, group.settings, shortcut)
            if i not in group.retired
        ]
        on_premises = self.on_premises_fleet(group.settings)
        group.instances = [
            self.host(i, index, on_premises=i in on_premises)
            for index, i in enumerate(chosen + on_premises, start=1)
        ]
        return list(group.instances)

    def on_premises_fleet(self, settings: Mapping[str, Any]) -> list[str]:
        """The registered on-premises instances a group's tag filters or tag set select."""
        filters = [
            f
            for f in settings.get("onPremisesInstanceTagFilters") or []
            if isinstance(f, Mapping) and f.get("Key") != INSTANCE_COUNT_TAG
        ]
        tag_set = (settings.get("onPremisesTagSet") or {}).get("onPremisesTagSetList") or []
        return [
            instance.name
            for instance in self.on_premises.values()
            if instance.deregister_time is None
            and (
                (bool(filters) and fleets.selected_by(instance.tags, filters))
                or fleets.selected_by_set(instance.tags, tag_set)
            )
        ]

    def replacement_fleet(
        self, group: DeploymentGroup, size: int, deployment_id: str = ""
    ) -> list[SimulatedInstance]:
        """Blue/green: as many new instances. COPY_AUTO_SCALING_GROUP with an Auto Scaling
        group: a copy of it, CodeDeploy_<group>_<deployment id>, launches them; otherwise they
        are tagged like the group's first instance (so its filters select them from now on)."""
        blue_green = group.settings.get("blueGreenDeploymentConfiguration") or {}
        provisioning = blue_green.get("greenFleetProvisioningOption") or {}
        scaling_groups = group.settings.get("autoScalingGroups") or []
        if provisioning.get("action") == "COPY_AUTO_SCALING_GROUP" and scaling_groups:
            copy_name = f"CodeDeploy_{group.name}_{deployment_id}"
            launched = fleets.copy_scaling_group(
                self.region, str(scaling_groups[0]["name"]), copy_name, size
            )
            group.scaling_group_copy = copy_name
        else:
            tags = fleets.running_tags(self.region).get(
                group.instances[0].instance_id if group.instances else "", {}
            )
            launched = self.launch(size, tags)
        return [self.host(i, index) for index, i in enumerate(launched, start=1)]

    def adopt_fleet(self, group: DeploymentGroup, instances: list[SimulatedInstance]) -> None:
        """The replacement instances are the group's fleet; the originals leave it (and are
        terminated unless the group keeps them alive)."""
        kept = {i.instance_id for i in instances}
        originals = [i.instance_id for i in group.instances if i.instance_id not in kept]
        group.retired.update(originals)
        group.instances = instances
        settings = group.settings.get("blueGreenDeploymentConfiguration") or {}
        option = settings.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        terminate = option.get("action", "TERMINATE") == "TERMINATE"
        copy_name, group.scaling_group_copy = group.scaling_group_copy, None
        if copy_name is not None:
            # The copy is the group's Auto Scaling group now; the original goes with its fleet.
            replaced = [str(g["name"]) for g in group.settings.get("autoScalingGroups") or []]
            group.settings["autoScalingGroups"] = [{"name": copy_name}]
            if terminate:
                for name in replaced:
                    fleets.delete_scaling_group(self.region, name)
        if terminate:
            fleets.terminate(self.region, originals)

    # -- shutting down -------------------------------------------------------------------------

    def stop_all(self) -> None:
        """Stop every running deployment and wait for its threads (server shutdown)."""
        with self.lock:
            rollouts = list(self.rollouts.values())
            for rollout in rollouts:
                if not rollout.deployment.terminal:
                    rollout.request_stop()
        for rollout in rollouts:
            for thread in list(rollout.threads):
                thread.join(timeout=30)
        with self.lock:
            fleets.terminate(self.region, self.launched)
