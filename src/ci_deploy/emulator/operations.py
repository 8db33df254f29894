"""The table of the CodeDeploy operations the emulator implements: name -> handler.

A handler takes the registry and the request body (already type-checked against botocore's
model) and returns the answer. The service runs every handler while holding the registry's lock,
except those in ``SELF_LOCKING``, which take it themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ci_deploy.emulator.api import (
    applications,
    configs,
    control,
    deployments,
    groups,
    onpremises,
    resources,
    revisions,
    targets,
)
from ci_deploy.emulator.registry import Registry

Handler = Callable[[Registry, Mapping[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Handler] = {
    "CreateApplication": applications.create_application,
    "GetApplication": applications.get_application,
    "ListApplications": applications.list_applications,
    "BatchGetApplications": applications.batch_get_applications,
    "DeleteApplication": applications.delete_application,
    "CreateDeploymentConfig": configs.create_deployment_config,
    "GetDeploymentConfig": configs.get_deployment_config,
    "ListDeploymentConfigs": configs.list_deployment_configs,
    "DeleteDeploymentConfig": configs.delete_deployment_config,
    "CreateDeploymentGroup": groups.create_deployment_group,
    "GetDeploymentGroup": groups.get_deployment_group,
    "UpdateDeploymentGroup": groups.update_deployment_group,
    "ListDeploymentGroups": groups.list_deployment_groups,
    "BatchGetDeploymentGroups": groups.batch_get_deployment_groups,
    "DeleteDeploymentGroup": groups.delete_deployment_group,
    "RegisterApplicationRevision": revisions.register_application_revision,
    "GetApplicationRevision": revisions.get_application_revision,
    "BatchGetApplicationRevisions": revisions.batch_get_application_revisions,
    "ListApplicationRevisions": revisions.list_application_revisions,
    "CreateDeployment": deployments.create_deployment,
    "GetDeployment": deployments.get_deployment,
    "BatchGetDeployments": deployments.batch_get_deployments,
    "ListDeployments": deployments.list_deployments,
    "ListDeploymentTargets": targets.list_deployment_targets,
    "BatchGetDeploymentTargets": targets.batch_get_deployment_targets,
    "GetDeploymentTarget": targets.get_deployment_target,
    "ListDeploymentInstances": targets.list_deployment_instances,
    "BatchGetDeploymentInstances": targets.batch_get_deployment_instances,
    "GetDeploymentInstance": targets.get_deployment_instance,
    "StopDeployment": control.stop_deployment,
    "ContinueDeployment": control.continue_deployment,
    "PutLifecycleEventHookExecutionStatus": control.put_lifecycle_event_hook_execution_status,
    "RegisterOnPremisesInstance": onpremises.register_on_premises_instance,
    "DeregisterOnPremisesInstance": onpremises.deregister_on_premises_instance,
    "AddTagsToOnPremisesInstances": onpremises.add_tags_to_on_premises_instances,
    "RemoveTagsFromOnPremisesInstances": onpremises.remove_tags_from_on_premises_instances,
    "ListOnPremisesInstances": onpremises.list_on_premises_instances,
    "GetOnPremisesInstance": onpremises.get_on_premises_instance,
    "BatchGetOnPremisesInstances": onpremises.batch_get_on_premises_instances,
    "TagResource": resources.tag_resource,
    "UntagResource": resources.untag_resource,
    "ListTagsForResource": resources.list_tags_for_resource,
    "UpdateApplication": resources.update_application,
    "ListGitHubAccountTokenNames": resources.list_git_hub_account_token_names,
    "DeleteGitHubAccountToken": resources.delete_git_hub_account_token,
    "SkipWaitTimeForInstanceTermination": resources.skip_wait_time_for_instance_termination,
    "DeleteResourcesByExternalId": resources.delete_resources_by_external_id,
}

# CreateDeployment reads and parses an ECS/Lambda AppSpec outside the lock (a slow or hostile
# document must not hold up every other call), so it takes the lock itself.
SELF_LOCKING = frozenset({"CreateDeployment"})
