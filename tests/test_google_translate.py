"""GoogleTranslator against the fake Translation services (v3 gRPC and v2 REST)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

pytest.importorskip("google.cloud.translate_v3")

from lipdub.errors import CloudServiceError
from lipdub.retry import RetryPolicy
from lipdub.testing.conformance import TranslatorConformance
from lipdub.testing.google import (
    FakeGoogleCloud,
    FakeTranslateV2,
    isolate_google_environment,
)
from lipdub.translate.google import GoogleTranslator
from lipdub.types import Segment, Transcript

FAST = RetryPolicy(max_attempts=4, initial_delay_s=0.001, max_delay_s=0.002, timeout_s=10)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGoogleCloud]:
    with FakeGoogleCloud(dictionary={("es", "Hello."): "Hola."}) as f:
        yield f


@pytest.fixture
def translator(fake: FakeGoogleCloud) -> GoogleTranslator:
    fake.requests.clear()
    fake._failures.clear()
    return GoogleTranslator(client=fake.translation_client(), project_id="proj-1", retry=FAST)


def test_translates_one_to_one(translator: GoogleTranslator, fake: FakeGoogleCloud) -> None:
    out = translator.translate(["Hello.", "How are you?"], "en", "es")
    assert out == ["Hola.", "[es] How are you?"]
    req = fake.requests["TranslateText"][0]
    assert req.parent == "projects/proj-1/locations/global"
    assert req.mime_type == "text/plain"
    assert req.source_language_code == "en" and req.target_language_code == "es"
    assert list(req.contents) == ["Hello.", "How are you?"]


def test_source_none_lets_google_detect(
    translator: GoogleTranslator, fake: FakeGoogleCloud
) -> None:
    translator.translate(["Bonjour"], None, "en")
    assert fake.requests["TranslateText"][0].source_language_code == ""


def test_blank_texts_are_kept_without_a_request(
    translator: GoogleTranslator, fake: FakeGoogleCloud
) -> None:
    assert translator.translate(["", "  "], "en", "es") == ["", "  "]
    assert "TranslateText" not in fake.requests or not fake.requests["TranslateText"]
    assert translator.translate(["a", "", "b"], "en", "de") == ["[de] a", "", "[de] b"]
    assert list(fake.requests["TranslateText"][0].contents) == ["a", "b"]


def test_batches_stay_within_string_and_codepoint_limits(
    translator: GoogleTranslator, fake: FakeGoogleCloud
) -> None:
    texts = [f"line {i}" for i in range(2500)]
    out = translator.translate(texts, "en", "fr")
    assert out == [f"[fr] line {i}" for i in range(2500)]
    sizes = [len(r.contents) for r in fake.requests["TranslateText"]]
    assert sizes == [1024, 1024, 452]
    fake.requests.clear()
    long_texts = ["x" * 9000] * 7  # 63,000 codepoints
    assert len(translator.translate(long_texts, "en", "fr")) == 7
    reqs = fake.requests["TranslateText"]
    assert len(reqs) == 3
    assert all(sum(len(c) for c in r.contents) <= 30000 for r in reqs)


def test_translate_transcript_keeps_timing(translator: GoogleTranslator) -> None:
    t = Transcript("en", (Segment(0.5, 1.5, "Hello.", speaker="A"), Segment(2.0, 3.0, "Bye.")))
    es = translator.translate_transcript(t, "es")
    assert es.language == "es"
    assert [(s.start_s, s.end_s, s.text, s.speaker) for s in es.segments] == [
        (0.5, 1.5, "Hola.", "A"),
        (2.0, 3.0, "[es] Bye.", None),
    ]


def test_glossary_translations_are_used(fake: FakeGoogleCloud) -> None:
    fake.requests.clear()
    tr = GoogleTranslator(
        client=fake.translation_client(),
        project_id="p",
        location="us-central1",
        glossary="brand-terms",
        retry=FAST,
    )
    assert tr.translate(["Lipdub rocks"], "en", "es") == ["[es] Lipdub rocks (glossary)"]
    req = fake.requests["TranslateText"][0]
    assert req.glossary_config.glossary == "projects/p/locations/us-central1/glossaries/brand-terms"
    assert req.parent == "projects/p/locations/us-central1"


def test_project_from_environment(
    fake: FakeGoogleCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_google_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    tr = GoogleTranslator(client=fake.translation_client(), retry=FAST)
    assert tr.parent == "projects/env-project/locations/global"
    fake.requests.clear()
    tr2 = GoogleTranslator(retry=FAST, **fake.client_kwargs("translation"))
    assert tr2.translate(["hi"], "en", "it") == ["[it] hi"]
    assert fake.requests["TranslateText"][0].parent == "projects/env-project/locations/global"


def test_unavailable_then_success(translator: GoogleTranslator, fake: FakeGoogleCloud) -> None:
    fake.fail("TranslateText", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota", times=1)
    fake.fail("TranslateText", grpc.StatusCode.UNAVAILABLE, "blip", times=1)
    assert translator.translate(["x"], "en", "es") == ["[es] x"]
    assert len(fake.requests["TranslateText"]) == 3


def test_permission_denied_surfaces_at_once(
    translator: GoogleTranslator, fake: FakeGoogleCloud
) -> None:
    fake.fail("TranslateText", grpc.StatusCode.PERMISSION_DENIED, "Cloud Translation API disabled")
    with pytest.raises(CloudServiceError, match="Cloud Translation API disabled") as err:
        translator.translate(["x"], "en", "es")
    assert "enable the API" in str(err.value)
    assert len(fake.requests["TranslateText"]) == 1


def test_bad_language_is_a_cloud_error(translator: GoogleTranslator, fake: FakeGoogleCloud) -> None:
    fake.fail("TranslateText", grpc.StatusCode.INVALID_ARGUMENT, "Target language is invalid.")
    with pytest.raises(CloudServiceError, match="Target language is invalid"):
        translator.translate(["x"], "en", "klingon")


# ----------------------------------------------------------------------------- v2 (API key)


def test_v2_with_api_key_unescapes_html(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_google_environment(monkeypatch, tmp_path)  # no ADC needed with an API key
    with FakeTranslateV2() as v2:
        tr = GoogleTranslator(
            api_key="test-key", client_options={"api_endpoint": v2.url}, retry=FAST
        )
        out = tr.translate(['It\'s <fine> & "ok"', "", "two"], "en", "es")
        assert out == ['[es] It\'s <fine> & "ok"', "", "[es] two"]
        body = v2.requests[0]
        assert body["q"] == ['It\'s <fine> & "ok"', "two"]
        assert body["target"] == "es" and body["source"] == "en" and body["format"] == "text"
        assert body["_api_key"] == "test-key"


def test_v2_batches_of_128_and_retries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_google_environment(monkeypatch, tmp_path)
    with FakeTranslateV2() as v2:
        tr = GoogleTranslator(api_key="k", client_options={"api_endpoint": v2.url}, retry=FAST)
        v2.fail_status = [503]
        out = tr.translate([str(i) for i in range(200)], None, "de")
        assert out[199] == "[de] 199"
        assert [len(r["q"]) for r in v2.requests] == [128, 128, 72]  # first one failed
        v2.fail_status = [403]
        with pytest.raises(CloudServiceError, match="permission denied"):
            tr.translate(["x"], None, "de")


def test_same_language_is_kept_without_a_request(
    translator: GoogleTranslator, fake: FakeGoogleCloud
) -> None:
    assert translator.translate(["Hi there."], "en-US", "en") == ["Hi there."]
    assert not fake.requests.get("TranslateText")


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_google_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("GOOGLE_TRANSLATE_API_KEY", "env-key")
    with FakeTranslateV2() as v2:
        tr = GoogleTranslator(client_options={"api_endpoint": v2.url}, retry=FAST)
        assert tr.translate(["a"], "en", "fr") == ["[fr] a"]
        assert v2.requests[0]["_api_key"] == "env-key"


# ----------------------------------------------------------------------------- conformance


class TestGoogleTranslatorConformance(TranslatorConformance):
    @pytest.fixture(autouse=True)
    def _fake(self, fake: FakeGoogleCloud) -> None:
        self.fake = fake

    def make_translator(self) -> GoogleTranslator:
        return GoogleTranslator(client=self.fake.translation_client(), project_id="p", retry=FAST)

    def make_changed_backend(self) -> GoogleTranslator:
        return GoogleTranslator(
            client=self.fake.translation_client(), project_id="p", glossary="film-terms"
        )

    def make_same_output_backend(self) -> GoogleTranslator:
        # another project (no glossary names it), no retries
        return GoogleTranslator(client=self.fake.translation_client(), project_id="other")
