"""`ci-deploy iam-policy`: print the least-privilege IAM policy for the verbs a role will run
(JSON, or a Terraform data block); a list of which call needs each action goes to stderr."""

from __future__ import annotations

from ci_deploy.commands import Streams, environment_region
from ci_deploy.errors import ExitCode, InputError
from ci_deploy.iam_policy import (
    PolicyOptions,
    build_policy,
    explain,
    render_json,
    render_terraform,
)
from ci_deploy.inputs import Request


def policy_options(request: Request) -> PolicyOptions:
    """The request's inputs; without --region, the region the environment names (as boto3
    would: AWS_REGION, then AWS_DEFAULT_REGION)."""
    regions = request.items("regions")
    if not regions:
        region = environment_region(request.env)
        regions = (region,) if region else ()
    account_id = (request.text("account_id") or "").strip()
    if not account_id:
        raise InputError(
            "input account_id is required for iam-policy: ARNs name the account",
            hint="pass --account-id 123456789012 (or '*' for any account) or set "
            "CI_DEPLOY_ACCOUNT_ID",
        )
    return PolicyOptions(
        verbs=tuple(dict.fromkeys(request.items("verbs"))),
        account_id=account_id,
        regions=regions,
        application=request.text("application"),
        deployment_group=request.text("deployment_group"),
        deployment_config=request.text("deployment_config"),
        s3_location=request.text("s3_location"),
        upload=request.flag("upload"),
        register=request.flag("register"),
        kms_key=request.items("kms_key"),
        on_ready=request.text("on_ready") or "wait",
        stop_on_cancel=request.flag("stop_on_cancel"),
    )


def run(request: Request, streams: Streams) -> int:
    options = policy_options(request)
    policy = build_policy(options)
    if request.text("policy_format") == "terraform":
        streams.stdout.write(render_terraform(policy))
    else:
        streams.stdout.write(render_json(policy))
    where = ", ".join(options.regions)
    account = "any account" if options.account_id == "*" else f"account {options.account_id}"
    streams.stderr.write(
        f"iam-policy for {', '.join(options.verbs)} in {where}, {account}; each action and the "
        "calls that need it:\n"
    )
    streams.stderr.write("\n".join(explain(options)) + "\n")
    if options.s3_location is None and {"push", "deploy"} & set(options.verbs):
        streams.stderr.write(
            "  no --s3-location: no S3 access (GitHub and AppSpecContent revisions need none)\n"
        )
    return ExitCode.OK
