"""The :class:`DubbingPipeline`: video in language A -> lip-synced video in language B.

Stages, each writing an editable artifact into the work directory (see
:mod:`lipdub.dub.workdir`) so a run can stop, be reviewed, and resume:

==============  ==========================  =====================================
stage           artifact                    redone when
==============  ==========================  =====================================
``extract``     ``source.wav``              the input file changes
``transcribe``  ``transcript.<src>.json``   the audio or the transcriber changes
``translate``   ``translation.<tgt>.json``  the transcript (edited or not) changes
``speak``       ``speech.<tgt>.wav``,       the translation (JSON or SRT edited)
                ``timing.<tgt>.json``,      or the voice settings change
                ``speech/*.wav``
``mix``         ``dub.<tgt>.wav``           the speech or background settings change
``lipsync``     the output video            the speech, mix or lip-sync settings
``subtitles``   ``<output>.<lang>.srt``     always (cheap)
==============  ==========================  =====================================

The lip-syncer is driven by the clean speech track only, and only inside the spans
where the dubbed voice speaks; the output video carries the remix (speech over the
original background).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lipdub import registry
from lipdub.errors import InputError, LipdubError, MediaError, NoSpeechError, PipelineError
from lipdub.events import EventCallback, stage
from lipdub.types import AudioClip, Segment, Transcript

if TYPE_CHECKING:
    from lipdub.dub.options import DubOptions
    from lipdub.dub.timing import TimingReport
    from lipdub.faces.base import FaceDetector
    from lipdub.faces.track import FaceTrack
    from lipdub.lipsync.base import LipSyncer
    from lipdub.lipsync.engine import LipSyncResult
    from lipdub.separate.base import Separator
    from lipdub.transcribe.base import Transcriber
    from lipdub.translate.base import Translator
    from lipdub.types import VideoInfo
    from lipdub.voice.base import VoiceSynth

__all__ = ["DubResult", "DubbingPipeline", "StopAfter"]

logger = logging.getLogger(__name__)

StopAfter = Literal["transcribe", "translate", "speak", "lipsync"]
_STAGE_ORDER = (
    "extract",
    "transcribe",
    "translate",
    "speak",
    "mix",
    "track",
    "lipsync",
    "subtitles",
)

_KINDS: dict[str, registry.Kind] = {
    "transcriber": "transcriber",
    "translator": "translator",
    "voice": "voice",
    "detector": "detector",
    "lipsyncer": "lipsyncer",
    "separator": "separator",
}


@dataclass(frozen=True)
class DubResult:
    """What a :meth:`DubbingPipeline.run` produced.

    ``output`` is None when the run stopped early (``stop_after``). ``ran`` and
    ``reused`` list the stages that did work and those served from the work directory.
    """

    output: Path | None
    workdir: Path
    source: Transcript
    translation: Transcript | None
    timing: TimingReport | None
    subtitles: tuple[Path, ...] = ()
    speech_audio: Path | None = None
    dub_audio: Path | None = None
    frames_total: int = 0
    frames_synced: int = 0
    frames_passed_through: int = 0
    ran: tuple[str, ...] = ()
    reused: tuple[str, ...] = ()

    def describe(self) -> str:
        """A short human summary (what ``lipdub dub`` prints)."""
        lines = []
        if self.output is not None:
            lines.append(f"wrote {self.output}")
        else:
            lines.append(f"stopped early; artifacts in {self.workdir}")
        for p in self.subtitles:
            lines.append(f"wrote {p}")
        if self.dub_audio is not None:
            lines.append(f"dubbed audio: {self.dub_audio}")
        if self.timing is not None and self.dub_audio is not None:
            lang = self.translation.language if self.translation else ""
            lines.append(f"timing report: {self.workdir / f'timing.{lang}.json'}")
        if self.timing is not None:
            n = len(self.timing.segments)
            over = self.timing.overflowing
            lines.append(f"segments: {n}, over their slot: {len(over)}")
        if self.frames_total:
            lines.append(
                f"frames: {self.frames_total} total, {self.frames_synced} lip-synced, "
                f"{self.frames_passed_through} passed through"
            )
        lines.append(f"reused: {', '.join(self.reused) or 'nothing'}")
        lines.append(f"ran: {', '.join(self.ran) or 'nothing'}")
        return "\n".join(lines)


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("lipdub", "torch", "av", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


def _backend_name(component: Any) -> str:
    return str(getattr(component, "name", type(component).__name__))


def _identity(component: Any) -> Any:
    """What identifies a component's output, for the work directory's cache keys.

    A component may define ``cache_key() -> str``. Otherwise: its class, registry name
    and simple public attributes, read once when the pipeline resolves it (so counters
    a component updates while working do not invalidate its artifacts).
    """
    hook = getattr(component, "cache_key", None)
    if callable(hook):
        return [type(component).__qualname__, str(hook())]
    attrs = {}
    items = sorted(vars(component).items()) if hasattr(component, "__dict__") else []
    for k, v in items:
        if not k.startswith("_") and isinstance(v, (str, int, float, bool, tuple, type(None))):
            attrs[k] = v
    return [type(component).__qualname__, _backend_name(component), attrs]


class DubbingPipeline:
    """Dub a video (or a still portrait) into another language with lip-sync.

    A bag of named components (diffusers-style). Each slot takes an instance, a
    registry name, or ``(name, {options})``; names are resolved on first use, so
    building a pipeline is cheap and a stage you never run never loads its model.

    Args:
        transcriber: Speech-to-text (default ``"whisper"``).
        translator: Text translation (default ``"opus"``).
        voice: Text-to-speech (default ``"espeak"``).
        detector: Face detector (default ``"retinaface"``).
        lipsyncer: Lip-sync model (default ``"wav2lip_gan"``).
        separator: Voice/background separation for keeping the background
            (default ``"duck"``, a DSP fallback needing no model).
        device: Torch device for the detector and lip-syncer (None: CUDA if available).
        options: Default :class:`~lipdub.dub.DubOptions` for :meth:`run`.

    Example:
        >>> from lipdub.testing import FakeTranscriber
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
        transcriber: Transcriber | str | Any = "whisper",
        translator: Translator | str | Any = "opus",
        voice: VoiceSynth | str | Any = "espeak",
        detector: FaceDetector | str | Any = "retinaface",
        lipsyncer: LipSyncer | str | Any = "wav2lip_gan",
        separator: Separator | str | Any = "duck",
        device: str | None = None,
        options: DubOptions | None = None,
    ) -> None:
        self._specs: dict[str, Any] = {
            "transcriber": transcriber,
            "translator": translator,
            "voice": voice,
            "detector": detector,
            "lipsyncer": lipsyncer,
            "separator": separator,
        }
        self._resolved: dict[str, Any] = {}
        self._identities: dict[str, Any] = {}
        self.device = device
        self._options = options

    # ------------------------------------------------------------------ components
    def _get(self, slot: str) -> Any:
        if slot not in self._resolved:
            spec = self._specs[slot]
            comp = registry.resolve(_KINDS[slot], spec)
            if self.device and slot in ("detector", "lipsyncer"):
                comp = comp.to(self.device)
            self._resolved[slot] = comp
            self._identities[slot] = _identity(comp)
        return self._resolved[slot]

    def _key_of(self, slot: str) -> Any:
        self._get(slot)
        return self._identities[slot]

    @property
    def components(self) -> dict[str, Any]:
        """Slot name -> component instance (resolving names now).

        Pass them to another pipeline to share loaded models:
        ``DubbingPipeline(**{**p.components, "voice": "google"})``.
        """
        return {slot: self._get(slot) for slot in self._specs}

    def to(self, device: str) -> DubbingPipeline:
        """Move the detector and lip-syncer to ``device`` (now or when they load)."""
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
        transcriber = self._get("transcriber")
        transcript: Transcript = transcriber.transcribe(audio, language, on_event=on_event)
        if not any(s.text.strip() for s in transcript.segments):
            raise NoSpeechError(
                "no speech was found in the input",
                hint="check the audio track, pass --from LANG, or give the text with --text",
            )
        return transcript

    def translate(self, transcript: Transcript, target_language: str) -> Transcript:
        """Translate every segment, keeping times and speakers (skipped if same language)."""
        from lipdub.languages import base_language

        if base_language(transcript.language) == base_language(target_language):
            return dataclasses.replace(transcript, language=target_language)
        out: Transcript = self._get("translator").translate_transcript(transcript, target_language)
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
    ) -> tuple[AudioClip, TimingReport]:
        """Speak the translation at the source timing; returns the track and its report."""
        from lipdub.dub.timing import speak_transcript

        opts = options or self.options
        cache = _WavCache(cache_dir) if cache_dir is not None else None
        return speak_transcript(
            self._get("voice"),
            translation,
            voice=voice,
            voice_map=opts.voice_map,
            total_s=total_s,
            sample_rate_hz=opts.sample_rate_hz,
            options=opts.fit,
            cache=cache,
            on_event=on_event,
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
        from lipdub.dub.mix import remix

        opts = options or self.options
        separator = (
            self._get("separator") if opts.keep_background and original is not None else None
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
            syncer=self._get("lipsyncer"),
            detector=None if track is not None else self._get("detector"),
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
        from lipdub.events import Progress, emit
        from lipdub.faces.track import FaceTrack, FaceTracker, track_cache_key
        from lipdub.media import VideoReader

        tracker = FaceTracker(self._get("detector"))
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
                for i, frame in enumerate(reader, 1):
                    if i % 25 == 0 or i == total:
                        emit(on_event, Progress("track", i, total, "frames"))
                    yield frame

            track = tracker.track(frames(), fps=float(reader.info.fps))
        if path is not None:
            track.save(path)
        return track

    # ------------------------------------------------------------------ run
    def run(
        self,
        input: str | os.PathLike[str],
        target_language: str,
        output: str | os.PathLike[str] | None = None,
        *,
        source_language: str | None = None,
        voice: str | None = None,
        workdir: str | os.PathLike[str] | None = None,
        resume: bool = True,
        stop_after: StopAfter | None = None,
        text: str | None = None,
        options: DubOptions | None = None,
        on_event: EventCallback | None = None,
    ) -> DubResult:
        """Dub ``input`` into ``target_language`` and write ``output``.

        Args:
            input: A video with speech, or a still image (then ``text`` is required).
            target_language: BCP-47 code of the dub (``"es"``, ``"pt-BR"``).
            output: Output video (default ``<input>.<lang>.mp4`` beside the input).
            source_language: Spoken language (None: detected by the transcriber; with
                ``text``, None means the text is already in the target language).
            voice: Voice name (None: the voice backend's default for the language).
            workdir: Where artifacts go (default ``<input>.lipdub/`` beside the input).
            resume: Reuse artifacts whose inputs did not change.
            stop_after: End after this stage (``"transcribe"`` to review the transcript,
                ``"speak"`` to listen to the dub before the slow lip-sync).
            text: Speak this text instead of transcribing the input.
            options: Dub options (default: the pipeline's).
            on_event: Progress callback (see :mod:`lipdub.events`).

        Raises:
            MediaError: the input is not a video/image, or a video without audio and
                no ``text``.
            NoSpeechError: nothing to dub.
            UnknownLanguageError: a language code lipdub does not know.
            PipelineError: a stage failed; ``__cause__`` holds the reason.
        """
        from lipdub.languages import check_language
        from lipdub.media import load_audio, probe

        opts = options or self.options
        target = check_language(target_language, what="target language")
        src_lang = (
            check_language(source_language, what="source language") if source_language else None
        )
        in_path = Path(input)
        info = probe(in_path)
        if text is None and (info.is_image or not info.has_audio):
            kind = "still image" if info.is_image else "video without an audio track"
            raise MediaError(
                f"{in_path.name} is a {kind}, so there is no speech to transcribe",
                path=in_path,
                hint='give the words to speak with text="..." (CLI: --text or --text-file)',
            )
        if text is not None and not text.strip():
            raise NoSpeechError("the text to speak is empty", hint="pass non-empty text")
        out_path = Path(output) if output else in_path.with_name(f"{in_path.stem}.{target}.mp4")
        wd_path = Path(workdir) if workdir else in_path.with_name(f"{in_path.name}.lipdub")
        from lipdub.dub.workdir import Workdir, content_key, settings_key

        wd = Workdir(wd_path)
        ran: list[str] = []
        reused: list[str] = []
        skipped: set[str] = set()
        input_key = content_key(in_path)

        def done(name: str, was_reused: bool, info_: dict[str, Any]) -> None:
            info_["reused"] = was_reused
            (reused if was_reused else ran).append(name)
            wd.set_meta(
                input=str(in_path),
                backends={s: _backend_name(c) for s, c in self._resolved.items()},
                versions=_versions(),
            )

        try:
            # -- extract
            original: AudioClip | None = None
            audio_key = settings_key("no-audio")
            if not info.has_audio or info.is_image:
                skipped.add("extract")
            else:
                with stage(on_event, "extract") as st:
                    key = settings_key(input_key, opts.sample_rate_hz)
                    cached = wd.fresh("extract", key) if resume else None
                    if cached is not None:
                        original = AudioClip.load_wav(cached)
                    else:
                        original = load_audio(in_path, opts.sample_rate_hz)
                        wd.record("extract", key, original.save_wav(wd.path("source.wav")))
                    audio_key = content_key(wd.path("source.wav"))
                    done("extract", cached is not None, st)

            # -- transcribe (or take the given text)
            if text is not None:
                skipped.add("transcribe")
                lang = src_lang or target
                dur = info.duration_s if not info.is_image else float("inf")
                end = dur if dur != float("inf") else 0.0
                source = Transcript(lang, (Segment(0.0, end, " ".join(text.split())),))
                transcript_path = wd.path(f"transcript.{lang}.json")
                source.save(transcript_path)
            else:
                assert original is not None
                with stage(on_event, "transcribe") as st:
                    key = settings_key(audio_key, self._key_of("transcriber"), src_lang)
                    cached = wd.fresh("transcribe", key) if resume else None
                    if cached is not None:
                        source = Transcript.load(cached)
                        transcript_path = cached
                    else:
                        source = self.transcribe(
                            original.resample(16000), language=src_lang, on_event=on_event
                        )
                        transcript_path = source.save(wd.path(f"transcript.{source.language}.json"))
                        wd.record("transcribe", key, transcript_path)
                    done("transcribe", cached is not None, st)
            if not any(s.text.strip() for s in source.segments):
                raise NoSpeechError(
                    f"the transcript {transcript_path.name} has no text",
                    path=transcript_path,
                    hint="edit it, or pass --text",
                )
            if stop_after == "transcribe":
                return DubResult(
                    None, wd.root, source, None, None, ran=tuple(ran), reused=tuple(reused)
                )

            # -- translate
            with stage(on_event, "translate") as st:
                translator_spec = (
                    self._key_of("translator")
                    if (source.language.split("-")[0] != target.split("-")[0])
                    else "same-language"
                )
                key = settings_key(content_key(transcript_path), translator_spec, target)
                json_path = wd.path(f"translation.{target}.json")
                srt_path = wd.path(f"translation.{target}.srt")
                cached = wd.fresh("translate", key) if resume else None
                if cached is not None:
                    translation = self._load_edited_translation(wd, json_path, srt_path, target)
                else:
                    translation = self.translate(source, target)
                    translation.save(json_path)
                    translation.save(srt_path)
                    wd.record(
                        "translate",
                        key,
                        json_path,
                        json_hash=content_key(json_path),
                        srt_hash=content_key(srt_path),
                    )
                done("translate", cached is not None, st)
            if stop_after == "translate":
                return DubResult(
                    None, wd.root, source, translation, None, ran=tuple(ran), reused=tuple(reused)
                )

            # -- speak
            from lipdub.dub.timing import TimingReport

            total_s = None if info.is_image else info.duration_s
            with stage(on_event, "speak", total=len(translation.segments), unit="segments") as st:
                key = settings_key(
                    content_key(json_path),
                    self._key_of("voice"),
                    voice,
                    dict(opts.voice_map),
                    dataclasses.asdict(opts.fit),
                    total_s,
                    opts.sample_rate_hz,
                )
                speech_path = wd.path(f"speech.{target}.wav")
                timing_path = wd.path(f"timing.{target}.json")
                cached = wd.fresh("speak", key) if resume else None
                if cached is not None and timing_path.exists():
                    speech = AudioClip.load_wav(speech_path)
                    timing = TimingReport.load(timing_path)
                else:
                    cached = None
                    speech, timing = self.synthesize(
                        translation,
                        voice=voice,
                        total_s=total_s,
                        options=opts,
                        cache_dir=wd.path("speech"),
                        on_event=on_event,
                    )
                    timing.save(timing_path)
                    speech.save_wav(speech_path)
                    wd.record("speak", key, speech_path)
                done("speak", cached is not None, st)

            # -- mix
            with stage(on_event, "mix") as st:
                key = settings_key(
                    content_key(speech_path),
                    audio_key,
                    opts.keep_background,
                    self._key_of("separator") if opts.keep_background else None,
                    [(s.start_s, s.end_s) for s in source.segments],
                )
                dub_path = wd.path(f"dub.{target}.wav")
                cached = wd.fresh("mix", key) if resume else None
                if cached is not None:
                    soundtrack = AudioClip.load_wav(cached)
                else:
                    soundtrack = self.mix(speech, original, source, options=opts)
                    wd.record("mix", key, soundtrack.save_wav(dub_path))
                done("mix", cached is not None, st)
            if stop_after == "speak":
                return DubResult(
                    None,
                    wd.root,
                    source,
                    translation,
                    timing,
                    speech_audio=speech_path,
                    dub_audio=dub_path,
                    ran=tuple(ran),
                    reused=tuple(reused),
                )

            # -- lipsync (the engine reports its own "lipsync" stage with frame progress)
            key = settings_key(
                input_key,
                content_key(speech_path),
                content_key(dub_path),
                self._key_of("lipsyncer"),
                self._key_of("detector"),
                list(opts.pads),
                opts.crf,
                str(out_path),
                opts.burn_subtitles,
                opts.max_chars_per_line,
            )
            cached = wd.fresh("lipsync", key) if resume else None
            if cached is not None and cached.resolve() == out_path.resolve():
                with stage(on_event, "lipsync") as st:
                    prev = wd.info("lipsync")
                    frames_total = int(prev.get("frames_total", 0))
                    frames_synced = int(prev.get("frames_synced", 0))
                    done("lipsync", True, st)
            else:
                track = None
                if not info.is_image:
                    with stage(on_event, "track", total=info.frame_count, unit="frames") as st:
                        before = set(wd.root.glob("facetrack.*.json"))
                        track = self.track_faces(in_path, cache_dir=wd.root, on_event=on_event)
                        done("track", before == set(wd.root.glob("facetrack.*.json")), st)
                    if not opts.allow_no_face:
                        from lipdub.faces.track import require_face

                        require_face(track, source=in_path)
                cues = None
                if opts.burn_subtitles:
                    from lipdub.dub.subtitles import subtitle_cues

                    cues = subtitle_cues(
                        translation, timing, max_chars_per_line=opts.max_chars_per_line
                    )
                result = self.lipsync(
                    in_path,
                    speech,
                    out_path,
                    soundtrack=soundtrack,
                    speech_spans=timing.speech_spans,
                    track=track,
                    subtitles=cues,
                    options=opts,
                    on_event=on_event,
                )
                frames_total = result.frames_total
                frames_synced = result.frames_synced
                wd.record(
                    "lipsync",
                    key,
                    out_path,
                    frames_total=frames_total,
                    frames_synced=frames_synced,
                )
                done("lipsync", False, {})
            frames_passed = frames_total - frames_synced

            # -- subtitles
            subs: tuple[Path, ...] = ()
            if stop_after != "lipsync":
                subs = self._write_subtitles(source, translation, timing, out_path, info, opts)
            return DubResult(
                out_path,
                wd.root,
                source,
                translation,
                timing,
                subtitles=subs,
                speech_audio=speech_path,
                dub_audio=dub_path,
                frames_total=frames_total,
                frames_synced=frames_synced,
                frames_passed_through=frames_passed,
                ran=tuple(ran),
                reused=tuple(reused),
            )
        except LipdubError:
            raise
        except Exception as e:
            if info.is_image:
                skipped.add("track")
            failed = next((s for s in _STAGE_ORDER if s not in {*ran, *reused, *skipped}), "dub")
            raise PipelineError(
                f"the dub failed at the {failed!r} stage: {type(e).__name__}: {e}",
                path=in_path,
                hint=f"artifacts so far are kept in {wd.root}; fix the cause and re-run to resume",
            ) from e

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _load_edited_translation(
        wd: Any, json_path: Path, srt_path: Path, target: str
    ) -> Transcript:
        """The translation, taking a user's edit of the SRT copy into account."""
        from lipdub.dub.workdir import content_key

        entry = wd.info("translate")
        translation = Transcript.load(json_path)
        if srt_path.exists() and content_key(srt_path) != entry.get("srt_hash"):
            json_edited = content_key(json_path) != entry.get("json_hash")
            if json_edited:
                logger.warning("both %s and %s were edited; using the JSON", json_path, srt_path)
            else:
                edited = Transcript.from_srt(srt_path.read_text(encoding="utf-8"), target)
                if len(edited) != len(translation):
                    raise InputError(
                        f"the edited subtitles have {len(edited)} cues but the translation has "
                        f"{len(translation)} segments",
                        path=srt_path,
                        hint="keep one cue per segment, or edit the JSON instead",
                    )
                segs = tuple(
                    dataclasses.replace(old, text=new.text)
                    for old, new in zip(translation.segments, edited.segments, strict=True)
                )
                translation = Transcript(target, segs)
                translation.save(json_path)
        return translation

    @staticmethod
    def _write_subtitles(
        source: Transcript,
        translation: Transcript,
        timing: TimingReport,
        out_path: Path,
        info: VideoInfo,
        opts: DubOptions,
    ) -> tuple[Path, ...]:
        from lipdub.dub.subtitles import subtitle_cues

        written: list[Path] = []
        stem = out_path.stem.removesuffix(f".{translation.language}")
        target_cues = subtitle_cues(translation, timing, max_chars_per_line=opts.max_chars_per_line)
        source_cues = subtitle_cues(source, None, max_chars_per_line=opts.max_chars_per_line)
        for fmt in opts.subtitles:
            name = f"{stem}.{translation.language}.{fmt}"
            written.append(target_cues.save(out_path.with_name(name)))
            if not info.is_image and source.segments and source.segments[-1].end_s > 0:
                name = f"{stem}.{source.language}.{fmt}"
                if source.language != translation.language:
                    written.append(source_cues.save(out_path.with_name(name)))
        return tuple(written)


class _WavCache:
    """Per-utterance speech cache in ``<workdir>/speech/<key>.wav``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, key: str, make: Any) -> AudioClip:
        path = self.root / f"{key}.wav"
        if path.is_file():
            try:
                return AudioClip.load_wav(path)
            except LipdubError:
                pass
        clip: AudioClip = make()
        clip.save_wav(path)
        return clip
