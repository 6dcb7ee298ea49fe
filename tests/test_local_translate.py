"""OpusTranslator: model selection, batching, boundary preservation and errors.

No machine-translation weights are available offline, so these tests use two stand-ins,
neither of which replaces lipdub code:

* a *tiny random CTranslate2 model* built here with ``ctranslate2.specs`` (one layer,
  16 dimensions, 31 kB) plus real SentencePiece models trained on a few sentences; it
  goes through the real loading path (``OpusModel.load``: folder layout, config,
  tokenizers, ``ctranslate2.Translator``) but translates into gibberish, so only
  counts, order and shapes are asserted on it;
* a *recording engine* passed as ``OpusModel(translator=...)`` (the documented seam):
  it "translates" each sentence to ``<tgt>:<SENTENCE IN CAPITALS>`` and records the
  batches it was given, so batching and the re-joining of sentences can be checked
  exactly.

A real OPUS-MT pair is exercised only by the ``network`` test (``LIPDUB_TEST_NETWORK=1``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from lipdub import registry
from lipdub.errors import InputError, ModelNotFoundError
from lipdub.testing.conformance import TranslatorConformance
from lipdub.testing.opus import write_tiny_opus_model
from lipdub.translate.nbest import choose_fitting
from lipdub.translate.opus import OpusModel, OpusTranslator, language_code
from lipdub.types import Segment, Transcript
from lipdub.types.fit import FitRequest, LineBudget, SpeechLength

ctranslate2 = pytest.importorskip("ctranslate2")
spm = pytest.importorskip("sentencepiece")


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_opus_model(tmp_path_factory.mktemp("opus") / "en-es")


@dataclass
class _Result:
    hypotheses: list[list[str]]


class RecordingEngine:
    """Stand-in for ``ctranslate2.Translator``: upper-cases and records batches."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.batches: list[list[list[str]]] = []
        self.options: list[dict[str, object]] = []

    def translate_batch(self, tokens: list[list[str]], **options: object) -> list[_Result]:
        self.batches.append([list(t) for t in tokens])
        self.options.append(options)
        out = []
        for t in tokens:
            assert t[-1] == "</s>"
            words = "".join(t[:-1]).replace("▁", " ").strip().upper()
            out.append(_Result([[f"▁{self.target}:{words}".replace(" ", "▁"), "</s>"]]))
        return out


class PieceTokenizer:
    """Stand-in for SentencePiece: one piece per word, ``▁`` marking word starts."""

    def encode(self, text: str, out_type: type = str) -> list[str]:
        return ["▁" + w for w in text.split()]

    def decode(self, pieces: list[str]) -> str:
        return "".join(pieces).replace("▁", " ").strip()


def _recording_translator(**options: object) -> tuple[OpusTranslator, RecordingEngine]:
    engine = RecordingEngine("es")
    model = OpusModel(engine, PieceTokenizer(), PieceTokenizer())
    return OpusTranslator(models={"en-es": model}, **options), engine  # type: ignore[arg-type]


# ---------------------------------------------------------------- boundaries and batching


def test_one_output_per_input_in_order() -> None:
    mt, _ = _recording_translator()
    texts = ["Hello world.", "", "How are you? Fine, thanks.", "   ", "Bye"]
    out = mt.translate(texts, "en", "es")
    assert out == [
        "es:HELLO WORLD.",
        "",
        "es:HOW ARE YOU? es:FINE, THANKS.",
        "",
        "es:BYE",
    ]


def test_sentences_are_batched_across_texts() -> None:
    mt, engine = _recording_translator(batch_size=3)
    texts = [f"Sentence {i}. Second {i}." for i in range(4)]  # 8 sentences
    out = mt.translate(texts, "en-US", "es-MX")
    assert len(out) == 4
    assert [len(b) for b in engine.batches] == [3, 3, 2]
    assert out[2] == "es:SENTENCE 2. es:SECOND 2."
    assert engine.options[0]["max_batch_size"] == 3
    assert engine.options[0]["beam_size"] == 4


def test_without_sentence_splitting_each_text_is_one_input() -> None:
    mt, engine = _recording_translator(split_sentences=False)
    out = mt.translate(["One. Two.", "Three."], "en", "es")
    assert out == ["es:ONE. TWO.", "es:THREE."]
    assert len(engine.batches) == 1 and len(engine.batches[0]) == 2


def test_blank_input_and_same_language_skip_the_model() -> None:
    mt, engine = _recording_translator()
    assert mt.translate(["", "  "], "en", "es") == ["", ""]
    assert mt.translate(["Hello."], "en-GB", "en-US") == ["Hello."]
    assert mt.translate([], "en", "es") == []
    assert engine.batches == []


def test_translate_transcript_keeps_timing() -> None:
    mt, _ = _recording_translator()
    t = Transcript("en", (Segment(0.0, 1.0, "Hi there."), Segment(1.5, 2.0, "Bye.")))
    out = mt.translate_transcript(t, "es")
    assert out.language == "es"
    assert [(s.start_s, s.end_s, s.text) for s in out.segments] == [
        (0.0, 1.0, "es:HI THERE."),
        (1.5, 2.0, "es:BYE."),
    ]


def test_source_language_is_required() -> None:
    mt, _ = _recording_translator()
    with pytest.raises(InputError, match="source language"):
        mt.translate(["Hello"], None, "es")


# ---------------------------------------------------------------- n-best, chosen to fit


@dataclass
class _ScoredResult:
    hypotheses: list[list[str]]
    scores: list[float]


class NBestEngine:
    """Stand-in for ``ctranslate2.Translator`` asked for n-best lists: each sentence
    ``W`` gets ``<W W W>`` (score -0.1), ``<W W>`` (-0.5) and ``<W>`` (-0.9), the longest
    best, cut to ``num_hypotheses``; it records the options."""

    def __init__(self) -> None:
        self.options: list[dict[str, object]] = []

    def translate_batch(self, tokens: list[list[str]], **options: object) -> list[_ScoredResult]:
        self.options.append(options)
        n = int(options.get("num_hypotheses", 1))  # type: ignore[call-overload]
        out = []
        for t in tokens:
            word = "".join(t[:-1]).replace("▁", " ").strip().rstrip(".").upper()
            hyps = [[f"▁{' '.join([word] * k)}.".replace(" ", "▁"), "</s>"] for k in (3, 2, 1)]
            out.append(_ScoredResult(hyps[:n], [-0.1, -0.5, -0.9][:n]))
        return out


def _nbest_translator(**options: object) -> tuple[OpusTranslator, NBestEngine]:
    engine = NBestEngine()
    model = OpusModel(engine, PieceTokenizer(), PieceTokenizer())
    return OpusTranslator(models={"en-es": model}, **options), engine  # type: ignore[arg-type]


def _fit(*seconds: float) -> FitRequest:
    """Budgets in seconds for a voice of 10 characters a second."""
    length = SpeechLength("test", per_unit_s=0.1)
    return FitRequest(tuple(LineBudget(s, s) for s in seconds), length, max_rate=1.2)


def test_opus_is_length_aware_and_google_is_not() -> None:
    from lipdub.translate.google import GoogleTranslator

    assert OpusTranslator.length_aware and not GoogleTranslator.length_aware


def test_fitted_lines_get_the_best_scoring_hypothesis_that_fits() -> None:
    mt, engine = _nbest_translator(n_best=3, beam_size=2)
    # "HI HI HI." 9 chars, "HI HI." 6, "HI." 3; budgets 1.0 s (10 chars), 0.7 s, 0.35 s
    out = mt.translate_fitted(["Hi.", "Hi.", "Hi."], "en", "es", _fit(1.0, 0.7, 0.35))
    assert out == ["HI HI HI.", "HI HI.", "HI."]
    assert engine.options[0]["num_hypotheses"] == 3
    assert engine.options[0]["return_scores"] is True
    assert engine.options[0]["beam_size"] == 3  # widened to the n-best asked
    # nothing fits 0.1 s: the closest, the shortest here
    assert mt.translate_fitted(["Hi."], "en", "es", _fit(0.1)) == ["HI."]
    # without budgets: the plain beam's first hypothesis, no n-best asked
    assert mt.translate(["Hi."], "en", "es") == ["HI HI HI."]
    assert "num_hypotheses" not in engine.options[-1]


def test_a_line_of_several_sentences_combines_their_hypotheses() -> None:
    mt, _ = _nbest_translator(n_best=3)
    text = "Yes. No."
    # 2.0 s (20 chars): both long ("YES YES YES. NO NO NO.", 22 chars) do not fit;
    # "YES YES YES. NO NO." (19 chars) and "YES YES. NO NO NO." (18) both score -0.6,
    # better than any other that fits: of the two, the shorter
    assert mt.translate_fitted([text], "en", "es", _fit(2.0)) == ["YES YES. NO NO NO."]
    assert mt.translate_fitted([text], "en", "es", _fit(3.0)) == ["YES YES YES. NO NO NO."]
    assert mt.translate_fitted([text], "en", "es", _fit(0.8)) == ["YES. NO."]


def test_fitted_translation_keeps_blanks_and_the_same_language() -> None:
    mt, engine = _nbest_translator()
    assert mt.translate_fitted(["", "  "], "en", "es", _fit(1.0, 1.0)) == ["", ""]
    assert mt.translate_fitted(["Hi."], "en-GB", "en", _fit(0.1)) == ["Hi."]
    assert engine.options == []
    out = mt.translate_fitted(["Hi.", ""], "en", "es", _fit(1.0, 1.0))
    assert out == ["HI HI HI.", ""]
    with pytest.raises(InputError, match="2 time budgets for 1 texts"):
        mt.translate_fitted(["Hi."], "en", "es", _fit(1.0, 1.0))


def test_n_best_one_takes_the_beam_s_best() -> None:
    mt, engine = _nbest_translator(n_best=1)
    assert mt.translate_fitted(["Hi."], "en", "es", _fit(0.1)) == ["HI HI HI."]
    assert engine.options[0]["num_hypotheses"] == 1
    with pytest.raises(InputError, match="n_best"):
        OpusTranslator(n_best=0)


def test_the_tiny_model_returns_scored_n_best_lists(tiny_model_dir: Path) -> None:
    """The real CTranslate2 path: n-best lists with scores, best first, and the line
    choice made among them for the budget (random weights: the method, not quality)."""
    mt = OpusTranslator(models={"en-es": tiny_model_dir}, device="cpu", n_best=4)
    model = mt.model_for("en", "es")
    texts = ["hello world", "the train is very late", "good morning everybody"]
    nbest = model.translate_sentences_nbest(texts, num_hypotheses=4)
    assert len(nbest) == 3
    for hyps in nbest:
        assert 1 <= len(hyps) <= 4
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert all(h.score <= 0 for h in hyps)  # log-probabilities
        assert len({h.text for h in hyps}) == len(hyps)
    for seconds in (0.2, 1.0, 3.0, 30.0):
        fit = _fit(seconds, seconds, seconds)
        out = mt.translate_fitted(texts, "en", "es", fit)
        assert out == [choose_fitting(i, nbest[i], fit).text for i in range(3)]
    # a generous budget takes the best score, a tight one no longer text than that
    loose = mt.translate_fitted(texts, "en", "es", _fit(30.0, 30.0, 30.0))
    tight = mt.translate_fitted(texts, "en", "es", _fit(0.2, 0.2, 0.2))
    assert loose == [hyps[0].text for hyps in nbest]
    assert all(len(t) <= len(lo) for t, lo in zip(tight, loose, strict=True))


# ---------------------------------------------------------------- model selection


def test_pairs_map_to_hub_repos() -> None:
    mt = OpusTranslator()
    assert mt.repo_for("en", "es") == "gaudi/opus-mt-en-es-ctranslate2"
    assert mt.repo_for("pt-BR", "de-DE") == "gaudi/opus-mt-pt-de-ctranslate2"
    other = OpusTranslator(repo_template="me/mt-{src}-{tgt}")
    assert other.repo_for("fr", "en") == "me/mt-fr-en"
    assert language_code("zh-Hans-CN") == "zh"
    with pytest.raises(InputError):
        OpusTranslator(repo_template="me/no-placeholders")
    with pytest.raises(InputError, match="'en-es'"):
        OpusTranslator(models={"english": "x"})


def test_tiny_ctranslate2_model_loads_and_keeps_boundaries(tiny_model_dir: Path) -> None:
    mt = OpusTranslator(models={"en-es": tiny_model_dir}, device="cpu", beam_size=1, batch_size=2)
    texts = ["hello world.", "good morning everybody. how are you today?", "", "the train"]
    out = mt.translate(texts, "en", "es")
    assert len(out) == len(texts)
    assert out[2] == ""
    assert all(isinstance(t, str) for t in out)
    model = mt.model_for("en", "es")
    assert isinstance(model.translator, ctranslate2.Translator)
    assert model.eos_token == "</s>" and model.target_token is None
    assert mt.model_for("en-US", "es") is model  # loaded once, cached per pair


def test_multi_target_model_gets_the_target_token(tmp_path: Path) -> None:
    folder = write_tiny_opus_model(tmp_path / "en-romance", extra_tokens=[">>es<<", ">>fr<<"])
    mt = OpusTranslator(models={"en-fr": folder}, device="cpu", beam_size=1)
    assert mt.model_for("en", "fr").target_token == ">>fr<<"
    assert len(mt.translate(["hello world."], "en", "fr")) == 1


# ---------------------------------------------------------------- settings


class TestOpusConformance(TranslatorConformance):
    """The suite on the tiny random CTranslate2 model (it translates into gibberish)."""

    @pytest.fixture(autouse=True)
    def _model(self, tiny_model_dir: Path, tmp_path: Path) -> None:
        self.folder = tiny_model_dir
        self.tmp_path = tmp_path

    def make_translator(self) -> OpusTranslator:
        return OpusTranslator(models={"en-es": self.folder}, device="cpu", beam_size=1)

    def make_changed_backend(self) -> OpusTranslator:
        # the dict option: another model for the pair
        return OpusTranslator(models={"en-es": "someone/opus-mt-en-es-ct2"}, beam_size=1)

    def make_same_output_backend(self) -> OpusTranslator:
        moved = shutil.copytree(self.folder, self.tmp_path / "moved-en-es")
        return OpusTranslator(
            models={"en-es": moved},
            device="cuda",
            beam_size=1,
            batch_size=3,
            cache_dir=self.tmp_path / "hub",
            local_files_only=True,
            token="hf_not_a_real_token",
        )


def test_the_models_dict_is_in_the_settings(tiny_model_dir: Path, tmp_path: Path) -> None:
    base = OpusTranslator(models={"en-es": tiny_model_dir}).settings()
    assert set(base["models"]) == {"en-es"}
    # another folder with other files for the same pair
    other = shutil.copytree(tiny_model_dir, tmp_path / "other")
    (other / "config.json").write_text('{"add_source_eos": false}', encoding="utf-8")
    assert OpusTranslator(models={"en-es": other}).settings() != base
    # a Hub repo instead, then another pair added
    repo = OpusTranslator(models={"en-es": "me/opus-en-es"}).settings()
    assert repo["models"] == {"en-es": {"repo_id": "me/opus-en-es"}} and repo != base
    both = OpusTranslator(models={"en-es": tiny_model_dir, "en-fr": "me/opus-en-fr"})
    assert both.settings() != base
    assert both.settings()["models"]["en-es"] == base["models"]["en-es"]
    # region tags are dropped from pairs, as model_for() drops them
    assert OpusTranslator(models={"en_US-ES": tiny_model_dir}).settings() == base


def test_token_device_and_cache_do_not_change_the_settings(tmp_path: Path) -> None:
    base = OpusTranslator().settings()
    for other in (
        {"token": "hf_rotated"},
        {"device": "cuda"},
        {"cache_dir": tmp_path},
        {"local_files_only": True},
        {"batch_size": 4},
    ):
        assert OpusTranslator(**other).settings() == base, other  # type: ignore[arg-type]
    for changed in (
        {"revision": "abc"},
        {"repo_template": "me/mt-{src}-{tgt}"},
        {"compute_type": "float32"},
        {"beam_size": 2},
        {"max_decoding_length": 64},
        {"split_sentences": False},
        {"n_best": 4},
    ):
        assert OpusTranslator(**changed).settings() != base, changed  # type: ignore[arg-type]


def test_registry_builds_it() -> None:
    mt = registry.resolve("translator", "opus", batch_size=8)
    assert isinstance(mt, OpusTranslator) and mt.batch_size == 8


# ---------------------------------------------------------------- errors


def test_missing_pair_offline_names_repo_size_and_cache(tmp_path: Path) -> None:
    mt = OpusTranslator(cache_dir=tmp_path / "hub", local_files_only=True)
    with pytest.raises(ModelNotFoundError) as info:
        mt.translate(["Hello."], "en", "xx")
    message = str(info.value)
    assert "gaudi/opus-mt-en-xx-ctranslate2" in message
    assert "MB" in message and str(tmp_path / "hub") in message
    assert "lipdub weights download opus-en-xx" in message and "models=" in message
    assert "huggingface-cli" not in message and "unset HF_HUB_OFFLINE" not in message
    assert "\n" not in message


def test_incomplete_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    mt = OpusTranslator(models={"en-es": tmp_path})
    with pytest.raises(ModelNotFoundError, match=r"source\.spm"):
        mt.translate(["Hello."], "en", "es")


def test_missing_local_folder_is_reported(tmp_path: Path) -> None:
    mt = OpusTranslator(models={"en-es": tmp_path / "nope"})
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        mt.translate(["Hello."], "en", "es")


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("LIPDUB_TEST_NETWORK") != "1", reason="set LIPDUB_TEST_NETWORK=1 to download"
)
def test_real_english_to_spanish(tmp_path: Path) -> None:  # pragma: no cover - network
    mt = OpusTranslator(cache_dir=tmp_path, device="cpu")
    out = mt.translate(["Good morning.", "The train is late. I am sorry."], "en", "es")
    assert len(out) == 2
    assert "buenos" in out[0].lower()
    assert "tren" in out[1].lower()
