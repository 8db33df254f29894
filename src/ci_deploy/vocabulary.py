"""CodeDeploy's vocabulary, defined once: statuses, lifecycle events per compute platform, bundle
types, name rules and the error codes that mean "throttled" or "try again".

Boto-free and importing nothing of the package, so every layer can share it: the AWS client, the
watcher, the renderers, the AppSpec rules, the local agent and the emulator.
"""

from __future__ import annotations

import re

# -- names ------------------------------------------------------------------------------------

# Names of applications, deployment groups and deployment configs:
# https://docs.aws.amazon.com/codedeploy/latest/userguide/limits.html
NAME_PATTERN = re.compile(r"[A-Za-z0-9._+=,@-]{1,100}")
NAME_RULE = "a CodeDeploy name: 1-100 letters, digits and . _ + = , @ -"

# -- compute platforms (computePlatform) ------------------------------------------------------

SERVER = "Server"  # EC2/on-premises
ECS = "ECS"
LAMBDA = "Lambda"
COMPUTE_PLATFORMS = (SERVER, LAMBDA, ECS)

# -- deployment statuses ----------------------------------------------------------------------

ACTIVE_DEPLOYMENT_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
TERMINAL_DEPLOYMENT_STATUSES = ("Succeeded", "Failed", "Stopped")
ALL_DEPLOYMENT_STATUSES = (*ACTIVE_DEPLOYMENT_STATUSES, *TERMINAL_DEPLOYMENT_STATUSES)
# Statuses before any target runs: a deployment in one of these lists no targets yet.
NOT_STARTED_DEPLOYMENT_STATUSES = ("Created", "Queued")

# -- target and lifecycle event statuses -------------------------------------------------------

TARGET_STATUSES = ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Unknown", "Ready")
# A target, and a lifecycle event, has ended in one of these.
TERMINAL_TARGET_STATUSES = frozenset({"Succeeded", "Failed", "Skipped"})
TERMINAL_EVENT_STATUSES = TERMINAL_TARGET_STATUSES
# Ended, or Ready: a blue/green replacement target waiting for traffic to be rerouted.
SETTLED_TARGET_STATUSES = TERMINAL_TARGET_STATUSES | {"Ready"}
# The counts of GetDeployment's deploymentOverview, in the API's order.
OVERVIEW_KEYS = ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")

# -- lifecycle events per compute platform ---------------------------------------------------

# EC2/on-premises, in place: the agent's lifecycle, in order.
SERVER_IN_PLACE_EVENTS = (
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
)
# The hooks around blocking and allowing load balancer traffic (the service itself performs
# BlockTraffic and AllowTraffic between them).
BLOCK_TRAFFIC_HOOKS = ("BeforeBlockTraffic", "AfterBlockTraffic")
ALLOW_TRAFFIC_HOOKS = ("BeforeAllowTraffic", "AfterAllowTraffic")
BLOCK_TRAFFIC_EVENTS = ("BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic")
ALLOW_TRAFFIC_EVENTS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
# Every event an instance's agent runs, in order.
INSTANCE_EVENTS = (*BLOCK_TRAFFIC_HOOKS, *SERVER_IN_PLACE_EVENTS, *ALLOW_TRAFFIC_HOOKS)
# What a target of a load-balanced (or blue/green) deployment shows, in order.
SERVER_EVENTS = (*BLOCK_TRAFFIC_EVENTS, *SERVER_IN_PLACE_EVENTS, *ALLOW_TRAFFIC_EVENTS)
# Events the agent performs itself: scripts listed under them never run.
AGENT_EVENTS = frozenset({"DownloadBundle", "Install"})
# Events the service performs (traffic through the load balancer), never the agent.
SERVICE_EVENTS = frozenset({"BlockTraffic", "AllowTraffic"})
# The events an AppSpec's hooks section may name, in the documentation's order.
SERVER_HOOK_EVENTS = (
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    *BLOCK_TRAFFIC_HOOKS,
    *ALLOW_TRAFFIC_HOOKS,
)
SERVER_RESERVED_EVENTS = ("DownloadBundle", "Install", "BlockTraffic", "AllowTraffic")

# Amazon ECS: what a target shows, the hooks an AppSpec may name, and the service's own events.
ECS_EVENTS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    *ALLOW_TRAFFIC_EVENTS,
)
ECS_HOOK_EVENTS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    *ALLOW_TRAFFIC_HOOKS,
)
ECS_RESERVED_EVENTS = ("Start", "Install", "AllowTestTraffic", "AllowTraffic", "End")

# AWS Lambda: the same three parts.
LAMBDA_EVENTS = ALLOW_TRAFFIC_EVENTS
LAMBDA_HOOK_EVENTS = ALLOW_TRAFFIC_HOOKS
LAMBDA_RESERVED_EVENTS = ("Start", "AllowTraffic", "End")

# -- revisions --------------------------------------------------------------------------------

# s3Location.bundleType of an EC2/on-premises revision, and of an ECS or Lambda AppSpec.
ARCHIVE_BUNDLE_TYPES = ("zip", "tar", "tgz")
APPSPEC_BUNDLE_TYPES = ("YAML", "JSON")
FILE_EXISTS_BEHAVIORS = ("DISALLOW", "OVERWRITE", "RETAIN")

# -- automatic rollback (autoRollbackConfiguration.events) -------------------------------------

ROLLBACK_ON_FAILURE = "DEPLOYMENT_FAILURE"
ROLLBACK_ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"
ROLLBACK_ON_REQUEST = "DEPLOYMENT_STOP_ON_REQUEST"
AUTO_ROLLBACK_EVENTS = (ROLLBACK_ON_FAILURE, ROLLBACK_ON_ALARM, ROLLBACK_ON_REQUEST)

# -- error codes ------------------------------------------------------------------------------

# "Try again later", not "you asked for something wrong" (any AWS service).
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded"}
)
# S3 answers worth another attempt of the same request (on top of the SDK's own retries).
S3_RETRY_CODES = frozenset(
    {"InternalError", "RequestTimeout", "ServiceUnavailable", "SlowDown", "500", "503"}
)
