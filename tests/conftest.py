"""Shared pytest fixtures (the only place for them; tests never import each other)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from ci_deploy.commands import Streams
from fake_codedeploy import FakeCodeDeploy
from package_index import PackageIndex, Release, build_release, serve_index, wheelhouse
from webhooks import HookAnswer, WebhookServer

if TYPE_CHECKING:
    from ci_deploy.emulator import RunningEmulator


class CapturedStreams(Streams):
    """Streams writing to memory, with the text readable after the command ran."""

    @property
    def out(self) -> str:
        assert isinstance(self.stdout, io.StringIO)
        return self.stdout.getvalue()

    @property
    def err(self) -> str:
        assert isinstance(self.stderr, io.StringIO)
        return self.stderr.getvalue()


@pytest.fixture
def streams() -> CapturedStreams:
    """In-memory stdout/stderr for calling ``ci_deploy.cli.run`` in-process."""
    return CapturedStreams(stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture(autouse=True, scope="session")
def _venv_on_path() -> Iterator[None]:
    """Subprocesses find this interpreter's `ci-deploy` (and tools installed beside it) first."""
    bin_dir = str(Path(sys.executable).parent)
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = bin_dir + os.pathsep + before
    yield
    os.environ["PATH"] = before


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server over real HTTP on 127.0.0.1 (a free port), for the whole session.

    Yields its endpoint URL, e.g. ``http://127.0.0.1:41234``; pass it as ``endpoint_url``.
    Fake credentials are set for the session so no test can reach real AWS. State is shared
    across the session: use bucket names unique to each test.
    """
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - Flask import only when S3 is used

    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {name: os.environ.get(name) for name in [*fake, "AWS_SESSION_TOKEN", "AWS_PROFILE"]}
    os.environ.update(fake)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def fake_codedeploy() -> Iterator[FakeCodeDeploy]:
    """A scripted CodeDeploy endpoint over HTTP on 127.0.0.1 (tests/fake_codedeploy.py), for
    states the emulator cannot reach on demand: throttling, 5xx, Ready, timing."""
    fake = FakeCodeDeploy()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def aws_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Fake credentials and region in os.environ (boto3 reads them there) with no shared config;
    returns the environment to hand to ``cli.run`` or a subprocess."""
    empty = tmp_path_factory.mktemp("aws-config") / "none"
    settings = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """The ci-deploy emulator (CodeDeploy + S3) over real HTTP on a free 127.0.0.1 port, for the
    whole session: ``.endpoint_url``, ``.port``, ``.client_env()``, ``.service``
    (``.service.registry`` holds the state).

    Each deployment group gets 3 simulated instances (tag filter ``ci-deploy:instances`` = N
    changes that); hooks inherit this process's environment. State is shared across the
    session: use ``unique_name`` for applications and buckets.
    """
    from ci_deploy.emulator import start  # noqa: PLC0415 - moto/Flask only when used

    running = start(
        port=0,
        instances=3,
        state_dir=tmp_path_factory.mktemp("emulator"),
        hook_env=dict(os.environ),
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses (valid for applications, groups and S3 buckets)."""
    import uuid  # noqa: PLC0415 - only this fixture needs it

    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:30].strip("-")
    return f"{stem}-{uuid.uuid4().hex[:8]}"


SERVICE_ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"
# What selects a group's instances (CreateDeploymentGroup).
SELECTORS = frozenset(
    {
        "ec2TagFilters",
        "ec2TagSet",
        "autoScalingGroups",
        "onPremisesInstanceTagFilters",
        "onPremisesTagSet",
    }
)


class EmulatorClients:
    """boto3 S3 and CodeDeploy clients on the session's emulator, with helpers for tests.

    Every CodeDeploy response (and error) that reaches these clients is checked against the
    operation's output shape (or error shapes) in botocore's service model; ``violations``
    collects what did not conform and the fixture fails the test on any.
    """

    def __init__(self, endpoint_url: str) -> None:
        import boto3  # noqa: PLC0415 - only tests that use the emulator pay for boto3

        settings = {
            "endpoint_url": endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "emulator",
            "aws_secret_access_key": "emulator",
        }
        self.s3 = boto3.client("s3", **settings)
        self.codedeploy = boto3.client("codedeploy", **settings)
        self.violations: list[str] = []
        self.checked = 0
        self.codedeploy.meta.events.register("after-call.codedeploy", self._check_response)

    def _check_response(self, http_response: object, model: object, **_: object) -> None:
        import json  # noqa: PLC0415

        body = json.loads(getattr(http_response, "content", b"") or b"{}")
        status = getattr(http_response, "status_code", 0)
        name = getattr(model, "name", "?")
        self.checked += 1
        if status >= 400:
            error_names = {shape.name for shape in self.codedeploy.meta.service_model.error_shapes}
            if body.get("__type") not in error_names or not isinstance(body.get("message"), str):
                self.violations.append(f"{name}: error body {body} is not a modelled error")
            return
        output = getattr(model, "output_shape", None)
        if output is None:
            if body:
                self.violations.append(f"{name}: no output expected, got {body}")
            return
        self.violations.extend(conformance_problems(output, body, name))

    def make_group(
        self, app: str, group: str = "prod", platform: str | None = None, **settings: Any
    ) -> None:
        """Create application ``app`` (``platform``: its compute platform, else the default,
        Server) and its deployment group ``group``; ``settings`` are more CreateDeploymentGroup
        parameters (e.g. ``ec2TagFilters`` with ``ci-deploy:instances`` = N instances; a Server
        group given no instance selector gets three instances of its own)."""
        platform_of = {"computePlatform": platform} if platform else {}
        if platform in (None, "Server") and not SELECTORS & set(settings):
            # A Server group deploys to the instances it selects: by default three of its own
            # (the emulator's ci-deploy:instances shortcut launches them so tagged).
            settings["ec2TagFilters"] = [
                {"Key": "ci-deploy:instances", "Value": "3", "Type": "KEY_AND_VALUE"}
            ]
        self.codedeploy.create_application(applicationName=app, **platform_of)
        self.codedeploy.create_deployment_group(
            applicationName=app, deploymentGroupName=group, serviceRoleArn=SERVICE_ROLE, **settings
        )

    def upload(
        self, bucket: str, key: str, files: dict[str, str], executable: tuple[str, ...] = ()
    ) -> dict[str, str]:
        """Zip ``files`` (name -> text; names in ``executable`` get mode 755), put it in S3,
        return the S3 revision location (with eTag) to deploy."""
        import io  # noqa: PLC0415
        import zipfile  # noqa: PLC0415

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, text in sorted(files.items()):
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o755 if name in executable else 0o644) << 16
                archive.writestr(info, text)
        existing = {b["Name"] for b in self.s3.list_buckets()["Buckets"]}
        if bucket not in existing:
            self.s3.create_bucket(Bucket=bucket)
        put = self.s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        return {"bucket": bucket, "key": key, "bundleType": "zip", "eTag": put["ETag"].strip('"')}

    def wait_for(
        self, deployment_id: str, statuses: tuple[str, ...], timeout: float = 30.0
    ) -> dict[str, Any]:
        """Poll GetDeployment (bounded) until its status is one of ``statuses``."""
        import time  # noqa: PLC0415

        deadline = time.monotonic() + timeout
        while True:
            info = self.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            if info["status"] in statuses:
                return info
            if time.monotonic() > deadline:
                raise AssertionError(f"{deployment_id} still {info['status']} after {timeout}s")
            time.sleep(0.05)

    def targets(self, deployment_id: str) -> dict[str, dict[str, Any]]:
        """Every target of a deployment by id (ListDeploymentTargets + BatchGet, 25 at a time)."""
        ids = self.codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 25):
            batch = self.codedeploy.batch_get_deployment_targets(
                deploymentId=deployment_id, targetIds=ids[start : start + 25]
            )["deploymentTargets"]
            for target in batch:
                member = next(v for k, v in target.items() if k != "deploymentTargetType")
                found[member["targetId"]] = member
        return found


def conformance_problems(shape: Any, value: object, path: str) -> list[str]:
    """Where ``value`` (decoded JSON) departs from a botocore output shape: types, required
    members, unknown members, enum values, timestamps as epoch numbers."""
    kind = shape.type_name
    problems: list[str] = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        members = shape.members
        for required in shape.required_members:
            if required not in value:
                problems.append(f"{path}: missing required member {required}")
        for key, item in value.items():
            if key not in members:
                problems.append(f"{path}: unknown member {key}")
            else:
                problems.extend(conformance_problems(members[key], item, f"{path}.{key}"))
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        for index, item in enumerate(value):
            problems.extend(conformance_problems(shape.member, item, f"{path}[{index}]"))
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {value!r}"]
        for key, item in value.items():
            problems.extend(conformance_problems(shape.value, item, f"{path}.{key}"))
    elif kind == "string":
        enum = shape.enum
        # GetDeploymentConfig answers MOST_CONCURRENCY for OneAtATime although the model's enum
        # lacks it: documented under MinimumHealthyHosts in the API reference.
        allowed = set(enum) | (
            {"MOST_CONCURRENCY"} if shape.name == "MinimumHealthyHostsType" else set()
        )
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {value!r}")
        elif enum and value not in allowed:
            problems.append(f"{path}: {value!r} is not one of {enum}")
    elif kind in {"integer", "long"}:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer, got {value!r}")
    elif kind in {"double", "float", "timestamp"}:
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{path}: expected a number, got {value!r}")
        elif kind == "timestamp" and round(value, 3) != value:
            problems.append(f"{path}: {value!r} is finer than the service's milliseconds")
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(f"{path}: expected a boolean, got {value!r}")
    return problems


def boto_client(emulator: RunningEmulator, service: str, region: str) -> Any:
    """A plain boto3 client of ``service`` on an emulator, signed for ``region`` (the emulator
    keeps each region's state apart by the signing scope)."""
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint_url,
        region_name=region,
        aws_access_key_id="emulator",
        aws_secret_access_key="emulator",
    )


@pytest.fixture
def emulator_clients(emulator: RunningEmulator) -> Iterator[EmulatorClients]:
    """boto3 clients on the session's emulator; fails the test if a response broke its shape."""
    clients = EmulatorClients(emulator.endpoint_url)
    yield clients
    assert clients.violations == [], "\n".join(clients.violations)


@dataclass(frozen=True)
class EmulatorApp:
    """Somewhere to deploy on the session's emulator: application ``application`` (Server) with
    deployment group ``group`` (3 instances) and the versioned bucket ``bucket``; ``clients``
    are shape-checked boto3 clients on the emulator."""

    endpoint_url: str
    application: str
    group: str
    bucket: str
    clients: EmulatorClients

    @property
    def cli_args(self) -> list[str]:
        """What tells ``ci-deploy`` where to deploy: application, group, endpoint and region."""
        return [
            *("--application", self.application, "--deployment-group", self.group),
            *("--endpoint-url", self.endpoint_url, "--region", "us-east-1"),
        ]


@pytest.fixture
def emulator_app(
    emulator: RunningEmulator, emulator_clients: EmulatorClients, unique_name: str
) -> EmulatorApp:
    """An application, deployment group ``fleet`` and versioned bucket, all named for the test,
    on the session's emulator (the set-up of every test that deploys to it end to end)."""
    emulator_clients.make_group(unique_name, "fleet", "Server")
    emulator_clients.s3.create_bucket(Bucket=unique_name)
    emulator_clients.s3.put_bucket_versioning(
        Bucket=unique_name, VersioningConfiguration={"Status": "Enabled"}
    )
    return EmulatorApp(emulator.endpoint_url, unique_name, "fleet", unique_name, emulator_clients)


@dataclass
class RecordedRequest:
    """One request the fake GitHub API received."""

    method: str
    path: str
    authorization: str
    body: dict[str, Any]


@dataclass
class FakeGithub:
    """Answers the deployments API like api.github.com; ``fail`` maps a path suffix to a status."""

    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def fake_github() -> Iterator[FakeGithub]:
    """A loopback fake of the GitHub REST deployments API (repository octo/web): records every
    request (``.requests``) and answers like api.github.com; ``.url`` is its base URL (pass it
    as GITHUB_API_URL); ``.fail[path_suffix] = status`` makes those requests fail."""
    fake = FakeGithub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test asserts on the recorded requests."""

        def do_GET(self) -> None:
            self._record({})
            self._send(404, {"message": "Not Found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            self._record(body)
            for suffix, status in fake.fail.items():
                if self.path.endswith(suffix):
                    self._send(
                        status, {"message": "Conflict: Commit status checks failed for main."}
                    )
                    return
            if self.path == "/repos/octo/web/deployments":
                self._send(
                    201,
                    {
                        "id": 42,
                        "url": f"{fake.url}/repos/octo/web/deployments/42",
                        "sha": body.get("ref"),
                        "environment": body.get("environment"),
                    },
                )
            elif self.path == "/repos/octo/web/deployments/42/statuses":
                self._send(201, {"id": len(fake.requests), "state": body.get("state")})
            else:
                self._send(404, {"message": "Not Found"})

        def _record(self, body: dict[str, Any]) -> None:
            auth = self.headers.get("Authorization") or ""
            fake.requests.append(RecordedRequest(self.command, self.path, auth, body))

        def _send(self, status: int, payload: Mapping[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def emulator_clients_at() -> Iterator[Callable[[str], EmulatorClients]]:
    """Makes EmulatorClients for an emulator a test started itself (other options than the
    session's); each one's responses are shape-checked like ``emulator_clients``."""
    made: list[EmulatorClients] = []

    def make(endpoint_url: str) -> EmulatorClients:
        clients = EmulatorClients(endpoint_url)
        made.append(clients)
        return clients

    yield make
    for clients in made:
        assert clients.violations == [], "\n".join(clients.violations)


@pytest.fixture
def deploy_refused(
    tmp_path: Path,
) -> Callable[[Mapping[str, str]], subprocess.CompletedProcess[str]]:
    """Runs the real `ci-deploy deploy` of a minimal revision in ``tmp_path`` with ``env`` (on
    top of PATH and test credentials), against an endpoint that refuses every connection: what
    it does before failing is local, so a check at the edge shows as exit 2, not 3."""
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    argv = [
        *(str(Path(sys.executable).parent / "ci-deploy"), "deploy", "."),
        *("--application", "web", "--deployment-group", "prod", "--regions", "us-east-1"),
        *("--s3-location", "s3://web-revisions", "--endpoint-url", "http://127.0.0.1:9"),
    ]

    def run(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        base = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}
        return subprocess.run(
            argv,
            cwd=tmp_path,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def cli_without_aws() -> Callable[[list[str]], tuple[subprocess.CompletedProcess[str], bool]]:
    """Runs ``ci-deploy ARGS...`` in a real interpreter; returns the finished process and
    whether botocore (boto3's core) was imported, for verbs that must not pay its import."""

    def run(args: list[str]) -> tuple[subprocess.CompletedProcess[str], bool]:
        probe = (
            "import runpy, sys\n"
            f"sys.argv = {['ci-deploy', *args]!r}\n"
            "try:\n"
            "    runpy.run_module('ci_deploy', run_name='__main__')\n"
            "finally:\n"
            "    sys.stderr.write(f\"\\nbotocore imported: {'botocore' in sys.modules}\\n\")\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60
        )
        stderr, marker, flag = done.stderr.rpartition("\nbotocore imported: ")
        assert marker, f"the probe did not finish: {done.stderr}"
        done.stderr = stderr
        return done, flag.strip() == "True"

    return run


@pytest.fixture
def webhook_server() -> Iterator[Callable[..., WebhookServer]]:
    """Starts loopback web hooks (tests/webhooks.py): ``webhook_server(HookAnswer(500), ...)``
    answers those first, then 200 ``ok``; every request is recorded."""
    started: list[WebhookServer] = []

    def start(*answers: HookAnswer) -> WebhookServer:
        server = WebhookServer(list(answers))
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """ci-deploy's sdist and wheel, built once per session from a copy of this checkout, with
    no package index (tests/package_index.py)."""
    return build_release(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="session")
def package_index(release: Release) -> Iterator[PackageIndex]:
    """A package index on 127.0.0.1 serving the built release and the wheelhouse (the files the
    locks pin, for this platform). Its request log is the session's: call ``forget()`` first."""
    with serve_index([release.directory, wheelhouse()]) as index:
        yield index
