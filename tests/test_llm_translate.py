"""The ``llm`` translator against a fake OpenAI-compatible server (real HTTP, real client).

The fake (:class:`lipdub.testing.llm.FakeChatServer`) answers each line with its words
reversed, cut to the line's ``max_chars`` when the prompt carries one; it is scripted
per test (too long, malformed, dropped or merged lines, HTTP 429/401, unknown model).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("openai")

from lipdub import DubbingPipeline, registry
from lipdub.dub import DubOptions, FitOptions
from lipdub.dub.operations import synthesize
from lipdub.dub.result import DubResult
from lipdub.errors import CloudServiceError, CredentialsError, InputError, ModelNotFoundError
from lipdub.retry import RetryPolicy
from lipdub.testing import FakeFaceDetector, FakeTranscriber, FakeVoiceSynth
from lipdub.testing.conformance import TranslatorConformance
from lipdub.testing.llm import FakeChatServer
from lipdub.translate.glossary import Glossary
from lipdub.translate.llm import PROMPT_VERSION, LLMTranslator
from lipdub.types import Segment, Transcript
from lipdub.types.fit import FitRequest, LineBudget, SpeechLength

KEY = "sk-lipdub-secret-0123456789abcdef"
NO_WAIT = RetryPolicy(max_attempts=3, initial_delay_s=0.0, max_delay_s=0.0, jitter=0.0)

# Five-letter words throughout: a reversed word is as long, and the fake voice says
# each word in 0.3 s, which this predictor states exactly (0.05 s + 0.05 s a character).
LENGTH = SpeechLength("fake:es", per_unit_s=0.05, overhead_s=0.05)
SOURCE = Transcript(
    "en",
    (
        Segment(0.5, 1.5, "hello world there again quick brown", speaker="A"),
        Segment(2.0, 3.2, "seven eight nines tenth", speaker="B"),
        Segment(3.6, 4.1, "quiet words", speaker="A"),
    ),
)


def slots_fit(transcript: Transcript, *, max_rate: float = 1.3) -> FitRequest:
    """Each line's budget is its source slot (no borrowed silence)."""
    budgets = tuple(
        LineBudget(s.end_s - s.start_s, s.end_s - s.start_s, LENGTH.chars_in(s.end_s - s.start_s))
        for s in transcript.segments
    )
    speakers = tuple(s.speaker for s in transcript.segments)
    return FitRequest(budgets, LENGTH, max_rate=max_rate, speakers=speakers)


def llm(fake: FakeChatServer, **kw: object) -> LLMTranslator:
    kw.setdefault("retry", NO_WAIT)
    return LLMTranslator(model="fake-model", base_url=fake.base_url, api_key=KEY, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- budgets and rewrites


def test_the_budgets_sent_are_the_source_slots() -> None:
    fit = slots_fit(SOURCE)
    with FakeChatServer() as fake:
        out = llm(fake).translate_transcript(SOURCE, "es", fit=fit)
    (sent,) = fake.chats  # the whole (short) transcript in one request
    assert sent["source_language"] == "en" and sent["target_language"] == "es"
    rows = sent["lines"]
    assert [r["id"] for r in rows] == [0, 1, 2]
    assert [r["text"] for r in rows] == [s.text for s in SOURCE.segments]
    assert [r["speaker"] for r in rows] == ["A", "B", "A"]
    assert [r["seconds"] for r in rows] == [1.0, 1.2, 0.5]  # end_s - start_s of each line
    # characters the voice says in the slot at the fit's max_rate: (1.3 s - 0.05) / 0.05
    assert [r["max_chars"] for r in rows] == [25, 30, 12]
    assert out.segments[1].text == "neves thgie senin htnet"
    assert all(fit.fits(i, s.text, rate=fit.max_rate) for i, s in enumerate(out.segments))


def test_a_too_long_answer_is_asked_again_and_the_dub_fits_max_rate() -> None:
    fit = slots_fit(SOURCE)
    with FakeChatServer(script=["too_long", "too_long"]) as fake:
        out = llm(fake, max_rewrites=2).translate_transcript(SOURCE, "es", fit=fit)
    assert len(fake.requests) == 3  # the first answer and two rewrites
    first, second, _third = fake.chats
    assert "previous" not in first["lines"][0]
    # every line was too long, so every line is asked again, with its last answer
    assert [r["id"] for r in second["lines"]] == [0, 1, 2]
    assert second["lines"][0]["previous"].startswith("olleh olleh")
    assert "too long" in second["lines"][0]["problem"]
    assert "at most 25 characters" in second["lines"][0]["problem"]
    assert out.segments[0].text == "olleh dlrow ereht niaga"  # 23 chars <= 25
    # spoken by the fake voice at the source timing: no line faster than max_rate
    _, report = synthesize(FakeVoiceSynth(0.3), out, DubOptions(fit=FitOptions(max_rate=1.3)))
    assert [s.status for s in report.segments] == ["ok", "ok", "ok"]
    assert max(s.speed for s in report.segments) <= 1.3 + 1e-6
    # the plain translation (no budgets) fits only at the ceiling, borrowing the silence
    # before its first line
    _, loose = synthesize(
        FakeVoiceSynth(0.3),
        SOURCE.with_texts([s.text for s in SOURCE.segments], language="es"),
        DubOptions(fit=FitOptions(max_rate=1.3)),
    )
    assert loose.segments[0].speed == pytest.approx(1.3, abs=1e-3)
    assert loose.segments[0].start_s < loose.segments[0].source_start_s
    assert max(s.speed for s in report.segments) <= 1.2 + 1e-6


def test_rewrites_stop_after_max_rewrites_and_keep_the_best_answer() -> None:
    fit = slots_fit(SOURCE)
    with FakeChatServer(script=["too_long"] * 5) as fake:
        out = llm(fake, max_rewrites=1).translate_transcript(SOURCE, "es", fit=fit)
    assert len(fake.requests) == 2
    assert out.segments[2].text == "teiuq teiuq sdrow sdrow"  # all as long: the first kept


def test_windows_carry_context_from_both_sides() -> None:
    segs = tuple(Segment(i * 1.0, i * 1.0 + 0.8, f"line{i:02d} words") for i in range(7))
    transcript = Transcript("en", segs)
    with FakeChatServer() as fake:
        out = llm(fake, window_lines=3, context_lines=2).translate_transcript(transcript, "es")
    assert len(out) == 7
    assert [[r["id"] for r in c["lines"]] for c in fake.chats] == [[0, 1, 2], [3, 4, 5], [6]]
    middle = fake.chats[1]
    assert [r["id"] for r in middle["context_before"]] == [1, 2]
    assert [r["id"] for r in middle["context_after"]] == [6]
    assert "seconds" not in middle["lines"][0]  # no fit: no budgets


def test_speakers_are_sent_without_a_fit_too() -> None:
    with FakeChatServer() as fake:
        llm(fake).translate_transcript(SOURCE, "es")
    assert [r["speaker"] for r in fake.chats[0]["lines"]] == ["A", "B", "A"]
    assert "seconds" not in fake.chats[0]["lines"][0]


# ---------------------------------------------------------------- failures


def test_malformed_json_is_asked_again_then_an_error() -> None:
    with FakeChatServer(script=["malformed"]) as fake:
        assert llm(fake).translate(["hello world"], "en", "es") == ["olleh dlrow"]
    assert len(fake.requests) == 2
    assert "not usable" in fake.requests[1]["messages"][-1]["content"]
    failing = FakeChatServer(script=["malformed"] * 3)
    with failing as fake, pytest.raises(CloudServiceError, match="the JSON asked for in 3 tries"):
        llm(fake, json_attempts=3).translate(["hello world"], "en", "es")
    assert len(fake.requests) == 3


def test_a_dropped_or_merged_line_is_asked_again_then_an_error() -> None:
    texts = ["hello world", "seven eight", "quiet words"]
    with FakeChatServer(script=["merge"]) as fake:
        out = llm(fake).translate(texts, "en", "es")
    assert out == ["olleh dlrow", "neves thgie", "teiuq sdrow"] and len(fake.requests) == 2
    with FakeChatServer(script=["blank"]) as fake:
        assert llm(fake).translate(texts, "en", "es")[2] == "teiuq sdrow"
    assert "line 2 is answered empty" in fake.requests[1]["messages"][-1]["content"]
    with FakeChatServer(script=["drop"] * 2) as fake, pytest.raises(CloudServiceError) as e:
        llm(fake, json_attempts=2).translate(texts, "en", "es")
    assert "1 of 3 lines dropped or merged (ids 2)" in str(e.value)
    assert "\n" not in str(e.value)


def test_429_twice_then_an_answer_and_429_beyond_the_policy() -> None:
    waits: list[float] = []
    with FakeChatServer(script=[429, 429]) as fake:
        tr = llm(fake, retry=RetryPolicy(3, 0.5, 4.0, jitter=0.0), sleep=waits.append)
        assert tr.translate(["hello world"], "en", "es") == ["olleh dlrow"]
    assert len(fake.requests) == 3 and waits == [0.5, 1.0]
    limited = FakeChatServer(script=[429] * 3)
    with limited as fake, pytest.raises(CloudServiceError, match=r"\(HTTP 429\) through 3 tries"):
        llm(fake).translate(["hello world"], "en", "es")
    assert len(fake.requests) == 3


def test_401_is_a_credentials_error_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    refusing = FakeChatServer(api_key="sk-the-right-one-000000")
    with refusing as fake, pytest.raises(CredentialsError) as e:
        llm(fake).translate(["hello world"], "en", "es")
    assert len(fake.requests) == 1  # not retried
    assert fake.requests[0]["_authorization"] == f"Bearer {KEY}"  # sent to the server only
    text = str(e.value)
    assert "refused the API key (HTTP 401)" in text and "LIPDUB_LLM_API_KEY" in text
    assert KEY not in text and KEY not in repr(e.value) and KEY not in caplog.text


def test_an_unknown_model_and_a_server_down_are_one_line_errors() -> None:
    with FakeChatServer(models=("other",)) as fake:
        with pytest.raises(ModelNotFoundError, match="has no model 'fake-model'") as e:
            llm(fake).translate(["hello world"], "en", "es")
        assert "ollama pull" in str(e.value)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tr = LLMTranslator(
        model="m",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=KEY,
        retry=NO_WAIT,
        sleep=lambda _: None,
    )
    with pytest.raises(
        CloudServiceError, match=rf"cannot reach the LLM server at 127.0.0.1:{port} \(3 tries\)"
    ):
        tr.translate(["hello world"], "en", "es")


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIPDUB_LLM_MODEL", raising=False)
    with pytest.raises(InputError, match="needs a model name"):
        LLMTranslator()
    with FakeChatServer() as fake:
        monkeypatch.setenv("LIPDUB_LLM_MODEL", "fake-model")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        tr = registry.resolve("translator", "llm")
        assert isinstance(tr, LLMTranslator)
        assert tr.translate(["hello"], "en", "es") == ["olleh"]
    assert fake.requests[0]["_authorization"] == f"Bearer {KEY}"


def test_settings_name_host_model_prompt_and_temperature_never_the_key() -> None:
    tr = LLMTranslator(model="qwen2.5:7b", base_url="http://user:pw@gpu-box:11434/v1", api_key=KEY)
    s = tr.settings()
    assert s["host"] == "gpu-box:11434" and s["model"] == "qwen2.5:7b"
    assert s["prompt_version"] == PROMPT_VERSION and s["temperature"] == 0.2
    assert KEY not in str(s) and "pw" not in str(s) and KEY not in repr(tr)
    other = LLMTranslator(model="qwen2.5:7b", base_url="http://gpu-box:11434/v1", temperature=0.7)
    assert other.settings() != s
    assert (
        LLMTranslator(
            model="qwen2.5:7b", base_url="http://gpu-box:11434/v1", api_key="x"
        ).settings()
        == s
    )


# ---------------------------------------------------------------- in a dub


@pytest.fixture
def clip(make_video) -> Path:  # type: ignore[no-untyped-def]
    return make_video("talk.mp4", duration_s=4.0, fps=25)


def _dub(clip: Path, out: Path, translator: LLMTranslator, **options: object):  # type: ignore[no-untyped-def]
    pipe = DubbingPipeline(
        transcriber=FakeTranscriber.from_texts(
            ["Acme phones are great.", "Buy an Acme today."], start_s=0.5, segment_s=1.4, gap_s=0.5
        ),
        translator=translator,
        voice="fake",
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )
    return pipe.run(clip, "es", out, options=DubOptions(**options))  # type: ignore[arg-type]


def test_the_key_is_in_no_output_of_a_dub(
    clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeChatServer(script=["malformed"]) as fake:
        result = _dub(clip, tmp_path / "o.mp4", llm(fake))
    assert result.translation.segments[0].text == "emcA senohp era .taerg"
    assert all(r["_authorization"] == f"Bearer {KEY}" for r in fake.requests)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 5
    for p in files:
        assert KEY.encode() not in p.read_bytes(), p
    assert KEY not in caplog.text
    assert "llm translate" in caplog.text  # the logs were captured


def _glossary_notices(result: DubResult) -> list[str]:
    """The run's notices but the quality stage's (the fake transcriber cannot check)."""
    return [n for n in result.notices if not n.startswith("quality:")]


def test_the_glossary_keeps_a_brand_through_the_llm_and_a_broken_term_is_reported(
    clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    glossary = Glossary.parse("Acme, keep\n")
    with FakeChatServer() as fake:
        result = _dub(clip, tmp_path / "a.mp4", llm(fake), glossary=glossary)
    assert fake.chats[0]["glossary"] == [{"source": "Acme", "target": "Acme"}]
    assert [s.text for s in result.translation.segments] == [
        "Acme senohp era .taerg",
        "yuB na Acme .yadot",
    ]
    assert not _glossary_notices(result)
    assert all(not s.warnings for s in result.timing.segments)

    # a model that ignores the glossary: asked again (max_rewrites), then reported
    with FakeChatServer(script=["ignore_glossary"] * 3) as fake:
        broken = _dub(clip, tmp_path / "b.mp4", llm(fake, max_rewrites=2), glossary=glossary)
    assert len(fake.requests) == 3
    assert "should stay as it is" in fake.chats[1]["lines"][0]["problem"]
    assert broken.translation.segments[0].text == "emcA senohp era .taerg"
    said = "the glossary term 'Acme' should stay as it is"
    assert _glossary_notices(broken) == [
        f"translation.es.json: segment 0: {said}",
        f"translation.es.json: segment 1: {said}",
    ]
    assert [s.warnings for s in broken.timing.segments] == [(said,), (said,)]


# ---------------------------------------------------------------- the command line


def test_lipdub_translate_with_the_llm_and_a_glossary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main

    path = SOURCE.with_texts(["Acme phones", "Acme again", "quiet words"]).save(
        tmp_path / "t.en.json"
    )
    terms = tmp_path / "terms.csv"
    terms.write_text("Acme, keep\n", encoding="utf-8")
    monkeypatch.setenv("LIPDUB_LLM_API_KEY", KEY)
    out = tmp_path / "t.es.json"
    with FakeChatServer(script=["ignore_glossary"] * 3) as fake:
        args = ["translate", str(path), "--to", "es", "--backend", "llm", "-o", str(out)]
        opts = ["--opt", "model=fake-model", "--opt", f"base_url={fake.base_url}"]
        assert main([*args, *opts, "--glossary", str(terms)]) == 0
    assert fake.chats[0]["glossary"] == [{"source": "Acme", "target": "Acme"}]
    assert [s.text for s in Transcript.load(out).segments] == [
        "emcA senohp",
        "emcA niaga",
        "teiuq sdrow",
    ]
    captured = capsys.readouterr()
    assert "warning: segment 0: the glossary term 'Acme' should stay as it is" in captured.err
    assert "warning: segment 1:" in captured.err and "segment 2" not in captured.err
    assert KEY not in captured.out + captured.err

    terms.write_text("Acme, keep\nOne, two, three\n", encoding="utf-8")
    assert main([*args, "--glossary", str(terms)]) != 0
    err = capsys.readouterr().err
    assert f"{terms}: glossary line 2: expected 'source term, target term'" in err


def test_the_docs_ollama_and_vllm_recipes_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/backends.md's commands, run against the fake in place of the real server."""
    import re
    import shlex

    from lipdub.cli import main

    doc = (Path(__file__).resolve().parents[1] / "docs" / "backends.md").read_text("utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", doc, re.S)
    ollama = next(b for b in blocks if "ollama pull" in b)
    vllm = next(b for b in blocks if "vllm serve" in b)

    # Ollama: the dub command's translator options
    dub = next(line for line in ollama.splitlines() if line.startswith("lipdub dub"))
    words = shlex.split(dub)
    assert words[words.index("--translator") + 1] == "llm"
    opts = dict(
        words[i + 1].removeprefix("translator.").split("=", 1)
        for i, w in enumerate(words)
        if w == "--opt"
    )
    assert opts["base_url"] == "http://localhost:11434/v1"
    path = SOURCE.save(tmp_path / "t.en.json")
    with FakeChatServer(models=(opts["model"],)) as fake:
        opts["base_url"] = fake.base_url
        flags = [x for k, v in opts.items() for x in ("--opt", f"{k}={v}")]
        out = tmp_path / "t.es.json"
        assert (
            main(["translate", str(path), "--to", "es", "--backend", "llm", *flags, "-o", str(out)])
            == 0
        )
    assert Transcript.load(out).segments[2].text == "teiuq sdrow"

    # vLLM: the environment, with the key the server was started with
    served = re.search(r"vllm serve (\S+) .*--api-key (\S+)", vllm)
    assert served is not None
    export = next(line for line in vllm.splitlines() if line.startswith("export "))
    env = dict(pair.split("=", 1) for pair in shlex.split(export)[1:])
    assert env["LIPDUB_LLM_MODEL"] == served.group(1)
    assert env["LIPDUB_LLM_API_KEY"] == served.group(2)
    with FakeChatServer(models=(served.group(1),), api_key=served.group(2)) as fake:
        env["LIPDUB_LLM_BASE_URL"] = fake.base_url
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        assert registry.resolve("translator", "llm").translate(["hello"], "en", "es") == ["olleh"]


# ---------------------------------------------------------------- conformance


class TestLLMConformance(TranslatorConformance):
    """The suite against the fake server."""

    @pytest.fixture(autouse=True)
    def _server(self) -> Iterator[None]:
        with FakeChatServer() as fake:
            self.fake = fake
            yield

    def make_translator(self) -> LLMTranslator:
        return llm(self.fake)

    def make_changed_backend(self) -> LLMTranslator:
        return llm(self.fake, temperature=0.9)

    def make_same_output_backend(self) -> LLMTranslator:
        return LLMTranslator(
            model="fake-model",
            base_url=self.fake.base_url,
            api_key="sk-other",
            retry=RetryPolicy(1),
        )


def test_lipdub_dub_with_the_llm_key_in_an_option_writes_it_nowhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from lipdub.cli import main
    from lipdub.testing.media import make_test_video

    caplog.set_level(logging.DEBUG)
    clip = make_test_video(tmp_path / "talk.mp4", duration_s=3.0, size=(160, 120))
    terms = tmp_path / "terms.csv"
    terms.write_text("hello, keep\n", encoding="utf-8")
    with FakeChatServer(api_key=KEY) as fake:
        args = ["dub", str(clip), "--to", "es", "--transcriber", "fake", "--tts", "fake"]
        args += ["--detector", "fake", "--lipsyncer", "passthrough", "-q"]
        args += ["--translator", "llm", "--opt", "translator.model=fake-model"]
        args += ["--opt", f"translator.base_url={fake.base_url}"]
        args += ["--opt", f"translator.api_key={KEY}", "--glossary", str(terms)]
        assert main(args) == 0
    assert fake.chats[0]["glossary"] == [{"source": "hello", "target": "hello"}]
    captured = capsys.readouterr()
    assert KEY not in captured.out + captured.err + caplog.text
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != terms]
    assert any(p.name == "manifest.json" for p in files)
    for p in files:
        assert KEY.encode() not in p.read_bytes(), p
