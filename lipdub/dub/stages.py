"""The stages of a dub as objects, and the one rule that runs them all.

A stage declares its artifacts (primary first), its key (content hashes of its
inputs plus the declared :meth:`~lipdub.component.Component.settings` of the
components it uses) and how to ``load`` a kept result, ``compute`` a new one and
``save`` it. :func:`run_stage` decides, from the work directory's record
(:mod:`lipdub.dub.workdir`):

======================================  =============================================
situation                               what happens
======================================  =============================================
same key, files as lipdub wrote them    reused
the user edited a text artifact         kept and used; downstream stages redo
  (or placed it there before the stage  (a placed file, or one found after the
  ran, or the manifest was lost)        manifest was lost, is used with a notice)
...and the stage's inputs changed too   :class:`~lipdub.errors.EditConflict`; nothing
                                        is overwritten (``keep`` / ``redo`` decide)
anything else (new key, missing or      computed and saved (atomically); damaged
damaged media)                          outputs are redone
======================================  =============================================

Adding a stage is one class here and one line in :data:`PLAN`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from lipdub._hashing import content_key, settings_key
from lipdub.errors import (
    Cancelled,
    EditConflict,
    InputError,
    LipdubError,
    NoSpeechError,
    PipelineError,
)
from lipdub.events import (
    CancelSignal,
    EventCallback,
    StageFinished,
    StageStarted,
    StageWarning,
    check_cancel,
    emit,
)
from lipdub.types import AudioClip, Segment, Transcript

if TYPE_CHECKING:
    from lipdub.component import Component
    from lipdub.dub.options import DubOptions
    from lipdub.dub.pipeline import DubbingPipeline
    from lipdub.dub.timing import TimingReport
    from lipdub.dub.workdir import Workdir
    from lipdub.types import VideoInfo

__all__ = [
    "PLAN",
    "Extract",
    "Lang",
    "LipSync",
    "Mix",
    "Run",
    "Separate",
    "Speak",
    "Stage",
    "Subtitles",
    "Track",
    "Transcribe",
    "Translate",
    "component_identity",
    "run_stage",
]

logger = logging.getLogger(__name__)


def component_identity(component: Component) -> dict[str, Any]:
    """What identifies a component's output in a key: its class, name and settings."""
    return {
        "class": type(component).__qualname__,
        "name": component.name,
        "settings": component.settings(),
    }


# --------------------------------------------------------------------------- run state


@dataclass
class Lang:
    """One target language of a run: its output and what its stages produced."""

    target: str
    output: Path
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """Everything the stages of one :meth:`DubbingPipeline.run` share.

    ``values`` holds what the language-independent stages produced (the source audio,
    transcript, background, face track); each :class:`Lang` holds its own.
    """

    pipeline: DubbingPipeline
    wd: Workdir
    input: Path
    input_key: str
    info: VideoInfo
    options: DubOptions
    source_language: str | None
    text: str | None
    voice: str | None
    stop_after: str | None
    redo: frozenset[str]
    keep: frozenset[str]
    on_event: EventCallback | None
    cancel: CancelSignal | None
    values: dict[str, Any] = field(default_factory=dict)
    #: stage id -> ("ran" | "reused" | "yours", seconds)
    outcomes: dict[str, tuple[str, float]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    redone: set[str] = field(default_factory=set)

    def notice(self, stage: str, message: str) -> None:
        """Tell the user something worth knowing (a warning event and the log)."""
        logger.warning("%s", message)
        self.notices.append(message)
        emit(self.on_event, StageWarning(stage, message=message))


# --------------------------------------------------------------------------- the rule


class Stage(ABC):
    """One step of a dub: inputs -> key -> artifacts."""

    #: Stage name (``--stop-after``, ``--redo`` and events use it).
    name: ClassVar[str]
    #: Done once per target language (else once per run).
    per_language: ClassVar[bool] = False
    #: Its artifacts are text a person may edit; edits are kept, never overwritten.
    editable: ClassVar[bool] = False
    #: The stage reports its own StageStarted/StageFinished events (the lip-sync engine).
    own_events: ClassVar[bool] = False

    def stage_id(self, lang: Lang | None) -> str:
        """The manifest entry: ``"translate:es"`` for per-language stages."""
        return f"{self.name}:{lang.target}" if lang is not None else self.name

    def applies(self, run: Run, lang: Lang | None) -> bool:
        """Whether this run needs the stage at all."""
        return True

    @abstractmethod
    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        """The files the stage writes, primary first ([] when not known before it runs)."""

    @abstractmethod
    def key(self, run: Run, lang: Lang | None) -> str:
        """Content hashes of the inputs plus the declared settings of the components."""

    @abstractmethod
    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        """Read the kept artifacts into the run; returns files it had to (re)write."""

    @abstractmethod
    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        """Do the work, save the artifacts atomically, return the files written."""

    def info(self, run: Run, lang: Lang | None) -> dict[str, Any]:
        """Facts to keep in the manifest beside the key."""
        return {}

    def check(self, run: Run, lang: Lang | None) -> None:  # noqa: B027 (optional hook)
        """Validate the result (loaded or computed) before later stages use it."""

    def progress(self, run: Run, lang: Lang | None) -> tuple[float | None, str]:
        """Total amount of work and its unit, for the StageStarted event."""
        return None, ""

    def reusable(self, states: Mapping[Path, str]) -> bool:
        """Whether the kept files are enough to reuse the stage (all as lipdub wrote)."""
        return bool(states) and all(s == "ours" for s in states.values())


def run_stage(stage: Stage, run: Run, lang: Lang | None) -> None:
    """Reuse, adopt, or compute one stage instance (see the module docstring)."""
    if not stage.applies(run, lang):
        return
    check_cancel(run.cancel, stage.name)
    wd = run.wd
    sid = stage.stage_id(lang)
    detail = lang.target if lang is not None else ""
    total, unit = stage.progress(run, lang)
    t0 = time.perf_counter()
    if not stage.own_events:
        emit(run.on_event, StageStarted(stage.name, total=total, unit=unit, detail=detail))
    try:
        outcome = _decide_and_do(stage, run, lang, sid)
        stage.check(run, lang)
    except (LipdubError, KeyboardInterrupt):
        raise
    except Exception as e:
        raise PipelineError(
            f"the dub failed at the {stage.name!r} stage: {type(e).__name__}: {e}",
            path=run.input,
            hint=f"artifacts so far are kept in {wd.root}; fix the cause and re-run to resume",
        ) from e
    elapsed = time.perf_counter() - t0
    run.outcomes[sid] = (outcome, elapsed)
    if not stage.own_events or outcome != "ran":
        emit(
            run.on_event,
            StageFinished(stage.name, elapsed_s=elapsed, reused=outcome != "ran", detail=detail),
        )


def _decide_and_do(stage: Stage, run: Run, lang: Lang | None, sid: str) -> str:
    wd = run.wd
    key = stage.key(run, lang)
    rec = wd.get(sid)
    paths = stage.artifacts(run, lang)
    if (stage.name in run.redo) and sid not in run.redone:
        run.redone.add(sid)
        for p in paths:
            if stage.editable and wd.state(p, rec) == "edited":
                backup = wd.move_aside(p)
                run.notice(stage.name, f"moved your {p.name} aside to {backup.name} (--redo)")
        wd.forget(sid)
        rec = None
    states = {p: wd.state(p, rec) for p in paths}
    edited = [p for p, s in states.items() if s == "edited"]
    primary_here = bool(paths) and states[paths[0]] != "missing"

    if stage.editable and edited and primary_here:
        if rec is not None and rec.key != key and stage.name not in run.keep:
            name = edited[0].name
            raise EditConflict(
                f"{name} has your edits, but what it was made from changed since "
                f"(the {_upstream_word(stage)}); lipdub did not overwrite it",
                path=edited[0],
                hint=f"keep your edit: --keep {stage.name} (SDK: keep=['{stage.name}']); "
                f"or regenerate it: --redo {stage.name} (your file is first moved aside "
                "to a timestamped .bak)",
            )
        if rec is None:
            run.notice(stage.name, f"using your {paths[0].name} (not written by lipdub)")
        elif rec.key != key:
            run.notice(stage.name, f"keeping your edited {edited[0].name} (--keep)")
        rewritten = stage.load(run, lang)
        # Judge again after loading: a merge of an edited SRT into the JSON makes the
        # JSON the user's too; a missing copy lipdub wrote back is lipdub's.
        users = [p for p in paths if wd.state(p, rec) == "edited" and p not in rewritten]
        ours = [p for p in paths if p.is_file() and p not in users]
        wd.record(sid, key, ours, users=users, **stage.info(run, lang))
        return "yours"

    if stage.editable and edited:  # the primary is missing: keep the stray edit safe
        for p in edited:
            backup = wd.move_aside(p)
            run.notice(stage.name, f"moved your {p.name} aside to {backup.name}")
        states = {p: "missing" for p in paths}

    if rec is not None and rec.key == key and stage.reusable(states):
        rewritten = stage.load(run, lang)
        if rewritten:
            wd.record(sid, key, [p for p in paths if p.is_file()], **{**rec.info})
        return "reused"

    written = stage.compute(run, lang)
    wd.record(sid, key, written, **stage.info(run, lang))
    return "ran"


def _upstream_word(stage: Stage) -> str:
    return {
        "transcribe": "audio, the transcriber's settings or the given text",
        "translate": "transcript or the translator's settings",
    }.get(stage.name, "inputs")


# --------------------------------------------------------------------------- stages


class Extract(Stage):
    """The input's audio track as ``source.wav`` at the dub's sample rate."""

    name = "extract"

    def applies(self, run: Run, lang: Lang | None) -> bool:
        return run.info.has_audio and not run.info.is_image

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        return [run.wd.path("source.wav")]

    def key(self, run: Run, lang: Lang | None) -> str:
        return settings_key(run.input_key, run.options.sample_rate_hz)

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        run.values["original"] = AudioClip.load_wav(run.wd.path("source.wav"))
        run.values["audio_key"] = content_key(run.wd.path("source.wav"))
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        from lipdub.media import load_audio

        original = load_audio(run.input, run.options.sample_rate_hz)
        path = original.save_wav(run.wd.path("source.wav"))
        run.values["original"] = original
        run.values["audio_key"] = content_key(path)
        return [path]


class Transcribe(Stage):
    """The source transcript, ``transcript.<lang>.json`` (editable).

    With ``text=`` the transcript is that text over the whole input instead.
    """

    name = "transcribe"
    editable = True

    def _language_part(self, run: Run) -> str | None:
        rec = run.wd.get(self.name)
        recorded = rec.info.get("language") if rec else None
        src = run.source_language
        if src is None or src == recorded:
            return None  # asking for the language it already has changes nothing
        return src

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        wd = run.wd
        if run.text is not None:
            return [wd.path(f"transcript.{run.source_language or _first_target(run)}.json")]
        rec = wd.get(self.name)
        if rec is not None and rec.files:
            return wd.files_of(self.name)[:1]
        if run.source_language:
            return [wd.path(f"transcript.{run.source_language}.json")]
        found = sorted(wd.root.glob("transcript.*.json"))
        if len(found) > 1:
            raise InputError(
                f"{len(found)} transcripts in the work directory and no record of which is current",
                path=wd.root,
                hint="pass the spoken language (--from LANG), or remove the ones you do not want",
            )
        return found

    def key(self, run: Run, lang: Lang | None) -> str:
        if run.text is not None:
            return settings_key("text", run.text, run.source_language, _text_end(run))
        transcriber = component_identity(run.pipeline.component("transcriber"))
        return settings_key(run.values["audio_key"], transcriber, self._language_part(run))

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        path = self.artifacts(run, lang)[0]
        run.values["source"] = Transcript.load(path)
        run.values["transcript_path"] = path
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        if run.text is not None:
            language = run.source_language or _first_target(run)
            text = " ".join(run.text.split())
            source = Transcript(language, (Segment(0.0, _text_end(run), text),))
        else:
            original: AudioClip = run.values["original"]
            source = run.pipeline.transcribe(
                original.resample(16000), language=run.source_language, on_event=run.on_event
            )
            source = _within(source, original.duration_s)
        path = source.save(run.wd.path(f"transcript.{source.language}.json"))
        run.values["source"] = source
        run.values["transcript_path"] = path
        return [path]

    def info(self, run: Run, lang: Lang | None) -> dict[str, Any]:
        return {"language": run.values["source"].language}

    def check(self, run: Run, lang: Lang | None) -> None:
        source: Transcript = run.values["source"]
        path: Path = run.values["transcript_path"]
        if not any(s.text.strip() for s in source.segments):
            raise NoSpeechError(
                f"the transcript {path.name} has no text",
                path=path,
                hint="edit it, or pass --text",
            )
        _check_timeline(run, source, path)


class Translate(Stage):
    """``translation.<lang>.json`` and its SRT copy (both editable)."""

    name = "translate"
    per_language = True
    editable = True

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        return [
            run.wd.path(f"translation.{lang.target}.json"),
            run.wd.path(f"translation.{lang.target}.srt"),
        ]

    def _same_language(self, run: Run, lang: Lang) -> bool:
        from lipdub.languages import base_language

        source: Transcript = run.values["source"]
        return base_language(source.language) == base_language(lang.target)

    def key(self, run: Run, lang: Lang | None) -> str:
        assert lang is not None
        translator: Any = (
            "same-language"
            if self._same_language(run, lang)
            else component_identity(run.pipeline.component("translator"))
        )
        return settings_key(content_key(run.values["transcript_path"]), translator, lang.target)

    def reusable(self, states: Mapping[Path, str]) -> bool:
        primary, *rest = states.values()
        return primary == "ours" and all(s != "edited" for s in rest)

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        json_path, srt_path = self.artifacts(run, lang)
        translation = Transcript.load(json_path, lang.target)
        rec = run.wd.get(self.stage_id(lang))
        written: list[Path] = []
        if srt_path.is_file() and run.wd.state(srt_path, rec) == "edited":
            from_srt = Transcript.from_srt(srt_path.read_text(encoding="utf-8-sig"), lang.target)
            texts = [s.text for s in from_srt.segments]
            if texts != [s.text for s in translation.segments]:
                if run.wd.state(json_path, rec) == "edited":
                    run.notice(
                        self.name,
                        f"both {json_path.name} and {srt_path.name} were edited and differ; "
                        f"using {json_path.name}",
                    )
                else:
                    if len(from_srt) != len(translation):
                        raise InputError(
                            f"the edited subtitles have {len(from_srt)} cues but the "
                            f"translation has {len(translation)} segments",
                            path=srt_path,
                            hint="keep one cue per segment, or edit the JSON instead",
                        )
                    segs = tuple(
                        dataclasses.replace(old, text=new.text)
                        for old, new in zip(translation.segments, from_srt.segments, strict=True)
                    )
                    translation = Transcript(lang.target, segs)
                    # The JSON now carries the user's edit: recorded as theirs, not ours.
                    translation.save(json_path)
        elif not srt_path.is_file():
            written.append(translation.save(srt_path))
        lang.values["translation"] = translation
        return written

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        json_path, srt_path = self.artifacts(run, lang)
        translation = run.pipeline.translate(run.values["source"], lang.target)
        lang.values["translation"] = translation
        return [translation.save(json_path), translation.save(srt_path)]

    def check(self, run: Run, lang: Lang | None) -> None:
        assert lang is not None
        translation: Transcript = lang.values["translation"]
        _check_timeline(run, translation, self.artifacts(run, lang)[0])
        empty = translation.blank_segments()
        if empty and len(empty) == len(translation.segments):
            raise NoSpeechError(
                f"the translation translation.{lang.target}.json has no text",
                path=run.wd.path(f"translation.{lang.target}.json"),
                hint="edit it, or re-run with --redo translate",
            )
        if empty:
            run.notice(
                self.name,
                f"translation.{lang.target}.json: segment(s) {', '.join(map(str, empty))} "
                "are empty and will be silent",
            )


class Speak(Stage):
    """The dubbed speech at the source timing: ``speech.<lang>.wav`` + ``timing.<lang>.json``."""

    name = "speak"
    per_language = True

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        return [
            run.wd.path(f"speech.{lang.target}.wav"),
            run.wd.path(f"timing.{lang.target}.json"),
        ]

    def _total_s(self, run: Run) -> float | None:
        return None if run.info.is_image else run.info.duration_s

    def key(self, run: Run, lang: Lang | None) -> str:
        assert lang is not None
        opts = run.options
        return settings_key(
            content_key(run.wd.path(f"translation.{lang.target}.json")),
            component_identity(run.pipeline.component("voice")),
            run.voice,
            dict(opts.voice_map),
            dataclasses.asdict(opts.fit),
            self._total_s(run),
            opts.sample_rate_hz,
        )

    def progress(self, run: Run, lang: Lang | None) -> tuple[float | None, str]:
        assert lang is not None
        return len(lang.values["translation"].segments), "segments"

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        from lipdub.dub.timing import TimingReport

        assert lang is not None
        speech_path, timing_path = self.artifacts(run, lang)
        lang.values["speech"] = AudioClip.load_wav(speech_path)
        lang.values["timing"] = TimingReport.load(timing_path)
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        speech_path, timing_path = self.artifacts(run, lang)
        speech, timing = run.pipeline.synthesize(
            lang.values["translation"],
            voice=run.voice,
            total_s=self._total_s(run),
            options=run.options,
            cache_dir=run.wd.path("speech"),
            on_event=run.on_event,
        )
        lang.values["speech"], lang.values["timing"] = speech, timing
        return [speech.save_wav(speech_path), timing.save(timing_path)]


def _source_spans(run: Run) -> list[tuple[float, float]]:
    return [(s.start_s, s.end_s) for s in run.values["source"].segments]


class Separate(Stage):
    """The original background without the voice, ``background.wav`` (once per input)."""

    name = "separate"

    def applies(self, run: Run, lang: Lang | None) -> bool:
        return run.options.keep_background and run.values.get("original") is not None

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        return [run.wd.path("background.wav")]

    def key(self, run: Run, lang: Lang | None) -> str:
        separator = component_identity(run.pipeline.component("separator"))
        return settings_key(run.values["audio_key"], separator, _source_spans(run))

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        run.values["background"] = AudioClip.load_wav(run.wd.path("background.wav"))
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        separator = run.pipeline.component("separator")
        background = separator.separate(run.values["original"], _source_spans(run)).background
        run.values["background"] = background
        return [background.save_wav(run.wd.path("background.wav"))]


class Mix(Stage):
    """The dubbed soundtrack, ``dub.<lang>.wav``: speech over the kept background."""

    name = "mix"
    per_language = True

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        return [run.wd.path(f"dub.{lang.target}.wav")]

    def key(self, run: Run, lang: Lang | None) -> str:
        assert lang is not None
        background = run.wd.path("background.wav") if "background" in run.values else None
        return settings_key(
            content_key(run.wd.path(f"speech.{lang.target}.wav")),
            run.values.get("audio_key"),
            content_key(background) if background is not None else None,
            run.options.keep_background,
            _source_spans(run),
        )

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        lang.values["soundtrack"] = AudioClip.load_wav(self.artifacts(run, lang)[0])
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        from lipdub.dub.mix import remix

        assert lang is not None
        soundtrack = remix(
            lang.values["speech"],
            run.values.get("original"),
            source_speech_spans=_source_spans(run),
            background=run.values.get("background"),
            keep_background=run.options.keep_background,
        )
        lang.values["soundtrack"] = soundtrack
        return [soundtrack.save_wav(self.artifacts(run, lang)[0])]


class Track(Stage):
    """The face through the video, ``facetrack.<key>.json`` (once per input and detector)."""

    name = "track"

    def applies(self, run: Run, lang: Lang | None) -> bool:
        return not run.info.is_image

    def _key(self, run: Run) -> str:
        if "track_key" not in run.values:
            from lipdub.faces.track import FaceTracker, track_cache_key

            tracker = FaceTracker(run.pipeline.component("detector"))
            run.values["track_key"] = track_cache_key(run.input, tracker.settings)
        key: str = run.values["track_key"]
        return key

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        return [run.wd.path(f"facetrack.{self._key(run)}.json")]

    def key(self, run: Run, lang: Lang | None) -> str:
        return self._key(run)

    def progress(self, run: Run, lang: Lang | None) -> tuple[float | None, str]:
        return run.info.frame_count, "frames"

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        from lipdub.faces.track import FaceTrack

        run.values["track"] = FaceTrack.load(self.artifacts(run, lang)[0])
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        track = run.pipeline.track_faces(run.input, on_event=run.on_event)
        run.values["track"] = track
        return [track.save(self.artifacts(run, lang)[0])]

    def check(self, run: Run, lang: Lang | None) -> None:
        if not run.options.allow_no_face:
            from lipdub.faces.track import require_face

            require_face(run.values["track"], source=run.input)


class LipSync(Stage):
    """The output video: lips synced to the dubbed speech, carrying the soundtrack."""

    name = "lipsync"
    per_language = True
    own_events = True

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        return [lang.output]

    def key(self, run: Run, lang: Lang | None) -> str:
        assert lang is not None
        opts = run.options
        pipe = run.pipeline
        return settings_key(
            run.input_key,
            content_key(run.wd.path(f"speech.{lang.target}.wav")),
            content_key(run.wd.path(f"dub.{lang.target}.wav")),
            run.values.get("track_key"),
            component_identity(pipe.component("lipsyncer")),
            None if "track" in run.values else component_identity(pipe.component("detector")),
            list(opts.pads),
            opts.crf,
            opts.allow_no_face,
            _burned_subtitles_key(run, lang),
        )

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        rec = run.wd.get(self.stage_id(lang))
        info = rec.info if rec else {}
        lang.values["frames_total"] = int(info.get("frames_total", 0))
        lang.values["frames_synced"] = int(info.get("frames_synced", 0))
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        cues = None
        if run.options.burn_subtitles:
            from lipdub.dub.subtitles import subtitle_cues

            cues = subtitle_cues(
                lang.values["translation"],
                lang.values["timing"],
                max_chars_per_line=run.options.max_chars_per_line,
            )
        timing: TimingReport = lang.values["timing"]
        result = run.pipeline.lipsync(
            run.input,
            lang.values["speech"],
            lang.output,
            soundtrack=lang.values["soundtrack"],
            speech_spans=timing.speech_spans,
            track=run.values.get("track"),
            subtitles=cues,
            options=run.options,
            on_event=run.on_event,
        )
        lang.values["frames_total"] = result.frames_total
        lang.values["frames_synced"] = result.frames_synced
        return [lang.output]

    def info(self, run: Run, lang: Lang | None) -> dict[str, Any]:
        assert lang is not None
        return {
            "frames_total": lang.values["frames_total"],
            "frames_synced": lang.values["frames_synced"],
        }


def _burned_subtitles_key(run: Run, lang: Lang) -> Any:
    if not run.options.burn_subtitles:
        return None
    return [
        content_key(run.wd.path(f"translation.{lang.target}.json")),
        run.options.max_chars_per_line,
    ]


class Subtitles(Stage):
    """Subtitle files beside the output, for the target and the source language."""

    name = "subtitles"
    per_language = True

    def _paths(self, run: Run, lang: Lang) -> list[tuple[str, Path]]:
        source: Transcript = run.values["source"]
        stem = lang.output.stem.removesuffix(f".{lang.target}")
        out: list[tuple[str, Path]] = []
        has_source_times = not run.info.is_image and source.segments[-1].end_s > 0
        for fmt in run.options.subtitles:
            out.append(("target", lang.output.with_name(f"{stem}.{lang.target}.{fmt}")))
            if has_source_times and source.language != lang.target:
                out.append(("source", lang.output.with_name(f"{stem}.{source.language}.{fmt}")))
        return out

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        return [p for _, p in self._paths(run, lang)]

    def key(self, run: Run, lang: Lang | None) -> str:
        assert lang is not None
        return settings_key(
            content_key(run.values["transcript_path"]),
            content_key(run.wd.path(f"translation.{lang.target}.json")),
            content_key(run.wd.path(f"timing.{lang.target}.json")),
            run.options.max_chars_per_line,
        )

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        lang.values["subtitles"] = tuple(self.artifacts(run, lang))
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        from lipdub.dub.subtitles import subtitle_cues

        assert lang is not None
        width = run.options.max_chars_per_line
        cues = {
            "target": subtitle_cues(
                lang.values["translation"], lang.values["timing"], max_chars_per_line=width
            ),
            "source": subtitle_cues(run.values["source"], None, max_chars_per_line=width),
        }
        written = [cues[which].save(path) for which, path in self._paths(run, lang)]
        lang.values["subtitles"] = tuple(written)
        return written


def _within(transcript: Transcript, duration_s: float) -> Transcript:
    """A recogniser's segments clipped to the audio they came from (ends may round up)."""
    segs = tuple(
        dataclasses.replace(s, end_s=min(s.end_s, duration_s)) if s.end_s > duration_s else s
        for s in transcript.segments
        if s.start_s < duration_s
    )
    return dataclasses.replace(transcript, segments=segs)


def _check_timeline(run: Run, transcript: Transcript, path: Path) -> None:
    """Segments must lie inside the input (or, for a still, the longest audio allowed)."""
    from lipdub.limits import Limits
    from lipdub.types import check_segments_within

    if run.info.is_image:
        limit = Limits.from_env().max_audio_duration_s
        check_segments_within(transcript, limit, source=path, what="the longest audio lipdub makes")
    else:
        check_segments_within(transcript, run.info.duration_s, source=path)


def _first_target(run: Run) -> str:
    targets: Sequence[str] = run.values["targets"]
    return targets[0]


def _text_end(run: Run) -> float:
    return 0.0 if run.info.is_image else float(run.info.duration_s)


#: The stages of a dub in order, and the ``stop_after`` value that ends after each.
PLAN: tuple[tuple[Stage, str | None], ...] = (
    (Extract(), None),
    (Transcribe(), "transcribe"),
    (Translate(), "translate"),
    (Speak(), None),
    (Separate(), None),
    (Mix(), "speak"),
    (Track(), None),
    (LipSync(), "lipsync"),
    (Subtitles(), None),
)

# Cancelled must never be wrapped as a stage failure.
assert issubclass(Cancelled, LipdubError)
