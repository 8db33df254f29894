"""bundle.zip_writer: what the zip holds (modes, links, names, stored or deflated members) and
that Info-ZIP's unzip reads it back."""

from __future__ import annotations

import os
import stat
import subprocess
import zipfile
from pathlib import Path

from bundle_trees import bundle, make_tree, zip_modes


def test_zip_keeps_modes_dirs_links_and_names(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    path, _ = bundle(source, tmp_path / "out.zip")
    modes = zip_modes(path)
    assert list(modes) == [
        ".env",
        "app/",
        "app/current",
        "app/index.html",
        "app/spaced name ü.txt",
        "appspec.yml",
        "logs/",
        "scripts/",
        "scripts/start.sh",
    ]
    assert modes["scripts/start.sh"] == stat.S_IFREG | 0o755
    assert modes["appspec.yml"] == stat.S_IFREG | 0o644
    assert modes["logs/"] == stat.S_IFDIR | 0o755
    assert stat.S_ISLNK(modes["app/current"])
    with zipfile.ZipFile(path) as archive:
        assert archive.read("app/current") == b"index.html"
        assert archive.read("app/index.html") == (source / "app" / "index.html").read_bytes()
        assert archive.getinfo("app/index.html").compress_type == zipfile.ZIP_DEFLATED
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_info_zip_unzip_restores_modes_links_and_empty_dirs(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    path, _ = bundle(source, tmp_path / "out.zip")
    target = tmp_path / "unzipped"
    subprocess.run(["unzip", "-q", str(path), "-d", str(target)], check=True)
    assert os.access(target / "scripts" / "start.sh", os.X_OK)
    assert os.readlink(target / "app" / "current") == "index.html"
    assert (target / "logs").is_dir()
    assert (target / "app" / "spaced name ü.txt").read_text() == "unicode and spaces\n"


def test_large_members_round_trip_through_unzip(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    text = b"0123456789 compressible text\n" * 300_000  # 8.7 MB: streamed in chunks
    noise = os.urandom(5 << 20)  # incompressible: stored
    (source / "big.txt").write_bytes(text)
    (source / "noise.bin").write_bytes(noise)
    path, _ = bundle(source, tmp_path / "out.zip")
    with zipfile.ZipFile(path) as archive:
        assert archive.read("big.txt") == text
        assert archive.read("noise.bin") == noise
        assert archive.getinfo("big.txt").compress_size < len(text) // 20
        assert archive.getinfo("noise.bin").compress_type == zipfile.ZIP_STORED
    checked = subprocess.run(
        ["unzip", "-tq", str(path)], check=False, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_incompressible_small_members_are_stored(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    (source / "photo.jpg").write_bytes(b"a" * 10_000)  # a known compressed format by name
    (source / "random.dat").write_bytes(os.urandom(200_000))
    path, _ = bundle(source, tmp_path / "out.zip")
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("photo.jpg").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("random.dat").compress_type == zipfile.ZIP_STORED
        assert archive.read("random.dat") == (source / "random.dat").read_bytes()
