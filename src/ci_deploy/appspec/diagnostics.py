"""The Diagnostic record every appspec check produces, and the collector that gathers them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem at ``file:line:column`` (1-based). ``code`` is stable: CI renderers and
    users' suppressions key on it; ``message`` says what is wrong and what to write instead."""

    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str

    def as_dict(self) -> dict[str, str | int]:
        return asdict(self)


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, so a huge value keeps its message one short line."""
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(diagnostic.severity == "error" for diagnostic in diagnostics)


class Collector:
    """Gathers diagnostics for one file, so a check never stops at the first problem."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    def error(self, line: int, column: int, code: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.file, line, column, "error", code, message))

    def warning(self, line: int, column: int, code: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.file, line, column, "warning", code, message))

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.diagnostics, key=lambda d: (d.line, d.column, d.code, d.message))
