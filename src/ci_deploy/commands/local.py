"""ci-deploy local: rehearse a revision on this machine, as the CodeDeploy agent would run it."""

from __future__ import annotations

import json
import secrets
import shutil
import string
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ci_deploy.agent import DeploymentResult, DeploymentSpec, run_deployment
from ci_deploy.agent.environment import hook_base_env
from ci_deploy.agent.model import result_as_dict, validate_spec
from ci_deploy.commands import Streams
from ci_deploy.errors import DeploymentFailed, ExitCode, InputError, Interrupted
from ci_deploy.events import DeploymentStatusChanged, Event, Notice
from ci_deploy.inputs import Request
from ci_deploy.report.text import TextRenderer

DEFAULT_GROUP = "LocalFleet"  # what codedeploy-local calls the group when none is given
_GROUP_NAMESPACE = uuid.UUID("7f9c1c52-4a51-4f0e-9d59-6a1f0c2c9b1e")
_ID_ALPHABET = string.ascii_uppercase + string.digits
_JOIN_POLL_SECONDS = 0.02


def new_deployment_id() -> str:
    """An id shaped like CodeDeploy's (d- and 9 characters)."""
    return "d-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))


def group_id_for(application: str, group: str) -> str:
    """A stable id per application and group name: cleanup records key on it."""
    return str(uuid.uuid5(_GROUP_NAMESPACE, f"{application}\x00{group}"))


def default_state_dir(env: Mapping[str, str]) -> Path:
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "ci-deploy" / "local"
    if env.get("HOME"):
        return Path(env["HOME"]) / ".local" / "state" / "ci-deploy" / "local"
    raise InputError(
        "input state_dir: no default (neither XDG_STATE_HOME nor HOME is set)",
        hint="pass --state-dir DIR",
    )


def install_root(request: Request) -> Path | None:
    root = request.path("root")
    if root is None:
        if request.flag("allow_system_paths"):
            return None
        raise InputError(
            "input root: ci-deploy local installs each files destination under --root; without "
            "it the revision would be installed into / of this machine",
            hint="pass --root DIR (e.g. --root /tmp/demo-root), or --allow-system-paths inside a "
            "container or a throwaway host",
        )
    root = root.expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise InputError(f"input root: {root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _s3_url(source: Path) -> str | None:
    # The table parses source as a path, which folds "s3://" into "s3:/".
    text = str(source)
    return "s3://" + text[len("s3:/") :] if text.startswith("s3:/") else None


@contextmanager
def fetched_source(request: Request) -> Iterator[tuple[Path, dict[str, str], str]]:
    """(bundle on disk, BUNDLE_* variables, source as the user wrote it)."""
    source = request.path("source") or Path()
    url = _s3_url(source)
    if url is None:
        yield source.absolute(), {}, str(source.absolute())
        return
    scratch = Path(tempfile.mkdtemp(prefix="ci-deploy-local-"))
    try:
        bundle, env = _download(url, scratch / "bundle", request)
        yield bundle, env, url
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _download(url: str, target: Path, request: Request) -> tuple[Path, dict[str, str]]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key:
        raise InputError(f"input source: {url} is not s3://bucket/key", hint="name the object")
    version = query.get("versionId", [None])[0]
    expected_etag = query.get("etag", [None])[0]
    # Imported here: only an S3 source pays for boto3's import.
    from ci_deploy.aws.translate import translate  # noqa: PLC0415
    from ci_deploy.commands._clients import clients_for  # noqa: PLC0415

    clients = clients_for(request)(None)
    arguments = {"Bucket": bucket, "Key": key}
    if version:
        arguments["VersionId"] = version
    try:
        response = clients.s3.get_object(**arguments)  # type: ignore[arg-type]
        with target.open("wb") as out:
            shutil.copyfileobj(response["Body"], out, 1 << 20)
    except Exception as error:
        raise translate(error, "GetObject", f"s3://{bucket}/{key}") from error
    etag = str(response.get("ETag", "")).strip('"')
    if expected_etag and expected_etag.strip('"') != etag:
        raise InputError(
            f"input source: {url}: the object's ETag is {etag}, not {expected_etag}",
            hint="the object changed since the ETag was taken; deploy the version you meant",
        )
    env = {"BUNDLE_BUCKET": bucket, "BUNDLE_KEY": key, "BUNDLE_ETAG": etag}
    if response.get("VersionId") and response.get("VersionId") != "null":
        env["BUNDLE_VERSION"] = str(response["VersionId"])
    return target, env


def _run_with_interrupt(spec: DeploymentSpec, sink: TextRenderer) -> tuple[DeploymentResult, bool]:
    """Run in a worker thread so SIGINT/SIGTERM in the main thread can stop the deployment
    the engine's way (the hook's process group killed, the rest Skipped) and still report."""
    cancel = threading.Event()
    done = threading.Event()
    outcome: list[DeploymentResult | BaseException] = []
    lock = threading.Lock()

    def safe_sink(event: Event) -> None:
        with lock:
            sink(event)

    def work() -> None:
        try:
            outcome.append(run_deployment(spec, safe_sink, cancel=cancel))
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, re-raised there
            outcome.append(error)
        finally:
            done.set()

    worker = threading.Thread(target=work, name=f"ci-deploy-local-{spec.deployment_id}")
    worker.start()
    interrupted = False
    # Poll with sleep: a KeyboardInterrupt landing inside Thread.join or Event.wait can leave
    # their internal locks inconsistent; one landing in time.sleep is clean.
    while not done.is_set():
        try:
            time.sleep(_JOIN_POLL_SECONDS)
        except KeyboardInterrupt:
            interrupted = True
            cancel.set()
    worker.join()
    value = outcome[0]
    if isinstance(value, BaseException):
        raise value
    return value, interrupted


def run(request: Request, streams: Streams) -> int:
    source = request.path("source") or Path()
    if _s3_url(source) is None and not source.exists():
        raise InputError(
            f"input source: {source} does not exist",
            hint="pass a revision directory, a zip/tar/tgz bundle or s3://bucket/key",
        )
    root = install_root(request)
    state_dir = request.path("state_dir") or default_state_dir(request.env)
    keep = request.number("keep_revisions")
    passed = request.items("hook_env")
    base_env = hook_base_env(request.env, passed)  # never the whole job's environment
    with fetched_source(request) as (bundle, bundle_env, written):
        application = request.text("application") or written
        group = request.text("deployment_group") or DEFAULT_GROUP
        spec = DeploymentSpec(
            source=bundle,
            application=application,
            deployment_group=group,
            deployment_group_id=group_id_for(application, group),
            deployment_id=new_deployment_id(),
            state_dir=state_dir.expanduser().absolute(),
            root=root,
            events=request.items("events"),
            file_exists_behavior=request.text("file_exists_behavior"),
            ignore_application_stop_failures=request.flag("ignore_application_stop_failures"),
            appspec_filename=request.text("appspec_filename"),
            bundle_env=bundle_env,
            base_env=base_env,
            keep_revisions=keep if keep is not None else 5,
            max_unpacked_size=request.number("max_unpacked_size"),
        )
        validate_spec(spec)  # bad input fails before the deployment is announced
        render = TextRenderer(streams.stderr)
        render(Notice(f"deploying {written} to {root or '/'} (deployment {spec.deployment_id})"))
        for name in (name for name in passed if name not in request.env):
            render(Notice(f"hook_env: {name} is not set here; hooks will not see it", "warning"))
        result, interrupted = _run_with_interrupt(spec, render)
    render(DeploymentStatusChanged(result.deployment_id, result.status, {}, result.error_message))
    if result.log_path is not None:
        render(Notice(f"hook output: {result.log_path}"))
    if request.flag("json"):
        payload = {
            **result_as_dict(result),
            "application": spec.application,
            "deployment_group": spec.deployment_group,
            "deployment_group_id": spec.deployment_group_id,
            "root": str(root) if root is not None else "/",
            "state_dir": str(spec.state_dir),
        }
        streams.stdout.write(json.dumps(payload, indent=2) + "\n")
    if interrupted:
        raise Interrupted(f"deployment {result.deployment_id} stopped: interrupted", result)
    if result.status != "Succeeded":
        raise DeploymentFailed(
            f"deployment {result.deployment_id} {result.status}: {result.error_message}", result
        )
    return ExitCode.OK
