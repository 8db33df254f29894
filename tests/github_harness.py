"""Runs a composite action's steps the way the GitHub Actions runner does, on this machine.

What it reproduces: inputs with their defaults (``${{ github.token }}`` evaluated), ``INPUT_*``
variables, ``${{ }}`` expressions substituted only in ``env:``, ``with:``, ``if:`` and output
``value:`` (a ``run:`` script containing one is an error, as the project's rule says), each
``run:`` written to a file under ``RUNNER_TEMP`` and started as
``bash --noprofile --norc -eo pipefail {0}`` in ``GITHUB_WORKSPACE``, fresh
``GITHUB_OUTPUT``/``GITHUB_ENV``/``GITHUB_PATH``/``GITHUB_STEP_SUMMARY`` files per step read
back afterwards (``name=value`` and ``name<<DELIM`` forms), ``GITHUB_ACTION_PATH``, workflow
commands parsed from stdout and stderr (with ``::stop-commands::``), steps skipped after a
failure, and cancellation: a signal sent to the step's process (what the runner does on cancel).

``uses:`` steps run through stand-ins (``actions/cache`` is a cache miss): they need the network.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class HarnessError(Exception):
    """The action does something the runner would reject, or the harness cannot emulate."""


# ---------------------------------------------------------------------------------------------
# Expressions: the subset actions use (contexts, literals, ==, !=, !, &&, ||, status functions).

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_*][A-Za-z0-9_\-]*)*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise HarnessError(f"cannot parse expression {text!r} at {pos}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", "0") if not isinstance(value, str) else value != ""


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return str(left).lower() == str(right).lower()


class _Parser:
    def __init__(self, text: str, lookup: Any, status: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.lookup = lookup
        self.status = status
        self.text = text

    def parse(self) -> Any:
        value = self._or()
        if self.pos != len(self.tokens):
            raise HarnessError(f"unexpected {self.tokens[self.pos][1]!r} in {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self.pos += 1
            right = self._and()
            value = value if _truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._compare()
        while self._peek() == "&&":
            self.pos += 1
            right = self._compare()
            value = right if _truthy(value) else value
        return value

    def _compare(self) -> Any:
        value = self._unary()
        while self._peek() in ("==", "!="):
            op = self.tokens[self.pos][1]
            self.pos += 1
            right = self._unary()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def _unary(self) -> Any:
        if self._peek() == "!":
            self.pos += 1
            return not _truthy(self._unary())
        if self._peek() == "(":
            self.pos += 1
            value = self._or()
            if self._peek() != ")":
                raise HarnessError(f"missing ) in {self.text!r}")
            self.pos += 1
            return value
        if self.pos >= len(self.tokens):
            raise HarnessError(f"expression ends early: {self.text!r}")
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "name":
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            if self._peek() == "(":
                self.pos += 1
                if self._peek() != ")":
                    raise HarnessError(f"functions with arguments are not emulated: {text}")
                self.pos += 1
                return self._function(text)
            return self.lookup(text)
        raise HarnessError(f"unexpected {text!r} in {self.text!r}")

    def _function(self, name: str) -> bool:
        functions = {
            "success": self.status == "success",
            "failure": self.status == "failure",
            "always": True,
            "cancelled": self.status == "cancelled",
        }
        if name not in functions:
            raise HarnessError(f"function {name}() is not emulated")
        return functions[name]


_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------------------------
# The runner's file and command protocol


def read_file_commands(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT/GITHUB_ENV file: ``name=value`` lines and ``name<<DELIM`` blocks."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text(encoding="utf-8").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        heredoc = re.fullmatch(r"([^=<]+)<<(.+)", line)
        if heredoc:
            name, delimiter = heredoc.groups()
            body: list[str] = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            if index >= len(lines):
                raise HarnessError(f"{path.name}: {name}: delimiter {delimiter} never closed")
            index += 1
            values[name] = "\n".join(body)
            continue
        if "=" not in line:
            raise HarnessError(f"{path.name}: malformed line {line!r}")
        name, value = line.split("=", 1)
        values[name] = value
    return values


def _unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text: str) -> str:
    return (
        text.replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
    )


@dataclass(frozen=True)
class WorkflowCommand:
    name: str
    properties: Mapping[str, str]
    message: str
    step: str


def _properties(raw: str, separator: str) -> dict[str, str]:
    props: dict[str, str] = {}
    for part in raw.split(separator):
        key, _, value = part.strip().partition("=")
        if key and value:
            props[key] = _unescape_property(value)
    return props


# The commands the runner knows (its IActionCommandExtension implementations).
KNOWN_COMMANDS = frozenset(
    (
        *("add-mask", "add-matcher", "add-path", "debug", "echo", "endgroup", "error", "group"),
        *("notice", "remove-matcher", "save-state", "set-env", "set-output", "stop-commands"),
        "warning",
    )
)


def parse_commands(line: str) -> list[tuple[str, dict[str, str], str]]:
    """The commands the runner could read in one log line (actions/runner ActionCommand.cs):
    ``::name props::data`` once leading whitespace is trimmed (TryParseV2), else, when that
    finds no command the runner knows, ``##[name props]data`` anywhere in the line (TryParse).
    Unknown names are kept (the runner ignores them): a test sees more, never less."""
    found: list[tuple[str, dict[str, str], str]] = []
    text = line.lstrip()
    end = text.find("::", 2) if text.startswith("::") else -1
    if end >= 0:
        name, _, raw = text[2:end].partition(" ")
        if name:
            found.append((name, _properties(raw, ","), _unescape_data(text[end + 2 :])))
            if name.lower() in KNOWN_COMMANDS:
                return found
    start = line.find("##[")
    close = line.find("]", start) if start >= 0 else -1
    if close >= 0:
        name, _, raw = line[start + 3 : close].partition(" ")
        if name:
            found.append((name, _properties(raw, ";"), _unescape_data(line[close + 1 :])))
    return found


@dataclass
class _CommandReader:
    """Reads log lines as the runner does; ``::stop-commands::T`` ... ``::T::`` are plain text."""

    step: str
    commands: list[WorkflowCommand]
    stopped_by: str | None = None

    def line(self, text: str) -> None:
        parsed = parse_commands(text)
        if self.stopped_by is not None:
            token = self.stopped_by.lower()
            if any(name.lower() == token for name, _, _ in parsed):
                self.stopped_by = None
            return
        for name, props, message in parsed:
            if name.lower() == "stop-commands":
                self.stopped_by = message
                return
            self.commands.append(WorkflowCommand(name, props, message, self.step))


def runner_commands(log: str) -> list[WorkflowCommand]:
    """The commands the runner obeys in ``log``, whose lines end at LF, CR or CRLF."""
    commands: list[WorkflowCommand] = []
    reader = _CommandReader("", commands)
    for line in re.split(r"\r\n|\r|\n", log):
        reader.line(line)
    return commands


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class StepResult:
    id: str
    kind: str  # run | uses
    outcome: str  # success | failure | skipped | cancelled
    exit_code: int | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[StepResult]
    outputs: dict[str, str]
    commands: list[WorkflowCommand]
    summary: str
    exit_code: int

    @property
    def log(self) -> str:
        return "".join(step.stdout + step.stderr for step in self.steps)

    def step(self, step_id: str) -> StepResult:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def annotations(self, level: str | None = None) -> list[WorkflowCommand]:
        levels = {level} if level else {"error", "warning", "notice"}
        return [command for command in self.commands if command.name in levels]

    def named(self, name: str) -> list[WorkflowCommand]:
        return [command for command in self.commands if command.name == name]


# ---------------------------------------------------------------------------------------------
# The runner


@dataclass(frozen=True)
class Cancel:
    """Send ``signum`` to the step's process when a log line of step ``step`` matches."""

    step: str
    pattern: str
    signum: int = signal.SIGTERM


def _stand_in_cache(with_: Mapping[str, str]) -> dict[str, str]:
    # actions/cache needs the cache service: behave as a miss, after checking its inputs.
    for required in ("path", "key"):
        if not with_.get(required, "").strip():
            raise HarnessError(f"actions/cache: input {required} is empty")
    return {"cache-hit": "false"}


STAND_INS = {"actions/cache": _stand_in_cache}


class ActionHarness:
    """Runs ``action_dir/action.yml`` with a workspace and a runner temp directory."""

    def __init__(
        self,
        action_dir: Path,
        workspace: Path,
        runner_temp: Path,
        env: Mapping[str, str],
        github: Mapping[str, str] | None = None,
    ) -> None:
        self.action_dir = action_dir
        self.workspace = workspace
        self.runner_temp = runner_temp
        self.base_env = dict(env)
        self.github = {"token": "ghs_harness_token", "action_ref": "", **(github or {})}
        self.action = yaml.safe_load((action_dir / "action.yml").read_text(encoding="utf-8"))
        if self.action.get("runs", {}).get("using") != "composite":
            raise HarnessError("only composite actions are emulated")

    def run(
        self,
        inputs: Mapping[str, str],
        *,
        timeout_seconds: float = 120.0,
        cancel: Cancel | None = None,
    ) -> ActionRun:
        declared = self.action.get("inputs") or {}
        unknown = sorted(set(inputs) - set(declared))
        if unknown:
            raise HarnessError(f"unexpected inputs {unknown}: the runner warns and ignores them")
        resolved: dict[str, str] = {}
        for name, spec in declared.items():
            if name in inputs:
                resolved[name] = inputs[name]
            else:
                resolved[name] = self._substitute(str(spec.get("default", "")), {}, "success")
        steps: list[StepResult] = []
        step_state: dict[str, StepResult] = {}
        commands: list[WorkflowCommand] = []
        summary: list[str] = []
        extra_env: dict[str, str] = {}
        extra_path: list[str] = []
        status = "success"
        exit_code = 0
        deadline = time.monotonic() + timeout_seconds
        for index, step in enumerate(self.action["runs"]["steps"]):
            step_id = str(step.get("id") or f"__step{index}")
            condition = str(step.get("if", "success()"))
            context = {"inputs": resolved, "steps": step_state, "env": extra_env}
            run_it = _truthy(self._evaluate(_strip(condition), context, status))
            if not run_it:
                result = StepResult(step_id, "run" if "run" in step else "uses", "skipped")
                steps.append(result)
                step_state[step_id] = result
                continue
            if "uses" in step:
                result = self._uses(step_id, step, context, status)
            else:
                result = self._run(
                    step_id,
                    step,
                    context,
                    status,
                    resolved,
                    extra_env,
                    extra_path,
                    commands,
                    summary,
                    deadline,
                    cancel,
                )
            steps.append(result)
            step_state[step_id] = result
            if result.outcome != "success":
                status = "failure" if result.outcome == "failure" else "cancelled"
                exit_code = result.exit_code if result.exit_code is not None else 1
        context = {"inputs": resolved, "steps": step_state, "env": extra_env}
        outputs = {
            name: self._substitute(str(spec.get("value", "")), context, status)
            for name, spec in (self.action.get("outputs") or {}).items()
        }
        return ActionRun(steps, outputs, commands, "".join(summary), exit_code)

    # -- steps

    def _uses(
        self, step_id: str, step: Mapping[str, Any], context: Mapping[str, Any], status: str
    ) -> StepResult:
        uses = str(step["uses"])
        name = uses.split("@", 1)[0]
        if name not in STAND_INS:
            raise HarnessError(f"no stand-in for {uses}")
        with_ = {
            key: self._substitute(str(value), context, status)
            for key, value in (step.get("with") or {}).items()
        }
        outputs = STAND_INS[name](with_)
        return StepResult(step_id, "uses", "success", 0, outputs, uses=uses, with_=with_)

    def _run(
        self,
        step_id: str,
        step: Mapping[str, Any],
        context: Mapping[str, Any],
        status: str,
        inputs: Mapping[str, str],
        extra_env: dict[str, str],
        extra_path: list[str],
        commands: list[WorkflowCommand],
        summary: list[str],
        deadline: float,
        cancel: Cancel | None,
    ) -> StepResult:
        script = str(step["run"])
        if "${{" in script:
            raise HarnessError(f"step {step_id}: an expression inside run: (use env:)")
        shell = step.get("shell")
        if shell != "bash":
            raise HarnessError(
                f"step {step_id}: shell {shell!r} is not emulated (composite steps need one)"
            )
        files = {
            name: self.runner_temp / f"_runner_file_commands/{name.lower()}_{uuid.uuid4().hex}"
            for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
        }
        for path in files.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        script_path = self.runner_temp / f"{uuid.uuid4()}.sh"
        script_path.write_text(script, encoding="utf-8")
        env = dict(self.base_env)
        env.update(extra_env)
        if extra_path:
            env["PATH"] = os.pathsep.join([*reversed(extra_path), env.get("PATH", "")])
        env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_ACTION_PATH": str(self.action_dir),
                "GITHUB_ACTION_REF": self.github.get("action_ref", ""),
                "RUNNER_TEMP": str(self.runner_temp),
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
                **{name: str(path) for name, path in files.items()},
            }
        )
        for name, value in inputs.items():
            env[f"INPUT_{name.replace(' ', '_').upper()}"] = value
        for name, value in (step.get("env") or {}).items():
            env[str(name)] = self._substitute(str(value), context, status)
        started = time.monotonic()
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_path)],
            cwd=self.workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        lines: queue.Queue[tuple[str, str | None]] = queue.Queue()

        def pump(stream: Any, tag: str) -> None:
            for line in stream:
                lines.put((tag, line))
            lines.put((tag, None))

        readers = [
            threading.Thread(target=pump, args=(process.stdout, "out"), daemon=True),
            threading.Thread(target=pump, args=(process.stderr, "err"), daemon=True),
        ]
        for reader in readers:
            reader.start()
        captured = {"out": [], "err": []}  # type: dict[str, list[str]]
        command_reader = _CommandReader(step_id, commands)
        open_streams, cancelled = 2, False
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise HarnessError(f"step {step_id} still running at the harness time limit")
            try:
                tag, line = lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
                continue
            captured[tag].append(line)
            command_reader.line(line.rstrip("\n"))
            if (
                cancel is not None
                and not cancelled
                and cancel.step == step_id
                and re.search(cancel.pattern, line)
            ):
                cancelled = True
                # The runner signals the step's process (the shell it started), not a group.
                process.send_signal(cancel.signum)
        code = process.wait(timeout=max(deadline - time.monotonic(), 1.0))
        for reader in readers:
            reader.join()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        outputs = read_file_commands(files["GITHUB_OUTPUT"])
        extra_env.update(read_file_commands(files["GITHUB_ENV"]))
        added = files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines()
        extra_path.extend(line for line in added if line.strip())
        summary.append(files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8"))
        outcome = "cancelled" if cancelled else "success" if code == 0 else "failure"
        return StepResult(
            step_id,
            "run",
            outcome,
            code,
            outputs,
            "".join(captured["out"]),
            "".join(captured["err"]),
            time.monotonic() - started,
        )

    # -- expressions

    def _lookup(self, context: Mapping[str, Any]) -> Any:
        def lookup(dotted: str) -> Any:
            head, *rest = dotted.split(".")
            if head == "inputs":
                if len(rest) != 1 or rest[0] not in context.get("inputs", {}):
                    raise HarnessError(f"unknown input in {dotted}")
                return context["inputs"][rest[0]]
            if head == "steps":
                if len(rest) < 2:
                    raise HarnessError(f"incomplete {dotted}")
                step = context["steps"].get(rest[0])
                if step is None:
                    return None
                if rest[1] == "outputs" and len(rest) == 3:
                    return step.outputs.get(rest[2])
                if rest[1] in ("outcome", "conclusion") and len(rest) == 2:
                    return step.outcome
                raise HarnessError(f"unsupported {dotted}")
            if head == "github":
                return self.github.get(".".join(rest), "")
            if head == "runner":
                return {"os": "Linux", "arch": "X64", "temp": str(self.runner_temp)}.get(
                    ".".join(rest), ""
                )
            if head == "env":
                return context.get("env", {}).get(".".join(rest), "")
            raise HarnessError(f"context {head} is not emulated ({dotted})")

        return lookup

    def _evaluate(self, expression: str, context: Mapping[str, Any], status: str) -> Any:
        return _Parser(expression, self._lookup(context), status).parse()

    def _substitute(self, text: str, context: Mapping[str, Any], status: str) -> str:
        return _EXPRESSION.sub(
            lambda match: _as_text(self._evaluate(match.group(1), context, status)), text
        )


def _strip(condition: str) -> str:
    """``if:`` may be written with or without ``${{ }}``."""
    text = condition.strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    return match.group(1) if match else text
