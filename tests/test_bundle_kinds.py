"""bundle.kinds: the bundle type from --bundle-type and the output's name, or from a file's
content."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from bundle_trees import make_tree
from ci_deploy.bundle.builder import BundleOptions, build
from ci_deploy.bundle.kinds import detect_bundle_type
from ci_deploy.errors import InputError


def test_bundle_type_conflicting_with_the_extension_is_an_error(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    with pytest.raises(
        InputError, match=r"bundle_type is tar but the output 'out.zip' names a zip"
    ):
        build(BundleOptions(source=source, output=tmp_path / "out.zip", bundle_type="tar"))
    result = build(BundleOptions(source=source, output=tmp_path / "out.bin", bundle_type="tgz"))
    with tarfile.open(result.path, "r:gz") as archive:
        assert "appspec.yml" in archive.getnames()


def test_a_files_type_is_read_from_its_first_bytes_not_its_name(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    assert detect_bundle_type(source) == "directory"
    for kind in ("zip", "tar", "tgz"):
        built = build(BundleOptions(source=source, output=tmp_path / f"rev.{kind}")).path
        assert detect_bundle_type(built.rename(tmp_path / f"{kind}-named.bin")) == kind
    notes = tmp_path / "notes.zip"
    notes.write_text("not a bundle, whatever its name")
    with pytest.raises(InputError) as caught:
        detect_bundle_type(notes)
    assert caught.value.message == (
        f"{notes} is not a directory, zip, tar or tgz bundle (unrecognised content)"
    )
    assert caught.value.exit_code == 2
