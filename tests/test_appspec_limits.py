"""Hostile AppSpecs are refused cheaply, with a diagnostic and exit 2: alias bombs, nesting built
from aliases, YAML tags, oversized files, an appspec symlinked out of its revision, and a runas
that su would read as an option. Every input is a small file built here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_deploy.appspec import (
    MAX_APPSPEC_BYTES,
    find_appspec,
    json_parse,
    load_appspec,
    read_appspec,
    validate_path,
    validate_text,
    yaml_parse,
)
from ci_deploy.bundle.builder import BundleOptions, build
from ci_deploy.cli import run
from ci_deploy.emulator.faults import ApiError
from ci_deploy.emulator.revisions import parse_appspec_content
from ci_deploy.errors import ExitCode, InputError

HEAD = "version: 0.0\nos: linux\n"


def codes(text: str, **kwargs: object) -> list[tuple[int, int, str]]:
    result = validate_text(text, "appspec.yml", **kwargs)  # type: ignore[arg-type]
    return [(d.line, d.column, d.code) for d in result.diagnostics]


def laughs(levels: int, fanout: int) -> str:
    """A "billion laughs": under an unknown key (a warning only), anchor a0 is a list of
    ``fanout`` strings and each next anchor a list of ``fanout`` aliases of the one before."""
    lines = [HEAD + "x-extra:", "  - &a0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    lines += [
        f"  - &a{level} [" + ", ".join([f"*a{level - 1}"] * fanout) + "]"
        for level in range(1, levels + 1)
    ]
    return "\n".join(lines) + "\n"


def nested_aliases(levels: int, depth: int) -> str:
    """Anchors each ``depth`` lists deep, each holding an alias of the one before: few levels
    as written, ``levels * depth`` once the aliases are expanded."""
    lines = [HEAD + "x-extra:", f"  - &d0 {'[' * depth}{']' * depth}"]
    lines += [
        f"  - &d{level} {'[' * depth}*d{level - 1}{']' * depth}" for level in range(1, levels + 1)
    ]
    return "\n".join(lines) + "\n"


def at(text: str, line: int, column: int) -> str:
    return text.splitlines()[line - 1][column - 1 :]


# -- aliases ---------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_the_alias_that_blows_it_up() -> None:
    # 11 + 111 + 1,111 + 11,111 + 111,111 values expanded: past 100,000 inside a4.
    text = laughs(4, 10)
    result = validate_text(text, "appspec.yml")
    assert not result.ok
    assert [(d.line, d.code) for d in result.errors] == [(8, "too-many-values")]
    error = result.errors[0]
    assert at(text, error.line, error.column).startswith("*a3")
    assert error.message.startswith("alias *a3 repeats 11111 values, taking the document past ")
    assert result.document is None


def test_the_billion_laughs_of_the_issue_is_refused_without_expanding_it(
    streams,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    text = laughs(9, 9)  # 9**10 strings once expanded, in about 600 bytes
    assert len(text) < 700
    appspec = tmp_path / "appspec.yml"
    appspec.write_text(text)

    code = run(["validate", str(tmp_path)], {}, streams)

    assert code == ExitCode.BAD_INPUT
    first = streams.err.splitlines()[0]
    assert first.startswith(f"{appspec.as_posix()}:9:10: error: alias *a4 repeats 66430 values")
    assert first.endswith("[too-many-values]")
    assert "unexpected error" not in streams.err


def test_an_alias_used_once_per_level_below_the_limit_is_fine() -> None:
    # 11 + 111 + 1,111 + 11,111 = 12,344 values: nothing a rule set cannot walk.
    assert codes(laughs(3, 10)) == [(3, 1, "unknown-key")]


def test_nesting_built_from_aliases_counts_as_deep_as_it_expands() -> None:
    # Written 61 levels deep at most; expanded, d1 reaches level 2 + 60 + 59 = 121.
    text = nested_aliases(1, 60)
    found = codes(text)
    assert found == [(5, 69, "too-deep")]
    assert at(text, 5, 69).startswith("*d0")


def test_aliases_nested_past_the_recursion_limit_are_a_diagnostic_not_a_crash(
    streams,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    (tmp_path / "appspec.yml").write_text(nested_aliases(20, 90))
    code = run(["validate", str(tmp_path)], {}, streams)
    assert code == ExitCode.BAD_INPUT
    assert streams.err.splitlines()[0].endswith("[too-deep]")
    assert "unexpected error" not in streams.err


def test_local_refuses_an_alias_bomb_with_the_diagnostic(
    streams,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    revision = tmp_path / "rev"
    revision.mkdir()
    (revision / "appspec.yml").write_text(laughs(4, 10))
    args = ["local", str(revision), "--root", str(tmp_path / "r"), "--state-dir", str(tmp_path)]

    code = run(args, {"PATH": os.environ["PATH"]}, streams)

    # An invalid appspec fails the deployment at DownloadBundle, as on an instance.
    assert code == ExitCode.DEPLOYMENT_FAILED
    assert "appspec.yml:8:" in streams.err and ": too-many-values: alias *a3" in streams.err
    assert "unexpected error" not in streams.err


def test_local_refuses_nesting_built_from_aliases_instead_of_crashing(
    streams,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    revision = tmp_path / "rev"
    revision.mkdir()
    (revision / "appspec.yml").write_text(nested_aliases(20, 90))
    args = ["local", str(revision), "--root", str(tmp_path / "r"), "--state-dir", str(tmp_path)]

    code = run(args, {"PATH": os.environ["PATH"]}, streams)

    assert code == ExitCode.DEPLOYMENT_FAILED
    assert ": too-deep: alias *d0 " in streams.err
    assert "unexpected error" not in streams.err


def test_the_emulator_refuses_an_alias_bomb_in_appspec_content() -> None:
    # CreateDeployment's AppSpecContent goes through the same loader.
    with pytest.raises(ApiError) as caught:
        parse_appspec_content(laughs(9, 9), None, "lambda")
    assert caught.value.code == "InvalidRevisionException"
    assert "line 9, column 10: alias *a4 repeats 66430 values" in str(caught.value)


def test_the_converter_counts_values_too_when_the_scan_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No tag, no alias and a small file: only the converter counts. Lower the limit to reach it.
    monkeypatch.setattr(yaml_parse, "MAX_NODES", 20)
    monkeypatch.setattr(json_parse, "MAX_NODES", 20)
    text = HEAD + "files:\n" + "".join(f"  - source: s{n}\n    destination: /d\n" for n in range(9))
    assert codes(text)[-1][2] == "too-many-values"
    assert codes(text, as_json=False) == codes(text)
    assert [code for _, _, code in codes('{"a": [' + ", ".join(["1"] * 30) + "]}")] == [
        "too-many-values"
    ]


# -- tags ------------------------------------------------------------------------------------

TAGGED = (
    HEAD
    + "files: !!python/object/apply:os.system\n"
    + "  - source: /\n"
    + "    destination: /srv/app\n"
    + "hooks: !ruby/hash:Gem::Installer\n"
    + "  AfterInstall:\n"
    + "    - location: run.sh\n"
    + "      timeout: !!int 60\n"
    + "      runas: !!str deploy\n"
)


def test_tags_on_mappings_lists_and_values_are_errors_at_the_tag() -> None:
    result = validate_text(TAGGED, "appspec.yml")
    tags = [(d.line, d.column) for d in result.errors if d.code == "yaml-tag"]
    assert tags == [(3, 8), (6, 8), (9, 16)]
    assert result.errors[0].message.startswith(
        "YAML tag '!!python/object/apply:os.system' on a list: an AppSpec is plain values"
    )
    # The tagged value is kept as written, never built: 60 stays the string "60".
    assert (9, 16, "hook-timeout-invalid") in [(d.line, d.column, d.code) for d in result.errors]


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!secret linux", "!secret"),
        ("! linux", "!"),
        ("!!binary bGludXg=", "!!binary"),
        ("!<tag:example.com,2024:x> linux", "tag:example.com,2024:x"),
        ("!!set {linux}", "!!set"),
    ],
)
def test_any_explicit_tag_is_an_error(value: str, tag: str) -> None:
    result = validate_text(f"version: 0.0\nos: {value}\n", "appspec.yml")
    errors = [d for d in result.errors if d.code == "yaml-tag"]
    assert [(d.line, d.column) for d in errors] == [(2, 5)]
    assert f"YAML tag {tag!r}" in errors[0].message


def test_str_is_the_one_tag_accepted_and_means_what_quotes_mean() -> None:
    assert codes("version: 0.0\nos: !!str linux\n") == []
    assert codes("version: 0.0\nos: !<tag:yaml.org,2002:str> linux\n") == []
    # %TAG can rename '!!': what it names then is no longer the string tag.
    assert codes("%TAG !! tag:example.com,2024:\n---\nversion: 0.0\nos: !!str linux\n") == [
        (4, 5, "yaml-tag")
    ]


def test_a_tagged_file_fails_validate_with_exit_2(
    streams,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    (tmp_path / "appspec.yml").write_text(TAGGED)
    assert run(["validate", str(tmp_path / "appspec.yml")], {}, streams) == ExitCode.BAD_INPUT
    assert "appspec.yml:3:8: error: YAML tag '!!python/object/apply:os.system'" in streams.err


# -- size ------------------------------------------------------------------------------------


def test_an_appspec_over_the_size_limit_is_refused_unparsed(
    streams,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    appspec = tmp_path / "appspec.yml"
    appspec.write_text(HEAD + "# padding\n" * (MAX_APPSPEC_BYTES // 10))  # valid, but 1 MiB + 22 B
    assert appspec.stat().st_size > MAX_APPSPEC_BYTES

    code = run(["validate", str(tmp_path)], {}, streams)

    assert code == ExitCode.BAD_INPUT
    assert streams.err.splitlines()[0] == (
        f"{appspec.as_posix()}:1:1: error: the AppSpec is larger than 1 MiB (1048576 bytes), so "
        "it is not read: an AppSpec is a few KB; check that this is the right file "
        "[file-too-large]"
    )


def test_a_huge_appspec_is_not_read_whole(tmp_path: Path) -> None:
    appspec = tmp_path / "appspec.yml"
    with appspec.open("wb") as handle:
        handle.truncate(64 << 20)  # 64 MiB of NUL bytes, sparse on disk
    assert len(read_appspec(appspec)) == MAX_APPSPEC_BYTES + 1
    result = validate_path(tmp_path)
    assert [(d.line, d.column, d.code) for d in result.diagnostics] == [(1, 1, "file-too-large")]


def test_inline_content_over_the_limit_is_refused() -> None:
    # What the emulator does with a CreateDeployment's AppSpecContent.
    content = "version: 0.0\nResources: []\n" + "#" * MAX_APPSPEC_BYTES
    assert codes(content) == [(1, 1, "file-too-large")]
    assert codes("version: 0.0\nos: linux\n# " + "é" * (MAX_APPSPEC_BYTES // 2)) == [
        (1, 1, "file-too-large")  # counted in UTF-8 bytes, not characters
    ]


# -- an appspec symlinked out of the revision ------------------------------------------------


def revision_with_link(tmp_path: Path, target: str) -> Path:
    """rev/appspec.yml -> target; outside/appspec.yml holds a secret that must never show."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "appspec.yml").write_text(HEAD + "secret-key: hunter2\n")
    revision = tmp_path / "rev"
    (revision / "conf").mkdir(parents=True)
    (revision / "conf" / "appspec.yml").write_text(HEAD)
    (revision / "appspec.yml").symlink_to(target.replace("TMP", str(tmp_path)))
    return revision


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("TMP/outside/appspec.yml", "symlink appspec.yml points to absolute path 'TMP/outside/"),
        ("../outside/appspec.yml", "symlink appspec.yml -> '../outside/appspec.yml' points out"),
        # Absolute even though it lands inside: in a bundle it names a path on the instance.
        ("TMP/rev/conf/appspec.yml", "symlink appspec.yml points to absolute path 'TMP/rev/"),
    ],
)
def test_validate_refuses_an_appspec_linked_out_of_the_revision(
    tmp_path: Path,
    streams,  # type: ignore[no-untyped-def]
    target: str,
    message: str,
) -> None:
    revision = revision_with_link(tmp_path, target)
    with pytest.raises(InputError) as caught:
        validate_path(revision)
    assert caught.value.message.startswith(f"{revision}: " + message.replace("TMP", str(tmp_path)))
    assert caught.value.exit_code == ExitCode.BAD_INPUT

    assert run(["validate", str(revision)], {}, streams) == ExitCode.BAD_INPUT
    assert "hunter2" not in streams.err + streams.out


def test_a_link_through_a_linked_directory_is_followed_to_where_it_lands(tmp_path: Path) -> None:
    revision = revision_with_link(tmp_path, "via/appspec.yml")
    (revision / "via").symlink_to("../outside")  # stays inside as written, not once resolved
    with pytest.raises(InputError, match=r"-> 'via/appspec\.yml' points outside the revision"):
        validate_path(revision)


def test_a_relative_link_to_a_file_inside_the_revision_is_read(tmp_path: Path) -> None:
    revision = revision_with_link(tmp_path, "conf/appspec.yml")
    assert validate_path(revision).ok
    assert load_appspec(revision).platform == "server"


def test_an_appspec_file_given_alone_may_not_link_out_of_its_directory(tmp_path: Path) -> None:
    revision = revision_with_link(tmp_path, "../outside/appspec.yml")
    with pytest.raises(InputError, match=r"points outside the revision"):
        find_appspec(revision / "appspec.yml")


def test_bundle_refuses_it_even_when_following_symlinks(tmp_path: Path) -> None:
    revision = revision_with_link(tmp_path, str(tmp_path / "outside" / "appspec.yml"))
    with pytest.raises(InputError, match=r"symlink appspec\.yml points to absolute path"):
        build(BundleOptions(source=revision, output=tmp_path / "b.zip", follow_symlinks=True))
    assert not (tmp_path / "b.zip").exists()


def test_local_validate_and_bundle_give_the_same_message(
    tmp_path: Path,
    streams,  # type: ignore[no-untyped-def]
) -> None:
    revision = revision_with_link(tmp_path, "../outside/appspec.yml")
    with pytest.raises(InputError) as caught:
        validate_path(revision)
    args = ["local", str(revision), "--root", str(tmp_path / "r"), "--state-dir", str(tmp_path)]
    assert run(args, {"PATH": os.environ["PATH"]}, streams) == ExitCode.DEPLOYMENT_FAILED
    assert caught.value.message in streams.err
    with pytest.raises(InputError) as bundled:
        build(BundleOptions(source=revision, output=tmp_path / "b.zip", follow_symlinks=True))
    assert bundled.value.message == caught.value.message


# -- runas -----------------------------------------------------------------------------------


def runas_codes(runas: str) -> list[str]:
    text = HEAD + f"hooks:\n  AfterInstall:\n    - location: run.sh\n      runas: {runas}\n"
    return [code for _, _, code in codes(text)]


@pytest.mark.parametrize(
    "runas",
    [
        '"-p"',
        '"--login"',
        '"-c id"',
        '"root -c id"',
        '"web;id"',
        '"$(id)"',
        '"web user"',
        "'1000'",
        '"."',
        '".."',
        '"a/b"',
        '"web:x"',
        '"x\\ty"',
        '"user@example.com"',  # useradd (shadow-utils and BusyBox) refuses '@' too
        '"' + "a" * 256 + '"',
    ],
)
def test_a_runas_that_is_no_user_name_is_an_error(runas: str) -> None:
    assert runas_codes(runas) == ["hook-runas-invalid"]


@pytest.mark.parametrize(
    "runas",
    ["deploy", "www-data", "john.doe", "svc$", "Web_User", "_apt", "a" * 255, '" web "'],
)
def test_user_names_useradd_accepts_are_fine(runas: str) -> None:
    assert runas_codes(runas) == []


def test_validate_exits_2_for_runas_dash_p(
    tmp_path: Path,
    streams,  # type: ignore[no-untyped-def]
) -> None:
    (tmp_path / "appspec.yml").write_text(
        HEAD + 'hooks:\n  AfterInstall:\n    - location: run.sh\n      runas: "-p"\n'
    )
    assert run(["validate", str(tmp_path / "appspec.yml")], {}, streams) == ExitCode.BAD_INPUT
    assert ":6:14: error: runas '-p' is not a Linux user name" in streams.err
