"""ci-deploy emulator: serve the local CodeDeploy endpoint (plus S3) until interrupted."""

from __future__ import annotations

import json

from ci_deploy import emulator
from ci_deploy.commands import Streams
from ci_deploy.errors import ExitCode
from ci_deploy.inputs import Request


def run(request: Request, streams: Streams) -> int:
    port = request.number("port")
    instances = request.number("instances")
    delay = request.number("event_delay_ms")
    running = emulator.start(
        port=0 if port is None else port,
        instances=3 if instances is None else instances,
        max_unpacked_size=request.number("max_unpacked_size"),
        state_dir=request.path("state_dir"),
        event_delay_ms=0 if delay is None else delay,
        # Hooks get the agent's environment (a system PATH, as under the agent's service), as with
        # --emulator: never this shell's, whose tokens and credentials are not theirs to read.
        hook_env=None,
    )
    try:
        env = running.client_env()
        state = running.state_dir if request.path("state_dir") else "a temporary directory"
        streams.stderr.write(
            f"ci-deploy emulator: CodeDeploy, S3, EC2, Auto Scaling, CloudWatch, SNS and SQS on "
            f"{running.endpoint_url} ({instances} EC2 instances tagged Name=ci-deploy-emulator "
            f"in each region, for groups to select; state in {state})\n"
            "Point boto3 or the AWS CLI at it (any credentials work):\n"
            + "".join(f"  export {name}={value}\n" for name, value in env.items())
            + "Hooks run as you with the agent's environment (a system PATH), not this shell's.\n"
            "Stop it with Ctrl+C.\n"
        )
        streams.stderr.flush()
        streams.stdout.write(json.dumps({"endpoint_url": running.endpoint_url, **env}) + "\n")
        streams.stdout.flush()
        running.wait()
    except KeyboardInterrupt:
        streams.stderr.write("ci-deploy emulator: stopping\n")
    finally:
        running.stop()
    return ExitCode.OK
