"""`ci-deploy bundle`: build a reproducible zip/tar/tgz of a revision directory."""

from __future__ import annotations

import json
from pathlib import Path

from ci_deploy.bundle.builder import BundleOptions, build
from ci_deploy.commands import Streams
from ci_deploy.errors import ExitCode, InputError
from ci_deploy.inputs import BY_NAME, Request
from ci_deploy.report.diagnostics import render_text


def options_from(request: Request) -> BundleOptions:
    output = request.path("output")
    if output is None:
        spec = BY_NAME["output"]
        raise InputError(
            "input output is required for bundle",
            hint=f"pass {spec.flag} FILE (.zip, .tar or .tgz) or set {spec.env}",
        )
    return BundleOptions(
        source=request.path("source") or Path(),
        output=output,
        bundle_type=request.text("bundle_type"),
        validate=request.flag("validate"),
        excludes=request.items("exclude"),
        follow_symlinks=request.flag("follow_symlinks"),
        compute_platform=request.text("compute_platform"),
        appspec_filename=request.text("appspec_filename"),
    )


def run(request: Request, streams: Streams) -> int:
    options = options_from(request)
    result = build(options)  # an AppSpecError's diagnostics are shown by the CLI's handler
    streams.stderr.write(render_text(result.warnings))
    streams.stderr.write(
        f"bundled {result.files} files into {result.path} "
        f"({result.bundle_type}, {result.size} bytes, sha256 {result.sha256})\n"
    )
    streams.stdout.write(json.dumps(result.as_json()) + "\n")
    return ExitCode.OK
