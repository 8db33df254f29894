"""Shared pytest fixtures (the only place for them; tests never import each other)."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_deploy.commands import Streams


class CapturedStreams(Streams):
    """Streams writing to memory, with the text readable after the command ran."""

    @property
    def out(self) -> str:
        assert isinstance(self.stdout, io.StringIO)
        return self.stdout.getvalue()

    @property
    def err(self) -> str:
        assert isinstance(self.stderr, io.StringIO)
        return self.stderr.getvalue()


@pytest.fixture
def streams() -> CapturedStreams:
    """In-memory stdout/stderr for calling ``ci_deploy.cli.run`` in-process."""
    return CapturedStreams(stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture(autouse=True, scope="session")
def _venv_on_path() -> Iterator[None]:
    """Subprocesses find this interpreter's `ci-deploy` (and tools installed beside it) first."""
    bin_dir = str(Path(sys.executable).parent)
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = bin_dir + os.pathsep + before
    yield
    os.environ["PATH"] = before
