"""The environment a hook script starts from: the process basics, never a CI job's secrets.

On an instance the agent starts each script with ``Open3.popen3(@child_envs, ...)``
(aws/aws-codedeploy-agent, lib/instance_agent/plugins/codedeploy/hook_executor.rb): its own
process environment plus LIFECYCLE_EVENT, DEPLOYMENT_ID, APPLICATION_NAME,
DEPLOYMENT_GROUP_NAME, DEPLOYMENT_GROUP_ID and the revision's BUNDLE_* variables (the engine adds
those). The agent's own environment is a system service's (init.d/codedeploy-agent.service
sources /etc/profile), and command_poller.rb even removes AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_CREDENTIAL_FILE from it. So a hook sees what a process needs to
run (PATH, HOME, the locale), not the secrets of whoever started the deployment; variables a
rehearsal's hooks do need are passed by name (``--hook-env NAME``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ci_deploy.errors import InputValueError

# What a service's environment holds once /etc/profile ran: where programs are, whose home,
# the shell, the locale and time zone, where temporary files go. LC_* are locale settings too.
BASICS = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR")
# A service's PATH, for an environment without one: systemd's default for system services,
# with /sbin and /bin for hosts whose /usr is not merged.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_names(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as given, each an environment variable name (``NAME``, not ``NAME=VALUE``)."""
    names = tuple(names)
    bad = [name for name in names if not _NAME.fullmatch(name)]
    if bad:
        raise InputValueError(
            "hook_env",
            "variable names (NAME; the value is this environment's)",
            ",".join(bad),
            hint="set the variable in the job's environment and pass its name: --hook-env NAME",
        )
    return names


def hook_base_env(env: Mapping[str, str], passed: Iterable[str] = ()) -> dict[str, str]:
    """The environment hooks inherit: the basics of ``env`` (PATH defaulted), plus the
    variables named in ``passed`` that ``env`` sets, with ``env``'s values."""
    base = {name: value for name, value in env.items() if name in BASICS or name.startswith("LC_")}
    base.setdefault("PATH", DEFAULT_PATH)
    for name in check_names(passed):
        if name in env:
            base[name] = env[name]
    return base
