"""The awsJson1.1 wire rules: a request body is read, decoded and type-checked before any operation.

A body that is over the size limit is refused unread (413); one that is not a JSON object, or a
member whose JSON type is not the one CodeDeploy's model gives it, is a ``SerializationException``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, BinaryIO

from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.shapes import input_type_error

# CodeDeploy requests are small (the largest is an AppSpecContent of a few KiB); a body above
# this is refused before it is read, so a huge request cannot take the emulator's memory.
MAX_BODY_BYTES = 1024 * 1024


def _too_large(size: int | None) -> ApiError:
    what = f" ({size} bytes)" if size is not None else ""
    return ApiError(
        "RequestEntityTooLargeException",
        f"The request body{what} is over the limit: a CodeDeploy request is at most "
        f"{MAX_BODY_BYTES} bytes.",
        status=413,
    )


def read_body(environ: Mapping[str, Any]) -> bytes:
    """The request's bytes, at most ``MAX_BODY_BYTES`` (else 413, without reading the rest).

    A connection that drops or stalls while the body is read raises OSError, which the server
    treats as a dropped connection."""
    stream: BinaryIO = environ["wsgi.input"]
    length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if length_text:
        if not length_text.isdigit():
            raise ApiError("SerializationException", "The Content-Length header is not a number.")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise _too_large(length)
        return stream.read(length) if length else b""
    if environ.get("wsgi.input_terminated"):  # chunked: read to the end, or one byte past the cap
        data = b""
        while chunk := stream.read(MAX_BODY_BYTES + 1 - len(data)):
            data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise _too_large(None)
        return data
    return b""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        detail = error if isinstance(error, ValueError) else "it is nested too deeply"
        raise ApiError(
            "SerializationException", f"The request body is not JSON: {detail}"
        ) from error
    if not isinstance(body, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object.")
    return body


def check_input(operation: str, body: Mapping[str, Any]) -> None:
    """Every member of ``body`` has its modelled JSON type, else SerializationException."""
    problem = input_type_error(operation, body)
    if problem is not None:
        raise ApiError("SerializationException", problem)
