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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from lipdub import artifacts, registry
from lipdub.dub import operations
from lipdub.dub.arguments import check_stage_args
from lipdub.dub.execute import parse_targets
from lipdub.dub.result import DubResult
from lipdub.dub.stages import StopAfter
from lipdub.dub.state import Components
from lipdub.errors import InputError
from lipdub.events import EventCallback, with_cancel
from lipdub.slots import SLOTS
from lipdub.types import AudioClip, Transcript

if TYPE_CHECKING:
    from lipdub.diarize.base import Diarizer
    from lipdub.dub.options import DubOptions
    from lipdub.dub.request import RunRequest
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

_KINDS: dict[str, registry.Kind] = {s.kind: s.kind for s in SLOTS}


def _pick_separator() -> tuple[str, str | None]:
    from lipdub.separate.auto import pick_separator

    return pick_separator()


def _pick_diarizer() -> tuple[str, str | None]:
    from lipdub.diarize.auto import pick_diarizer

    return pick_diarizer()


def _pick_cloning_voice() -> tuple[str, str | None]:
    from lipdub.dub.clone import pick_cloning_voice

    return pick_cloning_voice()


#: Names that stand for the best backend installed here, and what picks it (the
#: registry name and a notice when it fell back); options given with them are kept.
_STAND_INS: dict[tuple[str, str], Callable[[], tuple[str, str | None]]] = {
    ("separator", "auto"): _pick_separator,
    ("diarizer", "auto"): _pick_diarizer,
    ("voice", "clone"): _pick_cloning_voice,
}


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
        diarizer: Who speaks when (``"auto"``: ``"meeting"`` when its models are
            installed, else ``"resemblyzer"``; or ``"pyannote"``; None: the source is
            not split by speaker). Writes the editable ``speakers.json``.
        device: Torch device for the detector and lip-syncer (None: CUDA if available).
        options: Default :class:`~lipdub.dub.DubOptions` for :meth:`run`.
        speaker_scorer: Which face speaks, when several are seen (see
            ``DubOptions.face``): a :class:`~lipdub.eval.base.SpeakingScorer`, a
            ``syncnet_v2.model`` path, or a weights name (default ``"syncnet_v2"``,
            used only when already cached); None: no scorer (the largest face).

    Example:
        >>> from lipdub.testing import FakeTranscriber, register_fakes
        >>> from lipdub.types import Segment
        >>> _ = register_fakes()  # the test doubles' names: "fake", "passthrough"
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
                name, opts = spec if isinstance(spec, tuple) else (spec, None)
                pick = _STAND_INS.get((slot, name)) if isinstance(name, str) else None
                if pick is not None:  # a name that stands for the best backend here
                    name, notice = pick()
                    if notice:
                        logger.warning(notice)
                    spec = (name, opts) if opts is not None else name
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

    def stage_components(self) -> Components:
        """The components as the stages of a run take them (resolved on first use)."""
        return Components(
            resolve=self.component,
            scorer=self.speaker_scorer,
            has_diarizer=self.diarizer_spec() is not None,
        )

    def resolved_backends(self) -> dict[str, str]:
        """Slot -> backend name of the components loaded so far (for the work directory).

        The registry name the component was asked for by (``"wav2lip_gan"``), so that a
        later run resolving that name gets the same backend; the component's own
        ``name`` for an instance given as such.
        """
        with self._lock:
            return {
                slot: _registry_name(self._specs.get(slot)) or comp.name
                for slot, comp in self._resolved.items()
            }

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
        return operations.transcribe(
            self.stage_components().transcriber(), audio, language=language, on_event=on_event
        )

    def translate(self, transcript: Transcript, target_language: str) -> Transcript:
        """Translate every segment, keeping times and speakers (skipped if same language)."""
        check_stage_args(transcript=transcript, target_language=target_language)
        return operations.translate(self.stage_components().translator, transcript, target_language)

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
        return operations.synthesize(
            self.stage_components().voice(),
            translation,
            options or self.options,
            voice_name=voice,
            total_s=total_s,
            cache_dir=cache_dir,
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
        return operations.mix(
            speech,
            original,
            source,
            keep_background=(options or self.options).keep_background,
            separator=self.stage_components().separator,
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
        parts = self.stage_components()
        return operations.lipsync(
            parts.lipsyncer(),
            parts.detector,
            input,
            speech,
            output,
            options or self.options,
            soundtrack=soundtrack,
            speech_spans=speech_spans,
            track=track,
            subtitles=subtitles,
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
        detector = self.stage_components().detector()
        path: Path | None = None
        if cache_dir is not None:
            name = artifacts.facetrack(operations.track_key(detector, input))
            path = Path(cache_dir) / name
            kept = operations.load_track(path)
            if kept is not None:
                return kept
        track = operations.track_faces(detector, input, on_event=on_event)
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
        **keywords: Any,
    ) -> DubResult: ...

    @overload
    def run(
        self,
        input: str | os.PathLike[str],
        target_language: list[str] | tuple[str, ...],
        output: str | os.PathLike[str] | None = None,
        **keywords: Any,
    ) -> list[DubResult]: ...

    def run(
        self,
        input: str | os.PathLike[str],
        target_language: str | Sequence[str],
        output: str | os.PathLike[str] | None = None,
        **keywords: Any,
    ) -> DubResult | list[DubResult]:
        """Dub ``input`` into one or several languages and write the output video(s).

        Transcription, source separation and the face track are done once, whatever
        the number of target languages. Artifacts the user edited (transcript,
        translation) are used and never overwritten.

        The arguments are the fields of :class:`~lipdub.dub.request.RunRequest`
        (its docstring describes each): ``input``, ``target_language`` (a code, or a
        list of codes: then a list of results) and ``output`` positionally, the rest
        (``source_language``, ``voice``, ``workdir``, ``resume``, ``stop_after``,
        ``text``, ``transcript``, ``translation``, ``redo``, ``keep``, ``options``,
        ``on_event``, ``cancel``) by keyword; or ``run_request(RunRequest(...))``.

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
        from lipdub.dub.request import RunRequest

        results = self.run_request(RunRequest.of(input, target_language, output, keywords))
        return results[0] if isinstance(target_language, str) else results

    def run_request(self, request: RunRequest) -> list[DubResult]:
        """:meth:`run` with its arguments as one :class:`~lipdub.dub.request.RunRequest`:
        one result per target language, in order."""
        from lipdub.dub.execute import run_plan

        request = dataclasses.replace(
            request, on_event=with_cancel(request.on_event, request.cancel)
        )
        return run_plan(self, request)


def _registry_name(spec: object) -> str | None:
    """The registry name in a component spec (a name, ``(name, options)``, a mapping)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str):
        return spec[0]
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        return str(spec["name"])
    return None
