"""One loopback port for both services: CodeDeploy's JSON API here, everything else to moto's S3."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.service import Service
from ci_deploy.errors import InputError

TARGET_PREFIX = "CodeDeploy_20141006."
JSON_TYPE = "application/x-amz-json-1.1"

StartResponse = Callable[..., Any]


def make_s3_app() -> Any:
    """moto's request dispatcher; requests without a CodeDeploy target are S3 calls."""
    return DomainDispatcherApplication(create_backend_app)


class QuietRequestHandler(MotoRequestHandler):
    """The core never prints: no per-request log lines on stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:
        return


class Dispatcher:
    """The WSGI app behind the port: CodeDeploy by ``X-Amz-Target``, the rest to S3."""

    def __init__(self, service: Service, s3_app: Any) -> None:
        self.service = service
        self.s3_app = s3_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith(TARGET_PREFIX):
            return self.codedeploy(environ, start_response, target[len(TARGET_PREFIX) :])
        result: Iterable[bytes] = self.s3_app(environ, start_response)
        return result

    def codedeploy(
        self, environ: dict[str, Any], start_response: StartResponse, operation: str
    ) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as error:
                raise ApiError(
                    "SerializationException", f"The request body is not JSON: {error}"
                ) from error
            if not isinstance(body, dict):
                raise ApiError("SerializationException", "The request body must be a JSON object.")
            status, payload = 200, self.service.handle(operation, body)
        except ApiError as error:
            status, payload = error.status, dict(error.body())
        except Exception as error:  # noqa: BLE001 - a bug answers 500 like the service would
            status, payload = 500, {"__type": "InternalFailure", "message": repr(error)}
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 500: "Internal Server Error"}[status]
        start_response(
            f"{status} {reason}",
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


class HttpServer:
    """A threaded werkzeug server in a background thread."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        self.server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=QuietRequestHandler, fd=sock.fileno()
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
