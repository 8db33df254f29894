"""The local engine on real files and real processes: lifecycle, hooks, install, cleanup."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from agent_runs import HEAD, deploy
from ci_deploy.agent import hooks
from ci_deploy.agent.appspec_model import HookScript
from ci_deploy.errors import InputError
from ci_deploy.events import (
    Diagnostics,
    Event,
    LifecycleEventStarted,
    TargetStatusChanged,
)

DEFAULT_ORDER = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
]


def write_revision(
    path: Path,
    appspec: str,
    files: dict[str, str] | None = None,
    scripts: dict[str, str] | None = None,
) -> Path:
    """A revision directory: appspec.yml, plain files, and executable bash scripts."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "appspec.yml").write_text(appspec)
    for name, text in (files or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    for name, body in (scripts or {}).items():
        script = path / name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text("#!/usr/bin/env bash\nset -eu\n" + body + "\n")
        script.chmod(0o755)
    return path


def hooks_yaml(events: dict[str, str], timeout: int = 30) -> str:
    lines = ["hooks:"]
    for event, location in events.items():
        lines += [f"  {event}:", f"    - location: {location}", f"      timeout: {timeout}"]
    return "\n".join(lines) + "\n"


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


# ---------------------------------------------------------------------------------------------
# Lifecycle order and the hook environment


def test_events_run_in_lifecycle_order_with_the_agent_environment(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    fields = "$LIFECYCLE_EVENT|$DEPLOYMENT_ID|$APPLICATION_NAME|$DEPLOYMENT_GROUP_NAME"
    body = f'echo "{fields}|$DEPLOYMENT_GROUP_ID|$0|$PWD|$#" >> {log}'
    scripts = {
        f"hooks/{name}.sh": body
        for name in DEFAULT_ORDER
        if name not in ("DownloadBundle", "Install")
    }
    # Listed in reverse: the agent runs them in lifecycle order whatever the appspec's order.
    listed = {
        name: f"hooks/{name}.sh"
        for name in reversed(DEFAULT_ORDER)
        if name not in ("DownloadBundle", "Install", "ApplicationStop")
    }
    source = write_revision(tmp_path / "rev", HEAD + hooks_yaml(listed), scripts=scripts)

    result, recorder = deploy(
        tmp_path, source, "d-FIRST0001", application="my app.v2", deployment_group="blue group"
    )

    assert result.status == "Succeeded"
    rows = [line.split("|") for line in log.read_text().splitlines()]
    assert [row[0] for row in rows] == [
        "BeforeInstall",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    ]
    for row in rows:
        assert row[1:5] == ["d-FIRST0001", "my app.v2", "blue group", "group-1"]
        archive = tmp_path / "state" / "group-1" / "d-FIRST0001" / "deployment-archive"
        assert row[5] == str(archive / "hooks" / f"{row[0]}.sh")
        assert row[6] == os.getcwd()  # the caller's working directory, as the agent
        assert row[7] == "0"  # no arguments
    started = [e.event_name for e in recorder.events if isinstance(e, LifecycleEventStarted)]
    assert started == DEFAULT_ORDER
    assert [e.status for e in recorder.events if isinstance(e, TargetStatusChanged)] == [
        "InProgress",
        "Succeeded",
    ]
    assert [record.name for record in result.events] == DEFAULT_ORDER
    assert all(record.status == "Succeeded" for record in result.events)


def test_bundle_and_inherited_variables_reach_hooks(tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"AfterInstall": "env.sh"}),
        scripts={
            "env.sh": "echo $BUNDLE_BUCKET $BUNDLE_KEY $BUNDLE_VERSION $FROM_CI $CI_DEPLOY_ROOT"
            f" > {out}"
        },
    )
    result, _ = deploy(
        tmp_path,
        source,
        "d-ENV000001",
        bundle_env={"BUNDLE_BUCKET": "b", "BUNDLE_KEY": "k.zip", "BUNDLE_VERSION": "v1"},
        base_env={"PATH": os.environ["PATH"], "FROM_CI": "yes"},
    )
    assert result.status == "Succeeded"
    assert out.read_text().split() == ["b", "k.zip", "v1", "yes", str(tmp_path / "root")]


def test_traffic_events_run_only_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    names = ["BeforeInstall", "BeforeAllowTraffic", "AfterAllowTraffic"]
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({name: f"{name}.sh" for name in names}),
        scripts={f"{name}.sh": f"echo $LIFECYCLE_EVENT >> {log}" for name in names},
    )
    result, _ = deploy(
        tmp_path, source, "d-TRAFFIC01", events=("BeforeAllowTraffic", "AfterAllowTraffic")
    )
    assert [record.name for record in result.events] == [
        "DownloadBundle",
        "Install",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    ]
    assert log.read_text().split() == ["BeforeAllowTraffic", "AfterAllowTraffic"]


def test_events_out_of_order_or_unknown_are_bad_input(tmp_path: Path) -> None:
    source = write_revision(tmp_path / "rev", HEAD)
    with pytest.raises(InputError, match="not in lifecycle order") as caught:
        deploy(tmp_path, source, "d-ORDER0001", events=("ValidateService", "BeforeInstall"))
    assert "BeforeInstall, Install, ValidateService" in str(caught.value.hint)
    with pytest.raises(InputError, match="input events"):
        deploy(tmp_path, source, "d-ORDER0002", events=("Validate",))


# ---------------------------------------------------------------------------------------------
# Hook processes


def test_timeout_kills_the_script_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"BeforeInstall": "slow.sh"}, timeout=1),
        scripts={
            "slow.sh": f"sleep 30 > /dev/null 2>&1 &\necho $! $$ > {pids}\necho waiting\nsleep 30"
        },
    )
    began = time.monotonic()
    result, recorder = deploy(tmp_path, source, "d-TIMEOUT01")
    took = time.monotonic() - began

    assert result.status == "Failed"
    ended = recorder.ended()["BeforeInstall"]
    assert ended.status == "Failed" and ended.diagnostics is not None
    assert ended.diagnostics.error_code == "ScriptTimedOut"
    assert ended.diagnostics.script_name == "slow.sh"
    assert "failed to complete in 1 seconds" in ended.diagnostics.message
    assert ended.diagnostics.log_tail == "[stdout]waiting\n"
    assert took < 5
    child, script = (int(pid) for pid in pids.read_text().split())
    deadline = time.monotonic() + 2
    while (alive(child) or alive(script)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(child) and not alive(script)
    assert [r.status for r in result.events][3:] == ["Skipped"] * 4


def test_timeout_applies_to_a_script_that_closed_its_output(tmp_path: Path) -> None:
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"AfterInstall": "quiet.sh"}, timeout=1),
        scripts={"quiet.sh": "echo going quiet\nexec > /dev/null 2>&1\nsleep 30"},
    )
    began = time.monotonic()
    result, recorder = deploy(tmp_path, source, "d-QUIET0001")
    assert time.monotonic() - began < 5
    diagnostics = recorder.ended()["AfterInstall"].diagnostics
    assert diagnostics is not None and diagnostics.error_code == "ScriptTimedOut"
    assert diagnostics.log_tail == "[stdout]going quiet\n"
    assert result.status == "Failed"


def test_failing_script_reports_exit_code_and_last_2kb_of_output(tmp_path: Path) -> None:
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"AfterInstall": "fail.sh"}),
        scripts={
            "fail.sh": 'for i in $(seq 1 100); do echo "line $i of the build output"; done\n'
            "echo 'database unreachable: db:5432' >&2\nexit 3"
        },
    )
    result, recorder = deploy(tmp_path, source, "d-FAIL00001")

    assert result.status == "Failed"
    assert (
        result.error_message
        == "AfterInstall failed: Script at specified location: fail.sh failed with exit code 3"
    )
    diagnostics = recorder.ended()["AfterInstall"].diagnostics
    assert diagnostics is not None and diagnostics.error_code == "ScriptFailed"
    assert len(diagnostics.log_tail.encode()) <= 2048
    assert diagnostics.log_tail.endswith(
        "[stdout]line 100 of the build output\n[stderr]database unreachable: db:5432\n"
    )
    assert "line 1 of" not in diagnostics.log_tail
    full_log = (tmp_path / "state/group-1/d-FAIL00001/logs/scripts.log").read_text()
    assert "[stdout]line 1 of the build output" in full_log
    assert "LifecycleEvent - AfterInstall" in full_log
    assert [r.status for r in result.events][-2:] == ["Skipped", "Skipped"]


def test_a_long_line_then_a_short_one_keeps_2kb_of_tail(tmp_path: Path) -> None:
    # The agent keeps the last 2 KB of output, not the last whole lines: a 100 KB line followed
    # by one short line must leave the end of the long line in the tail too.
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"AfterInstall": "fail.sh"}),
        scripts={
            "fail.sh": "head -c 100000 /dev/zero | tr '\\0' x\necho\necho 'final line'\nexit 1"
        },
    )
    result, recorder = deploy(tmp_path, source, "d-LONGLINE1")

    assert result.status == "Failed"
    diagnostics = recorder.ended()["AfterInstall"].diagnostics
    assert diagnostics is not None
    assert len(diagnostics.log_tail.encode()) == 2048
    assert diagnostics.log_tail.endswith("xxxx\n[stdout]final line\n")


def test_a_script_without_the_executable_bit_is_made_executable(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"BeforeInstall": "plain.sh"}),
        scripts={"plain.sh": f"touch {marker}"},
    )
    (source / "plain.sh").chmod(0o644)
    result, _ = deploy(tmp_path, source, "d-CHMOD0001")
    assert result.status == "Succeeded"
    assert marker.exists()


def test_background_process_holding_stdout_does_not_hang_the_event(tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"ApplicationStart": "start.sh"}, timeout=20),
        scripts={"start.sh": f"sleep 20 &\necho $! > {pid_file}\necho started"},
    )
    began = time.monotonic()
    result, recorder = deploy(tmp_path, source, "d-HOLD00001")
    took = time.monotonic() - began
    pid = int(pid_file.read_text())
    try:
        assert result.status == "Succeeded"
        assert took < 5  # the agent would wait here until the 20 s timeout
        assert any("still holds its stdout/stderr open" in w for w in recorder.warnings())
        assert result.warnings and "start.sh" in result.warnings[0]
        assert alive(pid)  # a started server is left running, as intended
    finally:
        os.kill(pid, 9)


def test_cancel_kills_the_running_hook_and_skips_the_rest(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"BeforeInstall": "wait.sh"}),
        scripts={"wait.sh": f"echo $$ > {pid_file}\nsleep 30"},
    )
    cancel = threading.Event()
    timer = threading.Thread(target=lambda: (_wait_for(pid_file), cancel.set()))
    timer.start()
    result, recorder = deploy(tmp_path, source, "d-CANCEL001", cancel=cancel)
    timer.join()
    assert result.status == "Stopped"
    assert [r.status for r in result.events] == [
        "Succeeded",
        "Succeeded",
        "Failed",
        *["Skipped"] * 4,
    ]
    assert not alive(int(pid_file.read_text()))
    assert [e.status for e in recorder.events if isinstance(e, TargetStatusChanged)][
        -1
    ] == "Stopped"


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 10
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_runas_switches_user_with_su_when_root(tmp_path: Path) -> None:
    out = tmp_path / "who"
    appspec = (
        HEAD
        + "hooks:\n  AfterInstall:\n    - location: who.sh\n      runas: root\n"
        + "  ApplicationStart:\n    - location: who.sh\n      runas: nobody\n"
    )
    source = write_revision(tmp_path / "rev", appspec, scripts={"who.sh": f"id -un > {out}"})
    result, recorder = deploy(tmp_path, source, "d-RUNAS0001")
    after_install = recorder.ended()["AfterInstall"]
    diagnostics = recorder.ended()["ApplicationStart"].diagnostics
    assert diagnostics is not None
    if os.geteuid() == 0:
        assert after_install.status == "Succeeded"
        assert out.read_text() == "root\n"
        # 'su nobody -c' meets nobody's nologin shell, exactly as on an instance.
        assert diagnostics.error_code == "ScriptFailed"
        assert "This account is currently not available." in diagnostics.log_tail
    else:
        assert "runas 'root' needs root" in str(result.error_message)


def test_su_reads_runas_as_the_user_name_never_as_an_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in su records its argv; the engine believes it runs as root (it does on a host).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = tmp_path / "su-argv"
    fake_su = bin_dir / "su"
    fake_su.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {recorded}\n')
    fake_su.chmod(0o755)
    script = tmp_path / "archive" / "run.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    monkeypatch.setattr(hooks.os, "geteuid", lambda: 0)
    log = hooks.ScriptLog(io.StringIO(), datetime.now)

    outcome = hooks.run_script(
        script.parent,
        HookScript("run.sh", 60, "-p", False),
        {"PATH": f"{bin_dir}:/usr/bin:/bin"},
        log,
    )

    assert outcome.ok, outcome.message
    # '-p' after '--' is a user name (su then finds no such user), not su's --preserve-environment.
    assert recorded.read_text().splitlines() == ["-c", str(script), "--", "-p"]


# ---------------------------------------------------------------------------------------------
# ApplicationStop from the last successful revision


def stop_revision(tmp_path: Path, name: str, log: Path, *, fail_in: str | None = None) -> Path:
    """A revision installing app/<name>.txt whose stop script logs its name and what it sees."""
    events = {"ApplicationStop": "stop.sh"}
    scripts = {"stop.sh": f'echo "stop {name} sees $(ls $CI_DEPLOY_ROOT/opt/app)" >> {log}'}
    if fail_in:
        events[fail_in] = "fail.sh"
        scripts["fail.sh"] = "echo broken >&2; exit 1"
    appspec = HEAD + "files:\n  - source: app\n    destination: /opt/app\n" + hooks_yaml(events)
    return write_revision(
        tmp_path / name, appspec, files={f"app/{name}.txt": name}, scripts=scripts
    )


def test_application_stop_runs_the_previous_revision_scripts(tmp_path: Path) -> None:
    log = tmp_path / "stop.log"
    first, _ = deploy(tmp_path, stop_revision(tmp_path, "v1", log), "d-STOP00001")
    assert first.status == "Succeeded"
    assert not log.exists()  # skipped on the group's first deployment
    assert first.events[0].name == "ApplicationStop" and first.events[0].status == "Succeeded"

    deploy(tmp_path, stop_revision(tmp_path, "v2", log), "d-STOP00002")
    deploy(tmp_path, stop_revision(tmp_path, "v3", log), "d-STOP00003")
    # Each stop script is the previous revision's, run while its files are still in place.
    assert log.read_text().splitlines() == ["stop v1 sees v1.txt", "stop v2 sees v2.txt"]
    assert sorted(os.listdir(tmp_path / "root/opt/app")) == ["v3.txt"]


def test_a_revision_failing_before_install_does_not_become_the_previous_one(tmp_path: Path) -> None:
    log = tmp_path / "stop.log"
    deploy(tmp_path, stop_revision(tmp_path, "v1", log), "d-PREV00001")
    failed, _ = deploy(
        tmp_path, stop_revision(tmp_path, "v2", log, fail_in="BeforeInstall"), "d-PREV00002"
    )
    assert failed.status == "Failed"
    assert sorted(os.listdir(tmp_path / "root/opt/app")) == ["v1.txt"]
    failed_late, _ = deploy(
        tmp_path, stop_revision(tmp_path, "v3", log, fail_in="ValidateService"), "d-PREV00003"
    )
    assert failed_late.status == "Failed"
    deploy(tmp_path, stop_revision(tmp_path, "v4", log), "d-PREV00004")
    # v3 installed before failing, so it is the last successful install: its stop runs.
    assert log.read_text().splitlines() == [
        "stop v1 sees v1.txt",
        "stop v1 sees v1.txt",
        "stop v3 sees v3.txt",
    ]


def test_failing_application_stop_fails_unless_ignored(tmp_path: Path) -> None:
    log = tmp_path / "stop.log"
    appspec = HEAD + hooks_yaml({"ApplicationStop": "stop.sh"})
    broken = write_revision(
        tmp_path / "broken", appspec, scripts={"stop.sh": "echo 'no pid file' >&2; exit 1"}
    )
    deploy(tmp_path, broken, "d-IGN000001")
    failed, recorder = deploy(tmp_path, stop_revision(tmp_path, "v2", log), "d-IGN000002")
    assert failed.status == "Failed"
    assert recorder.ended()["ApplicationStop"].diagnostics is not None
    assert [r.status for r in failed.events][1:] == ["Skipped"] * 6
    ignored, recorder = deploy(
        tmp_path,
        stop_revision(tmp_path, "v3", log),
        "d-IGN000003",
        ignore_application_stop_failures=True,
    )
    assert ignored.status == "Succeeded"
    assert any(
        "ApplicationStop of the previous revision failed and was ignored" in w
        for w in recorder.warnings()
    )


# ---------------------------------------------------------------------------------------------
# Install, cleanup and file_exists_behavior


def files_revision(tmp_path: Path, name: str, files: dict[str, str], extra: str = "") -> Path:
    appspec = HEAD + extra + "files:\n  - source: web\n    destination: /srv/web\n"
    return write_revision(tmp_path / name, appspec, files={f"web/{k}": v for k, v in files.items()})


def test_redeploy_removes_files_the_new_revision_no_longer_has(tmp_path: Path) -> None:
    v1 = files_revision(
        tmp_path, "v1", {"index.html": "1", "old/page.html": "old", "kept/a.txt": "a"}
    )
    first, _ = deploy(tmp_path, v1, "d-CLEAN0001")
    web = tmp_path / "root/srv/web"
    assert sorted(first.installed) == sorted(
        str(p)
        for p in [
            tmp_path / "root/srv",
            web,
            web / "index.html",
            web / "kept",
            web / "kept/a.txt",
            web / "old",
            web / "old/page.html",
        ]
    )
    (web / "kept/foreign.log").write_text("written by the app")  # not ours: never deleted

    v2 = files_revision(tmp_path, "v2", {"index.html": "2"})
    second, _ = deploy(tmp_path, v2, "d-CLEAN0002")
    assert second.status == "Succeeded"
    assert (web / "index.html").read_text() == "2"
    assert not (web / "old").exists()
    assert sorted(os.listdir(web / "kept")) == ["foreign.log"]  # its directory stays, not empty


def test_disallow_fails_naming_the_file_and_keeps_the_previous_installation(tmp_path: Path) -> None:
    log = tmp_path / "before.log"
    deploy(
        tmp_path,
        files_revision(tmp_path, "v1", {"index.html": "1", "about.html": "a"}),
        "d-DIS000001",
    )
    web = tmp_path / "root/srv/web"
    (web / "new.html").write_text("someone else's")
    record = (tmp_path / "state/deployment-instructions/group-1-cleanup").read_text()

    extra = hooks_yaml({"BeforeInstall": "before.sh"})
    v2 = files_revision(tmp_path, "v2", {"index.html": "2", "new.html": "mine"}, extra=extra)
    (v2 / "before.sh").write_text(f"#!/bin/sh\necho ran >> {log}\n")
    (v2 / "before.sh").chmod(0o755)
    failed, recorder = deploy(tmp_path, v2, "d-DIS000002")

    assert failed.status == "Failed"
    diagnostics = recorder.ended()["Install"].diagnostics
    assert diagnostics is not None
    assert (
        f"a specified file already exists at this location: {web / 'new.html'}"
        in diagnostics.message
    )
    assert "previous installation was left intact" in diagnostics.message
    assert log.read_text() == "ran\n"  # BeforeInstall had already run, as with the agent
    assert (web / "index.html").read_text() == "1" and (web / "about.html").exists()
    assert (web / "new.html").read_text() == "someone else's"
    assert (tmp_path / "state/deployment-instructions/group-1-cleanup").read_text() == record


def test_overwrite_replaces_a_foreign_file_which_then_becomes_ours(tmp_path: Path) -> None:
    web = tmp_path / "root/srv/web"
    web.mkdir(parents=True)
    (web / "index.html").write_text("foreign")
    result, _ = deploy(
        tmp_path,
        files_revision(tmp_path, "v1", {"index.html": "ours"}),
        "d-OVER00001",
        file_exists_behavior="OVERWRITE",
    )
    assert result.status == "Succeeded"
    assert (web / "index.html").read_text() == "ours"
    deploy(tmp_path, files_revision(tmp_path, "v2", {"other.html": "x"}), "d-OVER00002")
    assert not (web / "index.html").exists()  # taken over, so removed by the next deployment


def test_retain_keeps_a_foreign_file_and_never_takes_it_over(tmp_path: Path) -> None:
    web = tmp_path / "root/srv/web"
    web.mkdir(parents=True)
    (web / "index.html").write_text("foreign")
    result, _ = deploy(
        tmp_path,
        files_revision(tmp_path, "v1", {"index.html": "ours", "a.txt": "a"}),
        "d-RET000001",
        file_exists_behavior="RETAIN",
    )
    assert result.status == "Succeeded"
    assert (web / "index.html").read_text() == "foreign"
    assert str(web / "index.html") not in result.installed
    deploy(
        tmp_path,
        files_revision(tmp_path, "v2", {"b.txt": "b"}),
        "d-RET000002",
        file_exists_behavior="RETAIN",
    )
    assert (web / "index.html").read_text() == "foreign"
    assert not (web / "a.txt").exists()


def test_the_appspec_file_exists_behavior_beats_the_requested_one(tmp_path: Path) -> None:
    web = tmp_path / "root/srv/web"
    web.mkdir(parents=True)
    (web / "index.html").write_text("foreign")
    v1 = files_revision(
        tmp_path, "v1", {"index.html": "ours"}, extra="file_exists_behavior: OVERWRITE\n"
    )
    result, _ = deploy(tmp_path, v1, "d-BEAT00001", file_exists_behavior="DISALLOW")
    assert result.status == "Succeeded"
    assert (web / "index.html").read_text() == "ours"


def test_install_keeps_modes_and_symlinks_and_copies_a_linked_directory(tmp_path: Path) -> None:
    source = files_revision(tmp_path, "v1", {"bin/run": "#!/bin/sh\n", "shared/x.txt": "x"})
    (source / "web/bin/run").chmod(0o750)
    (source / "web/current").symlink_to("bin/run")
    (source / "web/assets").symlink_to("shared")
    result, _ = deploy(tmp_path, source, "d-MODE00001")
    web = tmp_path / "root/srv/web"
    assert result.status == "Succeeded"
    assert stat.S_IMODE((web / "bin/run").stat().st_mode) == 0o750
    assert (web / "current").is_symlink() and os.readlink(web / "current") == "bin/run"
    assert (web / "assets").is_dir() and not (web / "assets").is_symlink()
    assert (web / "assets/x.txt").read_text() == "x"


def test_a_file_source_goes_into_the_destination_directory(tmp_path: Path) -> None:
    appspec = HEAD + "files:\n  - source: conf/app.ini\n    destination: /etc/app\n"
    source = write_revision(tmp_path / "rev", appspec, files={"conf/app.ini": "a=1"})
    result, _ = deploy(tmp_path, source, "d-FILE00001")
    assert result.status == "Succeeded"
    assert (tmp_path / "root/etc/app/app.ini").read_text() == "a=1"


def test_permissions_apply_only_to_what_this_deployment_installed(tmp_path: Path) -> None:
    appspec = (
        HEAD
        + "files:\n  - source: web\n    destination: /srv/web\n"
        + "permissions:\n"
        + "  - object: /srv/web\n    pattern: '*.html'\n    type: [file]\n    mode: '600'\n"
        + "  - object: /srv/web/sub\n    pattern: '**'\n    type: [file]\n    mode: '600'\n"
        + "  - object: /srv/web/bin\n    pattern: '*.sh'\n    except: [skip.sh]\n    mode: '755'\n"
    )
    source = write_revision(
        tmp_path / "rev",
        appspec,
        files={
            "web/index.html": "i",
            "web/sub/deep.txt": "d",
            "web/sub/x/deeper.txt": "d",
            "web/bin/a.sh": "",
            "web/bin/skip.sh": "",
            "web/bin/tool/b.sh": "",
        },
    )
    web = tmp_path / "root/srv/web"
    web.mkdir(parents=True)
    web.chmod(0o711)
    (web / "foreign.txt").write_text("f")
    (web / "foreign.txt").chmod(0o644)
    (web / "foreign.html").write_text("f")
    (web / "foreign.html").chmod(0o644)
    result, _ = deploy(tmp_path, source, "d-PERM00001")
    assert result.status == "Succeeded", result.error_message

    def mode(relative: str) -> int:
        return stat.S_IMODE((web / relative).stat().st_mode)

    as_copied = stat.S_IMODE((source / "web/bin/skip.sh").stat().st_mode)
    assert as_copied not in (0o600, 0o755)
    assert mode("index.html") == 0o600
    assert mode("sub/deep.txt") == mode("sub/x/deeper.txt") == 0o600  # '**': every descendant
    assert mode("bin/a.sh") == 0o755  # other patterns: immediate children only
    assert mode("bin/skip.sh") == mode("bin/tool/b.sh") == as_copied
    assert mode("foreign.txt") == mode("foreign.html") == 0o644  # not installed by this deployment
    assert mode(".") == 0o711  # the object's own mode is not changed


def test_one_object_with_disjoint_types_gets_both_entries(tmp_path: Path) -> None:
    """The agent applies both: the entries never reach the same path."""
    appspec = (
        HEAD
        + "files:\n  - source: web\n    destination: /srv/web\n"
        + "permissions:\n"
        + "  - object: /srv/web\n    type: [directory]\n    mode: '750'\n"
        + "  - object: /srv/web\n    type: [file]\n    mode: '640'\n"
    )
    source = write_revision(
        tmp_path / "rev", appspec, files={"web/index.html": "i", "web/sub/deep.txt": "d"}
    )
    result, recorder = deploy(tmp_path, source, "d-PERM00002")
    assert result.status == "Succeeded", result.error_message
    web = tmp_path / "root/srv/web"
    assert stat.S_IMODE((web / "sub").stat().st_mode) == 0o750
    assert stat.S_IMODE((web / "index.html").stat().st_mode) == 0o640
    assert stat.S_IMODE((web / "sub/deep.txt").stat().st_mode) == 0o640
    assert recorder.warnings() == []


def test_two_entries_reaching_one_path_fail_install_in_the_agent_s_words(tmp_path: Path) -> None:
    """Agent 1.8.1 fails the Install, before copying anything, when a path gets permissions from
    two entries: here '**' of /srv/web and the entry of /srv/web/sub (install_instruction.rb,
    set_permissions). The previous revision stays installed."""
    files = {"web/index.html": "i", "web/sub/a.txt": "a"}
    plain = HEAD + "files:\n  - source: web\n    destination: /srv/web\n"
    first, _ = deploy(tmp_path, write_revision(tmp_path / "rev1", plain, files), "d-PERM00003")
    assert first.status == "Succeeded", first.error_message
    appspec = (
        plain
        + "permissions:\n"
        + "  - object: /srv/web\n    type: [file]\n    mode: '644'\n"
        + "  - object: /srv/web/sub\n    type: [file]\n    mode: '600'\n"
    )
    files = {"web/index.html": "i2", "web/sub/a.txt": "a2"}
    source = write_revision(tmp_path / "rev2", appspec, files)
    result, recorder = deploy(tmp_path, source, "d-PERM00004")

    assert result.status == "Failed"
    install = recorder.ended()["Install"]
    assert install.status == "Failed"
    path = tmp_path / "root/srv/web/sub/a.txt"
    agent = (
        f"The deployment failed because the permissions setting for ({path}) is specified more "
        "than once in the application specification file. Update the files section of the "
        "AppSpec file, and then try again."
    )
    assert install.diagnostics is not None
    assert agent in install.diagnostics.message
    assert "permissions[0] and permissions[1] both reach it" in install.diagnostics.message
    assert [r.status for r in result.events][4:] == ["Skipped"] * 3
    # Found before anything changed: the first revision's files are still there.
    assert path.read_text() == "a"
    assert (tmp_path / "root/srv/web/index.html").read_text() == "i"
    # The validator's finding, naming both lines, is shown as a warning first.
    (warning,) = recorder.warnings()
    assert "appspec.yml:10:13: permissions-nested-object" in warning
    assert "from this entry (line 10) and from the entry at line 7" in warning


def test_an_empty_type_list_reaches_nothing(tmp_path: Path) -> None:
    """The agent reads `type: []` as it is (`opts[:type] || both`), not as both types."""
    appspec = (
        HEAD
        + "files:\n  - source: web\n    destination: /srv/web\n"
        + "permissions:\n  - object: /srv/web\n    type: []\n    mode: '600'\n"
    )
    source = write_revision(tmp_path / "rev", appspec, files={"web/index.html": "i"})
    result, _ = deploy(tmp_path, source, "d-PERM00005")
    assert result.status == "Succeeded", result.error_message
    installed = tmp_path / "root/srv/web/index.html"
    assert stat.S_IMODE(installed.stat().st_mode) == stat.S_IMODE(
        (source / "web/index.html").stat().st_mode
    )


def test_acls_are_applied_with_setfacl(tmp_path: Path) -> None:
    appspec = (
        HEAD
        + "files:\n  - source: web\n    destination: /srv/web\n"
        + "permissions:\n  - object: /srv/web\n    type: [file]\n    acls:\n      - 'u:nobody:r'\n"
    )
    source = write_revision(tmp_path / "rev", appspec, files={"web/index.html": "i"})
    result, recorder = deploy(tmp_path, source, "d-ACL000001")
    assert result.status == "Succeeded", result.error_message
    shown = subprocess.run(
        ["getfacl", "-c", str(tmp_path / "root/srv/web/index.html")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "user:nobody:r--" in shown.stdout
    assert recorder.warnings() == []


# ---------------------------------------------------------------------------------------------
# Safety and bad revisions


def test_an_invalid_appspec_fails_download_bundle_with_line_and_column(tmp_path: Path) -> None:
    log = tmp_path / "ran"
    source = write_revision(
        tmp_path / "rev",
        'version: "0.0"\nos: linux\n' + hooks_yaml({"BeforeInstall": "b.sh"}),
        scripts={"b.sh": f"touch {log}"},
    )
    result, recorder = deploy(tmp_path, source, "d-BAD000001")
    assert result.status == "Failed"
    diagnostics = recorder.ended()["DownloadBundle"].diagnostics
    assert diagnostics is not None
    assert "appspec.yml:1:10: version-quoted" in diagnostics.message
    assert not log.exists()


def test_a_destination_escaping_the_root_is_rejected(tmp_path: Path) -> None:
    appspec = HEAD + "files:\n  - source: web\n    destination: /srv/../../outside\n"
    source = write_revision(tmp_path / "rev", appspec, files={"web/a.txt": "a"})
    result, _ = deploy(tmp_path, source, "d-ESC000001")
    assert result.status == "Failed"
    assert not (tmp_path / "outside").exists()
    assert "'..'" in str(result.error_message)


def test_a_symlink_in_the_root_leading_out_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "root/srv").mkdir(parents=True)
    (tmp_path / "root/srv/web").symlink_to(outside)
    result, _ = deploy(tmp_path, files_revision(tmp_path, "v1", {"a.txt": "a"}), "d-ESC000002")
    assert result.status == "Failed"
    assert "outside the install root" in str(result.error_message)
    assert os.listdir(outside) == []


def test_a_symlink_in_a_revision_directory_pointing_out_is_rejected(tmp_path: Path) -> None:
    source = files_revision(tmp_path, "v1", {"a.txt": "a"})
    (source / "web/passwd").symlink_to("/etc/passwd")
    result, recorder = deploy(tmp_path, source, "d-ESC000003")
    assert result.status == "Failed"
    diagnostics = recorder.ended()["DownloadBundle"].diagnostics
    assert diagnostics is not None and "web/passwd" in diagnostics.message
    assert "points to absolute path" in diagnostics.message


def test_a_missing_source_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        deploy(tmp_path, tmp_path / "nope", "d-MISS00001")


def test_no_root_means_the_real_root(tmp_path: Path) -> None:
    # root=None installs into / (the CLI guards this with --allow-system-paths); a revision
    # without files still runs its hooks.
    marker = tmp_path / "ran"
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"AfterInstall": "a.sh"}),
        scripts={"a.sh": f'echo "$CI_DEPLOY_ROOT" > {marker}'},
    )
    result, _ = deploy(tmp_path, source, "d-ROOT00001", root=None)
    assert result.status == "Succeeded"
    assert marker.read_text() == "/\n"


# ---------------------------------------------------------------------------------------------
# State


def test_keeps_the_last_revisions_and_never_the_last_successful_one(tmp_path: Path) -> None:
    good = files_revision(tmp_path, "good", {"a.txt": "a"})
    bad = write_revision(
        tmp_path / "bad", HEAD + hooks_yaml({"BeforeInstall": "f.sh"}), scripts={"f.sh": "exit 1"}
    )
    deploy(tmp_path, good, "d-KEEP00001", keep_revisions=2)
    deploy(tmp_path, good, "d-KEEP00002", keep_revisions=2)
    for number in (3, 4, 5):
        deploy(tmp_path, bad, f"d-KEEP0000{number}", keep_revisions=2)
    kept = sorted(os.listdir(tmp_path / "state/group-1"))
    assert kept == ["d-KEEP00002", "d-KEEP00004", "d-KEEP00005"]


def test_a_deployment_id_is_used_once(tmp_path: Path) -> None:
    source = write_revision(tmp_path / "rev", HEAD)
    deploy(tmp_path, source, "d-ONCE00001")
    with pytest.raises(InputError, match="already deployed"):
        deploy(tmp_path, source, "d-ONCE00001")


def test_a_failure_during_copy_says_what_was_installed_and_keeps_it_recorded(
    tmp_path: Path,
) -> None:
    first, _ = deploy(tmp_path, files_revision(tmp_path, "v1", {"x/inner.txt": "i"}), "d-MID000001")
    web = tmp_path / "root/srv/web"
    (web / "x/foreign.txt").write_text("keeps x a non-empty directory")
    v2 = files_revision(tmp_path, "v2", {"a.txt": "a", "x": "now a file"})
    failed, recorder = deploy(tmp_path, v2, "d-MID000002")

    assert failed.status == "Failed"
    diagnostics = recorder.ended()["Install"].diagnostics
    assert diagnostics is not None
    assert f"cannot install {web / 'x'}: Is a directory" in diagnostics.message
    assert "path(s) were installed before the failure" in diagnostics.message
    assert str(web / "a.txt") in failed.installed
    record = (tmp_path / "state/deployment-instructions/group-1-cleanup").read_text()
    for path in [*first.installed, *failed.installed]:
        assert f'"{path}"' in record
    # The next good revision cleans up both: v1's leftovers and v2's partial install.
    (web / "x/foreign.txt").unlink()
    third, _ = deploy(tmp_path, files_revision(tmp_path, "v3", {"b.txt": "b"}), "d-MID000003")
    assert third.status == "Succeeded"
    assert sorted(os.listdir(web)) == ["b.txt"]


def test_source_slash_installs_everything_including_the_appspec(tmp_path: Path) -> None:
    appspec = HEAD + "files:\n  - source: /\n    destination: /srv/all\n"
    source = write_revision(tmp_path / "rev", appspec, files={"a/b.txt": "b"})
    result, _ = deploy(tmp_path, source, "d-SLASH0001")
    assert result.status == "Succeeded"
    assert sorted(os.listdir(tmp_path / "root/srv/all")) == ["a", "appspec.yml"]


def test_owner_and_group_unknown_here_are_warnings(tmp_path: Path) -> None:
    appspec = (
        HEAD
        + "files:\n  - source: web\n    destination: /srv/web\n"
        + "permissions:\n  - object: /srv/web\n    owner: no-such-user-here\n"
        + "    group: no-such-group-here\n    mode: '640'\n    type: [file]\n"
    )
    source = write_revision(tmp_path / "rev", appspec, files={"web/index.html": "i"})
    result, recorder = deploy(tmp_path, source, "d-OWNER0001")
    assert result.status == "Succeeded"
    assert stat.S_IMODE((tmp_path / "root/srv/web/index.html").stat().st_mode) == 0o640
    warnings = recorder.warnings()
    assert any("owner 'no-such-user-here' does not exist on this host" in w for w in warnings)
    assert any("group 'no-such-group-here' does not exist on this host" in w for w in warnings)


def test_block_traffic_hooks_come_from_the_previous_revision(tmp_path: Path) -> None:
    log = tmp_path / "block.log"

    def revision(name: str) -> Path:
        events = {"BeforeBlockTraffic": "block.sh", "AfterBlockTraffic": "block.sh"}
        body = f'echo "$LIFECYCLE_EVENT from {name}" >> {log}'
        return write_revision(
            tmp_path / name, HEAD + hooks_yaml(events), scripts={"block.sh": body}
        )

    asked = ("BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop")
    first, _ = deploy(tmp_path, revision("v1"), "d-BLOCK0001", events=asked)
    assert [r.name for r in first.events] == [*asked, "DownloadBundle", "Install"]
    assert not log.exists()  # nothing to block on a first deployment
    deploy(tmp_path, revision("v2"), "d-BLOCK0002", events=asked)
    assert log.read_text().splitlines() == [
        "BeforeBlockTraffic from v1",
        "AfterBlockTraffic from v1",
    ]


def test_block_traffic_events_alone_run_the_installed_revision_without_reinstalling(
    tmp_path: Path,
) -> None:
    """What the service asks of a blue/green deployment's original instances."""
    log = tmp_path / "block.log"
    events = {"BeforeBlockTraffic": "block.sh", "AfterBlockTraffic": "block.sh"}
    installed = write_revision(
        tmp_path / "v1",
        HEAD + "files:\n  - source: app.txt\n    destination: /srv/app\n" + hooks_yaml(events),
        files={"app.txt": "v1"},
        scripts={"block.sh": f'echo "$LIFECYCLE_EVENT $DEPLOYMENT_ID" >> {log}'},
    )
    assert deploy(tmp_path, installed, "d-BLUE00001")[0].status == "Succeeded"
    block = ("BeforeBlockTraffic", "AfterBlockTraffic")
    result, recorder = deploy(tmp_path, tmp_path / "not-needed", "d-BLUE00002", events=block)
    assert result.status == "Succeeded"
    assert [r.name for r in result.events] == list(block)
    assert list(recorder.ended()) == list(block)
    assert log.read_text().splitlines() == [
        "BeforeBlockTraffic d-BLUE00002",
        "AfterBlockTraffic d-BLUE00002",
    ]
    assert (tmp_path / "root/srv/app/app.txt").read_text() == "v1"
    assert result.installed == ()
    # The installed revision stays the one the next deployment's ApplicationStop runs from.
    again, _ = deploy(tmp_path, tmp_path / "not-needed", "d-BLUE00003", events=block)
    assert again.status == "Succeeded"
    assert log.read_text().count("BeforeBlockTraffic") == 2


def test_a_missing_source_is_still_refused_when_the_events_download_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"input source: .* does not exist"):
        deploy(
            tmp_path,
            tmp_path / "gone",
            "d-GONE00001",
            events=("BeforeBlockTraffic", "ApplicationStop"),
        )


def test_a_script_does_not_start_once_the_deployment_is_stopped(tmp_path: Path) -> None:
    """Cancelled while the event was starting (e.g. held by the caller): its script never runs."""
    ran = tmp_path / "ran"
    source = write_revision(
        tmp_path / "rev",
        HEAD + hooks_yaml({"AfterInstall": "after.sh"}),
        scripts={"after.sh": f"touch {ran}"},
    )
    cancel = threading.Event()

    def stop_when_after_install_starts(event: Event) -> None:
        if isinstance(event, LifecycleEventStarted) and event.event_name == "AfterInstall":
            cancel.set()

    result, recorder = deploy(
        tmp_path, source, "d-CANCEL001", cancel=cancel, on_event=stop_when_after_install_starts
    )
    assert result.status == "Stopped"
    assert not ran.exists()
    after = recorder.ended()["AfterInstall"]
    assert after.status == "Failed"
    assert after.diagnostics is not None
    assert after.diagnostics.message == "the deployment was stopped before after.sh started"
    assert recorder.ended()["ApplicationStart"].status == "Skipped"


def test_acls_without_setfacl_on_the_host_are_a_clear_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    appspec = (
        HEAD
        + "files:\n  - source: web\n    destination: /srv/web\n"
        + "permissions:\n  - object: /srv/web\n    type: [file]\n    acls:\n      - 'u:nobody:r'\n"
    )
    source = write_revision(tmp_path / "rev", appspec, files={"web/index.html": "i"})
    no_tools = tmp_path / "empty-bin"
    no_tools.mkdir()
    monkeypatch.setenv("PATH", str(no_tools))  # a host without the acl package

    result, recorder = deploy(tmp_path, source, "d-ACL000002", base_env={"PATH": str(no_tools)})

    assert result.status == "Succeeded", result.error_message
    assert (tmp_path / "root/srv/web/index.html").read_text() == "i"
    assert recorder.warnings() == [
        "permissions[0]: acls not applied: setfacl is not installed (package acl)"
    ]


def test_install_onto_another_file_system_copies_bytes_mode_and_times(tmp_path: Path) -> None:
    """A root on tmpfs while the revision is on disk: copy_file_range gives EXDEV there, so the
    copy goes on with sendfile and must still produce the same file."""
    shm = Path("/dev/shm")
    other_fs = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path))
    try:
        body = os.urandom(3 << 20)
        source = files_revision(tmp_path, "rev", {"bin/tool": ""})
        (source / "web/bin/tool").write_bytes(body)
        (source / "web/bin/tool").chmod(0o751)
        os.utime(source / "web/bin/tool", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))

        result, _ = deploy(tmp_path, source, "d-XFS000001", root=other_fs)

        assert result.status == "Succeeded", result.error_message
        installed = other_fs / "srv/web/bin/tool"
        assert installed.read_bytes() == body
        assert stat.S_IMODE(installed.stat().st_mode) == 0o751
        assert installed.stat().st_mtime_ns == 1_600_000_000_000_000_000
    finally:
        shutil.rmtree(other_fs)


def test_a_missing_hook_script_fails_download_bundle_locally_but_its_own_event_as_the_agent(
    tmp_path: Path,
) -> None:
    appspec = HEAD + hooks_yaml({"BeforeInstall": "before.sh", "AfterInstall": "gone.sh"})
    source = write_revision(tmp_path / "rev", appspec, scripts={"before.sh": "echo before"})

    local, _ = deploy(tmp_path, source, "d-MISSING01")
    assert [r.status for r in local.events][:3] == ["Succeeded", "Failed", "Skipped"]
    assert local.error_message is not None and "hook-script-not-found" in local.error_message

    agent, recorder = deploy(tmp_path, source, "d-MISSING02", agent_diagnostics=True)
    ended = recorder.ended()
    assert [ended[name].status for name in ("DownloadBundle", "BeforeInstall", "Install")] == [
        "Succeeded"
    ] * 3
    assert ended["BeforeInstall"].diagnostics == Diagnostics("Success", "", "Succeeded", "")
    archive = tmp_path / "state" / "group-1" / "d-MISSING02" / "deployment-archive"
    assert ended["AfterInstall"].diagnostics == Diagnostics(
        "ScriptMissing",
        "gone.sh",
        f"Script does not exist at specified location: {archive.absolute() / 'gone.sh'}",
        "LifecycleEvent - AfterInstall\n",
    )
    assert agent.status == "Failed"
