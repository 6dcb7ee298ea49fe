"""Model weights: the catalogue, downloads, verification and checkpoint loading.

The package is split by job:

* :mod:`lipdub.hub.catalogue` — :class:`WeightsSpec` and the one table of every model
  lipdub can fetch (:data:`KNOWN_WEIGHTS`, :func:`lookup`).
* :mod:`lipdub.hub.offline` — the one offline decision (:func:`is_offline`,
  :func:`set_offline`) and the fast reachability probe.
* :mod:`lipdub.hub.download` — :func:`fetch`, :func:`resolve_weights` and
  :func:`download_weights` (with progress events), and the missing-model message.
* :mod:`lipdub.hub.verify` — size and sha256 checks, remembered in a marker file.
* :mod:`lipdub.hub.checkpoint` — :func:`load_state_dict` (``weights_only``, NaN/Inf
  rejection, HTML/BOM/LFS-pointer detection) and :func:`convert_weights`.

The checks are what make a wrong file fail early with a clear message: a 167 kB file
posing as ``wav2lip.pth`` raises :class:`~lipdub.errors.ChecksumMismatch`; an HTML
error page, a truncated download or another model's weights raise
:class:`~lipdub.errors.CheckpointError`.

Example:
    >>> from lipdub.hub import KNOWN_WEIGHTS
    >>> spec = KNOWN_WEIGHTS["wav2lip_gan"]
    >>> spec.repo_id, spec.filename, spec.size
    ('Nekochu/Wav2Lip', 'wav2lip_gan.pth', 435801865)
"""

from __future__ import annotations

from lipdub._hashing import file_sha256
from lipdub.hub.catalogue import (
    KNOWN_WEIGHTS,
    PATTERNS,
    WeightsSpec,
    all_specs,
    lookup,
    opus_spec,
    piper_spec,
    register_weights,
    whisper_spec,
)
from lipdub.hub.checkpoint import convert_weights, load_state_dict
from lipdub.hub.download import (
    _licence_logged,
    cached_path,
    download_weights,
    fetch,
    missing_model_error,
    resolve_weights,
)
from lipdub.hub.offline import hub_unreachable_reason, is_offline, set_offline
from lipdub.hub.verify import is_verified, verify_file

#: The sha256 of a file: :func:`lipdub._hashing.file_sha256` under its older public name.
sha256_file = file_sha256

__all__ = [
    "KNOWN_WEIGHTS",
    "PATTERNS",
    "WeightsSpec",
    "all_specs",
    "cached_path",
    "convert_weights",
    "download_weights",
    "fetch",
    "hub_unreachable_reason",
    "is_offline",
    "is_verified",
    "load_state_dict",
    "lookup",
    "missing_model_error",
    "opus_spec",
    "piper_spec",
    "register_weights",
    "resolve_weights",
    "set_offline",
    "sha256_file",
    "verify_file",
    "whisper_spec",
]

# Kept for tests that reset the once-per-licence notice.
__all__ += []
_ = _licence_logged
