"""Find a revision's appspec and read its bytes: the file names, --appspec-filename, links out
of the revision and the 1 MiB cap, the same for validate, bundle, push and the local engine."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ci_deploy.errors import InputError, InputValueError

# The agent reads the deployment's AppSpec file name (appspec.yml by default), then appspec.yaml.
APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")
# The largest appspec read. The CodeDeploy API sets no length on AppSpecContent.content; real
# AppSpecs are a few KB (a big Server one, with hundreds of files and permissions entries, stays
# well under 100 KB), so 1 MiB refuses only what is not an AppSpec, before it is parsed.
MAX_APPSPEC_BYTES = 1 << 20
_BUNDLE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz")


def check_appspec_filename(name: str | None) -> None:
    """Refuse an --appspec-filename that is not a plain name: the agent reads the AppSpec from
    the revision root only, and a path would reach outside the revision."""
    if name is not None and (
        not name.strip() or "/" in name or "\\" in name or name in {".", ".."}
    ):
        raise InputValueError(
            "appspec_filename",
            "a file name at the revision root such as appspec.yml",
            name,
            hint="the agent reads the AppSpec from the revision root only",
        )


def appspec_names(filename: str | None, *, fallback: bool = False) -> tuple[str, ...]:
    """The names looked up at a revision root, in order. Without ``filename``, APPSPEC_NAMES.
    With it: that name alone for the tools that check what the user named (validate, bundle,
    push), or followed by the default names with ``fallback``, as the agent reads a revision."""
    check_appspec_filename(filename)
    if not filename:
        return APPSPEC_NAMES
    return tuple(dict.fromkeys((filename, *APPSPEC_NAMES))) if fallback else (filename,)


def appspec_in(root: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` that is a file at ``root`` (links not checked: see
    check_link_inside), or None."""
    for name in names:
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def agent_appspec(root: Path, filename: str | None) -> Path | None:
    """The appspec the agent reads at ``root`` (the local engine's lookup): ``filename``, then
    the default names; None if there is none."""
    return appspec_in(root, appspec_names(filename, fallback=True))


def find_appspec(path: Path, appspec_filename: str | None = None) -> tuple[Path, Path | None]:
    """(the appspec file, the revision directory or None) for a directory or a file path;
    InputError when there is none, or when it links out of the revision."""
    names = appspec_names(appspec_filename)
    if path.is_dir():
        found = appspec_in(path, names)
        if found is not None:
            check_link_inside(found, path)
            return found, path
        nested = [
            child
            for child in sorted(path.iterdir())
            if child.is_dir() and appspec_in(child, names) is not None
        ]
        hint = (
            f"{nested[0]} has one: pass that directory (the revision root) instead"
            if len(nested) == 1
            else "put the AppSpec at the revision root, pass the appspec file itself, or name "
            "it with --appspec-filename"
        )
        raise InputError(f"input source: no {' or '.join(names)} at the root of {path}", hint=hint)
    if path.is_file():
        if path.name.lower().endswith(_BUNDLE_SUFFIXES):
            raise InputError(
                f"input source: {path} is a bundle; validate reads a revision directory or an "
                "appspec file",
                hint="validate the directory the bundle is built from",
            )
        check_link_inside(path, path.parent)
        return path, None
    raise InputError(
        f"input source: {path} does not exist",
        hint="pass a revision directory or an appspec file",
    )


def link_leaves(link: PurePosixPath, target: str) -> str | None:
    """How a symlink at ``link`` (relative to a revision root) whose text is ``target`` leaves
    the revision, read as text: ``"absolute"``, ``"outside"`` (more ``..`` than it is deep), or
    None. The one rule for every link of a revision (appspec lookup, unpacking); chains of links
    are followed by the callers."""
    if target.startswith("/"):
        return "absolute"
    depth = len(link.parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return "outside"
    return None


def check_link_inside(appspec: Path, root: Path) -> None:
    """Refuse an appspec that is a symlink leading out of ``root`` (its revision, or the
    directory of an appspec file given alone), so nothing outside is read and echoed in
    diagnostics. The rule and the words are ``ci-deploy local``'s for every link of a revision:
    a relative target that stays inside; an absolute one is refused, as it names a path on this
    machine, not in the revision the agent unpacks."""
    if not appspec.is_symlink():
        return
    target = os.readlink(appspec)  # noqa: PTH115 - the raw text; Path would normalise it
    hint = (
        "the agent reads the AppSpec inside the revision: replace the link with the file, or "
        "link to a file inside the revision with a relative path"
    )
    leaves = link_leaves(PurePosixPath(appspec.name), target)
    if leaves == "absolute":
        raise InputError(
            f"{root}: symlink {appspec.name} points to absolute path {target!r}", hint=hint
        )
    resolved, top = os.path.realpath(appspec), os.path.realpath(root)
    if leaves == "outside" or not resolved.startswith(top.rstrip(os.sep) + os.sep):
        raise InputError(
            f"{root}: symlink {appspec.name} -> {target!r} points outside the revision", hint=hint
        )


def read_appspec(path: Path) -> bytes:
    """The appspec's bytes, at most ``MAX_APPSPEC_BYTES`` + 1 of them: a bigger file is not
    read whole (the validator reports it). InputError when it cannot be read."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_APPSPEC_BYTES + 1)
    except OSError as error:
        raise InputError(
            f"input source: cannot read {path}: {error.strerror or error}",
            hint="check the file's permissions",
        ) from error
