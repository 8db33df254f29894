"""The local engine side by side with `cp -a`, in one run, printed as ratios.

1. Install of a 20,000-file tree (~300 MB: mostly 1-20 KB text, 90 random 1 MiB binaries) on
   tmpfs: the engine's Install step (plan, cleanup record, copy with modes and times) vs `cp -a`
   of the same tree, alternating, medians of 3 rounds, wall and CPU time. Target: <= 1.3x
   `cp -a`. Also shown: a
   redeploy of the same tree (the previous revision's files removed first) and
   `shutil.copytree`.
2. A small revision (a few files, 3 hooks) deployed whole: in-process `run_deployment` and a
   whole `ci-deploy local` process (interpreter start-up included). Target: < 1 s.

Run: .venv/bin/python benchmarks/local_install.py
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from ci_deploy.agent import DeploymentSpec, run_deployment
from ci_deploy.agent.appspec_model import AppSpec, FileMapping
from ci_deploy.agent.install import install
from ci_deploy.agent.state import GroupState
from ci_deploy.events import discard

FILES = 20_000
BINARY_FILES = 90
ROUNDS = 3
CI_DEPLOY = str(Path(sys.executable).parent / "ci-deploy")


def make_tree(
    root: Path, files: int = FILES, binary_files: int = BINARY_FILES, links_every: int = 0
) -> int:
    """A source-like tree under ``root``: ``files`` files, mostly 1-20 KB slices of the
    stdlib's text, ``binary_files`` of them 1 MiB random binaries, and (``links_every`` > 0)
    a relative symlink beside every that-many-th file. Returns the bytes written."""
    rng = random.Random(20_000)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    corpus = [p.read_bytes() for p in sorted(stdlib.glob("*.py")) if p.stat().st_size > 20_000]
    total = 0
    step = max(1, files // max(1, binary_files))
    for index in range(files):
        directory = root / f"pkg{index % 40:02d}" / f"mod{index % 7}"
        directory.mkdir(parents=True, exist_ok=True)
        if index % step == 0 and index // step < binary_files:
            data = rng.randbytes(1 << 20)
            name = f"blob{index}.bin"
        else:
            source = rng.choice(corpus)
            size = rng.randint(1_000, 20_000)
            offset = rng.randint(0, len(source) - size)
            data = source[offset : offset + size]
            name = f"file{index}.py"
        (directory / name).write_bytes(data)
        total += len(data)
        if links_every and index % links_every == 1:
            (directory / f"link{index}").symlink_to(name)
    return total


def timed(action: object) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process's threads and of the children it waited for).
    CPU time shows the work done even when other load on the machine stretches wall time."""
    assert callable(action)
    os.sync()  # start each step with no earlier step's writeback pending
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time()
    started = time.perf_counter()
    action()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = time.process_time() - cpu
    spent += (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return wall, spent


def engine_install(tree: Path, root: Path, state: Path, deployment_id: str) -> None:
    appspec = AppSpec(
        path=tree / "appspec.yml",
        files=(FileMapping("/", "/srv/app"),),
        permissions=(),
        hooks={},
        file_exists_behavior=None,
    )
    install(
        archive=tree,
        appspec=appspec,
        root=root,
        group=GroupState(state, "bench-group"),
        deployment_id=deployment_id,
        behavior="DISALLOW",
        should_stop=lambda: False,
    )


def small_revision(path: Path) -> Path:
    (path / "site").mkdir(parents=True)
    (path / "scripts").mkdir()
    for index in range(5):
        (path / "site" / f"page{index}.html").write_text(f"<p>{index}</p>\n")
    hooks = {
        "BeforeInstall": "before.sh",
        "AfterInstall": "after.sh",
        "ValidateService": "check.sh",
    }
    lines = [
        "version: 0.0",
        "os: linux",
        "files:",
        "  - source: site",
        "    destination: /srv/site",
    ]
    lines.append("hooks:")
    for event, script in hooks.items():
        lines += [f"  {event}:", f"    - location: scripts/{script}", "      timeout: 30"]
        body = f'#!/bin/sh\necho "{event} $DEPLOYMENT_ID" >> "$CI_DEPLOY_ROOT/hooks.log"\n'
        (path / "scripts" / script).write_text(body)
        (path / "scripts" / script).chmod(0o755)
    (path / "appspec.yml").write_text("\n".join(lines) + "\n")
    return path


def row(
    label: str, measured: tuple[float, float], base: tuple[float, float], note: str = ""
) -> None:
    wall, cpu = measured
    print(
        f"   {label:<31} {wall:6.3f} s {wall / base[0]:5.2f}x   cpu {cpu:6.3f} s "
        f"{cpu / base[1]:5.2f}x {note}".rstrip()
    )


def median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    # tmpfs, as in reference/performance-notes.md: on a disk, writeback of one step's files
    # throttles the next step and the comparison measures the disk, not the copy.
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="ci-deploy-bench-", dir=base) as scratch:
        work = Path(scratch)
        tree = work / "tree"
        size = make_tree(tree)
        print(f"tree: {FILES} files, {size / 1e6:.0f} MB in {work}")
        subprocess.run(["cp", "-a", str(tree), str(work / "warm")], check=True)  # page cache
        shutil.rmtree(work / "warm")

        cp_runs, our_runs = [], []
        for round_number in range(ROUNDS):  # alternate, so load from elsewhere hits both
            for name in ("cp", "root", "state"):
                shutil.rmtree(work / name, ignore_errors=True)
            (work / "root").mkdir()
            cp_runs.append(
                timed(lambda: subprocess.run(["cp", "-a", str(tree), str(work / "cp")], check=True))
            )
            our_runs.append(
                timed(
                    lambda n=round_number: engine_install(
                        tree, work / "root", work / "state", f"d-{n}"
                    )
                )
            )
        cp_a, ours = median(cp_runs), median(our_runs)
        redeploy = timed(lambda: engine_install(tree, work / "root", work / "state", "d-again"))
        copytree = timed(lambda: shutil.copytree(tree, work / "copytree", symlinks=True))
        installed = sum(len(files) for _, _, files in os.walk(work / "root/srv/app"))
        assert installed == FILES, installed

        print(f"\n1. install 20,000 files (medians of {ROUNDS} alternating rounds)")
        print(f"   {'':<31} {'wall':>8} {'vs cp -a':>7}   {'cpu (user+sys)':>14}")
        row("cp -a", cp_a, cp_a)
        row("ci-deploy Install (first)", ours, cp_a, "(target <= 1.3x)")
        row("ci-deploy Install (redeploy)", redeploy, cp_a, "(previous files removed first)")
        row("shutil.copytree", copytree, cp_a)

        revision = small_revision(work / "small")
        spec = DeploymentSpec(
            source=revision,
            application="bench",
            deployment_group="small",
            deployment_group_id="small-group",
            deployment_id="d-SMALL0001",
            state_dir=work / "small-state",
            root=work / "small-root",
            base_env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        in_process = timed(lambda: run_deployment(spec, discard))
        command = [
            CI_DEPLOY,
            "local",
            str(revision),
            "--root",
            str(work / "cli-root"),
            "--state-dir",
            str(work / "cli-state"),
        ]
        whole = timed(lambda: subprocess.run(command, check=True, capture_output=True))
        print("\n2. small revision (5 files, 3 hooks), whole deployment, against 1 s")
        row("run_deployment (in process)", in_process, (1.0, 1.0))
        row("ci-deploy local (whole process)", whole, (1.0, 1.0), "(target < 1 s)")


if __name__ == "__main__":
    main()
