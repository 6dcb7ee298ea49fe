"""The speak and quality stages key on the same "what speaking depends on" (#25).

A quality retake speaks the dub again, so every input of the speak stage's key is an
input of the quality stage's key too. Both take it from one function; these tests
pin the speak key's bytes (work directories made before that function are reused,
not redone) and show that a change of any one speaking input changes both keys.

The keys are computed by the stages themselves on a real :class:`Run` over a work
directory holding the files they hash (any bytes: a key hashes them, never reads them).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from lipdub import artifacts
from lipdub._hashing import content_key, settings_key
from lipdub.dub.options import DubOptions, FitOptions
from lipdub.dub.pipeline import DubbingPipeline
from lipdub.dub.report import TimingReport
from lipdub.dub.runner import Run, component_identity
from lipdub.dub.stages.audio import Speak
from lipdub.dub.stages.quality import Quality
from lipdub.dub.stages.text import voice_map
from lipdub.dub.state import Spoken, Translated, Voiced
from lipdub.dub.workdir import Workdir
from lipdub.testing import FakeTranscriber, FakeVoiceSynth
from lipdub.translate.glossary import Glossary, Term
from lipdub.types import AudioClip, Segment, Transcript, VideoInfo

LINES = Transcript("en", (Segment(0.5, 2.0, "Good morning."), Segment(2.5, 4.0, "Welcome.")))


def _run(
    wd: Path,
    *,
    options: DubOptions | None = None,
    voice: str | None = None,
    synth: FakeVoiceSynth | None = None,
    is_image: bool = False,
    duration_s: float = 5.0,
) -> Run:
    for name, data in (
        (artifacts.translation("en"), b'{"language": "en", "segments": []}'),
        (artifacts.draft_speech("en"), b"RIFF draft speech"),
        (artifacts.draft_timing("en"), b'{"segments": []}'),
    ):
        path = wd / name
        if not path.exists():
            wd.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    pipe = DubbingPipeline(
        transcriber=FakeTranscriber(LINES), voice=synth or FakeVoiceSynth(), translator="identity"
    )
    info = VideoInfo("talk.mp4", Fraction(25), 64, 64, 125, duration_s, is_image=is_image)
    return Run(
        components=pipe.stage_components(),
        wd=Workdir(wd),
        input=wd / "talk.mp4",
        input_key="input",
        info=info,
        options=options or DubOptions(),
        targets=("en",),
        source_language=None,
        text=None,
        voice=voice,
        redo=frozenset(),
        keep=frozenset(),
        on_event=None,
        cancel=None,
    )


def _voiced(references_key: str | None = None) -> Voiced:
    return Voiced(
        original=None,
        audio_key=None,
        source=LINES,
        transcript_path=Path("transcript.json"),
        background=None,
        background_key=None,
        vocals=None,
        vocals_key=None,
        speakers=None,
        speakers_key=None,
        references=None,
        references_key=references_key,
        reference=None,
        reference_files=None,
    )


def _keys(run: Run, src: Voiced) -> tuple[str, str]:
    """(the speak key, the quality key) of ``run``'s English dub."""
    st = Translated("en", Path("talk.en.mp4"), LINES)
    spoken = Spoken("en", Path("talk.en.mp4"), LINES, AudioClip.silence(0.1, 16000), _timing())
    return Speak().key(run, src, st), Quality().key(run, src, spoken)


def _timing() -> TimingReport:
    return TimingReport(segments=())


def _old_speak_key(run: Run, src: Voiced) -> str:
    """The speak key as it was composed before the shared function (#25's leftovers)."""
    opts = run.options
    return settings_key(
        content_key(run.path(artifacts.translation("en"))),
        component_identity(run.components.voice()),
        run.voice,
        voice_map(run, src),
        dataclasses.asdict(opts.fit),
        None if run.info.is_image else run.info.duration_s,
        opts.sample_rate_hz,
        *((src.references_key,) if src.references_key else ()),
        *((opts.glossary.key(),) if opts.glossary else ()),
    )


GLOSSARY = Glossary((Term("Acme", "ACME"),))


@pytest.mark.parametrize(
    ("options", "voice", "is_image", "references_key"),
    [
        (DubOptions(), None, False, None),
        (DubOptions(glossary=GLOSSARY, voice_map={"S1": "en-us"}), "en-gb", False, "refs-1"),
        (DubOptions(sample_rate_hz=16000, fit=FitOptions(max_rate=1.1)), None, True, None),
    ],
    ids=["plain", "glossary-voice-references", "image"],
)
def test_the_speak_key_hashes_what_it_always_did(
    tmp_path: Path,
    options: DubOptions,
    voice: str | None,
    is_image: bool,
    references_key: str | None,
) -> None:
    run = _run(tmp_path, options=options, voice=voice, is_image=is_image)
    src = _voiced(references_key)
    speak, _ = _keys(run, src)
    assert speak == _old_speak_key(run, src)


def _changed(name: str, tmp_path: Path) -> tuple[Run, Voiced]:
    """The base run (``name == "base"``) or the base run with one speaking input changed."""
    base = DubOptions(glossary=GLOSSARY)
    changes: dict[str, Any] = {
        "glossary": {"options": dataclasses.replace(base, glossary=Glossary((Term("Acme"),)))},
        "no glossary": {"options": dataclasses.replace(base, glossary=None)},
        "voice name": {"voice": "en-gb"},
        "voice component": {"synth": FakeVoiceSynth(seconds_per_word=0.4)},
        "voice map": {"options": dataclasses.replace(base, voice_map={"S1": "en-us"})},
        "fit options": {"options": dataclasses.replace(base, fit=FitOptions(max_rate=1.1))},
        "sample rate": {"options": dataclasses.replace(base, sample_rate_hz=16000)},
        "length": {"duration_s": 6.0},
        "still image": {"is_image": True},
    }
    if name == "references":
        return _run(tmp_path, options=base), _voiced("refs-2")
    return _run(tmp_path, **{"options": base, **changes.get(name, {})}), _voiced("refs-1")


SPEAKING_INPUTS = [
    "glossary",
    "no glossary",
    "voice name",
    "voice component",
    "voice map",
    "fit options",
    "sample rate",
    "length",
    "still image",
    "references",
]


@pytest.mark.parametrize("name", SPEAKING_INPUTS)
def test_each_speaking_input_changes_both_the_speak_and_the_quality_key(
    tmp_path: Path, name: str
) -> None:
    base_speak, base_quality = _keys(*_changed("base", tmp_path))
    assert _keys(*_changed("base", tmp_path)) == (base_speak, base_quality)  # deterministic
    speak, quality = _keys(*_changed(name, tmp_path))
    assert speak != base_speak, f"{name} does not change the speak key"
    assert quality != base_quality, f"{name} does not change the quality key"
