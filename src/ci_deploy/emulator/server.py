"""One loopback port for both services: CodeDeploy's JSON API here, S3 requests to moto's S3.

The emulator runs hooks as its user, so it serves only callers on this machine that are not a
web page: a request whose ``Host`` is not a loopback name for this port (DNS rebinding), or that a
browser sends for another site (``Origin``, ``Sec-Fetch-Site``), is refused with 403. Only S3 and
CodeDeploy are served: moto's own API (``/moto-api/``: reset, state dumps, request replay) and
requests for other services are refused. Bodies are capped, and so are connections and threads.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
from werkzeug.serving import ThreadedWSGIServer

from ci_deploy.emulator import protocol
from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.service import Service
from ci_deploy.errors import InputError

TARGET_PREFIX = "CodeDeploy_20141006."
JSON_TYPE = "application/x-amz-json-1.1"
# S3's own limit for one PUT; larger objects are multipart uploads (parts are PUTs too).
MAX_S3_BODY_BYTES = 5 * 1024**3
READ_PIECE_BYTES = 1024 * 1024
# A connection silent this long (before its request, or in the middle of it) is closed.
CONNECTION_TIMEOUT_SECONDS = 10.0
# Connections served at once (a thread each); a connection beyond them is answered 503 and closed.
MAX_CONNECTIONS = 128
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
HOST_HEADER = re.compile(r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?")
# The values browsers send for a request the page's own origin made, or the user typed.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})

StartResponse = Callable[..., Any]


def make_s3_app() -> Any:
    """moto's S3 service alone (not moto's dispatcher, which also serves every other moto
    backend and moto's own API)."""
    return create_backend_app("s3")


# The rest of the small region served here: signing name -> moto's service.
MOTO_SERVICES = {
    "ec2": "ec2",
    "autoscaling": "autoscaling",
    "monitoring": "cloudwatch",
    "sns": "sns",
    "sqs": "sqs",
}
# The common error of each for a parameter it cannot take (AWS's "Common Errors").
INVALID_PARAMETER = {
    "ec2": "InvalidParameterValue",
    "autoscaling": "ValidationError",
    "monitoring": "ValidationError",
    "sns": "ValidationError",
    "sqs": "InvalidParameterValue",
}


def make_region_apps() -> dict[str, Any]:
    """moto's EC2, Auto Scaling, CloudWatch, SNS and SQS, each alone, by signing name."""
    return {
        "ec2": create_backend_app("ec2"),
        "autoscaling": create_backend_app("autoscaling"),
        "monitoring": create_backend_app("cloudwatch"),
        "sns": create_backend_app("sns"),
        "sqs": create_backend_app("sqs"),
    }


class QuietRequestHandler(MotoRequestHandler):
    """The core never prints: no per-request log lines on stderr; silent connections time out."""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(
            getattr(self.server, "connection_timeout", CONNECTION_TIMEOUT_SECONDS)
        )

    def log(self, type: str, message: str, *args: Any) -> None:
        return


def _is_loopback_name(host: str) -> bool:
    """127.0.0.1, localhost, [::1], and any name under localhost (RFC 6761: always loopback;
    S3 clients address a bucket as ``bucket.localhost``)."""
    return host in LOOPBACK_HOSTS or (
        host.endswith(".localhost") and all(host.split(".")) and len(host) <= 255
    )


def is_local_authority(value: str, port: int, default_port: int = 80) -> bool:
    """``value`` (a Host header, or an origin's host:port) names this emulator on loopback."""
    found = HOST_HEADER.fullmatch(value.strip().lower())
    if found is None or not _is_loopback_name(found["host"]):
        return False
    return int(found["port"] or default_port) == port


def refusal(environ: dict[str, Any]) -> str | None:
    """Why a request must not be served (it is not from a local client), or None."""
    port = int(environ.get("SERVER_PORT") or 0)
    host = str(environ.get("HTTP_HOST") or "")
    if not is_local_authority(host, port):
        return (
            f"The Host header {host!r} does not name this emulator on loopback "
            f"(127.0.0.1:{port} or localhost:{port}); requests through another name are refused."
        )
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None:
        parts = urlsplit(str(origin))
        if parts.scheme != "http" or not is_local_authority(parts.netloc, port):
            return f"Requests from web pages are refused (Origin {origin!r})."
    site = environ.get("HTTP_SEC_FETCH_SITE")
    if site is not None and str(site).lower() not in OWN_FETCH_SITES:
        return f"Requests from web pages are refused (Sec-Fetch-Site {site!r})."
    return None


def signed_service(environ: dict[str, Any]) -> str | None:
    """The service a SigV4 request is signed for (header or presigned query), if any."""
    scope = signing_scope(environ)
    return scope[3].lower() if scope is not None else None


def signed_region(environ: dict[str, Any]) -> str | None:
    """The region a SigV4 request is signed for (header or presigned query), if any."""
    scope = signing_scope(environ)
    return scope[2].lower() if scope is not None else None


def signing_scope(environ: dict[str, Any]) -> list[str] | None:
    """The SigV4 credential scope: key id, date, region, service, ``aws4_request``."""
    credential = None
    authorization = str(environ.get("HTTP_AUTHORIZATION") or "")
    if authorization.startswith("AWS4-"):
        found = re.search(r"Credential=([^,\s]+)", authorization)
        credential = found.group(1) if found else None
    else:
        values = parse_qs(str(environ.get("QUERY_STRING") or "")).get("X-Amz-Credential")
        credential = values[0] if values else None
    if credential is None:
        return None
    scope = credential.split("/")
    return scope if len(scope) == 5 else None


def _json_error(start_response: StartResponse, error: ApiError) -> Iterable[bytes]:
    data = json.dumps(error.body()).encode()
    start_response(
        f"{error.status} {HTTPStatus(error.status).phrase}",
        [
            ("Content-Type", JSON_TYPE),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [data]


def _s3_error(
    environ: dict[str, Any], start_response: StartResponse, status: int, code: str, message: str
) -> Iterable[bytes]:
    request_id = uuid.uuid4().hex[:16].upper()
    data = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(data))),
            ("x-amz-request-id", request_id),
        ],
    )
    return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [data]


class _TooLarge(Exception):
    """A chunked S3 body grew past the limit."""


class CappedInput:
    """A chunked request body that may not grow past ``limit`` bytes."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._left = limit

    def _counted(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise _TooLarge
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return self._counted(self._stream.read(size))
        parts = []  # read() to the end, a piece at a time: never more than the limit
        while chunk := self._counted(self._stream.read(READ_PIECE_BYTES)):
            parts.append(chunk)
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._left + 1  # a line without an end stops one byte past the limit
        return self._counted(self._stream.readline(size))

    def __iter__(self) -> CappedInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


# What an SNS subscription may deliver to: moto's own queues (and functions), in this process.
# http(s), email and sms would make moto send requests to any address a caller names.
LOCAL_SNS_PROTOCOLS = frozenset({"sqs", "lambda"})


def _off_machine_subscription(environ: dict[str, Any]) -> str | None:
    """Why an SNS Subscribe request is refused (a protocol that leaves the process), else None.
    The body (bounded by the caller's cap) is read and put back for moto."""
    length = str(environ.get("CONTENT_LENGTH") or "").strip()
    if length.isdigit():  # at most the cap: the caller refused a longer one
        body = environ["wsgi.input"].read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: capped by the caller's CappedInput
        body = environ["wsgi.input"].read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    fields = parse_qs(str(environ.get("QUERY_STRING") or ""))
    try:
        fields.update(parse_qs(body.decode("utf-8")))
    except UnicodeDecodeError:
        return None  # not a query-protocol body: moto answers it
    if fields.get("Action", [""])[0] != "Subscribe":
        return None
    kind = fields.get("Protocol", [""])[0].lower()
    if kind in LOCAL_SNS_PROTOCOLS:
        return None
    return (
        f"The emulator delivers SNS messages to SQS queues (and Lambda functions) only: protocol "
        f"{kind[:32]!r} would send requests off this machine. Subscribe an SQS queue and read the "
        "messages from it."
    )


def _service_error(
    environ: dict[str, Any], start_response: StartResponse, signed: str, code: str, message: str
) -> Iterable[bytes]:
    """An error in the shape of the service's protocol (EC2, query XML, or JSON for SQS)."""
    request_id = str(uuid.uuid4())
    if signed == "sqs":
        data = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message}).encode()
        content_type = "application/x-amz-json-1.0"
    elif signed == "ec2":
        data = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        content_type = "text/xml"
    else:
        data = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    start_response(
        f"400 {HTTPStatus(400).phrase}",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", request_id),
        ],
    )
    return [data]


class Dispatcher:
    """The WSGI app behind the port: CodeDeploy by ``X-Amz-Target``, EC2, Auto Scaling,
    CloudWatch, SNS and SQS by the signing scope, S3 requests to moto."""

    def __init__(
        self, service: Service, s3_app: Any, region_apps: dict[str, Any] | None = None
    ) -> None:
        self.service = service
        self.s3_app = s3_app
        self.region_apps = region_apps or {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        signed = signed_service(environ)
        json_api = bool(target) or signed == "codedeploy"
        refused = refusal(environ)
        if refused is not None:
            if json_api:
                return _json_error(start_response, ApiError("AccessDeniedException", refused, 403))
            return _s3_error(environ, start_response, 403, "AccessDenied", refused)
        if target.startswith(TARGET_PREFIX):
            return self.codedeploy(environ, start_response, target[len(TARGET_PREFIX) :])
        path = str(environ.get("PATH_INFO") or "")
        if path == "/moto-api" or path.startswith("/moto-api/"):
            return _s3_error(
                environ, start_response, 403, "AccessDenied", "moto's API is not served here."
            )
        if signed is not None and signed in self.region_apps:
            return self.region_service(environ, start_response, signed)
        if json_api:
            unknown = ApiError(
                "UnknownOperationException",
                f"The emulator serves CodeDeploy (X-Amz-Target {TARGET_PREFIX}<Operation>), S3, "
                f"{', '.join(sorted(self.region_apps))}, not {target or 'this request'!r}.",
            )
            return _json_error(start_response, unknown)
        if signed not in (None, "s3"):
            return _s3_error(
                environ,
                start_response,
                403,
                "AccessDenied",
                f"The emulator serves CodeDeploy, S3, {', '.join(sorted(self.region_apps))} only; "
                f"this request is signed for {signed}.",
            )
        return self.s3(environ, start_response)

    def region_service(
        self, environ: dict[str, Any], start_response: StartResponse, signed: str
    ) -> Iterable[bytes]:
        """EC2, Auto Scaling, CloudWatch, SNS or SQS: moto's app for it (its region is the one
        the request is signed for); a request moto cannot handle is a 400 in its protocol."""
        length = str(environ.get("CONTENT_LENGTH") or "").strip()
        if length.isdigit() and int(length) > protocol.MAX_BODY_BYTES:
            return _service_error(
                environ,
                start_response,
                signed,
                "RequestEntityTooLarge",
                f"The request body is over the limit of {protocol.MAX_BODY_BYTES} bytes.",
            )
        if environ.get("wsgi.input_terminated"):
            environ["wsgi.input"] = CappedInput(environ["wsgi.input"], protocol.MAX_BODY_BYTES)
        # moto reads the account from this header: callers do not choose it.
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        if signed == "sns":
            refused = _off_machine_subscription(environ)
            if refused is not None:
                return _service_error(environ, start_response, signed, "InvalidParameter", refused)
        try:
            # The region's first request runs its --instances (and checks it is a region).
            self.service.registry_for(signed_region(environ) or self.service.region)
        except ApiError as error:
            return _service_error(environ, start_response, signed, error.code, error.message)
        captured: list[tuple[str, list[tuple[str, str]]]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.append((status, headers))
            return lambda data: None

        try:
            body = b"".join(self.region_apps[signed](environ, capture))
        except (ConnectionError, TimeoutError):
            raise
        except Exception as error:  # noqa: BLE001 - moto cannot handle this request
            too_large = isinstance(error, _TooLarge)
            return _service_error(
                environ,
                start_response,
                signed,
                "RequestEntityTooLarge" if too_large else INVALID_PARAMETER[signed],
                f"The emulator's {MOTO_SERVICES[signed]} cannot handle this request's "
                f"parameters ({type(error).__name__}).",
            )
        if not captured or (captured[0][0].startswith("404") and not body):
            # moto has no such action (or path): the common InvalidAction error.
            return _service_error(
                environ,
                start_response,
                signed,
                "InvalidAction",
                f"The action or operation requested is not valid for {MOTO_SERVICES[signed]}.",
            )
        start_response(*captured[-1])
        return [body]

    def s3(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = str(environ.get("CONTENT_LENGTH") or "").strip()
        if length.isdigit() and int(length) > MAX_S3_BODY_BYTES:
            return self._entity_too_large(environ, start_response)
        if environ.get("wsgi.input_terminated"):
            environ["wsgi.input"] = CappedInput(environ["wsgi.input"], MAX_S3_BODY_BYTES)
        try:
            result: Iterable[bytes] = self.s3_app(environ, start_response)
        except _TooLarge:
            return self._entity_too_large(environ, start_response)
        except (ConnectionError, TimeoutError):
            raise  # the client went away or stalled: the server drops the connection
        except Exception as error:  # noqa: BLE001 - moto cannot handle this request
            # moto fails the same way each time it sees such a request (a query or body it does
            # not expect): a 4xx that clients do not retry, in S3's shape, not a traceback.
            return _s3_error(
                environ,
                start_response,
                400,
                "InvalidRequest",
                f"The emulator's S3 cannot handle this request ({type(error).__name__}).",
            )
        return result

    def _entity_too_large(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        return _s3_error(
            environ,
            start_response,
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed object size "
            f"({MAX_S3_BODY_BYTES} bytes for one PUT; use a multipart upload).",
        )

    def codedeploy(
        self, environ: dict[str, Any], start_response: StartResponse, operation: str
    ) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        try:
            body = protocol.decode(protocol.read_body(environ))
            region = signed_region(environ)
            status, payload = 200, self.service.handle(operation, body, region)
        except ApiError as error:
            status, payload = error.status, dict(error.body())
        except (ConnectionError, TimeoutError):
            raise  # the client went away or stalled: the server drops the connection
        except Exception as error:  # noqa: BLE001 - a bug answers 500 like the service would
            status, payload = (
                500,
                {
                    "__type": "InternalFailure",
                    "message": f"The emulator failed on this request ({type(error).__name__}).",
                },
            )
        data = json.dumps(payload).encode()
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [
                ("Content-Type", JSON_TYPE),
                ("Content-Length", str(len(data))),
                ("x-amzn-RequestId", request_id),
            ],
        )
        return [data]


def bind(host: str, port: int) -> socket.socket:
    """Bind the port ourselves, so a busy port is bad input and not werkzeug's exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise InputError(
            f"input port: cannot listen on {host}:{port}: {error.strerror}",
            hint="pick another --port, or --port 0 for any free port",
        ) from error
    return sock


BUSY_RESPONSE = (
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "Content-Length: {length}\r\n"
    "\r\n"
    "{body}"
)


class BoundedServer(ThreadedWSGIServer):
    """werkzeug's threaded server with a thread for at most ``max_connections`` connections at a
    time: one more is answered 503 (clients retry it) and closed, so connections that stay open
    cannot pile up threads; each connection's socket times out when silent."""

    def __init__(
        self,
        sock: socket.socket,
        app: Any,
        *,
        max_connections: int,
        connection_timeout: float,
    ) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(host, port, app, handler=QuietRequestHandler, fd=sock.fileno())
        self.connection_timeout = connection_timeout
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._answer_busy(request)
            return
        try:
            threading.Thread(
                target=self.process_request_thread,
                args=(request, client_address),
                name="ci-deploy-emulator-connection",
                daemon=True,
            ).start()
        except RuntimeError:  # no thread to be had: the connection is closed unanswered
            self._slots.release()
            self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _answer_busy(self, request: Any) -> None:
        body = f"The emulator is serving its maximum of {self.max_connections} connections.\n"
        try:
            request.setblocking(False)  # never let a client stall the accepting thread
            request.send(BUSY_RESPONSE.format(length=len(body), body=body).encode())
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # werkzeug already answered 500; the core never prints

    def log(self, type: str, message: str, *args: Any) -> None:
        return


class HttpServer:
    """A bounded threaded werkzeug server in a background thread."""

    def __init__(
        self,
        app: Any,
        sock: socket.socket,
        *,
        max_connections: int = MAX_CONNECTIONS,
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
    ) -> None:
        self.server = BoundedServer(
            sock, app, max_connections=max_connections, connection_timeout=connection_timeout
        )
        sock.close()  # the server holds its own duplicate of the descriptor
        self.port: int = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="ci-deploy-emulator-http", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
