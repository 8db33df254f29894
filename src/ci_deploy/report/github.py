"""GitHub Actions rendering: the reporter that writes progress groups, annotations, step
outputs and the job summary (the runner's protocol is in github_commands, the Markdown in
github_summary)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ci_deploy.ci_env import ci_environment
from ci_deploy.events import (
    DeploymentStatusChanged,
    Event,
    LifecycleEventEnded,
    LifecycleEventStarted,
    Notice,
    TargetStatusChanged,
)
from ci_deploy.report.github_commands import (
    MAX_ANNOTATIONS,
    annotation,
    appspec_annotations,
    outputs_of,
    runner_file,
    untrusted_block,
    workflow_command,
    workspace_of,
    write_output,
)
from ci_deploy.report.github_summary import summary_markdown
from ci_deploy.report.runner_log import CommandGuard, new_token
from ci_deploy.report.text import format_event, region_label
from ci_deploy.result import DeploymentsResult, Result
from ci_deploy.streams import Streams

# ---------------------------------------------------------------------------------------------
# The reporter


@dataclass(frozen=True)
class GithubPaths:
    """The runner's files and the paths annotations are relative to."""

    output: Path | None
    step_summary: Path | None
    workspace: Path
    source: Path | None


def _group_title(
    event: DeploymentStatusChanged
    | TargetStatusChanged
    | LifecycleEventStarted
    | LifecycleEventEnded,
) -> str:
    """A log group per deployment, naming its region when several are deployed at once."""
    where = f" ({event.region})" if event.region else ""
    return f"CodeDeploy deployment {event.deployment_id}{where}"


class GithubReporter:
    """Progress in collapsible groups, annotations for failures, outputs and a job summary.

    Its text goes through a CommandGuard, so only the commands it means are obeyed. Secrets
    are announced for masking only on GitHub's runner (``masking``): anywhere else no one
    masks them and ``::add-mask::`` would print them in clear."""

    def __init__(
        self,
        stream: TextIO,
        paths: GithubPaths,
        *,
        secrets: Iterable[str] = (),
        masking: bool = True,
        token: Callable[[], str] = new_token,
    ) -> None:
        self._stream = CommandGuard.around(stream)
        self._paths = paths
        self._token = token
        self._group: str | None = None
        self._deployment: str | None = None
        self._annotated: set[tuple[str, ...]] = set()
        self._annotations = 0
        secrets = [secret for secret in secrets if secret.strip()]
        if masking:
            for secret in secrets:
                self._command(workflow_command("add-mask", secret))
        elif secrets:
            self._print(
                "warning: not on GitHub's runner (GITHUB_ACTIONS is not 'true'): no one masks "
                "secrets in this log, so the GitHub token is not announced (it is never printed)"
            )

    # -- progress

    def event(self, event: Event) -> None:
        if isinstance(event, DeploymentStatusChanged):
            if event.deployment_id != self._deployment:
                self._deployment = event.deployment_id
                self._open(_group_title(event))
            elif self._group is None:
                self._open(_group_title(event))
            # The group stays open at a terminal status: the same poll's target events follow
            # it. finish() or the next deployment closes it.
            self._print(format_event(event))
            return
        if isinstance(event, Notice):
            if self._group is None:
                self._open("ci-deploy")
            self._print(format_event(event))
            if event.level == "warning":
                self._annotate("warning", region_label(event) + event.message, title="ci-deploy")
            return
        if isinstance(event, TargetStatusChanged | LifecycleEventStarted) or (
            isinstance(event, LifecycleEventEnded) and event.status != "Failed"
        ):
            if self._group is None:
                self._open(_group_title(event))
            self._print(format_event(event))
            return
        assert isinstance(event, LifecycleEventEnded)
        self._lifecycle_failed(event)

    def _lifecycle_failed(self, event: LifecycleEventEnded) -> None:
        if self._group is None:
            self._open(_group_title(event))
        took = f" in {event.duration_seconds:.1f}s" if event.duration_seconds is not None else ""
        label = region_label(event)
        self._print(f"  {label}{event.target_id}: {event.event_name} Failed{took}")
        diag = event.diagnostics
        if diag is None:
            self._annotate(
                "error",
                f"{event.event_name} failed on {event.target_id}",
                title=f"CodeDeploy {event.event_name} failed",
            )
            return
        script = f" {diag.script_name}" if diag.script_name else ""
        self._print(f"    {diag.error_code}{script}: {diag.message}")
        if diag.log_tail.strip():
            self._print("    log tail:")
            self._command(untrusted_block(diag.log_tail, self._token()))
        message = f"{diag.error_code}{script} on {event.target_id}: {diag.message}"
        tail = diag.log_tail.strip()
        if tail:
            message += "\n" + "\n".join(tail.splitlines()[-10:])
        self._annotate(
            "error",
            message,
            title=f"CodeDeploy {event.event_name} failed",
            file=self._script_file(diag.script_name),
            dedupe=(event.event_name, diag.error_code, diag.script_name or "", diag.message),
        )

    def _script_file(self, script_name: str | None) -> str | None:
        """The hook script as a workspace-relative path, when it is in the source directory,
        so the annotation links to the file in the commit."""
        source = self._paths.source
        if not script_name or source is None:
            return None
        workspace = self._paths.workspace
        base = source if source.is_absolute() else workspace / source
        if not base.is_dir():
            return None
        candidate = (base / script_name.lstrip("/")).resolve()
        try:
            relative = candidate.relative_to(workspace.resolve())
        except ValueError:
            return None
        return relative.as_posix() if candidate.is_file() else None

    # -- appspec diagnostics

    def appspec_problems(self, diagnostics: Iterable[object]) -> None:
        """Annotate AppSpec problems on their file, line and column."""
        for line in appspec_annotations(diagnostics, self._paths.workspace):
            self._command(line)

    # -- the end

    def finish(self, result: Result) -> None:
        self._close()
        self._write_outputs(result)
        if self._paths.step_summary is not None:
            with self._paths.step_summary.open("a", encoding="utf-8") as summary:
                summary.write(summary_markdown(result))
        if (
            isinstance(result, DeploymentsResult)
            and result.status == "Succeeded"
            and result.deployment_id
        ):
            url = result.console_url
            where = f": {url}" if url else ""
            self._command(
                annotation(
                    "notice",
                    f"CodeDeploy deployment {result.deployment_id} succeeded{where}",
                    title="CodeDeploy",
                )
            )

    def _write_outputs(self, result: Result) -> None:
        path = self._paths.output
        if path is None:
            return
        for name, value in outputs_of(result).items():
            write_output(path, name, value, self._token())

    # -- plumbing

    def _annotate(
        self,
        level: str,
        message: str,
        *,
        title: str,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        dedupe: tuple[str, ...] | None = None,
    ) -> None:
        key = dedupe or (level, title, message, file or "", str(line), str(col))
        if key in self._annotated or self._annotations >= MAX_ANNOTATIONS:
            return
        self._annotated.add(key)
        self._annotations += 1
        self._command(annotation(level, message, title=title, file=file, line=line, col=col))

    def _open(self, title: str) -> None:
        self._close()
        self._group = title
        self._command(workflow_command("group", title))

    def _close(self) -> None:
        if self._group is not None:
            self._command(workflow_command("endgroup"))
            self._group = None

    def _print(self, text: str) -> None:
        """Text: a line in it that the runner would obey is printed, not obeyed."""
        self._stream.write(text + "\n")
        self._stream.flush()

    def _command(self, line: str) -> None:
        self._stream.command(line)
        self._stream.flush()


def paths_from(env: Mapping[str, str]) -> GithubPaths:
    def file(name: str) -> Path | None:
        return runner_file(name, env.get(name, ""))

    source = env.get("CI_DEPLOY_SOURCE", "").strip() or "."
    return GithubPaths(
        output=file("GITHUB_OUTPUT"),
        step_summary=file("GITHUB_STEP_SUMMARY"),
        workspace=workspace_of(env),
        source=Path(source),
    )


def make_reporter(streams: Streams, env: Mapping[str, str]) -> GithubReporter:
    """The GitHub reporter; on GitHub's runner, secrets that reach ci-deploy through its
    environment are masked before anything else is printed."""
    secrets = [env.get("CI_DEPLOY_GITHUB_TOKEN", "")]
    masking = ci_environment(env).on_github_runner
    return GithubReporter(streams.stderr, paths_from(env), secrets=secrets, masking=masking)
