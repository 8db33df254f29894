"""The one table of inputs: names, types, defaults, help; strict parsers; derived names.

Every input has one snake_case name here. The CLI flag (``--deployment-group``), the
environment variable (``CI_DEPLOY_DEPLOYMENT_GROUP``), the GitHub Action input
(``deployment-group``), the GitLab spec input (``deployment_group``) and the Jenkins key
(``deploymentGroup``) are all derived from it, and contract tests hold the adapters to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ci_deploy.ci_env import CiEnvironment, ci_environment
from ci_deploy.errors import InputError, InputValueError
from ci_deploy.vocabulary import ARCHIVE_BUNDLE_TYPES, FILE_EXISTS_BEHAVIORS

Kind = Literal["str", "bool", "int", "choice", "list", "path", "size"]

ENV_PREFIX = "CI_DEPLOY_"

VERBS: tuple[str, ...] = (
    "validate",
    "bundle",
    "push",
    "deploy",
    "wait",
    "status",
    "stop",
    "rollback",
    "local",
    "emulator",
    "iam-policy",
)


@dataclass(frozen=True)
class Input:
    """One input of the tool, in every spelling the adapters need."""

    name: str
    kind: Kind
    help: str
    verbs: tuple[str, ...]
    default: str | bool | int | tuple[str, ...] | None = None
    choices: tuple[str, ...] = ()
    positional: bool = False
    aliases: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    # Secrets come from the environment only: a flag would put them in `ps` output and CI logs.
    secret: bool = False
    # A secret that also has a flag, for a one-off run by hand (`--notify URL`); the environment
    # stays the safe way, and the help says so.
    secret_flag: bool = False
    # Inputs that only the CI adapters have (e.g. which verb to run).
    adapter_only: bool = False
    # Inputs the CI adapters do not expose (they render natively or set it themselves).
    cli_only: bool = False
    metavar: str | None = None
    # A list input's value that also has a flag of its own, ``--no-NAME`` (one vocabulary:
    # ``--no-auto-rollback`` is ``--auto-rollback none``, and adapters pass ``none``).
    no_flag_value: str | None = None

    @property
    def has_flag(self) -> bool:
        """Whether the command line takes it: not a secret, or a secret that has a flag too."""
        return not self.secret or self.secret_flag

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def action_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def gitlab_name(self) -> str:
        return self.name

    @property
    def jenkins_name(self) -> str:
        head, *rest = self.name.split("_")
        return head + "".join(part.capitalize() for part in rest)

    def default_text(self) -> str:
        """The default as a CI adapter writes it (strings only in YAML/Groovy maps)."""
        if self.default is None:
            return ""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, tuple):
            return ",".join(self.default)
        if self.kind == "size" and isinstance(self.default, int):
            return format_size(self.default)
        return str(self.default)

    def parse(self, raw: str) -> str | bool | int | tuple[str, ...] | Path:
        """Parse a text value (env var, adapter input) strictly, naming this input on error."""
        return PARSERS[self.kind](self, raw)


# ---------------------------------------------------------------------------------------------
# Strict parsers. Each names the input and says what it expected.

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def parse_bool(spec: Input, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputValueError(spec.name, "true or false", raw)


def parse_int(spec: Input, raw: str) -> int:
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise InputValueError(spec.name, "a whole number", raw)
    value = int(text)
    if spec.minimum is not None and value < spec.minimum:
        raise InputValueError(spec.name, f"a number >= {spec.minimum}", raw)
    if spec.maximum is not None and value > spec.maximum:
        raise InputValueError(spec.name, f"a number <= {spec.maximum}", raw)
    return value


def parse_str(spec: Input, raw: str) -> str:
    return raw


def parse_path(spec: Input, raw: str) -> Path:
    if not raw.strip():
        raise InputValueError(spec.name, "a path", raw)
    return Path(raw)


def parse_choice(spec: Input, raw: str) -> str:
    value = raw.strip()
    if value in spec.choices:
        return value
    folded = {choice.lower(): choice for choice in spec.choices}
    if value.lower() in folded:
        return folded[value.lower()]
    raise InputValueError(spec.name, "one of " + ", ".join(spec.choices), raw)


def parse_list(spec: Input, raw: str) -> tuple[str, ...]:
    """A comma- or newline-separated list; each item checked against ``choices`` if any."""
    items = tuple(item.strip() for item in re.split(r"[,\n]", raw) if item.strip())
    if spec.choices:
        for item in items:
            if item not in spec.choices:
                raise InputValueError(spec.name, "a list of " + ", ".join(spec.choices), raw)
    return items


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}


def parse_size(spec: Input, raw: str) -> int:
    """Bytes, or a whole number with a unit: 500MiB, 4GiB (binary), 10MB (decimal)."""
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", raw)
    unit = _SIZE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise InputValueError(
            spec.name, "a size in bytes, or with a unit: B, KiB, MiB, GiB, TiB, kB, MB, GB, TB", raw
        )
    value = int(match.group(1)) * unit
    if spec.minimum is not None and value < spec.minimum:
        raise InputValueError(spec.name, f"a size of at least {spec.minimum} bytes", raw)
    return value


def format_size(value: int) -> str:
    """The shortest exact spelling parse_size reads back: 4294967296 -> 4GiB."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        factor = _SIZE_UNITS[unit.lower()]
        if value >= factor and value % factor == 0:
            return f"{value // factor}{unit}"
    return str(value)


PARSERS: Mapping[Kind, Callable[[Input, str], str | bool | int | tuple[str, ...] | Path]] = {
    "str": parse_str,
    "bool": parse_bool,
    "int": parse_int,
    "choice": parse_choice,
    "list": parse_list,
    "path": parse_path,
    "size": parse_size,
}


# ---------------------------------------------------------------------------------------------
# The table.

_SOURCE_VERBS = ("validate", "bundle", "push", "deploy", "local")
_REVISION_VERBS = ("push", "deploy")
_AWS_VERBS = ("push", "deploy", "wait", "status", "stop", "rollback")
_WATCH_VERBS = ("deploy", "wait", "rollback")
# iam-policy takes the inputs that decide which calls the verbs it writes a policy for make.
_POLICY = ("iam-policy",)

TABLE: tuple[Input, ...] = (
    # -- which verb (CI adapters only; the CLI takes it as the sub-command)
    Input(
        "command",
        "choice",
        "The ci-deploy verb to run.",
        verbs=(),
        default="deploy",
        choices=("deploy", "validate", "bundle", "push", "wait", "status", "stop", "rollback"),
        adapter_only=True,
    ),
    # -- what to deploy
    Input(
        "source",
        "path",
        "Revision directory, appspec file or prebuilt bundle (.zip/.tar/.tgz); "
        "local also takes s3://bucket/key[?versionId=...].",
        verbs=_SOURCE_VERBS,
        default=".",
        positional=True,
    ),
    Input(
        "deployment_id",
        "str",
        "The CodeDeploy deployment id (d-XXXXXXXXX).",
        verbs=("wait", "status", "stop"),
        positional=True,
    ),
    Input(
        "compute_platform",
        "choice",
        "Compute platform of the appspec; detected from its content when not given.",
        verbs=("validate", "bundle", "push", "deploy"),
        choices=("server", "ecs", "lambda"),
    ),
    Input(
        "appspec_filename",
        "str",
        "AppSpec file name at the revision root (default: appspec.yml, then appspec.yaml).",
        verbs=("validate", "bundle", "push", "deploy", "local"),
    ),
    Input(
        "format",
        "choice",
        "How validate reports problems: text on stderr, or json/github/gitlab on stdout.",
        verbs=("validate",),
        default="text",
        choices=("text", "json", "github", "gitlab"),
        cli_only=True,
    ),
    # -- bundle
    Input(
        "output",
        "path",
        "Where to write the bundle.",
        verbs=("bundle",),
    ),
    Input(
        "bundle_type",
        "choice",
        "Bundle archive type (default: from the output's extension, else zip).",
        verbs=("bundle", "push", "deploy"),
        choices=ARCHIVE_BUNDLE_TYPES,
    ),
    Input(
        "validate",
        "bool",
        "Validate the appspec before bundling.",
        verbs=("bundle", "push", "deploy"),
        default=True,
    ),
    Input(
        "exclude",
        "list",
        "Extra ignore patterns (gitignore syntax), on top of .codedeployignore.",
        verbs=("bundle", "push", "deploy"),
        default=(),
        metavar="PATTERN",
    ),
    Input(
        "follow_symlinks",
        "bool",
        "Store the content of symlink targets instead of the links.",
        verbs=("bundle", "push", "deploy"),
        default=False,
    ),
    # -- where it goes
    Input(
        "application",
        "str",
        "CodeDeploy application name.",
        verbs=("push", "deploy", "rollback", "local", *_POLICY),
    ),
    Input(
        "deployment_group",
        "str",
        "CodeDeploy deployment group name.",
        verbs=("deploy", "rollback", "local", *_POLICY),
    ),
    Input(
        "s3_location",
        "str",
        "s3://bucket[/prefix] to upload to, or s3://bucket/key of an existing bundle; "
        "{region} is replaced per region.",
        verbs=(*_REVISION_VERBS, *_POLICY),
    ),
    Input(
        "register",
        "bool",
        "Register the revision with RegisterApplicationRevision.",
        verbs=(*_REVISION_VERBS, *_POLICY),
        default=True,
    ),
    Input(
        "upload",
        "bool",
        "Bundle and upload SOURCE; --no-upload uses the existing object at --s3-location as is "
        "(its version and ETag pinned).",
        verbs=(*_REVISION_VERBS, *_POLICY),
        default=True,
    ),
    Input(
        "sse",
        "choice",
        "Server-side encryption of the uploaded bundle.",
        verbs=_REVISION_VERBS,
        choices=("AES256", "aws:kms"),
    ),
    Input(
        "sse_kms_key_id",
        "str",
        "KMS key id or ARN for --sse aws:kms.",
        verbs=_REVISION_VERBS,
    ),
    Input(
        "expected_bucket_owner",
        "str",
        "Account id that must own the bucket.",
        verbs=_REVISION_VERBS,
    ),
    Input(
        "github_repository",
        "str",
        "owner/repo of a GitHub revision (instead of an S3 bundle).",
        verbs=_REVISION_VERBS,
    ),
    Input(
        "commit_id",
        "str",
        "Commit SHA of a GitHub revision.",
        verbs=_REVISION_VERBS,
    ),
    Input(
        "task_definition",
        "str",
        "ECS task definition ARN substituted into the appspec's TaskDefinition.",
        verbs=_REVISION_VERBS,
    ),
    # -- the deployment
    Input(
        "deployment_config",
        "str",
        "Deployment configuration name (default: the group's).",
        verbs=("deploy", *_POLICY),
    ),
    Input(
        "description",
        "str",
        "Deployment description, at most 256 characters (default names the commit and CI run).",
        verbs=("deploy",),
    ),
    Input(
        "file_exists_behavior",
        "choice",
        "What to do with files on the instance that a previous deployment did not install "
        "(Server platform only).",
        verbs=("deploy", "local"),
        choices=FILE_EXISTS_BEHAVIORS,
    ),
    Input(
        "ignore_application_stop_failures",
        "bool",
        "Carry on when the previous revision's ApplicationStop/BlockTraffic hooks fail.",
        verbs=("deploy", "local"),
        default=False,
    ),
    Input(
        "auto_rollback",
        "list",
        "Roll back automatically on these events (none: disable; default: the group's setting).",
        verbs=("deploy",),
        default=(),
        choices=("failure", "stop-on-alarm", "stop-on-request", "none"),
        no_flag_value="none",
    ),
    Input(
        "update_outdated_instances_only",
        "bool",
        "Deploy only to instances not already running this revision.",
        verbs=("deploy",),
        default=False,
    ),
    Input(
        "target_instances",
        "list",
        "Blue/green replacement instances for this deployment: asg:NAME (an Auto Scaling "
        "group to copy) or tag:KEY=VALUE (EC2 tag filter); default: the group's setting.",
        verbs=("deploy",),
        default=(),
        metavar="asg:NAME|tag:KEY=VALUE",
    ),
    Input(
        "dry_run",
        "bool",
        "Check the deploy with read-only calls and print the CreateDeployment request of each "
        "region; nothing is uploaded, registered or created.",
        verbs=("deploy",),
        default=False,
    ),
    # -- waiting
    Input(
        "wait",
        "bool",
        "Watch the deployment until it ends.",
        verbs=("deploy", "rollback"),
        default=True,
    ),
    Input(
        "wait_for_active",
        "bool",
        "If another deployment is active in the group, wait for it to end, then start.",
        verbs=("deploy", "rollback"),
        default=True,
    ),
    Input(
        "wait_timeout_seconds",
        "int",
        "Give up watching after this many seconds (default: from the group's wait times).",
        verbs=_WATCH_VERBS,
        minimum=1,
        aliases=("--timeout-seconds",),
    ),
    Input(
        "on_ready",
        "choice",
        "A blue/green deployment waiting for reroute: continue it, wait, or count it a success.",
        verbs=(*_WATCH_VERBS, *_POLICY),
        default="wait",
        choices=("continue", "wait", "succeed"),
    ),
    Input(
        "progress_targets",
        "int",
        "Log each target's lifecycle events for fleets up to this many targets; larger fleets "
        "get counts and each failed target (and are polled only for the targets that move).",
        verbs=_WATCH_VERBS,
        default=20,
        minimum=0,
        metavar="N",
    ),
    Input(
        "stop_on_cancel",
        "bool",
        "Stop the deployment when the job is cancelled (SIGINT/SIGTERM).",
        verbs=(*_WATCH_VERBS, *_POLICY),
        default=True,
    ),
    Input(
        "rollback_on_cancel",
        "bool",
        "Roll back when the job is cancelled and the deployment is stopped.",
        verbs=_WATCH_VERBS,
        default=False,
    ),
    Input(
        "rollback",
        "bool",
        "Roll back the instances already updated.",
        verbs=("stop",),
        default=False,
    ),
    Input(
        "rollback_to",
        "str",
        "Deployment id whose revision to redeploy (default: the last successful before current).",
        verbs=("rollback",),
        aliases=("--to",),
    ),
    # -- where
    Input(
        "regions",
        "list",
        "AWS region(s) to deploy to (default: the SDK's region).",
        verbs=(*_AWS_VERBS, *_POLICY),
        default=(),
        aliases=("--region",),
        metavar="REGION",
    ),
    Input(
        "rollout",
        "choice",
        "With several regions: one after another (stop at the first failure) or all at once.",
        verbs=("deploy",),
        default="serial",
        choices=("serial", "parallel"),
    ),
    Input(
        "endpoint_url",
        "str",
        "CodeDeploy/S3 endpoint URL (e.g. the ci-deploy emulator).",
        verbs=(*_AWS_VERBS, "local"),
    ),
    Input(
        "emulator",
        "bool",
        "Deploy to an embedded ci-deploy emulator started for this command.",
        verbs=("deploy",),
        default=False,
    ),
    # -- reporting to GitHub
    Input(
        "github_deployment",
        "str",
        "GitHub environment name to report this deployment to (GitHub deployment statuses).",
        verbs=("deploy", "rollback"),
    ),
    Input(
        "github_token",
        "str",
        "Token for GitHub deployment statuses.",
        verbs=("deploy", "rollback"),
        secret=True,
    ),
    # -- notifications
    Input(
        "notify",
        "list",
        "Web hooks to notify when a deployment starts and ends, each [slack:|teams:|json:]URL: "
        "Slack, Microsoft Teams, or the result as JSON to any other URL (the kind is read from "
        "the host when not given).",
        verbs=("deploy", "rollback", "wait"),
        default=(),
        secret=True,
        secret_flag=True,
        metavar="[KIND:]URL",
    ),
    # -- output
    Input(
        "json",
        "bool",
        "Print the result as JSON on stdout.",
        verbs=("status", "local"),
        default=False,
        cli_only=True,
    ),
    # -- local engine
    Input(
        "events",
        "list",
        "Lifecycle events to run, in order (DownloadBundle and Install are added).",
        verbs=("local",),
        default=(),
    ),
    Input(
        "root",
        "path",
        "Install every destination under this directory instead of /.",
        verbs=("local",),
    ),
    Input(
        "allow_system_paths",
        "bool",
        "Allow installing into / (only sensible inside a container or a throwaway host).",
        verbs=("local",),
        default=False,
    ),
    Input(
        "state_dir",
        "path",
        "Where deployment records live.",
        verbs=("local", "emulator"),
    ),
    Input(
        "max_unpacked_size",
        "size",
        "Refuse a bundle that unpacks to more than this, in bytes or with a unit (500MiB, 4GiB).",
        verbs=("local", "emulator"),
        default=4 << 30,
        minimum=1,
        metavar="SIZE",
    ),
    Input(
        "keep_revisions",
        "int",
        "How many revisions to keep per deployment group.",
        verbs=("local",),
        default=5,
        minimum=1,
    ),
    Input(
        "hook_env",
        "list",
        "Pass the variable NAME, with its value here, to hooks (repeatable). Otherwise hooks "
        "get only PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ and TMPDIR from "
        "here, plus the agent's lifecycle and BUNDLE_* variables, as on an instance: never the "
        "rest of this environment (a CI job's secrets).",
        verbs=("local",),
        default=(),
        metavar="NAME[,NAME]",
    ),
    # -- emulator
    Input(
        "port",
        "int",
        "Loopback port to serve on.",
        verbs=("emulator",),
        default=4599,
        minimum=0,
        maximum=65535,
    ),
    Input(
        "instances",
        "int",
        "Running EC2 instances the emulator launches in each region, tagged "
        "Name=ci-deploy-emulator "
        "(the fleet a group made by deploy --emulator selects).",
        verbs=("emulator", "deploy"),
        default=3,
        minimum=1,
        maximum=1000,
    ),
    Input(
        "event_delay_ms",
        "int",
        "Pause between lifecycle events, to make progress visible in demos.",
        verbs=("emulator", "deploy"),
        default=0,
        minimum=0,
        maximum=60_000,  # a minute per event is already slower than any demo wants
    ),
    # -- iam-policy
    Input(
        "verbs",
        "list",
        "The verbs the policy is for (dry-run: deploy --dry-run): it allows exactly the calls "
        "they make.",
        verbs=_POLICY,
        default=("deploy",),
        choices=("push", "deploy", "dry-run", "rollback", "wait", "status", "stop"),
        metavar="VERB[,VERB]",
    ),
    Input(
        "account_id",
        "str",
        "AWS account id (12 digits) of the resources the policy names, or * for any account.",
        verbs=_POLICY,
    ),
    Input(
        "kms_key",
        "list",
        "KMS key id or ARN that encrypts the uploaded bundles (--sse-kms-key-id or the bucket's "
        "default key): allow GenerateDataKey and Decrypt on it; an id is named in every region.",
        verbs=_POLICY,
        default=(),
        metavar="KEY",
    ),
    Input(
        "policy_format",
        "choice",
        "How iam-policy prints the policy: an IAM policy document (JSON) or a Terraform "
        "aws_iam_policy_document data block.",
        verbs=_POLICY,
        default="json",
        choices=("json", "terraform"),
        aliases=("--format",),
        cli_only=True,
    ),
    # -- everywhere
    Input(
        "ci_system",
        "choice",
        "How to render progress: detected from the environment, or forced.",
        verbs=VERBS,
        default="auto",
        choices=("auto", "plain", "github", "gitlab", "jenkins"),
        cli_only=True,
    ),
    # Environment only, like the runner files GitHub names (GITHUB_OUTPUT): the GitLab template
    # sets it and lists the same path under artifacts:reports:dotenv.
    Input(
        "dotenv_file",
        "path",
        "GitLab: write CI_DEPLOY_DEPLOYMENT_ID, CI_DEPLOY_STATUS and CI_DEPLOY_DEPLOYMENT_URL "
        "of the result to this dotenv report file (environment only).",
        verbs=(),
        cli_only=True,
    ),
    Input(
        "debug",
        "bool",
        "Show a traceback on unexpected errors.",
        verbs=VERBS,
        default=False,
    ),
)

BY_NAME: Mapping[str, Input] = {spec.name: spec for spec in TABLE}


# The verbs a CI adapter can run (its `command` input); `local` and `emulator` are CLI-only.
ADAPTER_VERBS: tuple[str, ...] = BY_NAME["command"].choices


def adapter_inputs() -> tuple[Input, ...]:
    """The inputs every CI adapter exposes, in table order: `command` plus each input of an
    adapter verb that is not CLI-only. Contract tests hold action.yml, the GitLab spec and the
    Jenkins defaultConfig to exactly this list and its defaults."""
    return tuple(
        spec
        for spec in TABLE
        if spec.adapter_only
        or (not spec.cli_only and any(verb in ADAPTER_VERBS for verb in spec.verbs))
    )


def for_verb(verb: str) -> tuple[Input, ...]:
    """The inputs a verb takes, in table order."""
    return tuple(spec for spec in TABLE if verb in spec.verbs)


Value = str | bool | int | tuple[str, ...] | Path | None


@dataclass(frozen=True)
class Request:
    """A verb's resolved inputs (flags over environment over defaults), with typed access.

    ``env`` is a snapshot of the process environment taken by the CLI, for the few things the
    core needs to know about the run (runner file protocol paths, the AWS region); ``ci`` is
    what it says about the CI run (which CI, commit, run and job pages), read from it once.
    """

    verb: str
    values: Mapping[str, Value]
    env: Mapping[str, str] = field(default_factory=dict)
    ci: CiEnvironment = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ci", ci_environment(self.env))

    def _get(self, name: str) -> Value:
        if name not in self.values:
            raise KeyError(f"{self.verb} takes no input {name!r}")
        return self.values[name]

    def text(self, name: str) -> str | None:
        value = self._get(name)
        if value is None or isinstance(value, str):
            return value
        raise TypeError(f"input {name} is not a string")

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None or not value.strip():
            spec = BY_NAME[name]
            # A positional input has no flag: name its argument (ci-deploy wait DEPLOYMENT_ID).
            given = f"pass {spec.flag}"
            if spec.positional:
                given = f"give {name.upper()} as an argument"
            raise InputError(
                f"input {name} is required for {self.verb}",
                hint=f"{given} or set {spec.env}",
            )
        return value

    def flag(self, name: str) -> bool:
        value = self._get(name)
        if isinstance(value, bool):
            return value
        raise TypeError(f"input {name} is not a boolean")

    def number(self, name: str) -> int | None:
        value = self._get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise TypeError(f"input {name} is not a number")

    def items(self, name: str) -> tuple[str, ...]:
        value = self._get(name)
        if isinstance(value, tuple):
            return value
        raise TypeError(f"input {name} is not a list")

    def path(self, name: str) -> Path | None:
        value = self._get(name)
        if value is None or isinstance(value, Path):
            return value
        raise TypeError(f"input {name} is not a path")


def resolve(verb: str, flags: Mapping[str, object], env: Mapping[str, str]) -> dict[str, Value]:
    """Resolve each input of ``verb``: a flag given on the command line, else its
    ``CI_DEPLOY_*`` variable when set and non-empty, else the table's default."""
    values: dict[str, Value] = {}
    for spec in for_verb(verb):
        flag_value = flags.get(spec.name)
        if flag_value is not None and flag_value != ():
            values[spec.name] = _typed(spec, flag_value)
            continue
        raw = env.get(spec.env, "")
        if raw.strip():
            values[spec.name] = spec.parse(raw)
            continue
        default = spec.default
        is_path = spec.kind == "path" and isinstance(default, str)
        values[spec.name] = Path(str(default)) if is_path else default
    return values


def _typed(spec: Input, value: object) -> Value:
    """A value argparse produced; lists may arrive as repeated flags with comma lists inside."""
    if spec.kind == "list":
        assert isinstance(value, list | tuple)
        return tuple(item for raw in value for item in parse_list(spec, str(raw)))
    if isinstance(value, str) and spec.kind != "str":
        return spec.parse(value)
    assert isinstance(value, str | bool | int | Path)
    return value
