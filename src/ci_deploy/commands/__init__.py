"""One module per verb: take a resolved ``Request``, call the core, render, return an exit code.

Commands never read ``os.environ`` (the request carries a snapshot) and never exit.
"""

from __future__ import annotations

from collections.abc import Mapping

from ci_deploy.streams import Streams

__all__ = ["Streams", "environment_region"]  # what every command's run() writes to


def environment_region(env: Mapping[str, str]) -> str | None:
    """The region the environment names, as the AWS CLI reads it: AWS_REGION, then
    AWS_DEFAULT_REGION (blank: unset)."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = env.get(name, "").strip()
        if value:
            return value
    return None
