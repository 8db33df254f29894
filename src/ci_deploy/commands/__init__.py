"""One module per verb: take a resolved ``Request``, call the core, render, return an exit code.

Commands never read ``os.environ`` (the request carries a snapshot) and never exit.
"""

from __future__ import annotations

from ci_deploy.streams import Streams

__all__ = ["Streams"]  # what every command's run() writes to
