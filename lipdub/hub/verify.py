"""Checking a downloaded file against its spec: exact size and sha256, remembered once.

Hashing a 435 MB file takes a second or two, so a successful check is remembered in a
small ``<file>.lipdub-verified`` marker beside the (resolved) file, keyed by its size
and modification time, and not repeated while those stay the same.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from lipdub._hashing import file_sha256
from lipdub._io import atomic_path
from lipdub.errors import ChecksumMismatch
from lipdub.hub.catalogue import WeightsSpec

__all__ = ["is_verified", "verify_file"]

_MARKER_SUFFIX = ".lipdub-verified"


def _marker_path(path: Path) -> Path:
    real = path.resolve()
    return real.with_name(real.name + _MARKER_SUFFIX)


def _hash_ok(digest: str, spec: WeightsSpec) -> bool:
    if spec.sha256 is not None:
        return digest == spec.sha256
    if spec.sha256_prefix is not None:
        return digest.startswith(spec.sha256_prefix)
    return True


def _read_marker(path: Path, spec: WeightsSpec) -> bool:
    try:
        data = json.loads(_marker_path(path).read_text(encoding="utf-8"))
        st = path.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    return (
        data.get("size") == st.st_size
        and data.get("mtime_ns") == st.st_mtime_ns
        and _hash_ok(str(data.get("sha256", "")), spec)
    )


def _write_marker(path: Path, digest: str) -> None:
    st = path.stat()
    payload = json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest})
    # a read-only cache just means rehashing next time
    with contextlib.suppress(OSError), atomic_path(_marker_path(path), suffix="") as tmp:
        tmp.write_text(payload, encoding="utf-8")


def is_verified(path: str | os.PathLike[str], spec: WeightsSpec) -> bool:
    """Whether ``path`` carries a valid marker for ``spec`` (no hashing; for listings)."""
    if spec.sha256 is None and spec.sha256_prefix is None:
        return False
    return _read_marker(Path(path), spec)


def verify_file(path: str | os.PathLike[str], spec: WeightsSpec) -> None:
    """Check a file's size and sha256 against ``spec`` (remembered once it passes).

    Raises:
        ChecksumMismatch: wrong size or hash; the message names the file and the fix.
    """
    p = Path(path)
    size = p.stat().st_size
    fix = (
        f"delete it and run `lipdub weights download {spec.name}` to fetch "
        f"{spec.repo_id}/{spec.filename} again"
    )
    if spec.size is not None and size != spec.size:
        raise ChecksumMismatch(
            f"{spec.name} weights have the wrong size: expected {spec.size:,} bytes, "
            f"found {size:,} bytes; this is not {Path(spec.filename).name}",
            path=p,
            backend=spec.name,
            hint=fix,
        )
    if spec.sha256 is None and spec.sha256_prefix is None:
        return
    if _read_marker(p, spec):
        return
    digest = file_sha256(p)
    if not _hash_ok(digest, spec):
        want = spec.sha256 or f"{spec.sha256_prefix}…"
        raise ChecksumMismatch(
            f"{spec.name} weights have the wrong sha256: expected {want}, found {digest}",
            path=p,
            backend=spec.name,
            hint=fix,
        )
    _write_marker(p, digest)
