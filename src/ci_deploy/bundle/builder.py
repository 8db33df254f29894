"""Build a reproducible zip/tar/tgz bundle of a revision directory: check the inputs, scan the
tree, validate the appspec at its root, and write the archive atomically."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci_deploy.appspec import Diagnostic, load_appspec
from ci_deploy.bundle.compress import HashingWriter, default_workers
from ci_deploy.bundle.kinds import bundle_type_for
from ci_deploy.bundle.tar_writer import write_tar
from ci_deploy.bundle.tree import appspec_at_root, ignore_rules, scan
from ci_deploy.bundle.zip_writer import write_zip
from ci_deploy.errors import InputError


@dataclass(frozen=True)
class BundleOptions:
    source: Path
    output: Path
    bundle_type: str | None = None
    validate: bool = True
    excludes: tuple[str, ...] = ()
    follow_symlinks: bool = False
    compute_platform: str | None = None
    appspec_filename: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class BundleResult:
    path: Path
    bundle_type: str
    size: int
    sha256: str
    files: int
    warnings: tuple[Diagnostic, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "bundle_type": self.bundle_type,
            "size": self.size,
            "sha256": self.sha256,
            "files": self.files,
        }


def build(options: BundleOptions) -> BundleResult:
    """Build the bundle at ``options.output`` (atomically: a temp file renamed into place).

    With ``options.validate``, the appspec must sit at the root and be valid (AppSpecError,
    carrying the diagnostics, otherwise). Warnings are in ``BundleResult.warnings``.
    """
    source = options.source
    if not source.exists():
        raise InputError(
            f"input source: {source} does not exist", hint="pass the revision directory as SOURCE"
        )
    if not source.is_dir():
        raise InputError(
            f"input source: {source} is not a directory",
            hint="bundle a revision directory (a prebuilt archive needs no bundling)",
        )
    bundle_type = bundle_type_for(options.output, options.bundle_type)
    output = options.output
    if output.is_dir():
        raise InputError(
            f"input output: {output} is a directory", hint="name the bundle file, e.g. app.zip"
        )
    if not output.parent.is_dir():
        raise InputError(
            f"input output: directory {output.parent} does not exist",
            hint="create it first or write the bundle elsewhere",
        )
    warnings: list[Diagnostic] = []
    rules = ignore_rules(source, options.excludes)
    entries = scan(source, rules, follow_symlinks=options.follow_symlinks, skip=[options.output])
    if options.validate:
        appspec = appspec_at_root(source, entries, options.appspec_filename)
        warnings = load_appspec(source, options.compute_platform, appspec).warnings
    workers = options.workers or default_workers()
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed or removed below
            prefix=f".{output.name}.", suffix=".tmp", dir=output.parent, delete=False
        )
    except OSError as error:
        raise InputError(f"input output: cannot write in {output.parent}: {error}") from error
    temporary = Path(handle.name)
    try:
        with handle:
            writer = HashingWriter(handle)
            if bundle_type == "zip":
                write_zip(writer, entries, workers)
            else:
                write_tar(writer, entries, workers, gzip=bundle_type == "tgz")
        temporary.chmod(0o644)
        temporary.replace(output)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InputError(f"input output: cannot write {output}: {error}") from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    files = sum(1 for entry in entries if entry.kind != "dir")
    return BundleResult(
        output, bundle_type, writer.offset, writer.hexdigest(), files, tuple(warnings)
    )
