"""The runner harness itself (tests/github_harness.py): the runner's rules it enforces and the
file and command protocol it reads, on small composite actions written here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from github_harness import ActionHarness, HarnessError, read_file_commands


def action(tmp_path: Path, text: str) -> ActionHarness:
    root = tmp_path / "action"
    root.mkdir()
    (root / "action.yml").write_text(text)
    (tmp_path / "ws").mkdir()
    (tmp_path / "temp").mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    return ActionHarness(root, tmp_path / "ws", tmp_path / "temp", env)


PROTOCOL = """
name: t
description: t
inputs:
  greeting:
    description: g
    default: hello
  token:
    description: t
    default: ${{ github.token }}
outputs:
  said:
    description: s
    value: ${{ steps.say.outputs.said }}
  either:
    description: e
    value: ${{ steps.say.outputs.missing || 'fallback' }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      env:
        GREETING: ${{ inputs.greeting }}
        TOKEN: ${{ inputs.token }}
      run: |
        printf 'said<<EOF\\n%s\\nworld\\nEOF\\n' "$GREETING" >> "$GITHUB_OUTPUT"
        echo "FROM_ENV_FILE=yes" >> "$GITHUB_ENV"
        echo "## summary" >> "$GITHUB_STEP_SUMMARY"
        echo "::stop-commands::abc"
        echo "::error::not a command"
        echo "::abc::"
        echo "::warning file=a%2Cb.txt,line=3::50%25 done%0Anext"
        test "$INPUT_GREETING" = "$GREETING"
        test "$TOKEN" = ghs_harness_token
    - id: later
      if: steps.say.outputs.said != ''
      shell: bash
      run: |
        test "$FROM_ENV_FILE" = yes
        false
    - id: skipped
      shell: bash
      run: echo never
    - id: always
      if: always()
      shell: bash
      run: echo cleanup
"""


def test_files_commands_conditions_and_failures(tmp_path: Path) -> None:
    run = action(tmp_path, PROTOCOL).run({"greeting": "hi"})
    assert run.outputs == {"said": "hi\nworld", "either": "fallback"}
    assert run.summary == "## summary\n"
    assert [(c.name, c.properties, c.message) for c in run.commands] == [
        ("warning", {"file": "a,b.txt", "line": "3"}, "50% done\nnext")
    ]
    assert [step.outcome for step in run.steps] == ["success", "failure", "skipped", "success"]
    assert run.exit_code == 1
    assert run.step("always").stdout == "cleanup\n"


def test_an_expression_inside_run_is_refused(tmp_path: Path) -> None:
    harness = action(
        tmp_path,
        "name: t\ndescription: t\ninputs:\n  x:\n    description: x\nruns:\n  using: composite\n"
        "  steps:\n    - shell: bash\n      run: echo ${{ inputs.x }}\n",
    )
    with pytest.raises(HarnessError, match="expression inside run"):
        harness.run({"x": "1"})


def test_unknown_inputs_and_contexts_are_refused(tmp_path: Path) -> None:
    harness = action(
        tmp_path,
        "name: t\ndescription: t\nruns:\n  using: composite\n  steps:\n"
        "    - shell: bash\n      env:\n        X: ${{ inputs.nope }}\n      run: echo\n",
    )
    with pytest.raises(HarnessError, match="unexpected inputs"):
        harness.run({"nope": "1"})
    with pytest.raises(HarnessError, match=r"unknown input in inputs\.nope"):
        harness.run({})


def test_file_commands_parse_both_forms_and_reject_an_unclosed_block(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("a=1=2\nb<<D\nx\n\ny\nD\n")
    assert read_file_commands(path) == {"a": "1=2", "b": "x\n\ny"}
    path.write_text("c<<D\nnever closed\n")
    with pytest.raises(HarnessError, match="never closed"):
        read_file_commands(path)
