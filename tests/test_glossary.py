"""The glossary: reading terms.csv, placeholders every translator honours, and reports.

OPUS-MT runs the real CTranslate2 engine on the tiny random test model (it translates
into gibberish, so its placeholders do not come back and the line is translated in
pieces around the term), and through the recording engine (it keeps placeholders, so
they are restored); Google runs the real client against the fake gRPC service. The
``llm`` translator's glossary is tested in ``test_llm_translate.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lipdub import DubbingPipeline
from lipdub.dub import DubOptions
from lipdub.errors import InputError
from lipdub.review import ReviewSession
from lipdub.testing import FakeFaceDetector, FakeTranscriber, FakeTranslator
from lipdub.translate.glossary import MAX_GLOSSARY_BYTES, Glossary, Term, translate_protected
from lipdub.types import Segment, Transcript

SOURCE = Transcript(
    "en",
    (
        Segment(0.0, 1.0, "hello world, Acme is here."),
        Segment(1.5, 2.5, "good morning everybody."),
        Segment(3.0, 4.0, "the ACME train is late. lip sync with acme."),
    ),
)
GLOSSARY = Glossary.parse('# terms\nsource,target\nAcme, keep\n"lip sync", doblaje labial\n')


# ---------------------------------------------------------------- the file


def test_the_csv_format(tmp_path: Path) -> None:
    path = tmp_path / "terms.csv"
    path.write_text(
        '\ufeff# brand names stay\nsource,target\n\nAcme, keep\n"Acme, Inc.", KEEP\n'
        "lip sync,doblaje labial\n",
        encoding="utf-8",
    )
    g = Glossary.load(path)
    assert g.terms == (
        Term("Acme", None, 4),
        Term("Acme, Inc.", None, 5),
        Term("lip sync", "doblaje labial", 6),
    )
    assert g.key() == [["Acme", None], ["Acme, Inc.", None], ["lip sync", "doblaje labial"]]
    # the longest term wins where two overlap
    assert g.found("Acme, Inc. and acme") == [g.terms[1], g.terms[0]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Acme, keep\nOne,two,three\n", "glossary line 2: expected 'source term, target term'"),
        ("Acme\n", "glossary line 1: expected"),
        ("Acme,\n", "glossary line 1: expected"),
        ("Acme, keep\nacme, ACME\n", "glossary term 'acme' is given twice (lines 1 and 2)"),
        ('"Acme, keep\n', "glossary line 1: expected"),
    ],
)
def test_a_bad_line_names_the_file_and_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "terms.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        Glossary.load(path)
    assert message in str(e.value)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


NO_TERMS = {
    "empty": "",
    "a header only": "source,target\n",
    "comments only": "\ufeff# brand names stay\n\n   \n# more to come\n",
}
NO_TERMS_SAID = "glossary: no terms found (one term per line: SOURCE TERM, TARGET TERM (or keep))"


@pytest.mark.parametrize("content", NO_TERMS.values(), ids=NO_TERMS.keys())
def test_a_file_with_no_terms_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "terms.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        Glossary.load(path)
    assert str(e.value) == f"{path}: {NO_TERMS_SAID}"
    assert e.value.path == str(path)
    with pytest.raises(InputError, match=r"^glossary: no terms found"):
        Glossary.parse(content.removeprefix("\ufeff"))  # load() drops the byte-order mark


@pytest.mark.parametrize("content", NO_TERMS.values(), ids=NO_TERMS.keys())
def test_the_cli_refuses_a_glossary_with_no_terms_before_any_work(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main
    from lipdub.testing.media import make_test_video

    clip = make_test_video(tmp_path / "talk.mp4", duration_s=1.0, size=(160, 120))
    terms, wd = tmp_path / "terms.csv", tmp_path / "wd"
    terms.write_text(content, encoding="utf-8")
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), "-q", "--glossary", str(terms)]
    assert main([*args, "--transcriber", "fake", "--translator", "fake", "--tts", "fake"]) != 0
    err = capsys.readouterr().err
    assert err == f"error: {terms}: {NO_TERMS_SAID}\n"
    assert not wd.exists()  # refused before the work directory is made
    transcript = SOURCE.save(tmp_path / "t.en.json")
    out = tmp_path / "t.es.json"
    cmd = ["translate", str(transcript), "--to", "es", "--backend", "fake", "-o", str(out)]
    assert main([*cmd, "--glossary", str(terms)]) != 0
    assert capsys.readouterr().err == f"error: {terms}: {NO_TERMS_SAID}\n"
    assert not out.exists()


def test_untrusted_files_are_refused_clearly(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" * (MAX_GLOSSARY_BYTES // 4 + 1))
    with pytest.raises(InputError, match="a glossary is at most 1 MiB"):
        Glossary.load(big)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("café, keep\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        Glossary.load(latin)
    with pytest.raises(InputError, match="glossary file not found"):
        Glossary.load(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="longer than 200 characters"):
        Glossary.parse("x" * 201 + ", keep")


# ---------------------------------------------------------------- checks and placeholders


def test_check_names_each_broken_term() -> None:
    assert GLOSSARY.check("Acme does lip sync", "Acme hace doblaje labial") == []
    assert GLOSSARY.check("Acme does lip sync", "ACME hace Doblaje labial") == []
    assert GLOSSARY.check("Acme does lip sync", "Acmé hace sincronía") == [
        "the glossary term 'Acme' should stay as it is",
        "the glossary term 'lip sync' should read 'doblaje labial'",
    ]
    # used twice in the source, rendered once
    assert GLOSSARY.check("Acme and acme", "Acme y compañía") == [
        "the glossary term 'Acme' should stay as it is"
    ]
    # a term inside another word is not the term
    assert GLOSSARY.found("Acmeville") == []


def test_placeholders_round_trip_and_a_lost_one_is_seen() -> None:
    masked, slots = GLOSSARY.protect("Acme does lip sync for acme.")
    assert masked == "ZQX0 does ZQX1 for ZQX2."
    assert Glossary.restore("ZQX0 hace ZQX1 para zqx 2.", slots) == (
        "Acme hace doblaje labial para Acme."
    )
    assert Glossary.restore("ZQX0 hace ZQX1.", slots) is None  # one lost
    assert Glossary.restore("ZQX0 ZQX0 ZQX1 ZQX2", slots) is None  # one repeated


def test_a_line_whose_placeholders_are_lost_is_translated_around_its_terms() -> None:
    calls: list[list[str]] = []

    def engine(texts: list[str]) -> list[str]:
        calls.append(texts)
        return [t.replace("ZQX", "").upper() for t in texts]  # loses every placeholder

    out = translate_protected(GLOSSARY, ["Acme does lip sync.", "no terms"], engine)
    assert out == ["Acme DOES doblaje labial .", "NO TERMS"]
    assert calls == [["ZQX0 does ZQX1.", "no terms"], [" does ", "."]]


# ---------------------------------------------------------------- every translator


def test_opus_on_real_ctranslate2_keeps_the_brand(tmp_path: Path) -> None:
    pytest.importorskip("ctranslate2")
    from test_local_translate import write_tiny_opus_model

    from lipdub.translate.opus import OpusTranslator

    folder = write_tiny_opus_model(tmp_path / "en-es")
    mt = OpusTranslator(models={"en-es": folder}, device="cpu", beam_size=1)
    plain = mt.translate_transcript(SOURCE, "es")
    assert "Acme" not in " ".join(s.text for s in plain.segments)  # gibberish
    out = mt.translate_transcript(SOURCE, "es", glossary=GLOSSARY)
    texts = [s.text for s in out.segments]
    assert texts[0].count("Acme") == 1 and texts[2].count("Acme") == 2
    assert "doblaje labial" in texts[2]
    assert texts[1] == plain.segments[1].text  # a line without terms is as before
    assert [GLOSSARY.check(s.text, t) for s, t in zip(SOURCE.segments, texts, strict=True)] == [
        [],
        [],
        [],
    ]


def test_opus_placeholders_pass_through_an_engine_that_keeps_them() -> None:
    pytest.importorskip("ctranslate2")
    from test_local_translate import _recording_translator

    mt, engine = _recording_translator()
    out = mt.translate_transcript(SOURCE, "es", glossary=GLOSSARY)
    assert out.segments[0].text == "es:HELLO WORLD, Acme IS HERE."
    assert out.segments[2].text == "es:THE Acme TRAIN IS LATE. es:doblaje labial WITH Acme."
    sent = " ".join(tok for batch in engine.batches for tokens in batch for tok in tokens)
    assert "acme" not in sent.lower() and "ZQX" in sent


def test_google_keeps_the_brand_behind_placeholders() -> None:
    pytest.importorskip("google.cloud.translate_v3")
    from lipdub.testing.google import FakeGoogleCloud
    from lipdub.translate.google import GoogleTranslator

    with FakeGoogleCloud() as fake:
        tr = GoogleTranslator(client=fake.translation_client(), project_id="demo")
        out = tr.translate_transcript(SOURCE, "es", glossary=GLOSSARY)
    assert [s.text for s in out.segments] == [
        "[es] hello world, Acme is here.",
        "[es] good morning everybody.",
        "[es] the Acme train is late. doblaje labial with Acme.",
    ]
    (request,) = fake.requests["TranslateText"]
    assert list(request.contents) == [
        "hello world, ZQX0 is here.",
        "good morning everybody.",
        "the ZQX0 train is late. ZQX1 with ZQX2.",
    ]


# ---------------------------------------------------------------- in a dub


def test_dub_options_take_a_glossary_not_a_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"takes a Glossary, got str \(read the file with"):
        DubOptions(glossary="terms.csv")  # type: ignore[arg-type]
    assert DubOptions(glossary=GLOSSARY).glossary is GLOSSARY


@pytest.fixture
def clip(make_video) -> Path:  # type: ignore[no-untyped-def]
    return make_video("talk.mp4", duration_s=4.0, fps=25)


def _pipeline() -> DubbingPipeline:
    return DubbingPipeline(
        transcriber=FakeTranscriber.from_texts(
            ["Acme phones are great.", "Buy one today."], start_s=0.5, segment_s=1.4, gap_s=0.5
        ),
        translator=FakeTranslator(),
        voice="fake",
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )


def test_the_glossary_is_in_the_translation_key_and_an_edit_that_breaks_it_is_shown(
    clip: Path, tmp_path: Path
) -> None:
    pipe, out = _pipeline(), tmp_path / "o.mp4"
    first = pipe.run(clip, "es", out)
    assert "translate" in first.ran
    same = pipe.run(clip, "es", out)
    assert "translate" not in same.ran
    glossary = Glossary.parse("Acme, keep")
    kept = pipe.run(clip, "es", out, options=DubOptions(glossary=glossary))
    assert "translate" in kept.ran  # a new glossary re-translates
    assert kept.translation.segments[0].text == "[es] Acme phones are great."
    # and speaks and checks again: the glossary is an input of speaking (#25)
    assert {"speak", "quality"} <= set(kept.ran)
    assert [n for n in kept.notices if not n.startswith("quality:")] == []
    again = pipe.run(clip, "es", out, options=DubOptions(glossary=glossary))
    assert "translate" not in again.ran

    # the user's edit drops the brand: a warning, on its line of the timing report
    # and on the review page
    path = kept.workdir / "translation.es.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["segments"][0]["text"] = "Los teléfonos Acmé son geniales."
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    edited = pipe.run(clip, "es", out, options=DubOptions(glossary=glossary))
    said = "the glossary term 'Acme' should stay as it is"
    assert [n for n in edited.notices if not n.startswith("quality:")] == [
        f"translation.es.json: segment 0: {said}"
    ]
    assert [s.warnings for s in edited.timing.segments] == [(said,), ()]
    rows = ReviewSession(edited.workdir, pipe).state("es")["rows"]
    assert rows[0]["timing"]["warnings"] == [said]
