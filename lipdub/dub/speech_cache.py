"""Where the timing fit keeps each utterance's speech between runs.

Keys are hashes of the voice backend's name and declared :meth:`settings()
<lipdub.component.Component.settings>`, the text, voice, language and rate, so editing
one line of a translation re-speaks only that line, and changing a voice option
re-speaks them all.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from lipdub._hashing import settings_key
from lipdub.errors import InputError, LipdubError
from lipdub.types import AudioClip
from lipdub.voice.base import VoiceSynth

__all__ = ["SpeechCache", "WavFolderCache", "utterance_key", "voice_identity"]

logger = logging.getLogger(__name__)


@runtime_checkable
class SpeechCache(Protocol):
    """Where the fit keeps each utterance's speech between runs.

    Keys are hex digests of the voice backend's name and :meth:`settings()
    <lipdub.component.Component.settings>`, the text, voice, language and rate; the
    clips are the backend's raw output (before silence trimming).
    """

    def get(self, key: str) -> AudioClip | None:
        """The clip stored under ``key``, or None (a damaged entry is a miss)."""
        ...

    def put(self, key: str, clip: AudioClip) -> None:
        """Store ``clip`` under ``key``."""
        ...


_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class WavFolderCache:
    """A :class:`SpeechCache` of WAV files, ``<root>/<key>.wav`` (16-bit PCM).

    Writes are atomic; a file that cannot be read is a miss (and is rewritten), and a
    write that fails is logged, not raised: the cache never stops a dub.

    Example:
        >>> import tempfile
        >>> cache = WavFolderCache(tempfile.mkdtemp())
        >>> cache.get("abc") is None
        True
        >>> cache.put("abc", AudioClip.silence(0.5, 16000))
        >>> cache.get("abc").duration_s
        0.5
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The file that holds ``key``.

        Raises:
            InputError: ``key`` is not a plain file name (letters, digits, ``_.-``).
        """
        if not _KEY_RE.fullmatch(key):
            raise InputError(f"speech cache key {key!r} is not a plain file name")
        return self.root / f"{key}.wav"

    def get(self, key: str) -> AudioClip | None:
        """The stored clip, or None when absent or unreadable."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return AudioClip.load_wav(path)
        except LipdubError as e:
            logger.warning("ignoring a damaged cached utterance %s: %s", path, e)
            return None

    def put(self, key: str, clip: AudioClip) -> None:
        """Write the clip atomically (failures are logged)."""
        path = self.path(key)
        try:
            clip.save_wav(path)
        except OSError as e:
            logger.warning("cannot cache an utterance in %s: %s", path, e)

    def __repr__(self) -> str:
        return f"WavFolderCache({str(self.root)!r})"


def voice_identity(synth: VoiceSynth) -> str:
    """The voice backend's name and declared settings, as the prefix of its utterance keys."""
    return json.dumps([synth.name, synth.settings()], sort_keys=True, default=str)


def utterance_key(
    identity: str,
    text: str,
    voice: str | None,
    language: str | None,
    rate: float,
    reference: str | None = None,
) -> str:
    """The cache key of one utterance: voice identity, text, voice, language and rate.

    ``reference`` is the content hash of the reference clip a cloning voice speaks in
    (keys without one are unchanged, so earlier caches stay valid).
    """
    if reference is None:
        return settings_key(identity, text, voice, language, round(rate, 3))
    return settings_key(identity, text, voice, language, round(rate, 3), reference)
