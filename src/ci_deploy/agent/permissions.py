"""Apply an appspec's ``permissions`` to what this deployment installed, and nothing else."""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH101

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ci_deploy.agent.appspec_model import Permission, RevisionError
from ci_deploy.agent.install_paths import destination_path
from ci_deploy.appspec.permission_match import (
    AGENT_OVERLAP,
    FileObjectPattern,
    Installed,
    Rule,
    targets,
)


def claim_paths(
    entries: Iterable[Permission], root: Path, kinds: Mapping[str, str]
) -> list[list[str]]:
    """Each entry's paths among ``kinds`` (what the Install creates: path -> file|directory),
    as the agent picks them. Raises RevisionError where the agent fails the Install: a path two
    entries reach (in the agent's words), a pattern or except on a file object."""
    installed = Installed(kinds)
    owner: dict[str, int] = {}
    claimed = []
    for index, entry in enumerate(entries):
        obj = destination_path(root, entry.object, f"permissions[{index}].object")
        try:
            paths = targets(Rule(obj, entry.pattern, entry.excepts, entry.types), installed)
        except FileObjectPattern:
            raise RevisionError(
                f"permissions: object {obj} is a file: pattern must be '**' and except empty"
            ) from None
        for path in paths:
            if path in owner:
                raise RevisionError(
                    AGENT_OVERLAP.format(path=path)
                    + f" (permissions[{owner[path]}] and permissions[{index}] both reach it: "
                    "keep them apart with disjoint types or pattern/except, or merge them)"
                )
            owner[path] = index
        claimed.append(paths)
    return claimed


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
    """Apply each entry to the paths it reaches (``claim_paths``); returns warnings for what
    this host cannot do (acls, SELinux)."""
    warnings: list[str] = []
    entries = list(entries)
    modes = {path: os.lstat(path).st_mode for path in installed}
    kinds = {path: "directory" if stat.S_ISDIR(mode) else "file" for path, mode in modes.items()}
    claimed = claim_paths(entries, root, kinds)
    for index, (entry, reached) in enumerate(zip(entries, claimed, strict=True)):
        # A link the revision installed is never followed.
        paths = [path for path in reached if not stat.S_ISLNK(modes[path])]
        uid, gid = _ids(entry, index, warnings)
        refused = False
        for path in paths:
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
        if entry.acls and paths:
            warnings.extend(_apply_acls(entry.acls, paths, index))
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
