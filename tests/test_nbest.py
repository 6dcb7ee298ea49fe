"""Translations chosen to fit (issue 26): the n-best choice and the scripted test backend.

The voice in these tests says 10 characters a second (``per_unit_s=0.1``, no
overhead), so a line of budget ``b`` seconds fits a text of at most ``10 * b``
characters at rate 1.0.
"""

from __future__ import annotations

import itertools

import pytest

from lipdub.errors import InputError
from lipdub.testing import ScriptedNBestTranslator
from lipdub.translate.nbest import Hypothesis, choose_fitting, combine_sentences
from lipdub.types import Segment, Transcript
from lipdub.types.fit import FitRequest, LineBudget, SpeechLength

TEN_CHARS_A_SECOND = SpeechLength("test", per_unit_s=0.1)


def _fit(*seconds: float, max_rate: float = 1.2) -> FitRequest:
    budgets = tuple(LineBudget(s, s) for s in seconds)
    return FitRequest(budgets, TEN_CHARS_A_SECOND, max_rate=max_rate)


# Hypotheses of one source line, best score first; 32, 19, 14 and 5 characters.
SCRIPT = {
    "I will call you back tomorrow morning.": [
        ("Te llamaré de nuevo mañana temprano.", -0.10),  # 36 chars: too long for 2 s
        ("Te llamo mañana temprano.", -0.35),  # 25 chars: too long for 2 s
        ("Te llamo mañana.", -0.60),  # 16 chars: fits 2 s
        ("Luego.", -2.50),  # 6 chars: fits, the shortest
    ]
}


def test_the_best_scoring_hypothesis_that_fits_is_chosen_not_the_shortest() -> None:
    """Must show (#26): with a scripted n-best list, the chosen hypothesis is the
    best-scoring one that fits, not the shortest one."""
    mt = ScriptedNBestTranslator(SCRIPT)
    (source,) = SCRIPT
    assert mt.translate_fitted([source], "en", "es", _fit(2.0)) == ["Te llamo mañana."]
    # a budget that fits the second: the second, though the third and fourth fit too
    assert mt.translate_fitted([source], "en", "es", _fit(2.6)) == ["Te llamo mañana temprano."]
    # a budget that fits everything: the best score
    assert mt.translate_fitted([source], "en", "es", _fit(5.0)) == [
        "Te llamaré de nuevo mañana temprano."
    ]
    # without budgets the best score whatever its length
    assert mt.translate([source], "en", "es") == ["Te llamaré de nuevo mañana temprano."]


def test_the_script_order_does_not_matter() -> None:
    (source,) = SCRIPT
    shuffled = {source: list(reversed(SCRIPT[source]))}
    mt = ScriptedNBestTranslator(shuffled)
    assert mt.translate_fitted([source], "en", "es", _fit(2.0)) == ["Te llamo mañana."]


def test_a_hypothesis_that_fits_only_when_sped_up_comes_after_one_that_fits() -> None:
    hyps = [Hypothesis("x" * 23, -0.1), Hypothesis("y" * 19, -0.9)]
    # 2 s: 19 chars fit at 1.0, 23 only at 1.2 -> the one that fits at 1.0
    assert choose_fitting(0, hyps, _fit(2.0)).text == "y" * 19
    # 1.75 s: none fits at 1.0 (17.5 chars); both fit at 1.2 (21 chars)? only the 19
    assert choose_fitting(0, hyps, _fit(1.75)).text == "y" * 19
    # 1.95 s, max_rate 1.2: 23 chars need 1.18x, 19 fit at 1.0
    assert choose_fitting(0, hyps, _fit(1.95)).text == "y" * 19
    # 1.5 s, max_rate 1.6: neither fits at 1.0, both at 1.6 -> the better score
    assert choose_fitting(0, hyps, _fit(1.5, max_rate=1.6)).text == "x" * 23


def test_when_nothing_fits_the_closest_to_fitting_is_chosen() -> None:
    hyps = [Hypothesis("x" * 40, -0.1), Hypothesis("y" * 30, -0.5), Hypothesis("z" * 30, -0.4)]
    # 1 s budget (10 chars, 12 at max_rate): none fits; the 30-char ones are closest,
    # and of those the better score
    assert choose_fitting(0, hyps, _fit(1.0)).text == "z" * 30


def test_choosing_needs_hypotheses_and_a_budget() -> None:
    with pytest.raises(InputError, match="no hypotheses"):
        choose_fitting(0, [], _fit(1.0))
    with pytest.raises(InputError, match="no time budget"):
        choose_fitting(1, [Hypothesis("a", 0.0)], _fit(1.0))


def test_each_line_is_chosen_for_its_own_budget() -> None:
    script = {
        "One.": [("Uno, sí, uno.", -0.1), ("Uno.", -0.3)],  # 13 and 4 chars
        "Two.": [("Dos, sí, dos.", -0.1), ("Dos.", -0.3)],
    }
    mt = ScriptedNBestTranslator(script)
    fit = _fit(0.5, 2.0)
    t = Transcript("en", (Segment(0.0, 0.5, "One."), Segment(1.0, 3.0, "Two.")))
    out = mt.translate_transcript(t, "es", fit=fit)
    assert [s.text for s in out.segments] == ["Uno.", "Dos, sí, dos."]
    assert [(s.start_s, s.end_s) for s in out.segments] == [(0.0, 0.5), (1.0, 3.0)]
    assert mt.requests == [fit]  # the budgets reached the translator as given


def test_the_scripted_translator_refuses_unscripted_text() -> None:
    mt = ScriptedNBestTranslator(SCRIPT)
    with pytest.raises(InputError, match=r"no hypotheses for 'Unknown line\.'"):
        mt.translate(["Unknown line."], "en", "es")
    assert mt.translate(["", "  "], "en", "es") == ["", ""]
    with pytest.raises(InputError, match="no hypotheses"):
        ScriptedNBestTranslator({"a": []})


def _brute_force(
    sentences: list[list[Hypothesis]], length: SpeechLength
) -> list[tuple[str, float, int]]:
    out = []
    for combo in itertools.product(*sentences):
        text = " ".join(h.text for h in combo)
        out.append((text, sum(h.score for h in combo), sum(length.units(h.text) for h in combo)))
    return out


def test_sentence_combinations_keep_every_choice_a_budget_could_make() -> None:
    sentences = [
        [Hypothesis("Hola a todos.", -0.1), Hypothesis("Hola.", -0.7), Hypothesis("Buenas.", -0.8)],
        [Hypothesis("¿Cómo están hoy?", -0.2), Hypothesis("¿Qué tal?", -0.4)],
        [Hypothesis("Empecemos ya.", -0.3), Hypothesis("Vamos.", -0.3)],
    ]
    combined = combine_sentences(sentences, TEN_CHARS_A_SECOND)
    every = _brute_force(sentences, TEN_CHARS_A_SECOND)
    assert len(every) == 12 and len(combined) < len(every)
    assert [h.score for h in combined] == sorted((h.score for h in combined), reverse=True)
    # for any budget, choosing among the kept combinations = choosing among all of them
    everything = [Hypothesis(text, score) for text, score, _ in every]
    for budget in [1.0 + 0.25 * i for i in range(20)]:
        fit = _fit(budget)
        assert choose_fitting(0, combined, fit) == choose_fitting(0, everything, fit), budget
    assert combine_sentences([], TEN_CHARS_A_SECOND) == [Hypothesis("", 0.0)]
