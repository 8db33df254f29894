"""Running deployments: schedule simulated instances under the health rules, run the real local
engine on each, simulate ECS/Lambda traffic shifts, stop, continue and wait.

``run.start_rollout`` starts one; ``state.Rollout`` is its state; ``fleet`` runs EC2/on-premises
deployments (in place or blue/green) through ``instance`` (one simulated instance), ``traffic``
runs ECS/Lambda ones. A rollout reads and changes the registry, and reports a deployment's end
through the callback it is given (the automatic rollback): it never calls the API layer.
"""
