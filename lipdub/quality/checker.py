"""The checks of one dubbed line: a Whisper back-transcription and a speaker embedding.

:class:`LineChecker` holds what the checks need, each part optional: the transcriber
that back-transcribes (a :class:`~lipdub.transcribe.base.Transcriber`, Whisper in a
dub) and the speaker encoder (:class:`SpeakerEncoder`, resemblyzer's bundled d-vector
network, the one the embedded diarizer uses). A missing part makes its values None
with the reason, decided once by :func:`make_checker`.

Example:
    >>> from lipdub.types import AudioClip
    >>> checker = LineChecker(None, None, reasons=("no model here", "no encoder here"))
    >>> q = checker.check(AudioClip.silence(1.0, 16000), "hello", "en", speaker="S1",
    ...                   references={})
    >>> q.intelligibility.cer is None, q.intelligibility.reason
    (True, 'no model here')
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lipdub.errors import LipdubError
from lipdub.quality.records import Intelligibility, LineQuality, LineTiming, SpeakerMatch
from lipdub.quality.text import cer, wer
from lipdub.types import AudioClip

if TYPE_CHECKING:
    from lipdub.transcribe.base import Transcriber

__all__ = ["LineChecker", "SpeakerEncoder", "make_checker"]

logger = logging.getLogger(__name__)

_MIN_SPEECH_S = 0.3  # shorter lines have no usable speaker embedding


class SpeakerEncoder:
    """Unit speaker embeddings ``(256,)`` of clips: the mean of the d-vectors of their
    voiced 1 s windows (0.5 s hop), from resemblyzer's bundled encoder.

    Raises:
        BackendNotInstalled: resemblyzer (``lipdub[speakers]``) is missing (on first use).
    """

    name = "resemblyzer-dvector"

    def __init__(self) -> None:
        from lipdub.diarize.embedded import EmbeddedDiarizer

        self._diarizer = EmbeddedDiarizer(device="cpu")
        self._cache: dict[str, npt.NDArray[np.float64] | None] = {}

    def settings(self) -> dict[str, Any]:
        """What changes the embeddings: the encoder and the windows."""
        return {"encoder": "resemblyzer-0.1.4/pretrained.pt", "window_s": 1.0, "hop_s": 0.5}

    def embed(self, clip: AudioClip) -> npt.NDArray[np.float64] | None:
        """The clip's unit embedding, or None when it has no voiced window."""
        from lipdub._hashing import clip_key

        key = clip_key(clip)
        if key not in self._cache:
            _, emb = self._diarizer.embed(clip, window_s=1.0, hop_s=0.5)
            if not len(emb):
                self._cache[key] = None
            else:
                mean = emb.astype(np.float64).mean(axis=0)
                self._cache[key] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return self._cache[key]


def _line_text(transcript: Any) -> str:
    return " ".join(s.text.strip() for s in transcript.segments if s.text.strip())


class LineChecker:
    """Measures a dubbed line (see the module docstring).

    Args:
        transcriber: Back-transcribes the line (None: no intelligibility values).
        encoder: Embeds speakers (None: no similarity values).
        reasons: Why each missing part is missing (transcriber, encoder).
        model: A label of the transcriber's model for the records.
    """

    def __init__(
        self,
        transcriber: Transcriber | None,
        encoder: SpeakerEncoder | None,
        *,
        reasons: tuple[str | None, str | None] = (None, None),
        model: str | None = None,
    ) -> None:
        self.transcriber = transcriber
        self.encoder = encoder
        self.reasons = reasons
        self.model = model

    def settings(self) -> dict[str, Any]:
        """What changes the measures (part of each line's cache key)."""
        return {
            "transcriber": None
            if self.transcriber is None
            else [self.transcriber.name, self.transcriber.settings()],
            "encoder": None if self.encoder is None else self.encoder.settings(),
            "reasons": list(self.reasons),
            "version": 1,
        }

    def intelligibility(self, clip: AudioClip, text: str, language: str) -> Intelligibility:
        """CER and WER of the back-transcription of ``clip`` against ``text``."""
        if self.transcriber is None:
            return Intelligibility(None, None, reason=self.reasons[0] or "no transcriber")
        if clip.num_samples == 0:
            return Intelligibility(None, None, reason="the line has no audio")
        heard = _line_text(self.transcriber.transcribe(clip, language))
        return Intelligibility(
            cer(text, heard, language), wer(text, heard, language), heard, self.model
        )

    def speaker_match(
        self, clip: AudioClip, speaker: str | None, references: Mapping[str, AudioClip]
    ) -> SpeakerMatch:
        """Similarity of ``clip`` to ``speaker``'s reference and to the others'."""
        if self.encoder is None:
            return SpeakerMatch(None, reason=self.reasons[1] or "no speaker encoder")
        if not references:
            return SpeakerMatch(None, reason="no reference clip: the voice does not clone")
        own_ref = references.get(speaker) if speaker is not None else None
        if own_ref is None:
            return SpeakerMatch(None, reason=f"speaker {speaker} has no reference clip")
        if clip.duration_s < _MIN_SPEECH_S:
            return SpeakerMatch(None, reason=f"the line is under {_MIN_SPEECH_S:g} s")
        line = self.encoder.embed(clip)
        own = self.encoder.embed(own_ref)
        if line is None or own is None:
            return SpeakerMatch(None, reason="no voiced audio to embed")
        others: dict[str, float] = {}
        for label, ref in references.items():
            if label == speaker:
                continue
            emb = self.encoder.embed(ref)
            if emb is not None:
                others[label] = float(line @ emb)
        own_sim = float(line @ own)
        closest = max([(own_sim, str(speaker)), *((v, k) for k, v in others.items())])[1]
        return SpeakerMatch(own_sim, others, closest)

    def check(
        self,
        clip: AudioClip,
        text: str,
        language: str,
        *,
        speaker: str | None,
        references: Mapping[str, AudioClip],
        timing: LineTiming | None = None,
    ) -> LineQuality:
        """Every measure of one line (verdict not judged yet: see ``LineQuality.judged``)."""
        return LineQuality(
            self.intelligibility(clip, text, language),
            self.speaker_match(clip, speaker, references),
            timing or LineTiming(1.0, 0.0, False),
        )


def _local_twin(found: Any) -> Transcriber:
    """The dub's Whisper model again, from local files only, decoding greedily."""
    from lipdub.transcribe.whisper import WhisperTranscriber

    out: Transcriber = WhisperTranscriber(
        found.path if found.path is not None else found.model,
        revision=None if found.path is not None else found.revision,
        cache_dir=found.cache_dir,
        device=found.device,
        local_files_only=True,
        beam_size=1,
        word_timestamps=False,
        condition_on_previous_text=False,
    )
    return out


def _english_only(transcriber: Transcriber) -> bool:
    multilingual = getattr(transcriber, "is_multilingual", None)
    return multilingual is False


def make_checker(
    model: str,
    language: str,
    *,
    dub_transcriber: Callable[[], Transcriber] | None = None,
    cloning: bool,
) -> LineChecker:
    """The checker of a dub's lines in ``language``; what it cannot measure has a reason.

    Args:
        model: ``"auto"`` (the dub's transcriber when it is Whisper), a Whisper size
            name or a local CTranslate2 model folder (never downloaded here).
        language: The target language.
        dub_transcriber: The dub's transcriber, asked only for ``"auto"``.
        cloning: Whether the lines were cloned (the speaker encoder is loaded only then).
    """
    transcriber: Transcriber | None = None
    reason: str | None = None
    label: str | None = None
    try:
        from lipdub.transcribe.whisper import WhisperTranscriber

        if model == "auto":
            found = dub_transcriber() if dub_transcriber is not None else None
            if isinstance(found, WhisperTranscriber):
                label = found.model
                # the dub's own model when it is loaded; else the same one from the
                # cache only (a dub given its text never downloads a model to check it)
                transcriber = found if found._whisper is not None else _local_twin(found)
            else:
                name = getattr(found, "name", None)
                reason = (
                    f"no Whisper model to back-transcribe with (the dub's transcriber is "
                    f"{name or 'none'}); pass --quality-model SIZE or a model folder"
                )
        else:
            transcriber = WhisperTranscriber(
                model,
                local_files_only=True,
                beam_size=1,
                word_timestamps=False,
                condition_on_previous_text=False,
            )
            label = model
        if transcriber is not None:
            base = language.split("-")[0].lower()
            transcriber_wt: Any = transcriber
            if hasattr(transcriber_wt, "load"):
                transcriber_wt.load()
            if base != "en" and _english_only(transcriber):
                reason = (
                    f"the Whisper model {label} is English-only and the dub is in "
                    f"{language}; pass --quality-model with a multilingual size"
                )
                transcriber = None
    except LipdubError as e:
        reason = f"no Whisper model to back-transcribe with: {e}"
        transcriber = None
    encoder: SpeakerEncoder | None = None
    enc_reason: str | None = None
    if cloning:
        try:
            from lipdub.diarize.embedded import encoder_path

            encoder_path()  # raises when resemblyzer is missing
            if importlib.util.find_spec("librosa") is None:  # its mel filters
                enc_reason = (
                    "no speaker encoder: librosa is missing (pip install 'lipdub[speakers]')"
                )
            else:
                encoder = SpeakerEncoder()
        except LipdubError as e:
            enc_reason = f"no speaker encoder: {e}"
    else:
        enc_reason = "no reference clip: the voice does not clone"
    return LineChecker(transcriber, encoder, reasons=(reason, enc_reason), model=label)
