"""The :class:`DubbingPipeline`: video in language A -> lip-synced video in language B.

A run walks the stages of :mod:`lipdub.dub.stages`; each leaves an editable or
reusable artifact in the work directory (:mod:`lipdub.dub.workdir`), so a run can stop,
be reviewed, and resume:

==============  ================================  ===================================
stage           artifact                          redone when
==============  ================================  ===================================
``extract``     ``source.wav``                    the input file changes
``transcribe``  ``transcript.<src>.json``         the audio, transcriber settings or
                                                  the language asked (``--from``)
``diarize``     ``speakers.json``                 the audio or diarizer (``diarizer=``)
``voices``      ``voices/<speaker>.wav``          the turns (a cloning voice only)
``translate``   ``translation.<tgt>.json/.srt``   the transcript or translator settings
``speak``       ``speech.<tgt>.wav``,             the translation or voice settings
                ``timing.<tgt>.json``
``separate``    ``background.wav``                the audio or separator settings
                (+ ``vocals.wav``: model separators, run before ``diarize``)
``mix``         ``dub.<tgt>.wav``                 the speech or background
``track``       ``facetrack.<key>.json``          the video or detector settings
``faces``       ``faces.json`` (which face        the transcript, speakers, scorer or
                speaks in each span)              ``face`` option (when it applies)
``lipsync``     the output video                  the speech, mix, track or lip-syncer
``subtitles``   ``<output>.<lang>.srt``           the transcript, translation, timing
==============  ================================  ===================================

The transcript and translation are the user's to edit: an edit is used, never
overwritten (see :mod:`lipdub.dub.stages` for the rule). Transcription, separation and
the face track are done once however many target languages a run has.

The lip-syncer is driven by the clean speech track only, and only inside the spans
where the dubbed voice speaks; the output video carries the remix (speech over the
original background).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from lipdub import registry
from lipdub.dub.arguments import check_stage_args
from lipdub.dub.execute import parse_targets
from lipdub.dub.result import DubResult
from lipdub.errors import InputError, LipdubError, NoSpeechError
from lipdub.events import CancelSignal, EventCallback, Progress, emit, with_cancel
from lipdub.slots import SLOTS
from lipdub.types import AudioClip, Transcript

if TYPE_CHECKING:
    from lipdub.diarize.base import Diarizer
    from lipdub.dub.options import DubOptions
    from lipdub.dub.timing import TimingReport
    from lipdub.eval.base import SpeakingScorer
    from lipdub.faces.base import FaceDetector
    from lipdub.faces.track import FaceTrack
    from lipdub.lipsync.base import LipSyncer
    from lipdub.lipsync.engine import LipSyncResult
    from lipdub.separate.base import Separator
    from lipdub.transcribe.base import Transcriber
    from lipdub.translate.base import Translator
    from lipdub.voice.base import VoiceSynth

__all__ = ["DEFAULT_BACKENDS", "DubResult", "DubbingPipeline", "StopAfter", "parse_targets"]

#: The backend each component slot gets when none is given (from :data:`lipdub.slots.SLOTS`).
DEFAULT_BACKENDS: dict[str, str] = {s.kind: s.default for s in SLOTS if s.default is not None}

logger = logging.getLogger(__name__)

StopAfter = Literal["transcribe", "translate", "speak", "lipsync"]

_KINDS: dict[str, registry.Kind] = {s.kind: s.kind for s in SLOTS}


class DubbingPipeline:
    """Dub a video (or a still portrait) into another language with lip-sync.

    A bag of named components (diffusers-style). Each slot takes an instance, a
    registry name, or ``(name, {options})``; names are resolved on first use, so
    building a pipeline is cheap and a stage you never run never loads its model.

    Args:
        transcriber: Speech-to-text (default ``"whisper"``).
        translator: Text translation (default ``"opus"``).
        voice: Text-to-speech (default ``"espeak"``; ``"clone"``: ``"chatterbox"`` when
            installed with its weights at hand, else ``"match"``, the offline
            reference-matched voice, with a notice).
        detector: Face detector (default ``"retinaface"``).
        lipsyncer: Lip-sync model (default ``"wav2lip_gan"``).
        separator: Voice/background separation for keeping the background
            (default ``"auto"``: ``"demucs"`` when installed with its weights at
            hand, else ``"duck"``, a DSP fallback needing no model, with a notice).
        diarizer: Who speaks when (``"resemblyzer"``, ``"pyannote"``; None: the
            source is not split by speaker). Writes the editable ``speakers.json``.
        device: Torch device for the detector and lip-syncer (None: CUDA if available).
        options: Default :class:`~lipdub.dub.DubOptions` for :meth:`run`.
        speaker_scorer: Which face speaks, when several are seen (see
            ``DubOptions.face``): a :class:`~lipdub.eval.base.SpeakingScorer`, a
            ``syncnet_v2.model`` path, or a weights name (default ``"syncnet_v2"``,
            used only when already cached); None: no scorer (the largest face).

    Example:
        >>> from lipdub.testing import FakeTranscriber
        >>> from lipdub.types import Segment
        >>> p = DubbingPipeline(transcriber=FakeTranscriber(), translator="fake", voice="fake",
        ...                     detector="fake", lipsyncer="passthrough")
        >>> sorted(p.components)
        ['detector', 'lipsyncer', 'separator', 'transcriber', 'translator', 'voice']
        >>> p.translate(Transcript("en", (Segment(0, 1, "Hi."),)), "es").segments[0].text
        '[es] Hi.'
    """

    def __init__(
        self,
        *,
        transcriber: Transcriber | str | Any = DEFAULT_BACKENDS["transcriber"],
        translator: Translator | str | Any = DEFAULT_BACKENDS["translator"],
        voice: VoiceSynth | str | Any = DEFAULT_BACKENDS["voice"],
        detector: FaceDetector | str | Any = DEFAULT_BACKENDS["detector"],
        lipsyncer: LipSyncer | str | Any = DEFAULT_BACKENDS["lipsyncer"],
        separator: Separator | str | Any = DEFAULT_BACKENDS["separator"],
        diarizer: Diarizer | str | Any = None,
        device: str | None = None,
        options: DubOptions | None = None,
        speaker_scorer: SpeakingScorer | str | None = DEFAULT_BACKENDS["scorer"],
    ) -> None:
        check_stage_args(device=device, options=options)
        self._specs: dict[str, Any] = {
            "transcriber": transcriber,
            "translator": translator,
            "voice": voice,
            "detector": detector,
            "lipsyncer": lipsyncer,
            "separator": separator,
        }
        if diarizer is not None:  # who speaks when: only when asked for
            self._specs["diarizer"] = diarizer
        self._resolved: dict[str, Any] = {}
        self._lock = threading.RLock()
        self.device = device
        self._options = options
        self._scorer_spec: Any = speaker_scorer
        self._scorer: list[SpeakingScorer | None] = []  # resolved on first use

    # ------------------------------------------------------------------ components
    def diarizer_spec(self) -> Any:
        """The diarizer (name, instance or spec) given, or None when speakers are not split."""
        return self._specs.get("diarizer")

    def component(self, slot: str) -> Any:
        """The component in ``slot`` (``"voice"``, ``"detector"``...), resolving a name now.

        Raises:
            InputError: an unknown slot.
        """
        if slot not in self._specs:
            raise InputError(
                f"no component slot {slot!r}", hint=f"use one of {', '.join(self._specs)}"
            )
        with self._lock:
            if slot not in self._resolved:
                spec = self._specs[slot]
                if slot == "separator" and spec == "auto":
                    from lipdub.separate.auto import pick_separator

                    spec, notice = pick_separator()
                    if notice:
                        logger.warning(notice)
                if slot == "voice" and spec == "clone":  # the best cloning voice here
                    from lipdub.dub.stages.voices import pick_cloning_voice

                    spec, notice = pick_cloning_voice()
                    if notice:
                        logger.warning(notice)
                comp = registry.resolve(_KINDS[slot], spec)
                if self.device and slot in ("detector", "lipsyncer"):
                    comp = comp.to(self.device)
                self._resolved[slot] = comp
            return self._resolved[slot]

    def speaker_scorer(self) -> SpeakingScorer | None:
        """The active-speaker scorer, or None when there is none (no weights cached)."""
        from lipdub.eval.speaker import resolve_speaker_scorer

        with self._lock:
            if not self._scorer:
                scorer: Any = resolve_speaker_scorer(self._scorer_spec, device=self.device)
                self._scorer.append(scorer)
            return self._scorer[0]

    def resolved_backends(self) -> dict[str, str]:
        """Slot -> backend name of the components loaded so far (for the work directory)."""
        with self._lock:
            return {slot: comp.name for slot, comp in self._resolved.items()}

    @property
    def components(self) -> dict[str, Any]:
        """Slot name -> component instance (resolving names now).

        Pass them to another pipeline to share loaded models:
        ``DubbingPipeline(**{**p.components, "voice": "google"})``.
        """
        return {slot: self.component(slot) for slot in self._specs}

    def to(self, device: str) -> DubbingPipeline:
        """Move the detector and lip-syncer to ``device`` (now or when they load)."""
        check_stage_args(device=device)
        self.device = device
        for slot in ("detector", "lipsyncer"):
            if slot in self._resolved:
                self._resolved[slot] = self._resolved[slot].to(device)
        return self

    @property
    def options(self) -> DubOptions:
        """The default dub options."""
        from lipdub.dub.options import DubOptions

        if self._options is None:
            self._options = DubOptions()
        return self._options

    # ------------------------------------------------------------------ stages
    def transcribe(
        self,
        audio: AudioClip,
        *,
        language: str | None = None,
        on_event: EventCallback | None = None,
    ) -> Transcript:
        """Transcribe source speech.

        Raises:
            NoSpeechError: the transcriber found no speech.
        """
        check_stage_args(audio=audio, language=language, on_event=on_event)
        transcriber = self.component("transcriber")
        transcript: Transcript = transcriber.transcribe(audio, language, on_event=on_event)
        if not any(s.text.strip() for s in transcript.segments):
            raise NoSpeechError(
                "no speech was found in the input",
                hint="check the audio track, pass --from LANG, or give the text with --text",
            )
        return transcript

    def translate(self, transcript: Transcript, target_language: str) -> Transcript:
        """Translate every segment, keeping times and speakers (skipped if same language)."""
        check_stage_args(transcript=transcript, target_language=target_language)
        from lipdub.languages import base_language

        if base_language(transcript.language) == base_language(target_language):
            return dataclasses.replace(transcript, language=target_language)
        out: Transcript = self.component("translator").translate_transcript(
            transcript, target_language
        )
        return out

    def synthesize(
        self,
        translation: Transcript,
        *,
        voice: str | None = None,
        total_s: float | None = None,
        options: DubOptions | None = None,
        cache_dir: Path | None = None,
        on_event: EventCallback | None = None,
        references: Mapping[str, AudioClip] | None = None,
        reference: AudioClip | None = None,
    ) -> tuple[AudioClip, TimingReport]:
        """Speak the translation at the source timing; returns the track and its report.

        ``references`` (speaker label -> clip) and ``reference`` (for the rest) are the
        voices a cloning backend speaks in (see :mod:`lipdub.dub.stages.voices`).
        """
        check_stage_args(
            translation=translation,
            voice=voice,
            total_s=total_s,
            options=options,
            cache_dir=cache_dir,
            on_event=on_event,
            references=references,
            reference=reference,
        )
        from lipdub.dub.timing import WavFolderCache, speak_transcript

        opts = options or self.options
        cache = WavFolderCache(cache_dir) if cache_dir is not None else None
        return speak_transcript(
            self.component("voice"),
            translation,
            voice=voice,
            voice_map=opts.voice_map,
            total_s=total_s,
            sample_rate_hz=opts.sample_rate_hz,
            options=opts.fit,
            cache=cache,
            on_event=on_event,
            references=references,
            reference=reference,
        )

    def mix(
        self,
        speech: AudioClip,
        original: AudioClip | None,
        source: Transcript,
        *,
        options: DubOptions | None = None,
    ) -> AudioClip:
        """The dubbed soundtrack: speech over the original background."""
        check_stage_args(speech=speech, original=original, source=source, options=options)
        from lipdub.dub.mix import remix

        opts = options or self.options
        separator = (
            self.component("separator") if opts.keep_background and original is not None else None
        )
        return remix(
            speech,
            original,
            source_speech_spans=[(s.start_s, s.end_s) for s in source.segments],
            separator=separator,
            keep_background=opts.keep_background,
        )

    def lipsync(
        self,
        input: str | os.PathLike[str],
        speech: AudioClip,
        output: str | os.PathLike[str],
        *,
        soundtrack: AudioClip | None = None,
        speech_spans: list[tuple[float, float]] | None = None,
        track: FaceTrack | None = None,
        subtitles: Transcript | None = None,
        options: DubOptions | None = None,
        on_event: EventCallback | None = None,
    ) -> LipSyncResult:
        """Lip-sync ``input`` to ``speech`` and write ``output`` carrying ``soundtrack``.

        ``track`` is a precomputed face track (see :meth:`track_faces`); without one the
        engine tracks faces while it decodes. ``subtitles`` cues are burned into the
        frames.
        """
        check_stage_args(
            input=input,
            speech=speech,
            output=output,
            soundtrack=soundtrack,
            speech_spans=speech_spans,
            track=track,
            subtitles=subtitles,
            options=options,
            on_event=on_event,
        )
        from lipdub.lipsync.engine import lipsync
        from lipdub.media import probe

        opts = options or self.options
        burner = None
        if subtitles is not None:
            from lipdub.dub.subtitles import SubtitleBurner

            info = probe(input)
            burner = SubtitleBurner(subtitles, fps=25 if info.is_image else info.fps)
        return lipsync(
            input,
            speech,
            output,
            syncer=self.component("lipsyncer"),
            detector=None if track is not None else self.component("detector"),
            track=track,
            speech_spans=speech_spans,
            output_audio=soundtrack,
            pads=opts.pads,
            batch_size=opts.batch_size,
            crf=opts.crf,
            audio_shorter="keep",
            require_face=not opts.allow_no_face,
            frame_filter=burner,
            on_event=on_event,
        )

    def track_faces(
        self,
        input: str | os.PathLike[str],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        on_event: EventCallback | None = None,
    ) -> FaceTrack:
        """Track the face through a video, cached per video content and detector settings.

        With ``cache_dir`` the track is stored as ``facetrack.<key>.json`` there and
        reused by later calls (re-dubbing the same video into another language skips
        detection). The key hashes the video's content and the tracker's settings.
        """
        check_stage_args(input=input, cache_dir=cache_dir, on_event=on_event)
        from lipdub.faces.track import FaceTrack, FaceTracker, track_cache_key
        from lipdub.media import VideoReader

        tracker = FaceTracker(self.component("detector"))
        path: Path | None = None
        if cache_dir is not None:
            key = track_cache_key(input, tracker.settings)
            path = Path(cache_dir) / f"facetrack.{key}.json"
            if path.is_file():
                try:
                    return FaceTrack.load(path)
                except LipdubError as e:
                    logger.warning("ignoring a damaged face-track cache %s: %s", path, e)
        with VideoReader(input) as reader:
            total = reader.info.frame_count

            def frames() -> Any:
                last = time.perf_counter()
                for i, frame in enumerate(reader, 1):
                    now = time.perf_counter()
                    if now - last >= 0.2 or i == total:  # also a point to cancel at
                        last = now
                        emit(on_event, Progress("track", i, total, "frames"))
                    yield frame

            track = tracker.track(frames(), fps=float(reader.info.fps))
        if path is not None:
            track.save(path)
        return track

    # ------------------------------------------------------------------ run
    @overload
    def run(
        self,
        input: str | os.PathLike[str],
        target_language: str,
        output: str | os.PathLike[str] | None = None,
        *,
        source_language: str | None = ...,
        voice: str | None = ...,
        workdir: str | os.PathLike[str] | None = ...,
        resume: bool = ...,
        stop_after: StopAfter | None = ...,
        text: str | None = ...,
        transcript: str | os.PathLike[str] | None = ...,
        translation: str | os.PathLike[str] | None = ...,
        redo: Sequence[str] = ...,
        keep: Sequence[str] = ...,
        options: DubOptions | None = ...,
        on_event: EventCallback | None = ...,
        cancel: CancelSignal | None = ...,
    ) -> DubResult: ...

    @overload
    def run(
        self,
        input: str | os.PathLike[str],
        target_language: list[str] | tuple[str, ...],
        output: str | os.PathLike[str] | None = None,
        *,
        source_language: str | None = ...,
        voice: str | None = ...,
        workdir: str | os.PathLike[str] | None = ...,
        resume: bool = ...,
        stop_after: StopAfter | None = ...,
        text: str | None = ...,
        transcript: str | os.PathLike[str] | None = ...,
        translation: str | os.PathLike[str] | None = ...,
        redo: Sequence[str] = ...,
        keep: Sequence[str] = ...,
        options: DubOptions | None = ...,
        on_event: EventCallback | None = ...,
        cancel: CancelSignal | None = ...,
    ) -> list[DubResult]: ...

    def run(
        self,
        input: str | os.PathLike[str],
        target_language: str | Sequence[str],
        output: str | os.PathLike[str] | None = None,
        *,
        source_language: str | None = None,
        voice: str | None = None,
        workdir: str | os.PathLike[str] | None = None,
        resume: bool = True,
        stop_after: StopAfter | None = None,
        text: str | None = None,
        transcript: str | os.PathLike[str] | None = None,
        translation: str | os.PathLike[str] | None = None,
        redo: Sequence[str] = (),
        keep: Sequence[str] = (),
        options: DubOptions | None = None,
        on_event: EventCallback | None = None,
        cancel: CancelSignal | None = None,
    ) -> DubResult | list[DubResult]:
        """Dub ``input`` into one or several languages and write the output video(s).

        Transcription, source separation and the face track are done once, whatever
        the number of target languages. Artifacts the user edited (transcript,
        translation) are used and never overwritten.

        Args:
            input: A video with speech, or a still image (then ``text`` is required).
            target_language: BCP-47 code of the dub (``"es"``, ``"pt-BR"``), or a list
                of codes; a list returns a list of results.
            output: Output video (default ``<input stem>.<lang>.mp4`` beside the
                input). With several languages it must contain ``{lang}``.
            source_language: Spoken language (None: detected by the transcriber; with
                ``text``, None means the text is already in the target language).
            voice: Voice name (None: the voice backend's default for the language);
                ``"clone"``: each speaker in their own voice (needs a cloning backend,
                e.g. ``DubbingPipeline(voice="clone")``).
            workdir: Where artifacts go (default ``<input>.lipdub/`` beside the input).
            resume: Reuse artifacts whose inputs did not change (False redoes every
                stage, moving the user's edits aside to timestamped backups first).
            stop_after: End after this stage (``"transcribe"`` to review the transcript,
                ``"speak"`` to listen to the dub before the slow lip-sync).
            text: Speak this text instead of transcribing the input.
            transcript: Use this transcript file (JSON, or SRT with
                ``source_language``) instead of transcribing.
            translation: Use this translation file (JSON, or SRT) for the (single)
                target language instead of translating.
            redo: Stages to redo even if they could be reused (``"translate"``...);
                the user's edited artifacts of those stages are moved aside first.
            keep: Stages whose edited artifact is kept even though its inputs changed.
            options: Dub options (default: the pipeline's).
            on_event: Progress callback (see :mod:`lipdub.events`).
            cancel: Set it (a :class:`threading.Event`) from another thread to stop the
                run within about a second with :class:`~lipdub.errors.Cancelled`; the
                finished artifacts stay and the next run resumes from them.

        Raises:
            MediaError: the input is not a video/image, or a video without audio and
                no ``text``.
            InputError: ``output`` is the input, or other bad arguments (an argument
                of the wrong type is refused by name before anything is written).
            NoSpeechError: nothing to dub.
            UnknownLanguageError: a language code lipdub does not know.
            EditConflict: an edited artifact's inputs changed (``keep`` or ``redo``).
            Cancelled: ``cancel`` was set.
            PipelineError: a stage failed; ``__cause__`` holds the reason.
        """
        from lipdub.dub.arguments import check_run_args
        from lipdub.dub.execute import run_plan

        check_run_args(
            input=input,
            target_language=target_language,
            output=output,
            source_language=source_language,
            voice=voice,
            workdir=workdir,
            resume=resume,
            stop_after=stop_after,
            text=text,
            transcript=transcript,
            translation=translation,
            redo=redo,
            keep=keep,
            options=options,
            on_event=on_event,
            cancel=cancel,
        )
        results = run_plan(
            self,
            input,
            target_language,
            output,
            source_language=source_language,
            voice=voice,
            workdir=workdir,
            resume=resume,
            stop_after=stop_after,
            text=text,
            transcript=transcript,
            translation=translation,
            redo=redo,
            keep=keep,
            options=options,
            on_event=with_cancel(on_event, cancel),
            cancel=cancel,
        )
        return results[0] if isinstance(target_language, str) else results
