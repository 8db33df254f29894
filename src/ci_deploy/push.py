"""Push a revision: bundle (or take a prebuilt archive), upload to S3 under a content-addressed
key unless the same bytes are already there, and register it; or resolve an existing S3
object, a GitHub commit or inline AppSpecContent. One call per region."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_deploy.appspec import (
    appspec_text,
    find_appspec,
    load_appspec,
    require_valid,
    validate_text,
)
from ci_deploy.aws import revisions, s3
from ci_deploy.bundle.builder import BundleOptions, BundleResult, build
from ci_deploy.bundle.kinds import detect_bundle_type, suffix_type
from ci_deploy.ci_env import CiEnvironment
from ci_deploy.errors import AwsError, InputError
from ci_deploy.events import EventSink, Notice
from ci_deploy.result import PushResult
from ci_deploy.revision_location import (
    RevisionLocation,
    appspec_content_revision,
    extension_for,
    github_revision,
    key_bundle_type,
    parse_s3_location,
    s3_revision,
    substitute_task_definition,
)
from ci_deploy.vocabulary import ARCHIVE_BUNDLE_TYPES

if TYPE_CHECKING:
    from ci_deploy.aws.session import Clients

APPSPEC_SUFFIXES = (".yml", ".yaml", ".json")


@dataclass(frozen=True)
class PushRequest:
    """What to push and where; the names are the input table's."""

    source: Path
    application: str
    s3_location: str | None = None
    bundle_type: str | None = None
    validate: bool = True
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    compute_platform: str | None = None
    appspec_filename: str | None = None
    register: bool = True
    upload: bool = True
    sse: str | None = None
    sse_kms_key_id: str | None = None
    expected_bucket_owner: str | None = None
    github_repository: str | None = None
    commit_id: str | None = None
    task_definition: str | None = None
    # Object metadata, e.g. {"commit": ..., "ci-run": ...} (see ci_metadata).
    metadata: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    # Multipart tuning (tests make it small; S3's minimum part is 5 MiB).
    upload_options: s3.UploadOptions | None = None


def ci_metadata(ci: CiEnvironment) -> dict[str, str]:
    """Object metadata naming the commit and the CI run, when the CI environment says."""
    named = {"commit": ci.commit, "ci-run": ci.run_url}
    metadata = {name: value for name, value in named.items() if value}
    # S3 sends metadata in HTTP headers: ASCII only.
    return {name: value for name, value in metadata.items() if value.isascii()}


def revision_kind(request: PushRequest) -> str:
    """github | appspec | existing | bundle: which source this request names."""
    if request.github_repository or request.commit_id:
        return "github"
    source = request.source
    if source.is_file() and source.name.lower().endswith(APPSPEC_SUFFIXES):
        return "appspec"
    if not request.upload:
        return "existing"
    if source.is_dir():
        platform = request.compute_platform
        if platform is None and request.validate:
            platform = load_appspec(source, None, request.appspec_filename).platform
        if platform in {"ecs", "lambda"}:
            return "appspec"
    return "bundle"


def prepare_bundle(request: PushRequest, directory: Path) -> BundleResult:
    """Build (once, whatever the number of regions) the bundle a bundle-kind request uploads;
    a prebuilt archive is hashed instead."""
    source = request.source
    if source.is_file():
        kind = request.bundle_type or suffix_type(source.name)
        if kind is None:
            raise InputError(
                f"input source: {source} is neither a directory nor a .zip/.tar/.tgz bundle",
                hint="pass a revision directory, a bundle, or --bundle-type for an odd name",
            )
        try:
            holds = detect_bundle_type(source)
        except InputError as error:
            raise InputError(
                f"input source: {error}", hint="pass a zip, tar or tgz bundle, or its directory"
            ) from error
        if holds != kind:
            raise InputError(
                f"input source: {source} is taken as a {kind} but holds a {holds}",
                hint="rename it, or pass --bundle-type to match what it holds",
            )
        digest = hashlib.sha256()
        with source.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return BundleResult(source, kind, source.stat().st_size, digest.hexdigest(), 0)
    if not source.exists():
        raise InputError(
            f"input source: {source} does not exist",
            hint="pass the revision directory, a bundle or an appspec file as SOURCE",
        )
    kind = request.bundle_type
    if kind is None and request.s3_location:
        # The bucket may still hold a {region} placeholder: only the key's name matters here.
        wanted = key_bundle_type(request.s3_location.rstrip("/").rsplit("/", 1)[-1])
        kind = wanted if wanted in ARCHIVE_BUNDLE_TYPES else None
    kind = kind or "zip"
    return build(
        BundleOptions(
            source=source,
            output=directory / f"revision.{kind}",
            bundle_type=kind,
            validate=request.validate,
            excludes=request.exclude,
            follow_symlinks=request.follow_symlinks,
            compute_platform=request.compute_platform,
            appspec_filename=request.appspec_filename,
        )
    )


def push_revision(
    request: PushRequest,
    clients: Clients,
    sink: EventSink,
    *,
    bundle: BundleResult | None = None,
) -> PushResult:
    """Resolve the request's revision in ``clients.region`` (uploading when needed) and
    register it. Pass ``bundle`` (from ``prepare_bundle``) to push one build to many regions."""
    _check_inputs(request)
    # A prepared bundle settles the kind: no second look at the source (and its appspec) per region.
    kind = "bundle" if bundle is not None else revision_kind(request)
    if kind == "github":
        result = PushResult(_github_revision(request))
    elif kind == "appspec":
        result = PushResult(_appspec_revision(request))
    elif kind == "existing":
        result = _existing_object(request, clients)
    elif bundle is not None:
        result = _upload_bundle(request, clients, sink, bundle)
    else:
        with tempfile.TemporaryDirectory(prefix="ci-deploy-") as directory:
            built = prepare_bundle(request, Path(directory))
            result = _upload_bundle(request, clients, sink, built)
    if request.register:
        revisions.register_revision(
            clients.codedeploy,
            request.application,
            result.revision,
            request.description,
            region=clients.region,
        )
    return PushResult(
        result.revision,
        result.bundle_sha256,
        result.uploaded,
        result.size,
        registered=request.register,
        region=clients.region,
    )


@dataclass(frozen=True)
class PlannedRevision:
    """What ``push_revision`` would send CodeDeploy, found without writing anything: the
    revision, the S3 URL an upload would write (None: nothing to upload) and the revision's
    fields only that upload decides (S3 answers them: eTag, and version in a versioned bucket)."""

    revision: Mapping[str, Any]
    upload_to: str | None = None
    decided_by_upload: tuple[str, ...] = ()
    bundle_sha256: str | None = None


def plan_revision(
    request: PushRequest, clients: Clients, *, bundle: BundleResult | None = None
) -> PlannedRevision:
    """``push_revision`` with read-only calls only (a dry run): the same checks and the same
    revision, the bucket checked with HeadBucket (a denial is an error here, as nothing is
    uploaded to tell) and the key with HeadObject; nothing uploaded or registered."""
    _check_inputs(request)
    kind = "bundle" if bundle is not None else revision_kind(request)
    if kind == "github":
        return PlannedRevision(_github_revision(request))
    if kind == "appspec":
        return PlannedRevision(_appspec_revision(request))
    if kind == "existing":
        found = _existing_object(request, clients)
        return PlannedRevision(found.revision, bundle_sha256=found.bundle_sha256)
    if bundle is not None:
        return _planned_upload(request, clients, bundle)
    with tempfile.TemporaryDirectory(prefix="ci-deploy-") as directory:
        return _planned_upload(request, clients, prepare_bundle(request, Path(directory)))


def _planned_upload(
    request: PushRequest, clients: Clients, bundle: BundleResult
) -> PlannedRevision:
    bucket, key = _bundle_key(request, clients.region, bundle)
    s3.check_bucket(
        clients.s3, bucket, clients.region, request.expected_bucket_owner, denied_ok=False
    )
    existing = s3.head(
        clients.s3, bucket, key, request.expected_bucket_owner, region=clients.region
    )
    if existing is not None and existing.sha256 == bundle.sha256:
        # The upload would be skipped: the revision is the object's, pinned as it is.
        revision = s3_revision(
            bucket, key, bundle.bundle_type, etag=existing.etag, version=existing.version
        )
        return PlannedRevision(revision, bundle_sha256=bundle.sha256)
    return PlannedRevision(
        s3_revision(bucket, key, bundle.bundle_type),
        upload_to=f"s3://{bucket}/{key}",
        decided_by_upload=("eTag", "version"),
        bundle_sha256=bundle.sha256,
    )


def _github_revision(request: PushRequest) -> RevisionLocation:
    if not (request.github_repository and request.commit_id):
        raise InputError(
            "a GitHub revision needs both github_repository and commit_id",
            hint="pass --github-repository owner/repo --commit-id SHA",
        )
    return github_revision(request.github_repository, request.commit_id)


def _check_inputs(request: PushRequest) -> None:
    if not request.application.strip():
        raise InputError("input application is required for push", hint="pass --application NAME")
    if request.sse_kms_key_id and request.sse != "aws:kms":
        raise InputError(
            "input sse_kms_key_id needs sse aws:kms",
            hint="pass --sse aws:kms with --sse-kms-key-id",
        )


def _location(request: PushRequest) -> str:
    if not request.s3_location:
        raise InputError(
            "input s3_location is required to upload a bundle",
            hint="pass --s3-location s3://bucket[/prefix] or set CI_DEPLOY_S3_LOCATION",
        )
    return request.s3_location


def _appspec_revision(request: PushRequest) -> RevisionLocation:
    path, _ = find_appspec(request.source, request.appspec_filename)
    content = appspec_text(path)
    if request.task_definition:
        content = substitute_task_definition(content, request.task_definition, path.as_posix())
    if request.validate:
        # What is sent is checked: the task definition is in place by now.
        require_valid(
            validate_text(
                content,
                path.as_posix(),
                compute_platform=request.compute_platform,
                as_json=path.suffix.lower() == ".json" and not request.task_definition,
            )
        )
    return appspec_content_revision(content)


def _existing_object(request: PushRequest, clients: Clients) -> PushResult:
    location = parse_s3_location(_location(request), clients.region)
    if location.key is None:
        raise InputError(
            f"input s3_location: {request.s3_location} names no object (with --no-upload it "
            "must end in a file name such as app.zip)",
            hint="pass --s3-location s3://bucket/path/app.zip",
        )
    bundle_type = request.bundle_type or key_bundle_type(location.key)
    assert bundle_type is not None  # the key was recognised by its bundle extension
    found = s3.head(
        clients.s3,
        location.bucket,
        location.key,
        request.expected_bucket_owner,
        region=clients.region,
    )
    if found is None:
        raise AwsError(
            f"HeadObject: s3://{location.bucket}/{location.key} does not exist",
            operation="HeadObject",
            code="NoSuchKey",
            hint="push the bundle first, or drop --no-upload to upload SOURCE",
        )
    return PushResult(
        s3_revision(found.bucket, found.key, bundle_type, etag=found.etag, version=found.version),
        bundle_sha256=found.sha256,
        size=found.size,
    )


def _bundle_key(request: PushRequest, region: str, bundle: BundleResult) -> tuple[str, str]:
    """The bucket and the content-addressed key the bundle goes to (a computation: no call)."""
    location = parse_s3_location(_location(request), region)
    if location.key is not None:
        wanted = key_bundle_type(location.key)
        if wanted != bundle.bundle_type:
            raise InputError(
                f"input s3_location: key {location.key} names a {wanted} but the bundle is a "
                f"{bundle.bundle_type}",
                hint=f"end the key in .{extension_for(bundle.bundle_type)} or drop --bundle-type",
            )
    key = location.key_for(request.application, bundle.sha256, extension_for(bundle.bundle_type))
    return location.bucket, key


def _upload_bundle(
    request: PushRequest, clients: Clients, sink: EventSink, bundle: BundleResult
) -> PushResult:
    bucket, key = _bundle_key(request, clients.region, bundle)
    s3.check_bucket(clients.s3, bucket, clients.region, request.expected_bucket_owner)
    existing = s3.head(
        clients.s3, bucket, key, request.expected_bucket_owner, region=clients.region
    )
    uploaded = False
    if existing is not None and existing.sha256 == bundle.sha256:
        sink(
            Notice(
                f"{existing.url} already holds this bundle (sha256 {bundle.sha256[:12]}): "
                "upload skipped"
            )
        )
        stored = existing
    else:
        options = request.upload_options or s3.UploadOptions()
        options = s3.UploadOptions(
            sse=request.sse,
            sse_kms_key_id=request.sse_kms_key_id,
            expected_bucket_owner=request.expected_bucket_owner,
            metadata=dict(request.metadata),
            multipart_threshold=options.multipart_threshold,
            part_size=options.part_size,
            concurrency=options.concurrency,
            attempts=options.attempts,
        )
        stored = s3.upload(
            clients.s3,
            bundle.path,
            bucket=bucket,
            key=key,
            sha256=bundle.sha256,
            options=options,
            sink=sink,
            region=clients.region,
        )
        uploaded = True
        sink(Notice(f"uploaded {stored.url} ({stored.size} bytes)"))
    return PushResult(
        s3_revision(
            stored.bucket, stored.key, bundle.bundle_type, etag=stored.etag, version=stored.version
        ),
        bundle_sha256=bundle.sha256,
        uploaded=uploaded,
        size=bundle.size,
    )
