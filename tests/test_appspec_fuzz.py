"""No input of any shape crashes validation: random bytes, YAML-ish text and random documents
built from AppSpec vocabulary give clean diagnostics, and the CLI exits 0 or 2."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_deploy.appspec import validate_text
from ci_deploy.appspec.diagnostics import Diagnostic
from ci_deploy.appspec.limits import MAX_DEPTH, MAX_NODES
from ci_deploy.cli import run
from ci_deploy.commands import Streams

KEYS = [
    "version", "os", "files", "source", "destination", "file_exists_behavior", "permissions",
    "object", "pattern", "except", "owner", "group", "mode", "acls", "context", "name", "type",
    "range", "user", "hooks", "location", "timeout", "runas", "sudo", "BeforeInstall",
    "AfterInstall", "ApplicationStart", "Install", "DownloadBundle", "Resources", "resources",
    "TargetService", "Type", "Properties", "properties", "TaskDefinition", "LoadBalancerInfo",
    "ContainerName", "ContainerPort", "NetworkConfiguration", "AwsvpcConfiguration", "Subnets",
    "AssignPublicIp", "CapacityProviderStrategy", "Weight", "Hooks", "alias", "currentversion",
    "targetversion", "BeforeAllowTraffic", "AfterAllowTestTraffic", "<<",
]  # fmt: skip
TEXTS = [
    "0.0", "linux", "windows", "/", "/srv/app", "app", "../x", "0644", "AWS::ECS::Service",
    "AWS::Lambda::Function", "**", "*.sh", "u::rw", "s0-s0:c0.c1023", "OVERWRITE", "",
    "<TASK_DEFINITION>", "ENABLED", "scripts/start.sh", "²", "٣", "9" * 4500,
    "s" + "9" * 4500, "s0:c0.c9999",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TEXTS),
    st.text(max_size=12),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children, max_size=5
        ),
    ),
    max_leaves=30,
)
YAML_ALPHABET = st.sampled_from(
    [*"abcdefos0123456789 :-?[]{},#&*!|>'\"%@`\t\n\r\\/.\x85\u2028", "version: 0.0\n",
    "os: linux\n", "hooks:\n", "  - location: x\n", "files:\n", "Resources:\n", "\ufeff",
    "---\n", "\u00e9", "9" * 4500]
)  # fmt: skip
yamlish = st.lists(YAML_ALPHABET, max_size=60).map("".join)
platforms = st.sampled_from([None, "server", "ecs", "lambda"])


def assert_clean(diagnostics: list[Diagnostic], text: str | bytes) -> None:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    text_lines = len(decoded.splitlines()) + 1
    for diagnostic in diagnostics:
        assert diagnostic.severity in ("error", "warning")
        assert diagnostic.code and diagnostic.code == diagnostic.code.strip()
        assert diagnostic.message.strip()
        assert 1 <= diagnostic.line <= text_lines + 1
        assert diagnostic.column >= 1


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=300), platform=platforms)
def test_random_bytes_give_diagnostics_not_crashes(data: bytes, platform: str | None) -> None:
    result = validate_text(data, "appspec.yml", compute_platform=platform)
    assert_clean(result.diagnostics, data)


@FUZZ
@given(text=yamlish, platform=platforms, as_json=st.booleans())
def test_yaml_like_text_gives_diagnostics_not_crashes(
    text: str, platform: str | None, as_json: bool
) -> None:
    result = validate_text(text, "appspec.yml", compute_platform=platform, as_json=as_json)
    assert_clean(result.diagnostics, text)


@FUZZ
@given(document=documents, platform=platforms, flow=st.booleans())
def test_random_documents_in_yaml_give_diagnostics_not_crashes(
    document: object, platform: str | None, flow: bool
) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    result = validate_text(text, "appspec.yml", compute_platform=platform)
    assert_clean(result.diagnostics, text)
    if not isinstance(document, dict):
        assert not result.ok


@FUZZ
@given(document=documents, platform=platforms, indent=st.sampled_from([None, 2, "\t"]))
def test_random_documents_in_json_give_diagnostics_not_crashes(
    document: object, platform: str | None, indent: int | str | None
) -> None:
    text = json.dumps(document, indent=indent)
    result = validate_text(text, "appspec.json", compute_platform=platform, as_json=True)
    assert_clean(result.diagnostics, text)
    # The position-keeping parser reads what the standard library reads.
    assert result.document is None or result.document == json.loads(text)


@settings(max_examples=40, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), yamlish.map(str.encode)))
def test_the_cli_exits_0_or_2_and_never_with_a_bug(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        appspec = Path(directory) / "appspec.yml"
        appspec.write_bytes(data)
        for output_format in ("text", "json"):
            streams = Streams(stdout=io.StringIO(), stderr=io.StringIO())
            code = run(["validate", "--format", output_format, directory], {}, streams)
            assert code in (0, 2), streams.stderr.getvalue()  # type: ignore[attr-defined]
            assert "unexpected error" not in streams.stderr.getvalue()  # type: ignore[attr-defined]


TAGS = [
    "!!str", "!!int", "!!binary", "!!map", "!!seq", "!!set", "!!omap", "!!timestamp", "!", "!x",
    "!ruby/object:Gem::Installer", "!!python/object/apply:os.system", "!<tag:yaml.org,2002:str>",
]  # fmt: skip


@st.composite
def alias_shapes(draw: st.DrawFn) -> tuple[str, int, int, int]:
    """(text, levels, fanout, depth): chains of anchors, each repeating the one before
    ``fanout`` times inside ``depth`` brackets, maybe tagged, used under a real key (alias
    bombs, deep alias nesting and tags)."""
    levels = draw(st.integers(min_value=0, max_value=12))
    fanout = draw(st.integers(min_value=1, max_value=12))
    depth = draw(st.integers(min_value=0, max_value=60))
    tag = draw(st.sampled_from([None, *TAGS]))
    key = draw(st.sampled_from(["hooks", "files", "permissions", "Resources", "x-extra"]))
    prefix = f"{tag} " if tag else ""
    lines = [f"version: 0.0\nos: linux\nanchors:\n  - &a0 {prefix}{'[' * depth}x{']' * depth}"]
    for level in range(1, levels + 1):
        items = ", ".join([f"*a{level - 1}"] * fanout)
        lines.append(f"  - &a{level} {prefix}{'[' * depth}[{items}]{']' * depth}")
    lines.append(f"{key}: *a{levels}")
    return "\n".join(lines) + "\n", levels, fanout, depth


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=alias_shapes(), platform=platforms)
def test_alias_bombs_deep_aliases_and_tags_give_diagnostics_not_crashes(
    shape: tuple[str, int, int, int], platform: str | None
) -> None:
    text, levels, fanout, depth = shape
    result = validate_text(text, "appspec.yml", compute_platform=platform)
    assert_clean(result.diagnostics, text)
    codes = {diagnostic.code for diagnostic in result.errors}
    if any(f" {tag} " in text for tag in TAGS if tag not in ("!!str", "!<tag:yaml.org,2002:str>")):
        assert "yaml-tag" in codes
    if fanout**levels > 2 * MAX_NODES or levels * (depth + 1) > MAX_DEPTH + 3:
        assert codes & {"too-many-values", "too-deep"}, codes


@settings(max_examples=20, deadline=None)
@given(shape=alias_shapes())
def test_the_cli_exits_0_or_2_on_alias_and_tag_shapes(shape: tuple[str, int, int, int]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "appspec.yml").write_text(shape[0])
        streams = Streams(stdout=io.StringIO(), stderr=io.StringIO())
        code = run(["validate", directory], {}, streams)
        assert code in (0, 2), streams.stderr.getvalue()  # type: ignore[attr-defined]
        assert "unexpected error" not in streams.stderr.getvalue()  # type: ignore[attr-defined]


# Valid documents of each platform; the test below puts a random value at one of their leaves,
# so every rule (not only the top-level ones random documents reach) meets odd values.
TEMPLATES: list[dict[str, object]] = [
    {
        "version": 0.0,
        "os": "linux",
        "files": [{"source": "/", "destination": "/srv/app"}],
        "file_exists_behavior": "OVERWRITE",
        "permissions": [
            {
                "object": "/srv/app",
                "pattern": "*.sh",
                "except": ["x.sh"],
                "owner": "web",
                "group": "web",
                "mode": 755,
                "acls": ["u:web:rw"],
                "context": {"type": "httpd_sys_content_t", "name": "system_u", "range": "s0"},
                "type": ["file"],
            }
        ],
        "hooks": {"AfterInstall": [{"location": "start.sh", "timeout": 60, "runas": "root"}]},
    },
    {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:1",
                        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80},
                        "PlatformVersion": "LATEST",
                    },
                }
            }
        ],
        "Hooks": [{"BeforeInstall": "check"}],
    },
    {
        "version": 0.0,
        "Resources": [
            {
                "fn": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": "fn",
                        "Alias": "live",
                        "CurrentVersion": "1",
                        "TargetVersion": "2",
                    },
                }
            }
        ],
        "Hooks": [{"BeforeAllowTraffic": "check"}],
    },
]
ODD_VALUES = st.one_of(
    scalars,
    st.sampled_from(["9" * 4500, "²", "٣", "s" + "9" * 4500, "s0:c0.c9999", "-1", "0", " "]),
    st.lists(scalars, max_size=2),
    st.dictionaries(st.sampled_from(KEYS), scalars, max_size=2),
)


def _leaves(node: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, key))]
    if isinstance(node, list):
        return [leaf for index, value in enumerate(node) for leaf in _leaves(value, (*path, index))]
    return [path]


def _replaced(node: object, path: tuple[object, ...], value: object) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {
            key: _replaced(child, rest, value) if key == head else child
            for key, child in node.items()
        }
    assert isinstance(node, list)
    return [
        _replaced(child, rest, value) if index == head else child
        for index, child in enumerate(node)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=ODD_VALUES, quoted=st.booleans())
def test_an_odd_value_at_any_leaf_of_a_valid_appspec_gives_diagnostics_not_crashes(
    value: object, quoted: bool
) -> None:
    odd = str(value) if quoted else value
    for template in TEMPLATES:
        for path in _leaves(template):
            document = _replaced(template, path, odd)
            for text, as_json in (
                (yaml.safe_dump(document, allow_unicode=True), False),
                (json.dumps(document), True),
            ):
                result = validate_text(text, "appspec.yml", as_json=as_json)
                assert_clean(result.diagnostics, text)
