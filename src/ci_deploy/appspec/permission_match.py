"""Which installed paths a ``permissions`` entry reaches, as the CodeDeploy agent decides, and
when two entries reach the same path (the agent then fails the Install).

What agent 1.8.1 does (lib/instance_agent/plugins/codedeploy/installer.rb
``generate_instructions``, install_instruction.rb ``CommandBuilder``,
application_specification/linux_permission_info.rb):

- an object that is a file this deployment copies gets the entry when its ``type`` has
  ``file`` (then ``pattern`` must be ``**`` and ``except`` empty);
- otherwise the entry reaches what this deployment copies (files) and creates (directories)
  strictly below the object: with ``pattern: "**"`` every descendant, else the immediate
  children whose name matches the pattern; an ``except`` glob removes immediate children only;
  ``type`` keeps the files, the directories or both;
- a path reached by two entries fails the Install, before anything is copied, with
  ``AGENT_OVERLAP``; two entries for one object with disjoint types never meet.

Globs are ``*`` wildcards on one name: every other character, ``?`` and ``[`` included, is
literal, and a name never contains ``/``.
"""

# Plain str paths and os calls on purpose: the revision walk makes one call per file.
# ruff: noqa: PTH112, PTH118, PTH119

from __future__ import annotations

import bisect
import fnmatch
import os
import posixpath
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# install_instruction.rb, CommandBuilder#set_permissions (its wording, {path} the full path).
AGENT_OVERLAP = (
    "The deployment failed because the permissions setting for ({path}) is specified more "
    "than once in the application specification file. Update the files section of the AppSpec "
    "file, and then try again."
)
DEFAULT_TYPES = ("file", "directory")
# Deciding whether globs share a name explores a few dozen states for a real appspec; one
# validation explores at most this many in all (about a second), then reports no more overlaps.
MAX_GLOB_STATES = 5000


@dataclass(frozen=True)
class Rule:
    """The parts of a permissions entry that decide what it reaches."""

    object: str  # absolute and normalized
    pattern: str
    excepts: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def deep(self) -> bool:
        return self.pattern == "**"


class FileObjectPattern(Exception):
    """The object is an installed file, and the entry has a pattern or excepts (the agent
    fails the Install)."""


def normal_object(text: str) -> str:
    """An absolute appspec path as the agent compares it (File.expand_path)."""
    return posixpath.normpath("/" + text.strip().lstrip("/"))


def glob_matches(name: str, glob: str) -> bool:
    if "/" in name:
        return False
    return fnmatch.fnmatchcase(name, glob.replace("[", "[[]").replace("?", "[?]"))


def reaches_below(rule: Rule, path: str, kind: str) -> bool:
    """Whether ``rule`` reaches ``path`` (a ``file`` or ``directory`` strictly below the
    object), as the agent's ``find_matches`` does."""
    if kind not in rule.types:
        return False
    prefix = rule.object.rstrip("/") + "/"
    if not path.startswith(prefix):
        return False
    rest = path[len(prefix) :]
    excepted = "/" not in rest and any(glob_matches(rest, glob) for glob in rule.excepts)
    if rule.deep:
        return not excepted
    return "/" not in rest and glob_matches(rest, rule.pattern) and not excepted


class Installed:
    """What a deployment installs: each absolute path and its kind (``file``, which includes
    symlinks, or ``directory``: only directories the deployment creates)."""

    def __init__(self, kinds: Mapping[str, str], origins: Mapping[str, str] | None = None):
        self.kinds = dict(kinds)
        self.origins = dict(origins or {})
        self._order = sorted(self.kinds)

    def below(self, top: str) -> Iterator[str]:
        prefix = top.rstrip("/") + "/"
        index = bisect.bisect_left(self._order, prefix)
        while index < len(self._order) and self._order[index].startswith(prefix):
            yield self._order[index]
            index += 1


def targets(rule: Rule, installed: Installed) -> list[str]:
    """The paths ``rule`` gives permissions to, files before directories (the agent's order).
    Raises FileObjectPattern where the agent fails on a file object's pattern/except."""
    if installed.kinds.get(rule.object) == "file":
        if "file" not in rule.types:
            return []
        if not rule.deep or rule.excepts:
            raise FileObjectPattern(rule.object)
        return [rule.object]
    found: dict[str, list[str]] = {"file": [], "directory": []}
    for path in installed.below(rule.object):
        kind = installed.kinds[path]
        if reaches_below(rule, path, kind):
            found[kind].append(path)
    return found["file"] + found["directory"]


def related(one: str, other: str) -> bool:
    """Whether one object is the other or inside it (either way)."""
    return (
        one == other
        or one.startswith(other.rstrip("/") + "/")
        or other.startswith(one.rstrip("/") + "/")
    )


class Budget:
    """What is left of MAX_GLOB_STATES for one validation; ``spent`` once it ran out."""

    def __init__(self, states: int = MAX_GLOB_STATES) -> None:
        self.states = states
        self.spent = False


def related_pairs(rules: list[Rule], limit: int) -> list[tuple[int, int]] | None:
    """The (earlier, later) index pairs of entries on the same or nested objects that share a
    type, in order of the later entry, found by walking up from each object; None when there
    are more than ``limit``."""
    by_object: dict[str, list[int]] = {}
    for index, rule in enumerate(rules):
        by_object.setdefault(rule.object, []).append(index)
    pairs = set()
    for index, rule in enumerate(rules):
        above = rule.object
        while True:
            for other in by_object.get(above, ()):
                if other == index or (above == rule.object and other > index):
                    continue
                if set(rule.types) & set(rules[other].types):
                    pairs.add((min(index, other), max(index, other)))
                    if len(pairs) > limit:
                        return None
            if above == "/":
                break
            above = posixpath.dirname(above)
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


def may_overlap(first: Rule, second: Rule, budget: Budget) -> bool:
    """Whether two entries on related objects can reach one path, from the appspec alone:
    whatever is installed below them, and whether the inner object is a file or a directory
    (a file only if its entry would reach it as one: ``file`` type, ``**``, no except)."""
    common = set(first.types) & set(second.types)
    if not common or not related(first.object, second.object):
        return False
    if first.object == second.object:
        # A file object given to both is in the directory case too (both '**', no except).
        return (first.deep and second.deep) or names_meet(first, second, budget)
    outer, inner = sorted((first, second), key=lambda rule: len(rule.object))
    # Below an inner directory, only an outer '**' reaches (its except too is one level deep).
    as_directory = outer.deep and (inner.deep or names_meet(inner, None, budget))
    if not as_directory:
        return False
    if "file" not in inner.types or not inner.deep or inner.excepts:
        return True  # the inner object is a directory
    rest = inner.object[len(outer.object.rstrip("/")) + 1 :]
    if "/" in rest or "file" not in common:
        return "file" in common
    # The inner object is an immediate child: an outer except can keep it apart as a file.
    return not any(glob_matches(rest, glob) for glob in outer.excepts)


def names_meet(first: Rule, second: Rule | None, budget: Budget) -> bool:
    """Whether some immediate-child name is reached by both entries (by ``first`` alone when
    ``second`` is None). Past the budget the answer is False."""
    rules = [rule for rule in (first, second) if rule is not None]
    wanted = [rule.pattern for rule in rules if not rule.deep]
    unwanted = [glob for rule in rules for glob in rule.excepts]
    try:
        return some_name(wanted, unwanted, budget) is not None
    except GlobsTooCostly:
        budget.spent = True
        return False


# The positions each glob's automaton can be at after the letters read so far.
_State = tuple[frozenset[int], ...]


class GlobsTooCostly(Exception):
    """Telling whether the globs share a name would take more states than the budget has."""


def some_name(wanted: list[str], unwanted: list[str], budget: Budget | None = None) -> str | None:
    """A shortest non-empty name without '/' that matches every glob of ``wanted`` and none of
    ``unwanted``, or None: a breadth-first search of the product of the globs' automata."""
    budget = budget or Budget()
    globs = [*wanted, *unwanted]
    letters = sorted({char for glob in globs for char in glob} - {"*", "/"})
    # One letter that no glob names stands for all of them.
    letters.append(
        next(chr(code) for code in range(ord("a"), 0x110000) if chr(code) not in letters)
    )
    start = tuple(_closure(glob, {0}) for glob in globs)
    came_from: dict[_State, tuple[_State, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for letter in letters:
            step = tuple(_step(glob, part, letter) for glob, part in zip(globs, state, strict=True))
            if any(not part for part in step[: len(wanted)]):
                continue  # a wanted glob can no longer match
            accepted = [len(glob) in part for glob, part in zip(globs, step, strict=True)]
            if all(accepted[: len(wanted)]) and not any(accepted[len(wanted) :]):
                return _spell(came_from, state) + letter
            if step not in came_from:
                if budget.states <= 0:
                    raise GlobsTooCostly
                budget.states -= 1
                came_from[step] = (state, letter)
                queue.append(step)
    return None


def _spell(came_from: Mapping[_State, tuple[_State, str] | None], state: _State) -> str:
    letters = []
    link = came_from[state]
    while link is not None:
        state, letter = link
        letters.append(letter)
        link = came_from[state]
    return "".join(reversed(letters))


def _closure(glob: str, positions: Iterable[int]) -> frozenset[int]:
    found = set()
    for start in positions:
        position = start
        found.add(position)
        while position < len(glob) and glob[position] == "*":
            position += 1
            found.add(position)
    return frozenset(found)


def _step(glob: str, positions: frozenset[int], letter: str) -> frozenset[int]:
    moved = []
    for position in positions:
        if position < len(glob):
            if glob[position] == "*":
                moved.append(position)
            elif glob[position] == letter:
                moved.append(position + 1)
    return _closure(glob, moved)


def first_overlap(rules: list[Rule], installed: Installed) -> tuple[str, int, int] | None:
    """The first path two entries reach, in the agent's order: (path, earlier, later entry).
    Raises FileObjectPattern as the agent fails first on that entry."""
    owner: dict[str, int] = {}
    for index, rule in enumerate(rules):
        for path in targets(rule, installed):
            if path in owner:
                return path, owner[path], index
            owner[path] = index
    return None


def revision_tree(
    revision: Path, mappings: Iterable[tuple[str, str]], scopes: Iterable[str] = ("/",)
) -> Installed:
    """What the ``files`` mappings install from a revision directory, as far as the revision
    tells: the files, and the directories inside copied directories (a destination and its
    parents may already exist on an instance, so they are not counted). Only what lands at or
    below one of ``scopes`` is listed: the walk skips the other directories."""
    tree = _Tree(revision, [scope.rstrip("/") + "/" for scope in scopes])
    for source, destination in mappings:
        parts = Path(source.replace("\\", "/").lstrip("/")).parts
        if ".." in parts or not destination.startswith("/"):
            continue
        path = os.path.join(revision, *parts)
        dest = normal_object(destination)
        real = os.path.realpath(path)
        if os.path.isdir(path) and _inside(real, tree.top):
            if tree.covers(dest) or tree.leads(dest):
                tree.walk(path, dest, real, frozenset({real}), covered=tree.covers(dest))
        elif os.path.lexists(path):
            target = posixpath.join(dest, os.path.basename(path.rstrip("/")))
            if tree.covers(target):
                tree.add(target, "file", path)
    return Installed(tree.kinds, tree.origins)


class _Tree:
    def __init__(self, revision: Path, scopes: list[str]) -> None:
        self.revision = revision
        self.top = os.path.realpath(revision)
        self.scopes = scopes  # each ends with '/'
        self.kinds: dict[str, str] = {}
        self.origins: dict[str, str] = {}

    def covers(self, dest: str) -> bool:
        """Whether ``dest`` is a scope or below one."""
        return any((dest + "/").startswith(scope) for scope in self.scopes)

    def leads(self, dest: str) -> bool:
        """Whether a scope is below ``dest``."""
        return any(scope.startswith(dest.rstrip("/") + "/") for scope in self.scopes)

    def add(self, dest: str, kind: str, source: str) -> None:
        self.kinds[dest] = kind
        self.origins[dest] = os.path.relpath(source, self.revision)

    def walk(
        self, source: str, dest: str, real: str, chain: frozenset[str], *, covered: bool
    ) -> None:
        """Copy the directory ``source`` (real path ``real``; ``chain``: the real paths of it
        and of the directories above it) to ``dest`` (``covered``: at or below a scope)."""
        with os.scandir(source) as entries:
            listing = sorted(entries, key=lambda entry: entry.name)
        for entry in listing:
            target = posixpath.join(dest, entry.name)
            inside = covered or self.covers(target)
            if not entry.is_dir():
                if inside:
                    self.add(target, "file", entry.path)
                continue
            if not inside and not self.leads(target):
                continue
            inner = os.path.join(real, entry.name)
            if entry.is_symlink():
                # The agent follows a link to a directory; one leading out of the revision
                # is kept a link by the bundle, and one back up the tree would never end.
                inner = os.path.realpath(entry.path)
                if not _inside(inner, self.top) or inner in chain:
                    if inside:
                        self.add(target, "file", entry.path)
                    continue
            if inside:
                self.add(target, "directory", entry.path)
            self.walk(entry.path, target, inner, chain | {inner}, covered=inside)


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)
