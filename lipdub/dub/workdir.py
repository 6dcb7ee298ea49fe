"""The work directory: every stage's artifacts, and a manifest of what lipdub wrote.

``manifest.json`` holds one record per stage *instance* (``"translate:es"`` and
``"translate:fr"`` live side by side): the stage's key (a hash of its inputs' contents
and its components' declared settings) and, for every artifact it wrote, the size and
sha256 of what lipdub wrote. From that record each artifact has a state:

* ``"ours"``: the file is exactly what lipdub wrote;
* ``"edited"``: it exists but differs from what lipdub wrote, or lipdub never wrote it
  (the user placed it there, or the manifest was lost) — it is the user's;
* ``"missing"``.

The stage runner (:mod:`lipdub.dub.stages`) decides from those states and the key:
reuse, redo, adopt the user's file, or stop rather than overwrite it. A damaged
manifest is moved aside (never deleted) and rebuilt. All writes are atomic.

Several processes may share one work directory (one per target language, as
:mod:`lipdub.distributed` does): each change to the manifest re-reads it under a lock
file (``.manifest.lock``) and merges, so one process's records never erase another's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lipdub._hashing import content_key, file_sha256, settings_key
from lipdub._io import atomic_write_text
from lipdub.errors import InputError

__all__ = [
    "ArtifactState",
    "StageRecord",
    "Workdir",
    "content_key",
    "file_sha256",
    "settings_key",
]

logger = logging.getLogger(__name__)

ArtifactState = Literal["ours", "edited", "missing"]

_VERSION = 2


@dataclass
class StageRecord:
    """What the manifest remembers of one stage instance.

    ``files`` maps each artifact (relative to the work directory, or absolute when it
    lies outside, like the output video) to its ``{"size", "sha256", "owner"}`` when
    last seen: ``owner`` is ``"lipdub"`` for what lipdub wrote and ``"user"`` for a
    user's file it adopted.
    """

    key: str
    files: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "files": self.files, "info": self.info}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageRecord:
        files = data.get("files")
        info = data.get("info")
        if not isinstance(data.get("key"), str) or not isinstance(files, dict):
            raise ValueError("not a stage record")
        return cls(str(data["key"]), dict(files), dict(info) if isinstance(info, dict) else {})


class Workdir:
    """A folder of stage artifacts plus ``manifest.json``.

    Example:
        >>> import tempfile
        >>> wd = Workdir(tempfile.mkdtemp())
        >>> p = wd.path("transcript.en.json")
        >>> _ = p.write_text("{}")
        >>> wd.record("transcribe", "k1", [p])
        >>> wd.state(p, wd.get("transcribe")), wd.get("transcribe").key
        ('ours', 'k1')
        >>> _ = p.write_text('{"edited": true}')
        >>> wd.state(p, wd.get("transcribe"))
        'edited'
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise InputError(
                "the work directory is a file, not a folder",
                path=self.root,
                hint="pass another --workdir",
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(
                f"cannot create the work directory: {e.strerror or e}",
                path=self.root,
                hint="pass a writable --workdir",
            ) from e
        self._manifest_path = self.root / "manifest.json"
        self._lock = threading.Lock()
        self._records: dict[str, StageRecord] = {}
        self._meta: dict[str, Any] = {}
        #: True when there was no usable manifest (new folder, or lost / damaged one).
        self.manifest_lost = False
        self._load()

    # ------------------------------------------------------------------ manifest
    def _load(self) -> None:
        if not self._manifest_path.exists():
            self.manifest_lost = any(self.root.iterdir())
            return
        try:
            data = json.loads(self._manifest_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
                raise ValueError("not a lipdub manifest")
            if data.get("version") != _VERSION:
                raise ValueError(f"manifest version {data.get('version')!r}, not {_VERSION}")
            self._records = {
                str(k): StageRecord.from_dict(v) for k, v in dict(data["stages"]).items()
            }
            self._meta = dict(data.get("meta") or {})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            # Keep the damaged file for inspection; rebuild what can be rebuilt.
            aside = self.root / f"manifest.json.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
            with contextlib.suppress(OSError):
                os.replace(self._manifest_path, aside)
            logger.warning(
                "%s could not be read (%s); moved it to %s and treating existing "
                "transcripts and translations as yours",
                self._manifest_path,
                e,
                aside.name,
            )
            self._records = {}
            self.manifest_lost = True

    def _read_disk(self) -> tuple[dict[str, StageRecord], dict[str, Any]] | None:
        """The manifest as it is on disk now, or None when absent or unreadable."""
        try:
            data = json.loads(self._manifest_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != _VERSION:
                return None
            records = {str(k): StageRecord.from_dict(v) for k, v in dict(data["stages"]).items()}
            return records, dict(data.get("meta") or {})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _change(self, change: Callable[[], None]) -> None:
        """Apply ``change`` to the records merged with what other processes saved; save."""
        with self._lock, _file_lock(self.root / ".manifest.lock"):
            disk = self._read_disk()
            if disk is not None:
                self._records, self._meta = disk
            change()
            self._save()

    def _save(self) -> None:
        data = {
            "version": _VERSION,
            "stages": {k: r.to_dict() for k, r in sorted(self._records.items())},
            "meta": self._meta,
        }
        atomic_write_text(self._manifest_path, json.dumps(data, indent=2, ensure_ascii=False))

    # ------------------------------------------------------------------ artifacts
    def path(self, name: str) -> Path:
        """Path of an artifact inside the work directory."""
        return self.root / name

    def _rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    def _abs(self, name: str) -> Path:
        p = Path(name)
        return p if p.is_absolute() else self.root / p

    def get(self, stage_id: str) -> StageRecord | None:
        """The record of a stage instance, or None."""
        return self._records.get(stage_id)

    def files_of(self, stage_id: str) -> list[Path]:
        """The artifacts recorded for a stage instance."""
        rec = self._records.get(stage_id)
        return [self._abs(n) for n in rec.files] if rec else []

    def state(self, path: Path, record: StageRecord | None) -> ArtifactState:
        """Whether ``path`` is what lipdub wrote, the user's, or missing."""
        if not path.is_file():
            return "missing"
        entry = record.files.get(self._rel(path)) if record else None
        if not entry or entry.get("owner") == "user" or self.changed(path, record):
            return "edited"
        return "ours"

    def changed(self, path: Path, record: StageRecord | None) -> bool:
        """Whether ``path`` differs from what the record saw last (written or adopted)."""
        entry = record.files.get(self._rel(path)) if record else None
        if not entry or not path.is_file():
            return True
        if path.stat().st_size != entry.get("size"):
            return True
        return bool(file_sha256(path) != entry.get("sha256"))

    def record(
        self,
        stage_id: str,
        key: str,
        written: Iterable[Path],
        *,
        users: Iterable[Path] = (),
        **info: Any,
    ) -> None:
        """Remember that lipdub wrote ``written`` for ``stage_id`` from inputs ``key``.

        ``users`` are artifacts of the stage that belong to the user (adopted edits):
        recorded as the user's, so they are never taken for lipdub's own; their hash
        tells a later run whether the user changed them again.
        """
        files: dict[str, dict[str, Any] | None] = {}
        for owner, paths in (("lipdub", written), ("user", users)):
            for p in paths:
                digest = file_sha256(p)
                files[self._rel(p)] = {"size": p.stat().st_size, "sha256": digest, "owner": owner}

        def add() -> None:
            self._records[stage_id] = StageRecord(key, files, dict(info))

        self._change(add)

    def forget(self, stage_id: str) -> None:
        """Drop a stage instance's record (its files stay)."""

        def drop() -> None:
            self._records.pop(stage_id, None)

        self._change(drop)

    def move_aside(self, path: Path) -> Path:
        """Rename a user's file to a timestamped backup beside it; returns the backup."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        backup = path.with_name(f"{path.name}.{stamp}.bak")
        n = 1
        while backup.exists():
            n += 1
            backup = path.with_name(f"{path.name}.{stamp}-{n}.bak")
        os.replace(path, backup)
        logger.warning("moved your %s aside to %s", path.name, backup.name)
        return backup

    # ------------------------------------------------------------------ run facts
    def set_meta(self, **meta: Any) -> None:
        """Store run-level facts (input, backends and versions) in the manifest."""
        self._change(lambda: self._meta.update(meta))

    @property
    def meta(self) -> dict[str, Any]:
        """Run-level facts stored by :meth:`set_meta`."""
        return dict(self._meta)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (``flock``; none where there is no fcntl)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows): one process per work directory
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # a read-only folder: saving will fail with its own message
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
