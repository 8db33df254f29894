"""Permissions entries that reach one path: the agent gives a path the permissions of one entry
and fails the Install when two reach it, so pairs of entries on nested or equal objects are
checked (against the revision's installed paths when the revision directory is known)."""

from __future__ import annotations

from ci_deploy.appspec.checks import Context
from ci_deploy.appspec.nodes import Mapping, Node, Scalar, Sequence
from ci_deploy.appspec.permission_match import (
    Budget,
    FileObjectPattern,
    Rule,
    may_overlap,
    related_pairs,
    revision_tree,
    targets,
)

# Far more pairs of entries on nested objects than a real appspec has (a few dozen): past it,
# the pairs are not checked for a common path (a warning says so).
MAX_OVERLAP_PAIRS = 10_000


def check_overlaps(
    ctx: Context, root: Mapping, key: Scalar, rules: list[tuple[Rule, Node]]
) -> None:
    """The agent gives a path the permissions of one entry and fails the Install when two
    entries reach it. With the revision directory: the paths its files install; else the
    entries alone, whatever is installed below them."""
    pairs = related_pairs([rule for rule, _ in rules], MAX_OVERLAP_PAIRS)
    if pairs is None:
        _overlaps_unchecked(ctx, key)
        return
    if not pairs:
        return
    if ctx.revision is None:
        budget = Budget()
        for earlier, later in pairs:
            if may_overlap(rules[earlier][0], rules[later][0], budget):
                _report_overlap(ctx, rules[earlier], rules[later], None)
            if budget.spent:
                _overlaps_unchecked(ctx, key)
                return
        return
    # Two entries meet only at or below the inner (or common) object of their pair.
    scopes = {
        max(rules[earlier][0].object, rules[later][0].object, key=len) for earlier, later in pairs
    }
    installed = revision_tree(ctx.revision, _mappings(root), scopes)
    reached: dict[int, list[str]] = {}
    for index in sorted({index for pair in pairs for index in pair}):
        try:
            reached[index] = targets(rules[index][0], installed)
        except FileObjectPattern:
            reached[index] = []  # the agent fails on that first (not a check of this rule)
    for earlier, later in pairs:
        taken = set(reached[earlier])
        path = next((path for path in reached[later] if path in taken), None)
        if path is not None:
            shown = f"{path} (from {installed.origins[path]})"
            _report_overlap(ctx, rules[earlier], rules[later], shown)


def _overlaps_unchecked(ctx: Context, key: Scalar) -> None:
    instead = "" if ctx.revision else ", or validate the revision directory (it checks paths)"
    ctx.warning(
        key,
        "permissions-overlap-unchecked",
        "ci-deploy stopped checking the permissions entries on nested objects for a path two "
        "of them reach (too many pairs, or globs too intricate), on which the agent fails the "
        f"Install: merge entries{instead}",
    )


def _report_overlap(
    ctx: Context, earlier: tuple[Rule, Node], later: tuple[Rule, Node], path: str | None
) -> None:
    (first, first_node), (second, node) = earlier, later
    types = " and ".join(kind for kind in first.types if kind in second.types)
    same = first.object == second.object
    if path is not None:
        what = (
            f"{path} gets permissions from this entry (line {node.line}) and from the entry "
            f"at line {first_node.line}"
        )
    elif same:
        what = (
            f"object {second.object} also has the entry at line {first_node.line}, and their "
            f"{types} types and pattern/except reach the same paths"
        )
    else:
        outer, inner = sorted((first, second), key=lambda rule: len(rule.object))
        what = (
            f"object {second.object} and object {first.object} of the entry at line "
            f"{first_node.line} are nested, and the pattern '**' of {outer.object} reaches "
            f"what is installed below {inner.object} ({types})"
        )
    ctx.error(
        node,
        "permissions-duplicate-object" if same else "permissions-nested-object",
        f"{what}: the agent gives a path the permissions of one entry only and fails the "
        "Install ('the permissions setting for (PATH) is specified more than once'); keep "
        "the entries apart (disjoint types, or pattern/except: an except leaves out immediate "
        "children only), or merge them",
    )


def _mappings(root: Mapping) -> list[tuple[str, str]]:
    """The files entries' (source, destination) strings (the files checks report the rest)."""
    found = root.get("files")
    items = found[1] if found is not None else None
    pairs = []
    for item in items.items if isinstance(items, Sequence) else []:
        if not isinstance(item, Mapping):
            continue
        source, destination = item.get("source"), item.get("destination")
        if source is None or destination is None:
            continue
        texts = (source[1].to_python(), destination[1].to_python())
        if isinstance(texts[0], str) and isinstance(texts[1], str):
            pairs.append((texts[0], texts[1]))
    return pairs
