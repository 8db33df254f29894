"""ci-deploy bundle: the JSON result, inputs from the environment, exit codes and diagnostics,
and a real process that never imports boto3."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bundle_trees import make_tree, zip_modes
from ci_deploy.appspec import validate_path
from ci_deploy.cli import run


def test_cli_prints_the_json_result(tmp_path: Path, streams) -> None:  # type: ignore[no-untyped-def]
    source = make_tree(tmp_path / "rev")
    output = tmp_path / "rev.tgz"
    code = run(["bundle", str(source), "--output", str(output)], {}, streams)
    assert code == 0, streams.err
    result = json.loads(streams.out)
    assert result == {
        "path": str(output),
        "bundle_type": "tgz",
        "size": output.stat().st_size,
        "sha256": hashlib.sha256(output.read_bytes()).hexdigest(),
        "files": 6,
    }


def test_cli_missing_source_and_output_exit_2(tmp_path: Path, streams) -> None:  # type: ignore[no-untyped-def]
    code = run(["bundle", str(tmp_path / "nope"), "--output", str(tmp_path / "o.zip")], {}, streams)
    assert code == 2
    assert "input source:" in streams.err
    assert "does not exist" in streams.err
    assert streams.out == ""


def test_cli_takes_inputs_from_the_environment(tmp_path: Path, streams) -> None:  # type: ignore[no-untyped-def]
    source = make_tree(tmp_path / "rev")
    env = {
        "CI_DEPLOY_OUTPUT": str(tmp_path / "env.zip"),
        "CI_DEPLOY_EXCLUDE": "*.html,.env",
    }
    assert run(["bundle", str(source)], env, streams) == 0, streams.err
    names = set(zip_modes(tmp_path / "env.zip"))
    assert "app/index.html" not in names
    assert ".env" not in names
    assert "scripts/start.sh" in names


def test_invalid_appspec_stops_the_bundle_with_diagnostics(tmp_path: Path, streams) -> None:  # type: ignore[no-untyped-def]
    source = make_tree(tmp_path / "rev")
    (source / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/missing.sh\n"
    )
    output = tmp_path / "out.zip"
    code = run(["bundle", str(source), "--output", str(output)], {}, streams)
    assert code == 2
    assert "appspec.yml:5:" in streams.err
    assert "missing.sh" in streams.err
    assert not output.exists()
    code = run(["bundle", str(source), "--output", str(output), "--no-validate"], {}, streams)
    assert code == 0
    assert output.exists()


def test_a_real_bundle_process_never_imports_boto3(tmp_path: Path, cli_without_aws: Any) -> None:
    source = make_tree(tmp_path / "rev")
    output = tmp_path / "rev.tgz"

    done, imported_aws = cli_without_aws(["bundle", str(source), "--output", str(output)])

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert not imported_aws


def test_permissions_for_one_object_with_disjoint_types_bundle_nested_overlaps_do_not(  # type: ignore[no-untyped-def]
    tmp_path: Path, streams
) -> None:
    """The agent applies both entries of the first appspec and fails the Install on the second
    (every file of app/ would get permissions from both)."""
    source = make_tree(tmp_path / "rev")
    head = "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /srv/app\n"
    (source / "appspec.yml").write_text(
        head + "permissions:\n"
        "  - object: /srv/app\n    type: [directory]\n    mode: '755'\n"
        "  - object: /srv/app\n    type: [file]\n    mode: '644'\n"
    )
    output = tmp_path / "out.zip"
    assert run(["bundle", str(source), "--output", str(output)], {}, streams) == 0, streams.err
    (source / "appspec.yml").write_text(
        head + "permissions:\n"
        "  - object: /\n    type: [file]\n    mode: '644'\n"
        "  - object: /srv/app\n    type: [file]\n    mode: '600'\n"
    )
    output.unlink()
    assert run(["bundle", str(source), "--output", str(output)], {}, streams) == 2
    assert "the AppSpec has 1 error" in streams.err
    assert not output.exists()
    (error,) = validate_path(source).errors
    assert (error.line, error.code) == (10, "permissions-nested-object")
    assert error.message.startswith("/srv/app/current (from app/current) gets permissions")
