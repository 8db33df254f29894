"""Apply an appspec's ``permissions`` to what this deployment installed, and nothing else."""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH101, PTH114

from __future__ import annotations

import fnmatch
import grp
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from ci_deploy.agent.appspec_model import Permission, RevisionError
from ci_deploy.agent.install import destination_path


def _matches(name: str, pattern: str) -> bool:
    # The agent's globs are simple '*' wildcards on one name; '?' and '[' are literal.
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]").replace("?", "[?]"))


def _targets(entry: Permission, obj: str, installed: set[str], kinds: dict[str, str]) -> list[str]:
    if obj in installed and kinds[obj] == "file":
        if "file" not in entry.types:
            return []
        if entry.pattern != "**" or entry.excepts:
            raise RevisionError(
                f"permissions: object {obj} is a file: pattern must be '**' and except empty"
            )
        return [obj]
    prefix = obj.rstrip("/") + "/"
    found = []
    for path in sorted(installed):
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        child = rest.split("/", 1)[0]
        if entry.pattern == "**":
            if any(_matches(child, glob) for glob in entry.excepts) and "/" not in rest:
                continue
        elif (
            "/" in rest
            or not _matches(child, entry.pattern)
            or any(_matches(child, glob) for glob in entry.excepts)
        ):
            continue
        if kinds[path] in entry.types:
            found.append(path)
    return found


def _ids(entry: Permission, index: int, warnings: list[str]) -> tuple[int, int]:
    """uid/gid to chown to (-1: leave as is). A name unknown on this host is a warning: the
    rehearsal host is not the instance (where the agent fails the deployment instead)."""
    uid = _host_id(entry.owner, lambda name: pwd.getpwnam(name).pw_uid)
    gid = _host_id(entry.group, lambda name: grp.getgrnam(name).gr_gid)
    for kind, name, found in (("owner", entry.owner, uid), ("group", entry.group, gid)):
        if name is not None and found == -1:
            warnings.append(
                f"permissions[{index}]: {kind} {name!r} does not exist on this host; not "
                "applied (the agent fails the deployment if it does not exist on the instance)"
            )
    return uid, gid


def _host_id(name: str | None, lookup: Callable[[str], int]) -> int:
    """The host's id for the user or group ``name``, or -1 when unset or unknown."""
    if name is None:
        return -1
    try:
        return lookup(name)
    except KeyError:
        return -1


def apply_permissions(entries: Iterable[Permission], root: Path, installed: list[str]) -> list[str]:
    """Apply each entry; returns warnings for what this host cannot do (acls, SELinux)."""
    warnings: list[str] = []
    installed_set = set(installed)
    kinds = {
        path: "directory" if stat.S_ISDIR(os.lstat(path).st_mode) else "file" for path in installed
    }
    links = {path for path in installed if os.path.islink(path)}
    for index, entry in enumerate(entries):
        obj = destination_path(root, entry.object, f"permissions[{index}].object")
        targets = [path for path in _targets(entry, obj, installed_set, kinds) if path not in links]
        uid, gid = _ids(entry, index, warnings)
        refused = False
        for path in targets:
            if entry.mode is not None:
                os.chmod(path, entry.mode)
            if (uid != -1 or gid != -1) and not refused:
                try:
                    os.chown(path, uid, gid)
                except PermissionError:
                    refused = True
        if refused:
            warnings.append(
                f"permissions[{index}]: owner/group under {entry.object} not applied: only root "
                "may change them (the agent runs as root)"
            )
        if entry.acls and targets:
            warnings.extend(_apply_acls(entry.acls, targets, index))
        if entry.has_context:
            warnings.append(
                f"permissions[{index}]: SELinux context for {entry.object} not applied "
                "(the local engine does not manage SELinux)"
            )
    return warnings


def _apply_acls(acls: tuple[str, ...], targets: list[str], index: int) -> list[str]:
    setfacl = shutil.which("setfacl")
    if setfacl is None:
        return [f"permissions[{index}]: acls not applied: setfacl is not installed (package acl)"]
    for path in targets:
        done = subprocess.run(
            [setfacl, "-m", ",".join(acls), path], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RevisionError(
                f"permissions[{index}]: setfacl -m {','.join(acls)} {path} failed: "
                f"{done.stderr.strip()}"
            )
    return []
