"""A loopback web hook for the notification tests: a threading http.server on 127.0.0.1:0 that
records every POST and answers from a script (a status, headers and body, or no answer)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class HookRequest:
    """One POST the server received: its path, headers and JSON body."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class HookAnswer:
    """What the server answers: a status, headers and body; or (``hang``) nothing, until the
    server closes (a client's read timeout ends the wait long before)."""

    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False


class WebhookServer:
    """Answers from ``answers`` in order, then ``HookAnswer()`` (200 ok)."""

    def __init__(self, answers: list[HookAnswer]) -> None:
        self.requests: list[HookRequest] = []
        self._answers = answers
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def bodies(self) -> list[Any]:
        with self._lock:
            return [request.body for request in self.requests]

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def _next(self, request: HookRequest) -> HookAnswer:
        with self._lock:
            self.requests.append(request)
            return self._answers.pop(0) if self._answers else HookAnswer()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tests assert on the recorded requests."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                answer = server._next(HookRequest(self.path, dict(self.headers.items()), body))
                if answer.hang:
                    server._released.wait(10)  # bounded, whatever the client does
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        return Handler
