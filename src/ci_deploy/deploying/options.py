"""What the user asks of CreateDeployment, checked before anything is bundled or uploaded: names,
automatic rollback, replacement instances, and the description naming the commit and CI run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ci_deploy.aws.codedeploy import AutoRollback, DeploymentGroup, NewDeployment, TargetInstances
from ci_deploy.ci_env import CiEnvironment
from ci_deploy.errors import InputError, InputValueError
from ci_deploy.vocabulary import (
    NAME_PATTERN,
    NAME_RULE,
    ROLLBACK_ON_ALARM,
    ROLLBACK_ON_FAILURE,
    ROLLBACK_ON_REQUEST,
)

DESCRIPTION_MAX_CHARS = 256
_AUTO_ROLLBACK_EVENTS = {
    "failure": ROLLBACK_ON_FAILURE,
    "stop-on-alarm": ROLLBACK_ON_ALARM,
    "stop-on-request": ROLLBACK_ON_REQUEST,
}


@dataclass(frozen=True)
class DeploymentOptions:
    """The CreateDeployment options a user sets (None: the group's own setting)."""

    application: str
    deployment_group: str
    deployment_config: str | None = None
    description: str | None = None
    file_exists_behavior: str | None = None
    ignore_application_stop_failures: bool = False
    auto_rollback: tuple[str, ...] = ()
    update_outdated_instances_only: bool = False
    wait_for_active: bool = True
    target_instances: tuple[str, ...] = ()


def default_description(ci: CiEnvironment) -> str | None:
    """Names the commit and the CI run when the environment says (GitHub, GitLab, Jenkins)."""
    commit, run = ci.commit, ci.run_url
    parts = []
    if commit:
        parts.append(f"commit {commit[:12]}")
    if run:
        parts.append(f"run {run}")
    if not parts:
        return None
    return truncate_description("ci-deploy: " + ", ".join(parts))


def truncate_description(text: str) -> str:
    if len(text) <= DESCRIPTION_MAX_CHARS:
        return text
    return text[: DESCRIPTION_MAX_CHARS - 1] + "…"


def auto_rollback(choices: Sequence[str]) -> AutoRollback | None:
    """``--auto-rollback failure,stop-on-alarm`` / ``none`` (None: keep the group's setting)."""
    if not choices:
        return None
    if "none" in choices:
        if len(choices) > 1:
            raise InputError(
                "input auto_rollback: 'none' (--no-auto-rollback) cannot be combined with events",
                hint="pass --no-auto-rollback (or --auto-rollback none) to disable it, or a list "
                "of failure, stop-on-alarm, stop-on-request",
            )
        return AutoRollback(enabled=False)
    events = sorted({_AUTO_ROLLBACK_EVENTS[choice] for choice in choices})
    return AutoRollback(enabled=True, events=tuple(events))


def target_instances(items: Sequence[str]) -> TargetInstances | None:
    """``--target-instances asg:web-asg,tag:Role=web``: the replacement instances."""
    if not items:
        return None
    groups: list[str] = []
    tags: list[tuple[str, str]] = []
    for item in items:
        kind, _, rest = item.partition(":")
        key, equals, value = rest.partition("=")
        if kind == "asg" and rest:
            groups.append(rest)
        elif kind == "tag" and equals and key:
            tags.append((key, value))
        else:
            raise InputError(
                f"input target_instances: expected asg:NAME or tag:KEY=VALUE, got {item!r}",
                hint="e.g. --target-instances asg:web-asg or --target-instances tag:Role=web",
            )
    return TargetInstances(auto_scaling_groups=tuple(groups), tags=tuple(tags))


def check_options(options: DeploymentOptions) -> None:
    """Parse the options that can be wrong before anything is bundled or uploaded."""
    for input_name in ("application", "deployment_group", "deployment_config"):
        value = getattr(options, input_name)
        if value is not None and not NAME_PATTERN.fullmatch(value):
            raise InputValueError(input_name, NAME_RULE, value)
    auto_rollback(options.auto_rollback)
    target_instances(options.target_instances)


def check_target_instances(options: DeploymentOptions, group: DeploymentGroup) -> None:
    if options.target_instances and not group.blue_green:
        raise InputError(
            f"input target_instances: deployment group '{group.name}' deploys in place; "
            "replacement instances apply to blue/green groups",
            hint="drop --target-instances, or deploy to a blue/green group",
        )


def new_deployment(options: DeploymentOptions, revision: Mapping[str, Any]) -> NewDeployment:
    """What CreateDeployment is asked for ``revision`` (the options were checked already)."""
    return NewDeployment(
        application=options.application,
        deployment_group=options.deployment_group,
        revision=revision,
        deployment_config=options.deployment_config,
        description=options.description,
        file_exists_behavior=options.file_exists_behavior,
        ignore_application_stop_failures=options.ignore_application_stop_failures,
        auto_rollback=auto_rollback(options.auto_rollback),
        update_outdated_instances_only=options.update_outdated_instances_only,
        target_instances=target_instances(options.target_instances),
    )
