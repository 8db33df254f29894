"""Request members read as the service reads them (texts, platforms, Batch* lists), and the pages
of List* answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.faults import ApiError, required

PLATFORMS = ("Server", "Lambda", "ECS")
BATCH_LIMIT = 25
PAGE_SIZE = 100


def optional_text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError("InvalidInputException", f"{key} must be a string.")
    return value


def compute_platform(body: Mapping[str, Any]) -> str:
    platform = body.get("computePlatform") or "Server"
    if platform not in PLATFORMS:
        raise ApiError(
            "InvalidComputePlatformException",
            f"The computePlatform {platform} is not valid; use Server, Lambda or ECS.",
        )
    return str(platform)


def checked_description(body: Mapping[str, Any]) -> str | None:
    description = optional_text(body, "description")
    if description is not None and len(description) > 256:
        raise ApiError("DescriptionTooLongException", "The description is too long.")
    return description


def batch(
    body: Mapping[str, Any],
    key: str,
    missing: tuple[str, str],
    *,
    what: str,
    limit: int = BATCH_LIMIT,
    too_many: str = "BatchLimitExceededException",
) -> list[Any]:
    """The names or ids of a Batch* request: present (else ``missing``: code, message), a list,
    and at most ``limit`` of them."""
    items = required(body, key, *missing)
    if not isinstance(items, list):
        raise ApiError("InvalidInputException", f"{key} must be a list.")
    if len(items) > limit:
        raise ApiError(
            too_many,
            f"The maximum number of {what} allowed for this request ({limit}) was exceeded.",
        )
    return items


def one_page(key: str, items: list[Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """A List* answer: one page of ``items`` under ``key``, and the token of the next one."""
    page, token = paginate(items, body.get("nextToken"))
    return {key: page, **({"nextToken": token} if token else {})}


def paginate(items: list[Any], token: object) -> tuple[list[Any], str | None]:
    start = 0
    if token is not None:
        if not isinstance(token, str) or not token.startswith("page-") or not token[5:].isdigit():
            raise ApiError(
                "InvalidNextTokenException", "The next token was specified in an invalid format."
            )
        start = int(token[5:])
    page = items[start : start + PAGE_SIZE]
    after = start + PAGE_SIZE
    return page, (f"page-{after}" if after < len(items) else None)
