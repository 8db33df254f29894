"""Parse YAML or JSON into a position-keeping tree, reporting syntax problems as diagnostics.

YAML is composed with PyYAML's safe loader (C-accelerated when libyaml is present) so every key
and value keeps its line and column; scalars are resolved with YAML 1.1 rules, the rules the
Ruby CodeDeploy agent's parser applies (that is why an unquoted ``0644`` is the number 420).
JSON goes through a small position-keeping parser of its own, because PyYAML rejects the tab
indentation that JSON allows.

Hostile input stays cheap: a document is refused past ``MAX_NODES`` values or ``MAX_DEPTH``
levels counted with every alias expanded (so a "billion laughs" file of a few hundred bytes is
an error at the alias that blows it up, not gigabytes of memory), and explicit YAML tags, which
no AppSpec needs, are errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_deploy.appspec.diagnostics import Collector
from ci_deploy.appspec.json_parse import parse_json
from ci_deploy.appspec.nodes import Mapping, Node, Scalar
from ci_deploy.appspec.yaml_parse import parse_yaml


@dataclass(frozen=True)
class Parsed:
    """The tree (None when the file could not be parsed) and the syntax it was read as."""

    root: Node | None
    syntax: str


def decode(data: bytes, collector: Collector) -> str | None:
    """UTF-8 text (a BOM is dropped), or None with an ``encoding`` diagnostic."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        collector.error(
            line,
            column,
            "encoding",
            f"byte 0x{data[error.start]:02x} is not UTF-8: save the file as UTF-8 text",
        )
        return None


def parse(text: str, collector: Collector, *, as_json: bool) -> Parsed:
    """Parse ``text`` as JSON when ``as_json`` (or when it looks like a JSON object and parses
    as one), else as YAML. Problems go to ``collector``; the tree is None if nothing usable
    came out."""
    if not text.strip() or (not as_json and _only_comments(text)):
        collector.error(
            1,
            1,
            "empty-file",
            "the file is empty: an AppSpec is a mapping that starts with 'version: 0.0'",
        )
        return Parsed(None, "json" if as_json else "yaml")
    if as_json:
        return Parsed(_check_root(parse_json(text, collector), collector), "json")
    if text.lstrip().startswith("{"):
        trial = Collector(collector.file)
        root = parse_json(text, trial)
        if root is not None:
            collector.diagnostics.extend(trial.diagnostics)
            return Parsed(_check_root(root, collector), "json")
    return Parsed(_check_root(parse_yaml(text, collector), collector), "yaml")


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def _check_root(root: Node | None, collector: Collector) -> Node | None:
    if root is None or isinstance(root, Mapping):
        return root
    if isinstance(root, Scalar) and root.value is None:
        collector.error(
            root.line,
            root.column,
            "empty-file",
            "the document is empty: an AppSpec is a mapping that starts with 'version: 0.0'",
        )
        return None
    collector.error(
        root.line,
        root.column,
        "not-a-mapping",
        f"the document is {root.kind}, not a mapping: an AppSpec is a set of 'key: value' "
        "entries starting with 'version: 0.0'",
    )
    return None
