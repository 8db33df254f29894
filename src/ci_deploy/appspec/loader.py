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

import bisect
import json
import re
from dataclasses import dataclass

import yaml
from yaml.constructor import SafeConstructor

from ci_deploy.appspec.diagnostics import Collector, shorten
from ci_deploy.appspec.nodes import Mapping, Node, Scalar, Sequence

# Deeper nesting than this is never an AppSpec; stop before Python's recursion limit does.
MAX_DEPTH = 100
# Values (scalars, lists and mappings, each alias counted as everything it repeats) in one
# document. A large Server AppSpec (hundreds of files and permissions entries, every hook with
# scripts) holds a few thousand; 100,000 is far beyond any real one, and still converts and
# checks in well under a second.
MAX_NODES = 100_000
# Files longer than this are counted by _EventScan before they are composed (the converter's own
# count is the backstop for smaller ones, which hold far fewer values than MAX_NODES).
_SCAN_FIRST_CHARACTERS = 64 * 1024

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_CORE_PREFIX = "tag:yaml.org,2002:"
_STANDARD_TAG = re.compile(r"tag:yaml\.org,2002:(str|int|float|bool|null|timestamp|binary|value)")


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
        return Parsed(_check_root(_parse_json(text, collector), collector), "json")
    if text.lstrip().startswith("{"):
        trial = Collector(collector.file)
        root = _parse_json(text, trial)
        if root is not None:
            collector.diagnostics.extend(trial.diagnostics)
            return Parsed(_check_root(root, collector), "json")
    return Parsed(_check_root(_parse_yaml(text, collector), collector), "yaml")


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


# ---------------------------------------------------------------------------------------------
# YAML


def _tab_lines(text: str) -> list[tuple[int, int]]:
    """(line, column) of each tab in a line's leading whitespace."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        position = line.find("\t", 0, indent)
        if position >= 0:
            found.append((number, position + 1))
    return found


def _parse_yaml(text: str, collector: Collector) -> Node | None:
    tagged: set[tuple[int, int]] = set()
    # A tag needs a '!', an alias an anchor ('&') and a '*'; a big file is counted before it is
    # composed, so the count stops it early. Most files skip this pass.
    if "!" in text or ("&" in text and "*" in text) or len(text) > _SCAN_FIRST_CHARACTERS:
        scan = _EventScan(collector)
        if not scan.run(text):
            return None
        tagged = scan.tagged
    loader = _Loader(text)
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
    except _TooManyValues as error:
        _too_many_values(collector, error.line, error.column)
        return None


def _too_many_values(collector: Collector, line: int, column: int) -> None:
    collector.error(
        line,
        column,
        "too-many-values",
        f"the document holds more than {MAX_NODES} values (an alias counts as all it "
        "repeats): an AppSpec holds a few hundred; shrink it",
    )


class _TooManyValues(Exception):
    """The document passed ``MAX_NODES`` at (line, column); conversion stops there."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__(f"more than {MAX_NODES} values")
        self.line = line
        self.column = column


def _shown_tag(tag: str) -> str:
    """A tag as it is usually written: '!!int' for the core schema's, else as resolved."""
    return "!!" + tag[len(_CORE_PREFIX) :] if tag.startswith(_CORE_PREFIX) else tag


@dataclass
class _Open:
    """A list or mapping whose end has not come yet: its anchor, and what it expands to."""

    anchor: str | None
    size: int = 1
    height: int = 0


class _EventScan:
    """One pass over the parser's events, before conversion: reports every explicit tag, and
    counts the document with each alias expanded, stopping at the alias that takes it past
    ``MAX_NODES`` values or ``MAX_DEPTH`` levels. Anchored nodes are measured once (size and
    height), so an alias costs one lookup however much it repeats."""

    def __init__(self, collector: Collector) -> None:
        self._collector = collector
        self.tagged: set[tuple[int, int]] = set()
        self._anchors: dict[str, tuple[int, int]] = {}
        self._open: list[_Open] = []
        self._total = 0

    def run(self, text: str) -> bool:
        """False when the document is too big or too deep once expanded (already reported)."""
        loader = _Loader(text)
        try:
            while loader.check_event():
                event: yaml.Event = loader.get_event()  # type: ignore[no-untyped-call]
                if isinstance(event, yaml.DocumentEndEvent):
                    break  # a second document is the composer's 'multiple-documents' error
                if not self._event(event):
                    return False
        except (yaml.YAMLError, RecursionError, ValueError):
            pass  # a syntax error: the composer reports it, with its position
        finally:
            loader.dispose()
        return True

    def _event(self, event: yaml.Event) -> bool:
        mark = event.start_mark
        assert mark is not None  # the parser marks every event
        line, column = mark.line + 1, mark.column + 1
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor or ""
            # An alias inside the node it names has no size yet: the converter reports it.
            size, height = self._anchors.get(anchor, (1, 0))
            return self._alias(anchor, size, height, line, column)
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            self._tag(event, line, column)
            self._total += 1
            if self._total > MAX_NODES:
                _too_many_values(self._collector, line, column)
                return False
            if isinstance(event, yaml.ScalarEvent):
                self._add(1, 0)
                if event.anchor is not None:
                    self._anchors[event.anchor] = (1, 0)
            else:
                self._open.append(_Open(event.anchor))
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self._open.pop()
            self._add(done.size, done.height)
            if done.anchor is not None:
                self._anchors[done.anchor] = (done.size, done.height)
        return True

    def _add(self, size: int, height: int) -> None:
        if self._open:
            parent = self._open[-1]
            parent.size += size
            parent.height = max(parent.height, height + 1)

    def _alias(self, anchor: str, size: int, height: int, line: int, column: int) -> bool:
        depth = len(self._open)
        if depth + height > MAX_DEPTH:
            self._collector.error(
                line,
                column,
                "too-deep",
                f"alias *{shorten(anchor)} at level {depth} repeats a value {height} levels "
                f"deep, nesting the document {depth + height} levels deep (past {MAX_DEPTH}: an "
                "AppSpec is a few levels deep): write the values out instead of nesting aliases",
            )
            return False
        self._total += size
        if self._total > MAX_NODES:
            self._collector.error(
                line,
                column,
                "too-many-values",
                f"alias *{shorten(anchor)} repeats {size} values, taking the document past "
                f"{MAX_NODES} values once its aliases are expanded (an AppSpec holds a few "
                "hundred): aliases that repeat aliases grow exponentially; write the values "
                "out or use fewer aliases",
            )
            return False
        self._add(size, height)
        return True

    def _tag(self, event: yaml.NodeEvent, line: int, column: int) -> None:
        tag = getattr(event, "tag", None)
        if tag is None or (isinstance(event, yaml.ScalarEvent) and tag == _STR_TAG):
            return
        self.tagged.add((line, column))
        kind = (
            "a value"
            if isinstance(event, yaml.ScalarEvent)
            else ("a list" if isinstance(event, yaml.SequenceStartEvent) else "a mapping")
        )
        advice = (
            "quote the value if it must be a string"
            if isinstance(event, yaml.ScalarEvent)
            else "remove the tag"
        )
        self._collector.error(
            line,
            column,
            "yaml-tag",
            f"YAML tag {shorten(_shown_tag(tag))!r} on {kind}: an AppSpec is plain values, "
            f"lists and mappings, and no parser should be asked to build objects from it "
            f"(only !!str is accepted); {advice}",
        )


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
            raise _TooManyValues(line, column)
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
            # An explicit tag (_EventScan reported it): keep the text as written, never build
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


# ---------------------------------------------------------------------------------------------
# JSON

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
MAX_NUMBER_CHARACTERS = 4000
_WHITESPACE = " \t\n\r"


class _JsonSyntaxError(Exception):
    def __init__(self, position: int, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


class _JsonParser:
    """A strict JSON parser (RFC 8259) that records where every key and value starts."""

    def __init__(self, text: str, collector: Collector) -> None:
        self._text = text
        self._position = 0
        self._collector = collector
        self._line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
        self._count = 0

    def where(self, position: int) -> tuple[int, int]:
        index = bisect.bisect_right(self._line_starts, position) - 1
        return index + 1, position - self._line_starts[index] + 1

    def document(self) -> Node:
        self._skip()
        value = self._value(0)
        self._skip()
        if self._position < len(self._text):
            raise _JsonSyntaxError(self._position, "extra data after the JSON document")
        return value

    def _skip(self) -> None:
        text, position = self._text, self._position
        while position < len(text) and text[position] in _WHITESPACE:
            position += 1
        self._position = position

    def _peek(self) -> str:
        return self._text[self._position] if self._position < len(self._text) else ""

    def _value(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise _JsonSyntaxError(self._position, f"nesting deeper than {MAX_DEPTH} levels")
        start = self._position
        line, column = self.where(start)
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooManyValues(line, column)
        char = self._peek()
        if char == "{":
            return self._object(line, column, depth)
        if char == "[":
            return self._array(line, column, depth)
        if char == '"':
            value = self._string()
            return Scalar(line, column, value, self._text[start : self._position], True)
        for literal, constant in (("true", True), ("false", False), ("null", None)):
            if self._text.startswith(literal, start):
                self._position = start + len(literal)
                return Scalar(line, column, constant, literal)
        match = _NUMBER.match(self._text, start)
        if match and match.end() > start:
            self._position = match.end()
            raw = match.group(0)
            if len(raw) > MAX_NUMBER_CHARACTERS:
                # int() refuses more than 4300 digits; no AppSpec value is anywhere near this.
                raise _JsonSyntaxError(
                    start, f"a number of {len(raw)} characters is too long to read"
                )
            number: int | float = float(raw) if match.group(1) or match.group(2) else int(raw)
            return Scalar(line, column, number, raw)
        if not char:
            raise _JsonSyntaxError(start, "the document ends where a value was expected")
        raise _JsonSyntaxError(start, f"unexpected character {char!r} where a value was expected")

    def _string(self) -> str:
        try:
            value, end = json.decoder.scanstring(self._text, self._position + 1)  # type: ignore[attr-defined]
        except json.JSONDecodeError as error:
            raise _JsonSyntaxError(error.pos, error.msg) from None
        self._position = end
        assert isinstance(value, str)
        return value

    def _object(self, line: int, column: int, depth: int) -> Mapping:
        mapping = Mapping(line, column)
        seen: dict[str, Scalar] = {}
        self._position += 1
        self._skip()
        if self._peek() == "}":
            self._position += 1
            return mapping
        while True:
            self._skip()
            if self._peek() != '"':
                raise _JsonSyntaxError(self._position, "expected a quoted key")
            key_start = self._position
            key_line, key_column = self.where(key_start)
            key_text = self._string()
            key = Scalar(
                key_line, key_column, key_text, self._text[key_start : self._position], True
            )
            self._skip()
            if self._peek() != ":":
                raise _JsonSyntaxError(self._position, "expected ':' after the key")
            self._position += 1
            self._skip()
            value = self._value(depth + 1)
            if key_text in seen:
                self._collector.error(
                    key_line,
                    key_column,
                    "duplicate-key",
                    f"duplicate key {key_text!r} (first at line {seen[key_text].line}): parsers "
                    "keep only one of them; merge the two entries into one",
                )
            else:
                seen[key_text] = key
                mapping.entries.append((key, value))
            self._skip()
            char = self._peek()
            self._position += 1
            if char == "}":
                return mapping
            if char != ",":
                raise _JsonSyntaxError(self._position - 1, "expected ',' or '}' after a value")

    def _array(self, line: int, column: int, depth: int) -> Sequence:
        sequence = Sequence(line, column)
        self._position += 1
        self._skip()
        if self._peek() == "]":
            self._position += 1
            return sequence
        while True:
            self._skip()
            sequence.items.append(self._value(depth + 1))
            self._skip()
            char = self._peek()
            self._position += 1
            if char == "]":
                return sequence
            if char != ",":
                raise _JsonSyntaxError(self._position - 1, "expected ',' or ']' after a value")


def _parse_json(text: str, collector: Collector) -> Node | None:
    parser = _JsonParser(text, collector)
    try:
        return parser.document()
    except _TooManyValues as error:
        _too_many_values(collector, error.line, error.column)
        return None
    except _JsonSyntaxError as error:
        line, column = parser.where(min(error.position, len(text)))
        collector.error(
            line,
            column,
            "json-syntax",
            f"invalid JSON: {error.message}: fix the syntax here (check for a missing comma or "
            "quote, or a trailing comma)",
        )
        return None
