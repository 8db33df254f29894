"""bundle.builder: the same tree gives the same bytes, the output is never bundled into itself,
and bad outputs name the input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bundle_trees import bundle, make_tree, zip_modes
from ci_deploy.bundle.builder import BundleOptions, build
from ci_deploy.errors import InputError


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_same_tree_gives_same_bytes_anywhere(tmp_path: Path, kind: str) -> None:
    source = make_tree(tmp_path / "one" / "rev")
    (source / "big.txt").write_bytes(b"line of text that compresses\n" * 400_000)  # > 4 MiB
    (source / "noise.bin").write_bytes(os.urandom(300_000))
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(source, copy, symlinks=True)
    os.utime(copy / "appspec.yml", (1_700_000_000, 1_700_000_000))
    _, first = bundle(source, tmp_path / f"a.{kind}", workers=2)
    _, serial = bundle(source, tmp_path / f"b.{kind}", workers=1)
    _, moved = bundle(copy, tmp_path / f"c.{kind}", workers=2)
    repeated = {bundle(source, tmp_path / f"r{i}.{kind}", workers=2)[1] for i in range(4)}
    assert {first, serial, moved} | repeated == {first}


def test_output_inside_source_is_not_bundled(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    (source / "out.zip").write_bytes(b"an older bundle")
    path, _ = bundle(source, source / "out.zip")
    assert "out.zip" not in zip_modes(path)


def test_bad_outputs_name_the_input(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    with pytest.raises(InputError, match=r"^input output: .* is a directory$"):
        build(BundleOptions(source=source, output=tmp_path))
    with pytest.raises(InputError, match=r"^input output: directory .*missing does not exist$"):
        build(BundleOptions(source=source, output=tmp_path / "missing" / "o.zip"))
