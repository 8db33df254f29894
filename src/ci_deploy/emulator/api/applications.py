"""The application operations: Create, Get, List, BatchGet and Delete Application(s)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ci_deploy.emulator.api.members import batch, compute_platform, one_page
from ci_deploy.emulator.api.resources import application_arn, remember_tags
from ci_deploy.emulator.faults import ApiError, name
from ci_deploy.emulator.model import Application
from ci_deploy.emulator.registry import Registry


def create_application(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    app_name = name(body, "applicationName", "Application")
    platform = compute_platform(body)
    if app_name in registry.applications:
        raise ApiError(
            "ApplicationAlreadyExistsException",
            f"The application {app_name} already exists with the IAM user or AWS account.",
        )
    application = Application(str(uuid.uuid4()), app_name, platform, registry.clock())
    remember_tags(registry, application_arn(registry.region, app_name), body.get("tags"))
    registry.applications[app_name] = application
    registry.revisions[app_name] = {}
    return {"applicationId": application.application_id}


def get_application(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"application": registry.application(body).info()}


def list_applications(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    return one_page("applications", sorted(registry.applications), body)


def batch_get_applications(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    names = batch(
        body,
        "applicationNames",
        (
            "ApplicationNameRequiredException",
            "The minimum number of required application names was not specified.",
        ),
        what="names or IDs",
        limit=100,
    )
    return {
        "applicationsInfo": [registry.application({"applicationName": n}).info() for n in names]
    }


def delete_application(registry: Registry, body: Mapping[str, Any]) -> dict[str, Any]:
    app_name = name(body, "applicationName", "Application")
    if app_name in registry.applications:
        del registry.applications[app_name]
        registry.revisions.pop(app_name, None)
        for key in [key for key in registry.groups if key[0] == app_name]:
            del registry.groups[key]
    return {}
