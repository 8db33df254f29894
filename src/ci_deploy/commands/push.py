"""`ci-deploy push`: bundle, upload and register a revision; print it and the next command."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from ci_deploy.commands import Streams
from ci_deploy.commands._clients import clients_for
from ci_deploy.errors import ExitCode, InputError
from ci_deploy.inputs import Request
from ci_deploy.push import PushRequest, ci_metadata, push_revision
from ci_deploy.report import reporter_for
from ci_deploy.result import PushResult


def push_request(request: Request) -> PushRequest:
    """The push inputs of a resolved request (shared with deploy)."""
    return PushRequest(
        source=request.path("source") or Path(),
        application=request.required_text("application"),
        s3_location=request.text("s3_location"),
        bundle_type=request.text("bundle_type"),
        validate=request.flag("validate"),
        exclude=request.items("exclude"),
        follow_symlinks=request.flag("follow_symlinks"),
        compute_platform=request.text("compute_platform"),
        appspec_filename=request.text("appspec_filename"),
        register=request.flag("register"),
        upload=request.flag("upload"),
        sse=request.text("sse"),
        sse_kms_key_id=request.text("sse_kms_key_id"),
        expected_bucket_owner=request.text("expected_bucket_owner"),
        github_repository=request.text("github_repository"),
        commit_id=request.text("commit_id"),
        task_definition=request.text("task_definition"),
        metadata=ci_metadata(request.ci),
    )


def next_command(push: PushRequest, result: PushResult) -> str:
    """The exact `ci-deploy deploy` command that deploys this revision."""
    words = ["ci-deploy", "deploy"]
    revision = result.revision
    location = revision.get("s3Location")
    if location is not None:
        words += ["--s3-location", f"s3://{location['bucket']}/{location['key']}", "--no-upload"]
    elif revision["revisionType"] == "GitHub":
        github = revision["gitHubLocation"]
        words += ["--github-repository", github["repository"], "--commit-id", github["commitId"]]
    else:
        words.insert(2, str(push.source))
        if push.task_definition:
            words += ["--task-definition", push.task_definition]
    words += ["--application", push.application]
    tail = ["--region", result.region] if result.region else []
    # The group is for the user to fill in: shown unquoted, everything else shell-quoted.
    return f"{shlex.join(words)} --deployment-group <deployment-group> {shlex.join(tail)}".strip()


def run(request: Request, streams: Streams) -> int:
    push = push_request(request)
    regions = request.items("regions") or (None,)
    if len(regions) > 1:
        raise InputError(
            "push takes one region",
            hint="run push once per region, or let deploy push to every region",
        )
    clients = clients_for(request)(regions[0])
    reporter = reporter_for(request.text("ci_system") or "plain", streams, request.env)
    result = push_revision(push, clients, reporter.event)
    reporter.finish(result)
    streams.stdout.write(json.dumps(result.as_json()) + "\n")
    streams.stderr.write("deploy it with:\n  " + next_command(push, result) + "\n")
    return ExitCode.OK
