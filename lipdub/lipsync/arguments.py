"""The type checks of :func:`~lipdub.lipsync.lipsync` and :func:`~lipdub.lipsync.lipsync_stream`.

Called first, before any file is opened: a wrong type is one
:class:`~lipdub.errors.InputError` naming the argument (``face=None``, ``audio=5``,
``on_event=42``), not a ``TypeError`` from a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from lipdub._checks import callable_arg, describe, instance_arg, path_arg
from lipdub.errors import InputError

__all__ = ["check_lipsync_args"]

_NO_OUTPUT = object()


def check_lipsync_args(
    *,
    face: object,
    audio: object,
    syncer: object,
    options: object,
    on_event: object,
    output: object = _NO_OUTPUT,
) -> None:
    """Raise :class:`InputError` naming the first argument of a wrong type."""
    import numpy as np

    from lipdub.lipsync.base import LipSyncer
    from lipdub.lipsync.options import LipSyncOptions
    from lipdub.types import AudioClip

    if isinstance(face, (str, os.PathLike)):
        path_arg(face, "face")
    elif not isinstance(face, (np.ndarray, Iterable)) or isinstance(face, (bytes, dict)):
        raise InputError(
            "face must be a video or image path, a (H, W, 3) uint8 frame, or frames; "
            f"got {describe(face)}"
        )
    if not isinstance(audio, (AudioClip, str, os.PathLike)):
        raise InputError(
            f"audio must be an AudioClip or a file path; got {describe(audio)}",
            hint="lipdub.media.load_audio reads a file into an AudioClip",
        )
    if output is not _NO_OUTPUT:
        path_arg(output, "output")
    if not isinstance(syncer, (LipSyncer, str)):
        raise InputError(
            f"syncer must be a LipSyncer or a registry name; got {describe(syncer)}",
            hint="e.g. Wav2LipSyncer.from_pretrained('wav2lip_gan') or 'wav2lip_gan'",
        )
    if options is not None:
        instance_arg(options, "options", LipSyncOptions, "a LipSyncOptions or None")
    callable_arg(on_event, "on_event")
