"""The size limits of a parsed AppSpec (MAX_NODES values, MAX_DEPTH levels, aliases expanded)
and the YAML pre-pass that holds a document to them, and refuses explicit tags, before it is
composed."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from ci_deploy.appspec.diagnostics import Collector, shorten

# Deeper nesting than this is never an AppSpec; stop before Python's recursion limit does.
MAX_DEPTH = 100
# Values (scalars, lists and mappings, each alias counted as everything it repeats) in one
# document. A large Server AppSpec (hundreds of files and permissions entries, every hook with
# scripts) holds a few thousand; 100,000 is far beyond any real one, and still converts and
# checks in well under a second.
MAX_NODES = 100_000
# Files longer than this are counted by EventScan before they are composed (the converter's own
# count is the backstop for smaller ones, which hold far fewer values than MAX_NODES).
SCAN_FIRST_CHARACTERS = 64 * 1024

YamlLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_CORE_PREFIX = "tag:yaml.org,2002:"


def too_many_values(collector: Collector, line: int, column: int) -> None:
    collector.error(
        line,
        column,
        "too-many-values",
        f"the document holds more than {MAX_NODES} values (an alias counts as all it "
        "repeats): an AppSpec holds a few hundred; shrink it",
    )


class TooManyValues(Exception):
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


class EventScan:
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
        loader = YamlLoader(text)
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
                too_many_values(self._collector, line, column)
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
