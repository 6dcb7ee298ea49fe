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

Every suite also checks the backend's :meth:`~lipdub.component.Component.settings`
(the options that key the pipeline's cache). Two hooks complete those checks:

* :meth:`~SettingsConformance.make_changed_backend`: the backend with one option that
  changes its output changed; its settings must differ. Until a test class provides it
  the test fails; returning None declares that the backend has no such option.
* :meth:`~SettingsConformance.make_same_output_backend`: the backend with only a token,
  device, cache folder or concurrency changed; its settings must be equal. The default
  (None) skips that test.

A lip-syncer that declares precisions (:attr:`~lipdub.LipSyncer.precisions`) also
provides :meth:`~LipSyncerPrecisionConformance.make_lipsyncer_in`, the backend built
with a given precision; :class:`LipSyncerPrecisionConformance` alone checks that
contract where ``sync`` is too slow to run the whole kit.

This module imports pytest; import it only from tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from lipdub.component import Component
from lipdub.diarize.base import Diarizer, SpeakerTurn
from lipdub.errors import BackendNotInstalled, CloningNotSupported, InputError
from lipdub.eval.base import SpeakingScorer
from lipdub.faces.base import FaceDetector
from lipdub.lipsync.auto_precision import AUTO_MODES
from lipdub.lipsync.base import LipSyncer
from lipdub.separate.base import Separation, Separator
from lipdub.testing.media import draw_face, speech_tones, voice_tones
from lipdub.transcribe.base import Transcriber
from lipdub.translate.base import Translator
from lipdub.types import AudioClip, FaceBox, Segment, Transcript, Voice
from lipdub.types.fit import FitRequest, LineBudget, SpeechLength
from lipdub.voice.base import VoiceSynth

__all__ = [
    "FORBIDDEN_SETTINGS_KEY",
    "DiarizerConformance",
    "FaceDetectorConformance",
    "LipSyncerConformance",
    "LipSyncerPrecisionConformance",
    "SeparatorConformance",
    "SettingsConformance",
    "SpeakingScorerConformance",
    "TranscriberConformance",
    "TranslatorConformance",
    "VoiceSynthConformance",
]

#: Key names that must not appear in ``settings()`` (at any depth): secrets, devices,
#: caches, threads, callbacks and concurrency never change a component's output.
FORBIDDEN_SETTINGS_KEY = re.compile(
    r"token|secret|password|credential|api_?key|key_?file|device|cache|callback|on_event"
    r"|thread|concurrency",
    re.IGNORECASE,
)


def _keys(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted path, key)`` of the dicts in ``value``, lists included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}" if path else str(k), k
            yield from _keys(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _keys(v, f"{path}[{i}]")


class SettingsConformance:
    """Checks of :meth:`~lipdub.component.Component.settings`, shared by every suite.

    Each suite maps :meth:`make_backend` to its own factory (``make_voice``...).
    """

    def make_backend(self) -> Component:
        """The backend under test (each suite returns its own factory's)."""
        raise NotImplementedError

    def make_changed_backend(self) -> Component | None:
        """The backend with ONE option that changes its output changed.

        Return None to declare that the backend has no output-changing option (the
        test is then skipped with that reason).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement make_changed_backend(): return the "
            "backend with one output-changing option changed, or None if it has none"
        )

    def make_same_output_backend(self) -> Component | None:
        """The backend with only a token, device, cache folder or concurrency changed.

        None (the default) skips the test.
        """
        return None

    def test_declares_its_settings(self) -> None:
        backend = self.make_backend()
        settings = backend.settings()
        assert isinstance(settings, dict)
        assert all(isinstance(k, str) for k in settings)
        text = json.dumps(settings, sort_keys=True)  # JSON-ready as it is, no default=
        assert json.loads(text) == settings, "settings do not survive a JSON round trip"
        assert json.dumps(backend.settings(), sort_keys=True) == text, "settings are unstable"
        for path, key in _keys(settings):
            assert isinstance(key, str), f"settings key {path!r} is not a str"
            assert not FORBIDDEN_SETTINGS_KEY.search(key), (
                f"settings key {path!r} names a secret, device, cache, thread count, "
                "callback or concurrency option, which must not change the output"
            )

    def test_an_output_option_changes_the_settings(self) -> None:
        changed = self.make_changed_backend()
        if changed is None:
            pytest.skip(f"{type(self).__name__}: the backend has no output-changing option")
        assert changed.settings() != self.make_backend().settings()

    def test_secrets_and_devices_do_not_change_the_settings(self) -> None:
        same = self.make_same_output_backend()
        if same is None:
            pytest.skip(f"{type(self).__name__}: no token, device or cache option to vary")
        assert same.settings() == self.make_backend().settings()


class VoiceSynthConformance(SettingsConformance):
    """Contract tests for a :class:`~lipdub.VoiceSynth`."""

    #: Language the tests speak.
    language = "en"
    #: A sentence in that language.
    text = "Hello, this is a test of the voice."

    def make_voice(self) -> VoiceSynth:
        """Return the backend under test."""
        raise NotImplementedError

    def make_backend(self) -> VoiceSynth:
        """:meth:`make_voice`."""
        return self.make_voice()

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

    def reference_clips(self) -> tuple[AudioClip, AudioClip]:
        """Two different reference voices (a low, dark one and a high, bright one)."""
        return voice_tones(105.0, 4.0), voice_tones(210.0, 4.0, brightness=2.0)

    def test_cloning_is_as_declared(self) -> None:
        """``clones`` False: a reference is refused (typed); True: it changes the voice."""
        voice = self.make_voice()
        low, high = self.reference_clips()
        if not voice.clones:
            with pytest.raises(CloningNotSupported):
                voice.synthesize(self.text, language=self.language, reference=low)
            with pytest.raises(CloningNotSupported):
                voice.synthesize_many([self.text], language=self.language, reference=low)
            return
        a = voice.synthesize(self.text, language=self.language, reference=low)
        b = voice.synthesize(self.text, language=self.language, reference=high)
        for clip in (a, b):
            assert isinstance(clip, AudioClip) and clip.samples.ndim == 1
            assert clip.rms() > 1e-3 and float(np.max(np.abs(clip.samples))) <= 1.0
        same = a.sample_rate_hz == b.sample_rate_hz and a.num_samples == b.num_samples
        assert not (same and np.allclose(a.samples, b.samples, atol=1e-4)), (
            "the output does not change with the reference"
        )
        many = voice.synthesize_many([self.text, self.text], language=self.language, reference=low)
        assert len(many) == 2 and all(c.rms() > 1e-3 for c in many)


class TranslatorConformance(SettingsConformance):
    """Contract tests for a :class:`~lipdub.Translator`."""

    source = "en"
    target = "es"
    texts = ("Good morning.", "How are you today?", "Thank you very much.")

    def make_translator(self) -> Translator:
        """Return the backend under test."""
        raise NotImplementedError

    def make_backend(self) -> Translator:
        """:meth:`make_translator`."""
        return self.make_translator()

    def test_a_kept_glossary_term_survives(self) -> None:
        """Every translator honours a glossary (placeholders, or its own instructions)."""
        from lipdub.translate.glossary import Glossary
        from lipdub.types import Segment

        glossary = Glossary.parse("Zorblax, keep")
        texts = [f"{self.texts[0]} Zorblax.", *self.texts[1:]]
        source = Transcript(self.source, tuple(Segment(i, i + 1.0, t) for i, t in enumerate(texts)))
        out = self.make_translator().translate_transcript(source, self.target, glossary=glossary)
        assert len(out.segments) == len(texts)
        assert glossary.check(texts[0], out.segments[0].text) == []
        assert "Zorblax" in out.segments[0].text

    def test_one_output_per_input_in_order(self) -> None:
        out = self.make_translator().translate(list(self.texts), self.source, self.target)
        assert isinstance(out, list) and len(out) == len(self.texts)
        assert all(isinstance(t, str) and t.strip() for t in out)

    def test_empty_batch(self) -> None:
        assert self.make_translator().translate([], self.source, self.target) == []

    def fit_request(self) -> FitRequest:
        """Time budgets for :attr:`texts`: 2 s a line, at 14 characters a second."""
        return FitRequest(
            tuple(LineBudget(1.5, 2.0) for _ in self.texts), SpeechLength("conformance")
        )

    def _transcript(self) -> Transcript:
        segments = tuple(Segment(2.0 * i, 2.0 * i + 1.5, t) for i, t in enumerate(self.texts))
        return Transcript(self.source, segments)

    def test_time_budgets_are_as_declared(self) -> None:
        """A length-aware backend writes one text per line under a FitRequest; any
        other refuses :meth:`~lipdub.Translator.translate_fitted` and translates a
        transcript with budgets exactly as without them."""
        translator = self.make_translator()
        fit = self.fit_request()
        if translator.length_aware:
            out = translator.translate_fitted(list(self.texts), self.source, self.target, fit)
            assert isinstance(out, list) and len(out) == len(self.texts)
            assert all(isinstance(t, str) and t.strip() for t in out)
            done = translator.translate_transcript(self._transcript(), self.target, fit=fit)
            assert len(done.segments) == len(self.texts) and done.language == self.target
        else:
            with pytest.raises(NotImplementedError, match="not length-aware"):
                translator.translate_fitted(list(self.texts), self.source, self.target, fit)
            plain = translator.translate_transcript(self._transcript(), self.target)
            budgeted = self.make_translator().translate_transcript(
                self._transcript(), self.target, fit=fit
            )
            assert budgeted == plain


class TranscriberConformance(SettingsConformance):
    """Contract tests for a :class:`~lipdub.Transcriber`.

    Override :meth:`speech` to return real speech for backends that need it; the default
    is syllable-like tones, which most recognisers transcribe as little or nothing.
    """

    language: str | None = "en"

    def make_transcriber(self) -> Transcriber:
        """Return the backend under test."""
        raise NotImplementedError

    def make_backend(self) -> Transcriber:
        """:meth:`make_transcriber`."""
        return self.make_transcriber()

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


class FaceDetectorConformance(SettingsConformance):
    """Contract tests for a :class:`~lipdub.FaceDetector`.

    :meth:`face_frame` returns a frame with one face in it (default: lipdub's drawn
    face, which only simple detectors find); override it with a photo for real detectors.
    """

    def make_detector(self) -> FaceDetector:
        """Return the backend under test."""
        raise NotImplementedError

    def make_backend(self) -> FaceDetector:
        """:meth:`make_detector`."""
        return self.make_detector()

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


class LipSyncerPrecisionConformance:
    """The precision contract of a :class:`~lipdub.LipSyncer`
    (:class:`~lipdub.lipsync.precision.PrecisionContract`): its declared precisions,
    the refusals, ``precision`` and ``requested_precision``. Part of
    :class:`LipSyncerConformance`; subclass it alone where ``sync`` is too slow to run
    the whole kit.
    """

    def make_lipsyncer(self) -> LipSyncer:
        """Return the backend under test."""
        raise NotImplementedError

    def make_lipsyncer_in(self, precision: str | None) -> LipSyncer:
        """The backend built with ``precision`` (None: left to its default) on the
        device :meth:`make_lipsyncer` uses. Needed when the backend declares
        :attr:`~lipdub.lipsync.base.LipSyncer.precisions`."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement make_lipsyncer_in(precision): the "
            "backend declares precisions"
        )

    def test_declared_precisions_are_sound(self) -> None:
        syncer = self.make_lipsyncer()
        table = type(syncer).precisions
        names = type(syncer).accepted_precisions()
        if not table:
            assert names == () and syncer.precision is None
            assert syncer.requested_precision is None and syncer.auto_choice is None
            with pytest.raises(InputError, match="unknown precision 'fp32'"):
                type(syncer).parse_precision("fp32")
            return
        declared = set()
        for device, modes in table.items():
            assert modes and modes[0] == "fp32", f"{device}: fp32 (the reference) comes first"
            assert len(set(modes)) == len(modes) and set(modes) <= set(AUTO_MODES), modes
            declared |= set(modes)
        assert "auto" in names and set(names) - {"auto"} <= declared, names
        assert syncer.precision in syncer.device_precisions(syncer.device)

    def test_refusals_name_the_precision_and_where_it_runs(self) -> None:
        cls = type(self.make_lipsyncer())
        if not cls.precisions:  # no precision option: any name is refused, saying so
            with pytest.raises(InputError, match="unknown precision 'fp8'") as none:
                cls.parse_precision("fp8")
            assert "no precision option" in (none.value.hint or "")
            return
        with pytest.raises(InputError, match="unknown precision 'fp8'"):
            cls.parse_precision("fp8")
        with pytest.raises(InputError, match="unknown precision 'fp8'"):
            self.make_lipsyncer_in("fp8")
        declared = {m for modes in cls.precisions.values() for m in modes}
        for device, modes in cls.precisions.items():
            assert cls.check_precision("auto", device) == "auto"
            for mode in modes:
                assert cls.check_precision(mode, device) == mode
            for mode in sorted(declared - set(modes)):
                with pytest.raises(InputError, match=f"precision '{mode}' runs .* only") as e:
                    cls.check_precision(mode, device)
                assert e.value.hint, "a refusal says what to use instead"

    def test_an_explicit_precision_is_the_one_in_use(self) -> None:
        syncer = self.make_lipsyncer()
        if not type(syncer).precisions:
            assert syncer.precision is None and syncer.requested_precision is None
            return
        names = type(syncer).accepted_precisions()
        for mode in syncer.device_precisions(syncer.device):
            if mode not in names:
                continue  # reached another way (a dtype)
            try:
                built = self.make_lipsyncer_in(mode)
            except BackendNotInstalled:
                continue  # an extra this machine lacks: refused up front, as it should be
            assert built.requested_precision == mode == built.precision
            assert built.auto_choice is None
            settings = built.settings()
            if "precision" in settings:
                assert settings["precision"] == mode

    def test_auto_resolves_to_a_precision_the_device_runs(self) -> None:
        if not type(self.make_lipsyncer()).precisions:
            syncer = self.make_lipsyncer()
            syncer.prepare()
            assert syncer.precision is None and syncer.auto_choice is None
            return
        syncer = self.make_lipsyncer_in(None)
        assert syncer.requested_precision == "auto"
        mode = syncer.precision
        assert mode in syncer.device_precisions(syncer.device)
        choice = syncer.auto_choice
        assert choice is None or choice.precision == mode
        syncer.prepare()  # again: nothing changes
        assert syncer.precision == mode and syncer.requested_precision == "auto"
        settings = syncer.settings()
        if "precision" in settings:
            assert settings["precision"] == mode


class LipSyncerConformance(LipSyncerPrecisionConformance, SettingsConformance):
    """Contract tests for a :class:`~lipdub.LipSyncer`."""

    def make_lipsyncer(self) -> LipSyncer:
        """Return the backend under test."""
        raise NotImplementedError

    def make_backend(self) -> LipSyncer:
        """:meth:`make_lipsyncer`."""
        return self.make_lipsyncer()

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

    def test_audio_windows_feed_sync(self) -> None:
        from lipdub.types import AudioClip

        syncer = self.make_lipsyncer()
        t = np.arange(16000, dtype=np.float32) / 16000
        clip = AudioClip(0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32), 16000)
        feats = syncer.audio_features(clip)
        assert feats.dtype == np.float32 and feats.shape[-1] > 0
        windows = [syncer.audio_window(feats, i, 25) for i in (0, 12, 24, 500)]
        assert all(w.shape == syncer.window_shape for w in windows)
        size = syncer.face_size
        faces = np.zeros((4, size, size, 3), np.uint8)
        crops, mels = syncer.make_batch(list(faces), windows, 4)
        assert syncer.sync(crops, mels).shape == faces.shape

    def test_make_batch_pads_to_the_rows_asked(self) -> None:
        syncer = self.make_lipsyncer()
        size = syncer.face_size
        crops = [np.full((size, size, 3), 9, np.uint8)] * 3
        wins = [np.ones(syncer.window_shape, np.float32)] * 3
        faces, mels = syncer.make_batch(crops, wins, 5)
        assert faces.shape == (5, size, size, 3) and mels.shape == (5, *syncer.window_shape)
        assert int(faces[:3].min()) == 9 and int(faces[3:].max()) == 0
        assert float(mels[3:].max()) == 0.0

    def test_running_is_a_reentrant_context(self) -> None:
        syncer = self.make_lipsyncer()
        for _ in range(2):
            with syncer.running(1):
                pass


class SeparatorConformance(SettingsConformance):
    """Contract tests for a :class:`~lipdub.separate.base.Separator`.

    :meth:`mix` is the audio separated (default: two seconds of tone bursts over a
    steady hum) and :attr:`speech_spans` where its speech is.
    """

    speech_spans: tuple[tuple[float, float], ...] = ((0.4, 1.0), (1.2, 1.7))

    def make_separator(self) -> Separator:
        """Return the backend under test."""
        raise NotImplementedError

    def make_backend(self) -> Separator:
        """:meth:`make_separator`."""
        return self.make_separator()

    def mix(self) -> AudioClip:
        """The audio the tests separate."""
        speech = speech_tones(2.0, 16000)
        t = np.arange(speech.num_samples) / 16000
        hum = 0.05 * np.sin(2 * np.pi * 60 * t)
        return AudioClip((speech.samples + hum).astype(np.float32), 16000)

    def _check(self, audio: AudioClip, sep: Separation) -> None:
        assert isinstance(sep, Separation)
        for stem in (sep.voice, sep.background):
            assert isinstance(stem, AudioClip)
            assert stem.sample_rate_hz == audio.sample_rate_hz
            assert stem.num_samples == audio.num_samples
            assert stem.samples.dtype == np.float32 and stem.samples.ndim == 1
            assert np.isfinite(stem.samples).all()

    def test_stems_match_the_input_rate_and_length(self) -> None:
        audio = self.mix()
        self._check(audio, self.make_separator().separate(audio, self.speech_spans))

    def test_works_without_speech_spans(self) -> None:
        audio = self.mix()
        self._check(audio, self.make_separator().separate(audio))

    def test_a_very_short_clip(self) -> None:
        audio = AudioClip(np.zeros(10, np.float32), 16000)
        self._check(audio, self.make_separator().separate(audio, [(0.0, 0.0005)]))


class DiarizerConformance(SettingsConformance):
    """Contract tests for a :class:`~lipdub.diarize.base.Diarizer`.

    :meth:`recording` is what the tests diarize (default: three seconds of tone
    bursts); the turns must be sorted, inside the recording, non-overlapping, and
    honour a given speaker count.
    """

    def make_diarizer(self) -> Diarizer:
        """Return the backend under test."""
        raise NotImplementedError

    def make_backend(self) -> Diarizer:
        """:meth:`make_diarizer`."""
        return self.make_diarizer()

    def recording(self) -> AudioClip:
        """The audio the tests diarize."""
        return speech_tones(3.0, 16000)

    def _check(self, audio: AudioClip, turns: list[SpeakerTurn]) -> None:
        assert isinstance(turns, list)
        end = 0.0
        for t in turns:
            assert isinstance(t, SpeakerTurn) and isinstance(t.speaker, str)
            assert isinstance(t.start_s, float) and isinstance(t.end_s, float)
            assert t.start_s >= end - 1e-6, "turns must be sorted and must not overlap"
            assert t.end_s <= audio.duration_s + 1e-3
            end = t.end_s

    def test_turns_are_sorted_and_inside_the_recording(self) -> None:
        audio = self.recording()
        self._check(audio, self.make_diarizer().diarize(audio))

    def test_one_speaker_when_told(self) -> None:
        audio = self.recording()
        turns = self.make_diarizer().diarize(audio, num_speakers=1)
        self._check(audio, turns)
        assert len({t.speaker for t in turns}) <= 1

    def test_silence_has_no_turns_or_only_quiet_ones(self) -> None:
        audio = AudioClip(np.zeros(16000, np.float32), 16000)
        self._check(audio, self.make_diarizer().diarize(audio))

    def test_a_bad_speaker_count_is_refused(self) -> None:
        from lipdub.errors import InputError

        with pytest.raises(InputError):
            self.make_diarizer().diarize(self.recording(), num_speakers=0)


class SpeakingScorerConformance(SettingsConformance):
    """Contract tests for a :class:`~lipdub.eval.base.SpeakingScorer`.

    :meth:`span` is what the tests score (default: 20 frames of the drawn face, its
    mouth following 0.8 s of tone bursts); a score is a finite float, None only for a
    span under 6 frames, the same for the same input, and the input is left as it was.
    """

    def make_scorer(self) -> SpeakingScorer:
        """Return the backend under test."""
        raise NotImplementedError

    def make_backend(self) -> SpeakingScorer:
        """:meth:`make_scorer`."""
        return self.make_scorer()

    def span(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """``(crops (N, 224, 224, 3) uint8, audio int16 of N * 640 samples)``."""
        from lipdub.testing.media import _mouth_open

        crops = np.full((20, 224, 224, 3), 30, np.uint8)
        for i, crop in enumerate(crops):
            draw_face(crop, (112.0, 80.0), 150.0, _mouth_open(i / 25))
        return crops, speech_tones(0.8, 16000).to_int16()

    def test_a_span_gets_a_finite_float(self) -> None:
        crops, audio = self.span()
        score = self.make_scorer().speaking_score(crops, audio)
        assert isinstance(score, float) and np.isfinite(score)

    def test_the_same_span_gets_the_same_score(self) -> None:
        crops, audio = self.span()
        scorer = self.make_scorer()
        assert scorer.speaking_score(crops, audio) == scorer.speaking_score(crops, audio)

    def test_a_span_under_six_frames_is_none(self) -> None:
        crops, audio = self.span()
        assert self.make_scorer().speaking_score(crops[:5], audio[: 5 * 640]) is None

    def test_the_input_is_left_as_it_was(self) -> None:
        crops, audio = self.span()
        before = (crops.copy(), audio.copy())
        self.make_scorer().speaking_score(crops, audio)
        assert np.array_equal(crops, before[0]) and np.array_equal(audio, before[1])
