"""What a verb reports, typed until the renderer that prints it: a pushed revision, or the
deployments of deploy, wait, rollback and status (one run per region); and their JSON form
(snake_case keys, one object even for one region), built only by ``as_json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ci_deploy.vocabulary import OVERVIEW_KEYS

if TYPE_CHECKING:  # plain values; importing them at run time would import botocore
    from ci_deploy.aws.codedeploy import Deployment, LifecycleEvent, Target

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


@dataclass(frozen=True)
class RegionError:
    """Why a region has no deployment (the error that stopped its push or CreateDeployment), or
    the error a deployment reports (``hint`` None)."""

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

    @property
    def deployment_id(self) -> str | None:
        return self.deployment.deployment_id if self.deployment is not None else None

    @property
    def status(self) -> str:
        return self.deployment.status if self.deployment is not None else ERROR_STATUS

    @property
    def console_url(self) -> str | None:
        if self.deployment is None:
            return None
        return console_url(self.region, self.deployment.deployment_id)

    @property
    def overview(self) -> dict[str, int]:
        """Targets per status, every key of the API's overview (zeros without a deployment)."""
        counts = self.deployment.overview if self.deployment is not None else {}
        return {key: int(counts.get(key, 0)) for key in OVERVIEW_KEYS}

    @property
    def sorted_targets(self) -> list[Target]:
        return [self.targets[tid] for tid in sorted(self.targets)]

    @property
    def failure(self) -> RegionError | None:
        """The deployment's error (code and message), or why there is no deployment."""
        deployment = self.deployment
        if deployment is None:
            return self.error or RegionError("no deployment was created")
        if deployment.error_code or deployment.error_message:
            return RegionError(deployment.error_message or "", deployment.error_code)
        return None

    @property
    def rollback_deployment_id(self) -> str | None:
        return self.deployment.rollback_deployment_id if self.deployment is not None else None

    @property
    def sent_revision(self) -> Mapping[str, Any] | None:
        """The revision sent, else the one the deployment reports, as JSON can hold it."""
        found = self.deployment.revision if self.deployment is not None else None
        revision: Mapping[str, Any] | None = plain(self.revision or found)
        return revision

    def as_json(self) -> dict[str, Any]:
        deployment = self.deployment
        failure = self.failure
        error: dict[str, Any] | None = None
        if failure is not None:
            error = {"code": failure.code, "message": failure.message}
            if deployment is None:
                error["hint"] = failure.hint
        return {
            "region": self.region,
            "deployment_id": self.deployment_id,
            "status": self.status,
            "revision": self.sent_revision,
            "console_url": self.console_url,
            "overview": self.overview,
            "targets": [target_json(target) for target in self.sorted_targets],
            "error": error,
            "rollback_deployment_id": self.rollback_deployment_id,
            "create_time": _iso(deployment.create_time if deployment else None),
            "complete_time": _iso(deployment.complete_time if deployment else None),
            "api": {
                "calls": self.api_calls,
                "retries": self.api_retries,
                "transient_errors": self.transient_errors,
            },
        }


@dataclass(frozen=True)
class DeploymentsResult:
    """The result of deploy, wait, rollback and status: every region's run, and the facts of the
    whole run. The top-level facts are those of the first region that has a deployment."""

    runs: tuple[RegionRun, ...]
    application: str | None = None
    deployment_group: str | None = None
    # The revision deployed (as JSON holds it): the one pushed, else the first region's.
    revision: Mapping[str, Any] | None = None
    bundle_sha256: str | None = None
    total_seconds: float | None = None
    # Regions a serial rollout did not reach because an earlier one did not succeed.
    skipped_regions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a result needs at least one region's run")

    @property
    def first(self) -> RegionRun:
        """The first region that has a deployment (else the first region)."""
        return self.runs[_first_deployed(self.runs)]

    @property
    def status(self) -> str:
        return worst_status([run.status for run in self.runs])

    @property
    def region(self) -> str:
        return self.first.region

    @property
    def regions(self) -> list[str]:
        return [run.region for run in self.runs]

    @property
    def deployment_id(self) -> str | None:
        return self.first.deployment_id

    @property
    def deployment_ids(self) -> dict[str, str | None]:
        return {run.region: run.deployment_id for run in self.runs}

    @property
    def console_url(self) -> str | None:
        return self.first.console_url

    @property
    def error(self) -> RegionError | None:
        return self.first.failure

    @property
    def rollback_deployment_id(self) -> str | None:
        return self.first.rollback_deployment_id

    def as_json(self) -> dict[str, Any]:
        regions = [run.as_json() for run in self.runs]
        first = regions[_first_deployed(self.runs)]
        return {
            "application": self.application,
            "deployment_group": self.deployment_group,
            "region": self.region,
            "regions": self.regions,
            "deployment_id": self.deployment_id,
            "deployment_ids": self.deployment_ids,
            "status": self.status,
            "revision": self.revision,
            "bundle_sha256": self.bundle_sha256,
            "console_url": self.console_url,
            "overview": first["overview"],
            "targets": first["targets"],
            "error": first["error"],
            "rollback_deployment_id": self.rollback_deployment_id,
            "timings": {
                "total_seconds": (
                    round(self.total_seconds, 3) if self.total_seconds is not None else None
                ),
                "create_time": first["create_time"],
                "complete_time": first["complete_time"],
            },
            "deployments": regions,
            "skipped_regions": list(self.skipped_regions),
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
) -> DeploymentsResult:
    """The result of ``runs``; what the caller does not know (the application, the group, the
    revision, the bundle's digest) is taken from the first region that has a deployment."""
    if not runs:
        raise ValueError("a result needs at least one region's run")
    first = runs[_first_deployed(runs)]
    deployment = first.deployment
    return DeploymentsResult(
        runs=tuple(runs),
        application=application or (deployment.application if deployment else None) or None,
        deployment_group=deployment_group
        or (deployment.deployment_group if deployment else None)
        or None,
        revision=plain(revision) if revision is not None else first.sent_revision,
        bundle_sha256=bundle_sha256 or first.bundle_sha256,
        total_seconds=total_seconds,
        skipped_regions=tuple(skipped_regions),
    )


@dataclass(frozen=True)
class PushResult:
    """What push did in one region. ``revision`` is the RevisionLocation exactly as
    CreateDeployment takes it."""

    revision: Mapping[str, Any]
    bundle_sha256: str | None = None
    uploaded: bool = False
    size: int | None = None
    registered: bool = False
    region: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "bundle_sha256": self.bundle_sha256,
            "uploaded": self.uploaded,
            "size": self.size,
            "registered": self.registered,
            "region": self.region,
        }


# What a reporter is handed at the end of a verb.
Result = DeploymentsResult | PushResult


def _first_deployed(runs: Sequence[RegionRun]) -> int:
    return next((i for i, run in enumerate(runs) if run.deployment is not None), 0)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def event_json(event: LifecycleEvent) -> dict[str, Any]:
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


def target_json(target: Target) -> dict[str, Any]:
    result: dict[str, Any] = {
        "target_id": target.target_id,
        "status": target.status,
        "lifecycle_events": [event_json(e) for e in target.lifecycle_events],
    }
    if target.label:
        result["label"] = target.label
    return result


def plain(value: Any) -> Any:
    """A RevisionLocation from the API, with datetimes as text so it serialises as JSON."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def failure_summary(result: DeploymentsResult) -> list[str]:
    """Human lines saying why the deployment failed, without the console: the deployment's
    error, every failed target's failing lifecycle event with its script and log tail, the
    rollback deployment and the console URL. One block per failed region."""
    lines: list[str] = []
    for run in result.runs:
        failure = run.failure
        if run.deployment is None:
            message = failure.message if failure is not None else ""
            lines.append(f"region {run.region}: no deployment: {message}")
            continue
        if run.status not in ("Failed", "Stopped"):
            continue
        head = f"deployment {run.deployment_id} ({run.region}) {run.status}"
        if failure is not None:
            head += f": {failure.code}: {failure.message}".rstrip(": ")
        lines.append(head)
        for target in run.sorted_targets:
            for event in target.lifecycle_events:
                if event.status != "Failed":
                    continue
                diag = event.diagnostics
                script = f" ({diag.script_name})" if diag and diag.script_name else ""
                lines.append(f"  {target.target_id}: {event.name} failed{script}")
                if diag:
                    lines.append(f"    {diag.error_code}: {diag.message}")
                    tail = diag.log_tail.rstrip("\n")
                    if tail.strip():
                        lines.append("    log tail:")
                        lines.extend("    | " + row for row in tail.split("\n"))
        if run.rollback_deployment_id:
            lines.append(f"  rollback deployment: {run.rollback_deployment_id}")
        lines.append(f"  console: {run.console_url}")
    return lines
