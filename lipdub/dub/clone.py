"""What ``voice="clone"`` stands for: the best cloning voice at hand.

Below the stages and the pipeline, which both ask (the pipeline when it resolves the
``"clone"`` voice slot, the voices stage for its notice).
"""

from __future__ import annotations

__all__ = ["CLONE", "pick_cloning_voice"]

#: The voice name (and voice-slot name) that means "clone each speaker of the input".
CLONE = "clone"


def pick_cloning_voice() -> tuple[str, str | None]:
    """The registry name ``"clone"`` stands for, and a notice if it fell back.

    ``"chatterbox"`` when the ``chatterbox`` package is installed and its weights are
    cached (nothing is downloaded to decide); else ``"match"``, the offline
    reference-matched voice, with a one-line notice.

    Example:
        >>> name, notice = pick_cloning_voice()
        >>> name in ("chatterbox", "match")
        True
    """
    import importlib.util

    if importlib.util.find_spec("chatterbox") is None:
        return "match", (
            "cloning with the offline reference-matched voice (espeak-ng moved to each "
            "speaker's pitch and timbre, not a neural clone); for real cloning install "
            "chatterbox and run `lipdub weights download chatterbox`"
        )
    from lipdub.hub.catalogue import lookup
    from lipdub.hub.download import cached_path

    if cached_path(lookup("chatterbox")) is None:
        return "match", (
            "cloning with the offline reference-matched voice: the chatterbox weights are "
            "not downloaded (`lipdub weights download chatterbox`, or --tts chatterbox)"
        )
    return "chatterbox", None
