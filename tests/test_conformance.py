"""lipdub's own backends and fakes pass the conformance suites users get.

Backends whose test modules build them from local models (Whisper, OPUS-MT, Piper, the
Google services' fakes, Haar on a photo, S3FD) register their suites there, next to
the fixtures that build them.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from lipdub import registry
from lipdub.component import Component
from lipdub.errors import UnknownLanguageError
from lipdub.separate.duck import DuckingSeparator
from lipdub.separate.spectral import SpectralVoiceSeparator
from lipdub.testing import (
    BrightRegionDetector,
    FakeFaceDetector,
    FakeTranscriber,
    FakeTranslator,
    FakeVoiceSynth,
    IdentityTranslator,
    PassThroughLipSyncer,
    ScriptedNBestTranslator,
)
from lipdub.testing.cloning import FakeChatterboxEngine
from lipdub.testing.conformance import (
    FaceDetectorConformance,
    LipSyncerConformance,
    SeparatorConformance,
    SettingsConformance,
    TranscriberConformance,
    TranslatorConformance,
    VoiceSynthConformance,
)
from lipdub.voice.base import VoiceSynth


class TestFakeVoice(VoiceSynthConformance):
    def make_voice(self):  # type: ignore[no-untyped-def]
        return FakeVoiceSynth()

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return FakeVoiceSynth(seconds_per_word=0.4)


class TestEspeakVoice(VoiceSynthConformance):
    language = "es"
    text = "Hola, esta es una prueba de la voz."

    def make_voice(self):  # type: ignore[no-untyped-def]
        pytest.importorskip("espeakng_loader")
        return registry.resolve("voice", "espeak")

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return registry.resolve("voice", ("espeak", {"pitch": 60}))


class TestFakeTranslator(TranslatorConformance):
    def make_translator(self):  # type: ignore[no-untyped-def]
        return FakeTranslator()

    def make_changed_backend(self) -> None:
        return None  # no options


class TestIdentityTranslator(TranslatorConformance):
    def make_translator(self):  # type: ignore[no-untyped-def]
        return IdentityTranslator()

    def make_changed_backend(self) -> None:
        return None  # no options


class TestScriptedNBestTranslator(TranslatorConformance):
    """The length-aware kind: one text per line under a FitRequest."""

    script: ClassVar[dict[str, list[tuple[str, float]]]] = {
        "Good morning.": [("Buenos días.", -0.2), ("Buen día.", -0.5)],
        "How are you today?": [("¿Cómo estás hoy?", -0.1), ("¿Qué tal?", -0.6)],
        "Thank you very much.": [("Muchísimas gracias.", -0.3), ("Gracias.", -0.4)],
        # the glossary test's first line, its kept term behind the glossary's placeholder
        "Good morning. ZQX0.": [("Buenos días. ZQX0.", -0.2)],
    }

    def make_translator(self):  # type: ignore[no-untyped-def]
        return ScriptedNBestTranslator(self.script)

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return ScriptedNBestTranslator({**self.script, "Good morning.": [("Hola.", 0.0)]})


class TestFakeTranscriber(TranscriberConformance):
    def make_transcriber(self):  # type: ignore[no-untyped-def]
        return FakeTranscriber.from_texts(["One.", "Two."], start_s=0.2, segment_s=1.0, gap_s=0.3)

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return FakeTranscriber.from_texts(["One.", "Three."], start_s=0.2, segment_s=1.0, gap_s=0.3)


class TestBrightRegionDetector(FaceDetectorConformance):
    def make_detector(self):  # type: ignore[no-untyped-def]
        return BrightRegionDetector()

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return BrightRegionDetector(threshold=100)


class TestFakeFaceDetector(FaceDetectorConformance):
    def make_detector(self):  # type: ignore[no-untyped-def]
        return FakeFaceDetector(min_brightness=10.0)

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return FakeFaceDetector(box=(10, 10, 50, 60), min_brightness=10.0)


class TestRetinaFace(FaceDetectorConformance):
    def make_detector(self):  # type: ignore[no-untyped-def]
        pytest.importorskip("onnxruntime")
        return registry.resolve("detector", "retinaface")

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return registry.resolve("detector", ("retinaface", {"score_threshold": 0.6}))

    def make_same_output_backend(self):  # type: ignore[no-untyped-def]
        return registry.resolve("detector", ("retinaface", {"num_threads": 1, "batch_size": 2}))

    def face_frame(self) -> np.ndarray:
        from lipdub.media import read_image
        from lipdub.testing.media import sample_portrait_path

        return read_image(sample_portrait_path())


class TestPassThrough(LipSyncerConformance):
    def make_lipsyncer(self):  # type: ignore[no-untyped-def]
        return PassThroughLipSyncer()

    def make_changed_backend(self) -> None:
        return None  # no options


class TestWav2LipRandomWeights(LipSyncerConformance):
    @pytest.fixture(autouse=True)
    def _checkpoint(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

        path = tmp_path_factory.getbasetemp() / "conformance_wav2lip.safetensors"
        if not path.exists():
            write_random_wav2lip_checkpoint(path, format="safetensors")
        self.path = path

    def make_lipsyncer(self):  # type: ignore[no-untyped-def]
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        return Wav2LipSyncer.from_pretrained(self.path, device="cpu", precision="fp32")

    def make_lipsyncer_in(self, precision):  # type: ignore[no-untyped-def]
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        return Wav2LipSyncer.from_pretrained(self.path, device="cpu", precision=precision)

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        return Wav2LipSyncer.from_pretrained(self.path, device="cpu", dtype="bfloat16")

    def make_same_output_backend(self):  # type: ignore[no-untyped-def]
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        # another device (the meta device exists on every machine), a token, a cache
        return Wav2LipSyncer.from_pretrained(
            self.path,
            device="meta",
            precision="fp32",
            token="hf_not_a_real_token",
            cache_dir=self.path.parent,
        )


class TestWav2LipInt8(TestWav2LipRandomWeights):
    """The int8 precision (ONNX Runtime) keeps the lip-syncer contract."""

    @pytest.fixture(autouse=True)
    def _int8_cache(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")
        self.int8_cache = tmp_path_factory.getbasetemp() / "conformance_int8"

    def make_lipsyncer(self):  # type: ignore[no-untyped-def]
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        return Wav2LipSyncer.from_pretrained(
            self.path, device="cpu", precision="int8", int8_cache_dir=self.int8_cache
        )

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        return Wav2LipSyncer.from_pretrained(self.path, device="cpu", precision="fp32")

    def make_same_output_backend(self):  # type: ignore[no-untyped-def]
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        # another int8 cache folder, a token, a Hugging Face cache
        return Wav2LipSyncer.from_pretrained(
            self.path,
            device="cpu",
            precision="int8",
            int8_cache_dir=self.int8_cache.parent / "elsewhere",
            token="hf_not_a_real_token",
            cache_dir=self.path.parent,
        )


class TestDuckingSeparator(SeparatorConformance):
    def make_separator(self):  # type: ignore[no-untyped-def]
        return DuckingSeparator()

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return DuckingSeparator(duck_db=-20.0)


class TestSpectralSeparator(SeparatorConformance):
    def make_separator(self):  # type: ignore[no-untyped-def]
        return SpectralVoiceSeparator()

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return SpectralVoiceSeparator(band_hz=(120.0, 5000.0))


# ------------------------------------------------------- the settings checks themselves


class _Leaky(FakeVoiceSynth):
    """A voice whose settings break every rule the suite checks, one per mode."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def settings(self):  # type: ignore[no-untyped-def]
        base = super().settings()
        if self.mode == "token":
            return {**base, "auth": {"hf_token": "hf_abc"}}
        if self.mode == "device":
            return {**base, "device": "cuda"}
        if self.mode == "path":
            return {**base, "weights": Path("/models/w.pth")}
        if self.mode == "tuple":
            return {**base, "band": (1, 2)}
        if self.mode == "unstable":
            self.calls.append(("", None, 0.0))
            return {**base, "n": len(self.calls)}
        return base


@pytest.mark.parametrize("mode", ["token", "device", "path", "tuple", "unstable"])
def test_the_suite_catches_bad_settings(mode: str) -> None:
    class Suite(VoiceSynthConformance):
        def make_voice(self) -> VoiceSynth:
            return _Leaky(mode)

    with pytest.raises((AssertionError, TypeError)):
        Suite().test_declares_its_settings()


def test_the_changed_backend_hook_must_be_provided() -> None:
    class Suite(VoiceSynthConformance):
        def make_voice(self) -> VoiceSynth:
            return FakeVoiceSynth()

    with pytest.raises(NotImplementedError, match="make_changed_backend"):
        Suite().test_an_output_option_changes_the_settings()

    class Same(Suite):
        def make_changed_backend(self) -> Component | None:
            return FakeVoiceSynth()  # not changed at all

    with pytest.raises(AssertionError):
        Same().test_an_output_option_changes_the_settings()


def test_settings_conformance_works_on_any_component() -> None:
    class Suite(SettingsConformance):
        def make_backend(self) -> Component:
            return DuckingSeparator()

        def make_same_output_backend(self) -> Component:
            return DuckingSeparator(rest_db=-6.0)

    Suite().test_declares_its_settings()
    Suite().test_secrets_and_devices_do_not_change_the_settings()


def test_a_backend_without_settings_cannot_be_built() -> None:
    class NoSettings(VoiceSynth):
        def synthesize(self, text, *, voice=None, language=None, rate=1.0):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def list_voices(self, language=None):  # type: ignore[no-untyped-def]
            return []

    with pytest.raises(TypeError, match="settings"):
        NoSettings()  # type: ignore[abstract]


class TestMatchedVoice(VoiceSynthConformance):
    """The reference-matched stand-in (espeak-ng speech moved to the reference)."""

    def make_voice(self):  # type: ignore[no-untyped-def]
        pytest.importorskip("espeakng_loader")
        return registry.resolve("voice", "match")

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return registry.resolve("voice", ("match", {"max_eq_db": 6.0}))


class TestMatchedFakeVoice(VoiceSynthConformance):
    """The matched voice over the fake tone voice: no espeak needed."""

    def make_voice(self):  # type: ignore[no-untyped-def]
        from lipdub.voice.match import MatchedVoiceSynth

        return MatchedVoiceSynth(FakeVoiceSynth())

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        from lipdub.voice.match import MatchedVoiceSynth

        return MatchedVoiceSynth(FakeVoiceSynth(), match_timbre=False)


class TestChatterboxAdapter(VoiceSynthConformance):
    """The Chatterbox adapter over a stand-in engine (the real package cannot be installed)."""

    def make_voice(self):  # type: ignore[no-untyped-def]
        from lipdub.voice.chatterbox import ChatterboxVoiceSynth

        return ChatterboxVoiceSynth(engine=FakeChatterboxEngine())

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        from lipdub.voice.chatterbox import ChatterboxVoiceSynth

        return ChatterboxVoiceSynth(engine=FakeChatterboxEngine(), temperature=0.5)


class TestRecordingCloneVoice(VoiceSynthConformance):
    """The cloning test double that records each line's reference (lipdub.testing.cloning)."""

    def make_voice(self):  # type: ignore[no-untyped-def]
        from lipdub.testing.cloning import RecordingCloneVoice

        return RecordingCloneVoice()

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        from lipdub.testing.cloning import RecordingCloneVoice

        return RecordingCloneVoice(seconds_per_word=0.4)


def test_chatterbox_prepares_each_reference_once_and_restores_its_own_voice() -> None:
    from lipdub.testing.media import voice_tones
    from lipdub.voice.chatterbox import ChatterboxVoiceSynth
    from lipdub.voice.voiceprint import median_f0

    engine = FakeChatterboxEngine()
    synth = ChatterboxVoiceSynth(engine=engine)
    low, high = voice_tones(100.0, 4.0), voice_tones(200.0, 4.0)
    a = synth.synthesize_many(["uno dos", "tres cuatro"], language="es", reference=low)
    b = synth.synthesize("uno dos", language="es", reference=high)
    own = synth.synthesize("uno dos", language="es")
    assert len(engine.prepared) == 2  # once per distinct reference
    assert abs(median_f0(a[0]) / 100.0 - 1) < 0.05 and abs(median_f0(b) / 200.0 - 1) < 0.05  # type: ignore[operator]
    assert abs(median_f0(own) / 120.0 - 1) < 0.05  # type: ignore[operator]
    again = synth.synthesize("uno dos", language="es", reference=low)
    assert np.array_equal(again.samples, a[0].samples)  # seeded: the same line, the same audio
    with pytest.raises(UnknownLanguageError):
        synth.synthesize("hola", language="xh")


def test_chatterbox_without_the_package_names_the_extra() -> None:
    import importlib.util

    from lipdub.errors import BackendNotInstalled
    from lipdub.voice.chatterbox import ChatterboxVoiceSynth

    if importlib.util.find_spec("chatterbox") is not None:
        pytest.skip("chatterbox is installed")
    with pytest.raises(BackendNotInstalled, match=r"lipdub\[clone\]"):
        ChatterboxVoiceSynth().synthesize("hola", language="es")
