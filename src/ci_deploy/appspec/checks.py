"""The small vocabulary the platform rule sets are written in: expect a type, check keys."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from ci_deploy.appspec.diagnostics import Collector, shorten
from ci_deploy.appspec.nodes import Mapping, Node, Scalar, Sequence

MAX_NUMBER_DIGITS = 18


class Context:
    """What a rule set needs: where to report, and the revision directory (None when only an
    appspec file is validated, so checks against the revision's files are skipped)."""

    def __init__(self, collector: Collector, revision: Path | None) -> None:
        self.collector = collector
        self.revision = revision

    def error(self, node: Node, code: str, message: str) -> None:
        self.collector.error(node.line, node.column, code, message)

    def warning(self, node: Node, code: str, message: str) -> None:
        self.collector.warning(node.line, node.column, code, message)


def describe(node: Node) -> str:
    """'a string ("x")', 'a number (0644)', 'a list' — the type and, for scalars, the text."""
    if isinstance(node, Scalar) and isinstance(node.value, str):
        return f'a string ("{shorten(node.value)}")'
    if isinstance(node, Scalar) and node.value is not None:
        shown = node.raw if node.raw else str(node.value)
        return f"{node.kind} ({shorten(shown)})"
    return node.kind


def plain_number(text: str) -> int | None:
    """The whole number ``text`` spells in at most 18 ASCII digits, else None. int() alone
    would take other scripts' digits ('٣') and refuse beyond 4300 digits with a ValueError."""
    if 0 < len(text) <= MAX_NUMBER_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None


def mapping(ctx: Context, node: Node, what: str, example: str) -> Mapping | None:
    if isinstance(node, Mapping):
        return node
    ctx.error(
        node, "wrong-type", f"{what} must be a mapping, got {describe(node)}: write {example}"
    )
    return None


def sequence(ctx: Context, node: Node, what: str, example: str) -> Sequence | None:
    if isinstance(node, Sequence):
        return node
    ctx.error(node, "wrong-type", f"{what} must be a list, got {describe(node)}: write {example}")
    return None


def string(ctx: Context, node: Node, what: str, example: str) -> str | None:
    """The text of a string scalar; numbers are not silently taken as strings."""
    if isinstance(node, Scalar) and isinstance(node.value, str) and node.value.strip():
        return node.value
    if isinstance(node, Scalar) and isinstance(node.value, str):
        ctx.error(node, "empty-value", f"{what} is empty: write {example}")
        return None
    ctx.error(node, "wrong-type", f"{what} must be a string, got {describe(node)}: write {example}")
    return None


def suggestion(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'hooks'?)' when ``name`` is a near miss of a known name."""
    choices = list(known)
    folded = {choice.lower(): choice for choice in choices}
    if name.lower() in folded:
        return f" (did you mean {folded[name.lower()]!r}? keys are case-sensitive)"
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def key_name(key: Scalar) -> str:
    return key.value if isinstance(key.value, str) else key.raw or repr(key.value)


def unknown_keys(
    ctx: Context,
    node: Mapping,
    known: Iterable[str],
    where: str,
    consequence: str,
    *,
    error: bool = False,
    fold_case: bool = False,
) -> None:
    """Report each key of ``node`` that is not in ``known``."""
    names = list(known)
    folded = {name.lower() for name in names}
    for key, _ in node:
        name = key_name(key)
        if name in names or (fold_case and name.lower() in folded):
            continue
        message = (
            f"unknown key {name!r} in {where}{suggestion(name, names)}: {consequence}; "
            f"valid keys are {', '.join(names)}"
        )
        if error:
            ctx.error(key, "unknown-key", message)
        else:
            ctx.warning(key, "unknown-key", message)


def revision_path(ctx: Context, node: Scalar, relative: str, what: str) -> Path | None:
    """``relative`` resolved inside the revision, or None (with an error if it escapes it).
    Returns None without a diagnostic when no revision directory is known."""
    parts = PurePosixPath(relative.replace("\\", "/").lstrip("/")).parts
    if ".." in parts:
        ctx.error(
            node,
            "path-outside-revision",
            f"{what} {relative!r} points outside the revision (agent 2.1+ rejects it): "
            "write a path inside the revision directory",
        )
        return None
    if ctx.revision is None:
        return None
    return ctx.revision.joinpath(*parts)
