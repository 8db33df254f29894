"""`ci-deploy validate [PATH]`: check an AppSpec and report every problem with its position."""

from __future__ import annotations

from pathlib import Path

from ci_deploy.appspec import validate_path
from ci_deploy.commands import Streams
from ci_deploy.errors import AppSpecError, ExitCode
from ci_deploy.inputs import Request
from ci_deploy.report.diagnostics import RENDERERS, summary
from ci_deploy.report.runner_log import write_command


def run(request: Request, streams: Streams) -> int:
    source = request.path("source") or Path()
    output_format = request.text("format") or "text"
    result = validate_path(
        source,
        compute_platform=request.text("compute_platform"),
        appspec_filename=request.text("appspec_filename"),
    )
    rendered = RENDERERS[output_format](result.diagnostics)
    if output_format == "github":  # workflow commands, each escaped to one line
        for command in rendered.split("\n")[:-1]:
            write_command(streams.stdout, command)
    else:  # humans read stderr; the machine formats are the command's result on stdout
        (streams.stderr if output_format == "text" else streams.stdout).write(rendered)
    line = summary(result.appspec_path.as_posix(), result.platform, result.diagnostics)
    if not result.ok:
        raise AppSpecError(line)  # its diagnostics are rendered above, in the chosen format
    streams.stderr.write(line + "\n")
    return ExitCode.OK
