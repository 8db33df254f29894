"""Run one hook script as the agent does: in its own process group, with the lifecycle
environment, a timeout that kills the whole group, and its output in scripts.log."""

from __future__ import annotations

import contextlib
import os
import pwd
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TextIO

from ci_deploy.agent.appspec_model import HookScript

LOG_TAIL_BYTES = 2048  # what the agent keeps of a script's output for the API's logTail
_POLL_SECONDS = 0.05
_TERM_GRACE_SECONDS = 1.0
# How long output pipes may stay open after the script exited before we stop waiting: a
# background process that inherited them would otherwise hang the event until its timeout.
HELD_OPEN_GRACE_SECONDS = 0.5


@dataclass(frozen=True)
class ScriptOutcome:
    error_code: str  # Success|ScriptMissing|ScriptNotExecutable|ScriptTimedOut|ScriptFailed
    message: str
    log_tail: str
    held_open: bool = False  # a background process kept stdout/stderr open after exit
    stopped: bool = False  # cancelled while running

    @property
    def ok(self) -> bool:
        return self.error_code == "Success"


class ScriptLog:
    """The deployment's scripts.log, one line per output line, as the agent writes it."""

    def __init__(self, stream: TextIO, clock: Callable[[], datetime]) -> None:
        self._stream = stream
        self._clock = clock

    def line(self, text: str) -> None:
        stamp = self._clock().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        self._stream.write(f"[{stamp}] {text}\n")
        self._stream.flush()


class AgentTail:
    """The log the agent sends as a failed event's logTail: its entries (header lines and
    ``[stdout]``/``[stderr]`` lines) trimmed after each append exactly as the agent's
    ``ScriptLog#append_to_log`` trims them (hook_executor.rb, class ScriptLog), a walk from the
    newest entry that keeps about 2048 characters and, as the agent does, drops a single entry
    longer than that."""

    def __init__(self) -> None:
        self._entries: list[str] = []

    def append(self, entry: str) -> None:
        entries = self._entries
        entries.append(entry)
        index, remaining = len(entries), LOG_TAIL_BYTES
        while index > 0 and remaining - len(entries[index - 1]) > 0:
            index -= 1
            remaining -= len(entries[index - 1])  # the agent's own arithmetic, index -1 included
        if index > 0:
            del entries[:index]

    def text(self) -> str:
        return "".join(self._entries)


class _Output:
    """Splits a stream into lines, writes them to the log, and keeps the last bytes as tail."""

    def __init__(self, log: ScriptLog, agent_tail: AgentTail | None = None) -> None:
        self._log = log
        self._agent_tail = agent_tail
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        # The last characters of the output: at least LOG_TAIL_BYTES bytes' worth, whatever the
        # line lengths (a long line followed by a short one must not empty the tail).
        self._tail = ""

    def feed(self, name: str, data: bytes) -> None:
        lines = (self._partial[name] + data).split(b"\n")
        self._partial[name] = lines.pop()
        for raw in lines:
            self._emit(name, raw)

    def close(self) -> None:
        for name, rest in self._partial.items():
            if rest:
                self._emit(name, rest, ended=False)
            self._partial[name] = b""

    def _emit(self, name: str, raw: bytes, ended: bool = True) -> None:
        text = f"[{name}]{raw.decode('utf-8', errors='replace')}"
        self._log.line(text)
        self._tail = (self._tail + text + "\n")[-LOG_TAIL_BYTES:]
        if self._agent_tail is not None:  # the agent's each_line keeps a line's own newline
            self._agent_tail.append(text + "\n" if ended else text)

    def tail(self) -> str:
        data = self._tail.encode("utf-8")[-LOG_TAIL_BYTES:]
        return data.decode("utf-8", errors="ignore")


def script_path(archive: Path, location: str) -> Path | None:
    """The script inside the revision (a leading '/' is tolerated); None if it escapes."""
    relative = PurePosixPath(location.lstrip("/"))
    if ".." in relative.parts or not relative.parts:
        return None
    path = archive.joinpath(*relative.parts)
    real = os.path.realpath(path)
    top = os.path.realpath(archive)
    return path if real.startswith(top + os.sep) else None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """TERM the script's process group (as the agent), then KILL whatever is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGTERM:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=_TERM_GRACE_SECONDS)


def _command(path: Path, script: HookScript) -> list[str] | str:
    """argv for the script, or an error message when ``runas`` cannot be honoured."""
    if script.runas is None or script.runas == pwd.getpwuid(os.geteuid()).pw_name:
        return [str(path)]
    if os.geteuid() != 0:
        return (
            f"runas {script.runas!r} needs root: the agent switches user with 'su' as root; "
            "run ci-deploy local as root (e.g. in a container) or drop runas for this rehearsal"
        )
    # '--' ends su's options: whatever runas holds is the user name, never an option.
    return ["su", "-c", shlex.quote(str(path)), "--", script.runas]


def run_script(
    archive: Path,
    script: HookScript,
    env: Mapping[str, str],
    log: ScriptLog,
    cancel: threading.Event | None = None,
    *,
    agent_tail: AgentTail | None = None,
) -> ScriptOutcome:
    """Run one script. With ``agent_tail`` (the event's log as the agent keeps it) the outcome
    is worded as the agent words it and its tail is the agent's; without, as ``ci-deploy
    local`` documents it."""
    path = script_path(archive, script.location)
    log.line(f"Script - {script.location}")
    if path is None or not path.is_file():
        if agent_tail is not None:  # File.expand_path(File.join(archive, location))
            where = os.path.normpath(archive.absolute() / script.location.lstrip("/"))
            return ScriptOutcome(
                "ScriptMissing",
                f"Script does not exist at specified location: {where}",
                agent_tail.text(),
            )
        if path is None:
            message = f"Script location {script.location} is outside the revision"
            return ScriptOutcome("ScriptMissing", message, "")
        return ScriptOutcome(
            "ScriptMissing", f"Script does not exist at specified location: {path}", ""
        )
    if not os.access(path, os.X_OK):
        try:  # the agent makes a script executable before running it
            path.chmod(path.stat().st_mode | 0o111)
        except OSError as error:
            if agent_tail is not None:
                return ScriptOutcome(
                    "ScriptNotExecutable",
                    f"Unable to set script at specified location: {script.location} as executable",
                    agent_tail.text(),
                )
            return ScriptOutcome(
                "ScriptNotExecutable",
                f"Script at specified location: {script.location} is not executable "
                f"and could not be made so: {error.strerror}",
                "",
            )
    if agent_tail is not None:
        agent_tail.append(f"Script - {script.location}\n")
    command = _command(path, script)
    if isinstance(command, str):
        return ScriptOutcome("ScriptFailed", command, "")
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as error:
        return ScriptOutcome(
            "ScriptFailed",
            f"Script at specified location: {script.location} could not start: {error.strerror}",
            "",
        )
    output = _Output(log, agent_tail)
    try:
        timed_out, stopped, held_open = _pump(process, output, script.timeout_seconds, cancel)
    except BaseException:
        _kill_group(process)  # an interrupt must not leave the script running
        raise
    finally:
        output.close()
        process.wait()
    tail = output.tail() if agent_tail is None else agent_tail.text()
    # hook_executor.rb's script_error_prefix: the user is named when the appspec sets runas.
    prefix = f"Script at specified location: {script.location}"
    if script.runas is not None:
        prefix += f" run as user {script.runas}"
    if stopped:
        return ScriptOutcome(
            "ScriptFailed",
            f"{prefix} was stopped because the deployment was stopped",
            tail,
            stopped=True,
        )
    if timed_out:  # the agent's words (its process group is killed too)
        return ScriptOutcome(
            "ScriptTimedOut",
            f"Script at specified location: {script.location} failed to complete in "
            f"{script.timeout_seconds} seconds",
            tail,
        )
    if process.returncode != 0:
        if agent_tail is not None:
            # Ruby's exitstatus is nil for a process killed by a signal: the agent says
            # "failed with exit code " and nothing after it.
            code = "" if process.returncode < 0 else str(process.returncode)
            how = f"failed with exit code {code}"
        elif process.returncode < 0:
            how = f"was killed by signal {signal.Signals(-process.returncode).name}"
        else:
            how = f"failed with exit code {process.returncode}"
        return ScriptOutcome("ScriptFailed", f"{prefix} {how}", tail, held_open=held_open)
    return ScriptOutcome("Success", "Succeeded", tail, held_open=held_open)


def _pump(
    process: subprocess.Popen[bytes],
    output: _Output,
    timeout_seconds: int,
    cancel: threading.Event | None,
) -> tuple[bool, bool, bool]:
    """Copy the script's output until its pipes close; returns (timed_out, stopped, held_open)."""
    assert process.stdout is not None and process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, "stdout")
    selector.register(process.stderr, selectors.EVENT_READ, "stderr")
    deadline = time.monotonic() + timeout_seconds
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            running = process.poll() is None
            pipes_open = bool(selector.get_map())
            if not running and not pipes_open:
                return False, False, False
            if now >= deadline:
                _kill_group(process)
                _drain(selector, output)
                return True, False, False
            if cancel is not None and cancel.is_set():
                _kill_group(process)
                _drain(selector, output)
                return False, True, False
            if not running:
                exited_at = now if exited_at is None else exited_at
                if now - exited_at >= HELD_OPEN_GRACE_SECONDS:
                    _drain(selector, output)
                    return False, False, True
            wait = min(_POLL_SECONDS, deadline - now)
            if not pipes_open:  # the script closed its output but still runs
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(wait)
                continue
            for key, _ in selector.select(wait):
                data = os.read(key.fd, 65536)
                if data:
                    output.feed(key.data, data)
                else:
                    selector.unregister(key.fileobj)
    finally:
        for key in list(selector.get_map().values()):
            selector.unregister(key.fileobj)
        selector.close()
        process.stdout.close()
        process.stderr.close()


def _drain(selector: selectors.BaseSelector, output: _Output) -> None:
    """Read what is already buffered in the pipes, without waiting for more."""
    for key, _ in selector.select(0):
        try:
            data = os.read(key.fd, 65536)
        except BlockingIOError:
            continue
        if data:
            output.feed(key.data, data)
