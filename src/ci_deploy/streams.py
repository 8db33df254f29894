"""Where a command writes: its machine-readable result on stdout, everything for humans on
stderr. Shared by the CLI, the commands and the renderers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Streams:
    """Where a command writes: the machine-readable result on stdout, humans on stderr."""

    stdout: TextIO
    stderr: TextIO
    interactive: bool = False
