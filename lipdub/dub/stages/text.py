"""The text stages: the source transcript, who speaks when, and the translation.

Their artifacts are the ones a person edits; the runner never overwrites an edit."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub import artifacts
from lipdub._hashing import content_key, settings_key
from lipdub.dub import operations
from lipdub.dub.runner import LangStage, Run, Stage, component_identity
from lipdub.dub.state import (
    Diarized,
    Extracted,
    Separated,
    Target,
    Transcribed,
    Translated,
    Voiced,
    advance,
)
from lipdub.errors import InputError, NoSpeechError
from lipdub.types import Segment, Transcript
from lipdub.types.fit import FitRequest

if TYPE_CHECKING:
    from lipdub.diarize.assign import EstimatedSplit

__all__ = ["Diarize", "Transcribe", "Translate", "glossary_problems", "voice_map"]


class Transcribe(Stage[Extracted, Transcribed]):
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
    upstream = "audio, the language asked (--from), the transcriber's settings or the given text"

    def artifacts(self, run: Run, st: Extracted) -> list[Path]:
        wd = run.wd
        if run.text is not None:
            return [wd.path(artifacts.transcript(run.source_language or run.targets[0]))]
        recorded = wd.files_of(self.name)[:1]  # only files inside the work directory
        if recorded:
            return recorded
        if run.source_language:
            return [wd.path(artifacts.transcript(run.source_language))]
        found = sorted(wd.root.glob(artifacts.pattern(artifacts.TRANSCRIPT)))
        if len(found) > 1:
            raise InputError(
                f"{len(found)} transcripts in the work directory and no record of which is current",
                path=wd.root,
                hint="pass the spoken language (--from LANG), or remove the ones you do not want",
            )
        return found

    def key(self, run: Run, st: Extracted) -> str:
        if run.text is not None:
            return settings_key("text", run.text, run.source_language, _text_end(run))
        transcriber = component_identity(run.components.transcriber())
        return settings_key(st.audio_key, transcriber, run.source_language)

    def _read(self, st: Extracted, path: Path) -> Transcribed:
        return advance(st, Transcribed, source=Transcript.load(path), transcript_path=path)

    def load(self, run: Run, st: Extracted) -> tuple[Transcribed, list[Path]]:
        return self._read(st, self.artifacts(run, st)[0]), []

    def compute(self, run: Run, st: Extracted) -> tuple[Transcribed, list[Path]]:
        if run.text is not None:
            language = run.source_language or run.targets[0]
            text = " ".join(run.text.split())
            source = Transcript(language, (Segment(0.0, _text_end(run), text),))
        else:
            if st.original is None:
                raise NoSpeechError("the input has no audio to transcribe", path=run.input)
            source = operations.transcribe(
                run.components.transcriber(),
                st.original.resample(16000),
                language=run.source_language,
                on_event=run.on_event,
            )
            source = _within(source, st.original.duration_s)
        path = source.save(run.wd.path(artifacts.transcript(source.language)))
        # as a resumed run reads it (the file's rounding), so what follows is the same
        return self._read(st, path), [path]

    def info(self, run: Run, out: Transcribed) -> dict[str, Any]:
        return {"language": out.source.language, "asked": run.source_language}

    def check(self, run: Run, out: Transcribed) -> None:
        path = out.transcript_path
        if not any(s.text.strip() for s in out.source.segments):
            raise NoSpeechError(
                f"the transcript {path.name} has no text",
                path=path,
                hint="edit it, or pass --text",
            )
        _check_timeline(run, out.source, path)


class Translate(LangStage[Voiced, Target, Translated]):
    """``translation.<lang>.json`` and its SRT copy (both editable).

    A length-aware translator (:attr:`~lipdub.translate.base.Translator.length_aware`)
    is given every line's time budget (:func:`~lipdub.dub.budget.fit_request`: the
    slot plus the silences the timing fit may borrow, the target voice's
    speech-length predictor, ``max_rate``); the others are called as they always were.
    """

    name = "translate"
    editable = True
    upstream = "transcript, the translator's settings, the glossary or (length-aware) the budgets"

    def artifacts(self, run: Run, src: Voiced, st: Target) -> list[Path]:
        return [
            run.path(artifacts.translation(st.target)),
            run.path(artifacts.translation_srt(st.target)),
        ]

    def key(self, run: Run, src: Voiced, st: Target) -> str:
        translator: Any = (
            "same-language"
            if operations.same_language(src.source.language, st.target)
            else component_identity(run.components.translator())
        )
        # A length-aware translator writes for the budgets (and the voice's predictor,
        # max_rate and speakers), so they are part of what it made. The others never
        # see them: keying them would redo (and discard) a translation, an edited one
        # included, whenever a fit option or the voice changed, for the same text.
        fit = self._fit(run, src, st)
        return settings_key(
            content_key(src.transcript_path),
            translator,
            st.target,
            *((src.speakers_key,) if src.speakers_key else ()),
            *((glossary.key(),) if (glossary := run.options.glossary) else ()),
            *((dataclasses.asdict(fit),) if fit is not None else ()),
        )

    def _fit(self, run: Run, src: Voiced, st: Target) -> FitRequest | None:
        """Every line's time budget, for a length-aware translator (else None; also
        for a still image, whose length follows the speech)."""
        if run.info.is_image or operations.same_language(src.source.language, st.target):
            return None
        if not run.components.translator().length_aware:
            return None
        from lipdub.dub.budget import fit_request
        from lipdub.voice.length import predictor_for

        length = predictor_for(run.components.voice(), language=st.target, voice=run.voice)
        return fit_request(src.source, length, total_s=run.info.duration_s, options=run.options.fit)

    def reusable(self, states: Mapping[Path, str]) -> bool:
        primary, *rest = states.values()
        return primary == "ours" and all(s != "edited" for s in rest)

    def load(self, run: Run, src: Voiced, st: Target) -> tuple[Translated, list[Path]]:
        lang = st
        json_path, srt_path = self.artifacts(run, src, st)
        translation = Transcript.load(json_path, lang.target)
        rec = run.wd.get(f"{self.name}:{lang.target}")
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
        return advance(st, Translated, translation=translation), written

    def compute(self, run: Run, src: Voiced, st: Target) -> tuple[Translated, list[Path]]:
        json_path, srt_path = self.artifacts(run, src, st)
        translation = operations.translate(
            run.components.translator,
            src.source,
            st.target,
            glossary=run.options.glossary,
            fit=self._fit(run, src, st),
        )
        written = [translation.save(json_path), translation.save(srt_path)]
        as_resumed = Transcript.load(json_path, st.target)
        return advance(st, Translated, translation=as_resumed), written

    def check(self, run: Run, src: Voiced, out: Translated) -> None:
        translation = out.translation
        name = artifacts.translation(out.target)
        _check_timeline(run, translation, run.path(name))
        empty = translation.blank_segments()
        if empty and len(empty) == len(translation.segments):
            raise NoSpeechError(
                f"the translation {name} has no text",
                path=run.path(name),
                hint="edit it, or re-run with --redo translate",
            )
        if empty:
            run.notice(
                self.name,
                f"{name}: segment(s) {', '.join(map(str, empty))} are empty and will be silent",
            )
        for i, problems in glossary_problems(run, src.source, translation).items():
            for problem in problems:
                run.notice(self.name, f"{name}: segment {i}: {problem}")


def glossary_problems(
    run: Run, source: Transcript, translation: Transcript
) -> dict[int, list[str]]:
    """The glossary terms each line of ``translation`` breaks (lines with none left out)."""
    glossary = run.options.glossary
    if not glossary or operations.same_language(source.language, translation.language):
        return {}  # nothing was translated
    found = {}
    for i, (s, t) in enumerate(zip(source.segments, translation.segments, strict=False)):
        problems = glossary.check(s.text, t.text)
        if problems:
            found[i] = problems
    return found


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


def _text_end(run: Run) -> float:
    return 0.0 if run.info.is_image else float(run.info.duration_s)


class Diarize(Stage[Separated, Diarized]):
    """Who speaks when: ``speakers.json`` (editable), the source segments split and labelled.

    Runs when the pipeline has a diarizer. The map's voices join the voice map.
    """

    name = "diarize"
    editable = True

    def applies(self, run: Run, st: Separated) -> bool:
        return run.components.has_diarizer and run.text is None and st.original is not None

    def skip(self, run: Run, st: Separated) -> Diarized:
        return advance(st, Diarized, speakers=None, speakers_key=None)

    def artifacts(self, run: Run, st: Separated) -> list[Path]:
        return [run.path(artifacts.SPEAKERS)]

    def key(self, run: Run, st: Separated) -> str:
        diarizer = component_identity(run.components.diarizer())
        vocals = st.vocals_key  # the isolated voice, when a model separated
        return settings_key(st.audio_key, diarizer, *((vocals,) if vocals else ()))

    def _use(self, run: Run, st: Separated, path: Path) -> Diarized:
        from lipdub.diarize.assign import assign_speakers
        from lipdub.diarize.speakers import SpeakerMap

        speakers = SpeakerMap.load(path)
        # a pure function of the transcript and the turns, so an edit of either is read again
        labelled = assign_speakers(st.source, speakers.turns)
        if labelled.estimated:
            run.notice(self.name, guessed_splits(st.transcript_path.name, labelled.estimated))
        if not speakers.turns and any(s.text.strip() for s in st.source.segments):
            run.notice(
                self.name,
                f"{path.name} has no speaker turns, so no line has a speaker; add the turns "
                "there, or delete it to find the speakers again",
            )
        return advance(
            st,
            Diarized,
            source=labelled.transcript,
            speakers=speakers,
            speakers_key=content_key(path),
        )

    def load(self, run: Run, st: Separated) -> tuple[Diarized, list[Path]]:
        return self._use(run, st, self.artifacts(run, st)[0]), []

    def compute(self, run: Run, st: Separated) -> tuple[Diarized, list[Path]]:
        from lipdub.diarize.speakers import SpeakerMap

        voice = st.vocals if st.vocals is not None else st.original
        assert voice is not None  # applies() says so
        diarizer = run.components.diarizer()
        turns = diarizer.diarize(voice.resample(16000), on_event=run.on_event)
        path = SpeakerMap.from_turns(turns).save(self.artifacts(run, st)[0])
        asked, found = diarizer.num_speakers, len({t.speaker for t in turns})
        if asked is not None and found < asked:
            hint = diarizer.fewer_found_hint()
            run.notice(self.name, fewer_speakers(asked, found, path.name, hint=hint))
        return self._use(run, st, path), [path]


def fewer_speakers(asked: int, found: int, name: str, *, hint: str | None = None) -> str:
    """One line: the diarizer told fewer speakers apart than were asked for (``hint``:
    what else the diarizer offers, from :meth:`~lipdub.diarize.base.Diarizer.fewer_found_hint`).

    Example:
        >>> fewer_speakers(4, 3, "speakers.json").split(":")[0]
        '4 speakers asked for, 3 told apart'
        >>> fewer_speakers(4, 3, "speakers.json", hint="try X").endswith("; or try X)")
        True
    """
    also = f"; or {hint}" if hint else ""
    return (
        f"{asked} speakers asked for, {found} told apart: the missing ones' lines go to "
        f"those found (mark their turns in {name}{also})"
    )


def guessed_splits(name: str, estimated: Sequence[EstimatedSplit]) -> str:
    r"""One line naming the segments split at a speaker change without word times.

    Example:
        >>> from lipdub.diarize.assign import EstimatedSplit
        >>> line = guessed_splits("t.json", [EstimatedSplit(2, 1.0, 4.0, (2.5,), "punctuation")])
        >>> print(line.replace("; ", ";\n"))
        t.json: segment 2 (1.00-4.00 s, no word times) split at 2.50 s, its text at punctuation;
        check where its words were divided (or edit speakers.json)
    """
    shown = "; ".join(e.describe() for e in estimated[:3])
    more = f"; and {len(estimated) - 3} more" if len(estimated) > 3 else ""
    return f"{name}: {shown}{more}; check where its words were divided (or edit speakers.json)"


def voice_map(run: Run, st: Diarized) -> dict[str, str]:
    """The voice map: the speaker map's voices, overridden by the options' ``voice_map``."""
    speakers = st.speakers
    return {**(speakers.voices() if speakers else {}), **dict(run.options.voice_map)}
