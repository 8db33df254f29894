"""What reaches a GitHub runner's log: only the workflow commands ci-deploy means are obeyed.

The runner reads a step's stdout and stderr line by line (a line ends at LF, CR or CRLF) and
obeys a line that starts with ``::`` once leading whitespace is trimmed (``::error::x``), or
that holds ``##[`` anywhere (the older ``##[error]x`` form): actions/runner,
src/Runner.Common/ActionCommand.cs (TryParseV2, TryParse) and
src/Runner.Worker/ActionCommandManager.cs. Text ci-deploy did not write (a file name, an AWS
error message, a hook's output) can hold such a line: a file named ``x\\n::error::pwned`` would
otherwise be obeyed as an annotation when an error names it.

``CommandGuard`` wraps a stream. Text written to it is passed on line by line, and a line the
runner would obey is made inert: on stderr (human text) it is fenced by
``::stop-commands::TOKEN`` ... ``::TOKEN::`` with a random token, so it is printed exactly as
written and nothing in it is obeyed; on stdout (JSON) ``##[`` is written ``##\\u005b``, the same
JSON string, since a fence would break the document (JSON never starts a line with ``::``).
Only ``command()`` writes a workflow command as is.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable
from typing import TextIO


def new_token() -> str:
    return uuid.uuid4().hex


def _lines(text: str) -> list[str]:
    """``text`` cut after each LF."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def obeyed(line: str) -> bool:
    """Whether the runner could read a workflow command in ``line``. ``splitlines`` ends lines
    at LF and CR as the runner does, and at a few more characters, which only finds more."""
    if "##[" in line:
        return True
    return any(part.lstrip().startswith("::") for part in line.splitlines())


class CommandGuard(io.TextIOBase, TextIO):
    """A stream that passes text on with every line the runner would obey made inert, and
    writes workflow commands through ``command()``. ``json`` is for the stream that carries
    JSON documents (stdout)."""

    def __init__(
        self, stream: TextIO, *, json: bool = False, token: Callable[[], str] = new_token
    ) -> None:
        super().__init__()
        self._stream = stream
        self._json = json
        self._token = token
        self._pending = ""  # the current line, until its end arrives
        self._lock = threading.Lock()

    @classmethod
    def around(cls, stream: TextIO) -> CommandGuard:
        """``stream`` itself when it is a guard already, else a (stderr) guard around it."""
        return stream if isinstance(stream, CommandGuard) else cls(stream)

    # -- text

    def write(self, text: str) -> int:
        with self._lock:
            head, newline, rest = (self._pending + text).rpartition("\n")
            if newline:
                self._stream.write(self._inert(head + "\n"))
                self._pending = rest
            else:
                self._pending = rest
        return len(text)

    def end(self) -> None:
        """Write out an unfinished last line (ended with a newline if it had to be fenced)."""
        with self._lock:
            self._end_line()
            self._stream.flush()

    def _end_line(self) -> None:
        if self._pending:
            text = self._inert(self._pending)
            self._pending = ""
            self._stream.write(text)

    def _inert(self, text: str) -> str:
        """``text`` (whole lines, or the last unfinished one) with every line the runner would
        obey made inert; consecutive such lines share one fence."""
        out: list[str] = []
        fenced: list[str] = []
        # Lines end at LF here: a fence must start where the runner sees a line start, and the
        # runner ends lines at LF and CR only (a CR inside a line fences the whole of it).
        for line in _lines(text):
            if self._json and "##[" in line:
                line = line.replace("##[", "##\\u005b")  # noqa: PLW2901 - the same JSON string
            if obeyed(line):
                fenced.append(line if line.endswith("\n") else line + "\n")
                continue
            if fenced:
                out.append(self._fence("".join(fenced)))
                fenced = []
            out.append(line)
        if fenced:
            out.append(self._fence("".join(fenced)))
        return "".join(out)

    def _fence(self, lines: str) -> str:
        token = self._token()
        return f"::stop-commands::{token}\n{lines}::{token}::\n"

    # -- workflow commands

    def command(self, line: str) -> None:
        """Write ``line``, a workflow command (or a block that fences itself), as is, at the
        start of a line."""
        with self._lock:
            if self._pending:
                self._pending += "\n"
                self._end_line()
            self._stream.write(line + "\n")

    # -- the rest of a text stream

    def flush(self) -> None:
        with self._lock:
            self._stream.flush()

    def close(self) -> None:
        """The wrapped stream is the caller's: it stays open (``end()`` finishes the text)."""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()


def write_command(stream: TextIO, line: str) -> None:
    """A workflow command on ``stream``: through its guard's command channel when it has one."""
    if isinstance(stream, CommandGuard):
        stream.command(line)
    else:
        stream.write(line + "\n")
