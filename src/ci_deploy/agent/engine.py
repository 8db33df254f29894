"""Run one deployment's lifecycle on this host, as the CodeDeploy agent does.

Where the engine does better than the agent 1.8.1 (reference/appspec-rules.md, "Observed by
running the agent"):

- an invalid appspec, including unknown lifecycle event names, fails DownloadBundle, before any
  script of the new revision runs (the agent fails at Install, after BeforeInstall ran);
- Install checks every destination (DISALLOW conflicts, collisions, paths escaping the root)
  before removing the previous revision's files, so such a failure leaves the previous
  installation and its cleanup record intact (the agent has already deleted both);
- Install never writes or deletes through a symlink the revision installs or the group's
  record lists (the agent's CopyCommand and RemoveCommand go through them), and it records
  what it is about to create, fsynced, before it changes anything, so the next Install
  removes what a killed one wrote;
- a hook that leaves a background process holding stdout/stderr open does not hang the event
  until its timeout: the engine stops reading shortly after the script exits and warns.

With ``DeploymentSpec.agent_diagnostics`` (the emulator's instances) the diagnostics are the
agent's own instead of ``ci-deploy local``'s: Success on every event that succeeds, the agent's
log as logTail, a missing hook script failing its own event with ScriptMissing, its messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ci_deploy.agent.appspec_model import LEFT_TO_HOOKS, AppSpec, RevisionError, load_appspec
from ci_deploy.agent.hooks import AgentTail, ScriptLog, ScriptOutcome, run_script
from ci_deploy.agent.install import InstallError, InstallStopped, install
from ci_deploy.agent.model import (
    PREVIOUS_REVISION_EVENTS,
    DeploymentResult,
    DeploymentSpec,
    LifecycleEventRecord,
    resolve_events,
    validate_spec,
)
from ci_deploy.agent.permissions import apply_permissions, claim_paths
from ci_deploy.agent.state import GroupState
from ci_deploy.agent.unpack import DEFAULT_MAX_UNPACKED_SIZE, UnreadableBundle, unpack
from ci_deploy.bundle.kinds import detect_bundle_type
from ci_deploy.errors import CiDeployError, InputError
from ci_deploy.events import (
    Diagnostics,
    EventSink,
    LifecycleEventEnded,
    LifecycleEventStarted,
    Notice,
    TargetStatusChanged,
)

# What the agent reports for an event that succeeded (command_poller.rb, gather_diagnostics:
# error code 0, no script, an empty log), as the service shows it.
AGENT_SUCCESS = Diagnostics("Success", "", "Succeeded", "")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Failure(Exception):
    """An event failed; carries the diagnostics the API would show."""

    def __init__(self, diagnostics: Diagnostics, stopped: bool = False) -> None:
        super().__init__(diagnostics.message)
        self.diagnostics = diagnostics
        self.stopped = stopped


class _Deployment:
    def __init__(
        self,
        *,
        spec: DeploymentSpec,
        sink: EventSink,
        target_id: str,
        cancel: threading.Event | None,
        clock: Callable[[], datetime],
        log: ScriptLog,
    ) -> None:
        self.spec = spec
        self.sink = sink
        self.target_id = target_id
        self.cancel = cancel
        self.clock = clock
        self.log = log
        self.group = GroupState(spec.state_dir, spec.deployment_group_id)
        self.deployment_dir = self.group.deployment_dir(spec.deployment_id)
        self.archive = self.deployment_dir / "deployment-archive"
        self.previous = self.group.last_successful()
        self.appspec: AppSpec | None = None
        self.installed: list[str] = []
        self.warnings: list[str] = []
        # What the agent leaves to the hook's own event instead of failing DownloadBundle.
        self.tolerated = LEFT_TO_HOOKS if spec.agent_diagnostics else frozenset()

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.log.line(f"warning: {message}")
        self.sink(Notice(message, level="warning"))

    def stopped(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def run_event(self, name: str) -> None:
        self.log.line(f"LifecycleEvent - {name}")
        if name == "DownloadBundle":
            self.download_bundle()
        elif name == "Install":
            self.install()
        elif name in PREVIOUS_REVISION_EVENTS:
            self.run_previous_revision_hooks(name)
        else:
            assert self.appspec is not None  # DownloadBundle always runs before these
            self.run_hooks(name, self.archive, self.appspec)

    def download_bundle(self) -> None:
        spec = self.spec
        try:
            bundle_type = spec.bundle_type or detect_bundle_type(spec.source)
            limit = spec.max_unpacked_size
            for warning in unpack(
                spec.source,
                bundle_type,
                self.deployment_dir / "bundle-unpacking",
                self.archive,
                spec.appspec_filename,
                max_unpacked_size=DEFAULT_MAX_UNPACKED_SIZE if limit is None else limit,
            ):
                self.warn(warning)
            self.appspec = load_appspec(
                self.archive, spec.appspec_filename, tolerated=self.tolerated
            )
            for warning in self.appspec.warnings:
                self.warn(warning)
        except UnreadableBundle as error:
            if spec.agent_diagnostics and error.bundle_type in ("tar", "tgz"):
                # The agent runs /bin/tar, which exits 2 on what is not a tar (or gzip) file;
                # linux_util.rb's execute_tar_command raises with the exit status only.
                message = "Error extracting tar archive: 2"
                raise _Failure(Diagnostics("UnknownError", "", message, "")) from error
            raise _Failure(Diagnostics("UnknownError", None, str(error), "")) from error
        except (RevisionError, CiDeployError) as error:
            raise _Failure(Diagnostics("UnknownError", None, str(error), "")) from error
        except OSError as error:
            message = f"cannot unpack {spec.source}: {error.strerror} ({error.filename})"
            raise _Failure(Diagnostics("UnknownError", None, message, "")) from error

    def install(self) -> None:
        assert self.appspec is not None
        spec = self.spec
        behavior = self.appspec.file_exists_behavior or spec.file_exists_behavior or "DISALLOW"
        root = spec.root or Path("/")
        permissions = self.appspec.permissions
        try:
            root.mkdir(parents=True, exist_ok=True)
            done = install(
                archive=self.archive,
                appspec=self.appspec,
                root=root,
                group=self.group,
                deployment_id=spec.deployment_id,
                behavior=behavior,
                should_stop=self.stopped,
                # The agent fails on permissions before it copies anything.
                check=lambda kinds: claim_paths(permissions, root, kinds),
            )
            self.installed = done.installed
            for path in done.retained:
                self.log.line(f"file_exists_behavior RETAIN: kept existing {path}")
            for path in done.kept:
                self.log.line(f"Install did not delete the previous revision's {path}")
            if done.kept:
                more = f" (and {len(done.kept) - 1} more, in the log)" if len(done.kept) > 1 else ""
                self.warn(
                    f"Install did not delete the previous revision's {done.kept[0]}{more}: a "
                    "symlink is never followed to delete a file; remove it yourself if it "
                    "should go"
                )
            for warning in apply_permissions(permissions, root, self.installed):
                self.warn(warning)
        except InstallError as error:
            self.installed = error.installed
            message = str(error)
            if not isinstance(error, InstallStopped):
                message += (
                    f"; {len(error.installed)} path(s) were installed before the failure and "
                    "are recorded for removal by the group's next Install"
                )
            raise _Failure(
                Diagnostics("UnknownError", None, message, ""),
                stopped=isinstance(error, InstallStopped),
            ) from error
        except RevisionError as error:
            raise _Failure(Diagnostics("UnknownError", None, str(error), "")) from error
        except OSError as error:
            message = f"Install failed: {error.strerror} ({error.filename})"
            raise _Failure(Diagnostics("UnknownError", None, message, "")) from error
        self.group.mark_installed(spec.deployment_id)

    def run_previous_revision_hooks(self, name: str) -> None:
        if self.previous is None:
            self.log.line(f"{name}: no previous successful revision in this group; skipped")
            return
        archive = self.previous / "deployment-archive"
        try:
            appspec = load_appspec(archive, self.spec.appspec_filename, tolerated=self.tolerated)
        except (RevisionError, CiDeployError) as error:
            failure = _Failure(Diagnostics("UnknownError", None, str(error), ""))
            self._maybe_ignore(name, failure)
            return
        try:
            self.run_hooks(name, archive, appspec)
        except _Failure as failure:
            self._maybe_ignore(name, failure)

    def _maybe_ignore(self, name: str, failure: _Failure) -> None:
        if failure.stopped or not self.spec.ignore_application_stop_failures:
            raise failure
        self.warn(
            f"{name} of the previous revision failed and was ignored "
            f"(ignore_application_stop_failures): {failure.diagnostics.message}"
        )

    def hook_env(self, name: str) -> dict[str, str]:
        spec = self.spec
        env = dict(spec.base_env)
        env.update(spec.bundle_env)
        env.update(
            LIFECYCLE_EVENT=name,
            DEPLOYMENT_ID=spec.deployment_id,
            APPLICATION_NAME=spec.application,
            DEPLOYMENT_GROUP_NAME=spec.deployment_group,
            DEPLOYMENT_GROUP_ID=spec.deployment_group_id,
            # Not set by the agent: lets a rehearsal's hooks find the install root (--root).
            CI_DEPLOY_ROOT=str(spec.root or "/"),
        )
        return env

    def run_hooks(self, name: str, archive: Path, appspec: AppSpec) -> None:
        scripts = appspec.hooks.get(name, ())
        # The agent's log of this event (one HookExecutor per event), header line first.
        tail = AgentTail() if self.spec.agent_diagnostics else None
        if tail is not None and scripts:
            tail.append(f"LifecycleEvent - {name}\n")
        for script in scripts:
            if self.stopped():  # stopped before this script began: it does not start
                message = f"the deployment was stopped before {script.location} started"
                raise _Failure(Diagnostics("UnknownError", script.location, message, ""), True)
            outcome: ScriptOutcome = run_script(
                archive, script, self.hook_env(name), self.log, self.cancel, agent_tail=tail
            )
            if outcome.held_open:
                self.warn(
                    f"{name}: {script.location} exited but a background process it started "
                    "still holds its stdout/stderr open; the agent would wait here until the "
                    "script's timeout and fail. ci-deploy stopped reading, so the process's "
                    "later writes there fail. Redirect the background command's output, "
                    "e.g. 'server > /var/log/server.log 2>&1 &'"
                )
            if not outcome.ok:
                raise _Failure(
                    Diagnostics(
                        outcome.error_code, script.location, outcome.message, outcome.log_tail
                    ),
                    stopped=outcome.stopped,
                )


def run_deployment(
    spec: DeploymentSpec,
    sink: EventSink,
    *,
    target_id: str = "localhost",
    cancel: threading.Event | None = None,
    event_delay_seconds: float = 0.0,
    clock: Callable[[], datetime] = utc_now,
) -> DeploymentResult:
    """Run ``spec``'s lifecycle events in order, emitting progress through ``sink``.

    Raises InputError for an invalid spec; a failed or stopped deployment is a result.
    """
    validate_spec(spec)
    events = resolve_events(spec.events)
    group = GroupState(spec.state_dir, spec.deployment_group_id)
    deployment_dir = group.deployment_dir(spec.deployment_id)
    with group.locked():
        if deployment_dir.exists():
            raise InputError(
                f"input deployment_id: {spec.deployment_id} was already deployed in "
                f"{group.group_dir}",
                hint="use a new deployment id for each deployment",
            )
        group.create_deployment_dir(spec.deployment_id)
        log_path = deployment_dir / "logs" / "scripts.log"
        with log_path.open("a", encoding="utf-8") as log_stream:
            log = ScriptLog(log_stream, clock)
            deployment = _Deployment(
                spec=spec, sink=sink, target_id=target_id, cancel=cancel, clock=clock, log=log
            )
            result = _run_events(deployment, events, event_delay_seconds, log_path)
        group.prune(spec.keep_revisions, spec.deployment_id)
    return result


def _run_events(
    deployment: _Deployment, events: tuple[str, ...], delay_seconds: float, log_path: Path
) -> DeploymentResult:
    spec, sink, target = deployment.spec, deployment.sink, deployment.target_id
    records: list[LifecycleEventRecord] = []
    status = "Succeeded"
    error_message: str | None = None
    sink(TargetStatusChanged(spec.deployment_id, target, "InProgress"))
    pacer = deployment.cancel or threading.Event()
    for index, name in enumerate(events):
        if status != "Succeeded" or deployment.stopped():
            if status == "Succeeded":
                status, error_message = "Stopped", "the deployment was stopped"
            records.append(LifecycleEventRecord(name, "Skipped", None, None, None))
            sink(LifecycleEventEnded(spec.deployment_id, target, name, "Skipped", None))
            continue
        if index and delay_seconds > 0:
            pacer.wait(delay_seconds)
        sink(LifecycleEventStarted(spec.deployment_id, target, name))
        started = deployment.clock()  # after the sink: a caller may hold the event there
        diagnostics: Diagnostics | None = None
        event_status = "Succeeded"
        try:
            deployment.run_event(name)
        except _Failure as failure:
            diagnostics, event_status = failure.diagnostics, "Failed"
            status = "Stopped" if failure.stopped else "Failed"
            error_message = f"{name} failed: {failure.diagnostics.message}"
        else:
            diagnostics = AGENT_SUCCESS if spec.agent_diagnostics else None
        ended = deployment.clock()
        records.append(LifecycleEventRecord(name, event_status, started, ended, diagnostics))
        sink(
            LifecycleEventEnded(
                spec.deployment_id,
                target,
                name,
                event_status,
                (ended - started).total_seconds(),
                diagnostics,
            )
        )
    sink(TargetStatusChanged(spec.deployment_id, target, status))
    return DeploymentResult(
        deployment_id=spec.deployment_id,
        status=status,
        events=tuple(records),
        error_message=error_message,
        installed=tuple(deployment.installed),
        log_path=log_path,
        warnings=tuple(deployment.warnings),
    )
