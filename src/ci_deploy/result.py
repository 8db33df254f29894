"""Build the result JSON of deploy, wait, rollback and status (snake_case keys, one object even
for one region)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ci_deploy.aws.codedeploy import Deployment, LifecycleEvent, Target
from ci_deploy.vocabulary import OVERVIEW_KEYS

# Worst first: the combined status of several regions is the worst of theirs. "Error" is ours:
# a region where no deployment could be created (its push or CreateDeployment failed).
ERROR_STATUS = "Error"
_STATUS_ORDER = (
    ERROR_STATUS,
    "Failed",
    "Stopped",
    "InProgress",
    "Baking",
    "Queued",
    "Created",
    "Ready",
    "Succeeded",
)


@dataclass(frozen=True)
class RegionError:
    """Why a region has no deployment: the error that stopped its push or CreateDeployment."""

    message: str
    code: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class RegionRun:
    """What happened in one region: the last view of its deployment and targets, or (deployment
    None) the error that kept it from having one."""

    region: str
    deployment: Deployment | None
    targets: Mapping[str, Target] = field(default_factory=dict)
    api_calls: int = 0
    api_retries: int = 0
    transient_errors: int = 0
    # The RevisionLocation sent to CreateDeployment in this region (None: as the API reports it).
    revision: Mapping[str, Any] | None = None
    bundle_sha256: str | None = None
    error: RegionError | None = None


def console_host(region: str) -> str:
    """The console host of the region's partition."""
    if region.startswith("cn-"):
        return "console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "console.amazonaws-us-gov.com"
    return "console.aws.amazon.com"


def console_url(region: str, deployment_id: str) -> str:
    host = console_host(region)
    return f"https://{host}/codesuite/codedeploy/deployments/{deployment_id}?region={region}"


def worst_status(statuses: Sequence[str]) -> str:
    ranked = sorted(
        statuses, key=lambda s: _STATUS_ORDER.index(s) if s in _STATUS_ORDER else len(_STATUS_ORDER)
    )
    return ranked[0] if ranked else "Created"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _event_dict(event: LifecycleEvent) -> dict[str, Any]:
    diag = event.diagnostics
    return {
        "name": event.name,
        "status": event.status,
        "duration_seconds": (
            round(event.duration_seconds, 3) if event.duration_seconds is not None else None
        ),
        "diagnostics": (
            {
                "error_code": diag.error_code,
                "script_name": diag.script_name,
                "message": diag.message,
                "log_tail": diag.log_tail,
            }
            if diag is not None and event.status == "Failed"
            else None
        ),
    }


def target_dict(target: Target) -> dict[str, Any]:
    result: dict[str, Any] = {
        "target_id": target.target_id,
        "status": target.status,
        "lifecycle_events": [_event_dict(e) for e in target.lifecycle_events],
    }
    if target.label:
        result["label"] = target.label
    return result


def region_dict(run: RegionRun) -> dict[str, Any]:
    deployment = run.deployment
    if deployment is None:
        return _failed_region_dict(run)
    error = (
        {"code": deployment.error_code, "message": deployment.error_message or ""}
        if deployment.error_code or deployment.error_message
        else None
    )
    return {
        "region": run.region,
        "deployment_id": deployment.deployment_id,
        "status": deployment.status,
        "revision": _plain(run.revision if run.revision is not None else deployment.revision),
        "console_url": console_url(run.region, deployment.deployment_id),
        "overview": {key: int(deployment.overview.get(key, 0)) for key in OVERVIEW_KEYS},
        "targets": [target_dict(run.targets[tid]) for tid in sorted(run.targets)],
        "error": error,
        "rollback_deployment_id": deployment.rollback_deployment_id,
        "create_time": _iso(deployment.create_time),
        "complete_time": _iso(deployment.complete_time),
        "api": {
            "calls": run.api_calls,
            "retries": run.api_retries,
            "transient_errors": run.transient_errors,
        },
    }


def _failed_region_dict(run: RegionRun) -> dict[str, Any]:
    """A region whose deployment never started: the same keys, and the error that stopped it."""
    failure = run.error or RegionError("no deployment was created")
    return {
        "region": run.region,
        "deployment_id": None,
        "status": ERROR_STATUS,
        "revision": _plain(run.revision),
        "console_url": None,
        "overview": dict.fromkeys(OVERVIEW_KEYS, 0),
        "targets": [],
        "error": {"code": failure.code, "message": failure.message, "hint": failure.hint},
        "rollback_deployment_id": None,
        "create_time": None,
        "complete_time": None,
        "api": {
            "calls": run.api_calls,
            "retries": run.api_retries,
            "transient_errors": run.transient_errors,
        },
    }


def build_result(
    runs: Sequence[RegionRun],
    *,
    application: str | None = None,
    deployment_group: str | None = None,
    revision: Mapping[str, Any] | None = None,
    bundle_sha256: str | None = None,
    total_seconds: float | None = None,
    skipped_regions: Sequence[str] = (),
) -> dict[str, Any]:
    """The one result object; the first region's fields at the top (the first that has a
    deployment), every region in ``deployments``."""
    if not runs:
        raise ValueError("a result needs at least one region's deployment")
    regions = [region_dict(run) for run in runs]
    index = next((i for i, run in enumerate(runs) if run.deployment is not None), 0)
    first, first_run = regions[index], runs[index]
    deployment = first_run.deployment
    return {
        "application": application or (deployment.application if deployment else None) or None,
        "deployment_group": deployment_group
        or (deployment.deployment_group if deployment else None)
        or None,
        "region": first["region"],
        "regions": [r["region"] for r in regions],
        "deployment_id": first["deployment_id"],
        "deployment_ids": {r["region"]: r["deployment_id"] for r in regions},
        "status": worst_status([r["status"] for r in regions]),
        "revision": _plain(revision) if revision is not None else first["revision"],
        "bundle_sha256": bundle_sha256 or first_run.bundle_sha256,
        "console_url": first["console_url"],
        "overview": first["overview"],
        "targets": first["targets"],
        "error": first["error"],
        "rollback_deployment_id": first["rollback_deployment_id"],
        "timings": {
            "total_seconds": round(total_seconds, 3) if total_seconds is not None else None,
            "create_time": first["create_time"],
            "complete_time": first["complete_time"],
        },
        "deployments": regions,
        # Regions a serial rollout did not reach because an earlier one did not succeed.
        "skipped_regions": list(skipped_regions),
    }


def _plain(value: Any) -> Any:
    """A RevisionLocation from the API, with datetimes as text so it serialises as JSON."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def failure_summary(result: Mapping[str, Any]) -> list[str]:
    """Human lines saying why the deployment failed, without the console: the deployment's
    error, every failed target's failing lifecycle event with its script and log tail, the
    rollback deployment and the console URL. One block per failed region."""
    lines: list[str] = []
    for region in result.get("deployments", ()):
        if region["status"] == ERROR_STATUS:
            lines.append(f"region {region['region']}: no deployment: {region['error']['message']}")
            continue
        if region["status"] not in ("Failed", "Stopped"):
            continue
        head = f"deployment {region['deployment_id']} ({region['region']}) {region['status']}"
        error = region.get("error")
        if error:
            head += f": {error['code']}: {error['message']}".rstrip(": ")
        lines.append(head)
        for target in region["targets"]:
            for event in target["lifecycle_events"]:
                if event["status"] != "Failed":
                    continue
                diag = event["diagnostics"] or {}
                script = f" ({diag['script_name']})" if diag.get("script_name") else ""
                lines.append(f"  {target['target_id']}: {event['name']} failed{script}")
                if diag:
                    lines.append(f"    {diag['error_code']}: {diag['message']}")
                    tail = str(diag.get("log_tail") or "").rstrip("\n")
                    if tail.strip():
                        lines.append("    log tail:")
                        lines.extend("    | " + row for row in tail.split("\n"))
        if region.get("rollback_deployment_id"):
            lines.append(f"  rollback deployment: {region['rollback_deployment_id']}")
        lines.append(f"  console: {region['console_url']}")
    return lines
