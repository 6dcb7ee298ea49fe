"""Content hashing, once for the whole package: files (weights, artifacts, inputs) and
settings (cache keys)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lipdub.types import AudioClip

__all__ = ["clip_key", "content_key", "file_sha256", "settings_key"]

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The full sha256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def content_key(path: str | os.PathLike[str], *, full: bool | None = None) -> str:
    """A short hash of a file's content (not its name or time), for cache keys.

    Files up to 64 MiB are hashed whole; larger ones (input videos) by size plus their
    first, middle and last MiB, which identifies a video without reading gigabytes.
    """
    p = Path(path)
    size = p.stat().st_size
    if full or (full is None and size <= 64 * _CHUNK):
        return file_sha256(p)[:20]
    h = hashlib.sha256(str(size).encode())
    with p.open("rb") as f:
        for offset in (0, size // 2, max(0, size - _CHUNK)):
            f.seek(offset)
            h.update(f.read(_CHUNK))
    return h.hexdigest()[:20]


def settings_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable settings (dict keys sorted).

    Example:
        >>> settings_key({"b": 1, "a": [1, 2]}) == settings_key({"a": [1, 2], "b": 1})
        True
    """
    blob = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def clip_key(clip: AudioClip) -> str:
    """A short hash of an audio clip's samples and rate (a reference voice's identity)."""
    h = hashlib.sha256(clip.samples.tobytes())
    h.update(str(clip.sample_rate_hz).encode())
    return h.hexdigest()[:16]
