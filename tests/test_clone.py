"""Voices cloned from each speaker: the voices stage, its files, and two voices in one dub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from lipdub.diarize import SpeakerTurn
from lipdub.dub.pipeline import DubbingPipeline
from lipdub.dub.timing import TimingReport
from lipdub.errors import CloningNotSupported, InputError
from lipdub.separate.base import Separation, Separator
from lipdub.testing import (
    FakeFaceDetector,
    FakeTranscriber,
    FakeTranslator,
    FakeVoiceSynth,
    PassThroughLipSyncer,
)
from lipdub.testing.media import voice_tones
from lipdub.types import AudioClip, Segment, Transcript
from lipdub.voice.match import MatchedVoiceSynth, pitch_shift
from lipdub.voice.voiceprint import median_f0

DATA = Path(__file__).parent / "data"


def _pipe(voice: Any = None, **kw: Any) -> DubbingPipeline:
    base: dict[str, Any] = {
        "transcriber": FakeTranscriber(),
        "translator": FakeTranslator(),
        "voice": voice if voice is not None else MatchedVoiceSynth(FakeVoiceSynth()),
        "detector": FakeFaceDetector(),
        "lipsyncer": PassThroughLipSyncer(),
        "separator": "duck",
    }
    return DubbingPipeline(**{**base, **kw})


# ------------------------------------------------------------------ one speaker


def test_a_cloning_voice_gets_one_reference_and_the_consent_notice(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    result = _pipe().run(clip, "es", workdir=wd, stop_after="speak")
    assert sorted(p.name for p in (wd / "voices").iterdir()) == ["S1.wav"]
    ref = AudioClip.load_wav(wd / "voices" / "S1.wav")
    assert 1.0 <= ref.duration_s <= 15.0 and ref.rms() > 1e-3
    assert sum("consent" in n for n in result.notices) == 1
    again = _pipe().run(clip, "es", workdir=wd, stop_after="speak")
    assert not any("consent" in n for n in again.notices)  # said on the first cloned run
    assert "voices" in again.reused and "speak" in again.reused


def test_a_replaced_reference_is_used_kept_and_respeaks_only_the_speech(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    _pipe().run(clip, "es", workdir=wd, stop_after="speak")
    before = AudioClip.load_wav(wd / "speech.es.wav")
    mine = voice_tones(230.0, 6.0, 24000)
    mine.save_wav(wd / "voices" / "S1.wav")
    data = (wd / "voices" / "S1.wav").read_bytes()
    result = _pipe().run(clip, "es", workdir=wd, stop_after="speak")
    assert (wd / "voices" / "S1.wav").read_bytes() == data  # never overwritten
    assert "voices" in result.yours and "translate" in result.reused and "speak" in result.ran
    after = AudioClip.load_wav(wd / "speech.es.wav")
    assert not np.allclose(before.samples, after.samples)
    # the fake voice hums at 140-260 Hz by word; matched to 230 Hz it lands near it
    assert abs(median_f0(after) - median_f0(mine)) / median_f0(mine) < 0.08  # type: ignore[operator]
    again = _pipe().run(clip, "es", workdir=wd, stop_after="speak")
    assert "speak" in again.reused


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"RIFF not really a wave file" * 10), "is not audio"),
        (lambda p: AudioClip.silence(0.3, 16000).save_wav(p), "0.30 s long"),
        (lambda p: (p.unlink(), p.mkdir()), "is a folder"),
    ],
    ids=["empty", "not-audio", "too-short", "folder"],
)
def test_a_bad_replacement_reference_is_one_line_naming_the_file(
    make_video: Any, make: Any, words: str
) -> None:
    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    _pipe().run(clip, "es", workdir=wd, stop_after="translate")
    make(wd / "voices" / "S1.wav")
    with pytest.raises(InputError) as err:
        _pipe().run(clip, "es", workdir=wd, stop_after="speak")
    text = str(err.value)
    assert "S1.wav" in text and words in text and "\n" not in text


def test_clone_needs_a_cloning_backend_and_picks_one(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=3.0)
    with pytest.raises(InputError, match="--voice clone needs a voice backend that clones"):
        _pipe(voice=FakeVoiceSynth()).run(clip, "es", voice="clone", stop_after="speak")
    pytest.importorskip("espeakng_loader")
    pipe = _pipe(voice="clone")
    assert pipe.component("voice").name in ("match", "chatterbox")
    assert pipe.component("voice").clones


def test_a_non_cloning_voice_cuts_no_reference(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=3.0)
    wd = clip.with_name("wd")
    _pipe(voice=FakeVoiceSynth()).run(clip, "es", workdir=wd, stop_after="speak")
    assert not (wd / "voices").exists()
    with pytest.raises(CloningNotSupported):
        FakeVoiceSynth().synthesize("hola", reference=voice_tones(120.0))


# ------------------------------------------------------------------ the CLI


def test_cli_dub_voice_clone_and_speak_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("espeakng_loader")
    from lipdub.cli import main
    from lipdub.testing.media import make_test_video

    clip = make_test_video(tmp_path / "talk.mp4", duration_s=4.0, size=(160, 120))
    common = ["--transcriber", "fake", "--translator", "fake", "--detector", "fake", "-q"]
    args = ["dub", str(clip), "--to", "es", "--voice", "clone", *common, "--stop-after", "speak"]
    assert main(args) == 0
    said = caplog.text  # the notices (the CLI shows them on stderr)
    assert "consent" in said and "reference-matched" in said  # no chatterbox: the stand-in
    caplog.clear()
    assert (tmp_path / "talk.mp4.lipdub" / "voices" / "S1.wav").is_file()
    bad = ["dub", str(clip), "--to", "es", "--voice", "clone", "--tts", "fake", *common]
    assert main(bad) != 0
    assert "--voice clone needs a voice backend that clones" in capsys.readouterr().err
    ref = tmp_path / "ref.wav"
    voice_tones(180.0, 6.0).save_wav(ref)
    out = tmp_path / "said.wav"
    assert (
        main(["speak", "Hola a todos.", "--lang", "es", "--reference", str(ref), "-o", str(out)])
        == 0
    )
    said = AudioClip.load_wav(out)
    assert abs(median_f0(said) - 180.0) / 180.0 < 0.1  # type: ignore[operator]
    assert "consent" in caplog.text
    (tmp_path / "empty.wav").write_bytes(b"")
    speak_bad = ["speak", "Hola.", "--lang", "es", "--reference", str(tmp_path / "empty.wav")]
    assert main([*speak_bad, "-o", str(out)]) != 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and "empty.wav" in lines[0] and "is empty" in lines[0]


# ------------------------------------------------------------------ the vocals stem


class _Isolating(Separator):
    """A stand-in model separator: the voice stem is the mix at half level."""

    name: ClassVar[str] = "isolating"
    isolates_voice: ClassVar[bool] = True

    def settings(self) -> dict[str, Any]:
        return {}

    def separate(self, audio, speech_spans=(), *, on_event=None):  # type: ignore[no-untyped-def]
        half = AudioClip((audio.samples * 0.5).astype(np.float32), audio.sample_rate_hz)
        rest = AudioClip(np.zeros_like(audio.samples), audio.sample_rate_hz)
        return Separation(half, rest)


def test_a_model_separator_saves_the_vocals_and_the_references_come_from_them(
    make_video: Any,
) -> None:
    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    _pipe(separator=_Isolating()).run(clip, "es", workdir=wd, stop_after="translate")
    vocals = AudioClip.load_wav(wd / "vocals.wav")
    source = AudioClip.load_wav(wd / "source.wav")
    assert abs(vocals.rms() / source.rms() - 0.5) < 0.01
    ref = AudioClip.load_wav(wd / "voices" / "S1.wav")
    direct = _pipe(separator="duck").run(
        clip, "es", workdir=clip.with_name("wd2"), stop_after="translate"
    )
    assert "separate" not in direct.ran  # a DSP voice stem is no better: not run early
    assert not (clip.with_name("wd2") / "vocals.wav").exists()
    ref_mix = AudioClip.load_wav(clip.with_name("wd2") / "voices" / "S1.wav")
    assert abs(ref.rms() / ref_mix.rms() - 0.5) < 0.02  # cut from the half-level vocals


def test_the_diarizer_listens_to_the_vocals(make_video: Any) -> None:
    from lipdub.diarize.base import Diarizer

    heard: list[float] = []

    class Ears(Diarizer):
        """Records how loud the audio it is given is (one speaker throughout)."""

        name: ClassVar[str] = "ears"

        def settings(self) -> dict[str, Any]:
            return {}

        def diarize(self, audio, *, num_speakers=None, on_event=None):  # type: ignore[no-untyped-def]
            heard.append(audio.rms())
            return [SpeakerTurn(0.0, audio.duration_s, "S1")]

    clip = make_video("talk.mp4", duration_s=3.0)
    for name, separator in (("a", "duck"), ("b", _Isolating())):
        _pipe(voice=FakeVoiceSynth(), separator=separator, diarizer=Ears()).run(
            clip, "es", workdir=clip.with_name(name), stop_after="translate"
        )
    mix, vocals = heard
    assert abs(vocals / mix - 0.5) < 0.01


def test_without_speaker_analysis_the_separation_waits_for_the_speech(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=3.0)
    wd = clip.with_name("wd")
    result = _pipe(voice=FakeVoiceSynth(), separator=_Isolating()).run(
        clip, "es", workdir=wd, stop_after="translate"
    )
    assert "separate" not in result.ran and not (wd / "background.wav").exists()


# ------------------------------------------------------------------ two speakers, two voices


pytest.importorskip("espeakng_loader")
if not all(
    __import__("importlib.util").util.find_spec(m) is not None for m in ("resemblyzer", "librosa")
):
    pytest.skip("resemblyzer is not installed (lipdub[speakers])", allow_module_level=True)

LINES = [
    "Hola, gracias por llamar. Como puedo ayudarle hoy?",
    "Hola, pedi una chaqueta azul la semana pasada y no ha llegado.",
    "Siento oir eso. Me puede dar su numero de pedido?",
    "Claro, es cuatro cinco siete dos nueve uno.",
    "Gracias. Veo que el paquete espera en el deposito local.",
    "De verdad? Se puede entregar manana por la manana?",
    "Si, he reservado una entrega para manana entre las nueve y las doce.",
    "Perfecto, muchas gracias por su ayuda.",
]


class _Lines(FakeTranslator):
    """Translates ``line N`` to the Nth Spanish line of the call."""

    def translate(self, texts: Any, source: str | None, target: str) -> list[str]:
        return [LINES[int(t.split()[1])] for t in texts]


def two_voice_call() -> tuple[AudioClip, list[SpeakerTurn]]:
    """The generated call with speaker B a woman's pitch (x1.6), so pitch tells them apart."""
    audio = AudioClip.load_wav(DATA / "two_speakers.wav")
    turns = [SpeakerTurn(**t) for t in json.loads((DATA / "two_speakers.json").read_text())]
    x = audio.samples.copy()
    for t in turns:
        if t.speaker == "B":
            a, b = round(t.start_s * 16000), round(t.end_s * 16000)
            x[a:b] = pitch_shift(AudioClip(x[a:b], 16000), 1.6).samples
    return AudioClip(x, 16000), turns


def test_two_speakers_are_dubbed_in_two_voices_each_from_their_own_reference(
    make_video: Any, tmp_path: Path
) -> None:
    from lipdub.diarize.embedded import EmbeddedDiarizer
    from lipdub.diarize.speakers import SpeakerMap
    from lipdub.media.writer import mux_audio

    audio, truth = two_voice_call()
    silent = make_video("v.mp4", duration_s=audio.duration_s, fps=10, audio=False)
    clip = mux_audio(silent, audio, tmp_path / "call.mp4")
    source = Transcript(
        "en", tuple(Segment(t.start_s, t.end_s, f"line {i}") for i, t in enumerate(truth))
    )
    pipe = _pipe(
        transcriber=FakeTranscriber(source),
        translator=_Lines(),
        voice="match",
        diarizer=EmbeddedDiarizer(num_speakers=2),
    )
    wd = tmp_path / "wd"
    pipe.run(clip, "es", workdir=wd, stop_after="speak")
    # one reference per speaker, each cut from that speaker's own turns
    labels = SpeakerMap.load(wd / "speakers.json").speakers
    assert sorted(p.name for p in (wd / "voices").iterdir()) == [f"{s}.wav" for s in labels]
    ref_f0 = {s: median_f0(AudioClip.load_wav(wd / "voices" / f"{s}.wav")) for s in labels}
    true_f0 = {
        who: median_f0(
            AudioClip(
                np.concatenate(
                    [audio.slice(t.start_s, t.end_s).samples for t in truth if t.speaker == who]
                ),
                16000,
            )
        )
        for who in "AB"
    }
    # each dubbed speaker's lines sound at their own reference's pitch, not the other's
    speech = AudioClip.load_wav(wd / "speech.es.wav")
    timing = TimingReport.load(wd / "timing.es.json")
    dubbed: dict[str, list[np.ndarray]] = {}
    for s in timing.segments:
        assert s.speaker in labels
        dubbed.setdefault(s.speaker, []).append(
            speech.slice(s.start_s, s.start_s + s.speech_s).samples
        )
    assert set(dubbed) == set(labels)
    (low, high) = sorted(labels, key=lambda s: ref_f0[s])  # type: ignore[arg-type, return-value]
    assert abs(ref_f0[low] - true_f0["A"]) / true_f0["A"] < 0.06  # type: ignore[operator]
    assert abs(ref_f0[high] - true_f0["B"]) / true_f0["B"] < 0.06  # type: ignore[operator]
    for s in labels:
        f0 = median_f0(AudioClip(np.concatenate(dubbed[s]), speech.sample_rate_hz))
        own, other = ref_f0[s], ref_f0[high if s == low else low]
        assert f0 is not None and own is not None and other is not None
        assert abs(f0 - own) / own < 0.08, (s, f0, own)  # measured within 3 %
        assert abs(f0 - other) / other > 0.25, (s, f0, other)


def test_a_replaced_reference_whose_turns_changed_is_kept_or_redone_as_asked(
    make_video: Any,
) -> None:
    from lipdub.errors import EditConflict

    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    _pipe().run(clip, "es", workdir=wd, stop_after="translate")
    voice_tones(230.0, 6.0, 24000).save_wav(wd / "voices" / "S1.wav")
    mine = (wd / "voices" / "S1.wav").read_bytes()
    transcript = next(wd.glob("transcript.*.json"))
    data = json.loads(transcript.read_text())
    data["segments"][0]["end_s"] -= 0.2  # the turns the references come from change
    transcript.write_text(json.dumps(data))
    with pytest.raises(EditConflict, match=r"S1\.wav") as err:
        _pipe().run(clip, "es", workdir=wd, stop_after="translate")
    assert "--keep voices" in str(err.value)
    assert (wd / "voices" / "S1.wav").read_bytes() == mine
    kept = _pipe().run(clip, "es", workdir=wd, stop_after="speak", keep=["voices"])
    assert "voices" in kept.yours and (wd / "voices" / "S1.wav").read_bytes() == mine
    redone = _pipe().run(clip, "es", workdir=wd, stop_after="speak", redo=["voices"])
    assert "voices" in redone.ran and (wd / "voices" / "S1.wav").read_bytes() != mine
    assert list((wd / "voices").glob("S1.wav.*.bak"))  # yours moved aside, not lost


def test_a_cloning_voice_without_a_native_rate_is_fitted_by_stretch_and_gaps() -> None:
    from lipdub.dub.timing import speak_transcript
    from lipdub.testing.cloning import FakeChatterboxEngine
    from lipdub.voice.chatterbox import ChatterboxVoiceSynth

    synth = ChatterboxVoiceSynth(engine=FakeChatterboxEngine())
    assert not synth.native_rate
    # 0.3 s a word: 1.5 s of speech for a 1.2 s slot (stretched to max_rate 1.2x, then
    # the silence after it), then a line that needs the gap after it
    t = Transcript(
        "es",
        (
            Segment(0.0, 1.2, "uno dos tres cuatro cinco", speaker="S1"),
            Segment(2.0, 2.5, "seis siete ocho nueve", speaker="S2"),
        ),
    )
    refs = {"S1": voice_tones(100.0, 3.0), "S2": voice_tones(200.0, 3.0)}
    track, report = speak_transcript(synth, t, total_s=4.0, references=refs)
    first, second = report.segments
    assert first.rate == second.rate == 1.0  # never a native rate
    assert first.stretch == pytest.approx(1.2, abs=0.01)  # max_rate, the one ceiling
    assert first.speech_s == pytest.approx(1.25, abs=0.01) and first.borrowed_s > 0
    assert second.borrowed_s > 0 and second.status == "ok"
    for seg, f0 in ((first, 100.0), (second, 200.0)):
        said = median_f0(track.slice(seg.start_s, seg.start_s + seg.speech_s))
        assert said is not None and abs(said / f0 - 1) < 0.06


def test_a_reference_placed_before_the_first_run_is_used(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=4.0)
    wd = clip.with_name("wd")
    (wd / "voices").mkdir(parents=True)
    voice_tones(210.0, 6.0, 24000).save_wav(wd / "voices" / "S1.wav")
    mine = (wd / "voices" / "S1.wav").read_bytes()
    result = _pipe().run(clip, "es", workdir=wd, stop_after="speak")
    assert "voices" in result.yours and (wd / "voices" / "S1.wav").read_bytes() == mine
    assert sum("consent" in n for n in result.notices) == 1
    said = median_f0(AudioClip.load_wav(wd / "speech.es.wav"))
    assert said is not None and abs(said / 210.0 - 1) < 0.08
