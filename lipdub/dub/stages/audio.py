"""The audio stages: the source track, the dubbed speech, the background, the mix."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from lipdub._hashing import content_key, settings_key
from lipdub.dub.runner import Lang, Run, Stage, component_identity
from lipdub.dub.stages.text import _voice_map
from lipdub.dub.stages.voices import references_part, speak_references
from lipdub.types import AudioClip

if TYPE_CHECKING:
    pass

__all__ = ["Extract", "Mix", "Separate", "Speak"]


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
        self.load(run, lang)  # the 16-bit samples a resumed run reads, not the decoder's floats
        return [path]


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
            *references_part(run),
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
            **speak_references(run),
        )
        written = [speech.save_wav(speech_path), timing.save(timing_path)]
        self.load(run, lang)  # as a resumed run reads them (16-bit samples, rounded times)
        return written


def _source_spans(run: Run) -> list[tuple[float, float]]:
    return [(s.start_s, s.end_s) for s in run.values["source"].segments]


class Separate(Stage):
    """The original background without the voice, ``background.wav`` (once per input).

    When the separator isolates the voice (:attr:`~lipdub.separate.base.Separator.
    isolates_voice`, a model such as Demucs), its voice stem is kept too, as
    ``vocals.wav`` and ``run.values["vocals"]``: speaker analysis (diarization, the
    reference clips) reads it instead of the mix.

    ``early=True`` is the instance placed before the speaker analysis: it runs only
    when the separator isolates the voice and a diarizer or a cloning voice will read
    it; otherwise the later instance (after the speech) does the job, so
    ``stop_after="translate"`` does not wait for a separation nobody reads yet.
    """

    name = "separate"

    def __init__(self, *, early: bool = False) -> None:
        self.early = early

    def applies(self, run: Run, lang: Lang | None) -> bool:
        if not (run.options.keep_background and run.values.get("original") is not None):
            return False
        if self.early:  # worth it only when the voice stem is the voice alone
            return (
                run.text is None
                and (
                    run.pipeline.diarizer_spec() is not None
                    or bool(run.pipeline.component("voice").clones)
                )
                and self._isolates(run)
            )
        return "background" not in run.values

    def _isolates(self, run: Run) -> bool:
        return bool(run.pipeline.component("separator").isolates_voice)

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        paths = [run.wd.path("background.wav")]
        if self._isolates(run):
            paths.append(run.wd.path("vocals.wav"))
        return paths

    def key(self, run: Run, lang: Lang | None) -> str:
        separator = component_identity(run.pipeline.component("separator"))
        return settings_key(run.values["audio_key"], separator, _source_spans(run))

    def _keep_vocals(self, run: Run, path: Path) -> None:
        run.values["vocals"] = AudioClip.load_wav(path)
        run.values["vocals_key"] = content_key(path)

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        run.values["background"] = AudioClip.load_wav(run.wd.path("background.wav"))
        if self._isolates(run):
            self._keep_vocals(run, run.wd.path("vocals.wav"))
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        separator = run.pipeline.component("separator")
        stems = separator.separate(
            run.values["original"], _source_spans(run), on_event=run.on_event
        )
        written = [stems.background.save_wav(run.wd.path("background.wav"))]
        if self._isolates(run):
            written.append(stems.voice.save_wav(run.wd.path("vocals.wav")))
        self.load(run, lang)  # the 16-bit stems a resumed run reads, not the floats
        return written


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
        written = [soundtrack.save_wav(self.artifacts(run, lang)[0])]
        self.load(run, lang)  # the 16-bit track a resumed run reads
        return written
