"""How long a voice takes to say a text: :func:`predictor_for` gives a voice's
:class:`~lipdub.types.fit.SpeechLength` (the dub's time budgets are told in it).

A predictor is a line, ``seconds = overhead_s + per_unit_s * units(text)``, fitted once
per voice: the voice says a few calibration sentences in the target language
(:data:`CALIBRATION_TEXTS`), and the line is the least-squares fit of their lengths
against their units. Units are espeak-ng's phonemes (:class:`PhonemeLength`) where
espeak-ng is installed, which follow the spoken length more closely than characters do
(numbers, silent letters); else characters, with a warning.

The fit is kept on disk (:func:`speech_length_cache_dir`) under a key of the voice's
identity (class, name and ``settings()``), the voice and language asked for, the unit and
the calibration text, so it is paid once per voice. A cache file is untrusted input: one
that cannot be read back exactly is ignored with a warning and the fit is made again.

The error of these predictions against real synthesis, per voice, is measured by
``benchmarks/bench_predictor.py`` (see ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lipdub._hashing import settings_key
from lipdub._io import atomic_write_text
from lipdub.errors import BackendNotInstalled, InputError, LipdubError
from lipdub.types.fit import SpeechLength
from lipdub.voice.base import VoiceSynth

__all__ = [
    "CALIBRATION_TEXTS",
    "PhonemeLength",
    "calibrate",
    "predictor_for",
    "speech_length_cache_dir",
]

logger = logging.getLogger(__name__)

# The marks of a pause inside a sentence, taken out to measure the pause.
_STRIP = re.compile(r"[,;:]")

#: Names the calibration recipe; part of the cache key (bump on any change to it).
RECIPE = "speech-length-2"

#: Sentences each voice says once to be measured, by language (written for lipdub: short
#: and long, questions and statements, a number). Languages not here use the English
#: ones, with a warning.
CALIBRATION_TEXTS: dict[str, tuple[str, ...]] = {
    "en": (
        "Thank you for coming in today.",
        "We looked at the numbers again last week, and they are a little better than we thought.",
        "Could you send me the report before Friday?",
        "Well, I think so.",
        "The new office opens in the spring, right next to the old train station.",
        "Let me know what you decide.",
        "She has lived in this town for about 25 years.",
        "Why not?",
    ),
    "es": (
        "Gracias por venir hoy.",
        "Revisamos las cifras la semana pasada y son un poco mejores de lo que pensábamos.",
        "¿Puedes enviarme el informe antes del viernes?",
        "Creo que sí.",
        "La nueva oficina abre en primavera, justo al lado de la antigua estación de tren.",
        "Avísame cuando lo decidas.",
        "Ella vive en este pueblo desde hace unos 25 años.",
        "¿Por qué no?",
    ),
    "fr": (
        "Merci d'être venu aujourd'hui.",
        "Nous avons revu les chiffres la semaine dernière, et ils sont un peu meilleurs que prévu.",
        "Pouvez-vous m'envoyer le rapport avant vendredi ?",
        "Je crois que oui.",
        "Le nouveau bureau ouvre au printemps, juste à côté de l'ancienne gare.",
        "Dis-moi ce que tu décides.",
        "Elle habite dans cette ville depuis environ 25 ans.",
        "Pourquoi pas ?",
    ),
    "de": (
        "Danke, dass du heute gekommen bist.",
        "Wir haben uns die Zahlen letzte Woche noch einmal angesehen, "
        "sie sind etwas besser als gedacht.",
        "Kannst du mir den Bericht vor Freitag schicken?",
        "Ich glaube schon.",
        "Das neue Büro öffnet im Frühling, direkt neben dem alten Bahnhof.",
        "Sag mir, wie du dich entscheidest.",
        "Sie wohnt seit etwa 25 Jahren in dieser Stadt.",
        "Warum nicht?",
    ),
    "it": (
        "Grazie di essere venuto oggi.",
        "Abbiamo rivisto i numeri la settimana scorsa, e sono un po' migliori del previsto.",
        "Puoi mandarmi il rapporto prima di venerdì?",
        "Credo di sì.",
        "Il nuovo ufficio apre in primavera, proprio accanto alla vecchia stazione.",
        "Fammi sapere cosa decidi.",
        "Lei vive in questa città da circa 25 anni.",
        "Perché no?",
    ),
    "pt": (
        "Obrigado por ter vindo hoje.",
        "Revimos os números na semana passada, e estão um pouco melhores do que pensávamos.",
        "Pode me enviar o relatório antes de sexta-feira?",
        "Acho que sim.",
        "O novo escritório abre na primavera, bem ao lado da antiga estação de trem.",
        "Me avise quando decidir.",
        "Ela mora nesta cidade há uns 25 anos.",
        "Por que não?",
    ),
    "nl": (
        "Bedankt dat je vandaag gekomen bent.",
        "We hebben vorige week de cijfers opnieuw bekeken, en ze zijn iets beter dan gedacht.",
        "Kun je me het verslag voor vrijdag sturen?",
        "Ik denk het wel.",
        "Het nieuwe kantoor gaat in de lente open, vlak naast het oude station.",
        "Laat me weten wat je besluit.",
        "Ze woont al ongeveer 25 jaar in deze stad.",
        "Waarom niet?",
    ),
}


def speech_length_cache_dir() -> Path:
    """Where calibrations are kept: ``$LIPDUB_CACHE/speech-length``, else
    ``$XDG_CACHE_HOME/lipdub/speech-length``, else ``~/.cache/lipdub/speech-length``."""
    root = os.environ.get("LIPDUB_CACHE")
    if root:
        return Path(root).expanduser() / "speech-length"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "lipdub" / "speech-length"


@functools.lru_cache(maxsize=4096)
def _phoneme_features(text: str, phonemizer: str) -> tuple[int, int, int]:
    """``(phonemes, clause breaks, sentence breaks)`` of ``text`` as espeak-ng reads it:
    a clause break is a pause inside a sentence (a comma), a sentence break one between
    sentences."""
    from lipdub.text import split_sentences
    from lipdub.voice.espeak import phonemize

    clauses = phonemize(text, phonemizer)
    sentences = max(1, len(split_sentences(text)))
    phonemes = sum(len(c) for c in clauses)
    return phonemes, max(0, len(clauses) - sentences), sentences - 1


@dataclass(frozen=True, slots=True)
class PhonemeLength(SpeechLength):
    """A :class:`~lipdub.types.fit.SpeechLength` that counts phonemes, as espeak-ng's
    voice ``phonemizer`` reads the text (needs espeak-ng, ``lipdub[local]``), and the
    pauses: each clause break inside a sentence (a comma) counts ``clause_units``
    phonemes, each break between sentences ``sentence_units``.

    ``chars_per_unit`` converts to characters for :meth:`chars_in` (measured on the
    calibration text).

    Example:
        >>> length = PhonemeLength("espeak:es", "phoneme", 0.08, 0.2, phonemizer="es",
        ...                        clause_units=3.0)
        >>> length.units("Hola amigo."), length.units("Hola, amigo.")
        (8, 11)
        >>> round(length.seconds("Hola, amigo."), 2)
        1.08
    """

    phonemizer: str = "en-US"
    chars_per_unit: float = 1.4
    clause_units: float = 0.0
    sentence_units: float = 0.0

    def __post_init__(self) -> None:
        SpeechLength.__post_init__(self)
        if self.unit != "phoneme":
            raise InputError(f"PhonemeLength counts phonemes, not {self.unit!r}")
        for field in ("chars_per_unit", "clause_units", "sentence_units"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value >= 0) or (
                field == "chars_per_unit" and not value
            ):
                raise InputError(f"PhonemeLength.{field} must be a finite number >= 0, got {value}")

    def units(self, text: str) -> int:
        """Phonemes espeak-ng's ``phonemizer`` voice says for ``text``, pauses included."""
        if not text.strip():
            return 0
        phonemes, clauses, sentences = _phoneme_features(text.strip(), self.phonemizer)
        return round(phonemes + self.clause_units * clauses + self.sentence_units * sentences)

    def chars_in(self, seconds: float) -> int:
        """About how many characters this voice says in ``seconds`` at rate 1.0."""
        phonemes = max(0.0, (seconds - self.overhead_s) / self.per_unit_s)
        return int(phonemes * self.chars_per_unit + 1e-9)


def _phonemizer_for(language: str) -> str | None:
    """The espeak-ng voice that phonemizes ``language``, or None (with the reason logged)."""
    if importlib.util.find_spec("espeakng_loader") is None:
        return None
    from lipdub.voice.espeak import EspeakVoiceSynth

    try:
        return EspeakVoiceSynth().voice_for(language)
    except LipdubError as e:
        logger.debug("no espeak-ng phonemizer for %s: %s", language, e)
        return None


def _calibration_texts(language: str) -> tuple[str, ...]:
    code = language.strip().replace("_", "-").split("-")[0].lower()
    found = CALIBRATION_TEXTS.get(code)
    if found is None:
        logger.warning(
            "no calibration text in %r: the speech-length predictor is calibrated on "
            "English sentences, and predicts %s lines less closely (pass calibration_text=)",
            language,
            language,
        )
        return CALIBRATION_TEXTS["en"]
    return found


def calibrate(
    synth: VoiceSynth,
    texts: Sequence[str],
    *,
    language: str,
    voice: str | None = None,
    unit: Literal["auto", "phoneme", "char"] = "auto",
) -> SpeechLength:
    """Fit a predictor to ``synth``'s speech of ``texts`` at rate 1.0 (no cache).

    Args:
        synth: The voice.
        texts: The calibration sentences, each said on its own (several, of different
            lengths).
        language: What language ``texts`` are in (BCP-47).
        voice: The voice of ``synth`` (None: its default for ``language``).
        unit: ``"phoneme"`` (espeak-ng needed), ``"char"``, or ``"auto"``: phonemes when
            espeak-ng phonemizes ``language``, else characters with a warning.

    Raises:
        InputError: fewer than two non-blank texts, or speech that does not grow with
            the text.
        BackendNotInstalled: ``unit="phoneme"`` without espeak-ng.
        LipdubError: whatever ``synth`` raises.
    """
    texts = [t for t in texts if t.strip()]
    if len(texts) < 2:
        raise InputError("a speech-length calibration needs at least two sentences")
    name = f"{synth.name}:{voice or language}"
    phonemizer = _phonemizer_for(language) if unit != "char" else None
    if unit == "phoneme" and phonemizer is None:
        raise BackendNotInstalled(
            f"cannot count phonemes in {language!r}: espeak-ng is not installed or has no "
            "voice for it",
            backend="espeak",
            hint='pip install "lipdub[local]", or use unit="char"',
        )
    if unit == "auto" and phonemizer is None:
        logger.warning(
            "espeak-ng cannot phonemize %r here: %s's speech length is predicted from "
            'characters, less closely (pip install "lipdub[local]")',
            language,
            name,
        )
    if phonemizer is None:
        clips = synth.synthesize_many(texts, voice=voice, language=language)
        seconds = np.array([c.duration_s for c in clips], dtype=np.float64)
        chars = np.array([SpeechLength(name).units(t) for t in texts], dtype=np.float64)
        per_char_s, overhead_s = _fit(chars[:, None], seconds, name)
        return SpeechLength(name, "char", per_char_s[0], overhead_s)
    # The pauses are told apart from the words by saying each sentence with a comma
    # again without it (same phonemes, fewer clauses), and pairs of sentences together.
    points = list(texts)
    points += [_STRIP.sub("", t) for t in texts if _STRIP.search(t)]
    points += [f"{a} {b}" for a, b in zip(texts[::2], texts[1::2], strict=False)]
    clips = synth.synthesize_many(points, voice=voice, language=language)
    seconds = np.array([c.duration_s for c in clips], dtype=np.float64)
    features = np.array([_phoneme_features(t.strip(), phonemizer) for t in points], np.float64)
    (per_phoneme_s, per_clause_s, per_sentence_s), overhead_s = _fit(features, seconds, name)
    text_chars = sum(SpeechLength(name).units(t) for t in texts)
    return PhonemeLength(
        name,
        "phoneme",
        per_phoneme_s,
        overhead_s,
        phonemizer=phonemizer,
        chars_per_unit=text_chars / float(features[: len(texts), 0].sum()),
        clause_units=per_clause_s / per_phoneme_s,
        sentence_units=per_sentence_s / per_phoneme_s,
    )


def _fit(
    features: np.ndarray[Any, Any], seconds: np.ndarray[Any, Any], name: str
) -> tuple[list[float], float]:
    """The non-negative least-squares ``seconds ~ features @ w + overhead``: ``(w,
    overhead)``; the first feature must get a positive weight."""
    from scipy.optimize import nnls

    if not np.all(np.isfinite(seconds)) or seconds.max() <= 0 or features[:, 0].min() <= 0:
        raise InputError(f"the calibration of {name} gave no usable speech: {seconds.tolist()}")
    design = np.concatenate([features, np.ones((len(features), 1))], axis=1)
    weights, _ = nnls(design, seconds)
    if not weights[0] > 0:
        raise InputError(f"the speech of {name} does not grow with its text: {seconds.tolist()}")
    return [float(w) for w in weights[:-1]], float(weights[-1])


def _cache_key(
    synth: VoiceSynth,
    language: str,
    voice: str | None,
    unit: str,
    phonemizer: str | None,
    texts: Sequence[str],
) -> str:
    identity = {
        "class": type(synth).__qualname__,
        "name": synth.name,
        "settings": synth.settings(),
    }
    return settings_key(RECIPE, identity, language, voice, unit, phonemizer, list(texts))


def _read_cached(path: Path, key: str, name: str) -> SpeechLength | None:
    """The predictor in ``path``, or None (with a warning when the file is there but bad)."""
    if not path.exists():
        return None
    from lipdub._userfiles import read_json_file

    try:
        data = read_json_file(path, "speech-length calibration", max_bytes=64 << 10)
        if not isinstance(data, dict) or data.get("key") != key or data.get("voice") != name:
            raise InputError("it is not the calibration of this voice", path=path)
        fields = ("per_unit_s", "overhead_s", "chars_per_unit", "clause_units", "sentence_units")
        numbers = [data.get(k) for k in fields]
        floats = [v for v in numbers if type(v) is float]
        if len(floats) != len(fields):
            raise InputError(f"its numbers are not all floats: {numbers}", path=path)
        per_unit_s, overhead_s, chars_per_unit, clause_units, sentence_units = floats
        unit, phonemizer = data.get("unit"), data.get("phonemizer")
        if unit == "char" and phonemizer is None:
            return SpeechLength(name, "char", per_unit_s, overhead_s)
        if unit == "phoneme" and isinstance(phonemizer, str):
            return PhonemeLength(
                name,
                "phoneme",
                per_unit_s,
                overhead_s,
                phonemizer=phonemizer,
                chars_per_unit=chars_per_unit,
                clause_units=clause_units,
                sentence_units=sentence_units,
            )
        raise InputError(f"unknown unit {unit!r} or phonemizer {phonemizer!r}", path=path)
    except LipdubError as e:
        logger.warning(
            "ignoring the cached speech-length calibration %s (%s); calibrating %s again",
            path,
            e,
            name,
        )
        return None


def _write_cached(path: Path, key: str, length: SpeechLength) -> None:
    import json

    phonemes = length if isinstance(length, PhonemeLength) else None
    record = {
        "recipe": RECIPE,
        "key": key,
        "voice": length.voice,
        "unit": length.unit,
        "per_unit_s": float(length.per_unit_s),
        "overhead_s": float(length.overhead_s),
        "phonemizer": phonemes.phonemizer if phonemes else None,
        "chars_per_unit": float(phonemes.chars_per_unit) if phonemes else 1.0,
        "clause_units": float(phonemes.clause_units) if phonemes else 0.0,
        "sentence_units": float(phonemes.sentence_units) if phonemes else 0.0,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")
    except OSError as e:
        logger.warning(
            "cannot keep the speech-length calibration in %s (%s); it will be made again next time",
            path,
            e.strerror or e,
        )


def predictor_for(
    synth: VoiceSynth,
    *,
    language: str,
    voice: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    unit: Literal["auto", "phoneme", "char"] = "auto",
    calibration_text: Sequence[str] | None = None,
) -> SpeechLength:
    """The speech-length predictor of ``synth`` speaking ``language`` with ``voice``.

    Calibrated on first use (:func:`calibrate` on :data:`CALIBRATION_TEXTS`, a few
    seconds of synthesis) and then read from the cache. A voice that cannot be
    calibrated (it fails to speak the text) gets a fixed 14 characters a second, with a
    warning.

    Args:
        synth: The voice that will speak.
        language: The language it will speak (BCP-47).
        voice: The voice of ``synth`` (None: its default for ``language``).
        cache_dir: Where calibrations are kept (default :func:`speech_length_cache_dir`).
        unit: See :func:`calibrate`.
        calibration_text: Sentences in ``language`` to calibrate on instead of
            :data:`CALIBRATION_TEXTS`.

    Example:
        >>> import tempfile
        >>> from lipdub.testing import FakeVoiceSynth
        >>> length = predictor_for(FakeVoiceSynth(), language="es", cache_dir=tempfile.mkdtemp())
        >>> length.voice, length.seconds("Hola, ¿qué tal?") > 0
        ('fake:es', True)
    """
    texts = tuple(calibration_text) if calibration_text is not None else None
    if texts is None:
        texts = _calibration_texts(language)
    name = f"{synth.name}:{voice or language}"
    # the phonemizer found (or not) is part of the key: installing espeak-ng later
    # calibrates again, in phonemes
    phonemizer = _phonemizer_for(language) if unit != "char" else None
    key = _cache_key(synth, language, voice, unit, phonemizer, texts)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else speech_length_cache_dir()
    path = folder / f"{synth.name}-{key}.json"
    cached = _read_cached(path, key, name)
    if cached is not None:
        return cached
    try:
        length = calibrate(synth, texts, language=language, voice=voice, unit=unit)
    except BackendNotInstalled:
        if unit == "phoneme":
            raise  # phonemes asked for and espeak-ng missing: say so
        length = None
        reason = "its backend is not installed"
    except LipdubError as e:
        length = None
        reason = str(e)
    if length is None:
        logger.warning(
            "cannot calibrate the speech length of %s (%s); predicting a fixed 14 "
            "characters a second instead",
            name,
            reason,
        )
        return SpeechLength(name)
    logger.info(
        "calibrated %s: %.3f s per %s + %.3f s",
        name,
        length.per_unit_s,
        length.unit,
        length.overhead_s,
    )
    _write_cached(path, key, length)
    return length
