"""pyannote-audio's diarization pipeline, for users with a Hugging Face token.

The pipeline (``pyannote/speaker-diarization-3.1`` by default) is gated: the user must
accept its terms on the Hub and pass a token (``token=`` or ``HF_TOKEN``). Without a
token this backend refuses with that next step; the embedded ``"resemblyzer"``
diarizer needs neither token nor download.
"""

from __future__ import annotations

import os
import threading
from typing import Any, ClassVar

from lipdub._deps import parse_device, require_modules
from lipdub.diarize.base import Diarizer, SpeakerTurn
from lipdub.errors import CredentialsError, InputError
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import AudioClip

__all__ = ["PyannoteDiarizer"]

DEFAULT_PIPELINE = "pyannote/speaker-diarization-3.1"


class PyannoteDiarizer(Diarizer):
    """Speaker turns from a pyannote-audio pipeline (gated on the Hub: needs a token).

    Args:
        pipeline: Hub id of the pipeline.
        num_speakers: How many speakers, when known (None: the pipeline decides).
        token: Hugging Face token (default: ``HF_TOKEN``); never logged or hashed.
        device: Where it runs (``"auto"``, ``"cpu"``, ``"cuda"``).

    Example:
        >>> PyannoteDiarizer(token="hf_x").settings()
        {'pipeline': 'pyannote/speaker-diarization-3.1', 'num_speakers': None}
    """

    name: ClassVar[str] = "pyannote"

    def __init__(
        self,
        pipeline: str = DEFAULT_PIPELINE,
        *,
        token: str | None = None,
        num_speakers: int | None = None,
        device: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self._token = token
        self.device = device
        self.num_speakers = num_speakers
        self._pipe: Any = None
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """The pipeline id (the token and device never change the turns)."""
        return {"pipeline": self.pipeline, "num_speakers": self.num_speakers}

    def _load(self) -> Any:
        with self._lock:
            if self._pipe is None:
                token = self._token or os.environ.get("HF_TOKEN")
                if not token:
                    raise CredentialsError(
                        f"the pyannote diarizer needs a Hugging Face token: {self.pipeline} "
                        "is gated",
                        backend=self.name,
                        hint=f"accept its terms at https://huggingface.co/{self.pipeline}, then "
                        "set HF_TOKEN (or pass token=); or use 'meeting' (or 'resemblyzer'), "
                        "which need no token",
                    )
                require_modules(self.name, "the pyannote diarizer", "pyannote.audio", "pyannote")
                import torch
                from pyannote.audio import Pipeline  # type: ignore[import-not-found]

                pipe = Pipeline.from_pretrained(self.pipeline, use_auth_token=token)
                if pipe is None:
                    raise CredentialsError(
                        f"cannot load {self.pipeline} with the given token",
                        backend=self.name,
                        hint=f"accept its terms at https://huggingface.co/{self.pipeline}",
                    )
                pipe.to(torch.device(parse_device(self.device)))
                self._pipe = pipe
            return self._pipe

    def diarize(
        self,
        audio: AudioClip,
        *,
        num_speakers: int | None = None,
        on_event: EventCallback | None = None,
    ) -> list[SpeakerTurn]:
        """Speaker turns of ``audio`` from the pyannote pipeline."""
        if num_speakers is not None and num_speakers < 1:
            raise InputError(f"num_speakers must be >= 1, got {num_speakers}")
        num_speakers = num_speakers or self.num_speakers
        pipe = self._load()
        import torch

        clip = audio.resample(16000)
        wave = torch.from_numpy(clip.samples)[None]
        kwargs = {"num_speakers": num_speakers} if num_speakers else {}
        emit(on_event, Progress("diarize", 0, 1, "steps"))
        result = pipe({"waveform": wave, "sample_rate": 16000}, **kwargs)
        names: dict[str, str] = {}
        turns = []
        for seg, _, label in result.itertracks(yield_label=True):
            who = names.setdefault(str(label), f"S{len(names) + 1}")
            turns.append(SpeakerTurn(float(seg.start), float(seg.end), who))
        emit(on_event, Progress("diarize", 1, 1, "steps"))
        return sorted(turns, key=lambda t: t.start_s)
