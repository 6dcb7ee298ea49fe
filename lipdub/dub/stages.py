"""The stages of a dub, in order: what each reads, writes and keys on.

Each is a :class:`~lipdub.dub.runner.Stage`; :func:`~lipdub.dub.runner.run_stage`
decides whether to reuse, adopt or compute it. Adding a stage is one class here and one
line in :data:`PLAN`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub._hashing import content_key, settings_key
from lipdub.dub.runner import Lang, Run, Stage, component_identity
from lipdub.errors import InputError, NoSpeechError
from lipdub.types import AudioClip, Segment, Transcript

if TYPE_CHECKING:
    from lipdub.dub.report import TimingReport

__all__ = [
    "PLAN",
    "Diarize",
    "Extract",
    "LipSync",
    "Mix",
    "Separate",
    "Speak",
    "Subtitles",
    "Track",
    "Transcribe",
    "Translate",
]


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
        return settings_key(
            content_key(run.values["transcript_path"]),
            translator,
            lang.target,
            *_speakers_part(run),
        )

    def reusable(self, states: Mapping[Path, str]) -> bool:
        primary, *rest = states.values()
        return primary == "ours" and all(s != "edited" for s in rest)

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        json_path, srt_path = self.artifacts(run, lang)
        translation = Transcript.load(json_path, lang.target)
        rec = run.wd.get(self.stage_id(lang))
        written: list[Path] = []
        srt_new = srt_path.is_file() and run.wd.changed(srt_path, rec)
        json_new = run.wd.changed(json_path, rec)
        if srt_new:
            from_srt = Transcript.from_srt(srt_path.read_text(encoding="utf-8-sig"), lang.target)
            texts = [s.text for s in from_srt.segments]
            if texts != [s.text for s in translation.segments]:
                # Both changed (or no record of either, after a lost manifest): the one
                # edited last wins; the other stays on disk (the JSON as a .bak).
                srt_wins = not json_new or (
                    srt_path.stat().st_mtime_ns > json_path.stat().st_mtime_ns
                )
                if not srt_wins:
                    run.notice(
                        self.name,
                        f"both {json_path.name} and {srt_path.name} were edited and differ; "
                        f"using {json_path.name}, the later one",
                    )
                else:
                    if len(from_srt) != len(translation):
                        raise InputError(
                            f"the edited subtitles have {len(from_srt)} cues but the "
                            f"translation has {len(translation)} segments",
                            path=srt_path,
                            hint="keep one cue per segment, or edit the JSON instead",
                        )
                    if json_new:
                        backup = run.wd.move_aside(json_path)
                        run.notice(
                            self.name,
                            f"both {json_path.name} and {srt_path.name} were edited and differ; "
                            f"using {srt_path.name}, the later one ({json_path.name} kept "
                            f"as {backup.name})",
                        )
                    segs = tuple(
                        dataclasses.replace(old, text=new.text)
                        for old, new in zip(translation.segments, from_srt.segments, strict=True)
                    )
                    translation = Transcript(lang.target, segs)
                    # The JSON now carries the user's edit: recorded as theirs, not ours.
                    translation.save(json_path)
        elif not srt_path.is_file() or json_new:
            # the SRT copy (unchanged since last seen, or none) follows the user's JSON
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
            _voice_map(run),
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
            options=dataclasses.replace(run.options, voice_map=_voice_map(run)),
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
        background = separator.separate(
            run.values["original"], _source_spans(run), on_event=run.on_event
        ).background
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
            _engine_look(),
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


def _engine_look() -> dict[str, Any]:
    """The lip-sync engine's defaults that change how the output looks (mask, blend)."""
    from lipdub.lipsync.options import LipSyncOptions

    defaults = LipSyncOptions()
    return {
        name: getattr(defaults, name)
        for name in ("mask", "feather", "color_match", "mouth_only", "preset")
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


class Diarize(Stage):
    """Who speaks when: ``speakers.json`` (editable), the source segments split and labelled.

    Runs when the pipeline has a diarizer. The map's voices join the voice map.
    """

    name = "diarize"
    editable = True

    def applies(self, run: Run, lang: Lang | None) -> bool:
        return (
            run.pipeline.diarizer_spec() is not None
            and run.text is None
            and run.values.get("original") is not None
        )

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        return [run.wd.path("speakers.json")]

    def key(self, run: Run, lang: Lang | None) -> str:
        diarizer = component_identity(run.pipeline.component("diarizer"))
        return settings_key(run.values["audio_key"], diarizer)

    def _use(self, run: Run, path: Path) -> None:
        from lipdub.diarize import label_segments
        from lipdub.diarize.speakers import SpeakerMap

        speakers = SpeakerMap.load(path)
        run.values["source"] = label_segments(run.values["source"], speakers.turns)
        run.values["speakers"] = speakers
        run.values["speakers_key"] = content_key(path)

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        self._use(run, self.artifacts(run, lang)[0])
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        from lipdub.diarize.speakers import SpeakerMap

        original: AudioClip = run.values["original"]
        turns = run.pipeline.component("diarizer").diarize(
            original.resample(16000), on_event=run.on_event
        )
        path = SpeakerMap.from_turns(turns).save(self.artifacts(run, lang)[0])
        self._use(run, path)
        return [path]


def _speakers_part(run: Run) -> tuple[str, ...]:
    """The speaker map's hash for later keys (nothing when no diarizer ran)."""
    key = run.values.get("speakers_key")
    return (key,) if key else ()


def _voice_map(run: Run) -> dict[str, str]:
    """The voice map: the speaker map's voices, overridden by the options' ``voice_map``."""
    speakers = run.values.get("speakers")
    return {**(speakers.voices() if speakers else {}), **dict(run.options.voice_map)}


#: The stages of a dub in order, and the ``stop_after`` value that ends after each.
PLAN: tuple[tuple[Stage, str | None], ...] = (
    (Extract(), None),
    (Transcribe(), "transcribe"),
    (Diarize(), None),
    (Translate(), "translate"),
    (Speak(), None),
    (Separate(), None),
    (Mix(), "speak"),
    (Track(), None),
    (LipSync(), "lipsync"),
    (Subtitles(), None),
)
