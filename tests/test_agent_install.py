"""Install's safety on real files: symlinks the revision installs are never written or deleted
through, and an Install killed midway (SIGKILL, in a real process) is cleaned up by the next."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import ci_deploy
from agent_runs import HEAD
from agent_runs import deploy as run_engine
from ci_deploy.agent import DeploymentResult


def deploy(
    tmp_path: Path, source: Path, deployment_id: str, **overrides: object
) -> tuple[DeploymentResult, str]:
    """Deploy ``source`` into tmp_path/root; returns the result and the Install diagnostics'
    message ("" when Install succeeded or did not run)."""
    result, recorder = run_engine(tmp_path, source, deployment_id, **overrides)
    install = recorder.ended().get("Install")
    diagnostics = install.diagnostics if install is not None else None
    return result, diagnostics.message if diagnostics is not None else ""


def appspec(files: list[tuple[str, str]], extra: str = "") -> str:
    lines = [HEAD.rstrip("\n"), "files:"]
    for source, destination in files:
        lines += [f"  - source: {source}", f"    destination: {destination}"]
    return "\n".join(lines) + "\n" + extra


def snapshot(top: Path) -> dict[str, str]:
    """Every entry under ``top``: relative path -> 'dir', 'link:<target>' or the file's text."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            relative = str(path.relative_to(top))
            if path.is_symlink():
                found[relative] = f"link:{os.readlink(path)}"
            elif path.is_dir():
                found[relative] = "dir"
            else:
                found[relative] = path.read_text()
    return found


def sentinel(tmp_path: Path) -> Path:
    """A directory beside the install root, holding files an escape would replace or delete."""
    outside = tmp_path / "esc"
    (outside / "sub").mkdir(parents=True)
    (outside / "x.txt").write_text("precious")
    (outside / "sub/x.txt").write_text("precious too")
    return outside


SENTINEL = {"sub": "dir", "x.txt": "precious", "sub/x.txt": "precious too"}


def record(tmp_path: Path) -> dict[str, object]:
    text = (tmp_path / "state/deployment-instructions/group-1-cleanup").read_text()
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


# ---------------------------------------------------------------------------------------------
# A symlink the revision installs is never written through


def escaping_link_revision(tmp_path: Path, depth: int, nested: bool, link_first: bool) -> Path:
    """files[link] installs ``q1/.../l -> ../../esc`` (inside the revision, but ``depth``
    levels up from where it lands: beside the root, at tmp_path/esc); files[payload] (x.txt) is
    installed at ``/q1/.../l`` (or in a directory below it), so it would be written through the
    link: onto tmp_path/esc/x.txt (or esc/sub/x.txt)."""
    revision = tmp_path / "rev"
    middle = [f"q{level}" for level in range(1, depth)]
    link_dir = revision.joinpath("links", *middle)
    link_dir.mkdir(parents=True)
    (link_dir / "l").symlink_to("../" * depth + "esc")
    (revision / "payload").mkdir()
    (revision / "payload/x.txt").write_text("attacker")
    installed_link = "/" + "/".join([*middle, "l"])
    target = installed_link + ("/sub" if nested else "")
    entries = [("links", "/"), ("payload", target)]
    (revision / "appspec.yml").write_text(appspec(entries if link_first else entries[::-1]))
    return revision


@pytest.mark.parametrize("behavior", ["DISALLOW", "OVERWRITE"])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("nested", [False, True], ids=["at-link", "below-link"])
@pytest.mark.parametrize("link_first", [True, False], ids=["link-first", "link-second"])
def test_an_entry_is_never_written_through_a_link_another_entry_installs(
    tmp_path: Path, behavior: str, depth: int, nested: bool, link_first: bool
) -> None:
    outside = sentinel(tmp_path)
    revision = escaping_link_revision(tmp_path, depth, nested, link_first)
    result, message = deploy(tmp_path, revision, "d-LINK00001", file_exists_behavior=behavior)

    assert snapshot(outside) == SENTINEL
    assert result.status == "Failed"
    assert "symlink" in message
    assert snapshot(tmp_path / "root") == {}  # refused while planning: nothing was written


def test_a_link_into_the_root_is_still_installed_as_a_link(tmp_path: Path) -> None:
    # Legitimate: an installed link (even one pointing out of the root) is created as a link;
    # only writing through it is refused.
    revision = tmp_path / "rev"
    (revision / "web/shared").mkdir(parents=True)
    (revision / "web/shared/a.txt").write_text("a")
    (revision / "web/current").symlink_to("shared/a.txt")
    (revision / "web/up").symlink_to("../esc")
    (revision / "appspec.yml").write_text(appspec([("web", "/")]))
    result, _ = deploy(tmp_path, revision, "d-LINK00002")
    assert result.status == "Succeeded", result.error_message
    root = tmp_path / "root"
    assert os.readlink(root / "current") == "shared/a.txt"
    assert os.readlink(root / "up") == "../esc"
    assert (root / "current").read_text() == "a"


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_a_foreign_link_inside_the_root_is_followed_and_cleaned_through(
    tmp_path: Path, absolute: bool
) -> None:
    # A symlink the group did not install (the host's own, e.g. /srv/web -> /data/web) is
    # followed, as the agent does, when it stays inside the root.
    root = tmp_path / "root"
    (root / "data/web").mkdir(parents=True)
    (root / "srv").mkdir()
    (root / "srv/web").symlink_to(root / "data/web" if absolute else "../data/web")
    revision = tmp_path / "rev"
    (revision / "site").mkdir(parents=True)
    (revision / "site/index.html").write_text("1")
    (revision / "appspec.yml").write_text(appspec([("site", "/srv/web")]))
    first, _ = deploy(tmp_path, revision, "d-FOLLOW001")
    assert first.status == "Succeeded", first.error_message
    assert (root / "data/web/index.html").read_text() == "1"

    (revision / "site/index.html").unlink()
    (revision / "site/other.html").write_text("2")
    second, _ = deploy(tmp_path, revision, "d-FOLLOW002")
    assert second.status == "Succeeded", second.error_message
    assert sorted(os.listdir(root / "data/web")) == ["other.html"]


def test_a_foreign_symlink_loop_is_an_error_not_a_hang(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "srv").mkdir(parents=True)
    (root / "srv/web").symlink_to("web2")
    (root / "srv/web2").symlink_to("web")
    revision = tmp_path / "rev"
    (revision / "site").mkdir(parents=True)
    (revision / "site/index.html").write_text("1")
    (revision / "appspec.yml").write_text(appspec([("site", "/srv/web")]))
    result, message = deploy(tmp_path, revision, "d-LOOP00001")
    assert result.status == "Failed"
    assert "too many levels of symlinks" in message


def test_a_link_of_the_previous_revision_can_become_a_directory(tmp_path: Path) -> None:
    # v1 installs a link out of the root (harmless: nothing goes through it); v2 installs a
    # directory of the same name. The link is removed first, so v2 writes into the root.
    outside = sentinel(tmp_path)
    v1 = tmp_path / "v1"
    (v1 / "site/a").mkdir(parents=True)
    (v1 / "site/a/l").symlink_to("../../esc")  # root/a/l -> tmp_path/esc once installed
    (v1 / "appspec.yml").write_text(appspec([("site", "/")]))
    first, _ = deploy(tmp_path, v1, "d-PREV00001")
    assert first.status == "Succeeded", first.error_message
    assert (tmp_path / "root/a/l/x.txt").read_text() == "precious"  # it does lead out
    v2 = tmp_path / "v2"
    (v2 / "site/a/l/sub").mkdir(parents=True)
    (v2 / "site/a/l/x.txt").write_text("new")
    (v2 / "site/a/l/sub/x.txt").write_text("new too")
    (v2 / "appspec.yml").write_text(appspec([("site", "/")]))
    second, message = deploy(tmp_path, v2, "d-PREV00002")
    assert second.status == "Succeeded", message
    assert snapshot(outside) == SENTINEL
    assert snapshot(tmp_path / "root") == {
        "a": "dir",
        "a/l": "dir",
        "a/l/sub": "dir",
        "a/l/x.txt": "new",
        "a/l/sub/x.txt": "new too",
    }


# ---------------------------------------------------------------------------------------------
# Removing the previous revision's files never deletes through a symlink


@pytest.mark.parametrize("replaced", ["srv/web/cache", "srv/web", "srv"])
def test_cleanup_does_not_delete_through_a_link_that_replaced_an_installed_directory(
    tmp_path: Path, replaced: str
) -> None:
    # After v1, something (an AfterInstall script, the application) turns a directory v1
    # installed into a symlink leading out of the root, where files of the same names exist.
    outside = sentinel(tmp_path)
    (outside / "cache").mkdir()
    (outside / "cache/x.txt").write_text("precious")
    (outside / "web/cache").mkdir(parents=True)
    (outside / "web/cache/x.txt").write_text("precious")
    expected = snapshot(outside)
    v1 = tmp_path / "v1"
    (v1 / "site/cache").mkdir(parents=True)
    (v1 / "site/cache/x.txt").write_text("ours")
    (v1 / "appspec.yml").write_text(appspec([("site", "/srv/web")]))
    first, _ = deploy(tmp_path, v1, "d-CLEAN0001")
    assert first.status == "Succeeded", first.error_message

    link = tmp_path / "root" / replaced
    subprocess.run(["rm", "-rf", str(link)], check=True)
    levels = len(Path(replaced).parts)
    below = {"srv/web/cache": "", "srv/web": "web", "srv": ""}[replaced]
    link.symlink_to("../" * levels + "esc" + (f"/{below}" if below else ""))

    v2 = tmp_path / "v2"
    (v2 / "other").mkdir(parents=True)
    (v2 / "other/y.txt").write_text("y")
    (v2 / "appspec.yml").write_text(appspec([("other", "/opt/other")]))
    second, _ = deploy(tmp_path, v2, "d-CLEAN0002")

    assert snapshot(outside) == expected
    assert second.status == "Succeeded", second.error_message
    assert (tmp_path / "root/opt/other/y.txt").read_text() == "y"
    [warning] = [w for w in second.warnings if "did not delete the previous revision's" in w]
    assert f"did not delete the previous revision's {link}/" in warning
    assert "a symlink is never followed to delete a file" in warning
    assert not link.is_symlink()  # the link itself, in v1's place, is removed


def test_cleanup_of_a_record_that_wrote_through_its_own_link_deletes_nothing_outside(
    tmp_path: Path,
) -> None:
    # The record an Install that wrote through its own link (ci-deploy before this check)
    # left: its link, and a file it wrote through it, which is outside the root.
    outside = sentinel(tmp_path)
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a/l").symlink_to("../../esc")
    instructions = tmp_path / "state/deployment-instructions"
    instructions.mkdir(parents=True)
    paths = [str(root / "a"), str(root / "a/l"), str(root / "a/l/x.txt"), str(root / "a/l/sub")]
    paths.append(str(root / "a/l/sub/x.txt"))
    (instructions / "group-1-cleanup").write_text(
        json.dumps({"format": 1, "deployment_id": "d-OLD", "paths": paths})
    )
    revision = tmp_path / "rev"
    (revision / "site").mkdir(parents=True)
    (revision / "site/y.txt").write_text("y")
    (revision / "appspec.yml").write_text(appspec([("site", "/srv")]))
    result, _ = deploy(tmp_path, revision, "d-CLEAN0003")

    assert snapshot(outside) == SENTINEL
    assert result.status == "Succeeded", result.error_message
    assert snapshot(root) == {"srv": "dir", "srv/y.txt": "y"}


# ---------------------------------------------------------------------------------------------
# kill -9 during Install


DRIVER = """
import json, os, sys, threading
from pathlib import Path
import ci_deploy.agent.install as install_module
from ci_deploy.agent import DeploymentSpec, run_deployment
from ci_deploy.events import discard

args = json.loads(sys.argv[1])
real_copy = install_module.copy_file
lock = threading.Lock()
copied = 0
parked = threading.Event()


def copy_then_park(source, destination, st):
    # Copy for real; once `after` files are copied, say so on stdout and park every copying
    # thread until the test kills this process (or, should the test be gone, exit in 60 s).
    global copied
    real_copy(source, destination, st)
    with lock:
        copied += 1
        if copied == args["after"]:
            os.write(1, b"copying\\n")
    if copied >= args["after"]:
        if not parked.wait(60):
            os._exit(3)


install_module.copy_file = copy_then_park
spec = DeploymentSpec(
    source=Path(args["source"]),
    application="shop",
    deployment_group="staging",
    deployment_group_id="group-1",
    deployment_id=args["deployment_id"],
    state_dir=Path(args["state"]),
    root=Path(args["root"]),
    base_env={"PATH": os.environ["PATH"]},
)
run_deployment(spec, discard)
os.write(1, b"finished\\n")
"""


def kill_during_install(tmp_path: Path, source: Path, deployment_id: str, after: int) -> None:
    """Run a deployment of ``source`` in another process and SIGKILL it once Install has
    copied ``after`` files (the process says so on a pipe; every wait is bounded)."""
    arguments = {
        "source": str(source),
        "deployment_id": deployment_id,
        "state": str(tmp_path / "state"),
        "root": str(tmp_path / "root"),
        "after": after,
    }
    env = dict(os.environ)
    src = str(Path(ci_deploy.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps(arguments)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=60), "the install did not reach the kill point"
        assert process.stdout.readline() == b"copying\n"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()


def many_files_revision(path: Path, prefix: str, count: int) -> Path:
    for index in range(count):
        page = path / "web" / f"part{index % 10}" / f"{prefix}{index:04d}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"{prefix} {index}")
    (path / "appspec.yml").write_text(appspec([("web", "/srv/web")]))
    return path


def expected_tree(revision: Path) -> dict[str, str]:
    tree = {"srv": "dir", "srv/web": "dir"}
    tree.update({f"srv/web/{k}": v for k, v in snapshot(revision / "web").items()})
    return tree


@pytest.mark.parametrize("first_install", [False, True], ids=["redeploy", "first-install"])
def test_an_install_killed_midway_is_cleaned_up_by_the_next_one(
    tmp_path: Path, first_install: bool
) -> None:
    root = tmp_path / "root"
    if not first_install:
        v1 = many_files_revision(tmp_path / "v1", "old", 50)
        assert deploy(tmp_path, v1, "d-KILL00001")[0].status == "Succeeded"
    v2 = many_files_revision(tmp_path / "v2", "new", 1000)
    kill_during_install(tmp_path, v2, "d-KILL00002", after=100)
    half = snapshot(root)
    assert 100 <= sum(1 for name in half if name.endswith(".html")) < 1000
    assert not any("/old" in name for name in half)  # v1's files were removed before copying

    rerun, message = deploy(tmp_path, v2, "d-KILL00003")
    assert rerun.status == "Succeeded", message
    assert snapshot(root) == expected_tree(v2)

    # And the next revision removes exactly what the rerun installed.
    v3 = many_files_revision(tmp_path / "v3", "third", 5)
    assert deploy(tmp_path, v3, "d-KILL00004")[0].status == "Succeeded"
    assert snapshot(root) == expected_tree(v3)


def test_after_a_killed_install_the_message_for_a_foreign_file_is_true(tmp_path: Path) -> None:
    root = tmp_path / "root"
    v1 = many_files_revision(tmp_path / "v1", "old", 50)
    assert deploy(tmp_path, v1, "d-TRUE00001")[0].status == "Succeeded"
    v2 = many_files_revision(tmp_path / "v2", "new", 1000)
    kill_during_install(tmp_path, v2, "d-TRUE00002", after=100)
    half = snapshot(root)
    assert not any("/old" in name for name in half)  # v1's files are gone
    # The rerun's revision also has extra.html, which the killed Install never meant to
    # write; someone else put a file there meanwhile.
    shutil.copytree(v2, tmp_path / "v2b", symlinks=True)
    v2b = tmp_path / "v2b"
    (v2b / "web/part9/extra.html").write_text("extra")
    foreign = root / "srv/web/part9/extra.html"
    foreign.write_text("put there by someone else")
    recorded = record(tmp_path)

    failed, message = deploy(tmp_path, v2b, "d-TRUE00003")
    assert failed.status == "Failed"
    assert f"a specified file already exists at this location: {foreign}." in message
    # The previous installation (v1) was not left intact: the killed Install removed it.
    assert "previous installation was left intact" not in message
    assert "last Install (deployment d-TRUE00002), which did not finish" in message
    assert "Nothing was removed" in message
    assert snapshot(root) == {**half, "srv/web/part9/extra.html": "put there by someone else"}
    assert record(tmp_path) == recorded

    foreign.unlink()
    rerun, message = deploy(tmp_path, v2b, "d-TRUE00004")
    assert rerun.status == "Succeeded", message
    assert snapshot(root) == expected_tree(v2b)


def test_the_conflict_message_on_a_first_install_claims_no_previous_installation(
    tmp_path: Path,
) -> None:
    web = tmp_path / "root/srv/web/part0"
    web.mkdir(parents=True)
    (web / "new0000.html").write_text("foreign")
    v1 = many_files_revision(tmp_path / "v1", "new", 3)
    failed, message = deploy(tmp_path, v1, "d-FIRST0001")
    assert failed.status == "Failed"
    assert f"already exists at this location: {web / 'new0000.html'}" in message
    assert "previous" not in message
    assert "has no install record" in message
