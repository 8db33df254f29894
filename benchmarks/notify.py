"""What notifications add to a deployment, against loopback web hooks (tests/webhooks.py):

- ``post``: one message to one hook with ``ci_deploy.notify.Poster`` (one requests session, as a
  run uses), per kind, median and 95th percentile over many posts; the first post of a session
  (a new connection) is shown apart.
- ``deploy``: ``ci-deploy deploy examples/web-app --emulator`` in-process, with three hooks
  (Slack, Teams, JSON: a start and an end message each) and without; the time spent posting is
  measured inside the run (around ``notify.deliver``), beside the run's own wall time.
- ``import``: what importing ci_deploy.notify costs on top of what deploy imports anyway.

Loopback answers in well under a millisecond: the figures are ci-deploy's own overhead (payload
building, JSON encoding, the HTTP client), not a chat service's latency, which adds its own
round trips (typically 100-300 ms to Slack or Teams) to each message.

Run: .venv/bin/python benchmarks/notify.py [--posts 300] [--deploys 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from ci_deploy import cli, notify  # noqa: E402
from ci_deploy.ci_env import CiEnvironment  # noqa: E402
from ci_deploy.commands import Streams  # noqa: E402
from webhooks import WebhookServer  # noqa: E402

RESULT: dict[str, Any] = {
    "application": "web",
    "deployment_group": "prod",
    "regions": ["us-east-1"],
    "deployment_ids": {"us-east-1": "d-ABCDEFGHI"},
    "status": "Succeeded",
    "console_url": "https://console.aws.amazon.com/codesuite/codedeploy/deployments/d-ABCDEFGHI",
    "timings": {"total_seconds": 61.2},
    "deployments": [],
}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def bench_posts(posts: int) -> None:
    server = WebhookServer([])
    try:
        note = notify.from_result(RESULT, action="deploy", ci=CiEnvironment())
        print(f"post: {posts} messages per kind to a loopback hook")
        for kind in notify.KINDS:
            hook = notify.Hook(1, kind, server.url())
            body = notify.payload(kind, note)
            poster = notify.Poster()
            started = time.perf_counter()
            first = poster.post(hook, body)
            cold = time.perf_counter() - started
            assert first.ok, first.reason
            times = []
            for _ in range(posts):
                started = time.perf_counter()
                notify.deliver(poster, [hook], note)
                times.append(time.perf_counter() - started)
            poster.close()
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"  {kind:<5}  first {ms(cold):>9}  median {ms(statistics.median(times)):>9}  "
                f"p95 {ms(p95):>9}  (payload {len(str(body))} chars)"
            )
    finally:
        server.close()


def deploy_once(hooks: list[str], workdir: Path) -> tuple[float, float, int]:
    """One deploy to the embedded emulator: (wall seconds, seconds spent posting, posts)."""
    spent = [0.0, 0]
    real_deliver = notify.deliver

    def timed(poster: Any, hook_list: Any, note: Any) -> Any:
        started = time.perf_counter()
        try:
            return real_deliver(poster, hook_list, note)
        finally:
            spent[0] += time.perf_counter() - started
            spent[1] += len(hook_list)

    notify.deliver = timed  # type: ignore[assignment]
    argv = [
        "deploy",
        str(REPO / "examples" / "web-app"),
        *("--application", "bench", "--deployment-group", "bench-fleet"),
        *("--s3-location", "s3://bench-bundles/b", "--emulator", "--region", "us-east-1"),
    ]
    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(workdir / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "none"),
        "CI_DEPLOY_NOTIFY": "\n".join(hooks),
        "PATH": "/usr/bin:/bin",
    }
    streams = Streams(stdout=io.StringIO(), stderr=io.StringIO())
    started = time.perf_counter()
    try:
        code = cli.run(argv, env, streams)
    finally:
        notify.deliver = real_deliver  # type: ignore[assignment]
    wall = time.perf_counter() - started
    assert code == 0, streams.stderr.getvalue()
    return wall, spent[0], int(spent[1])


def bench_deploys(runs: int) -> None:
    servers = [WebhookServer([]) for _ in range(3)]
    hooks = [
        f"slack:{servers[0].url()}",
        f"teams:{servers[1].url()}",
        f"json:{servers[2].url()}",
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"deploy: examples/web-app to the embedded emulator, {runs} runs each")
            for label, used in (("no hooks", []), ("3 hooks", hooks)):
                walls, posting, count = [], [], 0
                for _ in range(runs):
                    wall, spent, posts = deploy_once(used, Path(tmp))
                    walls.append(wall)
                    posting.append(spent)
                    count = posts
                line = f"  {label:<8}  wall median {statistics.median(walls):6.2f} s"
                if used:
                    line += (
                        f"  posting {ms(statistics.median(posting))} per run ({count} posts: "
                        f"{ms(statistics.median(posting) / max(count, 1))} each)"
                    )
                print(line)
            received = sum(len(server.requests) for server in servers)
            print(f"  hooks received {received} messages ({runs} runs x 3 hooks x start+end)")
    finally:
        for server in servers:
            server.close()


def bench_import() -> None:
    probe = (
        "import time, ci_deploy.commands.deploy as d, sys\n"
        "sys.modules.pop('ci_deploy.notify', None)\n"
        "import importlib; t = time.perf_counter(); importlib.import_module('ci_deploy.notify')\n"
        "print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        times.append(float(done.stdout))
    print(f"import: ci_deploy.notify after deploy's own imports: {ms(statistics.median(times))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--deploys", type=int, default=3)
    args = parser.parse_args()
    bench_posts(args.posts)
    bench_deploys(args.deploys)
    bench_import()


if __name__ == "__main__":
    main()
