"""The small revision tree the bundle tests build from, and what they check bundles with."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from ci_deploy.bundle.builder import BundleOptions, build

APPSPEC = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /srv/app\n"


def make_tree(root: Path) -> Path:
    """A small revision: appspec, an executable hook, an empty dir, a link, odd names."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "appspec.yml").write_text(APPSPEC)
    (root / "scripts").mkdir()
    hook = root / "scripts" / "start.sh"
    hook.write_text("#!/bin/sh\necho started\n")
    hook.chmod(0o755)
    (root / "logs").mkdir()  # empty directory, kept
    (root / "app").mkdir()
    (root / "app" / "index.html").write_text("<h1>hello</h1>\n" * 200)
    (root / "app" / "current").symlink_to("index.html")
    (root / "app" / "spaced name ü.txt").write_text("unicode and spaces\n")
    (root / ".env").write_text("MODE=production\n")
    return root


def bundle(source: Path, output: Path, **options: object) -> tuple[Path, str]:
    result = build(BundleOptions(source=source, output=output, **options))  # type: ignore[arg-type]
    assert result.path == output
    assert result.size == output.stat().st_size
    assert result.sha256 == hashlib.sha256(output.read_bytes()).hexdigest()
    return output, result.sha256


def zip_modes(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {info.filename: info.external_attr >> 16 for info in archive.infolist()}
