"""The state directory's layout (as the agent's deployment-root), install records, retention.

```
STATE/deployment-instructions/<group-id>-cleanup           what the last Install put on disk
                                                            (or, while it runs: will put)
STATE/deployment-instructions/<group-id>_last_successful_install   its deployment directory
STATE/<group-id>/<deployment-id>/deployment-archive/       the unpacked revision
STATE/<group-id>/<deployment-id>/logs/scripts.log           every hook's output
```
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ci_deploy.errors import InputError

# 2: the record names its install root and says whether the Install finished (format 1: paths).
_RECORD_FORMAT = 2
# Order of deployments within a group (timestamps can tie on coarse-grained file systems).
_SEQUENCE_FILE = "sequence"


@dataclass(frozen=True)
class InstallRecord:
    """The group's install record: every path its last Install created. While an Install runs
    (and after one failed or was killed) it is that Install's journal, ``complete`` false: the
    previous record's paths plus every path the Install was about to create, written before
    it removed or created anything, so the next Install removes whatever of them exists."""

    deployment_id: str
    paths: list[str]
    root: str | None  # the install root the paths are under (None in a format-1 record)
    complete: bool


@dataclass(frozen=True)
class GroupState:
    """Paths of one deployment group's state on this host."""

    state_dir: Path
    group_id: str

    @property
    def instructions(self) -> Path:
        return self.state_dir / "deployment-instructions"

    @property
    def cleanup_file(self) -> Path:
        return self.instructions / f"{self.group_id}-cleanup"

    @property
    def last_successful_file(self) -> Path:
        return self.instructions / f"{self.group_id}_last_successful_install"

    @property
    def group_dir(self) -> Path:
        return self.state_dir / self.group_id

    def deployment_dir(self, deployment_id: str) -> Path:
        return self.group_dir / deployment_id

    def read_record(self) -> InstallRecord | None:
        """The group's install record; None before its first Install (on this state dir)."""
        try:
            data = json.loads(self.cleanup_file.read_text(encoding="utf-8"))
            paths = data.get("paths", [])
            root = data.get("root")
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise ValueError("'paths' is not a list of paths")
            if root is not None and not isinstance(root, str):
                raise ValueError("'root' is not a path")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, AttributeError) as error:
            raise InputError(
                f"the install record {self.cleanup_file} is unreadable: {error}",
                hint="remove it to start the group afresh (its files will then count as foreign)",
            ) from error
        return InstallRecord(
            deployment_id=str(data.get("deployment_id", "")),
            paths=paths,
            root=root,
            complete=bool(data.get("complete", True)),
        )

    def write_record(self, record: InstallRecord) -> None:
        """Replace the record atomically, and durably: on disk before this returns."""
        data = {
            "format": _RECORD_FORMAT,
            "deployment_id": record.deployment_id,
            "complete": record.complete,
            "root": record.root,
            "paths": record.paths,
        }
        _write_atomically(self.cleanup_file, json.dumps(data), durable=True)

    def last_successful(self) -> Path | None:
        """The deployment directory of the last revision whose Install succeeded."""
        try:
            text = self.last_successful_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = Path(text)
        return path if (path / "deployment-archive").is_dir() else None

    def create_deployment_dir(self, deployment_id: str) -> Path:
        """Make the deployment's directory, numbered after the group's previous ones."""
        existing = [_sequence(path) for path in self.group_dir.glob("*") if path.is_dir()]
        path = self.deployment_dir(deployment_id)
        (path / "logs").mkdir(parents=True)
        (path / _SEQUENCE_FILE).write_text(str(max(existing, default=0) + 1), encoding="utf-8")
        return path

    def mark_installed(self, deployment_id: str) -> None:
        _write_atomically(self.last_successful_file, str(self.deployment_dir(deployment_id)))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One deployment per group and state directory at a time (threads included)."""
        self.instructions.mkdir(parents=True, exist_ok=True)
        lock_path = self.instructions / f"{self.group_id}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise InputError(
                    f"another deployment of group id {self.group_id} is running with state "
                    f"directory {self.state_dir}",
                    hint="wait for it to finish, or pass a different --state-dir",
                ) from error
            yield
        finally:
            os.close(fd)

    def prune(self, keep: int, current: str) -> list[Path]:
        """Delete the oldest deployment directories beyond ``keep``, never the last successful
        one nor ``current`` (the agent's ``max_revisions``). Returns what was deleted."""
        if not self.group_dir.is_dir():
            return []
        protected = {self.deployment_dir(current)}
        last = self.last_successful()
        if last is not None:
            protected.add(last)
        revisions = sorted(
            (path for path in self.group_dir.iterdir() if path.is_dir()),
            key=lambda path: (_sequence(path), path.name),
            reverse=True,
        )
        deleted = []
        for path in revisions[keep:]:
            if path not in protected:
                shutil.rmtree(path, ignore_errors=True)
                deleted.append(path)
        return deleted


def _sequence(deployment_dir: Path) -> int:
    try:
        return int((deployment_dir / _SEQUENCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return -1


def _write_atomically(path: Path, text: str, *, durable: bool = False) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it); ``durable`` also
    syncs the file and the rename, so a crash of the host cannot lose or tear it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    temporary.replace(path)
    if durable:
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
