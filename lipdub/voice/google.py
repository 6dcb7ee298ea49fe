"""Google Cloud Text-to-Speech backend (Standard, WaveNet, Neural2, Studio, Chirp voices).

Install with ``pip install "lipdub[google]"``; credentials come from
``credentials_path=``, ``GOOGLE_APPLICATION_CREDENTIALS`` or Application Default
Credentials (``gcloud auth application-default login``).

Text is sent as SSML built from XML-escaped user text (line breaks become ``<break>``
pauses), or as plain text to voices that refuse SSML (Chirp 3 HD, Chirp HD, Journey).
Inputs over Google's 5,000-byte limit are split at sentence ends and the audio joined.
The speaking rate is native (``rate=`` maps to ``speaking_rate``, 0.25–2.0).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from xml.sax.saxutils import escape

import numpy as np
from google.api_core import exceptions as gexc
from google.cloud import texttospeech_v1 as tts

from lipdub._google import ClientFactory, RetryPolicy, call_with_retry
from lipdub.errors import CloudServiceError, InputError
from lipdub.events import EventCallback, Progress, emit
from lipdub.text import SENTENCE_MARKS
from lipdub.types import AudioClip, Gender, Voice
from lipdub.voice.base import VoiceSynth

__all__ = ["GoogleVoiceSynth", "build_ssml", "google_language", "split_text", "voice_family"]

logger = logging.getLogger(__name__)

#: Google's limit on ``input.text`` / ``input.ssml`` per request, in UTF-8 bytes.
MAX_INPUT_BYTES = 5000

_FAMILIES = {
    "standard": "Standard",
    "wavenet": "WaveNet",
    "neural2": "Neural2",
    "studio": "Studio",
    "chirp3-hd": "Chirp3-HD",
    "chirp-hd": "Chirp-HD",
    "polyglot": "Polyglot",
    "news": "News",
    "journey": "Journey",
    "casual": "Casual",
}
#: Families best first, for the default voice of a language.
FAMILY_RANK = (
    "Chirp3-HD",
    "Studio",
    "Neural2",
    "WaveNet",
    "Chirp-HD",
    "News",
    "Polyglot",
    "Casual",
    "Standard",
)
#: Families that take plain text only / no pitch setting.
PLAIN_TEXT_FAMILIES = frozenset({"Chirp3-HD", "Chirp-HD", "Journey"})
NO_PITCH_FAMILIES = frozenset({"Chirp3-HD", "Chirp-HD", "Journey", "Studio"})

_GENDER: dict[int, Gender] = {
    int(tts.SsmlVoiceGender.MALE): "male",
    int(tts.SsmlVoiceGender.FEMALE): "female",
    int(tts.SsmlVoiceGender.NEUTRAL): "neutral",
}
# Region that speaks a bare language code by default.
_DEFAULT_REGION = {
    "en": "en-US",
    "es": "es-ES",
    "pt": "pt-BR",
    "zh": "cmn-CN",
    "ar": "ar-XA",
    "fr": "fr-FR",
}

# Zero-width split points: after sentence punctuation, before the whitespace.
_SENTENCE_START = re.compile(f"(?<=[{re.escape(SENTENCE_MARKS)}])(?=\\s)")
# Characters XML 1.0 forbids (SSML would be refused).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Codes Google's voices are listed under, for codes people commonly use.
_TTS_ALIASES = {
    "zh": "cmn-CN",
    "zh-cn": "cmn-CN",
    "zh-hans": "cmn-CN",
    "zh-tw": "cmn-TW",
    "zh-hant": "cmn-TW",
    "zh-hk": "yue-HK",
    "no": "nb-NO",
    "nb": "nb-NO",
    "tl": "fil-PH",
    "fil": "fil-PH",
    "iw": "he-IL",
}


def voice_family(name: str) -> str | None:
    """The family in a Google voice name.

    Example:
        >>> voice_family("en-US-Chirp3-HD-Aoede"), voice_family("es-ES-Wavenet-B")
        ('Chirp3-HD', 'WaveNet')
    """
    parts = name.split("-")
    if len(parts) < 4:
        return None
    raw = "-".join(parts[2:-1])
    return _FAMILIES.get(raw.lower(), raw)


def _language_of(name: str) -> str | None:
    parts = name.split("-")
    return "-".join(parts[:2]) if len(parts) >= 4 else None


def build_ssml(text: str, *, pause_ms: int = 500) -> str:
    """Safe SSML for plain ``text``: XML-escaped, blank lines as ``<break>`` pauses.

    Example:
        >>> build_ssml('Tom & "Jerry" <b>\\n\\nBye')
        '<speak>Tom &amp; &quot;Jerry&quot; &lt;b&gt;<break time="500ms"/>Bye</speak>'
    """
    entities = {'"': "&quot;", "'": "&apos;"}
    text = _XML_INVALID.sub("", text)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    body = f'<break time="{int(pause_ms)}ms"/>'.join(
        escape(" ".join(p.split()), entities) for p in paragraphs
    )
    return f"<speak>{body}</speak>"


def _escaped_len(text: str) -> int:
    return len(escape(text, {'"': "&quot;", "'": "&apos;"}).encode("utf-8"))


def split_text(
    text: str, max_bytes: int, *, measure: Callable[[str], int] | None = None
) -> list[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` (as measured) at sentence ends.

    The whitespace between sentences is kept inside a piece (so paragraph breaks still
    become pauses); a sentence longer than the limit is split between words, a word
    longer than the limit between characters. ``measure(piece) -> int`` defaults to the
    UTF-8 length.

    Example:
        >>> split_text("One. Two. Three.", 10)
        ['One. Two.', 'Three.']
    """
    size = measure or (lambda s: len(s.encode("utf-8")))
    text = text.strip()
    if size(text) <= max_bytes:
        return [text]
    out: list[str] = []
    cur = ""

    def flush() -> None:
        nonlocal cur
        if cur.strip():
            out.append(cur.strip())
        cur = ""

    for unit in _SENTENCE_START.split(text):
        if size((cur + unit).strip()) <= max_bytes:
            cur += unit
            continue
        flush()
        unit = unit.strip()
        if size(unit) <= max_bytes:
            cur = unit
            continue
        for word in unit.split():  # an over-long sentence
            cand = f"{cur} {word}" if cur else word
            if size(cand) <= max_bytes:
                cur = cand
                continue
            flush()
            if size(word) <= max_bytes:
                cur = word
                continue
            for ch in word:  # an over-long "word" (no spaces: CJK, URLs)
                if cur and size(cur + ch) > max_bytes:
                    flush()
                cur += ch
    flush()
    return out


def google_language(code: str) -> str:
    """The language code Google Text-to-Speech uses for ``code``.

    Example:
        >>> google_language("zh"), google_language("zh-TW"), google_language("no")
        ('cmn-CN', 'cmn-TW', 'nb-NO')
    """
    key = code.strip().replace("_", "-").lower()
    return _TTS_ALIASES.get(key, code)


class GoogleVoiceSynth(VoiceSynth):
    """Speech from Google Cloud Text-to-Speech.

    Args:
        voice: Default voice name (``"es-ES-Neural2-A"``); None picks the best family
            available for the language (Chirp3-HD, Studio, Neural2, WaveNet, ...).
        language: Default BCP-47 language when ``synthesize`` gets none.
        gender: Preferred gender when picking a default voice.
        pitch_st: Pitch shift in semitones (-20..20); dropped for voices that reject it.
        volume_gain_db: Volume gain in dB (-96..16).
        effects_profile_id: Device profiles such as ``("headphone-class-device",)``.
        sample_rate_hz: Output rate; None uses the voice's natural rate.
        pause_ms: Pause for a blank line in the text, in milliseconds.
        max_concurrency: Requests in flight at once in :meth:`synthesize_many`.
        client: A ready ``TextToSpeechClient``.
        credentials: A ``google.auth`` credentials object.
        credentials_path: A service-account JSON key file.
        client_options: Passed to the client (``{"api_endpoint": ...}``).
        transport: Passed to the client (``"grpc"``, ``"rest"``, an instance or a factory).
        retry: Backoff for transient errors.

    Example:
        >>> from lipdub.testing.google import FakeGoogleCloud
        >>> with FakeGoogleCloud() as fake:
        ...     synth = GoogleVoiceSynth(client=fake.tts_client())
        ...     clip = synth.synthesize("Hola a todos.", language="es", rate=1.25)
        ...     [v.name for v in synth.list_voices("es")][:2], clip.sample_rate_hz, clip.duration_s
        (['es-ES-Neural2-A', 'es-ES-Wavenet-B'], 24000, 0.6)
    """

    name: ClassVar[str] = "google"
    native_rate: ClassVar[bool] = True

    def __init__(
        self,
        *,
        voice: str | None = None,
        language: str | None = None,
        gender: Gender | None = None,
        pitch_st: float = 0.0,
        volume_gain_db: float = 0.0,
        effects_profile_id: tuple[str, ...] | list[str] = (),
        sample_rate_hz: int | None = None,
        pause_ms: int = 500,
        max_concurrency: int = 4,
        client: Any = None,
        credentials: Any = None,
        credentials_path: str | os.PathLike[str] | None = None,
        client_options: Mapping[str, Any] | None = None,
        transport: Any = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not -20.0 <= pitch_st <= 20.0:
            raise InputError(f"pitch_st must be between -20 and 20 semitones, got {pitch_st}")
        if not -96.0 <= volume_gain_db <= 16.0:
            raise InputError(f"volume_gain_db must be between -96 and 16 dB, got {volume_gain_db}")
        self.voice = voice
        self.language = language
        self.gender = gender
        self.pitch_st = pitch_st
        self.volume_gain_db = volume_gain_db
        self.effects_profile_id = tuple(effects_profile_id)
        self.sample_rate_hz = sample_rate_hz
        self.pause_ms = pause_ms
        self.max_concurrency = max(1, int(max_concurrency))
        self.retry = retry or RetryPolicy()
        self._factory = ClientFactory(
            tts.TextToSpeechClient,
            client=client,
            credentials=credentials,
            credentials_path=credentials_path,
            client_options=client_options,
            transport=transport,
            backend=self.name,
        )
        self._voices: dict[str, list[Voice]] = {}
        self._no_ssml: set[str] = set()
        self._no_pitch: set[str] = set()

    @property
    def client(self) -> Any:
        """The Google client this backend uses (built on first access)."""
        return self._factory.get()

    def settings(self) -> dict[str, Any]:
        """The options that change the speech (JSON-ready). Credentials, client,
        transport, retries and ``max_concurrency`` are left out."""
        return {
            "voice": self.voice,
            "language": self.language,
            "gender": self.gender,
            "pitch_st": self.pitch_st,
            "volume_gain_db": self.volume_gain_db,
            "effects_profile_id": list(self.effects_profile_id),
            "sample_rate_hz": self.sample_rate_hz,
            "pause_ms": self.pause_ms,
        }

    # ------------------------------------------------------------------ voices
    def list_voices(self, language: str | None = None) -> list[Voice]:
        """Google's voices, only those for ``language`` when given, best family first.

        Raises:
            CloudServiceError: the service refused or failed (permission, quota).
        """
        language = google_language(language) if language else None
        key = language or ""
        if key not in self._voices:
            client = self._factory.get()
            response = call_with_retry(
                lambda: client.list_voices(
                    language_code=language or "", retry=None, timeout=self.retry.timeout_s
                ),
                what="list voices" + (f" for {language}" if language else ""),
                backend=self.name,
                policy=self.retry,
            )
            voices = [
                Voice(
                    name=v.name,
                    language_codes=tuple(v.language_codes),
                    gender=_GENDER.get(int(v.ssml_gender), "unknown"),
                    natural_sample_rate_hz=int(v.natural_sample_rate_hertz) or None,
                    family=voice_family(v.name),
                    backend=self.name,
                )
                for v in response.voices
            ]
            voices = [v for v in voices if v.supports(language)]
            voices.sort(key=lambda v: (self._family_rank(v.family), v.name))
            self._voices[key] = voices
        return list(self._voices[key])

    @staticmethod
    def _family_rank(family: str | None) -> int:
        return FAMILY_RANK.index(family) if family in FAMILY_RANK else len(FAMILY_RANK)

    def default_voice(self, language: str) -> Voice:
        """The voice used for ``language`` when none is named.

        Prefers the language's main region (``es`` -> ``es-ES``), then the best family
        (:data:`FAMILY_RANK`), then ``gender`` if set.

        Raises:
            InputError: Google has no voice for ``language``.
        """
        language = google_language(language)
        voices = self.list_voices(language)
        if not voices:
            raise InputError(
                f"Google Text-to-Speech has no voice for language {language!r}",
                backend=self.name,
                hint="run `lipdub voices --backend google` to see the languages",
            )
        want = language.lower()
        main = _DEFAULT_REGION.get(
            want, f"{want}-{want.upper()}" if "-" not in want else want
        ).lower()

        def score(v: Voice) -> tuple[int, int, int, str]:
            codes = [c.lower() for c in v.language_codes]
            region = 0 if (want in codes or main in codes) else 1
            gender = 0 if self.gender is None or v.gender == self.gender else 1
            return (region, gender, self._family_rank(v.family), v.name)

        return min(voices, key=score)

    # ------------------------------------------------------------------ synthesis
    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """Speak ``text`` (plain text; escaped for SSML here).

        Args:
            text: What to say. Blank lines become pauses of ``pause_ms``.
            voice: A Google voice name; None uses the constructor's or the default for
                ``language``.
            language: BCP-47 code; None uses the voice's language or the constructor's.
            rate: Speaking rate, clamped to Google's 0.25–2.0.

        Returns:
            Mono speech at the voice's natural rate (or ``sample_rate_hz``).

        Raises:
            InputError: neither a voice nor a language was given, or no such voice.
            CloudServiceError: the service refused the request or stayed unavailable.
        """
        self.refuse_reference(reference)
        voice_name = voice or self.voice
        # a named voice speaks its own locale (``es-US-...`` for language "es")
        lang = (voice_name and _language_of(voice_name)) or language or self.language
        lang = google_language(lang) if lang else lang
        if voice_name is None:
            if not lang:
                raise InputError(
                    "Google Text-to-Speech needs a language or a voice",
                    backend=self.name,
                    hint="pass language= (e.g. 'es') or voice= (e.g. 'es-ES-Neural2-A')",
                )
            voice_name = self.default_voice(lang).name
        lang = lang or _language_of(voice_name) or ""
        if not 0.25 <= rate <= 2.0:
            clamped = min(2.0, max(0.25, rate))
            logger.warning("google voice: speaking rate %.2f clamped to %.2f", rate, clamped)
            rate = clamped
        text = _XML_INVALID.sub("", text)
        if not text.strip():
            return AudioClip.silence(0.0, self.sample_rate_hz or 24000)

        family = voice_family(voice_name)
        plain = family in PLAIN_TEXT_FAMILIES or voice_name in self._no_ssml
        measure = (lambda s: len(s.encode("utf-8"))) if plain else _escaped_len
        # leave room for <speak></speak> and break tags
        pieces = split_text(text, MAX_INPUT_BYTES - 200, measure=measure)
        clips = [self._synthesize_piece(p, voice_name, lang, rate) for p in pieces]
        if len(clips) == 1:
            return clips[0]
        rates = {c.sample_rate_hz for c in clips}
        if len(rates) > 1:
            target = max(rates)
            clips = [c.resample(target) for c in clips]
        return AudioClip.concatenate(clips)

    def synthesize_many(
        self,
        texts: Sequence[str],
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
        on_event: EventCallback | None = None,
    ) -> list[AudioClip]:
        """Speak several texts, ``max_concurrency`` requests at a time, results in order."""
        self.refuse_reference(reference)
        if len(texts) <= 1 or self.max_concurrency <= 1:
            return super().synthesize_many(
                texts, voice=voice, language=language, rate=rate, on_event=on_event
            )
        if voice is None and self.voice is None and (language or self.language):
            voice = self.default_voice(str(language or self.language)).name  # list once

        def one(text: str) -> AudioClip:
            return self.synthesize(text, voice=voice, language=language, rate=rate)

        out: list[AudioClip] = []
        with ThreadPoolExecutor(min(self.max_concurrency, len(texts))) as pool:
            try:
                for i, clip in enumerate(pool.map(one, texts), 1):
                    out.append(clip)
                    emit(on_event, Progress("speak", i, len(texts), "utterances"))
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return out

    def _synthesize_piece(self, text: str, voice_name: str, lang: str, rate: float) -> AudioClip:
        client = self._factory.get()
        family = voice_family(voice_name)
        while True:
            plain = family in PLAIN_TEXT_FAMILIES or voice_name in self._no_ssml
            use_pitch = (
                self.pitch_st != 0.0
                and family not in NO_PITCH_FAMILIES
                and voice_name not in self._no_pitch
            )
            if plain:
                inp = tts.SynthesisInput(text=text)
            else:
                inp = tts.SynthesisInput(ssml=build_ssml(text, pause_ms=self.pause_ms))
            cfg = tts.AudioConfig(
                audio_encoding=tts.AudioEncoding.LINEAR16,
                speaking_rate=rate,
                volume_gain_db=self.volume_gain_db,
                effects_profile_id=list(self.effects_profile_id),
            )
            if use_pitch:
                cfg.pitch = self.pitch_st
            if self.sample_rate_hz:
                cfg.sample_rate_hertz = self.sample_rate_hz
            params = tts.VoiceSelectionParams(language_code=lang, name=voice_name)
            try:
                response = call_with_retry(
                    functools.partial(
                        client.synthesize_speech,
                        input=inp,
                        voice=params,
                        audio_config=cfg,
                        retry=None,
                        timeout=self.retry.timeout_s,
                    ),
                    what=f"synthesize {len(text)} characters with {voice_name}",
                    backend=self.name,
                    policy=self.retry,
                )
            except CloudServiceError as e:
                cause = e.__cause__
                msg = str(getattr(cause, "message", "")).lower()
                if isinstance(cause, gexc.BadRequest):
                    if use_pitch and "pitch" in msg:
                        logger.info(
                            "google voice %s rejects pitch; retrying without it", voice_name
                        )
                        self._no_pitch.add(voice_name)
                        continue
                    if not plain and "ssml" in msg:
                        logger.info(
                            "google voice %s rejects SSML; retrying as plain text", voice_name
                        )
                        self._no_ssml.add(voice_name)
                        continue
                raise
            return self._decode(response.audio_content, voice_name)

    def _decode(self, data: bytes, voice_name: str) -> AudioClip:
        if data[:4] == b"RIFF":
            return AudioClip.from_wav_bytes(data, source=f"google:{voice_name}")
        # headerless PCM (some endpoints): 16-bit little-endian at the requested rate
        rate = self.sample_rate_hz or 24000
        return AudioClip(np.frombuffer(data, "<i2"), rate)
