"""The state directory's layout (as the agent's deployment-root), install records, retention.

```
STATE/deployment-instructions/<group-id>-cleanup           what the last Install put on disk
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

_RECORD_FORMAT = 1
# Order of deployments within a group (timestamps can tie on coarse-grained file systems).
_SEQUENCE_FILE = "sequence"


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

    def read_cleanup(self) -> list[str]:
        """Paths the previous Install created, in creation order (empty on a first deploy)."""
        try:
            data = json.loads(self.cleanup_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise InputError(
                f"the install record {self.cleanup_file} is unreadable: {error}",
                hint="remove it to start the group afresh (its files will then count as foreign)",
            ) from error
        return [str(path) for path in data.get("paths", [])]

    def write_cleanup(self, deployment_id: str, paths: list[str]) -> None:
        _write_atomically(
            self.cleanup_file,
            json.dumps({"format": _RECORD_FORMAT, "deployment_id": deployment_id, "paths": paths}),
        )

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


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
