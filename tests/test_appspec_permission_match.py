"""How a permissions entry reaches installed paths, as agent 1.8.1 decides it, and when two
entries reach one path: the shared rules of `validate` and the local engine's Install."""

from __future__ import annotations

import itertools
import os
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_deploy.appspec import validate_path, validate_text
from ci_deploy.appspec.permission_match import (
    Budget,
    GlobsTooCostly,
    Installed,
    Rule,
    glob_matches,
    may_overlap,
    revision_tree,
    some_name,
    targets,
)

CASES_DIR = Path(__file__).parent / "appspec_cases"
BOTH = ("file", "directory")


def rule(
    obj: str, pattern: str = "**", excepts: tuple[str, ...] = (), types: tuple[str, ...] = BOTH
) -> Rule:
    return Rule(obj, pattern, excepts, types)


# -- matching -----------------------------------------------------------------------------------

INSTALLED = Installed(
    {
        "/srv/app/index.html": "file",
        "/srv/app/bin": "directory",
        "/srv/app/bin/run.sh": "file",
        "/srv/app/bin/tool": "directory",
        "/srv/app/bin/tool/x.sh": "file",
        "/srv/app/logs": "directory",
        "/srv/app/logs/a.log": "file",
        "/srv/application.txt": "file",  # shares the prefix, not the directory
    }
)


def test_double_star_reaches_every_descendant_and_except_only_immediate_children() -> None:
    assert targets(rule("/srv/app", excepts=("logs",)), INSTALLED) == [
        "/srv/app/bin/run.sh",
        "/srv/app/bin/tool/x.sh",
        "/srv/app/index.html",
        "/srv/app/logs/a.log",  # below the excepted name: still reached
        "/srv/app/bin",
        "/srv/app/bin/tool",
    ]


def test_another_pattern_reaches_immediate_children_of_the_given_types() -> None:
    assert targets(rule("/srv/app/bin", "*.sh"), INSTALLED) == ["/srv/app/bin/run.sh"]
    assert targets(rule("/srv/app", "*", types=("directory",)), INSTALLED) == [
        "/srv/app/bin",
        "/srv/app/logs",
    ]
    # '?' and '[' are literal for the agent
    assert targets(rule("/srv/app/bin", "run.s?"), INSTALLED) == []
    assert glob_matches("a[1].txt", "a[1].*") and not glob_matches("a1.txt", "a[1].*")


def test_a_file_object_is_reached_itself_when_its_type_has_file() -> None:
    assert targets(rule("/srv/app/index.html"), INSTALLED) == ["/srv/app/index.html"]
    assert targets(rule("/srv/app/index.html", types=("directory",)), INSTALLED) == []


@settings(max_examples=300, deadline=None)
@given(
    wanted=st.lists(st.text("ab*", max_size=4), max_size=2),
    unwanted=st.lists(st.text("ab*", max_size=4), max_size=2),
)
def test_the_name_search_agrees_with_trying_every_short_name(
    wanted: list[str], unwanted: list[str]
) -> None:
    """Sound (its name matches) and complete against every name of up to 5 letters."""
    found = some_name(wanted, unwanted)

    def fits(name: str) -> bool:
        return all(glob_matches(name, g) for g in wanted) and not any(
            glob_matches(name, g) for g in unwanted
        )

    if found is not None:
        assert found and "/" not in found and fits(found)
    short = (
        "".join(letters)
        for size in range(1, 6)
        for letters in itertools.product("abz", repeat=size)
    )
    if any(fits(name) for name in short):
        assert found is not None


def test_the_name_search_stops_at_its_budget() -> None:
    intricate = "*" + "*".join(string.ascii_lowercase[:20]) + "*"
    excepts = ["*" + "*".join(string.ascii_lowercase[i : i + 8]) + "*" for i in range(8)]
    with pytest.raises(GlobsTooCostly):
        some_name([intricate], excepts, Budget(200))


# -- two entries on related objects, from the appspec alone ------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "meet"),
    [
        (rule("/w", types=("directory",)), rule("/w", types=("file",)), False),
        (rule("/w", types=("file",)), rule("/w"), True),
        (rule("/w", "*.html"), rule("/w", "index.*"), True),
        (rule("/w", "*.html"), rule("/w", "*.css"), False),
        (rule("/w", excepts=("*.php",)), rule("/w", "*.php"), False),
        (rule("/w"), rule("/w/sub"), True),
        (rule("/w/sub"), rule("/w"), True),  # either order
        (rule("/w"), rule("/w/a/b"), True),  # not an immediate child: no except can help
        (rule("/w", "*.html"), rule("/w/sub"), False),  # a pattern: immediate children only
        # an except naming the inner object keeps it apart if it is a file ...
        (rule("/w", excepts=("config.php",)), rule("/w/config.php"), False),
        # ... and the inner entry says it is a directory (a pattern, or no 'file' type)
        (rule("/w", excepts=("logs",)), rule("/w/logs", "*.log"), True),
        (
            rule("/w", excepts=("c",), types=("directory",)),
            rule("/w/c", types=("directory",)),
            True,
        ),
        (rule("/w"), rule("/other"), False),
        (rule("/w"), rule("/wx"), False),
    ],
)
def test_may_overlap(first: Rule, second: Rule, meet: bool) -> None:
    assert may_overlap(first, second, Budget()) is meet


# -- validate with the revision directory -------------------------------------------------------


def test_with_the_revision_the_message_names_the_path_and_both_entries_lines() -> None:
    result = validate_path(CASES_DIR / "revision-permissions-overlap")
    messages = {(d.line, d.code): d.message for d in result.diagnostics}
    assert set(messages) == {(14, "permissions-nested-object"), (28, "permissions-nested-object")}
    assert messages[14, "permissions-nested-object"].startswith(
        "/srv/app/main.conf (from app/main.conf) gets permissions from this entry (line 14) and "
        "from the entry at line 10: the agent gives a path the permissions of one entry only "
        "and fails the Install ('the permissions setting for (PATH) is specified more than "
        "once')"
    )
    assert messages[28, "permissions-nested-object"].startswith(
        "/opt/tool/logs/today.log (from tool/logs/today.log) gets permissions from this entry "
        "(line 28) and from the entry at line 25"
    )


def test_from_the_appspec_alone_the_same_revision_gets_its_possible_overlap() -> None:
    """Without the files, /srv/app/uploads may get directories below it; with them, it does
    not, and the *.conf/main.conf file overlap is only known from the files."""
    text = (CASES_DIR / "revision-permissions-overlap" / "appspec.yml").read_text()
    result = validate_text(text, "appspec.yml")
    assert [(d.line, d.code) for d in result.diagnostics] == [(21, "permissions-nested-object")]


def test_the_revision_walk_keeps_links_out_of_the_revision_and_loops_as_links(
    tmp_path: Path,
) -> None:
    (tmp_path / "app/sub").mkdir(parents=True)
    (tmp_path / "app/sub/a.txt").write_text("a")
    os.symlink("/", tmp_path / "app/root")
    os.symlink("..", tmp_path / "app/sub/up")
    os.symlink("sub", tmp_path / "app/again")
    installed = revision_tree(tmp_path, [("app", "/srv/app")])
    assert installed.kinds == {
        "/srv/app/again": "directory",  # a link to a directory of the revision is followed
        "/srv/app/again/a.txt": "file",
        "/srv/app/again/up": "file",  # back up the tree: kept a link
        "/srv/app/root": "file",  # out of the revision: kept a link
        "/srv/app/sub": "directory",
        "/srv/app/sub/a.txt": "file",
        "/srv/app/sub/up": "file",
    }


def test_the_revision_walk_lists_only_what_lands_in_its_scopes(tmp_path: Path) -> None:
    """Two entries meet only at or below the inner object: the rest of the tree is skipped."""
    for name in ("app/a.txt", "app/sub/b.txt", "app/sub/deep/c.txt", "app/other/d.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "conf.ini").write_text("x")
    mappings = [("app", "/srv/app"), ("conf.ini", "/srv/app/sub")]
    installed = revision_tree(tmp_path, mappings, ["/srv/app/sub"])
    assert installed.kinds == {
        "/srv/app/sub": "directory",
        "/srv/app/sub/b.txt": "file",
        "/srv/app/sub/conf.ini": "file",
        "/srv/app/sub/deep": "directory",
        "/srv/app/sub/deep/c.txt": "file",
    }
    assert installed.origins["/srv/app/sub/conf.ini"] == "conf.ini"


# -- hostile appspecs ---------------------------------------------------------------------------


def permissions_appspec(entries: list[str]) -> str:
    head = "version: 0.0\nos: linux\nfiles:\n  - source: a\n    destination: /srv\npermissions:\n"
    return head + "".join(entries)


def test_more_pairs_than_any_appspec_has_are_a_warning_not_a_long_wait() -> None:
    entries = [f"  - object: /srv\n    pattern: 'x{n}'\n" for n in range(200)]
    result = validate_text(permissions_appspec(entries), "appspec.yml")
    assert [(d.line, d.severity, d.code) for d in result.diagnostics] == [
        (6, "warning", "permissions-overlap-unchecked")
    ]
    assert "validate the revision directory" in result.diagnostics[0].message


def test_globs_too_intricate_to_compare_are_a_warning() -> None:
    intricate = "*" + "*".join(string.ascii_lowercase[:20]) + "*"
    entries = [
        f"  - object: /srv\n    pattern: '{intricate}'\n    except: ['*{a}*{b}*q*']\n"
        for a, b in zip(string.ascii_lowercase, string.ascii_lowercase[3:], strict=False)
    ]
    result = validate_text(permissions_appspec(entries), "appspec.yml")
    assert ("warning", "permissions-overlap-unchecked") in [
        (d.severity, d.code) for d in result.diagnostics
    ]
