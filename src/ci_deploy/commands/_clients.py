"""The AWS clients a command's request asks for: its --endpoint-url, and the region from
--region, else AWS_REGION (which boto3 alone ignores), else the SDK's own settings."""

from __future__ import annotations

from collections.abc import Callable

from ci_deploy.aws.session import Clients, make_clients
from ci_deploy.inputs import Request


def clients_for(request: Request) -> Callable[[str | None], Clients]:
    """Clients of a region (None: AWS_REGION, else the SDK's region), at --endpoint-url."""
    endpoint_url = request.text("endpoint_url")
    env_region = request.env.get("AWS_REGION")
    return lambda region: make_clients(region, endpoint_url, env_region=env_region)
