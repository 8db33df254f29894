"""A deployment group's fleet as CodeDeploy selects it: the running EC2 instances of its region
matching its EC2 tag filters or tag set, and the in-service instances of its Auto Scaling groups
(moto's EC2 and Auto Scaling state, in this process); ``launch`` starts tagged EC2 instances."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from moto.backends import get_backend

from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.model import ACCOUNT_ID

# What the emulator launches its instances from (moto does not check AMIs by default).
IMAGE_ID = "ami-12c6146b"
# `--instances N` tags the N instances it launches in each region so; `deploy --emulator`'s
# group selects them by this tag.
DEMO_TAG = {"Name": "ci-deploy-emulator"}
# The ci-deploy:instances shortcut launches the group's own instances, tagged with its id.
GROUP_TAG = "ci-deploy:group"


def ec2(region: str) -> Any:
    """moto's EC2 of this account and region."""
    return get_backend("ec2")[ACCOUNT_ID][region]


def autoscaling(region: str) -> Any:
    """moto's Auto Scaling of this account and region."""
    return get_backend("autoscaling")[ACCOUNT_ID][region]


def known_region(region: str) -> bool:
    try:
        ec2(region)
    except KeyError:
        return False
    return True


def launch(region: str, count: int, tags: Mapping[str, str]) -> list[str]:
    """Run ``count`` EC2 instances tagged ``tags``; their ids, in launch order."""
    if count <= 0:
        return []
    reservation = ec2(region).run_instances(
        IMAGE_ID,
        count,
        None,
        [],
        is_instance_type_default=True,
        region_name=region,
        tags={"instance": dict(tags)},
    )
    return [instance.id for instance in reservation.instances]


def terminate(region: str, instance_ids: Sequence[str]) -> None:
    running = [i for i in instance_ids if i in running_tags(region)]
    if running:
        ec2(region).terminate_instances(running)


def running_tags(region: str) -> dict[str, dict[str, str]]:
    """Every running EC2 instance of the region (launch order) with its tags."""
    backend = ec2(region)
    return {
        instance.id: dict(backend.tags.get(instance.id, {}))
        for instance in backend.all_instances()
        if instance.state == "running"
    }


def matches(tags: Mapping[str, str], entry: Mapping[str, Any]) -> bool:
    """One EC2TagFilter / TagFilter: KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE."""
    kind = entry.get("Type") or "KEY_AND_VALUE"
    key, value = str(entry.get("Key") or ""), str(entry.get("Value") or "")
    if kind == "KEY_ONLY":
        return key in tags
    if kind == "VALUE_ONLY":
        return value in tags.values()
    return key in tags and tags[key] == value


def selected_by(tags: Mapping[str, str], filters: Iterable[Mapping[str, Any]]) -> bool:
    """Tag filters select an instance that matches any of them."""
    return any(matches(tags, entry) for entry in filters)


def selected_by_set(tags: Mapping[str, str], groups: Iterable[Iterable[Mapping[str, Any]]]) -> bool:
    """A tag set selects an instance that matches a filter of each of its groups."""
    listed = [list(group) for group in groups]
    return bool(listed) and all(selected_by(tags, group) for group in listed)


def ec2_fleet(region: str, settings: Mapping[str, Any], shortcut_group: str | None) -> list[str]:
    """The running instances a group's EC2 tag filters / tag set select (the shortcut group
    selects its own instances), then those of its Auto Scaling groups; launch order."""
    running = running_tags(region)
    filters = [f for f in settings.get("ec2TagFilters") or [] if isinstance(f, Mapping)]
    tag_set = (settings.get("ec2TagSet") or {}).get("ec2TagSetList") or []
    chosen: list[str] = []
    for instance_id, tags in running.items():
        if shortcut_group is not None:
            picked = tags.get(GROUP_TAG) == shortcut_group
        else:
            picked = (bool(filters) and selected_by(tags, filters)) or selected_by_set(
                tags, tag_set
            )
        if picked:
            chosen.append(instance_id)
    for instance_id in scaling_group_instances(region, settings):
        if instance_id in running and instance_id not in chosen:
            chosen.append(instance_id)
    return chosen


def scaling_group_instances(region: str, settings: Mapping[str, Any]) -> list[str]:
    groups = autoscaling(region).autoscaling_groups
    found: list[str] = []
    for entry in settings.get("autoScalingGroups") or []:
        group = groups.get(entry.get("name") if isinstance(entry, Mapping) else entry)
        if group is None:
            continue
        found.extend(
            s.instance.id for s in group.instance_states if s.lifecycle_state == "InService"
        )
    return found


def check_scaling_groups(region: str, names: Iterable[str]) -> None:
    """Every listed Auto Scaling group exists in the region."""
    groups = autoscaling(region).autoscaling_groups
    for group_name in names:
        if group_name not in groups:
            raise ApiError(
                "InvalidAutoScalingGroupException",
                f"The Auto Scaling group {group_name} does not exist in {region}.",
            )


def alarm_states(region: str, names: Iterable[str]) -> dict[str, str]:
    """The state (OK, ALARM, INSUFFICIENT_DATA) of each named CloudWatch alarm that exists."""
    alarms = get_backend("cloudwatch")[ACCOUNT_ID][region].alarms
    return {name: str(alarms[name].state_value) for name in names if name in alarms}


def publish(region: str, topic_arn: str, message: str) -> bool:
    """Publish to an SNS topic of the region (False when the topic does not exist)."""
    try:
        get_backend("sns")[ACCOUNT_ID][region].publish(message, arn=topic_arn)
    except Exception:  # noqa: BLE001 - moto's error for a missing or foreign topic varies
        return False
    return True


def copy_scaling_group(region: str, source_name: str, copy_name: str, size: int) -> list[str]:
    """Blue/green COPY_AUTO_SCALING_GROUP: a new Auto Scaling group launched like the source
    (its launch configuration or template, zones, sizes), ``size`` instances; their ids."""
    backend = autoscaling(region)
    source = backend.autoscaling_groups[source_name]
    template = {}
    if getattr(source, "ec2_launch_template", None) is not None:
        template = {
            "LaunchTemplateId": source.ec2_launch_template.id,
            "Version": source.launch_template_version,
        }
    backend.create_auto_scaling_group(
        name=copy_name,
        availability_zones=list(source.availability_zones or []),
        desired_capacity=size,
        max_size=max(size, int(source.max_size or 0)),
        min_size=min(size, int(source.min_size or 0)),
        launch_config_name=getattr(source, "launch_configuration_name", None) or "",
        launch_template=template,
        vpc_zone_identifier=source.vpc_zone_identifier,
        default_cooldown=None,
        health_check_period=None,
        health_check_type=None,
        load_balancers=[],
        target_group_arns=[],
        placement_group=None,
        termination_policies=[],
        tags=[],
    )
    copy = backend.autoscaling_groups[copy_name]
    return [state.instance.id for state in copy.instance_states]


def delete_scaling_group(region: str, name: str) -> None:
    backend = autoscaling(region)
    if name in backend.autoscaling_groups:
        backend.delete_auto_scaling_group(name)
