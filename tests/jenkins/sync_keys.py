"""Rewrite the input keys of the Jenkins step from ci-deploy's input table, after the table changed.

Updates the generated parts only: the input entries of `defaultConfig` in
jenkins/vars/ciDeploy.groovy and the input keys in jenkins/vars/ciDeploy.txt.
tests/test_adapter_contract.py holds both to the table. The keys' documentation, docs/inputs.md,
is written by scripts/gen-inputs-doc.

Run: .venv/bin/python tests/jenkins/sync_keys.py
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from ci_deploy.inputs import Input, adapter_inputs

ROOT = Path(__file__).resolve().parent.parent.parent


def groovy_type(spec: Input) -> str:
    return {"bool": "boolean", "int": "int", "list": "List<String>"}.get(spec.kind, "String")


def groovy_default(spec: Input) -> str:
    default = spec.default
    if default is None:
        return "null"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, int):
        return str(default)
    if isinstance(default, tuple):
        return "[" + ", ".join(f"'{item}'" for item in default) + "]"
    return f"'{default}'"


def description(spec: Input) -> str:
    if spec.choices:
        return f"{spec.help} One of: {', '.join(spec.choices)}."
    return spec.help


def default_config_entries() -> str:
    lines = []
    for spec in adapter_inputs():
        secret = " Pass it from withCredentials, never as a literal." if spec.secret else ""
        lines += [f"    // {line}" for line in textwrap.wrap(description(spec) + secret, 92)]
        lines.append(f"    {spec.jenkins_name}: {groovy_default(spec)},")
    return "\n".join(lines) + "\n"


def help_entries() -> str:
    lines = []
    for spec in adapter_inputs():
        lines.append(f"{spec.jenkins_name} ({groovy_type(spec)}, default: {groovy_default(spec)})")
        lines += [f"    {line}" for line in textwrap.wrap(description(spec), 96)]
    return "\n".join(lines) + "\n"


def splice(path: Path, start: str, end: str, block: str) -> None:
    """Replace what lies between ``start`` and ``end`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    begin = text.index(start) + len(start)
    finish = text.index(end, begin)
    updated = text[:begin] + block + text[finish:]
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        print(f"updated {path.relative_to(ROOT)}")


def main() -> None:
    splice(
        ROOT / "jenkins" / "vars" / "ciDeploy.groovy",
        "@Field final Map defaultConfig = [\n",
        "    // -- keys of this step",
        default_config_entries(),
    )
    splice(
        ROOT / "jenkins" / "vars" / "ciDeploy.txt",
        "comma-separated String.\n\n",
        "installLock (",  # the first of the step's own keys
        help_entries(),
    )


if __name__ == "__main__":
    main()
