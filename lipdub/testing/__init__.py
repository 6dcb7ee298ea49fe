"""Deterministic fakes of every lipdub interface, for your tests and ours.

They ship in the wheel so apps built on lipdub can test their own code without
models, accounts or network:

* :class:`FakeTranscriber` returns the transcript it was given.
* :class:`FakeTranslator` tags each text with the target language
  (:class:`IdentityTranslator`, which returns texts unchanged, is the built-in
  ``"identity"`` backend :class:`lipdub.translate.identity.IdentityTranslator`,
  re-exported here).
* :class:`ScriptedNBestTranslator` (:mod:`lipdub.testing.nbest`) is length-aware: it
  picks among n-best hypotheses the test writes, for each line's time budget.
* :class:`FakeVoiceSynth` speaks a tone whose length follows the number of words.
* :class:`FakeFaceDetector` returns a fixed box (or none on dark frames);
  :class:`BrightRegionDetector` really finds the bright blob in synthetic frames.
* :class:`PassThroughLipSyncer` returns the face crops unchanged.

:func:`register_fakes` registers the fakes by name: ``"fake"`` for transcriber,
translator, voice and detector, ``"bright"`` for :class:`BrightRegionDetector` and
``"passthrough"`` for :class:`PassThroughLipSyncer` (and ``"fake_clone"`` for the cloning
voice of :mod:`lipdub.testing.cloning`, which records each line's reference).
Importing this package registers nothing: they are not built-in backends, so
:func:`lipdub.registry.available` lists them only in a program that asked for them (a
test suite's conftest, a worker's ``setup``, or the ``lipdub.backends`` entry points of
a test package).

:mod:`lipdub.testing.fitting` has two translators for the timing fit: ``"wordy"``
writes each line three times over, ``"fitting"`` is length-aware and records the time
budgets it is given.

Helpers that write sample media and random-weight checkpoints live in
:mod:`lipdub.testing.media` and :mod:`lipdub.testing.checkpoints`; voices for testing
the quality checks (one that drops words, one that clones who speaks perfectly) in
:mod:`lipdub.testing.quality`. Fake services on 127.0.0.1 that the real client
libraries talk to: :mod:`lipdub.testing.google` (Google Cloud) and
:mod:`lipdub.testing.llm` (an OpenAI-compatible chat server, for the ``llm`` translator).

Example:
    >>> from lipdub import registry
    >>> from lipdub.testing import register_fakes
    >>> _ = register_fakes()  # the entries it added (none when already there)
    >>> "fake" in registry.available("voice")
    True
    >>> registry.resolve("voice", "fake").name, registry.entry("voice", "fake").source
    ('fake', 'testing')
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub import registry
from lipdub.errors import InputError
from lipdub.events import EventCallback
from lipdub.faces.base import FaceDetector, Frame
from lipdub.lipsync.base import LipSyncer
from lipdub.testing.nbest import ScriptedNBestTranslator
from lipdub.transcribe.base import Transcriber
from lipdub.translate.base import Translator
from lipdub.translate.identity import IdentityTranslator
from lipdub.types import AudioClip, FaceBox, Segment, Transcript, Voice
from lipdub.voice.base import VoiceSynth

__all__ = [
    "FAKE_BACKENDS",
    "BrightRegionDetector",
    "FakeFaceDetector",
    "FakeTranscriber",
    "FakeTranslator",
    "FakeVoiceSynth",
    "IdentityTranslator",
    "PassThroughLipSyncer",
    "ScriptedNBestTranslator",
    "register_fakes",
]

logger = logging.getLogger(__name__)


class FakeTranscriber(Transcriber):
    """Returns a fixed transcript whatever the audio (its language follows the request).

    Example:
        >>> t = FakeTranscriber.from_texts(["Hi.", "Bye."], start_s=0.5, segment_s=1.0, gap_s=0.5)
        >>> [(s.start_s, s.end_s) for s in t.transcribe(AudioClip.silence(5, 16000)).segments]
        [(0.5, 1.5), (2.0, 3.0)]
    """

    name: ClassVar[str] = "fake"

    def __init__(self, transcript: Transcript | None = None) -> None:
        if transcript is None:
            transcript = Transcript("en", (Segment(0.5, 2.0, "Hello world."),))
        self.transcript = transcript
        self.calls = 0

    def settings(self) -> dict[str, Any]:
        """The transcript it returns (that is its whole output)."""
        return {"transcript": self.transcript.to_dict()}

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str],
        *,
        language: str = "en",
        start_s: float = 0.5,
        segment_s: float = 1.5,
        gap_s: float = 0.5,
    ) -> FakeTranscriber:
        """Segments of ``segment_s`` seconds, ``gap_s`` apart, starting at ``start_s``."""
        segs = []
        t = start_s
        for text in texts:
            segs.append(Segment(round(t, 6), round(t + segment_s, 6), text))
            t += segment_s + gap_s
        return cls(Transcript(language, tuple(segs)))

    def transcribe(
        self,
        audio: AudioClip,
        language: str | None = None,
        *,
        on_event: EventCallback | None = None,
    ) -> Transcript:
        """Return the fixed transcript, cut to the audio's length."""
        self.calls += 1
        segs = tuple(s for s in self.transcript.segments if s.start_s < audio.duration_s)
        return Transcript(language or self.transcript.language, segs)


class FakeTranslator(Translator):
    """Prefixes every text with ``[target]``: deterministic and visibly "translated"."""

    name: ClassVar[str] = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def settings(self) -> dict[str, Any]:
        """No options."""
        return {}

    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """``"hello"`` -> ``"[es] hello"``."""
        self.calls += 1
        return [f"[{target}] {t}" for t in texts]


class FakeVoiceSynth(VoiceSynth):
    """A "voice" that hums: 0.3 s of tone per word at 24 kHz, divided by ``rate``.

    Each word is a short tone burst (its pitch derived from the word), so the audio is
    non-silent, deterministic and as long as the text suggests.
    """

    name: ClassVar[str] = "fake"
    native_rate: ClassVar[bool] = True

    def __init__(self, seconds_per_word: float = 0.3, sample_rate_hz: int = 24000) -> None:
        self.seconds_per_word = seconds_per_word
        self.sample_rate_hz = sample_rate_hz
        self.calls: list[tuple[str, str | None, float]] = []

    def settings(self) -> dict[str, Any]:
        """Speech length per word and the output rate."""
        return {"seconds_per_word": self.seconds_per_word, "sample_rate_hz": self.sample_rate_hz}

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """A tone burst per word; total length ``words * seconds_per_word / rate``."""
        self.refuse_reference(reference)
        self.calls.append((text, voice, rate))
        words = text.split() or [""]
        n = round(self.seconds_per_word / rate * self.sample_rate_hz)
        t = np.arange(n, dtype=np.float32) / self.sample_rate_hz
        env = np.sqrt(np.clip(np.sin(np.pi * np.arange(n) / max(n - 1, 1)), 0, 1)).astype(
            np.float32
        )
        parts = []
        for w in words:
            f0 = 140.0 + (zlib.crc32(w.encode()) % 120)
            parts.append(0.3 * env * np.sin(2 * np.pi * f0 * t))
        return AudioClip(np.concatenate(parts).astype(np.float32), self.sample_rate_hz)

    def list_voices(self, language: str | None = None) -> list[Voice]:
        """One voice, ``"fake-tone"``, for every language."""
        v = Voice(
            "fake-tone", ("en", "es", "fr", "de"), "neutral", self.sample_rate_hz, "tone", "fake"
        )
        return [v]


class FakeFaceDetector(FaceDetector):
    """Returns one fixed box per frame; frames darker than ``min_brightness`` get none.

    Args:
        box: ``(x1, y1, x2, y2)`` in pixels, or None for the centred box covering the
            middle half of each frame.
        min_brightness: Mean pixel value below which a frame counts as "no face"
            (0 disables), so a test can blank frames to simulate the face leaving.
    """

    name: ClassVar[str] = "fake"

    def __init__(
        self, box: tuple[float, float, float, float] | None = None, min_brightness: float = 0.0
    ) -> None:
        self.box = box
        self.min_brightness = min_brightness
        self.frames_seen = 0

    def settings(self) -> dict[str, Any]:
        """The fixed box and the brightness below which a frame has no face."""
        box = list(self.box) if self.box is not None else None
        return {"box": box, "min_brightness": self.min_brightness}

    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        """The fixed box for every frame bright enough."""
        out: list[list[FaceBox]] = []
        for f in frames:
            self.frames_seen += 1
            if self.min_brightness and float(f.mean()) < self.min_brightness:
                out.append([])
                continue
            h, w = f.shape[:2]
            x1, y1, x2, y2 = self.box or (w / 4, h / 4, 3 * w / 4, 3 * h / 4)
            out.append([FaceBox(x1, y1, x2, y2, 1.0)])
        return out


class BrightRegionDetector(FaceDetector):
    """Finds the bounding box of pixels brighter than ``threshold`` (one "face" per frame).

    A real (if simple) detector for synthetic test clips where the face is a bright
    shape on a dark background: tracking and smoothing tests run it on moving shapes.
    """

    name: ClassVar[str] = "bright"

    def __init__(self, threshold: int = 128, min_pixels: int = 16) -> None:
        self.threshold = threshold
        self.min_pixels = min_pixels

    def settings(self) -> dict[str, Any]:
        """Brightness threshold and the smallest blob."""
        return {"threshold": self.threshold, "min_pixels": self.min_pixels}

    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        """Box around the bright pixels of each frame, or no face if too few."""
        out: list[list[FaceBox]] = []
        for f in frames:
            mask = f.max(axis=2) > self.threshold if f.ndim == 3 else f > self.threshold
            if int(mask.sum()) < self.min_pixels:
                out.append([])
                continue
            ys = np.flatnonzero(mask.any(axis=1))
            xs = np.flatnonzero(mask.any(axis=0))
            out.append([FaceBox(xs[0], ys[0], xs[-1] + 1, ys[-1] + 1, 1.0)])
        return out


class PassThroughLipSyncer(LipSyncer):
    """Returns the crops unchanged; counts the frames it was asked to sync."""

    name: ClassVar[str] = "passthrough"

    def __init__(self) -> None:
        self.frames_synced = 0

    def settings(self) -> dict[str, Any]:
        """No options."""
        return {}

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        """A copy of ``faces``."""
        if len(faces) != len(mels):
            raise ValueError(f"{len(faces)} faces but {len(mels)} mel windows")
        self.frames_synced += len(faces)
        return faces.copy()


#: The fakes :func:`register_fakes` adds: ``(kind, name, "module:Class")``.
FAKE_BACKENDS: tuple[tuple[registry.Kind, str, str], ...] = (
    ("transcriber", "fake", "lipdub.testing:FakeTranscriber"),
    ("translator", "fake", "lipdub.testing:FakeTranslator"),
    ("translator", "wordy", "lipdub.testing.fitting:WordyTranslator"),
    ("translator", "fitting", "lipdub.testing.fitting:FittingTranslator"),
    ("voice", "fake", "lipdub.testing:FakeVoiceSynth"),
    ("voice", "fake_clone", "lipdub.testing.cloning:RecordingCloneVoice"),
    ("detector", "fake", "lipdub.testing:FakeFaceDetector"),
    ("detector", "bright", "lipdub.testing:BrightRegionDetector"),
    ("detector", "fixed_faces", "lipdub.testing.speaker:FixedFacesDetector"),
    ("lipsyncer", "passthrough", "lipdub.testing:PassThroughLipSyncer"),
)


def register_fakes() -> list[str]:
    """Register the fakes of :data:`FAKE_BACKENDS` in :mod:`lipdub.registry` by name.

    Call it once in a program that resolves ``"fake"`` or ``"passthrough"`` by name
    (a test suite, ``lipdub dub --transcriber fake`` run from a test, a Ray worker's
    ``PipelineSpec(setup=register_fakes)``); importing :mod:`lipdub.testing` does not.
    Calling it again is harmless. A name some other backend
    already holds (a user registration or a plugin) is left to it, with a warning.

    Returns:
        The ``"kind.name"`` entries this call added (empty when all were there).
    """
    added: list[str] = []
    for kind, name, target in FAKE_BACKENDS:
        try:
            registry.register(kind, name, target, source="testing")
        except InputError:
            held = registry.registry[kind][name].target
            if held != target:
                logger.warning("lipdub.testing: the %s name %r is taken by %s", kind, name, held)
            continue
        added.append(f"{kind}.{name}")
    return added
