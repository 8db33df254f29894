"""Shared pytest fixtures (the only place for them; tests never import each other)."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_deploy.commands import Streams
from fake_codedeploy import FakeCodeDeploy


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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server over real HTTP on 127.0.0.1 (a free port), for the whole session.

    Yields its endpoint URL, e.g. ``http://127.0.0.1:41234``; pass it as ``endpoint_url``.
    Fake credentials are set for the session so no test can reach real AWS. State is shared
    across the session: use bucket names unique to each test.
    """
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - Flask import only when S3 is used

    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {name: os.environ.get(name) for name in [*fake, "AWS_SESSION_TOKEN", "AWS_PROFILE"]}
    os.environ.update(fake)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def fake_codedeploy() -> Iterator[FakeCodeDeploy]:
    """A scripted CodeDeploy endpoint over HTTP on 127.0.0.1 (tests/fake_codedeploy.py), for
    states the emulator cannot reach on demand: throttling, 5xx, Ready, timing."""
    fake = FakeCodeDeploy()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def aws_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Fake credentials and region in os.environ (boto3 reads them there) with no shared config;
    returns the environment to hand to ``cli.run`` or a subprocess."""
    empty = tmp_path_factory.mktemp("aws-config") / "none"
    settings = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)
