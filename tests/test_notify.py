"""Notifications (ci_deploy.notify): hooks and their kinds, the Slack, Teams and JSON payloads,
posting with timeouts and retries against loopback web hooks, and what the deploying verbs post
when they start and end (commands/_notifying.py), without ever showing a webhook URL."""

from __future__ import annotations

import copy
import io
import json
import socket
import subprocess
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from ci_deploy import cli, notify
from ci_deploy.commands import Streams
from ci_deploy.commands._notifying import NotifyingReporter, mask_on_github
from ci_deploy.errors import DeploymentFailed, InputError
from ci_deploy.events import DeploymentStatusChanged, Event, Notice
from ci_deploy.inputs import BY_NAME, Request, resolve
from doc_pages import code_blocks, page
from webhooks import HookAnswer

SECRET_PATH = "/services/T0001/B0002/Xy7TopSecretToken"
SLACK = f"https://hooks.slack.com{SECRET_PATH}"

# ---------------------------------------------------------------------------------------------
# Hooks


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        (SLACK, "slack"),
        ("https://hooks.slack-gov.com/services/T/B/x", "slack"),
        ("https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def/ghi", "teams"),
        (
            "https://prod-27.westus.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/"
            "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc",
            "teams",
        ),
        (
            "https://default0a1b.2c.environment.api.powerplatform.com:443/powerautomate/"
            "automations/direct/workflows/0a1b/triggers/manual/paths/invoke?sig=abc",
            "teams",
        ),
        ("https://example.com/powerautomate/hooks/1", "teams"),
        ("https://hooks.example.com/ci", "json"),
        ("https://hooks.slack.com.evil.example/services/x", "json"),
    ],
)
def test_the_kind_comes_from_the_host(url: str, kind: str) -> None:
    assert notify.kind_of(url) == kind
    (hook,) = notify.parse_hooks([url])
    assert hook.kind == kind


def test_an_explicit_kind_prefix_wins_over_the_host() -> None:
    hooks = notify.parse_hooks(
        [f"json:{SLACK}", "slack:https://chat.example.com/hooks/abc", "TEAMS:https://x.example/h"]
    )
    assert [(h.index, h.kind, h.url) for h in hooks] == [
        (1, "json", SLACK),
        (2, "slack", "https://chat.example.com/hooks/abc"),
        (3, "teams", "https://x.example/h"),
    ]


def test_a_hook_is_named_by_position_kind_and_host_never_its_token() -> None:
    (hook,) = notify.parse_hooks([SLACK])
    assert hook.label == "notification 1 (slack, hooks.slack.com)"
    assert SECRET_PATH not in repr(hook)
    assert hook.secrets() == (SLACK, SECRET_PATH)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("hooks.slack.com/services/T0001/B0002/Xy7TopSecretToken", "scheme missing"),
        ("ftp://files.example/Xy7TopSecretToken", "scheme 'ftp'"),
        ("slak:https://hooks.slack.com/x/Xy7TopSecretToken", "scheme 'slak'"),
        ("http://hooks.example.com/Xy7TopSecretToken", "plain http://"),
        ("https:///Xy7TopSecretToken", "has no host"),
        ("https://hooks.example.com:port/Xy7TopSecretToken", "is not a URL"),
    ],
)
def test_a_bad_hook_is_bad_input_that_never_shows_its_value(value: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        notify.parse_hooks(["https://ok.example/fine", value])
    error = caught.value
    assert error.message.startswith("input notify: hook 2 ")
    assert problem in error.message
    assert "Xy7TopSecretToken" not in error.message + str(error.hint)
    assert "CI_DEPLOY_NOTIFY" in str(error.hint)


def test_plain_http_is_allowed_to_loopback_only() -> None:
    hooks = notify.parse_hooks(["http://127.0.0.1:8080/h", "http://localhost/h", "http://[::1]/h"])
    assert [h.host for h in hooks] == ["127.0.0.1", "localhost", "::1"]


def test_notify_is_a_secret_list_of_deploy_rollback_and_wait() -> None:
    """Comma- or newline-separated in the environment, as the adapters pass lists; a secret
    that also has a repeatable --notify flag, whose help says to prefer the environment."""
    env = {"CI_DEPLOY_NOTIFY": f"slack:{SLACK},\nhttps://b.example/h\n"}
    for verb in ("deploy", "rollback", "wait"):
        assert resolve(verb, {}, env)["notify"] == (f"slack:{SLACK}", "https://b.example/h")
    assert BY_NAME["notify"].secret and BY_NAME["notify"].has_flag
    namespace = cli.build_parser().parse_args(
        ["deploy", "--notify", f"slack:{SLACK}", "--notify", "https://b.example/h"]
    )
    assert resolve("deploy", vars(namespace), {})["notify"] == (
        f"slack:{SLACK}",
        "https://b.example/h",
    )
    help_text = " ".join(
        subprocess.run(
            ["ci-deploy", "deploy", "--help"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "--notify [KIND:]URL" in help_text
    assert "Secret: prefer CI_DEPLOY_NOTIFY" in help_text


# ---------------------------------------------------------------------------------------------
# Payloads

ENV = {
    "GITHUB_RUN_ID": "99",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_REPOSITORY": "octo/web",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_SHA": "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
}
CONSOLE = "https://console.aws.amazon.com/codesuite/codedeploy/deployments/d-FAIL1?region=eu-west-1"
TAIL = "".join(f"[stderr]line {n} <b>&\n" for n in range(1, 15))

FAILED_RESULT: dict[str, Any] = {
    "application": "web",
    "deployment_group": "prod",
    "region": "eu-west-1",
    "regions": ["eu-west-1"],
    "deployment_id": "d-FAIL1",
    "deployment_ids": {"eu-west-1": "d-FAIL1"},
    "status": "Failed",
    "console_url": CONSOLE,
    "error": {"code": "HEALTH_CONSTRAINTS", "message": "too many instances failed"},
    "rollback_deployment_id": None,
    "timings": {"total_seconds": 42.4},
    "deployments": [
        {
            "region": "eu-west-1",
            "deployment_id": "d-FAIL1",
            "status": "Failed",
            "console_url": CONSOLE,
            "error": {"code": "HEALTH_CONSTRAINTS", "message": "too many instances failed"},
            "rollback_deployment_id": "d-ROLL1",
            "targets": [
                {
                    "target_id": "i-1",
                    "status": "Succeeded",
                    "lifecycle_events": [{"name": "Install", "status": "Succeeded"}],
                },
                {
                    "target_id": "i-2",
                    "status": "Failed",
                    "lifecycle_events": [
                        {"name": "Install", "status": "Succeeded", "diagnostics": None},
                        {
                            "name": "ValidateService",
                            "status": "Failed",
                            "diagnostics": {
                                "error_code": "ScriptFailed",
                                "script_name": "scripts/validate`x`.sh",
                                "message": "Script at specified location failed",
                                "log_tail": TAIL,
                            },
                        },
                    ],
                },
            ],
        }
    ],
}


def test_from_result_takes_the_first_failing_target_event_script_and_log_lines() -> None:
    note = notify.from_result(FAILED_RESULT, action="deploy", env=ENV)
    assert note.phase == "end"
    assert (note.application, note.deployment_group, note.status) == ("web", "prod", "Failed")
    assert note.deployment_ids == (("eu-west-1", "d-FAIL1"),)
    assert note.console_url == CONSOLE
    assert note.run_url == "https://github.example/octo/web/actions/runs/99/attempts/2"
    assert note.commit == "3b18e512dba7"
    assert note.error == "HEALTH_CONSTRAINTS: too many instances failed"
    assert note.rollback_deployment_id == "d-ROLL1"
    failure = note.failure
    assert failure is not None
    assert (failure.target_id, failure.lifecycle_event, failure.script) == (
        "i-2",
        "ValidateService",
        "scripts/validate`x`.sh",
    )
    assert failure.error_code == "ScriptFailed"
    assert failure.log_lines == tuple(f"[stderr]line {n} <b>&" for n in range(1, 11))
    assert failure.more_lines == 4
    assert note.result is FAILED_RESULT


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"CI_JOB_URL": "https://gl.example/g/p/-/jobs/7"}, "https://gl.example/g/p/-/jobs/7"),
        (
            {"CI_PIPELINE_URL": "https://gl.example/-/pipelines/3"},
            "https://gl.example/-/pipelines/3",
        ),
        (
            {"BUILD_URL": "https://jenkins.example/job/web/12/"},
            "https://jenkins.example/job/web/12/",
        ),
        ({"BUILD_URL": "javascript:alert(1)"}, None),
        ({"BUILD_URL": "https://jenkins.example/job/a|b>"}, None),
        (
            {"GITHUB_RUN_ID": "5", "GITHUB_REPOSITORY": "o/r"},
            "https://github.com/o/r/actions/runs/5",
        ),
        ({}, None),
    ],
)
def test_the_ci_run_link_comes_from_the_ci_s_own_variables(env: dict[str, str], url: Any) -> None:
    assert notify.ci_run_url(env) == url


def test_slack_blocks_say_what_failed_with_escaped_text_and_links() -> None:
    note = notify.from_result(FAILED_RESULT, action="deploy", env=ENV)
    body = notify.payload("slack", note)
    assert body["text"] == "❌ Deployment failed: web → prod (eu-west-1 d-FAIL1)"
    header, facts, error, failure, tail, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "❌ Deployment failed", "emoji": True},
    }
    fields = [f["text"] for f in facts["fields"]]
    assert "*Application*\n`web`" in fields
    assert "*Deployment*\n`d-FAIL1`" in fields
    assert "*Status*\n`Failed`" in fields
    assert "*Commit*\n`3b18e512dba7`" in fields
    assert len(fields) <= 10
    assert error["text"]["text"] == "HEALTH_CONSTRAINTS: too many instances failed"
    assert failure["text"]["text"] == (
        "*ValidateService failed on i-2 (eu-west-1), script scripts/validate`x`.sh*\n"
        "ScriptFailed: Script at specified location failed"
    )
    code = tail["text"]["text"]
    assert code.startswith("```[stderr]line 1 &lt;b&gt;&amp;\n")
    assert code.endswith("line 10 &lt;b&gt;&amp;```\n… 4 more lines in the CI log")
    assert context["elements"][0]["text"] == (
        f"<{CONSOLE}|CodeDeploy console> · "
        "<https://github.example/octo/web/actions/runs/99/attempts/2|CI run>"
    )


def test_teams_gets_an_adaptive_card_in_a_message_with_untrusted_text_in_text_runs() -> None:
    note = notify.from_result(FAILED_RESULT, action="rollback", env=ENV)
    body = notify.payload("teams", note)
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, facts, error, failure, detail, tail = card["body"]
    assert title["inlines"][0]["text"] == "❌ Rollback failed: web → prod"
    assert title["inlines"][0]["color"] == "Attention"
    assert {"title": "Deployment", "value": "d-FAIL1"} in facts["facts"]
    for block in (error, failure, detail, tail):
        assert block["type"] == "RichTextBlock"
        assert all(run["type"] == "TextRun" for run in block["inlines"])
    assert tail["inlines"][0]["fontType"] == "Monospace"
    assert tail["inlines"][0]["text"].startswith("[stderr]line 1 <b>&\n")
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "CodeDeploy console", "url": CONSOLE},
        {
            "type": "Action.OpenUrl",
            "title": "CI run",
            "url": "https://github.example/octo/web/actions/runs/99/attempts/2",
        },
    ]


def test_json_carries_the_fields_and_the_result_object() -> None:
    note = notify.from_result(FAILED_RESULT, action="deploy", env=ENV)
    body = notify.payload("json", note)
    assert body["phase"] == "end"
    assert body["status"] == "Failed"
    assert body["deployment_ids"] == {"eu-west-1": "d-FAIL1"}
    assert body["failure"]["lifecycle_event"] == "ValidateService"
    assert body["failure"]["log_lines"][0] == "[stderr]line 1 <b>&"
    assert body["result"] == FAILED_RESULT
    start = notify.start_notification(
        action="deploy",
        application="web",
        deployment_group="prod",
        region="eu-west-1",
        deployment_id="d-NEW",
        console_url=CONSOLE,
        env={},
    )
    started = notify.payload("json", start)
    assert (started["phase"], started["result"], started["failure"]) == ("start", None, None)
    assert started["text"] == "🚀 Deployment started: web → prod (eu-west-1 d-NEW)"


@pytest.mark.parametrize(
    ("status", "headline"),
    [
        ("Succeeded", "Deployment succeeded"),
        ("Stopped", "Deployment was stopped"),
        ("Ready", "Deployment is ready to reroute traffic"),
        ("InProgress", "Deployment still InProgress: ci-deploy stopped watching"),
    ],
)
def test_the_headline_follows_the_status(status: str, headline: str) -> None:
    result = {**FAILED_RESULT, "status": status, "deployments": []}
    assert notify.headline(notify.from_result(result, action="deploy", env={})) == headline


# ---------------------------------------------------------------------------------------------
# Posting


class Clock:
    """An injected clock and sleep: sleeping only moves the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def poster(clock: Clock, **policy: Any) -> notify.Poster:
    return notify.Poster(notify.PostPolicy(**policy), sleep=clock.sleep, clock=clock.clock)


def test_a_5xx_is_retried_with_exponential_backoff(webhook_server: Any) -> None:
    hook_server = webhook_server(HookAnswer(500), HookAnswer(503))
    clock = Clock()
    (hook,) = notify.parse_hooks([hook_server.url()])
    delivery = poster(clock).post(hook, {"text": "hi"})
    assert (delivery.ok, delivery.attempts, delivery.status) == (True, 3, 200)
    assert clock.slept == [1.0, 2.0]
    assert hook_server.bodies() == [{"text": "hi"}] * 3
    headers = hook_server.requests[0].headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["User-Agent"].startswith("ci-deploy/")


def test_a_5xx_that_lasts_fails_after_the_attempts(webhook_server: Any) -> None:
    hook_server = webhook_server(*[HookAnswer(500, b"rollup_error")] * 3)
    clock = Clock()
    (hook,) = notify.parse_hooks([hook_server.url()])
    delivery = poster(clock).post(hook, {})
    assert not delivery.ok
    assert delivery.reason == "HTTP 500 rollup_error (3 attempts)"
    assert len(hook_server.requests) == 3


def test_429_waits_for_retry_after(webhook_server: Any) -> None:
    hook_server = webhook_server(HookAnswer(429, b"rate_limited", {"Retry-After": "3"}))
    clock = Clock()
    (hook,) = notify.parse_hooks([hook_server.url()])
    delivery = poster(clock).post(hook, {})
    assert (delivery.ok, delivery.attempts) == (True, 2)
    assert clock.slept == [3.0]


def test_429_with_a_retry_after_over_the_cap_gives_up_at_once(webhook_server: Any) -> None:
    hook_server = webhook_server(HookAnswer(429, b"rate_limited", {"Retry-After": "120"}))
    clock = Clock()
    (hook,) = notify.parse_hooks([hook_server.url()])
    delivery = poster(clock).post(hook, {})
    assert not delivery.ok
    assert (
        delivery.reason
        == "HTTP 429 rate_limited (Retry-After 120s is over the 10s ci-deploy waits)"
    )
    assert clock.slept == []
    assert len(hook_server.requests) == 1


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    later = now + timedelta(seconds=7)
    text = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert notify.retry_after_seconds(text, lambda: now) == 7.0
    assert notify.retry_after_seconds("soon", lambda: now) is None
    assert notify.retry_after_seconds("Mon, 01 Jan 2024 00:00:00 GMT", lambda: now) == 0.0


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_other_4xx_are_final_and_name_slack_s_error_code(webhook_server: Any, status: int) -> None:
    hook_server = webhook_server(HookAnswer(status, b"channel_not_found"))
    clock = Clock()
    (hook,) = notify.parse_hooks([hook_server.url()])
    delivery = poster(clock).post(hook, {})
    assert (delivery.ok, delivery.attempts, clock.slept) == (False, 1, [])
    assert delivery.reason == f"HTTP {status} channel_not_found"


def test_an_answer_s_free_text_is_never_repeated(webhook_server: Any) -> None:
    """A hook's error page could echo the URL (its token): only a bare code is shown."""
    hook_server = webhook_server(
        HookAnswer(400, f"no hook at {SECRET_PATH}".encode()),
        HookAnswer(400, b'{"error": {"code": "TriggerInputSchemaMismatch", "message": "x"}}'),
    )
    (hook,) = notify.parse_hooks([hook_server.url(SECRET_PATH)])
    first = poster(Clock()).post(hook, {})
    second = poster(Clock()).post(hook, {})
    assert first.reason == "HTTP 400"
    assert second.reason == "HTTP 400 TriggerInputSchemaMismatch"


def test_a_redirect_is_not_followed(webhook_server: Any) -> None:
    hook_server = webhook_server(HookAnswer(302, b"", {"Location": "https://elsewhere.example/"}))
    (hook,) = notify.parse_hooks([hook_server.url()])
    delivery = poster(Clock()).post(hook, {})
    assert delivery.reason == "HTTP 302 (redirects are not followed)"
    assert len(hook_server.requests) == 1


def test_a_refused_connection_is_retried_and_its_message_never_shown() -> None:
    """requests' ConnectionError text holds the URL's path (the token): only a class of failure
    is reported."""
    (hook,) = notify.parse_hooks([SLACK])
    clock = Clock()
    refused = notify.Poster(
        notify.PostPolicy(), session=_RefusingSession(), sleep=clock.sleep, clock=clock.clock
    )
    delivery = refused.post(hook, {})
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.reason == "could not connect (3 attempts)"
    assert clock.slept == [1.0, 2.0]


class _RefusingSession(requests.Session):
    """A session whose every connection is refused, as by a port nobody listens on."""

    def post(self, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        raise requests.exceptions.ConnectionError(
            f"HTTPConnectionPool: Max retries with url: {url!r}"
        )


def test_a_closed_port_is_a_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (hook,) = notify.parse_hooks([f"http://127.0.0.1:{port}{SECRET_PATH}"])
    clock = Clock()
    delivery = poster(clock, attempts=2).post(hook, {})
    assert delivery.reason == "could not connect (2 attempts)"
    assert clock.slept == [1.0]


def test_a_hook_that_never_answers_times_out_once(webhook_server: Any) -> None:
    """No retry after a read timeout: the hook may have posted the message already."""
    hook_server = webhook_server(HookAnswer(hang=True))
    (hook,) = notify.parse_hooks([hook_server.url()])
    clock = Clock()
    delivery = poster(clock, read_timeout=0.2).post(hook, {})
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.reason == "no answer within 0.2s"
    assert clock.slept == []


def test_the_deadline_bounds_the_retries(webhook_server: Any) -> None:
    hook_server = webhook_server(*[HookAnswer(500, b"")] * 3)
    (hook,) = notify.parse_hooks([hook_server.url()])
    clock = Clock()
    delivery = poster(clock, attempts=5, backoff=4.0, deadline=10.0).post(hook, {})
    assert not delivery.ok
    assert delivery.reason == "HTTP 500 (gave up after 2 attempts within 10s)"
    assert clock.slept == [4.0]


# ---------------------------------------------------------------------------------------------
# The reporter the commands wrap


class Recorder:
    """An inner reporter: records events and the result it finished with."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.results: list[Any] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def finish(self, result: Any) -> None:
        self.results.append(result)


def request_for(verb: str, env: dict[str, str], **flags: Any) -> Request:
    return Request(verb=verb, values=resolve(verb, flags, env), env=env)


class TypedResult:
    """Stands in for a DeploymentsResult: the notifying reporter reads only its JSON form."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def as_json(self) -> dict[str, Any]:
        return self.data


def reporter_for(
    request: Request, hook_urls: list[str], **options: Any
) -> tuple[NotifyingReporter, Recorder]:
    inner = Recorder()
    hooks = notify.parse_hooks(hook_urls)
    policy = notify.PostPolicy(attempts=1)
    wrapped = NotifyingReporter(
        inner, hooks, notify.Poster(policy, sleep=Clock().sleep), request, **options
    )
    return wrapped, inner


def test_each_deployment_is_announced_once_when_it_first_reports(webhook_server: Any) -> None:
    hook_server = webhook_server()
    request = request_for(
        "deploy", {"AWS_REGION": "eu-west-1"}, application="web", deployment_group="prod"
    )
    wrapped, inner = reporter_for(request, [hook_server.url()], announce_starts=True, watched=True)
    for status in ("Created", "InProgress", "InProgress"):
        wrapped.event(DeploymentStatusChanged("d-ONE", status))
    wrapped.event(DeploymentStatusChanged("d-TWO", "Created", region="us-east-1"))
    assert len(inner.events) == 4
    starts = hook_server.bodies()
    assert [(b["phase"], b["deployment_ids"]) for b in starts] == [
        ("start", {"eu-west-1": "d-ONE"}),
        ("start", {"us-east-1": "d-TWO"}),
    ]
    assert starts[0]["console_url"].endswith("/deployments/d-ONE?region=eu-west-1")
    failed = TypedResult(FAILED_RESULT)
    wrapped.finish(failed)  # type: ignore[arg-type]
    assert inner.results == [failed]
    assert hook_server.bodies()[-1]["phase"] == "end"
    wrapped.fail(DeploymentFailed("deployment d-FAIL1 Failed"))  # conclude raises after finish
    assert len(hook_server.requests) == 3


def test_a_run_that_stops_without_a_result_posts_its_error(webhook_server: Any) -> None:
    hook_server = webhook_server()
    request = request_for("rollback", {}, application="web", deployment_group="prod")
    wrapped, _ = reporter_for(request, [hook_server.url()], announce_starts=True, watched=True)
    wrapped.event(DeploymentStatusChanged("d-ONE", "Created", region="eu-west-1"))
    wrapped.fail(KeyboardInterrupt())
    end = hook_server.bodies()[-1]
    assert (end["phase"], end["status"], end["action"]) == ("end", "Cancelled", "rollback")
    assert end["deployment_ids"] == {"eu-west-1": "d-ONE"}
    assert end["text"] == "🚫 Rollback was cancelled: web → prod (eu-west-1 d-ONE)"
    wrapped.fail(InputError("again"))
    assert len(hook_server.requests) == 2


def test_without_waiting_the_created_deployments_are_announced_and_no_end(
    webhook_server: Any,
) -> None:
    hook_server = webhook_server()
    request = request_for("deploy", {}, application="web", deployment_group="prod")
    wrapped, _ = reporter_for(request, [hook_server.url()], announce_starts=True, watched=False)
    created = copy.deepcopy(FAILED_RESULT)
    created["status"] = created["deployments"][0]["status"] = "Created"
    wrapped.finish(TypedResult(created))  # type: ignore[arg-type]
    (only,) = hook_server.bodies()
    assert only["phase"] == "start"
    assert only["deployment_ids"] == {"eu-west-1": "d-FAIL1"}
    assert only["console_url"] == CONSOLE


def test_a_failed_hook_becomes_a_warning_naming_it_and_the_others_still_get_theirs(
    webhook_server: Any,
) -> None:
    broken, fine = webhook_server(HookAnswer(404, b"no_service")), webhook_server()
    request = request_for("wait", {})
    wrapped, inner = reporter_for(
        request,
        [broken.url(SECRET_PATH), f"slack:{fine.url(SECRET_PATH)}"],
        announce_starts=False,
        watched=True,
    )
    wrapped.event(DeploymentStatusChanged("d-FAIL1", "InProgress"))
    assert broken.requests == [] and fine.requests == []  # wait announces no start
    wrapped.finish(TypedResult(FAILED_RESULT))  # type: ignore[arg-type]
    assert fine.bodies()[0]["text"].startswith("❌ Deployment failed: web → prod")
    warnings = [e for e in inner.events if isinstance(e, Notice) and e.level == "warning"]
    assert [w.message for w in warnings] == [
        "notification 1 (json, 127.0.0.1): the end message was not delivered: HTTP 404 "
        "no_service; the deployment's outcome and exit code are unchanged"
    ]


def test_urls_are_masked_only_on_github_s_runner() -> None:
    hooks = notify.parse_hooks([SLACK])
    on_runner, elsewhere = io.StringIO(), io.StringIO()
    mask_on_github(hooks, Streams(io.StringIO(), on_runner), {"GITHUB_ACTIONS": "true"})
    assert on_runner.getvalue() == f"::add-mask::{SLACK}\n::add-mask::{SECRET_PATH}\n"
    mask_on_github(hooks, Streams(io.StringIO(), elsewhere), {"GITLAB_CI": "true"})
    assert elsewhere.getvalue() == ""


# ---------------------------------------------------------------------------------------------
# End to end: the real CLI against the session's emulator, posting to loopback hooks

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def demo(emulator: Any, emulator_clients: Any, unique_name: str, aws_env: dict[str, str]) -> Any:
    """An application, group (3 instances) and versioned bucket on the session's emulator."""
    codedeploy, s3 = emulator_clients.codedeploy, emulator_clients.s3
    codedeploy.create_application(applicationName=unique_name, computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName=unique_name,
        deploymentGroupName="fleet",
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "3", "Type": "KEY_AND_VALUE"}],
    )
    s3.create_bucket(Bucket=unique_name)
    s3.put_bucket_versioning(Bucket=unique_name, VersioningConfiguration={"Status": "Enabled"})
    common = [
        *("--application", unique_name, "--deployment-group", "fleet"),
        *("--endpoint-url", emulator.endpoint_url, "--region", "us-east-1"),
    ]
    return {"name": unique_name, "common": common, "env": aws_env, "clients": emulator_clients}


def deploy(demo: Any, streams: Any, example: str, hooks: list[str], *args: str, **env: str) -> int:
    argv = [
        "deploy",
        str(EXAMPLES / example),
        *demo["common"],
        *("--s3-location", f"s3://{demo['name']}/bundles", "--timeout-seconds", "120"),
        *args,
    ]
    return cli.run(argv, {**demo["env"], "CI_DEPLOY_NOTIFY": "\n".join(hooks), **env}, streams)


def test_the_notify_flag_posts_like_the_environment_and_never_shows_the_url(
    demo: Any, streams: Any, webhook_server: Any
) -> None:
    hook = webhook_server()
    code = deploy(demo, streams, "web-app", [], "--notify", f"json:{hook.url(SECRET_PATH)}")
    assert code == 0, streams.err
    assert [body["phase"] for body in hook.bodies()] == ["start", "end"]
    assert_never_shown(streams, SECRET_PATH)


def assert_never_shown(streams: Any, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in streams.out
        assert secret not in streams.err


def test_deploy_posts_start_and_end_to_slack_teams_and_json(
    demo: Any, streams: Any, webhook_server: Any
) -> None:
    json_hook, slack_hook, teams_hook = webhook_server(), webhook_server(), webhook_server()
    hooks = [
        json_hook.url(SECRET_PATH),
        f"slack:{slack_hook.url(SECRET_PATH)}",
        f"teams:{teams_hook.url(SECRET_PATH)}",
    ]
    code = deploy(demo, streams, "web-app", hooks)
    assert code == 0, streams.err
    result = json.loads(streams.out)
    did = result["deployment_id"]
    start, end = json_hook.bodies()
    assert (start["phase"], start["status"], start["deployment_ids"]) == (
        "start",
        "Created",
        {"us-east-1": did},
    )
    assert start["application"] == demo["name"]
    assert start["console_url"] == result["console_url"]
    assert (end["phase"], end["status"], end["failure"]) == ("end", "Succeeded", None)
    assert end["result"] == result
    slack_start, slack_end = slack_hook.bodies()
    assert slack_start["text"] == f"🚀 Deployment started: {demo['name']} → fleet (us-east-1 {did})"
    assert slack_end["blocks"][0]["text"]["text"] == "✅ Deployment succeeded"
    teams_start, teams_end = teams_hook.bodies()
    for card in (teams_start, teams_end):
        assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert {r.path for h in (json_hook, slack_hook, teams_hook) for r in h.requests} == {
        SECRET_PATH
    }
    assert_never_shown(streams, SECRET_PATH)


def test_a_failing_hook_s_end_message_names_target_event_script_and_log(
    demo: Any, streams: Any, webhook_server: Any
) -> None:
    json_hook, slack_hook = webhook_server(), webhook_server()
    code = deploy(
        demo, streams, "failing-hook", [json_hook.url(), f"slack:{slack_hook.url(SECRET_PATH)}"]
    )
    assert code == 1  # the deployment's own verdict, untouched by the hooks
    result = json.loads(streams.out)
    end = json_hook.bodies()[-1]
    assert end["status"] == "Failed"
    assert end["error"].startswith("HEALTH_CONSTRAINTS: ")
    failure = end["failure"]
    failed_targets = [t["target_id"] for t in result["targets"] if t["status"] == "Failed"]
    assert failure["target_id"] == failed_targets[0]
    assert (failure["lifecycle_event"], failure["script"]) == (
        "ValidateService",
        "scripts/validate.sh",
    )
    assert failure["error_code"] == "ScriptFailed"
    assert any("health check failed" in line for line in failure["log_lines"])
    blocks = slack_hook.bodies()[-1]["blocks"]
    assert blocks[0]["text"]["text"] == "❌ Deployment failed"
    assert blocks[2]["text"]["text"].startswith("HEALTH_CONSTRAINTS: ")
    assert blocks[3]["text"]["text"].startswith(
        f"*ValidateService failed on {failure['target_id']} (us-east-1), script "
        "scripts/validate.sh*\nScriptFailed: "
    )
    assert "health check failed" in blocks[4]["text"]["text"]
    assert_never_shown(streams, SECRET_PATH)


def test_a_hook_that_fails_is_a_warning_and_the_exit_code_stays(
    demo: Any, streams: Any, webhook_server: Any
) -> None:
    broken, fine = webhook_server(*[HookAnswer(404, b"no_service")] * 2), webhook_server()
    code = deploy(demo, streams, "web-app", [broken.url(SECRET_PATH), fine.url(SECRET_PATH)])
    assert code == 0, streams.err
    assert [b["phase"] for b in fine.bodies()] == ["start", "end"]
    assert len(broken.requests) == 2  # start and end, one attempt each (404 is final)
    for phase in ("start", "end"):
        assert (
            f"notification 1 (json, 127.0.0.1): the {phase} message was not delivered: "
            "HTTP 404 no_service; the deployment's outcome and exit code are unchanged"
        ) in streams.err
    assert "notification 2" not in streams.err
    assert_never_shown(streams, SECRET_PATH)


def test_no_wait_announces_the_start_and_wait_reports_the_end(
    demo: Any, streams: Any, webhook_server: Any
) -> None:
    hook = webhook_server()
    assert deploy(demo, streams, "web-app", [hook.url()], "--no-wait") == 0, streams.err
    did = json.loads(streams.out)["deployment_id"]
    (start,) = hook.bodies()
    assert (start["phase"], start["deployment_ids"]) == ("start", {"us-east-1": did})
    waited = Streams(stdout=io.StringIO(), stderr=(waited_err := io.StringIO()))
    env = {**demo["env"], "CI_DEPLOY_NOTIFY": hook.url()}
    argv = ["wait", did, *demo["common"][4:], "--timeout-seconds", "120"]
    assert cli.run(argv, env, waited) == 0, waited_err.getvalue()
    end = hook.bodies()[-1]
    assert len(hook.requests) == 2
    assert (end["phase"], end["action"], end["status"]) == ("end", "wait", "Succeeded")
    assert end["application"] == demo["name"]


def test_a_rollback_that_cannot_start_posts_its_error(
    demo: Any, streams: Any, webhook_server: Any
) -> None:
    hook = webhook_server()
    env = {**demo["env"], "CI_DEPLOY_NOTIFY": hook.url()}
    code = cli.run(["rollback", *demo["common"]], env, streams)
    assert code == 2
    (end,) = hook.bodies()
    assert (end["phase"], end["action"], end["status"]) == ("end", "rollback", "Error")
    assert end["error"] == (
        f"deployment group 'fleet' of application '{demo['name']}' has no deployments to roll back"
    )
    assert end["text"].startswith(f"❌ Rollback failed: {demo['name']} → fleet")


def test_a_bad_hook_is_bad_input_before_anything_is_deployed(demo: Any, streams: Any) -> None:
    code = deploy(
        demo, streams, "web-app", ["https://ok.example/h", "htps://x.example" + SECRET_PATH]
    )
    assert code == 2
    assert "ci-deploy: error: input notify: hook 2 is not an https:// URL" in streams.err
    assert_never_shown(streams, SECRET_PATH)
    listed = demo["clients"].codedeploy.list_deployments(
        applicationName=demo["name"], deploymentGroupName="fleet"
    )
    assert listed["deployments"] == []


def test_on_github_s_runner_the_urls_are_masked_before_anything_else(
    demo: Any, streams: Any, webhook_server: Any, tmp_path: Path
) -> None:
    hook = webhook_server()
    url = hook.url(SECRET_PATH)
    github = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "output")}
    (tmp_path / "output").write_text("")
    assert deploy(demo, streams, "web-app", [f"slack:{url}"], **github) == 0, streams.err
    masks = [line for line in streams.err.splitlines() if line.startswith("::add-mask::")]
    assert masks == [f"::add-mask::{url}", f"::add-mask::{SECRET_PATH}"]
    assert streams.err.index("::add-mask::") < streams.err.index("::group::")
    rest = streams.err.replace(f"::add-mask::{url}\n", "").replace(
        f"::add-mask::{SECRET_PATH}\n", ""
    )
    assert SECRET_PATH not in rest
    assert SECRET_PATH not in streams.out
    assert [b["text"][0] for b in hook.bodies()] == ["🚀", "✅"]


def test_the_documented_workflow_uses_the_action_s_notify_input() -> None:
    action = yaml.safe_load(page("action.yml"))
    (step,) = yaml.safe_load(textwrap.dedent(code_blocks(page("docs/notifications.md"), "yaml")[0]))
    assert set(step["with"]) <= set(action["inputs"])
    assert "notify" in step["with"]
    assert action["runs"]["steps"][-1]["env"]["CI_DEPLOY_NOTIFY"] == "${{ inputs.notify }}"
