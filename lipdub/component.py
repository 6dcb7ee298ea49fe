"""What every component (transcriber, translator, voice, detector, lip-syncer,
separator) declares to the pipeline, whatever its kind.

* ``name``: its registry name, for manifests and logs.
* :meth:`Component.settings`: every option that changes its output. The work directory
  keys each stage's artifact by the content of its inputs plus these settings, so an
  option listed here redoes the work when it changes, and an option left out (a token,
  a device, a cache folder, a callback) never does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

__all__ = ["Component"]


class Component(ABC):
    """Base of the five component interfaces and :class:`~lipdub.separate.base.Separator`."""

    #: Registry name of the backend (``"google"``, ``"whisper"``), for manifests and logs.
    name: ClassVar[str] = "custom"

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Every option that changes this component's output, as JSON-ready values.

        Include model names and revisions, languages, voices, rates, thresholds and
        dict options (model folders by language pair, say) — anything that would make
        the same input give a different output. Never include secrets (tokens, keys,
        credentials), devices, thread counts, cache folders or callbacks: changing
        those must not redo a user's work. Name model files by what they hold (a Hub
        repo and revision, a published name, a sha256) rather than where they lie, so
        moving a folder or changing ``cache_dir`` keeps the cache.

        Returns:
            A dict of str keys to JSON-serialisable values (str, int, float, bool,
            None, lists and dicts of those).

        Example:
            >>> from lipdub.testing import FakeVoiceSynth
            >>> FakeVoiceSynth(seconds_per_word=0.25).settings()
            {'seconds_per_word': 0.25, 'sample_rate_hz': 24000}
        """
