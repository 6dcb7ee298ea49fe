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

A work directory is shared data (a colleague's folder, a shared disk), so everything in
it is untrusted input, the manifest's paths included:

* :meth:`Workdir.path` refuses a name that leaves the folder (absolute, ``..``, or through
  a symlink that points elsewhere);
* :meth:`Workdir.files_of` returns only recorded files that lie inside it — a manifest
  entry naming ``/etc/passwd`` or ``../victim.json`` is ignored with a warning, so no
  stage reads, renames or overwrites it;
* an artifact that is a symlink, a named pipe, a folder or a device is refused in one
  line naming it (:class:`~lipdub.errors.InputError`), never read and never replaced;
* :meth:`Workdir.move_aside` renames only files inside the folder.

Paths outside the folder that lipdub does act on — the input video and the outputs —
come from the caller (the command line, the SDK's arguments), never from a file here.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lipdub import artifacts
from lipdub._hashing import content_key, file_sha256, settings_key
from lipdub._io import atomic_write_text, file_kind
from lipdub._lock import exclusive_lock
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
        """Read a record; file entries of the wrong shape are dropped (the file is then
        unknown to lipdub: a redo, or the user's if it is an editable text)."""
        files = data.get("files")
        info = data.get("info")
        if not isinstance(data.get("key"), str) or not isinstance(files, dict):
            raise ValueError("not a stage record")
        kept = {str(name): entry for name, entry in files.items() if _valid_entry(entry)}
        return cls(str(data["key"]), kept, dict(info) if isinstance(info, dict) else {})


def _valid_entry(entry: object) -> bool:
    """A file entry as :meth:`Workdir.record` writes it (None: recorded as absent)."""
    if entry is None:
        return True
    return (
        isinstance(entry, dict)
        and type(entry.get("size")) is int
        and isinstance(entry.get("sha256"), str)
        and entry.get("owner") in ("lipdub", "user")
    )


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
        self._manifest_path = self.root / artifacts.MANIFEST
        self._lock = threading.Lock()
        self._records: dict[str, StageRecord] = {}
        self._meta: dict[str, Any] = {}
        #: True when there was no usable manifest (new folder, or lost / damaged one).
        self.manifest_lost = False
        self._load()

    # ------------------------------------------------------------------ manifest
    def _load(self) -> None:
        if not self._manifest_path.exists() and not self._manifest_path.is_symlink():
            self.manifest_lost = any(self.root.iterdir())
            return
        self.check_regular(self._manifest_path)
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
            aside = self.root / f"{artifacts.MANIFEST}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
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
        with self._lock, exclusive_lock(self.root / ".manifest.lock", required=False):
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
        """Path of an artifact inside the work directory.

        Raises:
            InputError: ``name`` is absolute or climbs out (``..``), or a folder on the
                way is a symlink that leads outside the work directory.
        """
        parts = Path(name).parts
        if not name or "\x00" in name or Path(name).is_absolute() or ".." in parts:
            raise InputError(
                f"{name!r} is not a name inside the work directory",
                path=self.root,
                hint="artifact names are relative and never contain '..'",
            )
        path = self.root / name
        for step in (path.parent, path):
            if not self.inside(step):
                raise InputError(
                    f"{step.relative_to(self.root)} in the work directory leads outside it "
                    "(a symlink)",
                    path=step,
                    hint="a work directory never points elsewhere: replace the link with a "
                    "folder or file of its own",
                )
        return path

    def inside(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path``, symlinks resolved, lies inside the work directory."""
        try:
            resolved = Path(path).resolve()
        except (OSError, RuntimeError):  # a symlink loop
            return False
        return resolved == self._real_root or resolved.is_relative_to(self._real_root)

    @property
    def _real_root(self) -> Path:
        return self.root.resolve()

    def check_regular(self, path: Path) -> None:
        """Refuse a work-directory file that is a symlink, a pipe, a folder or a device.

        Such a file is never read (a pipe would block, a link would read or expose
        another place) and never replaced (it may be something of the user's).

        Raises:
            InputError: naming the file and what it is.
        """
        if path.is_symlink():
            what = "a symlink"
        else:
            kind = file_kind(path)
            if kind is None or kind == "missing":
                return
            what = kind
        raise InputError(
            f"{path.name} in the work directory is {what}, not a regular file; "
            "lipdub neither reads nor replaces it",
            path=path,
            hint="move it away, or put a regular file of that name in its place",
        )

    def _rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self._real_root).as_posix()
        except ValueError:
            return str(path.resolve())

    def get(self, stage_id: str) -> StageRecord | None:
        """The record of a stage instance, or None."""
        return self._records.get(stage_id)

    def files_of(self, stage_id: str) -> list[Path]:
        """The artifacts recorded for a stage instance that lie inside the work directory.

        A recorded name that is absolute, climbs out with ``..`` or leads out through a
        symlink is skipped with a warning: the manifest is data, never a way to reach
        other files. (Outputs recorded outside the folder are compared, never listed.)
        """
        rec = self._records.get(stage_id)
        found: list[Path] = []
        for name in rec.files if rec else ():
            candidate = Path(name)
            if candidate.is_absolute() or ".." in candidate.parts or not name:
                if not self._is_recorded_output(stage_id, candidate):
                    logger.warning(
                        "%s names %r for %s, outside the work directory; ignored",
                        self._manifest_path,
                        name,
                        stage_id,
                    )
                continue
            path = self.root / candidate
            if not self.inside(path.parent):
                logger.warning(
                    "%s: %r leads outside the work directory; ignored", self._manifest_path, name
                )
                continue
            found.append(path)
        return found

    def recorded(self, stage_id: str) -> list[Path]:
        """Every file name the record of ``stage_id`` holds, as paths (relative names
        under the work directory), *unchecked*: the outputs of the lip-sync and subtitle
        stages lie elsewhere. The caller must check each path before using it (the
        review page reads one only if it probes as media, and never writes it)."""
        rec = self._records.get(stage_id)
        return [
            Path(name) if Path(name).is_absolute() else self.root / name
            for name in (rec.files if rec else ())
            if name and "\x00" not in name
        ]

    @staticmethod
    def _is_recorded_output(stage_id: str, path: Path) -> bool:
        """The lip-sync and subtitle stages record their outputs, which lie elsewhere."""
        return stage_id.split(":", 1)[0] in ("lipsync", "subtitles") and path.is_absolute()

    def state(self, path: Path, record: StageRecord | None) -> ArtifactState:
        """Whether ``path`` is what lipdub wrote, the user's, or missing.

        Raises:
            InputError: a file inside the work directory that is not a regular file
                (see :meth:`check_regular`).
        """
        if self._lexically_inside(path):
            self.check_regular(path)
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

    def _lexically_inside(self, path: Path) -> bool:
        """Whether ``path`` is written as a path under the work directory."""
        absolute = Path(os.path.abspath(path))
        return absolute.is_relative_to(Path(os.path.abspath(self.root)))

    def move_aside(self, path: Path, *, given: bool = False) -> Path:
        """Rename a user's file to a timestamped backup beside it; returns the backup.

        Args:
            path: The file.
            given: ``path`` came from the caller (an output, or a sidecar named after
                one by lipdub's naming rule), not from a file in the work directory: it
                may lie outside the work directory.

        Raises:
            InputError: ``path`` is not a regular file, or lies outside the work
                directory without being ``given`` (lipdub renames nothing elsewhere on
                the word of a work-directory file).
        """
        if not given and (not self._lexically_inside(path) or not self.inside(path.parent)):
            raise InputError(
                f"refusing to move {path}: it is outside the work directory",
                path=path,
                hint="lipdub only moves its own work files aside",
            )
        self.check_regular(path)
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
