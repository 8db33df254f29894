"""GitLab CI rendering: one collapsible log section per target, and a dotenv report for later jobs.

GitLab folds the lines between ``section_start`` and ``section_end`` markers in the job log and
shows the section's duration from the two timestamps; see
https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections. Sections cannot
interleave, and the targets of a deployment progress at the same time, so each target's lines
are kept until that target ends and then written as one section: collapsed when it succeeded,
open when it failed. Deployment status lines and notices are written as they come.

The dotenv report (https://docs.gitlab.com/ci/yaml/artifacts_reports/#artifactsreportsdotenv)
hands ``CI_DEPLOY_DEPLOYMENT_ID``, ``CI_DEPLOY_STATUS`` and ``CI_DEPLOY_DEPLOYMENT_URL`` to later
jobs and to the job's own ``environment:url``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TextIO

from ci_deploy.errors import InputError
from ci_deploy.events import (
    DeploymentStatusChanged,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    TargetStatusChanged,
)
from ci_deploy.inputs import BY_NAME
from ci_deploy.report.text import format_event
from ci_deploy.result import DeploymentsResult, Result
from ci_deploy.streams import Streams
from ci_deploy.vocabulary import SETTLED_TARGET_STATUSES, TERMINAL_DEPLOYMENT_STATUSES

# Control characters other than tab and newline: a hook's output must not be able to forge a
# section marker (ESC[0K...\r) or rewrite the line before it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SECTION_NAME_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


def clean(text: str) -> str:
    """``text`` without terminal control characters, so it prints as plain lines."""
    return _CONTROL.sub("", text)


def section_start(name: str, header: str, timestamp: int, *, collapsed: bool) -> str:
    option = "[collapsed=true]" if collapsed else ""
    return f"\x1b[0Ksection_start:{timestamp}:{name}{option}\r\x1b[0K{clean(header)}"


def section_end(name: str, timestamp: int) -> str:
    return f"\x1b[0Ksection_end:{timestamp}:{name}\r\x1b[0K"


def section_name(*parts: str) -> str:
    """A section name GitLab accepts: lower-case letters, digits, ``_``, ``.`` and ``-``."""
    return "_".join(_SECTION_NAME_UNSAFE.sub("-", part.lower()).strip("-") for part in parts)


def dotenv_values(result: Result) -> dict[str, str]:
    """The variables later jobs read (empty after a push: it deploys nothing)."""
    deployed = result if isinstance(result, DeploymentsResult) else None
    return {
        "CI_DEPLOY_DEPLOYMENT_ID": (deployed and deployed.deployment_id) or "",
        "CI_DEPLOY_STATUS": (deployed and deployed.status) or "",
        "CI_DEPLOY_DEPLOYMENT_URL": (deployed and deployed.console_url) or "",
    }


def write_dotenv(path: Path, values: Mapping[str, str]) -> None:
    """Write ``KEY=value`` lines. GitLab's dotenv parser takes one line per variable and no
    quoting, so a value is kept to its first line."""
    lines = []
    for key, value in values.items():
        first_line = value.splitlines()[0] if value else ""
        lines.append(f"{key}={first_line.strip()}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")


@dataclass
class _Target:
    """The lines of one target not yet written, and what its section header says."""

    started: float
    lines: list[str] = field(default_factory=list)
    status: str = "InProgress"
    events: int = 0
    failed_event: str | None = None
    failure: str | None = None
    # Set when several regions are deployed at once: the section header names it.
    region: str | None = None


class GitlabReporter:
    """Deployment lines as they change; one section per target when it ends; a dotenv report."""

    def __init__(
        self,
        stream: TextIO,
        dotenv_file: Path | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stream = stream
        self._dotenv_file = dotenv_file
        self._clock = clock
        self._targets: dict[tuple[str, str], _Target] = {}
        self._ended: set[tuple[str, str]] = set()
        self._finished: dict[str, str] = {}
        self._sections = 0

    def event(self, event: Event) -> None:
        if isinstance(event, TargetStatusChanged | LifecycleEventStarted | LifecycleEventEnded):
            key = (event.deployment_id, event.target_id)
            self._flush_ended(keep=key)
            self._flush_finished(keep=event.deployment_id)
            self._record(event)
            return
        self._flush_ended()
        if isinstance(event, DeploymentStatusChanged):
            self._flush_finished(keep=event.deployment_id)
            if event.status in TERMINAL_DEPLOYMENT_STATUSES:
                # The watcher reports a poll's deployment status before its targets: the last
                # targets' sections come first, then this line.
                self._finished[event.deployment_id] = format_event(event)
            else:
                self._print(format_event(event))
            return
        self._flush_finished()
        self._print(format_event(event))

    def finish(self, result: Result) -> None:
        """Write what is still held (the run ended early: a timeout, a cancel), then the dotenv."""
        statuses = _target_statuses(result)
        for key, target in self._targets.items():
            target.status = statuses.get(key, target.status)
        self._flush_finished()
        self._flush(lambda key: True)
        if self._dotenv_file is not None:
            write_dotenv(self._dotenv_file, dotenv_values(result))

    # -- targets

    def _record(
        self, event: TargetStatusChanged | LifecycleEventStarted | LifecycleEventEnded
    ) -> None:
        key = (event.deployment_id, event.target_id)
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = _Target(started=self._clock(), region=event.region)
        target.lines.append(format_event(event))
        if isinstance(event, LifecycleEventEnded):
            target.events += 1
            if event.status == "Failed" and target.failed_event is None:
                target.failed_event = event.event_name
                if event.diagnostics is not None:
                    target.failure = event.diagnostics.error_code
        if isinstance(event, TargetStatusChanged):
            target.status = event.status
            # Its lifecycle events of the same poll follow: the section is written at the next
            # event about something else.
            # Ready (blue/green, waiting for traffic) ends a section too: later events open another.
            if event.status in SETTLED_TARGET_STATUSES:
                self._ended.add(key)
            else:
                self._ended.discard(key)

    def _flush_ended(self, keep: tuple[str, str] | None = None) -> None:
        self._flush(lambda key: key in self._ended and key != keep)

    def _flush_finished(self, keep: str | None = None) -> None:
        """Write the held targets and the final line of each ended deployment but ``keep``."""
        for deployment_id in [d for d in self._finished if d != keep]:
            self._flush(partial(_of_deployment, deployment_id))
            self._print(self._finished.pop(deployment_id))

    def _flush(self, which: Callable[[tuple[str, str]], bool]) -> None:
        for key in [key for key in self._targets if which(key)]:
            self._ended.discard(key)
            self._write_section(key, self._targets.pop(key))

    def _write_section(self, key: tuple[str, str], target: _Target) -> None:
        deployment_id, target_id = key
        self._sections += 1
        name = section_name("ci_deploy", deployment_id, target_id, str(self._sections))
        failed = target.status == "Failed" or target.failed_event is not None
        header = f"[{target.region}] " if target.region else ""
        header += f"{target_id}: {target.status}"
        if target.failed_event is not None:
            reason = f" ({target.failure})" if target.failure else ""
            header += f" in {target.failed_event}{reason}"
        else:
            plural = "" if target.events == 1 else "s"
            header += f" ({target.events} lifecycle event{plural})"
        self._marker(section_start(name, header, int(target.started), collapsed=not failed))
        for line in target.lines:
            self._print(line)
        self._marker(section_end(name, int(self._clock())))

    def _marker(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    def _print(self, text: str) -> None:
        self._stream.write(clean(text) + "\n")
        self._stream.flush()


def _of_deployment(deployment_id: str, key: tuple[str, str]) -> bool:
    return key[0] == deployment_id


def _target_statuses(result: Result) -> dict[tuple[str, str], str]:
    """(deployment id, target id) -> the target's status in the final result."""
    if not isinstance(result, DeploymentsResult):
        return {}
    return {
        (run.deployment_id or "", target.target_id): target.status
        for run in result.runs
        for target in run.targets.values()
    }


def make_reporter(streams: Streams, env: Mapping[str, str]) -> GitlabReporter:
    """The GitLab reporter; the dotenv report is written only where the template asks for it."""
    spec = BY_NAME["dotenv_file"]
    raw = env.get(spec.env, "")
    dotenv_file = spec.parse(raw) if raw.strip() else None
    assert dotenv_file is None or isinstance(dotenv_file, Path)
    if dotenv_file is not None:
        # Checked before any work, so a bad path fails before the deployment, not after it.
        try:
            dotenv_file.parent.mkdir(parents=True, exist_ok=True)
            existed = dotenv_file.exists()
            with dotenv_file.open("a", encoding="utf-8"):
                pass
            if not existed:
                dotenv_file.unlink()  # no report until there is a result to report
        except OSError as error:
            raise InputError(
                f"input dotenv_file: cannot write {raw!r} ({error.strerror or error})",
                hint=f"set {spec.env} to a file path in the job's directory",
            ) from None
    return GitlabReporter(streams.stderr, dotenv_file)
