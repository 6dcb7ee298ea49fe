"""Which separator a dub uses when none is named: Demucs when it can run, else DSP."""

from __future__ import annotations

import importlib.util
import logging

__all__ = ["AUTO", "pick_separator"]

log = logging.getLogger(__name__)

#: The separator name that means "the best one available here".
AUTO = "auto"


def pick_separator() -> tuple[str, str | None]:
    """The registry name of the separator ``"auto"`` stands for, and a notice if it fell back.

    ``"demucs"`` when the ``demucs`` package is installed and the ``htdemucs`` weights
    are in the Hugging Face cache (nothing is downloaded to decide); otherwise
    ``"duck"`` (DSP), with a one-line notice saying how to get the model. Name
    ``"demucs"`` explicitly to fetch the weights on first use.

    Example:
        >>> name, notice = pick_separator()
        >>> name in ("demucs", "duck")
        True
    """
    if importlib.util.find_spec("demucs") is None:
        return "duck", (
            "keeping the background with DSP ducking; for music-grade separation "
            'pip install "lipdub[separate]" and run `lipdub weights download htdemucs`'
        )
    from lipdub.hub.catalogue import lookup
    from lipdub.hub.download import cached_path

    if cached_path(lookup("htdemucs")) is None:
        return "duck", (
            "keeping the background with DSP ducking: the htdemucs weights are not "
            "downloaded (`lipdub weights download htdemucs`, or --separator demucs)"
        )
    return "demucs", None
