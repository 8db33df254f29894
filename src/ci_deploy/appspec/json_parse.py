"""JSON into the position-keeping tree: a strict parser (RFC 8259) of its own that records where
every key and value starts, since PyYAML rejects the tab indentation JSON allows."""

from __future__ import annotations

import bisect
import json
import re

from ci_deploy.appspec.diagnostics import Collector
from ci_deploy.appspec.limits import MAX_DEPTH, MAX_NODES, TooManyValues, too_many_values
from ci_deploy.appspec.nodes import Mapping, Node, Scalar, Sequence

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
            raise TooManyValues(line, column)
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


def parse_json(text: str, collector: Collector) -> Node | None:
    parser = _JsonParser(text, collector)
    try:
        return parser.document()
    except TooManyValues as error:
        too_many_values(collector, error.line, error.column)
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
