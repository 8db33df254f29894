"""What goes in a bundle: the ignore rules (.git, .codedeployignore, --exclude), the sorted scan
of a revision directory (links, loops, special files), and the appspec at its root."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pathspec

from ci_deploy.appspec import appspec_names
from ci_deploy.errors import AppSpecError, InputError

IGNORE_FILE = ".codedeployignore"
DEFAULT_IGNORES = (".git",)  # a directory, or a file in worktrees and submodules

Kind = Literal["file", "dir", "symlink"]


@dataclass(frozen=True)
class Entry:
    """One archive member: ``name`` is the POSIX path inside the revision."""

    name: str
    kind: Kind
    mode: int
    size: int = 0
    path: Path = field(default_factory=Path)
    target: str = ""


def ignore_rules(root: Path, excludes: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """``.git``, the root's ``.codedeployignore`` and ``--exclude`` patterns, gitignore syntax."""
    lines = list(DEFAULT_IGNORES)
    ignore_file = root / IGNORE_FILE
    if ignore_file.is_dir():
        raise InputError(
            f"{ignore_file} is a directory, not an ignore file",
            hint=f"make {IGNORE_FILE} a text file of gitignore patterns, or remove it",
        )
    if ignore_file.is_file():
        try:
            lines += ignore_file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise InputError(
                f"cannot read {ignore_file}: byte {error.object[error.start]:#04x} at offset "
                f"{error.start} is not UTF-8",
                hint=f"save {IGNORE_FILE} as UTF-8 text",
            ) from error
        except OSError as error:
            raise InputError(
                f"cannot read {ignore_file}: {error.strerror or error}",
                hint=f"make {IGNORE_FILE} readable by this user",
            ) from error
    lines += list(excludes)
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (ValueError, TypeError) as error:
        raise InputError(
            f"bad ignore pattern: {error}", hint=f"check {IGNORE_FILE} and --exclude"
        ) from error


_LOOP_HINT = "ignore it in .codedeployignore or do not pass --follow-symlinks"
_MAX_LINKS = 40  # Linux's limit on links followed in one lookup (ELOOP beyond it)


def link_chain(name: str, path: Path) -> str:
    """``name -> target -> ...`` up to the first link seen twice: the loop, for an error."""
    chain = [name]
    current = path.absolute()
    seen = {current}
    for _ in range(_MAX_LINKS):
        if not current.is_symlink():
            break
        target = current.readlink()
        chain.append(str(target))
        # Relative to the link's directory, lexically: enough to name the loop in a message.
        current = Path(os.path.normpath(current.parent / target))
        if current in seen:
            break
        seen.add(current)
    return " -> ".join(chain)


def _resolve_error(name: str, path: Path, error: OSError) -> InputError:
    """A member that cannot be looked at, as bad input naming it."""
    if error.errno == errno.ELOOP:
        return InputError(f"symlink loop at {name}: {link_chain(name, path)}", hint=_LOOP_HINT)
    return InputError(f"cannot read {name}: {error.strerror or error}")


def scan(
    root: Path,
    rules: pathspec.GitIgnoreSpec,
    *,
    follow_symlinks: bool = False,
    skip: Iterable[Path] = (),
) -> list[Entry]:
    """Every member of the revision at ``root``, sorted, parents before children."""
    real_root = Path(os.path.realpath(root))
    skipped = {os.path.realpath(path) for path in skip}
    # realpath() costs several system calls: only a child with a skipped file's name pays it.
    skipped_names = {Path(path).name for path in skipped}
    entries: list[Entry] = []
    # Device/inode of the directories being walked, so a followed symlink loop is an error.
    active: list[tuple[int, int]] = []

    def walk(directory: Path, prefix: str) -> None:
        try:
            children = sorted(os.scandir(directory), key=lambda item: item.name)
        except OSError as error:
            raise InputError(f"cannot read directory {directory}: {error}") from error
        for child in children:
            name = prefix + child.name
            path = Path(child.path)
            if (
                child.name in skipped_names
                and os.path.realpath(path) in skipped
                and not child.is_symlink()
            ):
                continue
            try:
                is_dir = child.is_dir(follow_symlinks=follow_symlinks)
            except OSError as error:
                if error.errno != errno.ELOOP:
                    raise _resolve_error(name, path, error) from error
                is_dir = False  # a loop of links resolves to nothing: its name decides
            if rules.match_file(name + "/" if is_dir else name):
                continue
            if child.is_symlink():
                target = str(path.readlink())
                resolved = os.path.realpath(path)
                inside = resolved == str(real_root) or resolved.startswith(str(real_root) + os.sep)
                if not follow_symlinks:
                    if Path(target).is_absolute() or not inside:
                        raise InputError(
                            f"symlink {name} points outside the revision ({target})",
                            hint="point it inside the revision, ignore it in .codedeployignore, "
                            "or pass --follow-symlinks to store the target's content",
                        )
                    entries.append(Entry(name, "symlink", 0o777, path=path, target=target))
                    continue
                try:
                    path.stat()
                except FileNotFoundError:
                    raise InputError(
                        f"symlink {name} points to {target}, which does not exist",
                        hint="fix or ignore the link (--follow-symlinks stores link targets)",
                    ) from None
                except OSError as error:
                    raise _resolve_error(name, path, error) from error
            info = path.stat() if follow_symlinks else child.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                identity = (info.st_dev, info.st_ino)
                if identity in active:
                    raise InputError(f"symlink loop at {name}", hint=_LOOP_HINT)
                entries.append(Entry(name, "dir", stat.S_IMODE(info.st_mode), path=path))
                active.append(identity)
                walk(path, name + "/")
                active.pop()
            elif stat.S_ISREG(info.st_mode):
                entries.append(
                    Entry(name, "file", stat.S_IMODE(info.st_mode), info.st_size, path=path)
                )
            else:
                raise InputError(
                    f"{name} is not a regular file, directory or symlink",
                    hint="ignore it in .codedeployignore or with --exclude",
                )

    root_info = real_root.stat()
    active.append((root_info.st_dev, root_info.st_ino))
    walk(root, "")
    return entries


def appspec_at_root(root: Path, entries: Sequence[Entry], filename: str | None) -> str:
    """The appspec's name at the revision root; a clear error when it is elsewhere or ignored."""
    wanted = appspec_names(filename)
    names = {entry.name for entry in entries if entry.kind != "dir"}
    for name in wanted:
        if name in names:
            return name
    for name in wanted:
        if (root / name).is_file():
            raise AppSpecError(
                f"{name} is excluded from the bundle by {IGNORE_FILE} or --exclude; "
                "the agent needs it at the revision root"
            )
    nested = sorted(
        entry.name
        for entry in entries
        if entry.kind != "dir" and entry.name.rsplit("/", 1)[-1] in wanted
    )
    where = ""
    if nested:
        where = (
            f"; found {nested[0]}, but the agent reads the appspec only at the revision root: "
            f"bundle {root / nested[0].rsplit('/', 1)[0]} instead"
        )
    raise AppSpecError(f"no {' or '.join(wanted)} at the root of {root}{where}")
