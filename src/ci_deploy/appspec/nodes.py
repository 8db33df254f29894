"""The position-keeping document tree: every key and value knows its 1-based line and column."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(eq=False)
class Node(ABC):
    line: int
    column: int

    @abstractmethod
    def to_python(self) -> object:
        """The plain Python value (dicts, lists, scalars) this node stands for."""

    @property
    @abstractmethod
    def kind(self) -> str:
        """How a message names this node's type: 'a string', 'a list', ..."""


@dataclass(eq=False)
class Scalar(Node):
    """A scalar with its constructed value, its source text and whether it was quoted."""

    value: object
    raw: str = ""
    quoted: bool = False

    def to_python(self) -> object:
        return self.value

    @property
    def kind(self) -> str:
        value = self.value
        if value is None:
            return "nothing (null)"
        if isinstance(value, bool):
            return "a boolean"
        if isinstance(value, int):
            return "a number"
        if isinstance(value, float):
            return "a number"
        if isinstance(value, str):
            return "a string"
        return f"a {type(value).__name__}"

    @property
    def text(self) -> str | None:
        """The value if it is a string, else None."""
        return self.value if isinstance(self.value, str) else None


@dataclass(eq=False)
class Sequence(Node):
    items: list[Node] = field(default_factory=list)

    def to_python(self) -> object:
        return [item.to_python() for item in self.items]

    @property
    def kind(self) -> str:
        return "a list"


@dataclass(eq=False)
class Mapping(Node):
    """Entries in file order; keys are scalars (the loader reports any other key)."""

    entries: list[tuple[Scalar, Node]] = field(default_factory=list)

    def to_python(self) -> object:
        return {_hashable(key.value): value.to_python() for key, value in self.entries}

    @property
    def kind(self) -> str:
        return "a mapping"

    def get(self, name: str) -> tuple[Scalar, Node] | None:
        """The entry whose key is ``name`` exactly."""
        for key, value in self.entries:
            if key.value == name:
                return key, value
        return None

    def get_folded(self, name: str) -> tuple[Scalar, Node] | None:
        """The entry whose key equals ``name`` ignoring case."""
        folded = name.lower()
        for key, value in self.entries:
            if isinstance(key.value, str) and key.value.lower() == folded:
                return key, value
        return None

    def __iter__(self) -> Iterator[tuple[Scalar, Node]]:
        return iter(self.entries)


def _hashable(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, Scalar) and node.value is None)
