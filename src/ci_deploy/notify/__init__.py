"""Deployment notifications: build the start and end messages for Slack, Microsoft Teams and
generic JSON web hooks, and post them with requests (timeouts, bounded retries, no secrets shown).

Payload references:

- Slack incoming webhooks take ``{"text": fallback, "blocks": [...]}`` (Block Kit), answer 200
  ``ok``, and 4xx with a short error string (``invalid_payload``, ``channel_not_found``...), or
  429 with ``Retry-After`` when rate limited: https://api.slack.com/messaging/webhooks and
  https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks
- Microsoft Teams Workflows ("When a Teams webhook request is received") and the older incoming
  webhooks take ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "content": AdaptiveCard}]}``: MicrosoftDocs
  msteams-docs, webhooks-and-connectors/how-to/connectors-using.md ("Send Adaptive Cards using
  an Incoming Webhook"). Text we did not write (script names, log lines, error messages) goes
  into ``TextRun`` elements, which Teams never reads as Markdown.
- Any other URL gets one JSON object: the notification's fields and, at the end, the result
  object that ``ci-deploy`` prints on stdout.

A webhook URL is a secret (whoever holds it can post to the channel): nothing here puts one in a
message, an error or a warning. A hook is named by its position, kind and host only
(``notification 2 (slack, hooks.slack.com)``).
"""

from __future__ import annotations

from ci_deploy.notify.hooks import KINDS, Hook, Kind, kind_of, parse_hooks
from ci_deploy.notify.message import (
    LOG_LINE_CHARS,
    LOG_LINES,
    MESSAGE_CHARS,
    Failure,
    Notification,
    Phase,
    error_notification,
    from_result,
    run_link,
    short_commit,
    start_notification,
    tail_lines,
)
from ci_deploy.notify.payloads import (
    BUILDERS,
    json_payload,
    payload,
    slack_escape,
    slack_payload,
    teams_payload,
)
from ci_deploy.notify.posting import Delivery, Poster, PostPolicy, deliver, retry_after_seconds
from ci_deploy.notify.wording import (
    failure_detail,
    failure_line,
    headline,
    icon,
    subject,
    summary,
    where,
)

__all__ = [
    "BUILDERS",
    "KINDS",
    "LOG_LINES",
    "LOG_LINE_CHARS",
    "MESSAGE_CHARS",
    "Delivery",
    "Failure",
    "Hook",
    "Kind",
    "Notification",
    "Phase",
    "PostPolicy",
    "Poster",
    "deliver",
    "error_notification",
    "failure_detail",
    "failure_line",
    "from_result",
    "headline",
    "icon",
    "json_payload",
    "kind_of",
    "parse_hooks",
    "payload",
    "retry_after_seconds",
    "run_link",
    "short_commit",
    "slack_escape",
    "slack_payload",
    "start_notification",
    "subject",
    "summary",
    "tail_lines",
    "teams_payload",
    "where",
]
