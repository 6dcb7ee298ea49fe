"""Conformance suites any backend can run: subclass, provide a factory, get the tests.

Each class here is a pytest test class without ``Test`` in its name, so pytest collects
it only when you subclass it in a test module with a ``Test...`` name and implement the
factory method. The tests check the interface contract that lipdub's pipeline relies
on (shapes, types, one-to-one outputs, time ranges), not the backend's quality::

    # tests/test_my_voice.py
    from lipdub.testing.conformance import VoiceSynthConformance

    class TestMyVoice(VoiceSynthConformance):
        language = "es"

        def make_voice(self):
            return MyVoice()

This module imports pytest; import it only from tests.
"""

from __future__ import annotations

import numpy as np
import pytest

from lipdub.faces.base import FaceDetector
from lipdub.lipsync.base import LipSyncer
from lipdub.testing.media import draw_face, speech_tones
from lipdub.transcribe.base import Transcriber
from lipdub.translate.base import Translator
from lipdub.types import AudioClip, FaceBox, Transcript, Voice
from lipdub.voice.base import VoiceSynth

__all__ = [
    "FaceDetectorConformance",
    "LipSyncerConformance",
    "TranscriberConformance",
    "TranslatorConformance",
    "VoiceSynthConformance",
]


class VoiceSynthConformance:
    """Contract tests for a :class:`~lipdub.VoiceSynth`."""

    #: Language the tests speak.
    language = "en"
    #: A sentence in that language.
    text = "Hello, this is a test of the voice."

    def make_voice(self) -> VoiceSynth:
        """Return the backend under test."""
        raise NotImplementedError

    def test_speaks_non_silent_mono_audio(self) -> None:
        clip = self.make_voice().synthesize(self.text, language=self.language)
        assert isinstance(clip, AudioClip)
        assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1
        assert 0.3 < clip.duration_s < 30
        assert clip.rms() > 1e-3
        assert float(np.max(np.abs(clip.samples))) <= 1.0

    def test_a_faster_rate_is_shorter(self) -> None:
        voice = self.make_voice()
        if not voice.native_rate:
            pytest.skip("the backend has no native speaking rate")
        normal = voice.synthesize(self.text, language=self.language)
        fast = voice.synthesize(self.text, language=self.language, rate=1.5)
        assert fast.duration_s < 0.9 * normal.duration_s

    def test_lists_voices_for_its_language(self) -> None:
        voice = self.make_voice()
        voices = voice.list_voices(self.language)
        assert voices and all(isinstance(v, Voice) for v in voices)
        assert all(v.supports(self.language) for v in voices)

    def test_synthesize_many_keeps_order_and_count(self) -> None:
        texts = [self.text, self.text.split(",")[0]]
        clips = self.make_voice().synthesize_many(texts, language=self.language)
        assert len(clips) == 2 and clips[0].duration_s > clips[1].duration_s


class TranslatorConformance:
    """Contract tests for a :class:`~lipdub.Translator`."""

    source = "en"
    target = "es"
    texts = ("Good morning.", "How are you today?", "Thank you very much.")

    def make_translator(self) -> Translator:
        """Return the backend under test."""
        raise NotImplementedError

    def test_one_output_per_input_in_order(self) -> None:
        out = self.make_translator().translate(list(self.texts), self.source, self.target)
        assert isinstance(out, list) and len(out) == len(self.texts)
        assert all(isinstance(t, str) and t.strip() for t in out)

    def test_empty_batch(self) -> None:
        assert self.make_translator().translate([], self.source, self.target) == []


class TranscriberConformance:
    """Contract tests for a :class:`~lipdub.Transcriber`.

    Override :meth:`speech` to return real speech for backends that need it; the default
    is syllable-like tones, which most recognisers transcribe as little or nothing.
    """

    language: str | None = "en"

    def make_transcriber(self) -> Transcriber:
        """Return the backend under test."""
        raise NotImplementedError

    def speech(self) -> AudioClip:
        """The audio the tests transcribe."""
        return speech_tones(3.0, 16000)

    def test_segments_are_ordered_and_inside_the_audio(self) -> None:
        audio = self.speech()
        transcript = self.make_transcriber().transcribe(audio, self.language)
        assert isinstance(transcript, Transcript) and transcript.language
        last = 0.0
        for seg in transcript.segments:
            assert seg.start_s >= last - 1e-6
            assert seg.end_s <= audio.duration_s + 0.05
            last = seg.start_s
            for word in seg.words:
                assert seg.start_s - 0.05 <= word.start_s <= word.end_s <= seg.end_s + 0.05


class FaceDetectorConformance:
    """Contract tests for a :class:`~lipdub.FaceDetector`.

    :meth:`face_frame` returns a frame with one face in it (default: lipdub's drawn
    face, which only simple detectors find); override it with a photo for real detectors.
    """

    def make_detector(self) -> FaceDetector:
        """Return the backend under test."""
        raise NotImplementedError

    def face_frame(self) -> np.ndarray:
        """A ``(H, W, 3)`` uint8 BGR frame showing one face."""
        canvas = np.full((240, 320, 3), 30, np.uint8)
        return draw_face(canvas, (160.0, 120.0), 150.0)

    def test_one_result_list_per_frame(self) -> None:
        frames = [self.face_frame(), np.zeros((120, 160, 3), np.uint8), self.face_frame()]
        found = self.make_detector().detect(frames)
        assert isinstance(found, list) and len(found) == 3
        assert found[1] == []

    def test_boxes_lie_in_the_frame_best_first(self) -> None:
        frame = self.face_frame()
        h, w = frame.shape[:2]
        faces = self.make_detector().detect([frame])[0]
        assert faces, "no face found in face_frame()"
        for box in faces:
            assert isinstance(box, FaceBox)
            assert -1 <= box.x1 < box.x2 <= w + 1 and -1 <= box.y1 < box.y2 <= h + 1
        scores = [b.score for b in faces]
        assert scores == sorted(scores, reverse=True)

    def test_empty_batch(self) -> None:
        assert self.make_detector().detect([]) == []


class LipSyncerConformance:
    """Contract tests for a :class:`~lipdub.LipSyncer`."""

    def make_lipsyncer(self) -> LipSyncer:
        """Return the backend under test."""
        raise NotImplementedError

    def test_output_matches_input_shape_and_dtype(self) -> None:
        syncer = self.make_lipsyncer()
        size = syncer.face_size
        rng = np.random.default_rng(0)
        faces = rng.integers(0, 256, (3, size, size, 3), dtype=np.uint8)
        mels = rng.uniform(-4, 4, (3, syncer.mel_bands, syncer.mel_window)).astype(np.float32)
        out = syncer.sync(faces, mels)
        assert out.shape == faces.shape and out.dtype == np.uint8

    def test_batch_results_do_not_depend_on_the_batch(self) -> None:
        syncer = self.make_lipsyncer()
        size = syncer.face_size
        rng = np.random.default_rng(1)
        faces = rng.integers(0, 256, (4, size, size, 3), dtype=np.uint8)
        mels = rng.uniform(-4, 4, (4, syncer.mel_bands, syncer.mel_window)).astype(np.float32)
        whole = syncer.sync(faces, mels)
        halves = np.concatenate(
            [syncer.sync(faces[:2], mels[:2]), syncer.sync(faces[2:], mels[2:])]
        )
        assert int(np.abs(whole.astype(int) - halves.astype(int)).max()) <= 1
