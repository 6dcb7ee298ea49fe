"""The package's foundation: light import, public API, types, errors, registry."""

from __future__ import annotations

import ast
import dataclasses
import pickle
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import lipdub
from lipdub import registry
from lipdub.errors import (
    BackendNotInstalled,
    InputError,
    LipdubError,
    MediaError,
    UnknownBackendError,
)
from lipdub.types import AudioClip, FaceBox, Segment, Transcript, VideoInfo, Voice, Word


def test_import_is_light() -> None:
    code = (
        "import lipdub, sys; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'av', 'cv2', 'onnxruntime', 'google', 'grpc', 'faster_whisper')]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_interfaces_exported_and_abstract() -> None:
    from lipdub import (
        DubbingPipeline,
        FaceDetector,
        LipdubError,
        LipSyncer,
        Transcriber,
        Translator,
        VoiceSynth,
    )

    for abc in (Transcriber, Translator, VoiceSynth, FaceDetector, LipSyncer):
        with pytest.raises(TypeError, match="abstract"):
            abc()  # type: ignore[abstract]
    assert issubclass(LipdubError, Exception)
    assert DubbingPipeline.__doc__
    for name in lipdub.__all__:
        assert hasattr(lipdub, name), name


def test_a_backend_missing_its_method_cannot_be_built() -> None:
    class Half(lipdub.VoiceSynth):
        def list_voices(self, language: str | None = None) -> list[Voice]:
            return []

    with pytest.raises(TypeError, match="synthesize"):
        Half()  # type: ignore[abstract]


# ----------------------------------------------------------------- types


def test_audio_clip_validates_and_is_read_only() -> None:
    clip = AudioClip(np.zeros(1600, np.float64), 16000)
    assert clip.samples.dtype == np.float32
    assert clip.duration_s == pytest.approx(0.1)
    with pytest.raises(ValueError):
        clip.samples[0] = 1.0
    with pytest.raises(InputError, match="sample_rate_hz"):
        AudioClip(np.zeros(10, np.float32), 0)
    stereo = AudioClip(np.ones((100, 2), np.float32), 8000)
    assert stereo.samples.shape == (100,)
    ints = AudioClip(np.array([16384, -32768], np.int16), 8000)
    assert ints.samples.tolist() == [0.5, -1.0]


def test_audio_clip_resample_slice_pad_and_wav_round_trip(tmp_path) -> None:
    t = np.arange(48000) / 48000
    clip = AudioClip((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000)
    down = clip.resample(16000)
    assert down.num_samples == 16000 and down.sample_rate_hz == 16000
    assert clip.slice(0.25, 0.5).duration_s == pytest.approx(0.25)
    assert clip.pad_to(1.5).duration_s == pytest.approx(1.5)
    assert clip.pad_to(0.5).num_samples == 24000
    path = clip.save_wav(tmp_path / "a b ü.wav")
    back = AudioClip.load_wav(path)
    assert back.sample_rate_hz == 48000 and back.num_samples == 48000
    assert np.max(np.abs(back.samples - clip.samples)) < 1e-4
    with pytest.raises(MediaError, match="not a readable WAV"):
        AudioClip.from_wav_bytes(b"<html>nope</html>", source="x.wav")


def test_segment_and_word_validate_times() -> None:
    with pytest.raises(InputError, match="end_s"):
        Segment(2.0, 1.0, "backwards")
    with pytest.raises(InputError, match="start_s"):
        Word(-1.0, 1.0, "neg")
    with pytest.raises(InputError, match="time order"):
        Transcript("en", (Segment(2, 3, "b"), Segment(0, 1, "a")))


def test_transcript_json_srt_vtt_round_trip(tmp_path) -> None:
    t = Transcript(
        "en",
        (
            Segment(
                0.5,
                1.75,
                'Hello, <world> & "friends".',
                speaker="A",
                words=(Word(0.5, 0.9, "Hello,"),),
            ),
            Segment(61.2, 3725.042, "Ünïcode — fine", speaker="B"),
        ),
    )
    assert Transcript.from_json(t.to_json()) == t
    srt = t.to_srt()
    assert "00:01:01,200 --> 01:02:05,042" in srt
    back = Transcript.from_srt(srt, "en")
    assert [s.text for s in back.segments] == [s.text for s in t.segments]
    assert [(s.start_s, s.end_s) for s in back.segments] == [(0.5, 1.75), (61.2, 3725.042)]
    vtt = t.to_vtt()
    assert vtt.startswith("WEBVTT") and "<v A>" in vtt
    assert Transcript.from_srt(vtt, "en").segments[0].speaker == "A"
    for name in ("t.json", "t.en.srt", "t.en.vtt"):
        p = t.save(tmp_path / name)
        loaded = Transcript.load(p)
        assert loaded.language == "en"
        assert [s.text for s in loaded.segments] == [s.text for s in t.segments]
    with pytest.raises(InputError, match="language"):
        Transcript.load(t.save(tmp_path / "nolang.srt"))
    assert t.with_texts(["a", "b"], "es").segments[1].speaker == "B"


def test_face_box_geometry() -> None:
    b = FaceBox(10, 20, 110, 220, 0.9)
    assert (b.width, b.height, b.area) == (100.0, 200.0, 20000.0)
    assert b.iou(FaceBox(60, 20, 160, 220)) == pytest.approx(1 / 3)
    assert b.scaled(2).as_tuple() == (20.0, 40.0, 220.0, 440.0)
    assert b.padded(bottom=10).y2 == 230.0
    assert b.clipped(100, 100).as_tuple() == (10.0, 20.0, 100.0, 100.0)
    assert FaceBox(0.5, 0.5, 10.2, 10.7).to_int() == (0, 0, 11, 11)
    with pytest.raises(InputError, match="x2 > x1"):
        FaceBox(10, 10, 5, 20)


def test_video_info_fraction_fps() -> None:
    info = VideoInfo("a.mp4", Fraction(30000, 1001), 640, 360, 300, 10.01, rotation=-90)
    assert info.fps == Fraction(30000, 1001) and info.rotation == 270
    assert "29.970" in info.describe()
    assert dataclasses.replace(info, width=320).width == 320


def test_voice_language_matching() -> None:
    v = Voice("es-ES-Neural2-A", ("es-ES",))
    assert v.supports("es") and v.supports("es-ES") and v.supports(None)
    assert not v.supports("en")


# ----------------------------------------------------------------- errors


def test_errors_are_builtin_compatible_and_pickle() -> None:
    err = MediaError("not a video", path="in.mp4", hint="re-encode it")
    assert isinstance(err, ValueError) and isinstance(err, LipdubError)
    assert str(err) == "in.mp4: not a video (re-encode it)"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is MediaError and str(back) == str(err) and back.path == "in.mp4"
    assert issubclass(BackendNotInstalled, ImportError)


# ----------------------------------------------------------------- registry


def test_registry_resolves_names_instances_and_options() -> None:
    from lipdub.testing import FakeVoiceSynth

    v = FakeVoiceSynth()
    assert registry.resolve("voice", v) is v
    built = registry.resolve("voice", ("fake", {"seconds_per_word": 0.5}))
    assert built.seconds_per_word == 0.5
    built = registry.resolve("voice", {"name": "fake", "sample_rate_hz": 16000})
    assert built.sample_rate_hz == 16000
    with pytest.raises(UnknownBackendError, match=r"available: .*espeak") as info:
        registry.resolve("voice", "nope")
    assert isinstance(info.value, KeyError)
    with pytest.raises(InputError, match="VoiceSynth instance"):
        registry.resolve("voice", 42)


def test_fakes_are_registered_by_register_fakes_not_by_import_nor_built_in() -> None:
    code = (
        "from lipdub import registry; "
        "print([(k, n) for k in registry.KINDS for n in registry.available(k)]); "
        "import lipdub.testing; "
        "print([(k, n) for k in registry.KINDS for n in registry.available(k)]); "
        "lipdub.testing.register_fakes(); "
        "print([(k, n, registry.entry(k, n).source) for k in registry.KINDS "
        "for n in registry.available(k) if registry.entry(k, n).source != 'builtin'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, imported, after = (ast.literal_eval(line) for line in out.stdout.splitlines())
    assert ("translator", "identity") in before
    assert not any(n in ("fake", "passthrough", "bright") for _, n in before)
    assert imported == before  # importing the package registers nothing
    assert sorted(after) == [
        ("detector", "bright", "testing"),
        ("detector", "fake", "testing"),
        ("detector", "fixed_faces", "testing"),
        ("lipsyncer", "passthrough", "testing"),
        ("transcriber", "fake", "testing"),
        ("translator", "fake", "testing"),
        ("translator", "fitting", "testing"),
        ("translator", "wordy", "testing"),
        ("voice", "fake", "testing"),
        ("voice", "fake_clone", "testing"),
    ]


def test_identity_translator_is_a_builtin_backend() -> None:
    from lipdub.testing import IdentityTranslator as TestingIdentity
    from lipdub.translate.identity import IdentityTranslator

    assert TestingIdentity is IdentityTranslator
    assert registry.entry("translator", "identity").source == "builtin"
    tr = registry.resolve("translator", "identity")
    assert isinstance(tr, IdentityTranslator) and tr.settings() == {}
    t = Transcript("es", (Segment(0.0, 1.0, "¿Hola?"), Segment(1.0, 2.0, "Sí.")))
    out = tr.translate_transcript(t, "es")
    assert [s.text for s in out.segments] == ["¿Hola?", "Sí."] and out.language == "es"


def test_register_fakes_is_idempotent() -> None:
    from lipdub.testing import register_fakes

    assert register_fakes() == []
    assert registry.entry("lipsyncer", "passthrough").source == "testing"


def test_registry_reports_the_missing_extra(tmp_path, monkeypatch) -> None:
    (tmp_path / "lipdub_demo_backend.py").write_text("import definitely_missing_dep\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # registered in a copy of the tables, so the entry (whose module goes with
    # tmp_path) does not outlive this test
    monkeypatch.setattr(registry, "_tables", {k: dict(v) for k, v in registry._tables.items()})
    registry.register("voice", "needs-extra", "lipdub_demo_backend:Voice", extra="local")
    with pytest.raises(BackendNotInstalled, match=r"definitely_missing_dep.*lipdub\[local\]"):
        registry.resolve("voice", "needs-extra")


def test_registry_protects_names_and_reads_entry_points(tmp_path, monkeypatch) -> None:
    with pytest.raises(InputError, match="already exists"):
        registry.register("voice", "espeak", "x:y")
    # A plugin distribution on sys.path with an entry point in the group.
    dist = tmp_path / "acme_voice-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-voice\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[lipdub.backends]\nvoice.acme = lipdub.testing:FakeVoiceSynth\n"
        "voice.espeak = lipdub.testing:FakeVoiceSynth\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    assert "acme" in registry.available("voice")
    assert registry.entry("voice", "acme").source == "plugin"
    assert registry.entry("voice", "espeak").source == "builtin"  # not shadowed
    assert registry.resolve("voice", "acme").name == "fake"


def test_language_codes() -> None:
    from lipdub.errors import UnknownLanguageError
    from lipdub.languages import check_language

    assert check_language("es") == "es"
    assert check_language("pt_br") == "pt-BR"
    with pytest.raises(UnknownLanguageError, match="'xx'"):
        check_language("xx")


def test_atomic_writes_get_the_usual_file_mode(tmp_path) -> None:
    import os

    from lipdub._io import atomic_write_text

    path = atomic_write_text(tmp_path / "out.txt", "hello")
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
