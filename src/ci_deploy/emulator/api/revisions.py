"""The application revision operations: Register, Get, BatchGet and List ApplicationRevision(s),
and the revision checks and records CreateDeployment shares."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.api.members import batch, checked_description, one_page
from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.model import Application, RegisteredRevision
from ci_deploy.emulator.registry import Registry
from ci_deploy.emulator.revisions import check_github_location, check_s3_location, revision_key

REVISION_REQUIRED = ("RevisionRequiredException", "The revision ID was not specified.")


def missing_object(s3: Mapping[str, Any]) -> ApiError:
    version = f" (version {s3['version']})" if s3.get("version") else ""
    return ApiError(
        "RevisionDoesNotExistException",
        "No application revision found for revision: the object "
        f"s3://{s3['bucket']}/{s3['key']}{version} does not exist.",
    )


def check_bucket_region(registry: Registry, s3: Mapping[str, Any]) -> None:
    """CodeDeploy reads a revision from a bucket in the deployment's own region (the user
    guide: "the target Amazon S3 bucket must be created or exist in the same region as the
    target instances"); a bucket elsewhere is, to this region, a revision that is not there."""
    located = registry.bundles.bucket_region(str(s3["bucket"]))
    if located is not None and located != registry.region:
        raise ApiError(
            "RevisionDoesNotExistException",
            f"No application revision found for revision: the bucket {s3['bucket']} is in "
            f"{located}, not in {registry.region}; CodeDeploy reads a revision from a bucket "
            "in the deployment's region.",
        )


def check_revision(application: Application, location: object) -> dict[str, Any]:
    if not isinstance(location, Mapping) or not location.get("revisionType"):
        raise ApiError(*REVISION_REQUIRED)
    kind = location["revisionType"]
    platform = application.compute_platform
    if kind == "S3":
        s3 = location.get("s3Location")
        if not isinstance(s3, Mapping):
            raise ApiError("InvalidRevisionException", "An S3 revision needs an s3Location.")
        check_s3_location(s3, platform)
    elif kind == "AppSpecContent":
        if platform == "Server":
            raise ApiError(
                "InvalidRevisionException",
                "AppSpecContent revisions are for the ECS and Lambda compute platforms only.",
            )
        if not isinstance(location.get("appSpecContent"), Mapping) or not location[
            "appSpecContent"
        ].get("content"):
            raise ApiError(
                "InvalidRevisionException", "An AppSpecContent revision needs its content."
            )
    elif kind == "String":
        if platform != "Lambda":
            raise ApiError(
                "InvalidRevisionException",
                "String revisions are for the Lambda compute platform only.",
            )
    elif kind == "GitHub":
        check_github_location(location.get("gitHubLocation"), platform)
    else:
        raise ApiError("InvalidRevisionException", f"The revision type {kind} is not valid.")
    return dict(location)


def remember(
    registry: Registry,
    application: Application,
    location: dict[str, Any],
    *,
    description: str | None,
    registered: bool,
) -> RegisteredRevision:
    known = registry.revisions.setdefault(application.name, {})
    key = revision_key(location)
    record = known.get(key)
    if record is None:
        record = RegisteredRevision(location, description, registry.clock() if registered else None)
        known[key] = record
    elif registered:
        record.register_time = registry.clock()
        record.description = description if description is not None else record.description
    return record


def find_revision(
    registry: Registry, application: Application, location: object
) -> RegisteredRevision:
    if not isinstance(location, Mapping):
        raise ApiError(*REVISION_REQUIRED)
    record = registry.revisions.get(application.name, {}).get(revision_key(location))
    if record is None:
        raise ApiError(
            "RevisionDoesNotExistException",
            f"No application revision found for revision {json.dumps(location, sort_keys=True)}",
        )
    return record


def register_application_revision(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    application = registry.application(body)
    location = check_revision(application, body.get("revision"))
    description = checked_description(body)
    remember(registry, application, location, description=description, registered=True)
    return {}


def get_application_revision(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    application = registry.application(body)
    record = find_revision(registry, application, body.get("revision"))
    return {
        "applicationName": application.name,
        "revision": record.location,
        "revisionInfo": record.generic_info(),
    }


def batch_get_application_revisions(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    application = registry.application(body)
    wanted = batch(body, "revisions", REVISION_REQUIRED, what="revisions")
    found = []
    for location in wanted:
        record = find_revision(registry, application, location)
        found.append(
            {"revisionLocation": record.location, "genericRevisionInfo": record.generic_info()}
        )
    return {"applicationName": application.name, "errorMessage": "", "revisions": found}


def list_application_revisions(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    application = registry.application(body)
    sort_by = body.get("sortBy")
    if sort_by not in (None, "registerTime", "firstUsedTime", "lastUsedTime"):
        raise ApiError(
            "InvalidSortByException",
            "The column name to sort by is either not present or was specified in an "
            "invalid format.",
        )
    order = body.get("sortOrder") or "ascending"
    if order not in ("ascending", "descending"):
        raise ApiError(
            "InvalidSortOrderException", "The sort order was specified in an invalid format."
        )
    bucket, prefix = body.get("s3Bucket"), body.get("s3KeyPrefix")
    if prefix and not bucket:
        raise ApiError(
            "BucketNameFilterRequiredException",
            "A bucket name is required when a key prefix is given.",
        )
    deployed = body.get("deployed") or "ignore"
    if deployed not in ("include", "exclude", "ignore"):
        raise ApiError(
            "InvalidDeployedStateFilterException",
            "The deployed state filter was specified in an invalid format.",
        )
    records = list(registry.revisions.get(application.name, {}).values())
    if bucket:
        records = [
            r
            for r in records
            if (r.location.get("s3Location") or {}).get("bucket") == bucket
            and str((r.location.get("s3Location") or {}).get("key", "")).startswith(prefix or "")
        ]
    if deployed == "include":
        records = [r for r in records if r.first_used is not None]
    elif deployed == "exclude":
        records = [r for r in records if r.first_used is None]
    if sort_by:
        field = {
            "registerTime": "register_time",
            "firstUsedTime": "first_used",
            "lastUsedTime": "last_used",
        }[sort_by]
        records.sort(key=lambda r: getattr(r, field) or 0.0, reverse=order == "descending")
    return one_page("revisions", [r.location for r in records], body)
