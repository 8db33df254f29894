"""YAML into the position-keeping tree: PyYAML's safe composer (YAML 1.1 scalars, as the agent
reads them), keys checked on the way (duplicates, merges, non-scalar keys), syntax errors as
diagnostics at their line and column."""

from __future__ import annotations

import re

import yaml
from yaml.constructor import SafeConstructor

from ci_deploy.appspec.diagnostics import Collector, shorten
from ci_deploy.appspec.limits import (
    MAX_DEPTH,
    MAX_NODES,
    SCAN_FIRST_CHARACTERS,
    EventScan,
    TooManyValues,
    YamlLoader,
    too_many_values,
)
from ci_deploy.appspec.nodes import Mapping, Node, Scalar, Sequence

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STANDARD_TAG = re.compile(r"tag:yaml\.org,2002:(str|int|float|bool|null|timestamp|binary|value)")


def _tab_lines(text: str) -> list[tuple[int, int]]:
    """(line, column) of each tab in a line's leading whitespace."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        position = line.find("\t", 0, indent)
        if position >= 0:
            found.append((number, position + 1))
    return found


def parse_yaml(text: str, collector: Collector) -> Node | None:
    tagged: set[tuple[int, int]] = set()
    # A tag needs a '!', an alias an anchor ('&') and a '*'; a big file is counted before it is
    # composed, so the count stops it early. Most files skip this pass.
    if "!" in text or ("&" in text and "*" in text) or len(text) > SCAN_FIRST_CHARACTERS:
        scan = EventScan(collector)
        if not scan.run(text):
            return None
        tagged = scan.tagged
    loader = YamlLoader(text)
    try:
        composed = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        _report_yaml_error(text, error, collector)
        return None
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        collector.error(
            1, 1, "yaml-syntax", f"the file is not valid YAML ({error}): fix its syntax"
        )
        return None
    finally:
        loader.dispose()
    if composed is None:
        collector.error(
            1,
            1,
            "empty-file",
            "the file is empty: an AppSpec is a mapping that starts with 'version: 0.0'",
        )
        return None
    try:
        return _Converter(collector, tagged).convert(composed, 0)
    except TooManyValues as error:
        too_many_values(collector, error.line, error.column)
        return None


def _report_yaml_error(text: str, error: yaml.MarkedYAMLError, collector: Collector) -> None:
    mark = error.problem_mark or error.context_mark
    if error.context_mark is not None and mark is not None and mark.index >= len(text.rstrip()):
        # "end of stream while scanning a quoted scalar": where the scalar starts is the news.
        mark = error.context_mark
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    if error.context and "expected a single document" in error.context:
        collector.error(
            line,
            column,
            "multiple-documents",
            "the file holds more than one YAML document: an AppSpec is one document; remove "
            "the '---' separator and everything after it, or merge the documents",
        )
        return
    tabs = _tab_lines(text)
    if tabs and tabs[0][0] <= line:
        for tab_line, tab_column in tabs:
            collector.error(
                tab_line,
                tab_column,
                "tab-indentation",
                "a tab in the indentation: YAML indents with spaces only; replace the tab "
                "with spaces",
            )
        return
    problem = error.problem or "syntax error"
    context = f" {error.context}" if error.context else ""
    collector.error(
        line,
        column,
        "yaml-syntax",
        f"invalid YAML: {problem}{context}: fix the syntax here (check indentation, a missing "
        "':' or an unclosed quote or bracket)",
    )


class _Converter:
    """yaml nodes -> our tree, checking keys on the way (duplicates, non-scalar keys)."""

    def __init__(self, collector: Collector, tagged: set[tuple[int, int]]) -> None:
        self._collector = collector
        self._tagged = tagged
        self._constructor = SafeConstructor()
        self._done: dict[int, Node] = {}
        self._active: set[int] = set()
        self._count = 0

    def convert(self, node: yaml.Node, depth: int) -> Node:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if depth > MAX_DEPTH:
            self._collector.error(
                line,
                column,
                "too-deep",
                f"nesting deeper than {MAX_DEPTH} levels: an AppSpec "
                "is a few levels deep; flatten this structure",
            )
            return Scalar(line, column, None)
        identity = id(node)
        if identity in self._done:
            return self._done[identity]
        if identity in self._active:
            self._collector.error(
                line,
                column,
                "recursive-alias",
                "an alias refers to a node that contains it: "
                "replace the alias with the values it should repeat",
            )
            return Scalar(line, column, None)
        self._count += 1
        if self._count > MAX_NODES:
            raise TooManyValues(line, column)
        self._active.add(identity)
        try:
            converted = self._convert(node, line, column, depth)
        finally:
            self._active.discard(identity)
        self._done[identity] = converted
        return converted

    def _convert(self, node: yaml.Node, line: int, column: int, depth: int) -> Node:
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, line, column)
        if isinstance(node, yaml.SequenceNode):
            items = [self.convert(item, depth + 1) for item in node.value]
            return Sequence(line, column, items)
        assert isinstance(node, yaml.MappingNode)
        mapping = Mapping(line, column)
        seen: dict[object, Scalar] = {}
        merged: list[tuple[Scalar, Node]] = []
        for key_node, value_node in node.value:
            key = self.convert(key_node, depth + 1)
            value = self.convert(value_node, depth + 1)
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_entries(value))
                continue
            if not isinstance(key, Scalar):
                self._collector.error(
                    key.line,
                    key.column,
                    "key-not-scalar",
                    f"a key is {key.kind}: keys are plain names; write 'name: value'",
                )
                continue
            identity = _key_identity(key.value)
            if identity in seen:
                first = seen[identity]
                self._collector.error(
                    key.line,
                    key.column,
                    "duplicate-key",
                    f"duplicate key {key.raw or key.value!r} (first at line {first.line}): "
                    "parsers keep only one of them; merge the two entries into one",
                )
                continue
            seen[identity] = key
            mapping.entries.append((key, value))
        for key, value in merged:
            if _key_identity(key.value) not in seen:
                seen[_key_identity(key.value)] = key
                mapping.entries.append((key, value))
        return mapping

    def _merge_entries(self, value: Node) -> list[tuple[Scalar, Node]]:
        sources = value.items if isinstance(value, Sequence) else [value]
        entries: list[tuple[Scalar, Node]] = []
        for source in sources:
            if isinstance(source, Mapping):
                entries.extend(source.entries)
            else:
                self._collector.error(
                    source.line,
                    source.column,
                    "yaml-merge",
                    f"'<<' merges mappings, got "
                    f"{source.kind}: merge an anchored mapping ('<<: *name')",
                )
        return entries

    def _scalar(self, node: yaml.ScalarNode, line: int, column: int) -> Scalar:
        quoted = node.style in ("'", '"')
        if node.tag == _MERGE_TAG:
            return Scalar(line, column, "<<", node.value, quoted)
        if (line, column) in self._tagged or not _STANDARD_TAG.fullmatch(node.tag):
            # An explicit tag (EventScan reported it): keep the text as written, never build
            # what the tag asks for.
            return Scalar(line, column, node.value, node.value, quoted)
        try:
            value = self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as error:
            self._collector.error(
                line,
                column,
                "yaml-value",
                f"value {shorten(node.value)!r} cannot be read ({shorten(str(error))}): "
                "quote it to make it a string",
            )
            value = node.value
        return Scalar(line, column, value, node.value, quoted)


def _key_identity(value: object) -> object:
    return (type(value).__name__, value if _is_hashable(value) else repr(value))


def _is_hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
