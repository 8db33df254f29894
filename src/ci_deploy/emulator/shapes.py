"""botocore's CodeDeploy model as a wire check: is each member of a request its modelled JSON type.

The service deserializes a JSON body against its model before an operation sees it; a member whose
JSON type is not the modelled one (a string where a structure is expected...) is refused, members
the model does not know are ignored, and ``null`` is an absent member.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import (
    ListShape,
    MapShape,
    OperationNotFoundError,
    ServiceModel,
    Shape,
    StructureShape,
)

WHOLE_NUMBER_KINDS = ("integer", "long")
NUMBER_KINDS = ("double", "float", "timestamp")


@functools.cache
def _codedeploy() -> ServiceModel:
    return botocore.session.get_session().get_service_model("codedeploy")


class TypeMismatch(Exception):
    """A member of the wrong JSON type (input_type_error returns its text)."""

    def __init__(self, path: str, expected: str, value: object) -> None:
        super().__init__(
            f"{path or 'The request body'} must be {expected}, not {_json_type(value)}."
        )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _check_container(shape: Shape, value: object, path: str) -> None:
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise TypeMismatch(path, "a structure (a JSON object)", value)
        for member, member_shape in shape.members.items():
            if member in value:
                _check(member_shape, value[member], f"{path}.{member}" if path else member)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise TypeMismatch(path, "a list", value)
        for index, item in enumerate(value):
            if item is None:  # the model's lists are not sparse
                raise TypeMismatch(f"{path}[{index}]", f"a {shape.member.type_name}", item)
            _check(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise TypeMismatch(path, "a map (a JSON object)", value)
        for key, item in value.items():
            _check(shape.value, item, f"{path}.{key}")


def _check_scalar(kind: str, value: object, path: str) -> None:
    if kind in ("string", "blob"):
        fits, expected = isinstance(value, str), "a string"
    elif kind == "boolean":
        fits, expected = isinstance(value, bool), "a boolean"
    elif kind in WHOLE_NUMBER_KINDS:
        fits = isinstance(value, int) and not isinstance(value, bool)
        expected = "a whole number"
    elif kind in NUMBER_KINDS:
        fits = (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
        expected = "a number"
    else:
        return
    if not fits:
        raise TypeMismatch(path, expected, value)


def _check(shape: Shape, value: object, path: str) -> None:
    if value is None:
        return
    if isinstance(shape, StructureShape | ListShape | MapShape):
        _check_container(shape, value, path)
    else:
        _check_scalar(shape.type_name, value, path)


def input_type_error(operation: str, body: Mapping[str, Any]) -> str | None:
    """What in ``body`` is not the JSON type CodeDeploy's model gives it (None: all is)."""
    try:
        shape = _codedeploy().operation_model(operation).input_shape
    except OperationNotFoundError:
        return None
    if shape is None:
        return None
    try:
        _check(shape, body, "")
    except TypeMismatch as mismatch:
        return str(mismatch)
    return None
