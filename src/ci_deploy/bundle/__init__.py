"""Bundles of a revision directory: build reproducible zip/tar/tgz archives, and tell their types.

Reproducible: entries are sorted, timestamps fixed at 1980-01-01 (the earliest a zip entry can
hold), owners root, so one tree gives the same bytes. Members are compressed in worker threads
(zlib-ng's and zlib's compressors release the GIL) and written in order; small files are
handed out in batches and large files in chunks, so memory stays bounded whatever the file sizes.

The modules, each imported on its own (this file imports none of them, so reading a bundle's
type costs no compressor or ignore-rule import):

- ``builder``: ``build(BundleOptions) -> BundleResult``, the whole job;
- ``kinds``: bundle types from --bundle-type, a file name or a file's first bytes;
- ``tree``: the ignore rules and the scan of the revision, the appspec at its root;
- ``compress``: deflate and the ordered, bounded pipeline of worker threads;
- ``zip_writer`` and ``tar_writer``: the archive formats.
"""
