"""Rules of the EC2/on-premises AppSpec, as the CodeDeploy agent applies them.

Sources: the AppSpec reference of the CodeDeploy user guide
(https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure.html)
and the agent's source; where the two disagree the message says which one a rule follows.
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath

from ci_deploy.appspec.checks import (
    Context,
    describe,
    key_name,
    mapping,
    plain_number,
    revision_path,
    sequence,
    string,
    suggestion,
    unknown_keys,
)
from ci_deploy.appspec.diagnostics import shorten
from ci_deploy.appspec.nodes import Mapping, Node, Scalar, is_null
from ci_deploy.appspec.permission_match import (
    DEFAULT_TYPES,
    Rule,
    normal_object,
)
from ci_deploy.appspec.permission_overlap import check_overlaps
from ci_deploy.vocabulary import FILE_EXISTS_BEHAVIORS, SERVER_HOOK_EVENTS, SERVER_RESERVED_EVENTS

# -- the rule data (the JSON Schema in ci_deploy/schemas is generated from it) -----------------

TOP_LEVEL_KEYS = ("version", "os", "files", "file_exists_behavior", "permissions", "hooks")
OPERATING_SYSTEMS = ("linux", "windows")
FILE_KEYS = ("source", "destination")
PERMISSION_KEYS = (
    "object",
    "pattern",
    "except",
    "owner",
    "group",
    "mode",
    "acls",
    "context",
    "type",
)
PERMISSION_TYPES = ("file", "directory")
# The agent reads the SELinux user from `name` (the docs say `user`) and requires `type`.
CONTEXT_KEYS = ("name", "type", "range")
SCRIPT_KEYS = ("location", "timeout", "runas", "sudo")
SCRIPTABLE_EVENTS = SERVER_HOOK_EVENTS
RESERVED_EVENTS = SERVER_RESERVED_EVENTS
MAX_TIMEOUT_SECONDS = 3600
MODE = re.compile(r"[0-7]{1,4}")
ACL = re.compile(
    r"(?P<default>d(?:efault)?:)?(?P<tag>u(?:ser)?|g(?:roup)?|m(?:ask)?|o(?:ther)?)"
    r":(?P<name>[^:]*):(?P<perms>[rwx-]{1,3}|[0-7])"
)
# Levels and categories are at most 4 ASCII digits (c1023 is the highest category), so a
# longer number reads as a malformed range instead of reaching int().
SELINUX_RANGE = re.compile(
    r"s(?P<low>[0-9]{1,4})(?:-s(?P<high>[0-9]{1,4}))?"
    r"(?::(?P<categories>c[0-9]{1,4}(?:\.c[0-9]{1,4})?(?:,c[0-9]{1,4}(?:\.c[0-9]{1,4})?)*))?"
)
MAX_SELINUX_CATEGORY = 1023
# A Linux user name as shadow-utils' useradd accepts one (lib/chkname.c, is_valid_user_name):
# [A-Za-z0-9_.][A-Za-z0-9_.-]*$? (so never starting with '-'), not only digits, not '.' or '..',
# shorter than LOGIN_NAME_MAX (256 with glibc). The agent runs `su RUNAS -c SCRIPT` through a
# shell, so anything else would be read as su's option or as shell syntax.
USER_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?")
MAX_USER_NAME = 255
# What the agent strips from runas (Ruby's String#strip).
RUNAS_SPACE = " \t\n\v\f\r\0"
WINDOWS_ABSOLUTE = re.compile(r"([A-Za-z]:[\\/]|\\\\)")

_TOP_CONSEQUENCE = "the agent ignores it"


def check(ctx: Context, root: Mapping) -> None:
    """Every rule of a Server appspec, reported all at once."""
    unknown_keys(ctx, root, TOP_LEVEL_KEYS, "the AppSpec", _TOP_CONSEQUENCE)
    _check_version(ctx, root)
    os_name = _check_os(ctx, root)
    destinations = _check_files(ctx, root, os_name)
    _check_file_exists_behavior(ctx, root)
    _check_permissions(ctx, root, os_name, destinations)
    _check_hooks(ctx, root, os_name)


def _check_version(ctx: Context, root: Mapping) -> None:
    entry = root.get("version")
    if entry is None:
        ctx.error(root, "version-missing", "'version' is missing: add 'version: 0.0' (unquoted)")
        return
    node = entry[1]
    if isinstance(node, Scalar) and node.quoted and node.value in ("0.0", "0"):
        ctx.error(
            node,
            "version-quoted",
            f'version is the quoted string "{node.value}": the agent compares it with the number '
            "0.0 and "
            "rejects a quoted value (the docs' 'string' wording is wrong); write version: 0.0 "
            "without quotes",
        )
        return
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return
    ctx.error(node, "version-invalid", f"version is {describe(node)}: write version: 0.0")


def _check_os(ctx: Context, root: Mapping) -> str | None:
    entry = root.get("os")
    if entry is None:
        ctx.error(
            root,
            "os-missing",
            "'os' is missing: the agent fails with 'unsupported operating system'; add "
            "'os: linux' or 'os: windows'",
        )
        return None
    node = entry[1]
    value = node.value if isinstance(node, Scalar) else None
    if value in OPERATING_SYSTEMS:
        assert isinstance(value, str)
        return value
    folded = value.strip().lower() if isinstance(value, str) else None
    hint = f" (lower case: {folded})" if folded in OPERATING_SYSTEMS else ""
    ctx.error(
        node,
        "os-invalid",
        f"os is {describe(node)}: write 'os: linux' or 'os: windows'{hint}",
    )
    # Check the rest as for the os the author evidently meant.
    return folded if folded in OPERATING_SYSTEMS else None


def _check_files(ctx: Context, root: Mapping, os_name: str | None) -> list[str]:
    """Check `files`; return the destinations (for the permissions checks)."""
    entry = root.get("files")
    if entry is None or is_null(entry[1]):
        return []
    items = sequence(ctx, entry[1], "files", "a list of '- source: ...' / 'destination: ...'")
    if items is None:
        return []
    destinations = []
    for item in items.items:
        spec = mapping(ctx, item, "a files entry", "'- source: app/' and 'destination: /srv/app'")
        if spec is None:
            continue
        unknown_keys(ctx, spec, FILE_KEYS, "a files entry", _TOP_CONSEQUENCE)
        source = spec.get("source")
        destination = spec.get("destination")
        if source is None:
            ctx.error(
                spec,
                "files-source-missing",
                "this files entry has no 'source' (the agent fails: 'specifies a destination "
                "file, but no source file'): add 'source:' with a path relative to the revision "
                "root, or '/' for everything",
            )
        else:
            _check_source(ctx, source[1])
        if destination is None:
            ctx.error(
                spec,
                "files-destination-missing",
                "this files entry has no 'destination' (the agent fails: 'specifies only a "
                "source file'): add 'destination:' with an absolute directory path",
            )
            continue
        text = string(ctx, destination[1], "destination", "an absolute path such as /srv/app")
        if text is None:
            continue
        destinations.append(text)
        if os_name == "linux" and not text.startswith("/"):
            ctx.error(
                destination[1],
                "files-destination-relative",
                f"destination {text!r} is not an absolute path: write a full path such as "
                f"/{text.lstrip('./')}",
            )
        if os_name == "windows" and not WINDOWS_ABSOLUTE.match(text):
            ctx.error(
                destination[1],
                "files-destination-relative",
                f"destination {text!r} is not an absolute Windows path: write a full path such "
                r"as C:\inetpub\wwwroot",
            )
    return destinations


def _check_source(ctx: Context, node: Node) -> None:
    text = string(ctx, node, "source", "a path relative to the revision root, or '/'")
    if text is None or text.strip() in ("/", "\\"):
        return
    assert isinstance(node, Scalar)
    path = revision_path(ctx, node, text, "source")
    if path is not None and not path.exists() and not path.is_symlink():
        ctx.error(
            node,
            "files-source-not-found",
            f"source {text!r} does not exist in the revision: add it, or fix the path "
            "(it is relative to the revision root)",
        )


def _check_file_exists_behavior(ctx: Context, root: Mapping) -> None:
    entry = root.get("file_exists_behavior")
    if entry is None:
        return
    node = entry[1]
    value = node.value if isinstance(node, Scalar) else None
    if value in FILE_EXISTS_BEHAVIORS:
        return
    hint = ""
    if isinstance(value, str) and value.strip().upper() in FILE_EXISTS_BEHAVIORS:
        hint = f" (the agent wants upper case: {value.strip().upper()})"
    ctx.error(
        node,
        "file-exists-behavior-invalid",
        f"file_exists_behavior is {describe(node)}: write DISALLOW, OVERWRITE or RETAIN{hint}",
    )


# -- permissions ------------------------------------------------------------------------------


def _check_permissions(
    ctx: Context, root: Mapping, os_name: str | None, destinations: list[str]
) -> None:
    entry = root.get("permissions")
    if entry is None or is_null(entry[1]):
        return
    items = sequence(ctx, entry[1], "permissions", "a list of '- object: /path' entries")
    if items is None:
        return
    if os_name == "windows" and items.items:
        ctx.error(
            entry[0],
            "permissions-on-windows",
            "permissions apply to Linux only; with 'os: windows' the agent fails the whole "
            "AppSpec: remove the permissions section (set ACLs from a hook script instead)",
        )
    rules: list[tuple[Rule, Node]] = []
    for item in items.items:
        spec = mapping(ctx, item, "a permissions entry", "'- object: /srv/app' with its settings")
        if spec is None:
            continue
        unknown_keys(ctx, spec, PERMISSION_KEYS, "a permissions entry", _TOP_CONSEQUENCE)
        _check_permission(ctx, spec, destinations if os_name != "windows" else None)
        rule = _rule(spec) if os_name != "windows" else None
        if rule is not None:
            rules.append(rule)
    check_overlaps(ctx, root, entry[0], rules)


def _check_permission(ctx: Context, spec: Mapping, destinations: list[str] | None) -> None:
    """One permissions entry; ``destinations`` is None when paths are not Linux paths."""
    entry = spec.get("object")
    if entry is None:
        ctx.error(
            spec,
            "permissions-object-missing",
            "this permissions entry has no 'object': add 'object:' with the absolute path of an "
            "installed file or directory",
        )
    else:
        _check_object(ctx, entry[1], destinations)
    for name in ("pattern", "except"):
        found = spec.get(name)
        if found is not None:
            _check_patterns(ctx, name, found[1])
    for name in ("owner", "group"):
        found = spec.get(name)
        if found is not None:
            string(ctx, found[1], name, f"a {'user' if name == 'owner' else 'group'} name")
    found = spec.get("mode")
    if found is not None:
        _check_mode(ctx, found[1])
    found = spec.get("type")
    if found is not None:
        _check_types(ctx, found[1])
    found = spec.get("acls")
    if found is not None:
        _check_acls(ctx, found[1])
    found = spec.get("context")
    if found is not None:
        _check_context(ctx, found[0], found[1])


def _check_object(ctx: Context, node: Node, destinations: list[str] | None) -> None:
    text = string(ctx, node, "object", "an absolute path such as /srv/app")
    if text is None:
        return
    normal = text.rstrip("/") or "/"
    if destinations is None:
        return
    if not text.startswith("/"):
        ctx.error(
            node,
            "permissions-object-relative",
            f"object {text!r} is not an absolute path: write the installed path, such as "
            f"/{text.lstrip('./')}",
        )
        return
    target = PurePosixPath(normal)
    installed = [PurePosixPath(d.rstrip("/") or "/") for d in destinations if d.startswith("/")]
    if not any(_overlaps(target, place) for place in installed):
        ctx.warning(
            node,
            "permissions-object-not-installed",
            f"object {text!r} is not under any files destination: permissions apply only to "
            "what this deployment installs, so this entry changes nothing; point it at a "
            "destination",
        )


def _overlaps(one: PurePosixPath, other: PurePosixPath) -> bool:
    return one == other or one in other.parents or other in one.parents


def _rule(spec: Mapping) -> tuple[Rule, Node] | None:
    """What an entry reaches, when its object, pattern, except and type are well formed (the
    checks above report the others), with its object's node."""
    found = spec.get("object")
    if found is None:
        return None
    node = found[1]
    text = node.value if isinstance(node, Scalar) else None
    if not isinstance(text, str) or not text.strip().startswith("/"):
        return None
    pattern = _plain(spec, "pattern", "**")
    excepts = _plain(spec, "except", [])
    types = _plain(spec, "type", list(DEFAULT_TYPES))
    if not isinstance(pattern, str) or not isinstance(excepts, list) or not isinstance(types, list):
        return None
    if not all(isinstance(glob, str) for glob in excepts):
        return None
    if not all(kind in PERMISSION_TYPES for kind in types):
        return None
    return Rule(normal_object(text), pattern, tuple(excepts), tuple(types)), node


def _plain(spec: Mapping, name: str, default: object) -> object:
    found = spec.get(name)
    return default if found is None or is_null(found[1]) else found[1].to_python()


def _check_patterns(ctx: Context, name: str, node: Node) -> None:
    if name == "pattern":
        globs: list[tuple[Node, str | None]] = [
            (node, string(ctx, node, "pattern", "'**' or a simple glob such as '*.sh'"))
        ]
    else:
        items = sequence(ctx, node, "except", "a list of simple globs such as ['*.log']")
        globs = []
        for item in items.items if items is not None else []:
            globs.append((item, string(ctx, item, "an except entry", "a glob such as '*.log'")))
    for glob_node, glob in globs:
        if glob is None or glob == "**":
            continue
        if "/" in glob or "**" in glob:
            ctx.error(
                glob_node,
                "permissions-pattern-path",
                f"{name} {glob!r} has a path or '**' in it: the agent matches {name} against "
                "the names of the object's immediate children only ('**' alone means every "
                "descendant); use a name glob such as '*.sh', or another entry with a deeper "
                "object",
            )


def _check_mode(ctx: Context, node: Node) -> None:
    if isinstance(node, Scalar) and not node.quoted and re.fullmatch(r"0[0-7]+", node.raw):
        ctx.error(
            node,
            "mode-leading-zero",
            f"mode {node.raw} is unquoted with a leading zero: YAML 1.1 (the 1.x agent) reads it "
            f"as the octal number {node.value} and applies mode {node.value}; quote it "
            f'(mode: "{node.raw}") or drop the zero (mode: {node.raw.lstrip("0") or "0"})',
        )
        return
    value = node.value if isinstance(node, Scalar) else None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not MODE.fullmatch(str(value))
    ):
        ctx.error(
            node,
            "mode-invalid",
            f'mode is {describe(node)}: write 1 to 4 octal digits (0-7), such as 644 or "0755"; '
            "symbolic modes are not supported",
        )


def _check_types(ctx: Context, node: Node) -> None:
    if isinstance(node, Scalar) and node.value in PERMISSION_TYPES:
        ctx.error(
            node,
            "wrong-type",
            f"type must be a list: write 'type: [{node.value}]'",
        )
        return
    items = sequence(ctx, node, "type", "[file], [directory] or [file, directory]")
    for item in items.items if items is not None else []:
        value = item.value if isinstance(item, Scalar) else None
        if value not in PERMISSION_TYPES:
            ctx.error(
                item,
                "permissions-type-invalid",
                f"type entry is {describe(item)}: write 'file' or 'directory'",
            )


def _check_acls(ctx: Context, node: Node) -> None:
    items = sequence(ctx, node, "acls", "a list such as ['u:deploy:rw', 'd:g:web:r']")
    for item in items.items if items is not None else []:
        text = string(ctx, item, "an acls entry", "'u:NAME:rwx' or 'g:NAME:r-x'")
        if text is None:
            continue
        match = ACL.fullmatch(text)
        if match is None:
            ctx.error(
                item,
                "acl-invalid",
                f"acl {text!r} is not '[d:]{{u|g|m|o}}:[name]:perms': write for example "
                "'u:deploy:rw' or 'd:g:web:r-x' (perms: r, w, x, - or one octal digit)",
            )
            continue
        tag = match["tag"][0]
        if tag in "ug" and not match["name"]:
            ctx.error(
                item,
                "acl-base-entry",
                f"acl {text!r} sets the base {'owner' if tag == 'u' else 'group'} entry, which "
                "the agent rejects: use 'mode' for it, or name a user or group",
            )
        elif tag in "mo" and match["name"]:
            ctx.error(
                item,
                "acl-invalid",
                f"acl {text!r} names a {'mask' if tag == 'm' else 'other'} entry, which takes "
                f"no name: write '{match['tag']}::{match['perms']}'",
            )
        elif tag == "o":
            ctx.error(
                item,
                "acl-base-entry",
                f"acl {text!r} sets the base 'other' entry, which the agent rejects: use 'mode'",
            )


def _check_context(ctx: Context, key: Scalar, node: Node) -> None:
    spec = mapping(ctx, node, "context", "'name: system_u', 'type: httpd_sys_content_t'")
    if spec is None:
        return
    for entry_key, _ in spec:
        name = key_name(entry_key)
        if name == "user":
            ctx.error(
                entry_key,
                "context-user-key",
                "the agent reads the SELinux user from 'name' and silently ignores 'user' (the "
                "docs are wrong here): rename 'user:' to 'name:'",
            )
        elif name == "role":
            ctx.error(
                entry_key,
                "context-role",
                "the agent rejects an SELinux 'role' in context: remove it (set name, type and "
                "range only)",
            )
        elif name not in CONTEXT_KEYS:
            ctx.warning(
                entry_key,
                "unknown-key",
                f"unknown key {name!r} in context{suggestion(name, CONTEXT_KEYS)}: the agent "
                "ignores it; valid keys are name, type, range",
            )
    found = spec.get("type")
    if found is None:
        ctx.error(
            key,
            "context-type-missing",
            "context has no 'type': the agent requires it (the docs call it optional); add "
            "for example 'type: httpd_sys_content_t'",
        )
    else:
        string(ctx, found[1], "context type", "an SELinux type such as httpd_sys_content_t")
    found = spec.get("name")
    if found is not None:
        string(ctx, found[1], "context name", "an SELinux user such as system_u")
    found = spec.get("range")
    if found is not None:
        _check_range(ctx, found[1])


def _check_range(ctx: Context, node: Node) -> None:
    text = string(ctx, node, "context range", "an MLS range such as s0-s0:c0.c1023")
    if text is None:
        return
    match = SELINUX_RANGE.fullmatch(text)
    problem = None
    if match is None:
        problem = "it is not 's<N>[-s<M>][:c<N>[.c<M>],...]'"
    else:
        low, high = int(match["low"]), int(match["high"] or match["low"])
        spans: list[tuple[int, int]] = []
        for part in (match["categories"] or "").split(",") if match["categories"] else []:
            first, _, last = part.partition(".")
            start, end = int(first[1:]), int(last[1:]) if last else int(first[1:])
            if end < start:
                problem = f"category range {part} runs backwards"
            spans.append((start, end))
        # Bounds first: only ranges within c0..c1023 are expanded to look for repeats.
        in_bounds = all(end <= MAX_SELINUX_CATEGORY for _, end in spans)
        categories = [c for start, end in spans for c in range(start, end + 1)] if in_bounds else []
        if high < low:
            problem = f"the high level s{high} is below the low level s{low}"
        elif not in_bounds:
            problem = f"categories go up to c{MAX_SELINUX_CATEGORY}"
        elif len(set(categories)) != len(categories):
            problem = "a category is listed twice"
    if problem is not None:
        ctx.error(
            node,
            "context-range-invalid",
            f"context range {shorten(text)!r} is invalid: {problem}; write for example 's0' or "
            "'s0-s0:c0.c1023'",
        )


# -- hooks ------------------------------------------------------------------------------------


def _check_hooks(ctx: Context, root: Mapping, os_name: str | None) -> None:
    entry = root.get("hooks")
    if entry is None or is_null(entry[1]):
        return
    hooks = mapping(ctx, entry[1], "hooks", "'BeforeInstall:' followed by a list of scripts")
    if hooks is None:
        return
    for event_key, scripts_node in hooks:
        _check_event_name(ctx, event_key)
        if is_null(scripts_node):
            continue
        scripts = sequence(ctx, scripts_node, "a hook", "a list of '- location: scripts/x.sh'")
        if scripts is None:
            continue
        total = 0
        for item in scripts.items:
            script = mapping(ctx, item, "a hook script", "'- location: scripts/x.sh'")
            if script is not None:
                unknown_keys(ctx, script, SCRIPT_KEYS, "a hook script", _TOP_CONSEQUENCE)
                total += _check_script(ctx, script, os_name)
        if total > MAX_TIMEOUT_SECONDS:
            ctx.error(
                event_key,
                "hook-timeout-sum",
                f"the timeouts of {key_name(event_key)} add up to {total} s: CodeDeploy fails a "
                f"lifecycle event that runs past {MAX_TIMEOUT_SECONDS} s; lower the timeouts so "
                f"their sum is at most {MAX_TIMEOUT_SECONDS}",
            )


def _check_event_name(ctx: Context, key: Scalar) -> None:
    name = key_name(key)
    if name in SCRIPTABLE_EVENTS:
        return
    if name in RESERVED_EVENTS:
        ctx.error(
            key,
            "hook-reserved-event",
            f"{name} is run by CodeDeploy itself and cannot run scripts (the agent silently "
            "never runs scripts listed here): move them to BeforeInstall, AfterInstall or "
            "another scriptable event",
        )
        return
    ctx.error(
        key,
        "hook-unknown-event",
        f"unknown lifecycle event {name!r}{suggestion(name, SCRIPTABLE_EVENTS)}: the agent fails "
        "the deployment at Install ('unknown lifecycle events'); use one of "
        + ", ".join(SCRIPTABLE_EVENTS),
    )


def _check_script(ctx: Context, script: Mapping, os_name: str | None) -> int:
    """Check one hook script; return its explicit timeout (0 when not given or invalid)."""
    entry = script.get("location")
    if entry is None:
        ctx.error(
            script,
            "hook-location-missing",
            "this hook script has no 'location': add 'location:' with the script's path "
            "relative to the revision root",
        )
    else:
        _check_location(ctx, entry[1], os_name)
    timeout = 0
    entry = script.get("timeout")
    if entry is not None:
        timeout = _check_timeout(ctx, entry[1])
    entry = script.get("runas")
    runas = string(ctx, entry[1], "runas", "a user name such as deploy") if entry else None
    if entry is not None and runas is not None and os_name == "windows":
        ctx.warning(
            entry[0],
            "hook-runas-windows",
            "runas is ignored on Windows (the script runs as the agent's user): remove it",
        )
    elif entry is not None and runas is not None and not is_user_name(runas.strip(RUNAS_SPACE)):
        ctx.error(
            entry[1],
            "hook-runas-invalid",
            f"runas {shorten(runas)!r} is not a Linux user name: the agent runs 'su RUNAS -c "
            "SCRIPT' as root through a shell, so it would be read as an option of su or as "
            "shell syntax; write a user name such as deploy (letters, digits, '.', '_', '-', "
            "not starting with '-')",
        )
    entry = script.get("sudo")
    if entry is not None and not (
        isinstance(entry[1], Scalar) and isinstance(entry[1].value, bool)
    ):
        ctx.error(entry[1], "wrong-type", f"sudo is {describe(entry[1])}: write true or false")
    return timeout


def is_user_name(name: str) -> bool:
    """Whether useradd would create a user called ``name`` (see USER_NAME)."""
    return (
        len(name) <= MAX_USER_NAME
        and USER_NAME.fullmatch(name) is not None
        and name not in {".", ".."}
        and not name.isdigit()
    )


def _check_location(ctx: Context, node: Node, os_name: str | None) -> None:
    text = string(ctx, node, "location", "a script path such as scripts/start.sh")
    if text is None:
        return
    assert isinstance(node, Scalar)
    path = revision_path(ctx, node, text, "location")
    if path is None:
        return
    if not path.exists():
        ctx.error(
            node,
            "hook-script-not-found",
            f"script {text!r} does not exist in the revision (the deployment would fail with "
            "ScriptMissing): add it, or fix the path (it is relative to the revision root)",
        )
    elif not path.is_file():
        ctx.error(
            node,
            "hook-script-not-file",
            f"script {text!r} is a directory, not a file: point location at the script itself",
        )
    elif os_name != "windows" and not path.stat().st_mode & 0o111:
        command = "chmod +x " + shlex.quote(text.lstrip("/"))
        ctx.warning(
            node,
            "hook-script-not-executable",
            f"script {text!r} is not executable: the agent tries 'chmod +x' and fails with "
            f"ScriptNotExecutable if it cannot; run {command!r} and commit it",
        )


def _check_timeout(ctx: Context, node: Node) -> int:
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TIMEOUT_SECONDS:
        return value
    number = plain_number(value.strip()) if isinstance(value, str) else None
    if isinstance(node, Scalar) and node.quoted and number is not None:
        ctx.error(
            node,
            "hook-timeout-invalid",
            f'timeout is the quoted string "{value}": agent 2.x requires a number; write '
            f"timeout: {number} without quotes",
        )
        return 0
    ctx.error(
        node,
        "hook-timeout-invalid",
        f"timeout is {describe(node)}: write a whole number of seconds from 1 to "
        f"{MAX_TIMEOUT_SECONDS}",
    )
    return 0
