"""`ci-deploy bundle` side by side with Info-ZIP `zip -r -q` and `tar -czf`, as ratios, plus
peak memory on a tree holding a 2 GiB file.

Generates (in a temp dir, removed afterwards) a tree of 20,000 files, ~300 MB: mostly 1-20 KB
text files plus 1 MiB random binaries. Runs the four builders alternately (whole processes,
start-up included), takes medians, and prints wall and size ratios against the targets:
zip <= 0.35x Info-ZIP with size <= 1.02x; tgz <= 0.5x `tar -czf`; peak RSS < 200 MB.

Run: .venv/bin/python benchmarks/bundle.py [--runs N] [--skip-memory]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

FILES = 20_000
BINARY_FILES = 90
BINARY_BYTES = 1 << 20
BIG_FILE_BYTES = 2 << 30

CI_DEPLOY = str(Path(sys.executable).parent / "ci-deploy")


def text_corpus() -> list[bytes]:
    """Real source text to cut small files from: this interpreter's standard library."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = (path.read_bytes() for path in sorted(stdlib.rglob("*.py")))
    return [source for source in sources if len(source) > 20_000]


def text_file(rng: random.Random, corpus: list[bytes], size: int) -> bytes:
    source = rng.choice(corpus)
    offset = rng.randint(0, len(source) - size)
    return source[offset : offset + size]


def make_tree(root: Path) -> int:
    rng = random.Random(20_000)
    corpus = text_corpus()
    (root / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    total = 0
    for index in range(FILES - 1):
        directory = root / f"pkg{index % 40:02d}" / f"mod{index % 7}"
        directory.mkdir(parents=True, exist_ok=True)
        if (
            index % ((FILES - 1) // BINARY_FILES) == 0
            and index // ((FILES - 1) // BINARY_FILES) < BINARY_FILES
        ):
            data = rng.randbytes(BINARY_BYTES)
            (directory / f"blob{index}.bin").write_bytes(data)
        else:
            data = text_file(rng, corpus, rng.randint(1_000, 20_000))
            (directory / f"file{index}.py").write_bytes(data)
        total += len(data)
    return total


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def peak_rss_mb(command: list[str], cwd: Path) -> float:
    """Peak RSS of ``command`` (its own process tree), measured by a fresh parent."""
    probe = (
        "import resource, subprocess, sys; "
        f"subprocess.run({command!r}, cwd={str(cwd)!r}, check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ci-deploy-bench-"))
    try:
        tree = work / "tree"
        tree.mkdir()
        size = make_tree(tree)
        print(f"tree: {FILES} files, {size / 1e6:.0f} MB, {os.cpu_count()} cores")
        out = work / "out"
        out.mkdir()
        builders = {
            "ci-deploy zip": [CI_DEPLOY, "bundle", str(tree), "--output", str(out / "a.zip")],
            "zip -r -q": ["zip", "-r", "-q", str(out / "b.zip"), "."],
            "ci-deploy tgz": [CI_DEPLOY, "bundle", str(tree), "--output", str(out / "a.tgz")],
            "tar -czf": ["tar", "-czf", str(out / "b.tgz"), "."],
        }
        outputs = {
            "ci-deploy zip": out / "a.zip",
            "zip -r -q": out / "b.zip",
            "ci-deploy tgz": out / "a.tgz",
            "tar -czf": out / "b.tgz",
        }
        times: dict[str, list[float]] = {name: [] for name in builders}
        digests: dict[str, set[str]] = {"ci-deploy zip": set(), "ci-deploy tgz": set()}
        for _ in range(args.runs):
            for name, command in builders.items():
                outputs[name].unlink(missing_ok=True)
                times[name].append(timed(command, tree))
                if name in digests:
                    digests[name].add(hashlib.sha256(outputs[name].read_bytes()).hexdigest())
        median = {name: statistics.median(values) for name, values in times.items()}
        sizes = {name: path.stat().st_size for name, path in outputs.items()}
        for name in builders:
            print(f"{name:14s} {median[name]:6.2f} s  {sizes[name] / 1e6:7.1f} MB")
        zip_wall = median["ci-deploy zip"] / median["zip -r -q"]
        zip_size = sizes["ci-deploy zip"] / sizes["zip -r -q"]
        tgz_wall = median["ci-deploy tgz"] / median["tar -czf"]
        tgz_size = sizes["ci-deploy tgz"] / sizes["tar -czf"]
        print(
            f"zip: wall {zip_wall:.2f}x Info-ZIP (target <= 0.35), size {zip_size:.3f}x "
            "(target <= 1.02)"
        )
        print(f"tgz: wall {tgz_wall:.2f}x tar -czf (target <= 0.5), size {tgz_size:.3f}x")
        for name, seen in digests.items():
            verdict = "reproducible" if len(seen) == 1 else "NOT reproducible"
            print(f"{name}: {args.runs} builds, {len(seen)} distinct sha256: {verdict}")
        shutil.rmtree(tree)
        if not args.skip_memory:
            big = work / "big"
            big.mkdir()
            (big / "appspec.yml").write_text("version: 0.0\nos: linux\n")
            with (big / "data.bin").open("wb") as handle:
                handle.truncate(BIG_FILE_BYTES)  # sparse: reads as zeros without using disk
            for kind in ("zip", "tgz"):
                command = [CI_DEPLOY, "bundle", str(big), "--output", str(out / f"big.{kind}")]
                start = time.perf_counter()
                rss = peak_rss_mb(command, big)
                took = time.perf_counter() - start
                print(f"2 GiB file, {kind}: peak RSS {rss:.0f} MB (target < 200), {took:.1f} s")
                (out / f"big.{kind}").unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
