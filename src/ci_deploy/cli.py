"""argv/env -> typed request -> one command -> exit code. The only module that reads the
environment or exits."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import FrameType
from typing import NoReturn, Protocol, TextIO

from ci_deploy import __version__
from ci_deploy.ci_env import ci_environment
from ci_deploy.commands import Streams
from ci_deploy.errors import AppSpecError, CiDeployError, ExitCode, InputError
from ci_deploy.inputs import Input, Request, for_verb, resolve
from ci_deploy.report.runner_log import CommandGuard, write_command

# verb -> (module under ci_deploy.commands, one-line summary). Modules are imported only when
# their verb runs, so `validate` and `--version` never import boto3.
COMMANDS: Mapping[str, tuple[str, str]] = {
    "validate": ("validate", "Check an AppSpec and report every problem with file:line:column."),
    "bundle": ("bundle", "Build a reproducible zip/tar/tgz of a revision directory."),
    "push": ("push", "Upload a revision to S3 and register it; print the revision to deploy."),
    "deploy": ("deploy", "Validate, bundle, upload, start a deployment and watch it to the end."),
    "wait": ("wait", "Watch a deployment until it ends; exit code from its status."),
    "status": ("status", "One snapshot of a deployment: targets, lifecycle events, diagnostics."),
    "stop": ("stop", "Stop a deployment (optionally rolling back updated instances)."),
    "rollback": ("rollback", "Redeploy the last successful revision (or --to's) and watch it."),
    "local": ("local", "Rehearse a revision here: install its files and run its hooks."),
    "emulator": ("emulator", "Serve a local CodeDeploy endpoint (plus S3) with real instances."),
    "iam-policy": ("iam_policy", "Print the least-privilege IAM policy for the verbs you run."),
}


class Command(Protocol):
    def run(self, request: Request, streams: Streams) -> int: ...


class _ArgumentParser(argparse.ArgumentParser):
    """Usage errors are bad input (exit 2) with the same one-line shape as every other error."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message}", hint=f"see '{self.prog} --help'")


def _help_for(spec: Input) -> str:
    parts = [spec.help]
    if spec.secret:
        parts.append(f"Secret: prefer {spec.env} (a flag's value shows in `ps` and shell history).")
    if spec.default not in (None, (), ""):
        parts.append(f"(default: {spec.default_text()})")
    parts.append(f"[env: {spec.env}]")
    return " ".join(parts).replace("%", "%%")


def _add_input(parser: argparse.ArgumentParser, spec: Input) -> None:
    if not spec.has_flag:
        return  # environment only
    if spec.positional:
        parser.add_argument(
            spec.name, nargs="?", default=None, help=_help_for(spec), metavar=spec.name.upper()
        )
        return
    names = [spec.flag, *spec.aliases]
    common: dict[str, object] = {"dest": spec.name, "default": None, "help": _help_for(spec)}
    if spec.kind == "bool":
        parser.add_argument(*names, action=argparse.BooleanOptionalAction, **common)  # type: ignore[arg-type]
    elif spec.kind == "list":
        parser.add_argument(
            *names,
            action="append",
            metavar=spec.metavar or "VALUE[,VALUE]",
            **common,  # type: ignore[arg-type]
        )
        if spec.no_flag_value is not None:
            parser.add_argument(
                "--no-" + spec.flag.removeprefix("--"),
                dest=spec.name,
                action="append_const",
                const=spec.no_flag_value,
                help=f"The same as {spec.flag} {spec.no_flag_value}.",
            )
    elif spec.kind == "choice":
        parser.add_argument(*names, metavar="|".join(spec.choices), **common)  # type: ignore[arg-type]
    else:
        parser.add_argument(*names, metavar=spec.metavar or spec.kind.upper(), **common)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="ci-deploy",
        description="Ship applications with AWS CodeDeploy from any CI system.",
        epilog="Exit codes: 0 ok, 1 deployment failed or stopped, 2 bad input, 3 AWS error, "
        "4 gave up waiting, 5 unexpected error (a bug), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"ci-deploy {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_ArgumentParser)
    for verb, (_, summary) in COMMANDS.items():
        sub = verbs.add_parser(verb, help=summary, description=summary)
        for spec in for_verb(verb):
            _add_input(sub, spec)
    return parser


def parse_request(argv: Sequence[str], env: Mapping[str, str], ci_system: str) -> Request:
    """The verb's request; ``ci_system`` is the detected CI, for ``--ci-system auto``."""
    parser = build_parser()
    namespace = parser.parse_args(argv)
    if namespace.verb is None:
        raise InputError("no verb given", hint="run 'ci-deploy --help' to list them")
    values = resolve(namespace.verb, vars(namespace), env)
    if values.get("ci_system") == "auto":
        values["ci_system"] = ci_system
    return Request(verb=namespace.verb, values=values, env=dict(env))


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # CI systems cancel a job with SIGTERM (GitHub, GitLab, Jenkins) or SIGINT; both become
    # KeyboardInterrupt so the core's cleanup (StopDeployment, killing hooks) runs.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _report_error(error: CiDeployError, stderr: TextIO, ci_system: str) -> None:
    stderr.write(f"ci-deploy: error: {error.message}\n")
    if error.hint:
        stderr.write(f"  hint: {error.hint}\n")
    if ci_system == "github":
        # An annotation on the run's summary page; %, CR and LF are escaped per the runner's rules.
        from ci_deploy.report.github_commands import annotation  # noqa: PLC0415

        write_command(stderr, annotation("error", error.message, title="ci-deploy"))


@dataclass
class _Run:
    """What the error handler needs to know about the run, filled in as it becomes known."""

    stderr: TextIO
    env: Mapping[str, str]
    debug: bool
    ci_system: str
    code: int = ExitCode.OK


def _report_diagnostics(error: AppSpecError, run: _Run) -> None:
    """An AppSpecError carries the diagnostics not shown yet: show them once, here, for every
    verb: as text, and on GitHub also as annotations on the appspec's lines."""
    # Imported here: only a failing run pays for the renderers.
    from ci_deploy.appspec import Diagnostic  # noqa: PLC0415
    from ci_deploy.report.diagnostics import render_text  # noqa: PLC0415

    run.stderr.write(render_text(d for d in error.diagnostics if isinstance(d, Diagnostic)))
    if run.ci_system == "github":
        from ci_deploy.report.github_commands import (  # noqa: PLC0415
            appspec_annotations,
            workspace_of,
        )

        for line in appspec_annotations(error.diagnostics, workspace_of(run.env)):
            write_command(run.stderr, line)


@contextmanager
def error_handler(run: _Run) -> Iterator[_Run]:
    """The one place that maps exceptions to exit codes."""
    try:
        yield run
    except CiDeployError as error:
        stderr = run.stderr  # read now: the run may have guarded it meanwhile
        if run.debug:
            traceback.print_exc(file=stderr)
        if isinstance(error, AppSpecError) and error.diagnostics:
            _report_diagnostics(error, run)
        _report_error(error, stderr, run.ci_system)
        run.code = error.exit_code
    except KeyboardInterrupt:
        run.stderr.write("ci-deploy: interrupted\n")
        run.code = ExitCode.INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the catch-all that turns a bug into exit 5
        if run.debug:
            traceback.print_exc(file=run.stderr)
        run.stderr.write(
            f"ci-deploy: unexpected error (a bug): {type(error).__name__}: {error}\n"
            "  hint: rerun with --debug for a traceback and report it at the project's issues\n"
        )
        run.code = ExitCode.BUG


def guarded(streams: Streams) -> Streams:
    """``streams`` whose text can issue no workflow command of its own (see runner_log)."""
    if isinstance(streams.stderr, CommandGuard):
        return streams
    return replace(
        streams,
        stdout=CommandGuard(streams.stdout, json=True),  # stdout carries JSON documents
        stderr=CommandGuard(streams.stderr),
    )


def run(argv: Sequence[str], env: Mapping[str, str], streams: Streams) -> int:
    """Everything main() does but exiting; tests call this."""
    debug = "--debug" in argv or env.get("CI_DEPLOY_DEBUG", "").lower() in {"true", "1", "yes"}
    ci = ci_environment(env)  # before the request exists: its errors are rendered for this CI
    if ci.on_github_runner:
        streams = guarded(streams)  # from the first line: an argument can be a file name
    state = _Run(streams.stderr, env, debug, ci.system)
    try:
        with error_handler(state):
            request = parse_request(argv, env, ci.system)
            state.ci_system = str(request.values.get("ci_system") or state.ci_system)
            if state.ci_system == "github":  # GitHub's rendering: the log may be a runner's
                streams = guarded(streams)
                state.stderr = streams.stderr
            module_name, _ = COMMANDS[request.verb]
            command: Command = importlib.import_module(f"ci_deploy.commands.{module_name}")
            state.code = command.run(request, streams)
    finally:
        for stream in (streams.stdout, streams.stderr):
            if isinstance(stream, CommandGuard):
                stream.end()
    return state.code


def main(argv: Sequence[str] | None = None) -> NoReturn:
    # A shell starting us in the background hands us SIGINT ignored; a cancelled CI job must
    # still reach the cleanup, so both signals are (re)installed here.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    streams = Streams(stdout=sys.stdout, stderr=sys.stderr, interactive=sys.stderr.isatty())
    try:
        code = run(list(sys.argv[1:] if argv is None else argv), dict(os.environ), streams)
    except SystemExit as done:  # argparse's --help/--version
        code = done.code if isinstance(done.code, int) else ExitCode.OK
    sys.stdout.flush()
    sys.exit(code)
