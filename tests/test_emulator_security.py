"""Attacks on the emulator over real HTTP on 127.0.0.1: moto's API, other services, DNS rebinding,
web pages, hostile bodies, idle connections, a slow AppSpec, and what hooks can read."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape

from ci_deploy.emulator import revisions, server, start
from ci_deploy.emulator.operations import OPERATIONS
from ci_deploy.emulator.registry import Registry

ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"
TARGET = "CodeDeploy_20141006."
JSON_TYPE = "application/x-amz-json-1.1"
# moto does not check signatures: a well-formed SigV4 header naming the scope is what boto3 sends.
S3_AUTH = (
    "AWS4-HMAC-SHA256 Credential=emulator/20240101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def s3_code(self) -> str:
        text = self.body.decode()
        return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""


def send(
    port: int,
    method: str,
    path: str,
    *,
    host: str | None = "",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> Answer:
    """One raw HTTP request; ``host`` "" is 127.0.0.1:port, None sends no Host header."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            connection.putheader("Host", host or f"127.0.0.1:{port}")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body or method in ("POST", "PUT"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def call(
    port: int, operation: str, body: object, *, raw: bytes | None = None, **options: Any
) -> Answer:
    """A CodeDeploy call as boto3 sends it (plus whatever headers ``options`` add)."""
    headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": TARGET + operation}
    headers.update(options.pop("headers", {}))
    data = raw if raw is not None else json.dumps(body).encode()
    return send(port, "POST", "/", headers=headers, body=data, **options)


def read_until_closed(connection: socket.socket) -> bytes:
    """What the emulator answers before it closes the connection (bounded reads)."""
    data = b""
    for _ in range(1000):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def application_exists(emulator: Any, name: str) -> bool:
    registry = emulator.service.registry
    with registry.lock:
        return name in registry.applications


# -- moto's API and other services ------------------------------------------------------------


def test_moto_api_is_refused_so_a_page_cannot_replay_requests_or_reset_s3(
    emulator: Any, emulator_clients: Any, unique_name: str
) -> None:
    """A page's text/plain POSTs (no preflight) used to upload a recording and replay it through
    the emulator: a bucket (and from it a deployment whose hook runs here) made by a web page."""
    s3 = emulator_clients.s3
    s3.create_bucket(Bucket=unique_name)
    planted = f"{unique_name}-planted"
    recording = json.dumps(
        {
            "method": "PUT",
            "url": f"{emulator.endpoint_url}/{planted}",
            "headers": {"Authorization": S3_AUTH},
            "body": "",
            "body_encoded": False,
        }
    )
    page = {"Content-Type": "text/plain", "Origin": "null"}
    for path, body in (
        ("/moto-api/recorder/upload-recording", recording.encode()),
        ("/moto-api/recorder/replay-recording", b""),
        ("/moto-api/reset", b""),
    ):
        # Without the Origin a page sends, too: moto's API is not served to anyone.
        for headers in (page, {"Content-Type": "text/plain"}):
            answer = send(emulator.port, "POST", path, headers=headers, body=body)
            assert answer.status == 403, (path, answer.body)
            assert answer.s3_code() == "AccessDenied"
    dump = send(emulator.port, "GET", "/moto-api/data.json")
    assert (dump.status, dump.s3_code()) == (403, "AccessDenied")
    assert send(emulator.port, "GET", "/moto-api/").status == 403
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert planted not in buckets
    assert unique_name in buckets  # reset did not run


def test_requests_for_other_services_are_refused_quietly(
    emulator: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    sts = send(
        emulator.port,
        "POST",
        "/",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": S3_AUTH.replace("/s3/", "/sts/"),
        },
        body=b"Action=GetCallerIdentity&Version=2011-06-15",
    )
    assert (sts.status, sts.s3_code()) == (403, "AccessDenied")
    assert b"signed for sts" in sts.body
    for target in ("DynamoDB_20120810.ListTables", "Foo.Bar", "CodeDeploy_20141006"):
        answer = send(
            emulator.port,
            "POST",
            "/",
            headers={"Content-Type": JSON_TYPE, "X-Amz-Target": target},
            body=b"{}",
        )
        assert answer.status == 400, target
        assert answer.headers["Content-Type"] == JSON_TYPE
        assert answer.json()["__type"] == "UnknownOperationException"
    # A request moto's S3 cannot handle is S3's 4xx, not a 500 page and a traceback.
    crash = send(emulator.port, "POST", "/", headers={"Authorization": S3_AUTH})
    assert (crash.status, crash.s3_code()) == (400, "InvalidRequest")
    assert call(emulator.port, "ListApplications", {}).status == 200
    assert "Traceback" not in capfd.readouterr().err


# -- who may call: Host, Origin, Sec-Fetch-Site -----------------------------------------------


def test_a_host_that_is_not_loopback_is_refused_against_dns_rebinding(
    emulator: Any, emulator_clients: Any, unique_name: str
) -> None:
    """A page on attacker.example whose name is rebound to 127.0.0.1 is same-origin with its own
    name: only the Host header tells the emulator. Such calls must not reach the service."""
    port = emulator.port
    for host in (f"attacker.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1", "evil.local"):
        answer = call(port, "CreateApplication", {"applicationName": unique_name}, host=host)
        assert answer.status == 403, host
        assert answer.json()["__type"] == "AccessDeniedException"
        assert "Host" in answer.json()["message"]
    assert call(port, "ListApplications", {}, host=None).status == 403
    assert not application_exists(emulator, unique_name)
    s3 = send(port, "GET", "/", host=f"attacker.example:{port}", headers={"Authorization": S3_AUTH})
    assert (s3.status, s3.s3_code()) == (403, "AccessDenied")

    # The names a local client uses still work, S3's bucket.localhost included.
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert call(port, "ListApplications", {}, host=host).status == 200, host
    emulator_clients.s3.create_bucket(Bucket=unique_name)
    emulator_clients.s3.put_object(Bucket=unique_name, Key="k", Body=b"value")
    virtual = send(
        port,
        "GET",
        "/k",
        host=f"{unique_name}.localhost:{port}",
        headers={"Authorization": S3_AUTH},
    )
    assert (virtual.status, virtual.body) == (200, b"value")


def test_requests_from_web_pages_are_refused(emulator: Any, unique_name: str) -> None:
    port = emulator.port
    for headers in (
        {"Origin": "http://attacker.example"},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Origin": f"http://localhost:{port + 1}"},  # another local web app is another site
        {"Origin": f"https://127.0.0.1:{port}"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        answer = call(port, "CreateApplication", {"applicationName": unique_name}, headers=headers)
        assert answer.status == 403, headers
        assert answer.json()["__type"] == "AccessDeniedException"
        s3 = send(port, "GET", "/", headers={"Authorization": S3_AUTH, **headers})
        assert (s3.status, s3.s3_code()) == (403, "AccessDenied"), headers
    assert not application_exists(emulator, unique_name)
    # The CORS preflight a page needs before it may send X-Amz-Target is refused, so the
    # browser never sends the call itself.
    preflight = send(
        port,
        "OPTIONS",
        "/",
        headers={
            "Origin": "http://attacker.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type",
        },
    )
    assert preflight.status == 403
    assert preflight.headers["Access-Control-Allow-Origin"] is None
    # The emulator's own origin, and a URL the user typed, are not a foreign page.
    own = {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}
    assert call(port, "ListApplications", {}, headers=own).status == 200
    typed = send(port, "GET", "/", headers={"Authorization": S3_AUTH, "Sec-Fetch-Site": "none"})
    assert typed.status == 200


# -- what hooks see ---------------------------------------------------------------------------

DUMP_APPSPEC = """version: 0.0
os: linux
files:
  - source: app.txt
    destination: /srv/app
hooks:
  AfterInstall:
    - location: dump.sh
"""


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`ci-deploy emulator` started from a shell holding tokens; (process, endpoint)."""
    env = {
        **os.environ,
        "GITHUB_TOKEN": "ghp_token_of_the_shell",
        "AWS_SECRET_ACCESS_KEY": "secret-key-of-the-shell",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ci_deploy", "emulator", "--port", "0", "--instances", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        yield process, json.loads(process.stdout.readline())["endpoint_url"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def test_hooks_of_the_standalone_emulator_get_the_agents_environment_not_the_shells(
    emulator_process: tuple[subprocess.Popen[str], str], emulator_clients_at: Any, tmp_path: Path
) -> None:
    _, endpoint = emulator_process
    clients = emulator_clients_at(endpoint)
    clients.codedeploy.create_application(applicationName="envs")
    clients.codedeploy.create_deployment_group(
        applicationName="envs",
        deploymentGroupName="prod",
        serviceRoleArn=ROLE,
        ec2TagFilters=[{"Key": "ci-deploy:instances", "Value": "3", "Type": "KEY_AND_VALUE"}],
    )
    seen = tmp_path / "hook-env.txt"
    files = {"appspec.yml": DUMP_APPSPEC, "app.txt": "v1", "dump.sh": f"#!/bin/sh\nenv > {seen}\n"}
    location = clients.upload("envs-bundles", "v1.zip", files, ("dump.sh",))
    deployment_id = clients.codedeploy.create_deployment(
        applicationName="envs",
        deploymentGroupName="prod",
        revision={"revisionType": "S3", "s3Location": location},
    )["deploymentId"]
    assert clients.wait_for(deployment_id, ("Succeeded", "Failed"), 60)["status"] == "Succeeded"
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert "GITHUB_TOKEN" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "ghp_token_of_the_shell" not in seen.read_text()
    assert env["LIFECYCLE_EVENT"] == "AfterInstall"
    assert env["DEPLOYMENT_ID"] == deployment_id
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# -- malformed and hostile requests -----------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "raw", "says"),
    [
        ("ListDeployments", b'{"createTimeRange": "yesterday"}', "createTimeRange must be"),
        ("BatchGetDeploymentGroups", b'{"applicationName": "a", "deploymentGroupNames": [null]}',
         "deploymentGroupNames[0]"),
        ("ListApplications", b'{"nextToken": NaN}', "not JSON"),
        ("ListApplications", b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        ("ListApplications", b"\xff\xfe\x00", "not JSON"),
        ("CreateApplication", b'{"applicationName": "a", "tags": {"Key": "k"}}', "tags must be"),
        ("UpdateDeploymentGroup", b'{"applicationName": "a", "currentDeploymentGroupName": "g",'
         b' "autoRollbackConfiguration": {"enabled": "yes"}}', "enabled must be a boolean"),
    ],
)  # fmt: skip
def test_a_malformed_body_is_a_serialization_exception_not_a_500(
    emulator: Any, operation: str, raw: bytes, says: str
) -> None:
    answer = call(emulator.port, operation, None, raw=raw)
    assert answer.status == 400, answer.body
    assert answer.json()["__type"] == "SerializationException"
    assert says in answer.json()["message"]
    assert call(emulator.port, "ListApplications", {}).status == 200


def wrong_type(shape: Shape) -> object:
    """A JSON value of another type than ``shape``'s."""
    if isinstance(shape, StructureShape | MapShape):
        return "not an object"
    if isinstance(shape, ListShape) or shape.type_name == "string":
        return {"not": "a string or list"}
    return ["not", "a", "scalar"]


def test_every_member_of_every_operation_is_type_checked(emulator: Any) -> None:
    """Each input member of each CodeDeploy operation, sent with a wrong JSON type, is a 400 in
    the service's shape: never a 500 (or the operation's own processing of a wrong value)."""
    model = botocore.session.get_session().get_service_model("codedeploy")
    implemented = set(OPERATIONS)
    checked = 0
    for operation in model.operation_names:
        shape = model.operation_model(operation).input_shape
        members = shape.members.items() if isinstance(shape, StructureShape) else []
        for member, member_shape in members:
            answer = call(emulator.port, operation, {member: wrong_type(member_shape)})
            assert answer.status == 400, (operation, member, answer.body)
            expected = (
                "SerializationException"
                if operation in implemented
                else "UnknownOperationException"
            )
            assert answer.json()["__type"] == expected, (operation, member)
            checked += 1
    assert checked > 100


def test_a_bug_answers_internal_failure_without_the_exception_text(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
        raise KeyError("/home/someone/.aws/credentials")

    monkeypatch.setitem(OPERATIONS, "ListApplications", broken)
    answer = call(emulator.port, "ListApplications", {})
    assert answer.status == 500
    assert answer.json()["__type"] == "InternalFailure"
    assert ".aws" not in answer.json()["message"]
    monkeypatch.undo()
    assert call(emulator.port, "ListApplications", {}).status == 200
    assert "Traceback" not in capfd.readouterr().err


def test_a_codedeploy_body_over_the_limit_is_refused_before_it_is_read(
    emulator: Any, unique_name: str
) -> None:
    big = json.dumps({"applicationName": "a", "padding": "x" * (1024 * 1024)}).encode()
    answer = call(emulator.port, "CreateApplication", None, raw=big)
    assert answer.status == 413
    assert answer.json()["__type"] == "RequestEntityTooLargeException"
    assert not application_exists(emulator, "a")
    # A length announced but never sent is not waited for.
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=30) as raw:
        raw.sendall(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{emulator.port}\r\n"
            f"X-Amz-Target: {TARGET}ListApplications\r\nContent-Type: {JSON_TYPE}\r\n"
            f"Content-Length: {200 * 1024 * 1024}\r\n\r\n{{}}".encode()
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413 ")
    # A chunked body has no length to check first: it is read up to the limit, and no further.
    for pieces, status in (
        ([b'{"applicationName":', f' "{unique_name}"'.encode(), b"}"], 200),
        ([b'{"padding": "', *[b"x" * 65536] * 20, b'"}'], 413),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
        try:
            connection.request(
                "POST",
                "/",
                body=iter(pieces),
                headers={"Content-Type": JSON_TYPE, "X-Amz-Target": TARGET + "CreateApplication"},
                encode_chunked=True,
            )
            assert connection.getresponse().status == status
        finally:
            connection.close()
    assert application_exists(emulator, unique_name)
    assert call(emulator.port, "ListApplications", {}).status == 200


def test_s3_takes_a_bundle_above_the_api_limit_and_refuses_one_above_s3s_own(
    emulator: Any, emulator_clients: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = emulator_clients.s3
    s3.create_bucket(Bucket=unique_name)
    bundle = os.urandom(3 * 1024 * 1024)
    s3.put_object(Bucket=unique_name, Key="big.zip", Body=bundle)
    assert s3.get_object(Bucket=unique_name, Key="big.zip")["Body"].read() == bundle
    # Over 5 GiB in one PUT is S3's EntityTooLarge, answered before any byte of it is read.
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=30) as raw:
        raw.sendall(
            f"PUT /{unique_name}/huge.zip HTTP/1.1\r\nHost: 127.0.0.1:{emulator.port}\r\n"
            f"Authorization: {S3_AUTH}\r\nContent-Length: {6 * 1024**3}\r\n\r\n".encode()
        )
        head = read_until_closed(raw)
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"<Code>EntityTooLarge</Code>" in head
    # A chunked body has no length to check first: it is cut when it grows past the limit.
    monkeypatch.setattr(server, "MAX_S3_BODY_BYTES", 1024)
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    try:
        connection.request(
            "PUT",
            f"/{unique_name}/chunked.zip",
            body=iter([b"x" * 700, b"y" * 700]),
            headers={"Authorization": S3_AUTH},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 400
        assert b"<Code>EntityTooLarge</Code>" in response.read()
    finally:
        connection.close()
    with pytest.raises(ClientError):
        s3.head_object(Bucket=unique_name, Key="chunked.zip")


# -- connections ------------------------------------------------------------------------------


def test_a_silent_connection_is_closed(tmp_path: Path) -> None:
    with start(state_dir=tmp_path, connection_timeout_seconds=0.5) as running:
        for opening in (b"", b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"):
            with socket.create_connection(("127.0.0.1", running.port), timeout=30) as idle:
                idle.sendall(opening)
                assert idle.recv(4096) == b""  # closed by the emulator, long before 30 s
        assert call(running.port, "ListApplications", {}).status == 200


def test_open_connections_cannot_pile_up_threads(tmp_path: Path) -> None:
    with start(state_dir=tmp_path, max_connections=4, connection_timeout_seconds=60) as running:
        before = threading.active_count()
        idle = [
            socket.create_connection(("127.0.0.1", running.port), timeout=30) for _ in range(12)
        ]
        try:
            # Connections are taken in order: the first 4 hold the emulator's connection
            # threads, each later one is answered 503 (which clients retry) and closed.
            for extra in idle[4:]:
                assert extra.recv(4096).startswith(b"HTTP/1.1 503 ")
            assert threading.active_count() - before <= 4
        finally:
            for connection in idle:
                connection.close()
        # Closed connections give their threads back: the emulator serves again.
        status = 0
        for _ in range(200):
            try:
                status = call(running.port, "ListApplications", {}).status
            except ConnectionError:
                status = 0
            if status == 200:
                break
            time.sleep(0.05)
        assert status == 200


# -- the service lock -------------------------------------------------------------------------

SLOW_LAMBDA_APPSPEC = """# {marker}
version: 0.0
Resources:
  - api:
      Type: AWS::Lambda::Function
      Properties:
        Name: api
        Alias: live
        CurrentVersion: "1"
        TargetVersion: "2"
"""


def test_an_appspec_being_parsed_does_not_hold_up_other_calls(
    emulator: Any, emulator_clients: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile AppSpecContent (a YAML alias bomb) took 90 s to parse under the service lock,
    and every API call waited. The parse here blocks until the test releases it."""
    cd = emulator_clients.codedeploy
    cd.create_application(applicationName=unique_name, computePlatform="Lambda")
    cd.create_deployment_group(
        applicationName=unique_name, deploymentGroupName="live", serviceRoleArn=ROLE
    )
    content = SLOW_LAMBDA_APPSPEC.format(marker=unique_name)
    parsing, release = threading.Event(), threading.Event()
    parse = revisions.parse_appspec_content

    def slow_parse(text: str, sha256: str | None, platform: str) -> Mapping[str, Any]:
        if unique_name in text:
            parsing.set()
            release.wait(60)
        return parse(text, sha256, platform)

    monkeypatch.setattr(revisions, "parse_appspec_content", slow_parse)
    created: list[str] = []
    deployer = boto3.client(
        "codedeploy",
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="emulator",
        aws_secret_access_key="emulator",
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )

    def create() -> None:
        created.append(
            deployer.create_deployment(
                applicationName=unique_name,
                deploymentGroupName="live",
                revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
            )["deploymentId"]
        )

    creating = threading.Thread(target=create)
    creating.start()
    try:
        assert parsing.wait(30), "the AppSpec parse never started"
        try:
            listed = call(emulator.port, "ListApplications", {})
        except TimeoutError:
            pytest.fail("ListApplications waited for another call's AppSpec parse")
        assert listed.status == 200
        assert unique_name in listed.json()["applications"]
    finally:
        release.set()
        creating.join(60)
    assert len(created) == 1
    info = emulator_clients.wait_for(created[0], ("Succeeded", "Failed", "Stopped"))
    assert info["status"] == "Succeeded"
