"""Renderers of core events and results for a terminal, GitHub, GitLab, Jenkins and JSON.

A command asks ``reporter_for(ci_system, ...)`` for a Reporter, feeds it every core event while the
work runs, and hands it the final result (typed: ``result.Result``, whose JSON form the command
prints on stdout) so it can write the CI system's native artefacts (GitHub outputs and job
summary, GitLab dotenv...).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from ci_deploy.events import Event
from ci_deploy.streams import Streams

if TYPE_CHECKING:
    from ci_deploy.result import Result


class Reporter(Protocol):
    """What every CI renderer offers. Progress goes to ``streams.stderr`` only."""

    def event(self, event: Event) -> None:
        """Render one progress event (called only when something changed)."""

    def finish(self, result: Result) -> None:
        """Write the CI system's native artefacts for the final result (may do nothing)."""


# ci_system -> module under ci_deploy.report exposing `make_reporter(streams, env) -> Reporter`.
# `console` draws a live view on a terminal and writes one line per change elsewhere.
_MODULES: Mapping[str, str] = {
    "plain": "console",
    "jenkins": "text",
    "github": "github",
    "gitlab": "gitlab",
}


def reporter_for(ci_system: str, streams: Streams, env: Mapping[str, str]) -> Reporter:
    """The reporter of ``ci_system`` (plain text for systems without a module of their own)."""
    name = _MODULES.get(ci_system, "text")
    if importlib.util.find_spec(f"ci_deploy.report.{name}") is None:
        name = "text"  # a CI renderer not in this build yet: plain lines still work
    module = importlib.import_module(f"ci_deploy.report.{name}")
    reporter: Reporter = module.make_reporter(streams, env)
    return reporter
