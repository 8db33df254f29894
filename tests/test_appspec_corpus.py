"""The AppSpec corpus: each case under tests/appspec_cases/ (a file, or a revision directory)
has a sidecar ``<case>.expect`` listing the platform and every diagnostic as
``LINE:COL SEVERITY CODE`` (optionally ``force: PLATFORM`` to pass --compute-platform)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_deploy.appspec import validate_path

CASES_DIR = Path(__file__).parent / "appspec_cases"
EXPECT_FILES = sorted(CASES_DIR.glob("*.expect"))


Expected = list[tuple[int, int, str, str]]


def read_expectation(expect: Path) -> tuple[str | None, str | None, Expected]:
    platform = forced = None
    diagnostics: Expected = []
    for raw in expect.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("platform:"):
            platform = line.split(":", 1)[1].strip()
            continue
        if line.startswith("force:"):
            forced = line.split(":", 1)[1].strip()
            continue
        position, severity, code = line.split()
        row, column = position.split(":")
        diagnostics.append((int(row), int(column), severity, code))
    return platform, forced, diagnostics


@pytest.mark.parametrize("expect", EXPECT_FILES, ids=[path.name[:-7] for path in EXPECT_FILES])
def test_case_gives_exactly_the_expected_diagnostics(expect: Path) -> None:
    case = expect.with_name(expect.name[: -len(".expect")])
    platform, forced, expected = read_expectation(expect)

    result = validate_path(case, compute_platform=forced)

    got = [(d.line, d.column, d.severity, d.code) for d in result.diagnostics]
    assert sorted(got) == sorted(expected), "\n".join(
        f"{d.line}:{d.column} {d.severity} {d.code}: {d.message}" for d in result.diagnostics
    )
    assert (result.platform or "none") == platform
    for diagnostic in result.diagnostics:
        assert diagnostic.file == result.appspec_path.as_posix()
        assert diagnostic.message.strip() and ":" in diagnostic.message


def test_corpus_covers_every_platform_in_yaml_and_json() -> None:
    kinds = set()
    for expect in EXPECT_FILES:
        platform, _, _ = read_expectation(expect)
        case = expect.with_name(expect.name[: -len(".expect")])
        appspec = next(case.glob("appspec.y*ml")) if case.is_dir() else case
        kinds.add((platform, appspec.suffix.lstrip(".").replace("yml", "yaml")))
    assert len(EXPECT_FILES) >= 60
    for platform in ("server", "ecs", "lambda"):
        assert (platform, "yaml") in kinds
        assert (platform, "json") in kinds
