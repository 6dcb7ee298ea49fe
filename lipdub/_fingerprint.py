"""Content identities of model files and weights, for :meth:`Component.settings`.

A component's settings name its weights by what they *are*, not where they lie, so
moving a model folder or pointing ``cache_dir`` elsewhere keeps every cached artifact,
and replacing the file in place redoes the work. Hashing is done once per file per
process: the digest is remembered under the file's resolved path, size and
modification time (about 1 s per GB the first time).

Nothing here imports torch at module level.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from lipdub import _hashing

if TYPE_CHECKING:
    import torch

__all__ = ["WeightsIdentity", "file_sha256", "files_sha256", "known_sha256", "module_sha256"]

_lock = threading.Lock()
_digests: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content, remembered while the file is unchanged.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.bin"
        >>> _ = p.write_bytes(b"abc")
        >>> file_sha256(p)[:12]
        'ba7816bf8f01'
    """
    real = Path(path).resolve()
    st = real.stat()
    key = (str(real), st.st_size, st.st_mtime_ns)
    with _lock:
        known = _digests.get(key)
    if known is not None:
        return known
    digest = _hashing.file_sha256(real)
    with _lock:
        _digests[key] = digest
    return digest


def files_sha256(folder: str | os.PathLike[str], patterns: Iterable[str]) -> str:
    """One hex sha256 over the files of ``folder`` matching ``patterns`` (glob, top level).

    The names (relative to the folder) and contents of the matched files go in, sorted
    by name, so the digest changes when a file is replaced, added or renamed, and not
    when the folder moves. Other files (a README, ``.git``) are ignored.

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
        h.update(name.encode() + b"\0" + file_sha256(root / name).encode() + b"\n")
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


def known_sha256(name_or_spec: object) -> str | None:
    """The full published sha256 of a weights name or :class:`~lipdub.hub.WeightsSpec`.

    None for a local path, an unknown name, or a spec that pins only a prefix.

    Example:
        >>> known_sha256("/tmp/mine.pth") is None
        True
    """
    from lipdub.hub import KNOWN_WEIGHTS, WeightsSpec

    if isinstance(name_or_spec, WeightsSpec):
        return name_or_spec.sha256
    if isinstance(name_or_spec, str) and name_or_spec in KNOWN_WEIGHTS:
        return KNOWN_WEIGHTS[name_or_spec].sha256
    return None


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
                self._sha256 = file_sha256(self._file)
            elif self._module is not None:
                self._sha256 = module_sha256(self._module)
        return self._sha256


def _byte_dtype() -> torch.dtype:
    import torch

    return torch.uint8
