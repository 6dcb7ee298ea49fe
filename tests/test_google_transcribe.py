"""GoogleTranscriber against the fake Speech-to-Text service (real client library, real gRPC).

The fake reports one word per burst of sound, so tests build audio with tone bursts at
known times and check the word and segment times that come back.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import numpy as np
import pytest

pytest.importorskip("google.cloud.speech_v1")

from google.api_core import exceptions as gexc
from google.cloud import speech_v1

from lipdub.errors import CloudServiceError, InputError
from lipdub.retry import RetryPolicy
from lipdub.testing.conformance import TranscriberConformance
from lipdub.testing.google import FakeGoogleCloud
from lipdub.transcribe.google import GoogleTranscriber, choose_cuts
from lipdub.types import AudioClip

FAST = RetryPolicy(max_attempts=4, initial_delay_s=0.001, max_delay_s=0.002, timeout_s=10)


def bursts(spans: Sequence[tuple[float, float]], duration_s: float, sr: int = 16000) -> AudioClip:
    """Silence with a 300 Hz tone (amplitude 0.5) in each ``(start_s, end_s)`` span."""
    x = np.zeros(round(duration_s * sr), np.float32)
    for a, b in spans:
        i, j = round(a * sr), round(b * sr)
        t = np.arange(j - i) / sr
        x[i:j] = 0.5 * np.sin(2 * np.pi * 300 * t)
    return AudioClip(x, sr)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGoogleCloud]:
    with FakeGoogleCloud(vocabulary=("Hello", "world.")) as f:
        yield f


@pytest.fixture
def client(fake: FakeGoogleCloud) -> speech_v1.SpeechClient:
    fake.requests.clear()
    fake._failures.clear()
    return fake.speech_client()


def test_word_offsets_become_segments(
    fake: FakeGoogleCloud, client: speech_v1.SpeechClient
) -> None:
    audio = bursts([(0.5, 0.8), (0.9, 1.2), (1.4, 1.7), (1.8, 2.1), (4.0, 4.3)], 5.0)
    t = GoogleTranscriber(client=client, retry=FAST).transcribe(audio, "en-US")
    assert t.language == "en-US"
    got = [(s.text, round(s.start_s, 2), round(s.end_s, 2)) for s in t.segments]
    # sentence end ("world.") splits, and so does the 1.9 s pause before the last word
    assert got == [("Hello world.", 0.5, 1.2), ("Hello world.", 1.4, 2.1), ("Hello", 4.0, 4.3)]
    assert [w.text for w in t.segments[0].words] == ["Hello", "world."]
    assert t.segments[0].words[1].start_s == pytest.approx(0.9, abs=0.011)
    cfg = fake.requests["Recognize"][0].config
    assert cfg.language_code == "en-US" and cfg.model == "latest_long"
    assert cfg.enable_word_time_offsets and cfg.enable_automatic_punctuation
    assert cfg.sample_rate_hertz == 16000
    assert cfg.encoding == speech_v1.RecognitionConfig.AudioEncoding.LINEAR16
    assert not cfg.diarization_config.enable_speaker_diarization


def test_audio_is_resampled_to_16k(fake: FakeGoogleCloud, client: speech_v1.SpeechClient) -> None:
    audio = bursts([(1.0, 1.5)], 3.0, sr=44100)
    t = GoogleTranscriber(client=client, retry=FAST).transcribe(audio, "es-ES")
    req = fake.requests["Recognize"][0]
    assert req.config.sample_rate_hertz == 16000
    assert len(req.audio.content) == 3 * 16000 * 2  # int16 mono
    assert t.segments[0].start_s == pytest.approx(1.0, abs=0.02)
    assert t.segments[0].end_s == pytest.approx(1.5, abs=0.02)


def test_diarization_labels_speakers(fake: FakeGoogleCloud, client: speech_v1.SpeechClient) -> None:
    # two utterances separated by > 1 s: the fake tags them speaker 1 and 2
    audio = bursts([(0.5, 0.8), (0.9, 1.2), (3.0, 3.3), (3.4, 3.7)], 4.5)
    tr = GoogleTranscriber(client=client, diarization=True, max_speakers=3, retry=FAST)
    t = tr.transcribe(audio)
    assert [(s.text, s.speaker) for s in t.segments] == [
        ("Hello world.", "speaker_1"),
        ("Hello world.", "speaker_2"),
    ]
    cfg = fake.requests["Recognize"][0].config
    assert cfg.diarization_config.enable_speaker_diarization
    assert cfg.diarization_config.max_speaker_count == 3
    # words are not doubled by the repeated, tagged final result
    assert sum(len(s.words) for s in t.segments) == 4


def test_long_audio_is_chunked_and_offsets_stitched(
    fake: FakeGoogleCloud, client: speech_v1.SpeechClient
) -> None:
    spans = [(t0, t0 + 0.4) for t0 in np.arange(1.0, 129.0, 2.0)]  # 64 words over 130 s
    audio = bursts(spans, 130.0)
    t = GoogleTranscriber(client=client, retry=FAST).transcribe(audio, "en-US")
    reqs = fake.requests["Recognize"]
    assert len(reqs) == 3
    lengths = [len(r.audio.content) / 2 / 16000 for r in reqs]
    assert all(n <= 55.0 for n in lengths) and sum(lengths) == pytest.approx(130.0)
    words = [w for s in t.segments for w in s.words]
    assert len(words) == len(spans)  # no word cut in two at a chunk boundary
    for w, (a, b) in zip(words, spans, strict=True):
        assert w.start_s == pytest.approx(a, abs=0.011)
        assert w.end_s == pytest.approx(b, abs=0.011)


def test_cuts_land_in_the_quietest_moment() -> None:
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(70 * 16000)).astype(np.float32)
    x[round(47.0 * 16000) : round(47.5 * 16000)] = 0.0
    cuts = choose_cuts(AudioClip(x, 16000), max_chunk_s=55.0, search_s=15.0)
    assert len(cuts) == 1 and 47.0 <= cuts[0] <= 47.5
    # without any quiet moment the chunk still never exceeds the limit
    loud = (0.3 * rng.standard_normal(200 * 16000)).astype(np.float32)
    cuts = choose_cuts(AudioClip(loud, 16000), max_chunk_s=55.0)
    edges = [0.0, *cuts, 200.0]
    assert all(0 < b - a <= 55.0 for a, b in itertools.pairwise(edges))
    assert choose_cuts(AudioClip.silence(55.0, 16000)) == []


def test_fake_refuses_sync_audio_over_one_minute(client: speech_v1.SpeechClient) -> None:
    audio = bursts([(1.0, 1.5)], 61.0)
    cfg = speech_v1.RecognitionConfig(
        encoding=speech_v1.RecognitionConfig.AudioEncoding.LINEAR16,
        sample_rate_hertz=16000,
        language_code="en-US",
    )
    content = audio.to_int16().tobytes()
    with pytest.raises(gexc.InvalidArgument, match="too long"):
        client.recognize(config=cfg, audio=speech_v1.RecognitionAudio(content=content))
    # ...which is why lipdub chunks: the same audio through the backend works
    t = GoogleTranscriber(client=client, retry=FAST).transcribe(audio)
    assert len(t.segments) == 1


def test_transcribe_uri_uses_long_running_recognize(
    fake: FakeGoogleCloud, client: speech_v1.SpeechClient
) -> None:
    fake.add_gcs_object("gs://bucket/talk.flac", bursts([(70.0, 70.3), (70.4, 70.7)], 90.0))
    t = GoogleTranscriber(client=client, retry=FAST).transcribe_uri(
        "gs://bucket/talk.flac", "fr-FR"
    )
    assert [s.text for s in t.segments] == ["Hello world."]
    assert t.segments[0].start_s == pytest.approx(70.0, abs=0.011)
    req = fake.requests["LongRunningRecognize"][0]
    assert req.audio.uri == "gs://bucket/talk.flac" and req.config.language_code == "fr-FR"
    with pytest.raises(InputError, match="gs://"):
        GoogleTranscriber(client=client).transcribe_uri("/tmp/talk.flac")


def test_unavailable_is_retried(fake: FakeGoogleCloud, client: speech_v1.SpeechClient) -> None:
    fake.fail("Recognize", grpc.StatusCode.UNAVAILABLE, "try again", times=2)
    t = GoogleTranscriber(client=client, retry=FAST).transcribe(bursts([(0.5, 0.9)], 2.0))
    assert len(t.segments) == 1
    assert len(fake.requests["Recognize"]) == 3


def test_invalid_argument_surfaces_at_once(
    fake: FakeGoogleCloud, client: speech_v1.SpeechClient
) -> None:
    fake.fail(
        "Recognize", grpc.StatusCode.INVALID_ARGUMENT, "Invalid recognition 'config': bad model"
    )
    with pytest.raises(CloudServiceError, match="bad model"):
        GoogleTranscriber(client=client, retry=FAST).transcribe(bursts([(0.5, 0.9)], 2.0))
    assert len(fake.requests["Recognize"]) == 1


def test_silence_gives_empty_transcript(client: speech_v1.SpeechClient) -> None:
    t = GoogleTranscriber(client=client, retry=FAST).transcribe(AudioClip.silence(3.0, 16000), "de")
    assert t.language == "de" and t.segments == ()


def test_backend_builds_its_own_client_from_options(fake: FakeGoogleCloud) -> None:
    fake.requests.clear()
    tr = GoogleTranscriber(retry=FAST, model=None, **fake.client_kwargs("speech"))
    t = tr.transcribe(bursts([(0.5, 0.9)], 2.0))
    assert [s.text for s in t.segments] == ["Hello"]
    assert fake.requests["Recognize"][0].config.model == ""


def test_bad_chunk_length_is_rejected() -> None:
    with pytest.raises(InputError, match="chunk_s"):
        GoogleTranscriber(client=object(), chunk_s=90)


def test_alternative_languages_let_google_pick() -> None:
    audio = bursts([(0.5, 0.9)], 2.0)
    with FakeGoogleCloud(spoken_language="es-ES") as fake:
        tr = GoogleTranscriber(
            client=fake.speech_client(), alternative_languages=["es-ES", "fr-FR"], retry=FAST
        )
        assert tr.transcribe(audio).language == "es-ES"
        cfg = fake.requests["Recognize"][0].config
        assert cfg.language_code == "en-US"
        assert list(cfg.alternative_language_codes) == ["es-ES", "fr-FR"]
        # an explicit language wins over detection
        assert tr.transcribe(audio, "de-DE").language == "de-DE"


def test_no_language_falls_back_to_default_with_a_warning(
    client: speech_v1.SpeechClient, caplog: pytest.LogCaptureFixture
) -> None:
    tr = GoogleTranscriber(client=client, language="pt-BR", retry=FAST)
    assert tr.transcribe(bursts([(0.5, 0.9)], 2.0)).language == "pt-BR"
    assert "no language given" in caplog.text


# ----------------------------------------------------------------------------- v2 / Chirp


def test_v2_chirp_model_uses_recognizer_and_word_offsets() -> None:
    audio = bursts([(0.5, 0.8), (0.9, 1.2), (3.0, 3.3), (3.4, 3.7)], 70.0)
    with FakeGoogleCloud(vocabulary=("Hola", "mundo.")) as fake:
        tr = GoogleTranscriber(
            client=fake.speech_v2_client(),
            model="chirp_2",
            project_id="proj",
            diarization=True,
            retry=FAST,
        )
        assert tr.api == "v2" and tr.location == "us-central1"
        t = tr.transcribe(audio, "es-ES")
        assert [(s.text, s.speaker) for s in t.segments] == [
            ("Hola mundo.", "speaker_1"),
            ("Hola mundo.", "speaker_2"),
        ]
        assert t.segments[1].start_s == pytest.approx(3.0, abs=0.011)
        reqs = fake.requests["v2.Recognize"]
        assert len(reqs) == 2  # 70 s -> two chunks
        req = reqs[0]
        assert req.recognizer == "projects/proj/locations/us-central1/recognizers/_"
        assert req.config.model == "chirp_2"
        assert list(req.config.language_codes) == ["es-ES"]
        assert req.config.explicit_decoding_config.sample_rate_hertz == 16000
        assert req.config.features.enable_word_time_offsets
        assert req.config.features.diarization_config.max_speaker_count == 6


def test_v2_default_model_and_own_client(
    fake: FakeGoogleCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "envproj")
    fake.requests.clear()
    tr = GoogleTranscriber(api="v2", retry=FAST, **fake.client_kwargs("speech_v2"))
    t = tr.transcribe(bursts([(0.5, 0.9)], 2.0), "en-US")
    assert [s.text for s in t.segments] == ["Hello"]
    req = fake.requests["v2.Recognize"][0]
    assert req.config.model == "long"  # latest_long in v2 naming
    assert req.recognizer == "projects/envproj/locations/global/recognizers/_"


def test_v2_regional_endpoint_and_checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from google.auth.credentials import AnonymousCredentials

    from lipdub.errors import CredentialsError
    from lipdub.testing.google import isolate_google_environment

    isolate_google_environment(monkeypatch, tmp_path)
    tr = GoogleTranscriber(model="chirp_3", credentials=AnonymousCredentials(), project_id="p")
    assert tr.location == "us"
    assert tr.client.api_endpoint == "us-speech.googleapis.com"
    with pytest.raises(InputError, match="v2"):
        GoogleTranscriber(model="chirp_2", api="v1", client=object())
    with pytest.raises(CredentialsError, match="project"):
        GoogleTranscriber(api="v2", client=object())
    with pytest.raises(InputError, match="v1"):
        tr.transcribe_uri("gs://b/a.flac")


def test_japanese_words_drop_readings_and_join_without_spaces() -> None:
    with FakeGoogleCloud(vocabulary=("東京|トウキョウ", "です。")) as fake:
        tr = GoogleTranscriber(client=fake.speech_client(), retry=FAST)
        t = tr.transcribe(bursts([(0.5, 0.8), (0.9, 1.2)], 2.0), "ja-JP")
    assert [s.text for s in t.segments] == ["東京です。"]
    assert [w.text for w in t.segments[0].words] == ["東京", "です。"]


# ----------------------------------------------------------------------------- conformance


class TestGoogleTranscriberConformance(TranscriberConformance):
    language = "en-US"

    @pytest.fixture(autouse=True)
    def _client(self, client: speech_v1.SpeechClient) -> None:
        self.client = client

    def make_transcriber(self) -> GoogleTranscriber:
        return GoogleTranscriber(client=self.client, retry=FAST)

    def make_changed_backend(self) -> GoogleTranscriber:
        return GoogleTranscriber(client=self.client, retry=FAST, diarization=True)

    def make_same_output_backend(self) -> GoogleTranscriber:
        return GoogleTranscriber(client=self.client, max_concurrency=1)


def test_v2_settings_name_a_configured_recognizer_only() -> None:
    v2 = GoogleTranscriber(client=object(), api="v2", project_id="p1", model="chirp_2")
    assert v2.settings()["recognizer"] is None
    assert (
        v2.settings()
        == GoogleTranscriber(client=object(), api="v2", project_id="p2", model="chirp_2").settings()
    )
    named = GoogleTranscriber(
        client=object(), api="v2", project_id="p1", model="chirp_2", recognizer="films"
    )
    assert named.settings()["recognizer"] == "projects/p1/locations/us-central1/recognizers/films"
