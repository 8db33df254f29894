"""One module per verb: take a resolved ``Request``, call the core, render, return an exit code.

Commands never read ``os.environ`` (the request carries a snapshot) and never exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Streams:
    """Where a command writes: the machine-readable result on stdout, humans on stderr."""

    stdout: TextIO
    stderr: TextIO
    interactive: bool = False
