"""bundle.tar_writer: what the tar and tgz hold (modes, links, owners, fixed times, whole
records) and that GNU tar reads them back."""

from __future__ import annotations

import gzip
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from bundle_trees import bundle, make_tree


@pytest.mark.parametrize("kind", ["tar", "tgz"])
def test_tar_keeps_modes_links_owners_and_fixed_times(tmp_path: Path, kind: str) -> None:
    source = make_tree(tmp_path / "rev")
    path, _ = bundle(source, tmp_path / f"out.{kind}")
    with tarfile.open(path) as archive:
        members = {member.name: member for member in archive.getmembers()}
        assert members["scripts/start.sh"].mode == 0o755
        assert members["logs"].isdir()
        assert members["app/current"].issym()
        assert members["app/current"].linkname == "index.html"
        assert {(m.uid, m.gid, m.uname, m.mtime) for m in members.values()} == {
            (0, 0, "root", 315532800)
        }
        extracted = archive.extractfile("app/spaced name ü.txt")
        assert extracted is not None
        assert extracted.read() == b"unicode and spaces\n"
    target = tmp_path / "untarred"
    target.mkdir()
    subprocess.run(["tar", "-xpf", str(path), "-C", str(target)], check=True)
    assert os.access(target / "scripts" / "start.sh", os.X_OK)
    assert os.readlink(target / "app" / "current") == "index.html"
    assert (target / ".env").read_text() == "MODE=production\n"
    raw = gzip.decompress(path.read_bytes()) if kind == "tgz" else path.read_bytes()
    assert len(raw) % 10240 == 0  # whole tar records, as GNU tar writes them


@pytest.mark.parametrize("kind", ["tar", "tgz"])
def test_large_files_stream_into_tar_and_tgz(tmp_path: Path, kind: str) -> None:
    source = make_tree(tmp_path / "rev")
    text = b"streamed in chunks, never read whole\n" * 250_000  # 9.25 MB
    (source / "big.txt").write_bytes(text)
    path, _ = bundle(source, tmp_path / f"out.{kind}")
    target = tmp_path / "untarred"
    target.mkdir()
    subprocess.run(["tar", "-xf", str(path), "-C", str(target)], check=True)
    assert (target / "big.txt").read_bytes() == text
    assert (target / "app" / "index.html").read_bytes() == (
        source / "app" / "index.html"
    ).read_bytes()
