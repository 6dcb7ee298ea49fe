"""The text stages: the source transcript, who speaks when, and the translation.

Their artifacts are the ones a person edits; the runner never overwrites an edit."""

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
    pass

__all__ = ["Diarize", "Transcribe", "Translate"]


class Transcribe(Stage):
    """The source transcript, ``transcript.<lang>.json`` (editable).

    With ``text=`` the transcript is that text over the whole input instead.

    The key is the audio, the transcriber's settings and the language asked for
    (``source_language``; None: detected), never the language a manifest recorded: a
    run asking for ``en`` keys alike whether or not an earlier run found ``en``. The
    manifest keeps the asked language (``info["asked"]``) so that a later run made
    for the user (the review page's) can ask the same.
    """

    name = "transcribe"
    editable = True

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        wd = run.wd
        if run.text is not None:
            return [wd.path(f"transcript.{run.source_language or _first_target(run)}.json")]
        recorded = wd.files_of(self.name)[:1]  # only files inside the work directory
        if recorded:
            return recorded
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
        return settings_key(run.values["audio_key"], transcriber, run.source_language)

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
        # as a resumed run reads it (the file's rounding), so what follows is the same
        run.values["source"] = Transcript.load(path)
        run.values["transcript_path"] = path
        return [path]

    def info(self, run: Run, lang: Lang | None) -> dict[str, Any]:
        return {"language": run.values["source"].language, "asked": run.source_language}

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
        written = [translation.save(json_path), translation.save(srt_path)]
        lang.values["translation"] = Transcript.load(json_path, lang.target)  # as resumed
        return written

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


def _within(transcript: Transcript, duration_s: float) -> Transcript:
    """A recogniser's segments clipped to the audio they came from (ends may round up)."""
    segs = tuple(
        dataclasses.replace(s, end_s=min(s.end_s, duration_s)) if s.end_s > duration_s else s
        for s in transcript.segments
        if s.start_s < duration_s
    )
    return dataclasses.replace(transcript, segments=segs)


def _check_timeline(run: Run, transcript: Transcript, path: Path) -> None:
    """Segments must lie inside the input (or, for a still, the longest audio allowed),
    and their texts be short enough to speak (checked before translating or speaking)."""
    from lipdub.limits import Limits
    from lipdub.types import check_segment_lengths, check_segments_within

    if run.info.is_image:
        limit = Limits.from_env().max_audio_duration_s
        check_segments_within(transcript, limit, source=path, what="the longest audio lipdub makes")
    else:
        check_segments_within(transcript, run.info.duration_s, source=path)
    check_segment_lengths(
        transcript, total_s=None if run.info.is_image else run.info.duration_s, source=path
    )


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
        vocals = run.values.get("vocals_key")  # the isolated voice, when a model separated
        return settings_key(run.values["audio_key"], diarizer, *((vocals,) if vocals else ()))

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

        vocals: AudioClip | None = run.values.get("vocals")
        voice = vocals if vocals is not None else run.values["original"]
        turns = run.pipeline.component("diarizer").diarize(
            voice.resample(16000), on_event=run.on_event
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
