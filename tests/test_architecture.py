"""The module map holds: imports point down the layers, only aws/ imports the AWS SDK (and the
agent and emulator never use our client), the vocabulary imports nothing of the package, every
module's first line says its job, and the tests mirror the package (CONTRIBUTING.md, "Where the
tests are")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ci_deploy"
TESTS = Path(__file__).resolve().parent

# Lowest first; a module may import from its own layer or a lower one (docs/architecture.md).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__init__", "errors", "events", "vocabulary", "streams", "ci_env", "inputs"}),
    frozenset({"appspec", "aws", "revision_location"}),
    frozenset({"agent", "bundle"}),
    frozenset({"watch", "result", "push", "deploying", "emulator"}),
    frozenset({"report", "github_deployments", "notify", "iam_policy"}),
    frozenset({"commands"}),
    frozenset({"cli", "__main__"}),
)
SDK = ("boto3", "botocore", "s3transfer")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def part_of(path: Path) -> str:
    """The top-level module or package of the package a file belongs to."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def layer(part: str) -> int:
    return next(index for index, names in enumerate(LAYERS) if part in names)


def target_of(name: str) -> str:
    """The part of the package an imported ``ci_deploy.X...`` names (``__version__``: the
    package's own ``__init__``)."""
    top = name.split(".")[1]
    exists = (PACKAGE / top).is_dir() or (PACKAGE / f"{top}.py").is_file()
    return top if exists else "__init__"


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, wherever it stands."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "ci_deploy":
                found += [(node.lineno, f"ci_deploy.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_imports_point_down_the_layers(path: Path) -> None:
    own = layer(part_of(path))
    upward = [
        f"line {line}: {name}"
        for line, name in imported(path)
        if name.startswith("ci_deploy.") and layer(target_of(name)) > own
    ]
    assert upward == [], f"{path.name} imports from a higher layer"


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_only_aws_imports_the_sdk(path: Path) -> None:
    """aws/ makes the calls; emulator/shapes.py alone reads botocore's service model, as data
    (the shapes the emulator checks request bodies against), never a client."""
    if part_of(path) == "aws":
        return
    sdk = [name for _, name in imported(path) if name.split(".")[0] in SDK]
    if path == PACKAGE / "emulator" / "shapes.py":
        assert sdk and all(name.startswith("botocore.") for name in sdk), sdk
        assert "create_client" not in path.read_text(encoding="utf-8")
        return
    assert sdk == []


@pytest.mark.parametrize("part", ["agent", "emulator"])
def test_the_other_side_of_the_api_does_not_use_our_client(part: str) -> None:
    """The agent and the emulator play CodeDeploy's side: they share the vocabulary, never the
    client (aws/ imports botocore)."""
    client = [
        f"{path.name}: {name}"
        for path in sorted((PACKAGE / part).rglob("*.py"))
        for _, name in imported(path)
        if name.startswith("ci_deploy.") and target_of(name) == "aws"
    ]
    assert client == []


def test_the_vocabulary_imports_nothing_of_the_package() -> None:
    names = [name for _, name in imported(PACKAGE / "vocabulary.py")]
    assert [name for name in names if name.startswith("ci_deploy")] == []
    assert set(names) <= {"__future__", "re"}


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_every_module_says_its_job_first(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    assert docstring, f"{path.name} has no docstring"
    assert isinstance(tree.body[0], ast.Expr)  # the docstring is the first statement


# ---------------------------------------------------------------------------------------------
# The tests mirror the package: tests/test_<part>.py tests src/ci_deploy/<part>(.py|/), where a
# part is a module or package and a package's module is <package>_<module>; more modules on one
# part add a topic: test_<part>_<topic>.py (test_emulator_security.py).

# Test modules of no part of the package: the adapters and what surrounds the code.
BEYOND_THE_PACKAGE = {
    "action": "the GitHub Action, action.yml (test_action_harness.py: its runner harness)",
    "gitlab_template": "the GitLab CI template, gitlab/ci-deploy.yml",
    "jenkins": "the Jenkins shared library, jenkins/",
    "adapter": "what the three adapters share: the input contract, the CLI install",
    "architecture": "the package's module map (this file)",
    "docs": "README.md and docs/",
    "release": "the sdist, the wheel and the release workflow",
    "versions": "the one version and every pin of it",
}
# Parts of the package with no test module of their own, and where they are tested.
COVERED_ELSEWHERE = {
    "__init__": "the version: test_versions.py",
    "__main__": "python -m ci_deploy: the cli_without_aws fixture of test_commands_*.py",
    "errors": "every exit code, through the verbs: test_cli.py, test_commands_*.py",
    "events": "emitted by test_agent*.py, test_watch.py, test_push.py; shown by test_report_*.py",
    "result": "every verb's result JSON: test_commands_*.py, test_report_*.py",
    "streams": "the stdout/stderr split of every verb: test_cli.py, test_commands_*.py",
    "vocabulary": "the names it defines, where they are used; its imports: above",
}


def parts() -> list[str]:
    """The package's top-level modules and packages (directories of data are neither)."""
    found = [path.stem for path in PACKAGE.glob("*.py")]
    found += [path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()]
    return sorted(found)


def names_of_tests() -> list[str]:
    return sorted(path.stem.removeprefix("test_") for path in TESTS.glob("test_*.py"))


def named_after(test: str, part: str) -> bool:
    return test == part or test.startswith(f"{part}_")


@pytest.mark.parametrize("part", parts())
def test_every_part_of_the_package_has_a_test_module_named_after_it(part: str) -> None:
    tested = [f"test_{test}.py" for test in names_of_tests() if named_after(test, part)]
    if part in COVERED_ELSEWHERE:
        assert tested == [], f"{part} has {tested}: take it off COVERED_ELSEWHERE"
    else:
        assert tested, f"no tests/test_{part}.py: add it, or say in COVERED_ELSEWHERE why not"


@pytest.mark.parametrize("test", names_of_tests())
def test_every_test_module_is_named_after_what_it_tests(test: str) -> None:
    subjects = [*parts(), *BEYOND_THE_PACKAGE]
    assert any(named_after(test, subject) for subject in subjects), (
        f"tests/test_{test}.py: name it test_<module or package>[_<topic>].py after the part of "
        "src/ci_deploy it tests (a package's module: <package>_<module>)"
    )
