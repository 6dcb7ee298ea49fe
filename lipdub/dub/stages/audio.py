"""The audio stages: the source track, the dubbed speech, the background, the mix."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub import artifacts
from lipdub._hashing import content_key, settings_key
from lipdub.dub import operations
from lipdub.dub.clone import check_clone_lines, name_references
from lipdub.dub.runner import LangStage, Run, Stage, component_identity
from lipdub.dub.stages.text import glossary_problems, voice_map
from lipdub.dub.state import (
    Extracted,
    Mixed,
    Separated,
    Spoken,
    Start,
    Transcribed,
    Translated,
    Voiced,
    advance,
)
from lipdub.types import AudioClip

if TYPE_CHECKING:
    from lipdub.dub.report import TimingReport
    from lipdub.types import Transcript

__all__ = [
    "Extract",
    "Mix",
    "Separate",
    "SeparateLate",
    "Speak",
    "annotate_lines",
    "speaking_inputs",
    "spoken_length_s",
]


class Extract(Stage[Start, Extracted]):
    """The input's audio track as ``source.wav`` at the dub's sample rate."""

    name = "extract"

    def applies(self, run: Run, st: Start) -> bool:
        return run.info.has_audio and not run.info.is_image

    def skip(self, run: Run, st: Start) -> Extracted:
        return Extracted(original=None, audio_key=None)

    def artifacts(self, run: Run, st: Start) -> list[Path]:
        return [run.path(artifacts.SOURCE_AUDIO)]

    def key(self, run: Run, st: Start) -> str:
        return settings_key(run.input_key, run.options.sample_rate_hz)

    def load(self, run: Run, st: Start) -> tuple[Extracted, list[Path]]:
        path = run.path(artifacts.SOURCE_AUDIO)
        return Extracted(original=AudioClip.load_wav(path), audio_key=content_key(path)), []

    def compute(self, run: Run, st: Start) -> tuple[Extracted, list[Path]]:
        from lipdub.media import load_audio

        original = load_audio(run.input, run.options.sample_rate_hz)
        path = original.save_wav(run.path(artifacts.SOURCE_AUDIO))
        out, _ = self.load(run, st)  # the 16-bit samples a resumed run reads, not the floats
        return out, [path]


def spoken_length_s(run: Run) -> float | None:
    """How long the dubbed speech is laid out for: the input's duration (None for a
    still image, whose speech sets the length)."""
    return None if run.info.is_image else run.info.duration_s


def speaking_inputs(run: Run, src: Voiced, target: str) -> tuple[Any, ...]:
    """What speaking ``target``'s translation depends on, JSON-ready, for a stage's key.

    The lines (the translation file's content), the voice (its component's identity
    and ``run.voice``), the voice map, the timing fit, the length the speech is laid
    out for, the sample rate, the speakers' reference clips (when cloning) and the
    glossary (the terms each line is checked for). The ``speak`` stage's key is
    exactly these; the ``quality`` stage's key adds them to its own inputs, because a
    retake speaks again. An input of speaking goes here, once, so the two keys cannot
    drift apart. (The order and the parts left out when unset are part of the speak
    key's value: changing them redoes every kept speak stage.)
    """
    opts = run.options
    return (
        content_key(run.path(artifacts.translation(target))),
        component_identity(run.components.voice()),
        run.voice,
        voice_map(run, src),
        dataclasses.asdict(opts.fit),
        spoken_length_s(run),
        opts.sample_rate_hz,
        *((src.references_key,) if src.references_key else ()),
        *((opts.glossary.key(),) if opts.glossary else ()),
    )


class Speak(LangStage[Voiced, Translated, Spoken]):
    """The dubbed speech at the source timing, before the quality checks:
    ``draft.speech.<lang>.wav`` + ``draft.timing.<lang>.json`` (the quality stage
    writes the dub's ``speech.<lang>.wav`` and ``timing.<lang>.json`` from them)."""

    name = "speak"

    def artifacts(self, run: Run, src: Voiced, st: Translated) -> list[Path]:
        return [
            run.path(artifacts.draft_speech(st.target)),
            run.path(artifacts.draft_timing(st.target)),
        ]

    def key(self, run: Run, src: Voiced, st: Translated) -> str:
        return settings_key(*speaking_inputs(run, src, st.target))

    def progress(self, run: Run, src: Voiced, st: Translated) -> tuple[float | None, str]:
        return len(st.translation.segments), "segments"

    def load(self, run: Run, src: Voiced, st: Translated) -> tuple[Spoken, list[Path]]:
        from lipdub.dub.timing import TimingReport

        speech_path, timing_path = self.artifacts(run, src, st)
        speech, timing = AudioClip.load_wav(speech_path), TimingReport.load(timing_path)
        return advance(st, Spoken, speech=speech, timing=timing), []

    def compute(self, run: Run, src: Voiced, st: Translated) -> tuple[Spoken, list[Path]]:
        speech_path, timing_path = self.artifacts(run, src, st)
        cloning = src.references is not None
        if cloning and src.speakers is not None:  # each speaker's lines in their own voice
            lines = artifacts.translation(st.target)
            said = check_clone_lines(st.translation, list(src.speakers.speakers), source=lines)
            if said:
                run.notice(self.name, said)
        speech, timing = operations.synthesize(
            run.components.voice(),
            st.translation,
            dataclasses.replace(run.options, voice_map=voice_map(run, src)),
            voice_name=run.voice,
            total_s=spoken_length_s(run),
            cache_dir=run.path(artifacts.SPEECH_CACHE),
            on_event=run.on_event,
            references=src.references if cloning else None,
            reference=src.reference if cloning else None,
            allow_truncation=True,  # the same speech either way; check() decides
        )
        timing = annotate_lines(run, src, st.translation, timing)
        written = [speech.save_wav(speech_path), timing.save(timing_path)]
        out, _ = self.load(run, src, st)  # as a resumed run reads them (16-bit, rounded)
        return out, written


def annotate_lines(
    run: Run,
    src: Voiced,
    translation: Transcript,
    timing: TimingReport,
    *,
    plain: Collection[int] = (),
) -> TimingReport:
    """``timing`` with what ``timing.<lang>.json`` says beside each spoken line: the
    reference clip a cloning voice spoke it in (none for the lines in ``plain``, spoken
    without the clone) and the glossary terms it breaks, for the reviewer."""
    if src.references is not None and src.reference_files is not None:
        timing = name_references(timing, src.reference_files)
        if plain:
            timing = dataclasses.replace(
                timing,
                segments=tuple(
                    dataclasses.replace(s, reference=None, reference_sha256=None)
                    if s.index in plain
                    else s
                    for s in timing.segments
                ),
            )
    broken = glossary_problems(run, src.source, translation)
    if broken:
        timing = dataclasses.replace(
            timing,
            segments=tuple(
                dataclasses.replace(s, warnings=(*s.warnings, *broken.get(s.index, ())))
                for s in timing.segments
            ),
        )
    return timing


def _source_spans(st: Transcribed) -> list[tuple[float, float]]:
    return [(s.start_s, s.end_s) for s in st.source.segments]


class _Separation:
    """What both places of the ``separate`` stage share (see :class:`Separate`)."""

    name = "separate"

    def _isolates(self, run: Run) -> bool:
        return bool(run.components.separator().isolates_voice)

    def _paths(self, run: Run) -> list[Path]:
        paths = [run.path(artifacts.BACKGROUND)]
        if self._isolates(run):
            paths.append(run.path(artifacts.VOCALS))
        return paths

    def _key(self, run: Run, st: Extracted, source: Transcribed) -> str:
        separator = component_identity(run.components.separator())
        return settings_key(st.audio_key, separator, _source_spans(source))

    def _read(self, run: Run) -> dict[str, AudioClip | str | None]:
        background = run.path(artifacts.BACKGROUND)
        out: dict[str, AudioClip | str | None] = {
            "background": AudioClip.load_wav(background),
            "background_key": content_key(background),
            "vocals": None,
            "vocals_key": None,
        }
        if self._isolates(run):
            vocals = run.path(artifacts.VOCALS)
            out.update(vocals=AudioClip.load_wav(vocals), vocals_key=content_key(vocals))
        return out

    def _separate(self, run: Run, original: AudioClip, source: Transcribed) -> list[Path]:
        stems = run.components.separator().separate(
            original, _source_spans(source), on_event=run.on_event
        )
        written = [stems.background.save_wav(run.path(artifacts.BACKGROUND))]
        if self._isolates(run):
            written.append(stems.voice.save_wav(run.path(artifacts.VOCALS)))
        return written


class Separate(_Separation, Stage[Transcribed, Separated]):
    """The original background without the voice, ``background.wav`` (once per input).

    When the separator isolates the voice (:attr:`~lipdub.separate.base.Separator.
    isolates_voice`, a model such as Demucs), its voice stem is kept too, as
    ``vocals.wav`` (:attr:`~lipdub.dub.state.Separated.vocals`): speaker analysis
    (diarization, the reference clips) reads it instead of the mix.

    This instance is placed before the speaker analysis: it runs only when the
    separator isolates the voice and a diarizer or a cloning voice will read it;
    otherwise :class:`SeparateLate` (after the speech) does the job, so
    ``stop_after="translate"`` does not wait for a separation nobody reads yet.
    """

    def applies(self, run: Run, st: Transcribed) -> bool:
        return (
            run.options.keep_background
            and st.original is not None
            and run.text is None
            and (run.components.has_diarizer or bool(run.components.voice().clones))
            and self._isolates(run)
        )

    def skip(self, run: Run, st: Transcribed) -> Separated:
        return advance(
            st, Separated, background=None, background_key=None, vocals=None, vocals_key=None
        )

    def artifacts(self, run: Run, st: Transcribed) -> list[Path]:
        return self._paths(run)

    def key(self, run: Run, st: Transcribed) -> str:
        return self._key(run, st, st)

    def load(self, run: Run, st: Transcribed) -> tuple[Separated, list[Path]]:
        return advance(st, Separated, **self._read(run)), []

    def compute(self, run: Run, st: Transcribed) -> tuple[Separated, list[Path]]:
        assert st.original is not None  # applies() says so
        written = self._separate(run, st.original, st)
        out, _ = self.load(run, st)  # the 16-bit stems a resumed run reads, not the floats
        return out, written


class SeparateLate(_Separation, Stage[Voiced, Voiced]):
    """The ``separate`` stage after the speech, when the early one did not run."""

    def applies(self, run: Run, st: Voiced) -> bool:
        return run.options.keep_background and st.original is not None and st.background is None

    def skip(self, run: Run, st: Voiced) -> Voiced:
        return st

    def artifacts(self, run: Run, st: Voiced) -> list[Path]:
        return self._paths(run)

    def key(self, run: Run, st: Voiced) -> str:
        return self._key(run, st, st)

    def load(self, run: Run, st: Voiced) -> tuple[Voiced, list[Path]]:
        return dataclasses.replace(st, **self._read(run)), []  # type: ignore[arg-type]

    def compute(self, run: Run, st: Voiced) -> tuple[Voiced, list[Path]]:
        assert st.original is not None  # applies() says so
        written = self._separate(run, st.original, st)
        out, _ = self.load(run, st)
        return out, written


class Mix(LangStage[Voiced, Spoken, Mixed]):
    """The dubbed soundtrack, ``dub.<lang>.wav``: speech over the kept background."""

    name = "mix"

    def artifacts(self, run: Run, src: Voiced, st: Spoken) -> list[Path]:
        return [run.path(artifacts.dub(st.target))]

    def key(self, run: Run, src: Voiced, st: Spoken) -> str:
        return settings_key(
            content_key(run.path(artifacts.speech(st.target))),
            src.audio_key,
            src.background_key,
            run.options.keep_background,
            _source_spans(src),
        )

    def load(self, run: Run, src: Voiced, st: Spoken) -> tuple[Mixed, list[Path]]:
        soundtrack = AudioClip.load_wav(self.artifacts(run, src, st)[0])
        return advance(st, Mixed, soundtrack=soundtrack), []

    def compute(self, run: Run, src: Voiced, st: Spoken) -> tuple[Mixed, list[Path]]:
        soundtrack = operations.mix(
            st.speech,
            src.original,
            src.source,
            keep_background=run.options.keep_background,
            background=src.background,
        )
        written = [soundtrack.save_wav(self.artifacts(run, src, st)[0])]
        out, _ = self.load(run, src, st)  # the 16-bit track a resumed run reads
        return out, written
