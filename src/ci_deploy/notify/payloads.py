"""The payload each kind of hook takes: Slack Block Kit, a Microsoft Teams Adaptive Card, or
generic JSON (the notification's fields and the result object)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ci_deploy import __version__
from ci_deploy.notify.hooks import Kind
from ci_deploy.notify.message import Notification, clip
from ci_deploy.notify.wording import (
    facts_of,
    failure_detail,
    failure_line,
    headline,
    icon,
    links_of,
    subject,
    summary,
)

# ---------------------------------------------------------------------------------------------
# Slack: Block Kit through an incoming webhook

_SLACK_TEXT = 3000  # characters in a section's text (Block Kit reference)
_SLACK_HEADER = 150  # characters in a header block


def slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters: only &, < and > need escaping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_code(text: str) -> str:
    """Inline code: a backtick in the text would end it."""
    return "`" + slack_escape(text.replace("`", "'")) + "`"


def slack_payload(notification: Notification) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(f"{icon(notification)} {headline(notification)}", _SLACK_HEADER),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_slack_code(value)}"}
                for name, value in facts_of(notification)
            ][:10],  # a section holds at most 10 fields
        },
    ]
    if notification.error:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": slack_escape(notification.error)},
            }
        )
    failure = notification.failure
    if failure is not None:
        text = "*" + slack_escape(failure_line(failure)) + "*"
        detail = failure_detail(failure)
        if detail:
            text += "\n" + slack_escape(detail)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 2000)}})
        if failure.log_lines:
            body = "\n".join(failure.log_lines).replace("```", "'''")
            more = (
                f"\n… {failure.more_lines} more lines in the CI log" if failure.more_lines else ""
            )
            code = "```" + slack_escape(body) + "```" + more
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": clip(code, _SLACK_TEXT)}}
            )
    links = links_of(notification)
    if links:
        text = " · ".join(f"<{slack_escape(url)}|{name}>" for name, url in links)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return {"text": slack_escape(summary(notification)), "blocks": blocks}


# ---------------------------------------------------------------------------------------------
# Microsoft Teams: an Adaptive Card in a message (Workflows and incoming webhooks)

_TEAMS_COLORS = {"Succeeded": "Good", "Failed": "Attention", "Error": "Attention"}


def _run(text: str, **style: Any) -> dict[str, Any]:
    """A TextRun: shown as written, never read as Markdown."""
    return {"type": "TextRun", "text": text, **style}


def _rich(*runs: dict[str, Any], **style: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(runs), **style}


def teams_payload(notification: Notification) -> dict[str, Any]:
    color = (
        _TEAMS_COLORS.get(str(notification.status), "Warning")
        if notification.phase == "end"
        else "Accent"
    )
    title = f"{icon(notification)} {headline(notification)}"
    if subject(notification):
        title += f": {subject(notification)}"
    body: list[dict[str, Any]] = [
        _rich(_run(title, weight="Bolder", size="Medium", color=color)),
        {
            "type": "FactSet",
            "facts": [{"title": name, "value": value} for name, value in facts_of(notification)],
        },
    ]
    if notification.error:
        body.append(_rich(_run(notification.error)))
    failure = notification.failure
    if failure is not None:
        body.append(_rich(_run(failure_line(failure), weight="Bolder", color="Attention")))
        detail = failure_detail(failure)
        if detail:
            body.append(_rich(_run(detail)))
        if failure.log_lines:
            tail = "\n".join(failure.log_lines)
            if failure.more_lines:
                tail += f"\n… {failure.more_lines} more lines in the CI log"
            body.append(_rich(_run(tail, fontType="Monospace", size="Small")))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    links = links_of(notification)
    if links:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": name, "url": url} for name, url in links
        ]
    return {
        "type": "message",
        "summary": summary(notification),
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Generic JSON: the notification's fields and the result object


def json_payload(notification: Notification) -> dict[str, Any]:
    failure = notification.failure
    return {
        "source": "ci-deploy",
        "version": __version__,
        "phase": notification.phase,
        "action": notification.action,
        "text": summary(notification),
        "application": notification.application,
        "deployment_group": notification.deployment_group,
        "regions": list(notification.regions),
        "deployment_id": notification.deployment_ids[0][1] if notification.deployment_ids else None,
        # By region; a start whose region ci-deploy cannot name has only deployment_id.
        "deployment_ids": {region: did for region, did in notification.deployment_ids if region},
        "status": notification.status,
        "console_url": notification.console_url,
        "run_url": notification.run_url,
        "commit": notification.commit,
        "error": notification.error,
        "failure": (
            {
                "region": failure.region,
                "target_id": failure.target_id,
                "lifecycle_event": failure.lifecycle_event,
                "script": failure.script,
                "error_code": failure.error_code,
                "message": failure.message,
                "log_lines": list(failure.log_lines),
                "more_lines": failure.more_lines,
            }
            if failure is not None
            else None
        ),
        "result": notification.result,
    }


BUILDERS: Mapping[Kind, Callable[[Notification], dict[str, Any]]] = {
    "slack": slack_payload,
    "teams": teams_payload,
    "json": json_payload,
}


def payload(kind: Kind, notification: Notification) -> dict[str, Any]:
    return BUILDERS[kind](notification)
