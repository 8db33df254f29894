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

import email.utils
import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from ci_deploy import __version__
from ci_deploy.ci_env import CiEnvironment
from ci_deploy.errors import InputError

Kind = Literal["slack", "teams", "json"]
Phase = Literal["start", "end"]

KINDS: tuple[Kind, ...] = ("slack", "teams", "json")

# The end message shows this many lines from the start of the failing event's log tail, each cut
# to LOG_LINE_CHARS; the CI log and the result JSON carry the whole tail.
LOG_LINES = 10
LOG_LINE_CHARS = 200
MESSAGE_CHARS = 500

# ---------------------------------------------------------------------------------------------
# Hooks: where to post, and of which kind


@dataclass(frozen=True)
class Hook:
    """One web hook: its position in the input (from 1), its kind and its URL (a secret)."""

    index: int
    kind: Kind
    url: str = field(repr=False)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def label(self) -> str:
        """How messages name the hook: never its path or query, which carry the token."""
        return f"notification {self.index} ({self.kind}, {self.host})"

    def secrets(self) -> tuple[str, ...]:
        """The strings to mask in a CI log: the URL, and its path and query (the token), which
        an error message could show without the host."""
        parts = urlsplit(self.url)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        return (self.url, tail) if len(tail) >= 8 else (self.url,)


_TEAMS_HOST_SUFFIXES = (
    ".webhook.office.com",  # Microsoft 365 connectors' incoming webhooks
    ".logic.azure.com",  # Workflows (Power Automate) HTTP triggers
    ".powerplatform.com",
    ".powerautomate.com",
)


def kind_of(url: str) -> Kind:
    """The kind a URL's host implies: Slack, Teams (connectors and Workflows), else JSON."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if host in ("hooks.slack.com", "hooks.slack-gov.com"):
        return "slack"
    if host.endswith(_TEAMS_HOST_SUFFIXES) or "/powerautomate/" in parts.path.lower():
        return "teams"
    return "json"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_HINT = (
    "give each hook as [slack:|teams:|json:]https://HOST/PATH in CI_DEPLOY_NOTIFY (or the "
    "adapters' notify input), several separated by commas or newlines; the value is not shown "
    "here because a webhook URL is a secret"
)


def parse_hooks(items: Sequence[str]) -> tuple[Hook, ...]:
    """The hooks of the ``notify`` input: ``[KIND:]URL`` each. Bad input names the hook by its
    position and says what is wrong, never what it holds."""
    hooks: list[Hook] = []
    for index, item in enumerate(items, start=1):
        text = item.strip()
        head, colon, rest = text.partition(":")
        explicit = head.lower() if colon and head.lower() in KINDS else None
        url = rest.strip() if explicit else text
        problem = _url_problem(url)
        if problem:
            raise InputError(f"input notify: hook {index} {problem}", hint=_HINT)
        kind = next((known for known in KINDS if known == explicit), kind_of(url))
        hooks.append(Hook(index, kind, url))
    return tuple(hooks)


def _url_problem(url: str) -> str | None:
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        return "holds whitespace or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return "is not a URL"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f" '{scheme}'" if re.fullmatch(r"[a-z][a-z0-9+.-]{0,9}", scheme) else ""
        return (
            f"is not an https:// URL (scheme{shown or ' missing'}; a kind prefix is slack:, "
            "teams: or json:)"
        )
    if not host:
        return "has no host"
    if scheme == "http" and not _is_loopback(host):
        return "is a plain http:// URL: its token would cross the network unencrypted; use https://"
    return None


# ---------------------------------------------------------------------------------------------
# What a notification says


@dataclass(frozen=True)
class Failure:
    """Why the deployment failed, from its first failing target: where, which lifecycle event
    and script, the agent's error code and message, and the first lines of the log tail."""

    region: str | None
    target_id: str
    lifecycle_event: str
    script: str | None
    error_code: str | None
    message: str | None
    log_lines: tuple[str, ...] = ()
    more_lines: int = 0


@dataclass(frozen=True)
class Notification:
    """One message: the start of a deployment (one per deployment created) or the end of the
    run (its result, or the error that stopped it). ``result`` is the result object ci-deploy
    prints, sent as is to JSON hooks (None at the start, or when the run stopped without one)."""

    phase: Phase
    action: str  # deploy, rollback or wait
    application: str | None = None
    deployment_group: str | None = None
    regions: tuple[str, ...] = ()
    deployment_ids: tuple[tuple[str, str], ...] = ()  # (region, deployment id)
    status: str | None = None
    console_url: str | None = None
    run_url: str | None = None
    commit: str | None = None
    total_seconds: float | None = None
    error: str | None = None
    failure: Failure | None = None
    rollback_deployment_id: str | None = None
    result: Mapping[str, Any] | None = None


_URL_SAFE = re.compile(r"https?://[^\s<>|`\"]+")


def _safe_url(value: object) -> str | None:
    """An http(s) link from the environment or the result that fits in every payload's link
    syntax (Slack's ``<url|text>``), else None."""
    text = str(value or "")
    return text if _URL_SAFE.fullmatch(text) else None


def run_link(ci: CiEnvironment) -> str | None:
    """The page with the job's log (GitHub's run attempt, GitLab's job, Jenkins' build), when it
    fits every payload's link syntax."""
    return _safe_url(ci.log_url)


def short_commit(ci: CiEnvironment) -> str | None:
    """The commit's first 12 hex digits, when the CI names a commit that looks like one."""
    value = ci.commit or ""
    return value[:12] if re.fullmatch(r"[0-9a-fA-F]{7,64}", value) else None


def _clip(text: object, limit: int = MESSAGE_CHARS) -> str:
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def tail_lines(log_tail: str) -> tuple[tuple[str, ...], int]:
    """The first LOG_LINES lines of a log tail (each clipped) and how many more there are."""
    lines = log_tail.strip("\n").split("\n") if log_tail.strip() else []
    shown = tuple(_clip(line.rstrip("\r"), LOG_LINE_CHARS) for line in lines[:LOG_LINES])
    return shown, max(0, len(lines) - LOG_LINES)


def start_notification(
    *,
    action: str,
    application: str | None,
    deployment_group: str | None,
    region: str | None,
    deployment_id: str,
    console_url: str | None,
    ci: CiEnvironment,
) -> Notification:
    """A deployment was created (CodeDeploy accepted it)."""
    return Notification(
        phase="start",
        action=action,
        application=application,
        deployment_group=deployment_group,
        regions=(region,) if region else (),
        deployment_ids=((region or "", deployment_id),),
        status="Created",
        console_url=_safe_url(console_url),
        run_url=run_link(ci),
        commit=short_commit(ci),
    )


def from_result(result: Mapping[str, Any], *, action: str, ci: CiEnvironment) -> Notification:
    """The end message, from the result object the command prints (see result.py): the one
    place that reads it, so a typed result only changes this function."""
    regions = tuple(str(region) for region in result.get("regions") or ())
    ids = tuple(
        (str(region), str(did))
        for region, did in (result.get("deployment_ids") or {}).items()
        if did
    )
    failed = _first_failed(result)
    console = result.get("console_url")
    if failed is not None and failed.get("console_url"):
        console = failed["console_url"]
    timings = result.get("timings") or {}
    return Notification(
        phase="end",
        action=action,
        application=result.get("application"),
        deployment_group=result.get("deployment_group"),
        regions=regions,
        deployment_ids=ids,
        status=result.get("status"),
        console_url=_safe_url(console),
        run_url=run_link(ci),
        commit=short_commit(ci),
        total_seconds=timings.get("total_seconds"),
        error=_error_text((failed or result).get("error")),
        failure=_failure(failed) if failed is not None else None,
        rollback_deployment_id=(failed or result).get("rollback_deployment_id"),
        result=result,
    )


def error_notification(
    *,
    action: str,
    application: str | None,
    deployment_group: str | None,
    regions: Sequence[str],
    deployment_ids: Sequence[tuple[str, str]],
    status: str,
    message: str,
    ci: CiEnvironment,
) -> Notification:
    """The end of a run that stopped without a result: an error (status Error) or a cancel."""
    return Notification(
        phase="end",
        action=action,
        application=application,
        deployment_group=deployment_group,
        regions=tuple(regions),
        deployment_ids=tuple(deployment_ids),
        status=status,
        run_url=run_link(ci),
        commit=short_commit(ci),
        error=_clip(message),
    )


def _first_failed(result: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for region in result.get("deployments") or ():
        if region.get("status") in ("Failed", "Stopped", "Error"):
            found: Mapping[str, Any] = region
            return found
    return None


def _error_text(error: object) -> str | None:
    if not isinstance(error, Mapping):
        return None
    code, message = error.get("code"), error.get("message")
    text = ": ".join(str(part) for part in (code, message) if part)
    return _clip(text) if text else None


def _failure(region: Mapping[str, Any]) -> Failure | None:
    for target in region.get("targets") or ():
        if target.get("status") != "Failed":
            continue
        for event in target.get("lifecycle_events") or ():
            if event.get("status") != "Failed":
                continue
            diag = event.get("diagnostics") or {}
            lines, more = tail_lines(str(diag.get("log_tail") or ""))
            return Failure(
                region=region.get("region"),
                target_id=str(target.get("target_id")),
                lifecycle_event=str(event.get("name")),
                script=diag.get("script_name"),
                error_code=diag.get("error_code"),
                message=_clip(diag["message"]) if diag.get("message") else None,
                log_lines=lines,
                more_lines=more,
            )
    return None


# ---------------------------------------------------------------------------------------------
# Wording shared by every kind

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


def _facts(notification: Notification) -> list[tuple[str, str]]:
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


def _links(notification: Notification) -> list[tuple[str, str]]:
    links = []
    if notification.console_url:
        links.append(("CodeDeploy console", notification.console_url))
    if notification.run_url:
        links.append(("CI run", notification.run_url))
    return links


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
                "text": _clip(f"{icon(notification)} {headline(notification)}", _SLACK_HEADER),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_slack_code(value)}"}
                for name, value in _facts(notification)
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
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 2000)}})
        if failure.log_lines:
            body = "\n".join(failure.log_lines).replace("```", "'''")
            more = (
                f"\n… {failure.more_lines} more lines in the CI log" if failure.more_lines else ""
            )
            code = "```" + slack_escape(body) + "```" + more
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": _clip(code, _SLACK_TEXT)}}
            )
    links = _links(notification)
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
            "facts": [{"title": name, "value": value} for name, value in _facts(notification)],
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
    links = _links(notification)
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


# ---------------------------------------------------------------------------------------------
# Posting


@dataclass(frozen=True)
class PostPolicy:
    """How hard to try. A message gets at most ``attempts`` tries within ``deadline`` seconds:
    connection failures, 5xx and 429 are retried after ``backoff`` x 2^n seconds (429: after
    its Retry-After, unless that is over ``max_retry_after``); other answers are final. A read
    timeout is final too: the hook may have posted the message, and a retry would post it
    twice."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    attempts: int = 3
    backoff: float = 1.0
    max_retry_after: float = 10.0
    deadline: float = 30.0


@dataclass(frozen=True)
class Delivery:
    """How posting one message to one hook ended. ``reason`` never holds the URL."""

    hook: Hook
    ok: bool
    attempts: int
    seconds: float
    status: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class _Answer:
    ok: bool
    retry: bool
    reason: str | None = None
    status: int | None = None
    retry_after: float | None = None


_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


def _error_code(body: bytes) -> str | None:
    """A short error code the hook answered with (Slack: ``channel_not_found``; Workflows:
    ``{"error": {"code": ...}}``), never free text, which could echo anything."""
    text = body.decode("utf-8", "replace").strip()
    if _ERROR_CODE.fullmatch(text):
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, Mapping):
        error = data.get("error")
        candidates = [error.get("code") if isinstance(error, Mapping) else error, data.get("code")]
        for candidate in candidates:
            if isinstance(candidate, str) and _ERROR_CODE.fullmatch(candidate):
                return candidate
    return None


def retry_after_seconds(value: str | None, now: Callable[[], datetime]) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110); None when unreadable."""
    if not value:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - now()).total_seconds())


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Poster:
    """Posts payloads to hooks over one requests session. ``sleep`` and ``clock`` are injected
    so tests never wait out a real backoff."""

    def __init__(
        self,
        policy: PostPolicy | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.policy = policy or PostPolicy()
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._now = now

    def close(self) -> None:
        self._session.close()

    def post(self, hook: Hook, body: Mapping[str, Any]) -> Delivery:
        """POST ``body`` as JSON to ``hook``, retrying as the policy says. Never raises for a
        failure of the hook (only KeyboardInterrupt gets through)."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        policy = self.policy
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            remaining = max(0.001, policy.deadline - (self._clock() - started))
            answer = self._attempt(hook.url, data, remaining)
            elapsed = self._clock() - started
            if answer.ok:
                return Delivery(hook, True, attempt, elapsed, answer.status)
            reason = answer.reason or "failed"
            delay = policy.backoff * 2 ** (attempt - 1)
            if answer.retry_after is not None:
                if answer.retry_after > policy.max_retry_after:
                    reason += (
                        f" (Retry-After {answer.retry_after:.0f}s is over the "
                        f"{policy.max_retry_after:.0f}s ci-deploy waits)"
                    )
                    return Delivery(hook, False, attempt, elapsed, answer.status, reason)
                delay = answer.retry_after
            if not answer.retry:
                return Delivery(hook, False, attempt, elapsed, answer.status, reason)
            if attempt >= policy.attempts:
                reason += f" ({attempt} attempts)"
                return Delivery(hook, False, attempt, elapsed, answer.status, reason)
            if elapsed + delay >= policy.deadline:
                reason += f" (gave up after {attempt} attempts within {policy.deadline:.0f}s)"
                return Delivery(hook, False, attempt, elapsed, answer.status, reason)
            self._sleep(delay)

    def _attempt(self, url: str, data: bytes, remaining: float) -> _Answer:
        policy = self.policy
        timeout = (min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"ci-deploy/{__version__}",
        }
        # Exceptions are named by class only: their text holds the URL (path and token).
        try:
            response = self._session.post(
                url, data=data, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
        except requests.exceptions.ConnectTimeout:
            return _Answer(False, True, f"no connection within {timeout[0]:g}s")
        except requests.exceptions.ReadTimeout:
            return _Answer(False, False, f"no answer within {timeout[1]:g}s")
        except requests.exceptions.SSLError:
            return _Answer(False, False, "TLS handshake failed")
        except requests.exceptions.ProxyError:
            return _Answer(False, True, "the proxy refused the connection")
        except requests.exceptions.ConnectionError:
            return _Answer(False, True, "could not connect")
        except (requests.exceptions.RequestException, OSError) as error:
            return _Answer(False, False, f"request failed ({type(error).__name__})")
        with response:
            status = response.status_code
            try:
                head = next(response.iter_content(1024), b"")
            except (requests.exceptions.RequestException, OSError):
                head = b""
            retry_after = response.headers.get("Retry-After")
        if 200 <= status < 300:
            return _Answer(True, False, status=status)
        code = _error_code(head)
        reason = f"HTTP {status}" + (f" {code}" if code else "")
        if 300 <= status < 400:
            return _Answer(False, False, reason + " (redirects are not followed)", status)
        if status == 429:
            wait = retry_after_seconds(retry_after, self._now)
            return _Answer(False, True, reason, status, wait)
        return _Answer(False, status >= 500, reason, status)


def deliver(poster: Poster, hooks: Sequence[Hook], notification: Notification) -> list[Delivery]:
    """Post ``notification`` to every hook, one after another, in the kind each hook takes."""
    return [poster.post(hook, payload(hook.kind, notification)) for hook in hooks]
