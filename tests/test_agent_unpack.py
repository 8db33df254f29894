"""Bundles of every type, the single-directory unwrap, and zip-slip/symlink escapes."""

from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ci_deploy.agent import DeploymentResult, DeploymentSpec, run_deployment, unpack_tree
from ci_deploy.agent import unpack as unpack_module
from ci_deploy.agent.appspec_model import RevisionError
from ci_deploy.events import Event, LifecycleEventEnded, Notice

APPSPEC = (
    "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app\n"
    "hooks:\n  AfterInstall:\n    - location: scripts/after.sh\n"
)
SCRIPT = b'#!/bin/sh\necho "$LIFECYCLE_EVENT" > "$CI_DEPLOY_ROOT/after.txt"\n'


def members() -> list[tuple[str, bytes, int]]:
    """(name, content, mode) of a small revision."""
    return [
        ("appspec.yml", APPSPEC.encode(), 0o644),
        ("app/index.html", b"<h1>hi</h1>", 0o640),
        ("app/bin/run", b"#!/bin/sh\n", 0o755),
        ("scripts/after.sh", SCRIPT, 0o755),
    ]


def make_zip(
    path: Path, entries: list[tuple[str, bytes, int]], *, links: dict[str, str] | None = None
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def make_tar(
    path: Path,
    entries: list[tuple[str, bytes, int]],
    mode: str = "w",
    *,
    links: dict[str, str] | None = None,
) -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data, file_mode in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = file_mode
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return path


def deploy(
    tmp_path: Path, source: Path, **overrides: object
) -> tuple[DeploymentResult, list[Event]]:
    events: list[Event] = []
    values: dict[str, object] = {
        "source": source,
        "application": "app",
        "deployment_group": "g",
        "deployment_group_id": "g-1",
        "deployment_id": "d-BUNDLE001",
        "state_dir": tmp_path / "state",
        "root": tmp_path / "root",
        "base_env": {"PATH": os.environ["PATH"]},
    }
    values.update(overrides)
    return run_deployment(DeploymentSpec(**values), events.append), events  # type: ignore[arg-type]


def download_failure(events: list[Event]) -> str:
    for event in events:
        if isinstance(event, LifecycleEventEnded) and event.event_name == "DownloadBundle":
            assert event.status == "Failed" and event.diagnostics is not None
            return event.diagnostics.message
    raise AssertionError("no DownloadBundle event")


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("bundle.zip", lambda path: make_zip(path, members())),
        ("bundle.tar", lambda path: make_tar(path, members())),
        ("bundle.tgz", lambda path: make_tar(path, members(), "w:gz")),
    ],
)
def test_each_bundle_type_deploys_with_its_modes(tmp_path: Path, name: str, build: object) -> None:
    assert callable(build)
    source = build(tmp_path / name.replace("bundle", "revision-without-suffix"))
    result, _ = deploy(tmp_path, source)
    assert result.status == "Succeeded", result.error_message
    app = tmp_path / "root/opt/app"
    assert (app / "index.html").read_bytes() == b"<h1>hi</h1>"
    assert stat.S_IMODE((app / "index.html").stat().st_mode) == 0o640
    assert stat.S_IMODE((app / "bin/run").stat().st_mode) == 0o755
    assert (tmp_path / "root/after.txt").read_text() == "AfterInstall\n"


def test_the_bundle_type_can_be_named(tmp_path: Path) -> None:
    source = make_tar(tmp_path / "bundle.bin", members(), "w:gz")
    result, _ = deploy(tmp_path, source, bundle_type="tgz")
    assert result.status == "Succeeded"


def test_a_bundle_wrapped_in_one_directory_is_unwrapped(tmp_path: Path) -> None:
    wrapped = [(f"myapp-1.2/{name}", data, mode) for name, data, mode in members()]
    result, _ = deploy(tmp_path, make_zip(tmp_path / "wrapped.zip", wrapped))
    assert result.status == "Succeeded", result.error_message
    assert (tmp_path / "root/opt/app/index.html").exists()
    archive = tmp_path / "state/g-1/d-BUNDLE001/deployment-archive"
    assert (archive / "appspec.yml").is_file()


def test_a_directory_wrapped_in_one_directory_is_unwrapped_too(tmp_path: Path) -> None:
    for name, data, mode in members():
        target = tmp_path / "checkout/release" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode)
    result, _ = deploy(tmp_path, tmp_path / "checkout")
    assert result.status == "Succeeded", result.error_message


@pytest.mark.parametrize("evil", ["../evil.txt", "app/../../evil.txt", "/tmp/evil-abs.txt"])
def test_zip_slip_members_are_rejected(tmp_path: Path, evil: str) -> None:
    source = make_zip(tmp_path / "slip.zip", [*members(), (evil, b"pwned", 0o644)])
    result, events = deploy(tmp_path, source)
    assert result.status == "Failed"
    message = download_failure(events)
    assert repr(evil) in message and "refusing" in message
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "state/evil.txt").exists()
    assert not Path("/tmp/evil-abs.txt").exists()


def test_tar_members_escaping_are_rejected(tmp_path: Path) -> None:
    source = make_tar(tmp_path / "slip.tar", [*members(), ("../../evil.txt", b"x", 0o644)])
    result, events = deploy(tmp_path, source)
    assert result.status == "Failed"
    assert "points outside the bundle" in download_failure(events)


@pytest.mark.parametrize("target", ["/etc", "../../..", "app/../../../x"])
def test_symlinks_pointing_out_of_the_bundle_are_rejected(tmp_path: Path, target: str) -> None:
    source = make_tar(tmp_path / "link.tgz", members(), "w:gz", links={"app/escape": target})
    result, events = deploy(tmp_path, source)
    assert result.status == "Failed"
    assert "app/escape" in download_failure(events)


def test_writing_through_a_chain_of_links_is_rejected(tmp_path: Path) -> None:
    # 'a' points at the bundle root (allowed), 'b' -> 'a/..' climbs out through it.
    entries = [*members()]
    source = make_zip(tmp_path / "chain.zip", entries, links={"a": ".", "b": "a/.."})
    result, events = deploy(tmp_path, source)
    assert result.status == "Failed"
    assert "outside" in download_failure(events)


def test_a_symlink_inside_a_zip_is_kept(tmp_path: Path) -> None:
    source = make_zip(tmp_path / "links.zip", members(), links={"app/current": "bin/run"})
    result, _ = deploy(tmp_path, source)
    assert result.status == "Succeeded", result.error_message
    assert os.readlink(tmp_path / "root/opt/app/current") == "bin/run"


def test_a_file_that_is_no_bundle_fails_download_bundle(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("hello")
    result, events = deploy(tmp_path, source)
    assert result.status == "Failed"
    assert "is not a directory, zip, tar or tgz bundle" in download_failure(events)


def test_a_truncated_zip_fails_download_bundle(tmp_path: Path) -> None:
    good = make_zip(tmp_path / "good.zip", members()).read_bytes()
    source = tmp_path / "cut.zip"
    source.write_bytes(good[: len(good) // 2])
    result, events = deploy(tmp_path, source)
    assert result.status == "Failed"
    assert "is not a readable zip bundle" in download_failure(events)


def test_a_bundle_without_appspec_fails_naming_it(tmp_path: Path) -> None:
    source = make_zip(tmp_path / "none.zip", [("app/index.html", b"x", 0o644)])
    result, events = deploy(tmp_path, source)
    assert result.status == "Failed"
    assert "has no appspec.yml at its root" in download_failure(events)


# -- untrusted archives: the rules of Python's tarfile 'data' filter, for zip and tar --------
#
# Each attack below is built at several depths (the links at the bundle root, or two
# directories down) and in each format; tmp_path holds the state dir and a sentinel directory
# beside it, which must come out of every attempt untouched.

FORMATS = ("zip", "tar", "tgz")
TAR_FORMATS = ("tar", "tgz")
DEPTHS = (0, 2)
# The deployment's unpack directory, state/g-1/d-BUNDLE001/bundle-unpacking, is 4 levels below
# tmp_path: a link climbing that far from the unpack directory reaches the sentinel.
UNPACK_DEPTH = 4


def build(path: Path, fmt: str, entries: list[tuple[str, str, object, int]]) -> Path:
    """A bundle of ``entries`` (kind, name, payload, mode) in order; kind is file, dir, link
    (payload: the target) or hard (payload: the linked member; tar only)."""
    if fmt == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name": on purpose
            for kind, name, payload, mode in entries:
                info = zipfile.ZipInfo(name + ("/" if kind == "dir" else ""))
                file_type = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "link": stat.S_IFLNK}
                info.external_attr = (file_type[kind] | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = payload if isinstance(payload, bytes) else str(payload or "").encode()
                archive.writestr(info, data)
        return path
    with tarfile.open(path, "w:gz" if fmt == "tgz" else "w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, payload, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "link": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE}[
                kind
            ]
            if kind in ("link", "hard"):
                info.linkname = str(payload)
            tar.addfile(info)
    return path


def revision_entries() -> list[tuple[str, str, object, int]]:
    return [("file", name, data, mode) for name, data, mode in members()]


def prefix(depth: int) -> str:
    return "".join(f"d{level}/" for level in range(depth))


def chain_to(depth: int, outside: str) -> list[tuple[str, str, object, int]]:
    """``a0 -> .`` and ``esc -> a0/a0/.../../../outside``: each link's text stays inside the
    bundle (what the old check looked at), yet ``esc`` resolves to ``tmp_path/outside``."""
    climb = depth + UNPACK_DEPTH
    target = "a0/" * climb + "../" * climb + outside
    return [
        ("link", prefix(depth) + "a0", ".", 0o777),
        ("link", prefix(depth) + "esc", target, 0o777),
    ]


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    directory = tmp_path / "sentinel"
    directory.mkdir()
    directory.chmod(0o755)
    (directory / "keep.txt").write_bytes(b"keep")
    return directory


def assert_untouched(sentinel: Path) -> None:
    assert sorted(os.listdir(sentinel)) == ["keep.txt"]
    assert (sentinel / "keep.txt").read_bytes() == b"keep"
    assert (sentinel / "keep.txt").stat().st_nlink == 1
    assert stat.S_IMODE(sentinel.stat().st_mode) == 0o755
    assert not (sentinel.parent / "pwned.txt").exists()


def assert_nothing_left(tmp_path: Path) -> None:
    deployment = tmp_path / "state/g-1/d-BUNDLE001"
    assert not (deployment / "bundle-unpacking").exists()
    assert not (deployment / "deployment-archive").exists()


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("end", ["sentinel/keep.txt", "sentinel/new.txt", "pwned.txt"])
def test_a_file_is_never_written_through_a_chain_of_links(
    tmp_path: Path, sentinel: Path, fmt: str, depth: int, end: str
) -> None:
    entries = [
        *revision_entries(),
        *chain_to(depth, end),
        ("file", prefix(depth) + "esc", b"pwned", 0o644),
    ]
    result, events = deploy(tmp_path, build(tmp_path / f"chain.{fmt}", fmt, entries))
    assert_untouched(sentinel)  # first: the old code failed too, after the damage
    assert result.status == "Failed"
    message = download_failure(events)
    assert "esc" in message and "refusing" in message
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("fmt", TAR_FORMATS)
def test_a_directory_mode_is_never_applied_through_a_chain_of_links(
    tmp_path: Path, sentinel: Path, fmt: str, depth: int
) -> None:
    entries = [
        *revision_entries(),
        *chain_to(depth, "sentinel"),
        ("dir", prefix(depth) + "esc", None, 0o777),
    ]
    result, events = deploy(tmp_path, build(tmp_path / f"chmod.{fmt}", fmt, entries))
    assert_untouched(sentinel)  # first: the old code failed too, after the damage
    assert result.status == "Failed"
    assert "appears twice" in download_failure(events)
    assert_untouched(sentinel)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("fmt", TAR_FORMATS)
def test_a_hard_link_never_reaches_through_a_chain_of_links(
    tmp_path: Path, sentinel: Path, fmt: str, depth: int
) -> None:
    # The hard link would share keep.txt's inode; the file member after it would overwrite it.
    entries = [
        *revision_entries(),
        *chain_to(depth, "sentinel"),
        ("hard", prefix(depth) + "h", prefix(depth) + "esc/keep.txt", 0o644),
        ("file", prefix(depth) + "h", b"pwned", 0o644),
    ]
    result, events = deploy(tmp_path, build(tmp_path / f"hard.{fmt}", fmt, entries))
    assert_untouched(sentinel)  # first: the old code failed too, after the damage
    assert result.status == "Failed"
    assert "not a regular file unpacked before it" in download_failure(events)
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_chain_of_links_escaping_is_refused_even_when_nothing_uses_it(
    tmp_path: Path, sentinel: Path, fmt: str, depth: int
) -> None:
    entries = [*revision_entries(), *chain_to(depth, "sentinel")]
    result, events = deploy(tmp_path, build(tmp_path / f"links.{fmt}", fmt, entries))
    assert result.status == "Failed"
    message = download_failure(events)
    assert f"symlink '{prefix(depth)}esc'" in message and "outside the revision" in message
    assert_untouched(sentinel)
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_member_under_a_symlink_of_the_bundle_is_refused(tmp_path: Path, fmt: str) -> None:
    entries = [
        *revision_entries(),
        ("link", "app/current", "bin", 0o777),
        ("file", "app/current/run2", b"x", 0o644),
    ]
    result, events = deploy(tmp_path, build(tmp_path / f"under.{fmt}", fmt, entries))
    assert result.status == "Failed"
    message = download_failure(events)
    assert "'app/current/run2' lies under 'app/current', which is a symlink" in message


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_link_leaving_the_unwrapped_directory_is_refused(tmp_path: Path, fmt: str) -> None:
    # Inside the archive, but above the revision root once myapp-1.2/ is unwrapped.
    entries = [("file", f"myapp-1.2/{name}", data, mode) for name, data, mode in members()]
    entries.append(("link", "myapp-1.2/app/up", "../..", 0o777))
    result, events = deploy(tmp_path, build(tmp_path / f"wrapped.{fmt}", fmt, entries))
    assert result.status == "Failed"
    assert "'myapp-1.2/app/up' -> '../..' points outside" in download_failure(events)
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_links_and_chains_of_links_inside_the_revision_are_kept(
    tmp_path: Path, sentinel: Path, fmt: str, depth: int
) -> None:
    # Under lib/, which the appspec does not install (Install refuses links to a parent).
    base = "lib/" + prefix(depth)
    up = "../" * (depth + 1)
    entries = [
        *revision_entries(),
        ("file", base + "page.html", b"page", 0o644),
        ("link", base + "here", ".", 0o777),
        ("link", base + "run", f"here/here/{up}app/bin/run", 0o777),
        ("link", base + "www", "here", 0o777),
        ("link", base + "page2.html", "www/here/page.html", 0o777),
        ("link", "app/current", "bin/run", 0o777),
    ]
    if fmt != "zip":
        entries.append(("hard", base + "hard.html", base + "page.html", 0o644))
    result, _ = deploy(tmp_path, build(tmp_path / f"good.{fmt}", fmt, entries))
    assert result.status == "Succeeded", result.error_message
    assert os.readlink(tmp_path / "root/opt/app/current") == "bin/run"
    archive = tmp_path / "state/g-1/d-BUNDLE001/deployment-archive/lib" / prefix(depth)
    assert os.readlink(archive / "run") == f"here/here/{up}app/bin/run"
    assert (archive / "run").read_bytes() == b"#!/bin/sh\n"
    assert os.readlink(archive / "page2.html") == "www/here/page.html"
    assert (archive / "page2.html").read_bytes() == b"page"
    if fmt != "zip":
        assert (archive / "hard.html").stat().st_ino == (archive / "page.html").stat().st_ino
    assert_untouched(sentinel)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_loop_of_links_is_refused(tmp_path: Path, fmt: str) -> None:
    entries = [*revision_entries(), ("link", "app/a", "b", 0o777), ("link", "app/b", "a", 0o777)]
    result, events = deploy(tmp_path, build(tmp_path / f"loop.{fmt}", fmt, entries))
    assert result.status == "Failed"
    assert "too many of them" in download_failure(events)


# -- link targets are bounded, and no message quotes unbounded member data -------------------

LONG = 2 << 20  # a 2 MiB link target: deflate makes it a 2 KiB bundle


def build_long_link(path: Path, fmt: str, name: str) -> Path:
    target = "a" * LONG
    if fmt == "zip":
        return build(path, fmt, [*revision_entries(), ("link", name, target, 0o777)])
    # tar: a pax 'linkpath' record; tgz: a GNU ././@LongLink header.
    tar_format = tarfile.PAX_FORMAT if fmt == "tar" else tarfile.GNU_FORMAT
    with tarfile.open(path, "w:gz" if fmt == "tgz" else "w", format=tar_format) as tar:
        for kind, member, payload, mode in revision_entries():
            assert kind == "file" and isinstance(payload, bytes)
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(payload), mode
            tar.addfile(info, io.BytesIO(payload))
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        tar.addfile(info)
    return path


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_huge_link_target_is_refused_unread_and_unquoted(
    tmp_path: Path, fmt: str, depth: int
) -> None:
    source = build_long_link(tmp_path / f"long.{fmt}", fmt, prefix(depth) + "link")
    tracemalloc.start()
    try:
        result, events = deploy(tmp_path, source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "Failed"
    message = download_failure(events)
    assert len(message) < 1000 and "aaaa" * 100 not in message
    assert "PATH_MAX" in message or "extended header declares 2.0 MiB" in message
    assert peak < LONG // 2, f"{peak} bytes allocated: the target was read"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_huge_member_name_is_not_quoted_whole(tmp_path: Path, fmt: str) -> None:
    name = "n" * 3000 + "/" + "m" * 5000  # a directory name longer than NAME_MAX, too
    source = build(
        tmp_path / f"name.{fmt}", fmt, [*revision_entries(), ("file", name, b"x", 0o644)]
    )
    result, events = deploy(tmp_path, source)
    assert result.status == "Failed"
    message = download_failure(events)
    assert len(message) < 1000 and "n" * 300 not in message
    assert "characters)" in message


# -- modes: setuid, setgid, sticky and group/other write are dropped, with a warning ---------


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_setuid_setgid_sticky_and_shared_write_bits_are_dropped_with_a_warning(
    tmp_path: Path, sentinel: Path, fmt: str, depth: int
) -> None:
    base = "app/" + prefix(depth)
    entries = [
        *revision_entries(),
        ("file", base + "suid", b"#!/bin/sh\n", 0o4755),
        ("file", base + "sgid", b"#!/bin/sh\n", 0o2750),
        ("file", base + "everything", b"#!/bin/sh\n", 0o7777),
        ("file", base + "shared.txt", b"x", 0o666),
    ]
    if fmt != "zip":  # zip directory modes are not applied at all
        entries.insert(0, ("dir", base + "tmp", None, 0o1777))
    result, events = deploy(tmp_path, build(tmp_path / f"modes.{fmt}", fmt, entries))
    assert result.status == "Succeeded", result.error_message
    installed = tmp_path / "root/opt/app" / prefix(depth)
    archive = tmp_path / "state/g-1/d-BUNDLE001/deployment-archive/app" / prefix(depth)
    expected = {"suid": 0o755, "sgid": 0o750, "everything": 0o755, "shared.txt": 0o644}
    for name, mode in expected.items():
        assert stat.S_IMODE((archive / name).stat().st_mode) == mode, name
        assert stat.S_IMODE((installed / name).stat().st_mode) == mode, name
    if fmt != "zip":
        assert stat.S_IMODE((archive / "tmp").stat().st_mode) == 0o755
    special, shared = result.warnings
    assert f"'{base}suid' (4755)" in special and f"'{base}sgid' (2750)" in special
    assert "setuid/setgid/sticky" in special and "permissions section" in special
    assert f"'{base}shared.txt'" in shared and f"'{base}everything'" in shared
    assert "group/other write" in shared
    assert any(isinstance(event, Notice) and event.message == special for event in events)
    assert_untouched(sentinel)


# -- max_unpacked_size --------------------------------------------------------------------


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bundle_declaring_more_than_max_unpacked_size_is_refused(
    tmp_path: Path, sentinel: Path, fmt: str, depth: int
) -> None:
    entries = [
        *revision_entries(),
        ("file", "app/" + prefix(depth) + "big.bin", b"\0" * 2048, 0o644),
    ]
    source = build(tmp_path / f"big.{fmt}", fmt, entries)
    result, events = deploy(tmp_path, source, max_unpacked_size=1024)
    assert result.status == "Failed"
    message = download_failure(events)
    assert f"big.{fmt} unpacks to at least" in message and "more than the limit of 1 KiB" in message
    assert "max_unpacked_size" in message and "--max-unpacked-size" in message
    assert "CI_DEPLOY_MAX_UNPACKED_SIZE" in message
    assert_nothing_left(tmp_path)
    assert_untouched(sentinel)
    # The same bundle fits the default limit.
    result, _ = deploy(tmp_path, source, deployment_id="d-BUNDLE002")
    assert result.status == "Succeeded", result.error_message


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_members_each_under_the_limit_add_up(tmp_path: Path, fmt: str) -> None:
    entries = [*revision_entries()]
    entries += [("file", f"app/part{index}", b"\1" * 400, 0o644) for index in range(3)]
    result, events = deploy(
        tmp_path, build(tmp_path / f"parts.{fmt}", fmt, entries), max_unpacked_size=1024
    )
    assert result.status == "Failed"
    assert "more than the limit of 1 KiB" in download_failure(events)


@pytest.mark.parametrize("fmt", TAR_FORMATS)
def test_hard_links_count_toward_max_unpacked_size(tmp_path: Path, fmt: str) -> None:
    # Install copies each name of a hard-linked file: 3 names of 600 bytes are 1800 bytes.
    entries = [*revision_entries(), ("file", "app/data", b"\1" * 600, 0o644)]
    entries += [("hard", f"app/data{index}", "app/data", 0o644) for index in range(2)]
    result, events = deploy(
        tmp_path, build(tmp_path / f"hard.{fmt}", fmt, entries), max_unpacked_size=1024
    )
    assert result.status == "Failed"
    assert "more than the limit of 1 KiB" in download_failure(events)


def test_a_zip_over_the_limit_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    original = unpack_tree.Tree.file

    def spy(self: Any, key: str, *args: Any) -> None:
        written.append(key)
        original(self, key, *args)

    monkeypatch.setattr(unpack_tree.Tree, "file", spy)
    entries = [*revision_entries(), ("file", "app/z.bin", b"\0" * 4096, 0o644)]
    result, _ = deploy(
        tmp_path, build(tmp_path / "big.zip", "zip", entries), max_unpacked_size=1024
    )
    assert result.status == "Failed"
    assert written == []  # refused from the central directory, before the first member


def lying_zip(path: Path, declared: int, data: bytes) -> Path:
    """A zip whose entry declares ``declared`` bytes (local header and central directory) but
    whose deflated data expands to all of ``data``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, mode in members():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, content)
        archive.writestr("app/bomb.bin", data)
    raw = bytearray(buffer.getvalue())
    local = raw.rfind(b"PK\x03\x04")  # the last entry's local header
    struct.pack_into("<I", raw, local + 22, declared)
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, declared)
    path.write_bytes(bytes(raw))
    return path


def test_a_zip_whose_declared_size_lies_writes_no_more_than_declared(tmp_path: Path) -> None:
    source = lying_zip(tmp_path / "lie.zip", 100, b"\0" * 64 * 1024)
    assert sum(info.file_size for info in zipfile.ZipFile(source).infolist()) < 1024
    result, events = deploy(tmp_path, source, max_unpacked_size=1024)
    assert result.status == "Failed"
    # zipfile stops at the declared size and then finds the CRC wrong.
    assert "is not a readable zip bundle" in download_failure(events)
    assert_nothing_left(tmp_path)


def test_bytes_are_counted_while_writing_whatever_was_declared(tmp_path: Path) -> None:
    out = tmp_path / "out"
    budget = unpack_tree.Budget(1024, "lie.tar")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(
            RevisionError, match=r"lie\.tar had unpacked 4 KiB so far, more than the limit of 1 KiB"
        ):
            unpack_tree.copy_counted(io.BytesIO(b"\0" * 4096), fd, 4096, budget, "m")
        with pytest.raises(RevisionError, match="holds more data than the 100 bytes its header"):
            unpack_tree.copy_counted(io.BytesIO(b"\0" * 200), fd, 100, budget, "m")
    finally:
        os.close(fd)
    assert out.stat().st_size == 0


def test_the_default_limit_is_4_gib() -> None:
    assert unpack_module.DEFAULT_MAX_UNPACKED_SIZE == 4 << 30
    assert DeploymentSpec.__dataclass_fields__["max_unpacked_size"].default is None


@pytest.mark.parametrize(
    ("tar_type", "kind"),
    [(tarfile.FIFOTYPE, "fifo"), (tarfile.CHRTYPE, "device"), (tarfile.BLKTYPE, "device")],
)
def test_devices_and_fifos_are_refused(
    tmp_path: Path, sentinel: Path, tar_type: bytes, kind: str
) -> None:
    path = build(tmp_path / "dev.tar", "tar", revision_entries())
    with tarfile.open(path, "a") as archive:
        info = tarfile.TarInfo("app/node")
        info.type = tar_type
        archive.addfile(info)
    result, events = deploy(tmp_path, path)
    assert result.status == "Failed"
    assert f"member 'app/node' is a {kind}; bundles hold only" in download_failure(events)
    assert_untouched(sentinel)
    assert_nothing_left(tmp_path)
