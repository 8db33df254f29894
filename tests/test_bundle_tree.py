"""bundle.tree: the ignore rules, links and loops, special files, and the appspec at the root."""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from bundle_trees import APPSPEC, bundle, make_tree, zip_modes
from ci_deploy.bundle.builder import BundleOptions, build
from ci_deploy.cli import run
from ci_deploy.errors import AppSpecError, InputError


def test_ignore_rules_git_codedeployignore_and_excludes(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (source / "build").mkdir()
    (source / "build" / "cache.o").write_text("object")
    (source / "debug.log").write_text("noise")
    (source / "keep.log").write_text("wanted")
    (source / "notes.md").write_text("internal")
    (source / ".codedeployignore").write_text("# build output\nbuild/\n*.log\n!keep.log\n")
    path, _ = bundle(source, tmp_path / "out.zip", excludes=("notes.md",))
    names = set(zip_modes(path))
    assert {".env", "keep.log", ".codedeployignore", "appspec.yml"} <= names
    assert not {
        n for n in names if n.startswith((".git/", "build")) or n in {"debug.log", "notes.md"}
    }


def test_symlink_outside_the_revision_is_an_error_naming_it(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (source / "app" / "leak").symlink_to(secret)
    with pytest.raises(InputError, match=r"symlink app/leak points outside the revision"):
        build(BundleOptions(source=source, output=tmp_path / "out.zip"))
    assert not (tmp_path / "out.zip").exists()
    assert not list(tmp_path.glob(".out.zip.*"))


def test_follow_symlinks_stores_the_target_content(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "lib.sh").write_text("echo lib\n")
    (source / "lib").symlink_to(shared)
    path, _ = bundle(source, tmp_path / "out.tgz", follow_symlinks=True)
    with tarfile.open(path) as archive:
        assert archive.getmember("lib").isdir()
        extracted = archive.extractfile("lib/lib.sh")
        assert extracted is not None
        assert extracted.read() == b"echo lib\n"
        assert archive.getmember("app/current").isfile()


def test_appspec_not_at_the_root_is_rejected(tmp_path: Path) -> None:
    source = tmp_path / "rev"
    (source / "nested").mkdir(parents=True)
    (source / "nested" / "appspec.yml").write_text(APPSPEC)
    with pytest.raises(AppSpecError, match=r"found nested/appspec.yml.*only at the revision root"):
        build(BundleOptions(source=source, output=tmp_path / "out.zip"))
    result = build(BundleOptions(source=source, output=tmp_path / "out.zip", validate=False))
    assert result.files == 1


def test_ignored_appspec_is_rejected(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    with pytest.raises(AppSpecError, match=r"appspec.yml is excluded from the bundle"):
        build(BundleOptions(source=source, output=tmp_path / "o.zip", excludes=("*.yml",)))


def test_special_files_and_followed_loops_are_errors(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    (source / "app" / "again").symlink_to("..")
    with pytest.raises(InputError, match=r"^symlink loop at app/again"):
        build(BundleOptions(source=source, output=tmp_path / "o.zip", follow_symlinks=True))
    (source / "app" / "again").unlink()
    os.mkfifo(source / "pipe")
    with pytest.raises(InputError, match=r"^pipe is not a regular file, directory or symlink"):
        build(BundleOptions(source=source, output=tmp_path / "o.zip"))
    result = build(BundleOptions(source=source, output=tmp_path / "o.zip", excludes=("pipe",)))
    assert result.files == 6


def test_a_followed_loop_of_symlinks_is_bad_input_naming_the_loop(  # type: ignore[no-untyped-def]
    tmp_path: Path, streams
) -> None:
    """Links that point at each other never resolve (ELOOP): exit 2 naming the loop, not 5."""
    source = make_tree(tmp_path / "rev")
    (source / "app" / "ping").symlink_to("pong")
    (source / "app" / "pong").symlink_to("ping")
    output = tmp_path / "o.zip"
    argv = ["bundle", str(source), "--output", str(output), "--follow-symlinks"]
    assert run(argv, {}, streams) == 2
    assert "ci-deploy: error: symlink loop at app/ping: app/ping -> pong -> ping\n" in streams.err
    assert "unexpected error" not in streams.err
    assert not output.exists()
    (source / "app" / "pong").unlink()
    (source / "app" / "pong").symlink_to("pong")  # a link to itself, reached through ping
    with pytest.raises(InputError, match=r"^symlink loop at app/ping: app/ping -> pong -> pong$"):
        build(BundleOptions(source=source, output=output, follow_symlinks=True))
    # Ignored, as the hint says, the loop is no longer read; unfollowed, it is stored as links.
    result = build(
        BundleOptions(source=source, output=output, follow_symlinks=True, excludes=("app/p*",))
    )
    assert result.files == 6
    with zipfile.ZipFile(build(BundleOptions(source=source, output=output)).path) as archive:
        assert {"app/ping", "app/pong"} <= set(archive.namelist())


@pytest.mark.parametrize(
    ("make_ignore", "expected"),
    [
        (
            lambda path: path.write_bytes(b"*.log\n\xff\xfe\n"),
            [
                "ci-deploy: error: cannot read {ignore}: byte 0xff at offset 6 is not UTF-8",
                "  hint: save .codedeployignore as UTF-8 text",
            ],
        ),
        (
            lambda path: path.mkdir(),
            [
                "ci-deploy: error: {ignore} is a directory, not an ignore file",
                "  hint: make .codedeployignore a text file of gitignore patterns, or remove it",
            ],
        ),
    ],
)
def test_an_unusable_ignore_file_is_bad_input_with_what_to_do(  # type: ignore[no-untyped-def]
    tmp_path: Path, streams, make_ignore, expected: list[str]
) -> None:
    source = make_tree(tmp_path / "rev")
    ignore = source / ".codedeployignore"
    if ignore.exists():
        ignore.unlink()
    make_ignore(ignore)
    output = tmp_path / "rev.zip"

    code = run(["bundle", str(source), "--output", str(output)], {}, streams)

    assert code == 2
    assert streams.err.splitlines() == [line.format(ignore=ignore) for line in expected]
    assert not output.exists()
