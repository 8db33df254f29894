"""The notify input's hooks: where to post and of which kind (Slack, Teams, JSON), parsed with
errors that name a hook by its position, never by its URL (a secret)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from ci_deploy.errors import InputError

Kind = Literal["slack", "teams", "json"]

KINDS: tuple[Kind, ...] = ("slack", "teams", "json")


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
