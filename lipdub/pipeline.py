"""The :class:`DubbingPipeline`: five named components composed into a dub."""

from __future__ import annotations

from typing import Any

from lipdub import registry

__all__ = ["DubbingPipeline"]

_SLOTS = {
    "transcriber": "transcriber",
    "translator": "translator",
    "voice": "voice",
    "detector": "detector",
    "lipsyncer": "lipsyncer",
}


class DubbingPipeline:
    """A bag of named components: transcriber, translator, voice, detector, lipsyncer.

    Each slot takes an instance, a registry name, or ``(name, {options})``; names are
    resolved lazily, on first use, so building a pipeline is cheap.

    Example:
        >>> p = DubbingPipeline(transcriber="fake", translator="fake", voice="fake",
        ...                     detector="fake", lipsyncer="passthrough")
        >>> sorted(p.components)
        ['detector', 'lipsyncer', 'transcriber', 'translator', 'voice']
    """

    def __init__(
        self,
        *,
        transcriber: Any = "whisper",
        translator: Any = "opus",
        voice: Any = "espeak",
        detector: Any = "retinaface",
        lipsyncer: Any = "wav2lip_gan",
    ) -> None:
        self._specs: dict[str, Any] = {
            "transcriber": transcriber,
            "translator": translator,
            "voice": voice,
            "detector": detector,
            "lipsyncer": lipsyncer,
        }
        self._resolved: dict[str, Any] = {}

    def _get(self, slot: str) -> Any:
        if slot not in self._resolved:
            self._resolved[slot] = registry.resolve(_SLOTS[slot], self._specs[slot])  # type: ignore[arg-type]
        return self._resolved[slot]

    @property
    def components(self) -> dict[str, Any]:
        """Name -> resolved component instance (resolving any names now)."""
        return {slot: self._get(slot) for slot in self._specs}
