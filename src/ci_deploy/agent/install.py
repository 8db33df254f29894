"""Install: remove what the group's previous Install created, copy the revision's ``files``,
and record every path created, so the next Install can remove exactly those.

Unlike the agent, everything that can make the Install fail (a missing source, two sources for
one destination, a file that already exists under DISALLOW, a path escaping the install root) is
found *before* the previous revision's files are removed: such a failure leaves the previous
installation and its record intact.

Symlinks: a symlink in the revision is installed as a symlink and a symlink to a directory as a
directory of copies, as the agent does (its installer.rb tests ``File.directory?``, which
follows links, and install_instruction.rb's CopyCommand re-creates a link with ``readlink``).
Unlike the agent, nothing is ever written or deleted *through* a symlink the revision installs
or the group's record lists: every destination is resolved component by component (lstat)
against what the disk will hold once the previous revision is removed and this one is created.
Only the host's own symlinks are followed, and only when they stay in the install root.

Before it removes or creates anything, the Install writes its journal as the group's record
(the previous paths plus every path it is about to create, fsynced), as the agent's
CopyCommand writes a destination to the cleanup file before copying: an Install that is
killed leaves a record from which the next Install removes what it had written.
"""

# Plain str paths and os calls on purpose: this code runs once per installed file.
# ruff: noqa: PTH101, PTH102, PTH106, PTH108, PTH115, PTH116, PTH120, PTH211

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from ci_deploy.agent.appspec_model import AppSpec, RevisionError
from ci_deploy.agent.copy import copy_file
from ci_deploy.agent.install_paths import Op, Resolver, Unsafe
from ci_deploy.agent.install_plan import Plan, conflict_message, plan_install, planned_kinds
from ci_deploy.agent.state import GroupState, InstallRecord

_BATCH = 256  # files per task: one task per small file costs more than it saves
_COPY_THREADS = 2


class InstallError(Exception):
    """The Install failed; ``installed`` lists what this deployment had put on disk by then."""

    def __init__(self, message: str, installed: list[str]) -> None:
        super().__init__(message)
        self.installed = installed


class InstallStopped(InstallError):
    """The deployment was cancelled during Install."""


class InstallResult(NamedTuple):
    installed: list[str]  # every path created, parents before children
    retained: list[str]  # foreign files kept under RETAIN
    kept: list[str]  # the previous revision's paths not deleted: each with why


def remove_previous(paths: list[str], root: str) -> list[str]:
    """Delete what the previous Install created: files and links, then directories once
    empty (a directory still holding a foreign file stays). A path reached through a symlink
    the record lists, or through one leading out of ``root``, is not deleted: such paths are
    returned, each with why."""
    resolver = Resolver(root, {}, set(paths), removed=False)
    unsafe: dict[str, str] = {}  # directory -> why it is not gone into
    kept: list[str] = []
    for path in reversed(paths):
        parent = os.path.dirname(path)
        if parent not in resolver.checked:
            why = unsafe.get(parent)
            if why is None:
                try:
                    resolver.check(parent)
                except Unsafe as error:
                    why = unsafe[parent] = str(error)
            if why is not None:
                if os.path.lexists(path):
                    kept.append(f"{path} (reached {why})")
                continue
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        try:
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                raise
    return kept


def _create_directories(plan: Plan, installed: list[str]) -> None:
    for op in plan.ops:
        if op.kind != "dir":
            continue
        try:
            os.mkdir(op.dest, op.mode)
        except FileExistsError:
            continue  # an existing directory is used, not taken over
        os.chmod(op.dest, op.mode)
        installed.append(op.dest)


def _create_entries(ops: list[Op], overwrite: set[str]) -> tuple[list[str], OSError | None]:
    """Copy files and make links; never raises, so a batch reports what it did before failing."""
    done: list[str] = []
    try:
        for op in ops:
            if op.dest in overwrite:
                os.unlink(op.dest)
            if op.kind == "file":
                copy_file(op.source, op.dest, op.st or os.stat(op.source))
            else:
                os.symlink(os.readlink(op.source), op.dest)
            done.append(op.dest)
    except OSError as error:
        return done, error
    return done, None


def execute(plan: Plan, should_stop: Callable[[], bool]) -> list[str]:
    """Create every planned path: directories first (in order), then files and links in
    batches on two threads (the copy syscalls release the GIL, so they overlap). Returns the
    paths created, parents before children."""
    installed: list[str] = []
    try:
        _create_directories(plan, installed)
    except OSError as error:
        raise InstallError(
            f"cannot create directory {error.filename or ''}: {error.strerror}", installed
        ) from error
    entries = [op for op in plan.ops if op.kind != "dir"]
    batches = [entries[i : i + _BATCH] for i in range(0, len(entries), _BATCH)]
    failure: OSError | None = None
    stopped = False
    with ThreadPoolExecutor(max_workers=_COPY_THREADS, thread_name_prefix="install") as pool:
        pending = []
        for batch in batches:
            if should_stop():
                stopped = True
                break
            pending.append(pool.submit(_create_entries, batch, plan.overwrite))
            if len(pending) >= 2 * _COPY_THREADS:
                done, failure = pending.pop(0).result()
                installed.extend(done)
                if failure is not None:
                    break
        for future in pending:
            done, batch_failure = future.result()
            installed.extend(done)
            failure = failure or batch_failure
    if failure is not None:
        raise InstallError(
            f"cannot install {failure.filename or ''}: {failure.strerror}", installed
        ) from failure
    if stopped:
        raise InstallStopped("the deployment was stopped during Install", installed)
    return installed


def install(
    *,
    archive: Path,
    appspec: AppSpec,
    root: Path,
    group: GroupState,
    deployment_id: str,
    behavior: str,
    should_stop: Callable[[], bool],
    check: Callable[[dict[str, str]], object] | None = None,
) -> InstallResult:
    """Install the revision: plan and check it all, journal, remove the previous revision's
    files, create the new ones, record them. ``check`` sees what the Install will create
    (``planned_kinds``) before anything changes, and may raise."""
    record = group.read_record()
    previous = record.paths if record is not None else []
    previous_set = set(previous)
    plan = plan_install(archive, appspec, root, previous_set, behavior)
    if plan.conflicts:
        raise RevisionError(conflict_message(plan.conflicts, record, group))
    if check is not None:
        check(planned_kinds(plan, previous_set))
    top = os.path.normpath(str(root))
    journal = previous + [path for path in plan.creates if path not in previous_set]
    if journal:
        # From here on, until the final record replaces it, the journal is the group's record:
        # should this Install fail or be killed, the next one removes what it had written.
        group.write_record(InstallRecord(deployment_id, journal, top, complete=False))
    # A format-1 record does not name its root: only its own symlinks are then never followed.
    kept = remove_previous(previous, record.root or os.sep) if record is not None else []
    installed = execute(plan, should_stop)  # an InstallError leaves the journal as the record
    group.write_record(InstallRecord(deployment_id, installed, top, complete=True))
    return InstallResult(installed, plan.retained, kept)
