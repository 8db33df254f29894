"""The JSON Schema of the Server AppSpec (for editors), generated from the validator's rule data.

The shipped file ``ci_deploy/schemas/appspec-server.schema.json`` is ``render_server_schema()``;
a test keeps the two equal. A schema cannot say everything the validator checks (files in the
revision, the leading-zero mode trap, timeout sums), so the validator stays the authority.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ci_deploy.appspec import server
from ci_deploy.vocabulary import FILE_EXISTS_BEHAVIORS

SCHEMA_FILE = "appspec-server.schema.json"


def _pattern(regex: re.Pattern[str]) -> str:
    """A Python regex as an anchored JSON Schema pattern (named groups made plain)."""
    return "^(?:" + re.sub(r"\(\?P<\w+>", "(", regex.pattern) + ")$"


def _strings(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


def server_schema() -> dict[str, Any]:
    script = {
        "type": "object",
        "required": ["location"],
        "properties": {
            "location": {
                "type": "string",
                "minLength": 1,
                "description": "Script path relative to the revision root.",
            },
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "maximum": server.MAX_TIMEOUT_SECONDS,
                "description": "Seconds the script may run (default and maximum "
                f"{server.MAX_TIMEOUT_SECONDS}; the sum per event must not exceed it).",
            },
            "runas": {
                "type": "string",
                "pattern": _pattern(server.USER_NAME),
                "maxLength": server.MAX_USER_NAME,
                "description": "Linux user to run the script as (with su).",
            },
            "sudo": {"type": "boolean", "description": "Run with sudo (Linux; undocumented)."},
        },
    }
    permission = {
        "type": "object",
        "required": ["object"],
        "properties": {
            "object": {"type": "string", "pattern": "^/", "description": "Installed path."},
            "pattern": {
                "type": "string",
                "description": "'**' (every descendant) or a glob matched against immediate "
                "children's names.",
            },
            "except": _strings("Globs of immediate children to leave out."),
            "owner": {"type": "string"},
            "group": {"type": "string"},
            "mode": {
                "anyOf": [
                    {"type": "string", "pattern": _pattern(server.MODE)},
                    {"type": "integer", "minimum": 0, "maximum": 7777},
                ],
                "description": "1-4 octal digits; quote a value with a leading zero.",
            },
            "acls": {
                "type": "array",
                "items": {"type": "string", "pattern": _pattern(server.ACL)},
            },
            "context": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "name": {
                        "type": "string",
                        "description": "SELinux user (the agent reads "
                        "'name', not the documented 'user').",
                    },
                    "type": {"type": "string", "description": "SELinux type (required)."},
                    "range": {"type": "string", "pattern": _pattern(server.SELINUX_RANGE)},
                },
                "additionalProperties": False,
            },
            "type": {
                "type": "array",
                "items": {"enum": list(server.PERMISSION_TYPES)},
            },
        },
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "AWS CodeDeploy AppSpec for EC2/on-premises deployments",
        "description": "Generated from ci-deploy's validator rules; run 'ci-deploy validate' "
        "for the checks a schema cannot express.",
        "type": "object",
        "required": ["version", "os"],
        "properties": {
            "version": {
                "type": "number",
                "const": 0,
                "description": 'Write 0.0 unquoted: the agent rejects the string "0.0".',
            },
            "os": {"enum": list(server.OPERATING_SYSTEMS)},
            "files": {
                "type": ["array", "null"],
                "items": {
                    "type": "object",
                    "required": list(server.FILE_KEYS),
                    "properties": {
                        "source": {"type": "string", "minLength": 1},
                        "destination": {"type": "string", "minLength": 1},
                    },
                },
            },
            "file_exists_behavior": {"enum": list(FILE_EXISTS_BEHAVIORS)},
            "permissions": {"type": ["array", "null"], "items": permission},
            "hooks": {
                "type": ["object", "null"],
                "propertyNames": {"enum": list(server.SCRIPTABLE_EVENTS)},
                "additionalProperties": {"type": ["array", "null"], "items": script},
            },
        },
    }


def render_server_schema() -> str:
    """The schema file's exact text."""
    return json.dumps(server_schema(), indent=2) + "\n"
