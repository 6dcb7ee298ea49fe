"""The work of each dub stage on its components, written once.

The stages (:mod:`lipdub.dub.stages`) call these with the components they were
given; :class:`~lipdub.dub.pipeline.DubbingPipeline`'s public stage methods
(``transcribe``, ``translate``, ``synthesize``, ``mix``, ``lipsync``,
``track_faces``) are thin calls into the same functions. Nothing here knows the
pipeline, the work directory or its manifest.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lipdub.errors import LipdubError, NoSpeechError
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import AudioClip, Transcript

if TYPE_CHECKING:
    from lipdub.dub.options import DubOptions
    from lipdub.dub.timing import TimingReport
    from lipdub.faces.base import FaceDetector, Frame
    from lipdub.faces.facetrack import FaceTrack
    from lipdub.lipsync.base import LipSyncer
    from lipdub.lipsync.engine import LipSyncResult
    from lipdub.separate.base import Separator
    from lipdub.transcribe.base import Transcriber
    from lipdub.translate.base import Translator
    from lipdub.translate.glossary import Glossary
    from lipdub.types.fit import FitRequest
    from lipdub.voice.base import VoiceSynth

__all__ = [
    "lipsync",
    "load_track",
    "mix",
    "same_language",
    "synthesize",
    "track_faces",
    "transcribe",
    "translate",
]

logger = logging.getLogger(__name__)


def transcribe(
    transcriber: Transcriber,
    audio: AudioClip,
    *,
    language: str | None = None,
    on_event: EventCallback | None = None,
) -> Transcript:
    """The transcript of ``audio``; :class:`NoSpeechError` when there is no speech."""
    transcript = transcriber.transcribe(audio, language, on_event=on_event)
    if not any(s.text.strip() for s in transcript.segments):
        raise NoSpeechError(
            "no speech was found in the input",
            hint="check the audio track, pass --from LANG, or give the text with --text",
        )
    return transcript


def same_language(a: str, b: str) -> bool:
    """Whether two language codes share a base language (``en`` and ``en-GB`` do)."""
    from lipdub.languages import base_language

    return base_language(a) == base_language(b)


def translate(
    translator: Callable[[], Translator],
    transcript: Transcript,
    target_language: str,
    *,
    glossary: Glossary | None = None,
    fit: FitRequest | None = None,
) -> Transcript:
    """Every segment translated (times and speakers kept), rendering ``glossary``'s
    terms; a same-language "translation" is the transcript relabelled, and
    ``translator()`` is then never called. ``fit`` (each line's time budget) reaches a
    length-aware translator."""
    if same_language(transcript.language, target_language):
        return dataclasses.replace(transcript, language=target_language)
    return translator().translate_transcript(
        transcript, target_language, glossary=glossary, fit=fit
    )


def synthesize(
    voice: VoiceSynth,
    translation: Transcript,
    options: DubOptions,
    *,
    voice_name: str | None = None,
    total_s: float | None = None,
    cache_dir: Path | None = None,
    on_event: EventCallback | None = None,
    references: Mapping[str, AudioClip] | None = None,
    reference: AudioClip | None = None,
    allow_truncation: bool | None = None,
    speed_caps: Mapping[int, float] | None = None,
) -> tuple[AudioClip, TimingReport]:
    """The translation spoken at the source timing, and its timing report.

    Lines too long for their time raise :class:`~lipdub.errors.TimingFitError` unless
    ``allow_truncation`` (None: ``options.allow_truncation``); ``speed_caps``: lines
    spoken no faster than that, see ``speak_transcript``.
    """
    from lipdub.dub.timing import WavFolderCache, speak_transcript

    return speak_transcript(
        voice,
        translation,
        voice=voice_name,
        voice_map=options.voice_map,
        total_s=total_s,
        sample_rate_hz=options.sample_rate_hz,
        options=options.fit,
        cache=WavFolderCache(cache_dir) if cache_dir is not None else None,
        on_event=on_event,
        references=references,
        reference=reference,
        allow_truncation=(
            options.allow_truncation if allow_truncation is None else allow_truncation
        ),
        speed_caps=speed_caps,
    )


def mix(
    speech: AudioClip,
    original: AudioClip | None,
    source: Transcript,
    *,
    keep_background: bool,
    background: AudioClip | None = None,
    separator: Callable[[], Separator] | None = None,
) -> AudioClip:
    """The dubbed soundtrack: ``speech`` over the original's background.

    The background is ``background`` when given (separated once for all languages),
    else ``separator()``'s (asked only when the background is kept and there is an
    original); see :func:`lipdub.dub.mix.remix`.
    """
    from lipdub.dub.mix import remix

    keep = keep_background and original is not None
    return remix(
        speech,
        original,
        source_speech_spans=[(s.start_s, s.end_s) for s in source.segments],
        separator=separator() if keep and background is None and separator else None,
        background=background,
        keep_background=keep_background,
    )


def lipsync(
    syncer: LipSyncer,
    detector: Callable[[], FaceDetector],
    input: str | os.PathLike[str],
    speech: AudioClip,
    output: str | os.PathLike[str],
    options: DubOptions,
    *,
    soundtrack: AudioClip | None = None,
    speech_spans: Sequence[tuple[float, float]] | None = None,
    track: FaceTrack | None = None,
    subtitles: Transcript | None = None,
    on_event: EventCallback | None = None,
) -> LipSyncResult:
    """Lip-sync ``input`` to ``speech`` into ``output`` carrying ``soundtrack``.

    Without a ``track`` the engine tracks faces with ``detector()`` as it decodes;
    ``subtitles`` cues are burned into the frames.
    """
    from lipdub.lipsync.engine import lipsync as run_engine
    from lipdub.media import probe

    burner = None
    if subtitles is not None:
        from lipdub.dub.subtitles import SubtitleBurner

        info = probe(input)
        burner = SubtitleBurner(subtitles, fps=25 if info.is_image else info.fps)
    return run_engine(
        input,
        speech,
        output,
        syncer=syncer,
        detector=None if track is not None else detector(),
        track=track,
        speech_spans=list(speech_spans) if speech_spans is not None else None,
        output_audio=soundtrack,
        pads=options.pads,
        batch_size=options.batch_size,
        crf=options.crf,
        audio_shorter="keep",
        require_face=not options.allow_no_face,
        frame_filter=burner,
        on_event=on_event,
    )


def track_faces(
    detector: FaceDetector,
    input: str | os.PathLike[str],
    *,
    on_event: EventCallback | None = None,
) -> FaceTrack:
    """The face through the video (progress as ``"track"`` events, a point to cancel at)."""
    from lipdub.faces.track import FaceTracker
    from lipdub.media import VideoReader

    tracker = FaceTracker(detector)
    with VideoReader(input) as reader:
        total = reader.info.frame_count

        def frames() -> Iterator[Frame]:
            last = time.perf_counter()
            for i, frame in enumerate(reader, 1):
                now = time.perf_counter()
                if now - last >= 0.2 or i == total:
                    last = now
                    emit(on_event, Progress("track", i, total, "frames"))
                yield frame

        return tracker.track(frames(), fps=float(reader.info.fps))


def track_key(detector: FaceDetector, input: str | os.PathLike[str]) -> str:
    """The key of the face track of this video under this detector (its file name's)."""
    from lipdub.faces.track import FaceTracker, track_cache_key

    return track_cache_key(input, FaceTracker(detector).settings)


def load_track(path: Path) -> FaceTrack | None:
    """A kept face track, or None when there is none or it is damaged (logged)."""
    from lipdub.faces.facetrack import FaceTrack

    if not path.is_file():
        return None
    try:
        return FaceTrack.load(path)
    except LipdubError as e:
        logger.warning("ignoring a damaged face-track cache %s: %s", path, e)
        return None
