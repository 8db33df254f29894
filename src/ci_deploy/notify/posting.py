"""Posting notifications: one requests session, timeouts, bounded retries (5xx, 429 with
Retry-After, connection failures), and a Delivery per hook whose reason never holds the URL."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests

from ci_deploy import __version__
from ci_deploy.notify.hooks import Hook
from ci_deploy.notify.message import Notification
from ci_deploy.notify.payloads import payload


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
