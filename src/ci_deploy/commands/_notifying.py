"""When deploy, rollback and wait notify (the notify input): a Reporter that posts a start
message for each deployment CodeDeploy accepts and one end message for the run, and turns a
hook that failed into a warning that names it (never its URL). A hook never changes the exit
code.

- start: the first status the watcher reports of each deployment (deploy and rollback; with
  ``--no-wait`` there is none, so the deployments created are announced when the run ends).
- end: the result, when the run watched the deployment to its end or gave up waiting; or the
  error that stopped the run (status ``Error``), or ``Cancelled``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ci_deploy import notify
from ci_deploy.ci_env import CiEnvironment
from ci_deploy.commands import Streams, environment_region
from ci_deploy.errors import CiDeployError, Interrupted
from ci_deploy.events import DeploymentStatusChanged, Event, Notice
from ci_deploy.inputs import Request
from ci_deploy.report import Reporter
from ci_deploy.report.github_commands import workflow_command
from ci_deploy.report.runner_log import write_command
from ci_deploy.result import DeploymentsResult, PushResult, console_url


class NotifyingReporter:
    """Forwards everything to ``inner`` and posts the notifications."""

    def __init__(
        self,
        inner: Reporter,
        hooks: Sequence[notify.Hook],
        poster: notify.Poster,
        request: Request,
        *,
        announce_starts: bool,
        watched: bool,
    ) -> None:
        self._inner = inner
        self._hooks = tuple(hooks)
        self._poster = poster
        self._action = request.verb
        self._env = request.env
        self._ci = request.ci
        self._application = _text(request.values.get("application"))
        self._group = _text(request.values.get("deployment_group"))
        regions = request.values.get("regions")
        self._regions = tuple(regions) if isinstance(regions, tuple) else ()
        self._announce_starts = announce_starts
        self._watched = watched
        self._announced: dict[str, str] = {}  # deployment id -> region
        self._ended = False
        self._lock = threading.Lock()
        self._posting = threading.Lock()  # one message at a time through the one session

    # -- Reporter

    def event(self, event: Event) -> None:
        self._inner.event(event)
        if not self._announce_starts or not isinstance(event, DeploymentStatusChanged):
            return
        with self._lock:  # regions deployed in parallel report from their own threads
            if event.deployment_id in self._announced:
                return
            region = event.region or self._default_region()
            self._announced[event.deployment_id] = region or ""
        self._post(
            notify.start_notification(
                action=self._action,
                application=self._application,
                deployment_group=self._group,
                region=region,
                deployment_id=event.deployment_id,
                console_url=console_url(region, event.deployment_id) if region else None,
                ci=self._ci,
            )
        )

    def finish(self, result: DeploymentsResult | PushResult) -> None:
        try:
            with self._lock:
                ended, self._ended = self._ended, True
            if not ended:
                # The messages carry the result object the command prints (its JSON form).
                self._notify_result(result.as_json())
        finally:
            self._inner.finish(result)

    # -- the rest

    def fail(self, error: BaseException) -> None:
        """The run stopped without a result: post its end with the error (or the cancel)."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
        cancelled = isinstance(error, KeyboardInterrupt | Interrupted)
        if isinstance(error, CiDeployError):
            message = error.message
        elif cancelled:
            message = "the CI job was cancelled"
        else:
            message = f"ci-deploy stopped on an unexpected error ({type(error).__name__})"
        self._post(
            notify.error_notification(
                action=self._action,
                application=self._application,
                deployment_group=self._group,
                regions=self._regions,
                deployment_ids=[(region, did) for did, region in self._announced.items()],
                status="Cancelled" if cancelled else "Error",
                message=message,
                ci=self._ci,
            )
        )

    def _notify_result(self, result: Mapping[str, Any]) -> None:
        if self._watched:
            self._post(notify.from_result(result, action=self._action, ci=self._ci))
            return
        # --no-wait: the deployments were created and go on without us; their end is for
        # `ci-deploy wait` to report.
        for region in result.get("deployments") or ():
            did = region.get("deployment_id")
            if did and did not in self._announced:
                self._announced[did] = str(region.get("region") or "")
                self._post(
                    notify.start_notification(
                        action=self._action,
                        application=_text(result.get("application")) or self._application,
                        deployment_group=_text(result.get("deployment_group")) or self._group,
                        region=region.get("region"),
                        deployment_id=did,
                        console_url=region.get("console_url"),
                        ci=self._ci,
                    )
                )

    def _default_region(self) -> str | None:
        """A single-region run's region, as the clients resolve it (events name the region only
        when there are several)."""
        if len(self._regions) == 1:
            return self._regions[0]
        return environment_region(self._env)

    def _post(self, notification: notify.Notification) -> None:
        with self._posting:
            deliveries = notify.deliver(self._poster, self._hooks, notification)
        for delivery in deliveries:
            if not delivery.ok:
                self._inner.event(
                    Notice(
                        f"{delivery.hook.label}: the {notification.phase} message was not "
                        f"delivered: {delivery.reason}; the deployment's outcome and exit code "
                        "are unchanged",
                        "warning",
                    )
                )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def mask_on_github(hooks: Sequence[notify.Hook], streams: Streams, ci: CiEnvironment) -> None:
    """On GitHub's runner, have it mask the URLs (and their tokens) from here on. Elsewhere no
    one masks, and ``::add-mask::`` would print them: they are never printed anyway."""
    if not ci.on_github_runner:
        return
    for hook in hooks:
        for secret in hook.secrets():
            write_command(streams.stderr, workflow_command("add-mask", secret))


@contextmanager
def notifying(
    request: Request, report: Reporter, streams: Streams, *, poster: notify.Poster | None = None
) -> Iterator[Reporter]:
    """``report``, wrapped to notify the hooks of the notify input (``report`` itself when it is
    empty). Bad hooks are bad input before anything is deployed. If the block raises before the
    end was posted, the end is posted with the error."""
    hooks = notify.parse_hooks(request.items("notify"))
    if not hooks:
        yield report
        return
    mask_on_github(hooks, streams, request.ci)
    watching = request.verb == "wait" or bool(request.values.get("wait", True))
    sender = poster or notify.Poster()
    wrapped = NotifyingReporter(
        report,
        hooks,
        sender,
        request,
        announce_starts=request.verb != "wait",
        watched=watching,
    )
    try:
        yield wrapped
    except BaseException as error:
        wrapped.fail(error)
        raise
    finally:
        sender.close()
