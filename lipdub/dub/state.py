"""What the stages of a dub hand each other, as typed fields (no string keys).

A run's data grows stage by stage. Each state class below is the data after one
stage, and adds that stage's fields to the one before (dataclass inheritance), so a
stage declares what it reads by the state it takes, and what it produces by the state
it returns (:class:`~lipdub.dub.runner.Stage`). A stage that reads a field no earlier
stage produced does not type-check: ``mypy --strict`` says the state has no such
attribute (``tests/test_stage_types.py`` proves it).

Once per run (the source side)::

    Start -> Extracted -> Transcribed -> Separated -> Diarized -> Voiced
          -> Tracked -> Faced

Once per target language (each also reads the run's state)::

    Target -> Translated -> Spoken -> Mixed -> Synced -> Subtitled

A field is None when its stage did not apply (no audio in a still image, no diarizer,
a voice that does not clone); its docstring says when. The states are frozen: a stage
returns a new one (:func:`advance`).

The components the stages use come as one :class:`Components` (resolved on first use,
so a stage that does not apply never loads its model); a stage never calls back into
:class:`~lipdub.dub.pipeline.DubbingPipeline`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lipdub.types import AudioClip, Transcript

if TYPE_CHECKING:
    from lipdub.diarize.base import Diarizer
    from lipdub.diarize.speakers import SpeakerMap
    from lipdub.dub.clone import ReferenceFiles
    from lipdub.dub.facemap import FaceMap
    from lipdub.dub.report import TimingReport
    from lipdub.eval.base import SpeakingScorer
    from lipdub.faces.base import FaceDetector
    from lipdub.faces.facetrack import FaceTrack
    from lipdub.lipsync.base import LipSyncer
    from lipdub.separate.base import Separator
    from lipdub.transcribe.base import Transcriber
    from lipdub.translate.base import Translator
    from lipdub.voice.base import VoiceSynth

__all__ = [
    "Components",
    "Diarized",
    "Extracted",
    "Faced",
    "Mixed",
    "Separated",
    "Spoken",
    "Start",
    "Subtitled",
    "Synced",
    "Target",
    "Tracked",
    "Transcribed",
    "Translated",
    "Voiced",
    "advance",
]


@dataclass(frozen=True)
class Components:
    """The components a dub's stages use, each resolved when first asked for.

    ``resolve(slot)`` returns the component in a slot (``"voice"``...); ``scorer()``
    the active-speaker scorer or None; ``has_diarizer`` whether speakers are split.
    """

    resolve: Callable[[str], Any]
    scorer: Callable[[], SpeakingScorer | None]
    has_diarizer: bool

    def transcriber(self) -> Transcriber:
        """Speech to text."""
        out: Transcriber = self.resolve("transcriber")
        return out

    def translator(self) -> Translator:
        """Text to text."""
        out: Translator = self.resolve("translator")
        return out

    def voice(self) -> VoiceSynth:
        """Text to speech."""
        out: VoiceSynth = self.resolve("voice")
        return out

    def separator(self) -> Separator:
        """The voice apart from the background."""
        out: Separator = self.resolve("separator")
        return out

    def diarizer(self) -> Diarizer:
        """Who speaks when (only when :attr:`has_diarizer`)."""
        out: Diarizer = self.resolve("diarizer")
        return out

    def detector(self) -> FaceDetector:
        """Faces in a frame."""
        out: FaceDetector = self.resolve("detector")
        return out

    def lipsyncer(self) -> LipSyncer:
        """The lip-sync model."""
        out: LipSyncer = self.resolve("lipsyncer")
        return out


# --------------------------------------------------------------------------- once per run


@dataclass(frozen=True)
class Start:
    """Before any stage: nothing produced yet (the run's context is the ``Run``)."""


@dataclass(frozen=True)
class Extracted(Start):
    """After ``extract``: the source audio (None: a still, or a video without sound)."""

    original: AudioClip | None
    audio_key: str | None


@dataclass(frozen=True)
class Transcribed(Extracted):
    """After ``transcribe``: the source transcript and the file it is read from."""

    source: Transcript
    transcript_path: Path


@dataclass(frozen=True)
class Separated(Transcribed):
    """After the early ``separate``: the stems when a voice-isolating model ran before
    the speaker analysis (else None; the background may come later)."""

    background: AudioClip | None
    background_key: str | None
    vocals: AudioClip | None
    vocals_key: str | None


@dataclass(frozen=True)
class Diarized(Separated):
    """After ``diarize``: the speaker map (None without a diarizer); ``source`` is
    then split and labelled by speaker."""

    speakers: SpeakerMap | None
    speakers_key: str | None


@dataclass(frozen=True)
class Voiced(Diarized):
    """After ``voices``: each speaker's reference clip (None: the voice does not clone)."""

    references: Mapping[str, AudioClip] | None
    references_key: str | None
    #: The one clip for every line, when there is a single speaker.
    reference: AudioClip | None
    #: The files of those clips (named in ``timing.<lang>.json``); None as ``references``.
    reference_files: ReferenceFiles | None


@dataclass(frozen=True)
class Tracked(Voiced):
    """After ``track``: the face through the video (None for a still image)."""

    track: FaceTrack | None
    track_key: str | None


@dataclass(frozen=True)
class Faced(Tracked):
    """After ``faces``: which face speaks when (None when the stage did not apply), and
    the track the lip-sync follows (the chosen faces; else ``track``)."""

    faces: FaceMap | None
    faces_key: str | None
    lipsync_track: FaceTrack | None


# --------------------------------------------------------------------------- per language


@dataclass(frozen=True)
class Target:
    """One target language of a run, and its output video."""

    target: str
    output: Path


@dataclass(frozen=True)
class Translated(Target):
    """After ``translate``."""

    translation: Transcript


@dataclass(frozen=True)
class Spoken(Translated):
    """After ``speak``: the dubbed speech and where each line went (after ``quality``:
    the checked speech, each timing line carrying its ``quality`` record)."""

    speech: AudioClip
    timing: TimingReport


@dataclass(frozen=True)
class Mixed(Spoken):
    """After ``mix``: the dubbed soundtrack."""

    soundtrack: AudioClip


@dataclass(frozen=True)
class Synced(Mixed):
    """After ``lipsync``: the output video's frame counts."""

    frames_total: int
    frames_synced: int


@dataclass(frozen=True)
class Subtitled(Synced):
    """After ``subtitles``: the subtitle files written beside the output."""

    subtitles: tuple[Path, ...]


_T = TypeVar("_T")


def advance(before: object, after: type[_T], **produced: Any) -> _T:
    """The state ``after`` holding every field of ``before`` plus what a stage produced.

    Example:
        >>> t = Target("es", Path("o.mp4"))
        >>> advance(t, Translated, translation=Transcript("es", ())).target
        'es'
    """
    kept = {f.name: getattr(before, f.name) for f in dataclasses.fields(before)}  # type: ignore[arg-type]
    return after(**{**kept, **produced})
