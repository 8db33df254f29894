"""Running the local engine in tests: one deployment into tmp_path, its events recorded."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ci_deploy.agent import DeploymentResult, DeploymentSpec, run_deployment
from ci_deploy.events import Event, LifecycleEventEnded, Notice

HEAD = "version: 0.0\nos: linux\n"


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def ended(self) -> dict[str, LifecycleEventEnded]:
        return {e.event_name: e for e in self.events if isinstance(e, LifecycleEventEnded)}

    def warnings(self) -> list[str]:
        return [e.message for e in self.events if isinstance(e, Notice) and e.level == "warning"]


def deploy(
    tmp_path: Path, source: Path, deployment_id: str, **overrides: object
) -> tuple[DeploymentResult, Recorder]:
    values: dict[str, object] = {
        "source": source,
        "application": "shop",
        "deployment_group": "staging",
        "deployment_group_id": "group-1",
        "deployment_id": deployment_id,
        "state_dir": tmp_path / "state",
        "root": tmp_path / "root",
        "base_env": {"PATH": os.environ["PATH"]},
    }
    values.update(overrides)
    recorder = Recorder()
    cancel = values.pop("cancel", None)
    assert cancel is None or isinstance(cancel, threading.Event)
    on_event = values.pop("on_event", None)  # called after the recorder with each event

    def sink(event: Event) -> None:
        recorder(event)
        if callable(on_event):
            on_event(event)

    result = run_deployment(DeploymentSpec(**values), sink, cancel=cancel)  # type: ignore[arg-type]
    return result, recorder
