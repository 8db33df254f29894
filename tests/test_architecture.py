"""The module map holds: imports point down the layers, only aws/ imports the AWS SDK (and the
agent and emulator never use our client), the vocabulary imports nothing of the package, and
every module's first line says its job."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ci_deploy"

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
