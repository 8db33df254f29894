"""The release as the tests install it, with no package index reached: build ci-deploy's sdist and
wheel offline, and serve them with the wheelhouse (.tools/wheelhouse, the files the locks pin,
filled by scripts/setup) as a PEP 503 package index on 127.0.0.1."""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WHEELHOUSE = REPO / ".tools" / "wheelhouse"
# What the build never sees: everything not in a fresh checkout.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".tools",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".coverage",
    ".work",
    ".gitlab-ci-local",
)


def wheelhouse() -> Path:
    stamp = WHEELHOUSE / ".stamp"
    assert stamp.is_file(), f"{WHEELHOUSE} is missing or incomplete: run ./scripts/setup"
    return WHEELHOUSE


def offline_pip_env(
    find_links: Sequence[Path] = (), base: dict[str, str] | None = None
) -> dict[str, str]:
    """An environment whose pip reads no configuration and reaches no index: packages come only
    from ``find_links`` (none: nothing can be installed)."""
    env = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "PYTHON", "CI_DEPLOY_"))
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if find_links:
        env["PIP_FIND_LINKS"] = " ".join(str(path) for path in find_links)
    return env


@dataclass(frozen=True)
class Release:
    """ci-deploy's sdist and wheel, built from a copy of this checkout."""

    sdist: Path
    wheel: Path

    @property
    def directory(self) -> Path:
        return self.wheel.parent


def build_release(root: Path) -> Release:
    """``python -m build`` (sdist, then the wheel from the sdist) of a copy of the checkout, the
    build backend installed from the wheelhouse into the build's own environment."""
    source = root / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    out = root / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        env=offline_pip_env([wheelhouse()]),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return Release(sdist, wheel)


def project_of(filename: str) -> str:
    """The normalized project name of a wheel or sdist file name."""
    if filename.endswith(".whl"):
        name = filename.split("-", 1)[0]
    else:
        name = filename.removesuffix(".tar.gz").rsplit("-", 1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class PackageIndex:
    """A PEP 503 simple index of the files in ``directories``, read at each request."""

    directories: list[Path]
    url: str = ""
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        """host:port of the index."""
        return self.url.split("/")[2]

    def files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for directory in self.directories:
            for path in sorted(directory.iterdir()):
                if path.name.endswith((".whl", ".tar.gz")):
                    found.setdefault(path.name, path)
        return found

    def page(self, project: str) -> bytes | None:
        links = [
            f'<a href="/files/{html.escape(name)}#sha256={sha256(path)}">{html.escape(name)}</a>'
            for name, path in self.files().items()
            if project_of(name) == project
        ]
        if not links:
            return None
        return ("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n").encode()

    def downloads(self) -> list[str]:
        """The files fetched so far (not the pages)."""
        with self.lock:
            return [path.removeprefix("/files/") for path in self.requests if "/files/" in path]

    def forget(self) -> None:
        with self.lock:
            self.requests.clear()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _handler(index: PackageIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with index.lock:
                index.requests.append(self.path)
            body: bytes | None = None
            content_type = "text/html"
            # as a package index answers: pages may change, a file never does (pip's cache
            # keeps only what the answer allows)
            cache_control = "max-age=600, public"
            if self.path.startswith("/simple/"):
                project = self.path.removeprefix("/simple/").strip("/")
                body = index.page(re.sub(r"[-_.]+", "-", project).lower())
            elif self.path.startswith("/files/"):
                path = index.files().get(self.path.removeprefix("/files/"))
                body = path.read_bytes() if path else None
                content_type = "application/octet-stream"
                cache_control = "max-age=365000000, immutable, public"
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", cache_control)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_index(directories: list[Path]) -> Iterator[PackageIndex]:
    """Serve ``directories`` as a package index at ``index.url`` (…/simple/) while in the block."""
    index = PackageIndex(directories)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
    server.daemon_threads = True
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
