"""The work directory: every stage's artifact, and a manifest that makes runs resumable.

Each artifact is recorded in ``manifest.json`` under its stage name with the *key* of
its inputs (a hash of the upstream artifacts' contents and the settings). A later run
reuses an artifact when its key is unchanged; an edit to an upstream file (say the
translation JSON) changes the keys of everything downstream, which is redone, while
the edited file itself is kept. All writes are atomic (temporary file + rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from lipdub._io import atomic_write_text

__all__ = ["Workdir", "content_key", "settings_key"]

_CHUNK = 1 << 20


def settings_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable settings."""
    blob = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def content_key(path: str | os.PathLike[str], *, full: bool | None = None) -> str:
    """A hash of a file's content.

    Files up to 64 MiB are hashed whole; larger ones (videos) by size plus their first,
    middle and last MiB, which identifies a video without reading gigabytes.
    """
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with p.open("rb") as f:
        if full or (full is None and size <= 64 * _CHUNK):
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
        else:
            for offset in (0, size // 2, max(0, size - _CHUNK)):
                f.seek(offset)
                h.update(f.read(_CHUNK))
    return h.hexdigest()[:20]


class Workdir:
    """A folder of stage artifacts plus ``manifest.json``.

    Example:
        >>> import tempfile
        >>> wd = Workdir(tempfile.mkdtemp())
        >>> p = wd.path("transcript.en.json")
        >>> _ = p.write_text("{}")
        >>> wd.record("transcript", "k1", p)
        >>> wd.fresh("transcript", "k1") == p, wd.fresh("transcript", "k2")
        (True, None)
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._manifest_path = self.root / "manifest.json"
        self._lock = threading.Lock()
        self._manifest: dict[str, Any] = {"version": 1, "stages": {}}
        if self._manifest_path.is_file():
            try:
                loaded = json.loads(self._manifest_path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict) and isinstance(loaded.get("stages"), dict):
                    self._manifest = loaded
            except (OSError, json.JSONDecodeError):
                pass  # a damaged manifest only costs a re-run

    def path(self, name: str) -> Path:
        """Path of an artifact inside the work directory."""
        return self.root / name

    def fresh(self, stage: str, key: str) -> Path | None:
        """The stage's artifact if it was made from the same inputs and still exists."""
        entry = self._manifest["stages"].get(stage)
        if not entry or entry.get("key") != key:
            return None
        p = self.root / entry["file"]
        return p if p.exists() else None

    def record(self, stage: str, key: str, path: Path, **info: Any) -> None:
        """Remember that ``path`` is the stage's artifact for inputs ``key``."""
        with self._lock:
            entry = {"key": key, "file": os.path.relpath(path, self.root), **info}
            self._manifest["stages"][stage] = entry
            atomic_write_text(
                self._manifest_path, json.dumps(self._manifest, indent=2, ensure_ascii=False)
            )

    def info(self, stage: str) -> dict[str, Any]:
        """What the manifest holds for ``stage`` (empty if nothing)."""
        return dict(self._manifest["stages"].get(stage, {}))

    def set_meta(self, **meta: Any) -> None:
        """Store run-level facts (backends and versions) in the manifest."""
        with self._lock:
            self._manifest.setdefault("meta", {}).update(meta)
            atomic_write_text(
                self._manifest_path, json.dumps(self._manifest, indent=2, ensure_ascii=False)
            )
