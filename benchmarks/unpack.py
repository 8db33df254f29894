"""DownloadBundle's unpacking of zip, tar and tgz bundles side by side with `unzip` / `tar -x`.

A tree of FILES files (mostly 1-20 KB text, a few 1 MiB random binaries, some symlinks) is
packed once per type; then the engine's ``unpack`` and the system tool extract it, alternating,
medians of ROUNDS rounds, on tmpfs. Printed: wall and CPU seconds and the ratio to the tool.

Run: .venv/bin/python benchmarks/unpack.py [FILES]   (default 5000; 1000 is a quick run)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from functools import partial
from pathlib import Path

from local_install import make_tree as source_tree
from local_install import timed

from ci_deploy.agent.unpack import unpack

ROUNDS = 3


def make_tree(root: Path, files: int) -> int:
    """local_install's tree (one 1 MiB binary per 250 files, a symlink per 100), plus an
    appspec at its root."""
    root.mkdir(parents=True)
    (root / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    return source_tree(root, files, binary_files=files // 250 + 1, links_every=100)


def pack(tree: Path, work: Path) -> dict[str, Path]:
    bundles = {"zip": work / "bundle.zip", "tar": work / "bundle.tar", "tgz": work / "bundle.tgz"}
    with zipfile.ZipFile(bundles["zip"], "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(tree.rglob("*")):
            name = path.relative_to(tree).as_posix()
            if path.is_symlink():
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o120777 << 16
                archive.writestr(info, os.readlink(path).encode())
            elif path.is_file():
                archive.write(path, name)
    for kind, mode in (("tar", "w"), ("tgz", "w:gz")):
        with tarfile.open(bundles[kind], mode) as archive:  # type: ignore[call-overload]
            for path in sorted(tree.iterdir()):
                archive.add(path, path.name)
    return bundles


def tool(kind: str, bundle: Path, into: Path) -> list[str]:
    if kind == "zip":
        return ["unzip", "-q", str(bundle), "-d", str(into)]
    return ["tar", "-xf", str(bundle), "-C", str(into)]


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="ci-deploy-bench-unpack-", dir=base) as scratch:
        work = Path(scratch)
        size = make_tree(work / "tree", files)
        bundles = pack(work / "tree", work)
        print(f"tree: {files} files, {size / 1e6:.0f} MB in {work}")
        print(f"   {'':<12} {'tool wall':>9} {'unpack wall':>11} {'ratio':>6}   {'cpu ratio':>9}")
        for kind, bundle in bundles.items():
            tool_runs, our_runs = [], []
            for _ in range(ROUNDS):  # alternate, so load from elsewhere hits both
                for name in ("t", "w", "a"):
                    shutil.rmtree(work / name, ignore_errors=True)
                (work / "t").mkdir()
                command = tool(kind, bundle, work / "t")
                tool_runs.append(timed(partial(subprocess.run, command, check=True)))
                our_runs.append(timed(partial(unpack, bundle, kind, work / "w", work / "a", None)))
            theirs = (
                statistics.median(r[0] for r in tool_runs),
                statistics.median(r[1] for r in tool_runs),
            )
            ours = (
                statistics.median(r[0] for r in our_runs),
                statistics.median(r[1] for r in our_runs),
            )
            print(
                f"   {kind:<12} {theirs[0]:8.3f}s {ours[0]:10.3f}s {ours[0] / theirs[0]:5.2f}x"
                f"   {ours[1] / theirs[1]:8.2f}x"
            )


if __name__ == "__main__":
    main()
