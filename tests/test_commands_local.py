"""`ci-deploy local` end to end: the examples, exit codes, JSON, S3 sources, interruption."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import tarfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from ci_deploy import cli
from ci_deploy.appspec import validate_path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_local(args: list[str], streams: object, env: dict[str, str] | None = None) -> int:
    environment = {"PATH": os.environ["PATH"], **(env or {})}
    return cli.run(["local", *args], environment, streams)  # type: ignore[arg-type]


def test_the_web_app_example_deploys_under_root(tmp_path: Path, streams: object) -> None:
    root = tmp_path / "demo-root"
    args = [str(EXAMPLES / "web-app"), "--root", str(root), "--state-dir", str(tmp_path / "s")]
    assert run_local(args, streams) == 0
    err = streams.err  # type: ignore[attr-defined]
    assert "  localhost: ValidateService Succeeded" in err
    assert "deployment d-" in err and ": Succeeded" in err
    assert streams.out == ""  # type: ignore[attr-defined]
    assert "web-app is deployed" in (root / "var/www/web-app/index.html").read_text()
    assert (root / "etc/web-app/web-app.conf").stat().st_mode & 0o777 == 0o640
    assert "healthy" in (root / "var/log/web-app/hooks.log").read_text()

    # The second deployment runs the first one's stop script, then validates itself.
    assert run_local(args, streams) == 0
    hooks_log = (root / "var/log/web-app/hooks.log").read_text()
    assert "ApplicationStop" in hooks_log and "stopping d-" in hooks_log


def test_the_failing_example_exits_1_with_its_stderr_in_the_log_tail(
    tmp_path: Path, streams: object
) -> None:
    args = [
        str(EXAMPLES / "failing-hook"),
        "--root",
        str(tmp_path / "r"),
        "--state-dir",
        str(tmp_path / "s"),
        "--json",
        "--application",
        "shop",
        "--deployment-group",
        "staging",
    ]
    assert run_local(args, streams) == 1
    err = streams.err  # type: ignore[attr-defined]
    assert "    | [stderr]health check failed: expected HTTP 200 from /health, got 503" in err
    assert "ci-deploy: error: deployment d-" in err
    result = json.loads(streams.out)  # type: ignore[attr-defined]
    assert result["status"] == "Failed"
    assert result["application"] == "shop" and result["deployment_group"] == "staging"
    validate = result["events"][-1]
    assert validate["name"] == "ValidateService" and validate["status"] == "Failed"
    assert validate["diagnostics"]["error_code"] == "ScriptFailed"
    assert validate["diagnostics"]["script_name"] == "scripts/validate.sh"
    assert result["installed"] == [
        str(tmp_path / "r/var"),
        str(tmp_path / "r/var/www"),
        str(tmp_path / "r/var/www/failing-app"),
        str(tmp_path / "r/var/www/failing-app/index.html"),
    ]
    assert Path(result["log_path"]).read_text().count("[stderr]health check failed") == 1


def test_without_root_it_refuses_to_install_into_slash(tmp_path: Path, streams: object) -> None:
    code = run_local([str(EXAMPLES / "web-app"), "--state-dir", str(tmp_path)], streams)
    assert code == 2
    err = streams.err  # type: ignore[attr-defined]
    assert "ci-deploy: error: input root:" in err
    assert "--allow-system-paths" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "ValidateService,BeforeInstall"], "not in lifecycle order"),
        (["--events", "Deploy"], "input events: expected lifecycle event names"),
        (["--file-exists-behavior", "KEEP"], "input file_exists_behavior"),
        (["--keep-revisions", "0"], "input keep_revisions"),
    ],
)
def test_bad_inputs_exit_2_naming_the_input(
    tmp_path: Path, streams: object, args: list[str], message: str
) -> None:
    base = [str(EXAMPLES / "web-app"), "--root", str(tmp_path / "r"), "--state-dir", str(tmp_path)]
    assert run_local([*base, *args], streams) == 2
    assert message in streams.err  # type: ignore[attr-defined]


def test_a_missing_source_exits_2(tmp_path: Path, streams: object) -> None:
    assert run_local([str(tmp_path / "nope"), "--root", str(tmp_path / "r")], streams) == 2
    assert "input source:" in streams.err  # type: ignore[attr-defined]


def test_the_state_dir_defaults_under_the_users_state_home(tmp_path: Path, streams: object) -> None:
    args = [str(EXAMPLES / "failing-hook"), "--root", str(tmp_path / "r"), "--json"]
    run_local(args, streams, {"XDG_STATE_HOME": str(tmp_path / "xdg")})
    log_path = json.loads(streams.out)["log_path"]  # type: ignore[attr-defined]
    assert log_path.startswith(str(tmp_path / "xdg/ci-deploy/local/"))


def test_an_s3_source_is_downloaded_and_its_bundle_variables_reach_hooks(
    tmp_path: Path, streams: object, moto_endpoint: str, aws_env: dict[str, str]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "appspec.yml",
            "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: env.sh\n",
        )
        info = zipfile.ZipInfo("env.sh")
        info.external_attr = 0o100755 << 16
        archive.writestr(
            info,
            '#!/bin/sh\necho "$BUNDLE_BUCKET $BUNDLE_KEY $BUNDLE_VERSION '
            '$BUNDLE_ETAG" > "$CI_DEPLOY_ROOT/bundle.txt"\n',
        )
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="local-s3-source")
    s3.put_bucket_versioning(
        Bucket="local-s3-source", VersioningConfiguration={"Status": "Enabled"}
    )
    put = s3.put_object(Bucket="local-s3-source", Key="rev/app.zip", Body=buffer.getvalue())
    s3.put_object(Bucket="local-s3-source", Key="rev/app.zip", Body=b"a newer, broken object")
    version, etag = put["VersionId"], put["ETag"].strip('"')

    url = f"s3://local-s3-source/rev/app.zip?versionId={version}"
    args = [
        url,
        "--root",
        str(tmp_path / "r"),
        "--state-dir",
        str(tmp_path / "s"),
        "--endpoint-url",
        moto_endpoint,
    ]
    assert run_local(args, streams, aws_env) == 0, streams.err  # type: ignore[attr-defined]
    assert (tmp_path / "r/bundle.txt").read_text().split() == [
        "local-s3-source",
        "rev/app.zip",
        version,
        etag,
    ]


def _env_dumping_revision(directory: Path) -> Path:
    directory.mkdir()
    (directory / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: dump.sh\n"
    )
    script = directory / "dump.sh"
    script.write_text('#!/bin/sh\nenv -0 > "$CI_DEPLOY_ROOT/env.bin"\n')
    script.chmod(0o755)
    return directory


def _hook_env(root: Path) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in (root / "env.bin").read_text().split("\0") if item)
    return dict(pairs)  # type: ignore[arg-type]


def test_hooks_get_the_agents_environment_not_the_jobs_secrets(
    tmp_path: Path, streams: object
) -> None:
    """Like on an instance, a hook sees the lifecycle variables and the process basics (PATH,
    HOME, LANG...), not every secret of the CI job; --hook-env NAME passes one through."""
    source = _env_dumping_revision(tmp_path / "rev")
    job = {
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "CI_DEPLOY_GITHUB_TOKEN": "ghs_fake_job_token",
        "AWS_SECRET_ACCESS_KEY": "fake-aws-secret",
        "DATABASE_URL": "postgres://fake-secret@db/app",
        "FEATURE_FLAG": "on",
    }
    args = [str(source), "--root", str(tmp_path / "r1"), "--state-dir", str(tmp_path / "s")]
    assert run_local(args, streams, job) == 0, streams.err  # type: ignore[attr-defined]
    seen = _hook_env(tmp_path / "r1")
    for secret in ("CI_DEPLOY_GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"):
        assert secret not in seen
    assert "FEATURE_FLAG" not in seen
    assert seen["PATH"] == os.environ["PATH"]
    assert seen["HOME"] == str(tmp_path) and seen["LANG"] == "C.UTF-8"
    assert seen["LIFECYCLE_EVENT"] == "AfterInstall"
    assert seen["DEPLOYMENT_ID"].startswith("d-")
    assert {"APPLICATION_NAME", "DEPLOYMENT_GROUP_NAME", "DEPLOYMENT_GROUP_ID"} <= set(seen)

    # Asked for by name, on the command line or comma-separated in the environment.
    args[2] = str(tmp_path / "r2")
    assert run_local([*args, "--hook-env", "DATABASE_URL"], streams, job) == 0
    seen = _hook_env(tmp_path / "r2")
    assert seen["DATABASE_URL"] == "postgres://fake-secret@db/app"
    assert "CI_DEPLOY_GITHUB_TOKEN" not in seen and "FEATURE_FLAG" not in seen
    args[2] = str(tmp_path / "r3")
    job_with_list = {**job, "CI_DEPLOY_HOOK_ENV": "FEATURE_FLAG, DATABASE_URL"}
    assert run_local(args, streams, job_with_list) == 0
    seen = _hook_env(tmp_path / "r3")
    assert seen["FEATURE_FLAG"] == "on" and seen["DATABASE_URL"].startswith("postgres://")
    assert "CI_DEPLOY_HOOK_ENV" not in seen and "AWS_SECRET_ACCESS_KEY" not in seen


def test_hook_env_takes_names_and_warns_about_unset_ones(tmp_path: Path, streams: object) -> None:
    source = _env_dumping_revision(tmp_path / "rev")
    base = [str(source), "--root", str(tmp_path / "r"), "--state-dir", str(tmp_path / "s")]
    assert run_local([*base, "--hook-env", "TOKEN=abc"], streams) == 2
    err = streams.err  # type: ignore[attr-defined]
    assert "ci-deploy: error: input hook_env: expected variable names" in err
    assert "deploying" not in err and not list((tmp_path / "r").rglob("*"))
    assert run_local([*base, "--hook-env", "NOT_SET_ANYWHERE"], streams) == 0
    assert "warning: hook_env: NOT_SET_ANYWHERE is not set here" in streams.err  # type: ignore[attr-defined]
    assert "NOT_SET_ANYWHERE" not in _hook_env(tmp_path / "r")


def test_a_missing_s3_object_is_an_aws_error(
    tmp_path: Path, streams: object, moto_endpoint: str, aws_env: dict[str, str]
) -> None:
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket="local-s3-missing"
    )
    args = [
        "s3://local-s3-missing/none.zip",
        "--root",
        str(tmp_path / "r"),
        "--endpoint-url",
        moto_endpoint,
    ]
    assert run_local(args, streams, aws_env) == 3
    assert "GetObject s3://local-s3-missing/none.zip: NoSuchKey" in streams.err  # type: ignore[attr-defined]


def test_sigterm_stops_the_deployment_and_kills_the_running_hook(tmp_path: Path) -> None:
    revision = tmp_path / "rev"
    (revision / "scripts").mkdir(parents=True)
    (revision / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: scripts/wait.sh\n"
    )
    pid_file = tmp_path / "hook.pid"
    script = revision / "scripts/wait.sh"
    script.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nsleep 30\n")
    script.chmod(0o755)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ci_deploy",
            "local",
            str(revision),
            "--root",
            str(tmp_path / "r"),
            "--state-dir",
            str(tmp_path / "s"),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    result = json.loads(out)  # the machine-readable result is still printed
    assert result["status"] == "Stopped"
    assert [event["status"] for event in result["events"]][2:4] == ["Failed", "Skipped"]
    assert "  localhost: BeforeInstall Failed" in err
    assert "was stopped because the deployment was stopped" in err
    assert "  localhost: ValidateService Skipped" in err
    assert "ci-deploy: error: deployment d-" in err and "stopped: interrupted" in err
    hook = int(pid_file.read_text())
    assert (
        not Path(f"/proc/{hook}").exists()
        or "Z" in Path(f"/proc/{hook}/stat").read_text().rsplit(")", 1)[1].split()[0]
    )


@pytest.mark.parametrize("example", ["web-app", "failing-hook"])
def test_the_examples_are_clean_appspecs_with_clean_scripts(example: str) -> None:
    result = validate_path(EXAMPLES / example, "server")
    assert result.diagnostics == []
    scripts = sorted(str(path) for path in (EXAMPLES / example / "scripts").glob("*.sh"))
    for script in scripts:
        if not script.endswith("common.sh"):  # sourced, not run
            assert os.access(script, os.X_OK), script
    checked = subprocess.run(
        ["shellcheck", "-x", *scripts], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_a_bundle_built_by_ci_deploy_bundle_deploys(
    tmp_path: Path, streams: object, kind: str
) -> None:
    bundle = tmp_path / f"web-app.{kind}"
    built = cli.run(
        ["bundle", str(EXAMPLES / "web-app"), "--output", str(bundle)],
        {"PATH": os.environ["PATH"]},
        streams,  # type: ignore[arg-type]
    )
    assert built == 0
    args = [str(bundle), "--root", str(tmp_path / "r"), "--state-dir", str(tmp_path / "s")]
    assert run_local(args, streams) == 0, streams.err  # type: ignore[attr-defined]
    assert "healthy" in (tmp_path / "r/var/log/web-app/hooks.log").read_text()


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (
            ["--events", "Deploy"],
            "ci-deploy: error: input events: expected lifecycle event names from",
        ),
        (
            ["--appspec-filename", "../appspec.yml"],
            "ci-deploy: error: input appspec_filename: expected a file name at the revision root "
            "such as appspec.yml, got '../appspec.yml'",
        ),
        (
            ["--state-dir", "{tmp}/state file"],
            "ci-deploy: error: input state_dir: {tmp}/state file exists and is not a directory",
        ),
    ],
)
def test_bad_input_fails_before_anything_is_announced_or_installed(
    tmp_path: Path, streams: object, args: list[str], first_line: str
) -> None:
    (tmp_path / "state file").write_text("not a directory\n")
    root = tmp_path / "r"
    base = [str(EXAMPLES / "web-app"), "--root", str(root), "--state-dir", str(tmp_path / "s")]
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]

    assert run_local([*base, *args], streams) == 2

    lines = streams.err.splitlines()  # type: ignore[attr-defined]
    assert lines[0].startswith(first_line.replace("{tmp}", str(tmp_path)))
    assert "deploying" not in streams.err  # type: ignore[attr-defined]
    assert list(root.rglob("*")) == []


def test_a_real_local_process_never_imports_boto3(tmp_path: Path, cli_without_aws: Any) -> None:
    """Only an s3:// source needs AWS; a directory rehearsal skips boto3's 0.25 s import."""
    done, imported_aws = cli_without_aws(
        [
            "local",
            str(EXAMPLES / "web-app"),
            "--root",
            str(tmp_path / "root"),
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "root/var/www/web-app/index.html").is_file()
    assert not imported_aws


# -- untrusted bundles: links, modes, size ------------------------------------------------

BUNDLE_APPSPEC = b"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app\n"
# HOME/.local/state/ci-deploy/local/<group-id>/<deployment-id>/bundle-unpacking: 8 levels
# below tmp_path, where the sentinel directory is.
UNPACK_DEPTH = 8


def bundle(path: Path, fmt: str, entries: list[tuple[str, bytes, int, str | None]]) -> Path:
    """(name, content, mode, symlink target or None) in order, as a zip, tar or tgz."""
    if fmt == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name": on purpose
            for name, content, mode, target in entries:
                info = zipfile.ZipInfo(name)
                kind = stat.S_IFLNK if target is not None else stat.S_IFREG
                info.external_attr = (kind | mode) << 16
                archive.writestr(info, target.encode() if target is not None else content)
        return path
    with tarfile.open(path, "w:gz" if fmt == "tgz" else "w") as archive:
        for name, content, mode, target in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if target is not None:
                info.type, info.linkname = tarfile.SYMTYPE, target
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return path


@pytest.mark.parametrize("depth", [0, 2])
@pytest.mark.parametrize("fmt", ["zip", "tar", "tgz"])
def test_a_chain_of_links_cannot_write_outside_the_default_state_dir(
    tmp_path: Path, streams: object, fmt: str, depth: int
) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep.txt").write_bytes(b"keep")
    base = "".join(f"d{level}/" for level in range(depth))
    climb = depth + UNPACK_DEPTH
    source = bundle(
        tmp_path / f"chain.{fmt}",
        fmt,
        [
            ("appspec.yml", BUNDLE_APPSPEC, 0o644, None),
            ("app/index.html", b"hi", 0o644, None),
            (base + "a0", b"", 0o777, "."),
            (base + "esc", b"", 0o777, "a0/" * climb + "../" * climb + "sentinel/keep.txt"),
            (base + "esc", b"pwned", 0o644, None),
        ],
    )
    home = tmp_path / "home"
    args = [str(source), "--root", str(tmp_path / "root")]
    assert run_local(args, streams, {"HOME": str(home)}) == 1
    assert (sentinel / "keep.txt").read_bytes() == b"keep"
    assert os.listdir(sentinel) == ["keep.txt"]
    assert f"member '{base}esc' appears twice" in streams.err  # type: ignore[attr-defined]
    assert list(home.rglob("bundle-unpacking")) == []
    assert list(home.rglob("deployment-archive")) == []


def test_a_setuid_file_is_installed_without_it_and_the_output_warns(
    tmp_path: Path, streams: object
) -> None:
    source = bundle(
        tmp_path / "suid.tgz",
        "tgz",
        [("appspec.yml", BUNDLE_APPSPEC, 0o644, None), ("app/tool", b"#!/bin/sh\n", 0o4755, None)],
    )
    args = [str(source), "--root", str(tmp_path / "root"), "--state-dir", str(tmp_path / "s")]
    assert run_local(args, streams) == 0
    assert stat.S_IMODE((tmp_path / "root/opt/app/tool").stat().st_mode) == 0o755
    err = streams.err  # type: ignore[attr-defined]
    assert "dropped the setuid/setgid/sticky bits of 1 member: 'app/tool' (4755)" in err


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("fmt", ["zip", "tar", "tgz"])
def test_max_unpacked_size_refuses_a_bigger_bundle(
    tmp_path: Path, streams: object, fmt: str, how: str
) -> None:
    source = bundle(
        tmp_path / f"big.{fmt}",
        fmt,
        [("appspec.yml", BUNDLE_APPSPEC, 0o644, None), ("app/big", b"\0" * 4096, 0o644, None)],
    )
    args = [str(source), "--root", str(tmp_path / "root"), "--state-dir", str(tmp_path / "s")]
    env: dict[str, str] = {}
    if how == "flag":
        args += ["--max-unpacked-size", "1KiB"]
    else:
        env["CI_DEPLOY_MAX_UNPACKED_SIZE"] = "1KiB"
    assert run_local(args, streams, env) == 1
    err = streams.err  # type: ignore[attr-defined]
    assert f"big.{fmt} unpacks to at least" in err and "more than the limit of 1 KiB" in err
    assert "raise the limit with --max-unpacked-size or CI_DEPLOY_MAX_UNPACKED_SIZE" in err
    assert not (tmp_path / "root/opt").exists()


def test_a_bad_max_unpacked_size_exits_2_naming_the_input(tmp_path: Path, streams: object) -> None:
    args = [str(EXAMPLES / "web-app"), "--root", str(tmp_path / "r"), "--max-unpacked-size", "4XB"]
    assert run_local(args, streams) == 2
    assert "input max_unpacked_size: expected a size in bytes, or with a unit" in streams.err  # type: ignore[attr-defined]


PERMISSIONS_HEAD = """\
version: 0.0
os: linux
files:
  - source: web
    destination: /srv/web
permissions:
"""


def permissions_revision(path: Path, entries: str) -> Path:
    (path / "web/sub").mkdir(parents=True)
    (path / "web/index.html").write_text("i")
    (path / "web/sub/a.txt").write_text("a")
    (path / "appspec.yml").write_text(PERMISSIONS_HEAD + entries)
    return path


def test_nested_entries_reaching_one_file_fail_install_as_on_the_agent(
    tmp_path: Path, streams: object
) -> None:
    """`validate` reports it; `local` fails where the agent fails: Install, in its words."""
    entries = (
        "  - object: /srv/web\n    type: [file]\n    mode: '644'\n"
        "  - object: /srv/web/sub\n    type: [file]\n    mode: '600'\n"
    )
    revision = permissions_revision(tmp_path / "rev", entries)
    root = tmp_path / "r"
    args = [str(revision), "--root", str(root), "--state-dir", str(tmp_path / "s"), "--json"]

    assert run_local(args, streams) == 1

    result = json.loads(streams.out)  # type: ignore[attr-defined]
    install = next(event for event in result["events"] if event["name"] == "Install")
    assert install["status"] == "Failed"
    assert install["diagnostics"]["message"].startswith(
        f"The deployment failed because the permissions setting for ({root}/srv/web/sub/a.txt) "
        "is specified more than once in the application specification file."
    )
    assert not (root / "srv/web/sub/a.txt").exists()
    err = streams.err  # type: ignore[attr-defined]
    assert (
        "appspec.yml:10:13: permissions-nested-object: /srv/web/sub/a.txt (from web/sub/a.txt)"
        in err
    )


def test_one_object_with_disjoint_types_deploys_with_both_entries(
    tmp_path: Path, streams: object
) -> None:
    entries = (
        "  - object: /srv/web\n    type: [directory]\n    mode: '700'\n"
        "  - object: /srv/web\n    type: [file]\n    mode: '600'\n"
    )
    revision = permissions_revision(tmp_path / "rev", entries)
    assert validate_path(revision).diagnostics == []
    root = tmp_path / "r"
    args = [str(revision), "--root", str(root), "--state-dir", str(tmp_path / "s")]

    assert run_local(args, streams) == 0, streams.err  # type: ignore[attr-defined]

    assert stat.S_IMODE((root / "srv/web/sub").stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "srv/web/sub/a.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "srv/web/index.html").stat().st_mode) == 0o600
