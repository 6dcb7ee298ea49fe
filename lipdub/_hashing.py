"""Content hashing, once for the whole package: one name per job.

================================  ==================================================
function                          what it hashes
================================  ==================================================
:func:`file_sha256`               a file (weights, artifacts, inputs): full hex sha256
:func:`files_sha256`              the matching files of a model folder
:func:`module_sha256`             a torch module's state dict (a network in memory)
:class:`WeightsIdentity`          whichever of those names a network's weights
:func:`content_key`               a file, short, for cache keys (big videos sampled)
:func:`settings_key`              JSON-serialisable settings, short, for cache keys
:func:`clip_key`                  an audio clip's samples and rate, short
================================  ==================================================

Model files are hashed once per process while unchanged (``remember=True``: the digest is
kept under the file's resolved path, size and modification time; about 1 s per GB the
first time); other files are read each time.
Nothing here imports torch at module level.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt
    import torch

    from lipdub.types import AudioClip

__all__ = [
    "WeightsIdentity",
    "array_key",
    "clip_key",
    "content_key",
    "file_sha256",
    "files_sha256",
    "module_sha256",
    "settings_key",
]

_CHUNK = 1 << 20
_lock = threading.Lock()
_digests: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str], *, remember: bool = False) -> str:
    """Hex sha256 of a file's content, read in 1 MiB blocks.

    Args:
        path: The file.
        remember: Keep the digest for this process under the file's resolved path, size
            and modification time, and reuse it while they are unchanged: for model
            weights, named in every ``settings()`` call. Leave it off for files a user
            or another program may rewrite (the work directory, downloads to verify).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.bin"
        >>> _ = p.write_bytes(b"abc")
        >>> file_sha256(p)[:12], file_sha256(p, remember=True) == file_sha256(p)
        ('ba7816bf8f01', True)
    """
    if not remember:
        return _read_sha256(Path(path))
    real = Path(path).resolve()
    st = real.stat()
    key = (str(real), st.st_size, st.st_mtime_ns)
    with _lock:
        known = _digests.get(key)
    if known is not None:
        return known
    digest = _read_sha256(real)
    with _lock:
        _digests[key] = digest
    return digest


def files_sha256(folder: str | os.PathLike[str], patterns: Iterable[str]) -> str:
    """One hex sha256 over the files of ``folder`` matching ``patterns`` (glob, top level).

    The names (relative to the folder) and contents of the matched files go in, sorted
    by name, so the digest changes when a file is replaced, added or renamed, and not
    when the folder moves. Other files (a README, ``.git``) are ignored. Each file's
    digest is remembered (:func:`file_sha256` with ``remember=True``).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "model.bin").write_bytes(b"weights")
        >>> _ = (d / "notes.txt").write_text("ignored")
        >>> a = files_sha256(d, ["model.bin", "*.json"])
        >>> _ = (d / "notes.txt").write_text("still ignored")
        >>> a == files_sha256(d, ["model.bin", "*.json"])
        True
    """
    root = Path(folder)
    names = sorted({p.name for pattern in patterns for p in root.glob(pattern) if p.is_file()})
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + file_sha256(root / name, remember=True).encode() + b"\n")
    return h.hexdigest()


def module_sha256(module: torch.nn.Module) -> str:
    """Hex sha256 of a torch module's state dict (names, dtypes, shapes and values).

    For a network built in memory (no file to name it by). The tensors are copied to
    the CPU one at a time.
    """
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(dtype=_byte_dtype()).numpy().tobytes())
    return h.hexdigest()


def _read_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
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


def array_key(array: npt.NDArray[Any]) -> str:
    """A short hash of an array's bytes, shape and dtype (a face crop's identity).

    Example:
        >>> import numpy as np
        >>> array_key(np.zeros((2, 2), np.uint8)) == array_key(np.zeros((2, 2), np.uint8))
        True
    """
    import numpy as np

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def clip_key(clip: AudioClip) -> str:
    """A short hash of an audio clip's samples and rate (a reference voice's identity)."""
    h = hashlib.sha256(clip.samples.tobytes())
    h.update(str(clip.sample_rate_hz).encode())
    return h.hexdigest()[:16]


class WeightsIdentity:
    """The sha256 naming a network's weights, worked out on first use and kept.

    In order of preference: the published digest (``sha256``), the digest of the file
    the weights were loaded from (``file``), or the digest of the module's state dict.

    Args:
        module: The network (used only when neither ``sha256`` nor ``file`` is given).
        file: The checkpoint file the weights came from.
        sha256: A digest already known (a published one).
    """

    def __init__(
        self,
        module: torch.nn.Module | None = None,
        *,
        file: str | os.PathLike[str] | None = None,
        sha256: str | None = None,
    ) -> None:
        self._module = module
        self._file = Path(file) if file is not None else None
        self._sha256 = sha256

    def sha256(self) -> str | None:
        """The digest (None when there is neither a file nor a module to hash)."""
        if self._sha256 is None:
            if self._file is not None:
                self._sha256 = file_sha256(self._file, remember=True)
            elif self._module is not None:
                self._sha256 = module_sha256(self._module)
        return self._sha256


def _byte_dtype() -> torch.dtype:
    import torch

    return torch.uint8
