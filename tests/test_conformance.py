"""lipdub's own backends and fakes pass the conformance suites users get."""

from __future__ import annotations

import numpy as np
import pytest

from lipdub import registry
from lipdub.testing import (
    BrightRegionDetector,
    FakeTranscriber,
    FakeTranslator,
    FakeVoiceSynth,
    PassThroughLipSyncer,
)
from lipdub.testing.conformance import (
    FaceDetectorConformance,
    LipSyncerConformance,
    TranscriberConformance,
    TranslatorConformance,
    VoiceSynthConformance,
)


class TestFakeVoice(VoiceSynthConformance):
    def make_voice(self):  # type: ignore[no-untyped-def]
        return FakeVoiceSynth()


class TestEspeakVoice(VoiceSynthConformance):
    language = "es"
    text = "Hola, esta es una prueba de la voz."

    def make_voice(self):  # type: ignore[no-untyped-def]
        pytest.importorskip("espeakng_loader")
        return registry.resolve("voice", "espeak")


class TestFakeTranslator(TranslatorConformance):
    def make_translator(self):  # type: ignore[no-untyped-def]
        return FakeTranslator()


class TestFakeTranscriber(TranscriberConformance):
    def make_transcriber(self):  # type: ignore[no-untyped-def]
        return FakeTranscriber.from_texts(["One.", "Two."], start_s=0.2, segment_s=1.0, gap_s=0.3)


class TestBrightRegionDetector(FaceDetectorConformance):
    def make_detector(self):  # type: ignore[no-untyped-def]
        return BrightRegionDetector()


class TestRetinaFace(FaceDetectorConformance):
    def make_detector(self):  # type: ignore[no-untyped-def]
        pytest.importorskip("onnxruntime")
        return registry.resolve("detector", "retinaface")

    def face_frame(self) -> np.ndarray:
        from lipdub.media import read_image
        from lipdub.testing.media import sample_portrait_path

        return read_image(sample_portrait_path())


class TestPassThrough(LipSyncerConformance):
    def make_lipsyncer(self):  # type: ignore[no-untyped-def]
        return PassThroughLipSyncer()


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

        return Wav2LipSyncer.from_pretrained(self.path, device="cpu")
