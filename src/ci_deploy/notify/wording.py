"""The wording every kind of payload shares: icon, headline, subject, summary, facts, links
and the failing event's lines."""

from __future__ import annotations

from ci_deploy.notify.message import Failure, Notification

_ICONS = {
    "start": "🚀",
    "Succeeded": "✅",
    "Failed": "❌",
    "Error": "❌",
    "Stopped": "⏹️",
    "Cancelled": "🚫",
    "Ready": "⏸️",
}
_ENDINGS = {
    "Succeeded": "succeeded",
    "Failed": "failed",
    "Error": "failed",
    "Stopped": "was stopped",
    "Cancelled": "was cancelled",
    "Ready": "is ready to reroute traffic",
}


def icon(notification: Notification) -> str:
    if notification.phase == "start":
        return _ICONS["start"]
    return _ICONS.get(str(notification.status), "⏳")


def headline(notification: Notification) -> str:
    """``Deployment started``, ``Rollback failed``, ``Deployment still InProgress: ...``."""
    noun = "Rollback" if notification.action == "rollback" else "Deployment"
    if notification.phase == "start":
        return f"{noun} started"
    status = str(notification.status)
    if status in _ENDINGS:
        return f"{noun} {_ENDINGS[status]}"
    return f"{noun} still {status}: ci-deploy stopped watching"


def subject(notification: Notification) -> str:
    """``web → prod``: the application and deployment group, as far as known."""
    parts = [p for p in (notification.application, notification.deployment_group) if p]
    return " → ".join(parts)


def where(notification: Notification) -> str:
    """``us-east-1 d-ABC, eu-west-1 d-DEF``: each deployment with its region."""
    if notification.deployment_ids:
        return ", ".join(f"{region} {did}".strip() for region, did in notification.deployment_ids)
    return ", ".join(notification.regions)


def summary(notification: Notification) -> str:
    """One line that says it all: the chat's notification text and the JSON's ``text``."""
    text = f"{icon(notification)} {headline(notification)}"
    if subject(notification):
        text += f": {subject(notification)}"
    if where(notification):
        text += f" ({where(notification)})"
    return text


def facts_of(notification: Notification) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if notification.application:
        facts.append(("Application", notification.application))
    if notification.deployment_group:
        facts.append(("Deployment group", notification.deployment_group))
    ids = notification.deployment_ids
    if len(ids) == 1:
        region, did = ids[0]
        if region:
            facts.append(("Region", region))
        facts.append(("Deployment", did))
    elif ids:
        facts.append(("Deployments", ", ".join(f"{region}: {did}" for region, did in ids)))
    elif notification.regions:
        facts.append(("Regions", ", ".join(notification.regions)))
    if notification.phase == "end" and notification.status:
        facts.append(("Status", notification.status))
    if notification.total_seconds is not None:
        facts.append(("Duration", f"{notification.total_seconds:.0f} s"))
    if notification.rollback_deployment_id:
        facts.append(("Rollback deployment", notification.rollback_deployment_id))
    if notification.commit:
        facts.append(("Commit", notification.commit))
    return facts


def failure_line(failure: Failure) -> str:
    """``ValidateService failed on i-1 (us-east-1), script scripts/validate.sh``."""
    where_ = f" ({failure.region})" if failure.region else ""
    text = f"{failure.lifecycle_event} failed on {failure.target_id}{where_}"
    if failure.script:
        text += f", script {failure.script}"
    return text


def failure_detail(failure: Failure) -> str | None:
    parts = [part for part in (failure.error_code, failure.message) if part]
    return ": ".join(parts) if parts else None


def links_of(notification: Notification) -> list[tuple[str, str]]:
    links = []
    if notification.console_url:
        links.append(("CodeDeploy console", notification.console_url))
    if notification.run_url:
        links.append(("CI run", notification.run_url))
    return links
