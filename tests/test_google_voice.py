"""GoogleVoiceSynth against the fake Text-to-Speech service (real client library, real gRPC)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import grpc
import pytest

pytest.importorskip("google.cloud.texttospeech_v1")

from lipdub.errors import CloudServiceError, InputError
from lipdub.retry import RetryPolicy
from lipdub.testing.conformance import VoiceSynthConformance
from lipdub.testing.google import FakeGoogleCloud, FakeVoice
from lipdub.voice.google import (
    MAX_INPUT_BYTES,
    GoogleVoiceSynth,
    build_ssml,
    split_text,
    voice_family,
)

FAST = RetryPolicy(max_attempts=4, initial_delay_s=0.001, max_delay_s=0.002, timeout_s=10)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGoogleCloud]:
    with FakeGoogleCloud() as f:
        yield f


@pytest.fixture
def synth(fake: FakeGoogleCloud) -> GoogleVoiceSynth:
    fake.requests.clear()
    return GoogleVoiceSynth(client=fake.tts_client(), retry=FAST)


def _last(fake: FakeGoogleCloud):  # type: ignore[no-untyped-def]
    return fake.requests["SynthesizeSpeech"][-1]


# ----------------------------------------------------------------------------- voices


def test_list_voices_filters_by_language_and_parses_family(synth: GoogleVoiceSynth) -> None:
    es = synth.list_voices("es")
    assert {v.name for v in es} == {
        "es-ES-Standard-A", "es-ES-Wavenet-B", "es-ES-Neural2-A", "es-US-Polyglot-1",
    }  # fmt: skip
    assert all(v.supports("es") and v.backend == "google" for v in es)
    by_name = {v.name: v for v in synth.list_voices()}
    assert len(by_name) == 12
    assert by_name["en-US-Chirp3-HD-Aoede"].family == "Chirp3-HD"
    assert by_name["es-ES-Wavenet-B"].family == "WaveNet"
    assert by_name["es-ES-Wavenet-B"].gender == "male"
    assert by_name["fr-FR-Standard-A"].natural_sample_rate_hz == 22050
    assert by_name["en-GB-News-G"].family == "News"
    assert synth.list_voices("xx") == []


def test_voice_family_parsing() -> None:
    assert voice_family("cmn-CN-Chirp3-HD-Kore") == "Chirp3-HD"
    assert voice_family("en-US-Chirp-HD-F") == "Chirp-HD"
    assert voice_family("en-US-Polyglot-1") == "Polyglot"
    assert voice_family("ja-JP-Neural2-B") == "Neural2"
    assert voice_family("Kore") is None


def test_default_voice_is_best_family_in_main_region(synth: GoogleVoiceSynth) -> None:
    assert synth.default_voice("es").name == "es-ES-Neural2-A"
    assert synth.default_voice("en").name == "en-US-Chirp3-HD-Aoede"
    assert synth.default_voice("es-US").name == "es-US-Polyglot-1"
    male = GoogleVoiceSynth(client=synth.client, gender="male")
    assert male.default_voice("en-US").name == "en-US-Wavenet-D"
    with pytest.raises(InputError, match="no voice"):
        synth.default_voice("xx")


# ----------------------------------------------------------------------------- synthesis


def test_synthesize_returns_pcm_without_wav_header(
    synth: GoogleVoiceSynth, fake: FakeGoogleCloud
) -> None:
    clip = synth.synthesize("uno dos tres cuatro", voice="es-ES-Wavenet-B")
    # 4 words x 0.25 s at 24 kHz: exactly the PCM, no 44-byte header decoded as samples
    assert clip.sample_rate_hz == 24000
    assert clip.num_samples == 4 * 6000
    assert abs(float(clip.samples[0])) < 1e-3  # the header would decode as loud garbage
    req = _last(fake)
    assert req.voice.name == "es-ES-Wavenet-B" and req.voice.language_code == "es-ES"
    assert req.audio_config.audio_encoding == 1  # LINEAR16


def test_rate_is_native_and_clamped(synth: GoogleVoiceSynth, fake: FakeGoogleCloud) -> None:
    assert GoogleVoiceSynth.native_rate is True
    clip = synth.synthesize("a b", language="es", rate=2.0)
    assert clip.duration_s == pytest.approx(0.25)
    assert _last(fake).audio_config.speaking_rate == pytest.approx(2.0)
    synth.synthesize("a b", language="es", rate=3.5)
    assert _last(fake).audio_config.speaking_rate == pytest.approx(2.0)
    synth.synthesize("a b", language="es", rate=0.1)
    assert _last(fake).audio_config.speaking_rate == pytest.approx(0.25)


def test_ssml_escapes_markup_ampersands_and_quotes(
    synth: GoogleVoiceSynth, fake: FakeGoogleCloud
) -> None:
    text = "Tom & Jerry say \"hi\" <script>alert('x')</script> 5 < 6 > 4"
    synth.synthesize(text, voice="en-US-Neural2-F")
    ssml = _last(fake).input.ssml
    root = ET.fromstring(ssml)  # well-formed
    assert root.tag == "speak"
    assert list(root) == []  # the user's <script> became text, not an element
    assert "".join(root.itertext()) == text
    assert "<script>" not in ssml and "&lt;script&gt;" in ssml
    assert "&amp;" in ssml and "&quot;hi&quot;" in ssml and "&apos;x&apos;" in ssml


def test_blank_lines_become_breaks(synth: GoogleVoiceSynth, fake: FakeGoogleCloud) -> None:
    clip = synth.synthesize("one two\n\nthree", voice="en-US-Neural2-F")
    assert '<break time="500ms"/>' in _last(fake).input.ssml
    assert clip.duration_s == pytest.approx(3 * 0.25 + 0.5)
    assert build_ssml("a\n \n\nb", pause_ms=250) == '<speak>a<break time="250ms"/>b</speak>'


def test_chirp3_hd_gets_plain_text_and_no_pitch(fake: FakeGoogleCloud) -> None:
    synth = GoogleVoiceSynth(client=fake.tts_client(), pitch_st=3.0, retry=FAST)
    synth.synthesize("Hi & bye <b>", voice="en-US-Chirp3-HD-Aoede")
    req = _last(fake)
    assert req.input.text == "Hi & bye <b>" and not req.input.ssml
    assert req.audio_config.pitch == 0.0
    synth.synthesize("Hi", voice="en-US-Neural2-F")
    assert _last(fake).audio_config.pitch == pytest.approx(3.0)


def test_voice_rejecting_pitch_or_ssml_is_retried_without() -> None:
    # Voices whose family lipdub does not know to be limited: the service refuses,
    # lipdub retries without the feature and remembers it for the voice.
    with FakeGoogleCloud(no_ssml_families=("Neural2",), no_pitch_families=("Neural2",)) as fake:
        synth = GoogleVoiceSynth(client=fake.tts_client(), pitch_st=-2.0, retry=FAST)
        clip = synth.synthesize("hola amigos", voice="es-ES-Neural2-A")
        reqs = fake.requests["SynthesizeSpeech"]
        assert len(reqs) == 3  # ssml+pitch -> ssml, no pitch -> plain text
        assert reqs[-1].input.text == "hola amigos" and reqs[-1].audio_config.pitch == 0
        assert clip.duration_s == pytest.approx(0.5)
        synth.synthesize("otra vez", voice="es-ES-Neural2-A")
        assert len(fake.requests["SynthesizeSpeech"]) == 4  # remembered


def test_long_text_is_split_under_5000_bytes_at_sentences(
    synth: GoogleVoiceSynth, fake: FakeGoogleCloud
) -> None:
    sentence = "Ésta es una frase con acentos & símbolos número {}."
    text = " ".join(sentence.format(i) for i in range(200))  # ~11 kB, more after escaping
    clip = synth.synthesize(text, voice="es-ES-Neural2-A")
    reqs = fake.requests["SynthesizeSpeech"]
    assert len(reqs) >= 3
    for r in reqs:
        assert len(r.input.ssml.encode("utf-8")) <= MAX_INPUT_BYTES
        inner = "".join(ET.fromstring(r.input.ssml).itertext())
        assert inner.endswith(".")  # cut at sentence ends
    spoken = " ".join("".join(ET.fromstring(r.input.ssml).itertext()) for r in reqs)
    assert spoken == text
    assert clip.duration_s == pytest.approx(len(text.split()) * 0.25)


def test_split_text_handles_overlong_sentences_and_words() -> None:
    assert split_text("short", 100) == ["short"]
    pieces = split_text("word " * 50, 30)
    assert all(len(p.encode()) <= 30 for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 50
    pieces = split_text("x" * 95, 30)
    assert all(len(p) <= 30 for p in pieces) and "".join(pieces) == "x" * 95


def test_options_reach_the_service(fake: FakeGoogleCloud) -> None:
    synth = GoogleVoiceSynth(
        client=fake.tts_client(),
        volume_gain_db=-6.0,
        effects_profile_id=["headphone-class-device"],
        sample_rate_hz=16000,
        retry=FAST,
    )
    clip = synth.synthesize("hello", language="en-US", voice="en-US-Neural2-F")
    cfg = _last(fake).audio_config
    assert cfg.volume_gain_db == pytest.approx(-6.0)
    assert list(cfg.effects_profile_id) == ["headphone-class-device"]
    assert cfg.sample_rate_hertz == 16000 and clip.sample_rate_hz == 16000
    assert clip.num_samples == 4000
    assert float(abs(clip.samples).max()) == pytest.approx(0.3 * 10 ** (-6 / 20), rel=0.02)


def test_bad_arguments_raise_input_error(synth: GoogleVoiceSynth) -> None:
    with pytest.raises(InputError, match="language"):
        synth.synthesize("hi")
    with pytest.raises(InputError):
        GoogleVoiceSynth(client=object(), pitch_st=30)
    with pytest.raises(CloudServiceError, match="does not exist"):
        synth.synthesize("hi", voice="en-US-Bogus-Z")
    assert synth.synthesize("  ", language="en").num_samples == 0


def test_unavailable_is_retried_then_succeeds(
    synth: GoogleVoiceSynth, fake: FakeGoogleCloud
) -> None:
    fake.fail("SynthesizeSpeech", grpc.StatusCode.UNAVAILABLE, "backend overloaded", times=2)
    clip = synth.synthesize("hola", voice="es-ES-Standard-A")
    assert clip.duration_s == pytest.approx(0.25)
    assert len(fake.requests["SynthesizeSpeech"]) == 3


def test_unavailable_forever_fails_after_bounded_attempts(
    synth: GoogleVoiceSynth, fake: FakeGoogleCloud
) -> None:
    fake.fail("SynthesizeSpeech", grpc.StatusCode.UNAVAILABLE, "down", times=10)
    with pytest.raises(CloudServiceError, match="unavailable"):
        synth.synthesize("hola", voice="es-ES-Standard-A")
    assert len(fake.requests["SynthesizeSpeech"]) == FAST.max_attempts
    fake._failures.clear()


def test_permission_denied_surfaces_at_once(synth: GoogleVoiceSynth, fake: FakeGoogleCloud) -> None:
    fake.fail(
        "SynthesizeSpeech", grpc.StatusCode.PERMISSION_DENIED, "TTS API disabled in project p"
    )
    with pytest.raises(CloudServiceError, match="TTS API disabled in project p"):
        synth.synthesize("hola", voice="es-ES-Standard-A")
    assert len(fake.requests["SynthesizeSpeech"]) == 1


def test_backend_builds_its_own_client_from_options(fake: FakeGoogleCloud) -> None:
    synth = GoogleVoiceSynth(retry=FAST, **fake.client_kwargs("tts"))
    assert [v.name for v in synth.list_voices("fr")] == ["fr-FR-Standard-A"]
    assert synth.synthesize("bonjour", language="fr").sample_rate_hz == 22050


def test_ssml_never_logged(synth: GoogleVoiceSynth, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    synth.synthesize("secret medical details", voice="es-ES-Standard-A")
    assert "secret medical details" not in caplog.text


def test_custom_voice_catalogue() -> None:
    with FakeGoogleCloud(voices=[FakeVoice("it-IT-Neural2-A", ("it-IT",), "female", 24000)]) as f:
        synth = GoogleVoiceSynth(client=f.tts_client(), retry=FAST)
        assert synth.default_voice("it").name == "it-IT-Neural2-A"


def test_named_voice_uses_its_own_locale(synth: GoogleVoiceSynth, fake: FakeGoogleCloud) -> None:
    synth.synthesize("hola", voice="es-US-Polyglot-1", language="es")
    assert _last(fake).voice.language_code == "es-US"


def test_synthesize_many_keeps_order(fake: FakeGoogleCloud) -> None:
    synth = GoogleVoiceSynth(client=fake.tts_client(), max_concurrency=3, retry=FAST)
    texts = [" ".join(["word"] * n) for n in range(1, 9)]
    clips = synth.synthesize_many(texts, language="es")
    assert [round(c.duration_s, 3) for c in clips] == [0.25 * n for n in range(1, 9)]
    names = {r.voice.name for r in fake.requests["SynthesizeSpeech"][-8:]}
    assert names == {"es-ES-Neural2-A"}


def test_chinese_and_norwegian_codes_map_to_google_locales() -> None:
    voices = [
        FakeVoice("cmn-CN-Wavenet-A", ("cmn-CN",), "female", 24000),
        FakeVoice("nb-NO-Standard-A", ("nb-NO",), "female", 24000),
    ]
    with FakeGoogleCloud(voices=voices) as f:
        synth = GoogleVoiceSynth(client=f.tts_client(), retry=FAST)
        assert [v.name for v in synth.list_voices("zh")] == ["cmn-CN-Wavenet-A"]
        synth.synthesize("你好。", language="zh-CN")
        assert f.requests["SynthesizeSpeech"][-1].voice.language_code == "cmn-CN"
        assert synth.default_voice("no").name == "nb-NO-Standard-A"


def test_control_characters_are_dropped(synth: GoogleVoiceSynth, fake: FakeGoogleCloud) -> None:
    synth.synthesize("bell\x07 and\x00 null", voice="en-US-Neural2-F")
    ssml = _last(fake).input.ssml
    assert "\x07" not in ssml and "\x00" not in ssml
    ET.fromstring(ssml)


def test_paragraph_breaks_survive_splitting() -> None:
    text = ("Uno dos tres. " * 200).strip() + "\n\nFin."
    pieces = split_text(text, 1000)
    assert all(len(p.encode()) <= 1000 for p in pieces)
    assert "\n\nFin." in pieces[-1]


# ----------------------------------------------------------------------------- conformance


class TestGoogleVoiceConformance(VoiceSynthConformance):
    language = "es"
    text = "Hola, esta es una prueba de la voz."

    @pytest.fixture(autouse=True)
    def _fake(self, fake: FakeGoogleCloud) -> None:
        self.fake = fake

    def make_voice(self) -> GoogleVoiceSynth:
        return GoogleVoiceSynth(client=self.fake.tts_client(), retry=FAST, pitch_st=2.0)

    def make_changed_backend(self) -> GoogleVoiceSynth:
        return GoogleVoiceSynth(
            client=self.fake.tts_client(),
            retry=FAST,
            pitch_st=2.0,
            effects_profile_id=("headphone-class-device",),
        )

    def make_same_output_backend(self) -> GoogleVoiceSynth:
        return GoogleVoiceSynth(
            client=self.fake.tts_client(), pitch_st=2.0, max_concurrency=1, retry=None
        )


def test_every_speech_option_is_in_the_settings(fake: FakeGoogleCloud) -> None:
    base = GoogleVoiceSynth(client=fake.tts_client()).settings()
    for option in (
        {"voice": "es-ES-Neural2-A"},
        {"language": "es-ES"},
        {"gender": "female"},
        {"pitch_st": -3.0},
        {"volume_gain_db": 2.0},
        {"effects_profile_id": ["small-bluetooth-speaker-class-device"]},
        {"sample_rate_hz": 16000},
        {"pause_ms": 300},
    ):
        changed = GoogleVoiceSynth(client=fake.tts_client(), **option)  # type: ignore[arg-type]
        assert changed.settings() != base, option
