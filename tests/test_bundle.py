"""Bundles: open what was written (zip, tar, tgz) and check modes, links, ignores and bytes."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ci_deploy.appspec import validate_path
from ci_deploy.bundle import BundleOptions, build
from ci_deploy.cli import run
from ci_deploy.errors import AppSpecError, InputError

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


def test_output_inside_source_is_not_bundled(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    (source / "out.zip").write_bytes(b"an older bundle")
    path, _ = bundle(source, source / "out.zip")
    assert "out.zip" not in zip_modes(path)


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


def test_bundle_type_conflicting_with_the_extension_is_an_error(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    with pytest.raises(
        InputError, match=r"bundle_type is tar but the output 'out.zip' names a zip"
    ):
        build(BundleOptions(source=source, output=tmp_path / "out.zip", bundle_type="tar"))
    result = build(BundleOptions(source=source, output=tmp_path / "out.bin", bundle_type="tgz"))
    with tarfile.open(result.path, "r:gz") as archive:
        assert "appspec.yml" in archive.getnames()


def test_cli_prints_the_json_result(tmp_path: Path, streams) -> None:  # type: ignore[no-untyped-def]
    source = make_tree(tmp_path / "rev")
    output = tmp_path / "rev.tgz"
    code = run(["bundle", str(source), "--output", str(output)], {}, streams)
    assert code == 0, streams.err
    result = json.loads(streams.out)
    assert result == {
        "path": str(output),
        "bundle_type": "tgz",
        "size": output.stat().st_size,
        "sha256": hashlib.sha256(output.read_bytes()).hexdigest(),
        "files": 6,
    }


def test_cli_missing_source_and_output_exit_2(tmp_path: Path, streams) -> None:  # type: ignore[no-untyped-def]
    code = run(["bundle", str(tmp_path / "nope"), "--output", str(tmp_path / "o.zip")], {}, streams)
    assert code == 2
    assert "input source:" in streams.err
    assert "does not exist" in streams.err
    assert streams.out == ""


def test_cli_takes_inputs_from_the_environment(tmp_path: Path, streams) -> None:  # type: ignore[no-untyped-def]
    source = make_tree(tmp_path / "rev")
    env = {
        "CI_DEPLOY_OUTPUT": str(tmp_path / "env.zip"),
        "CI_DEPLOY_EXCLUDE": "*.html,.env",
    }
    assert run(["bundle", str(source)], env, streams) == 0, streams.err
    names = set(zip_modes(tmp_path / "env.zip"))
    assert "app/index.html" not in names
    assert ".env" not in names
    assert "scripts/start.sh" in names


def test_invalid_appspec_stops_the_bundle_with_diagnostics(tmp_path: Path, streams) -> None:  # type: ignore[no-untyped-def]
    source = make_tree(tmp_path / "rev")
    (source / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/missing.sh\n"
    )
    output = tmp_path / "out.zip"
    code = run(["bundle", str(source), "--output", str(output)], {}, streams)
    assert code == 2
    assert "appspec.yml:5:" in streams.err
    assert "missing.sh" in streams.err
    assert not output.exists()
    code = run(["bundle", str(source), "--output", str(output), "--no-validate"], {}, streams)
    assert code == 0
    assert output.exists()


def test_bad_outputs_name_the_input(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "rev")
    with pytest.raises(InputError, match=r"^input output: .* is a directory$"):
        build(BundleOptions(source=source, output=tmp_path))
    with pytest.raises(InputError, match=r"^input output: directory .*missing does not exist$"):
        build(BundleOptions(source=source, output=tmp_path / "missing" / "o.zip"))


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


def test_a_real_bundle_process_never_imports_boto3(tmp_path: Path, cli_without_aws: Any) -> None:
    source = make_tree(tmp_path / "rev")
    output = tmp_path / "rev.tgz"

    done, imported_aws = cli_without_aws(["bundle", str(source), "--output", str(output)])

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert not imported_aws


def test_permissions_for_one_object_with_disjoint_types_bundle_nested_overlaps_do_not(  # type: ignore[no-untyped-def]
    tmp_path: Path, streams
) -> None:
    """The agent applies both entries of the first appspec and fails the Install on the second
    (every file of app/ would get permissions from both)."""
    source = make_tree(tmp_path / "rev")
    head = "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /srv/app\n"
    (source / "appspec.yml").write_text(
        head + "permissions:\n"
        "  - object: /srv/app\n    type: [directory]\n    mode: '755'\n"
        "  - object: /srv/app\n    type: [file]\n    mode: '644'\n"
    )
    output = tmp_path / "out.zip"
    assert run(["bundle", str(source), "--output", str(output)], {}, streams) == 0, streams.err
    (source / "appspec.yml").write_text(
        head + "permissions:\n"
        "  - object: /\n    type: [file]\n    mode: '644'\n"
        "  - object: /srv/app\n    type: [file]\n    mode: '600'\n"
    )
    output.unlink()
    assert run(["bundle", str(source), "--output", str(output)], {}, streams) == 2
    assert "the AppSpec has 1 error" in streams.err
    assert not output.exists()
    (error,) = validate_path(source).errors
    assert (error.line, error.code) == (10, "permissions-nested-object")
    assert error.message.startswith("/srv/app/current (from app/current) gets permissions")
