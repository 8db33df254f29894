"""Bundles of every type, the single-directory unwrap, and zip-slip/symlink escapes."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from ci_deploy.agent import DeploymentResult, DeploymentSpec, run_deployment
from ci_deploy.events import Event, LifecycleEventEnded

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
