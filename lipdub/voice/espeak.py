"""espeak-ng as a :class:`~lipdub.voice.base.VoiceSynth`: offline, small, ~100 languages.

The voice is robotic, but it needs no account, no download and no GPU: the
``espeakng-loader`` wheel ships ``libespeak-ng`` and its language data, and lipdub calls
the C library through :mod:`ctypes` (no ``espeak-ng`` binary, no subprocess).

libespeak-ng keeps its state (current voice, rate, the synthesis callback) in globals,
so every call into it goes through one module-level lock and the library is initialised
lazily, once, on first use. Importing this module loads nothing.

Example:
    >>> from lipdub.voice.espeak import EspeakVoiceSynth
    >>> tts = EspeakVoiceSynth()
    >>> clip = tts.synthesize("Hola, ¿cómo estás?", language="es")
    >>> clip.sample_rate_hz, clip.duration_s > 0.5
    (22050, True)
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lipdub.errors import BackendError, BackendNotInstalled, InputError, UnknownLanguageError
from lipdub.events import EventCallback
from lipdub.text import split_sentences
from lipdub.types import AudioClip, Gender, Voice
from lipdub.voice.base import VoiceSynth

__all__ = ["EspeakVoiceSynth", "espeak_to_bcp47", "phonemize"]

logger = logging.getLogger(__name__)

# Constants from espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_EE_OK = 0
# espeak_TextToPhonemes' phoneme mode: IPA, with "_" between the phonemes of a word.
_PHONEMES_IPA = 0x02 | (ord("_") << 8)
_STRESS = str.maketrans("", "", "ˈˌ")

#: Speaking rates espeak-ng accepts, in words per minute.
MIN_WPM = 80
MAX_WPM = 450

#: Which espeak voice a bare language code means when several share it.
_PREFERRED = {"en": "en-us", "zh": "cmn"}
#: Extra BCP-47 codes for espeak languages whose code is not the usual tag.
_ALIASES = {"cmn": ("zh", "zh-CN"), "yue": ("zh-yue",)}

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _EspeakVoiceStruct(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


@dataclass
class _Library:
    lib: Any
    sample_rate_hz: int
    callback: Any  # keeps the ctypes callback alive as long as the library
    chunks: list[np.ndarray[Any, Any]]


# One lock for every call into libespeak-ng (it is a single global state machine).
_LOCK = threading.RLock()
_LIB: _Library | None = None
_VOICES: list[Voice] | None = None


def espeak_to_bcp47(code: str) -> str:
    """Turn an espeak-ng language code into a BCP-47 tag.

    Example:
        >>> [espeak_to_bcp47(c) for c in ("es", "en-us", "pt-br", "es-419", "en-gb-x-rp")]
        ['es', 'en-US', 'pt-BR', 'es-419', 'en-GB-x-rp']
    """
    parts = code.replace("_", "-").split("-")
    out = [parts[0].lower()]
    private = False
    for p in parts[1:]:
        if private or p.lower() == "x":
            private = True
            out.append(p.lower())
        elif len(p) == 2 and p.isalpha():
            out.append(p.upper())
        elif len(p) == 4 and p.isalpha():
            out.append(p.title())
        else:
            out.append(p.lower())
    return "-".join(out)


def _load() -> _Library:
    """The initialised library (loaded on first use; call with ``_LOCK`` held)."""
    global _LIB
    if _LIB is not None:
        return _LIB
    try:
        import espeakng_loader
    except ImportError as e:
        raise BackendNotInstalled(
            "the espeak voice needs espeakng-loader, which is not installed",
            backend="espeak",
            hint='pip install "lipdub[local]"',
        ) from e
    lib_path = espeakng_loader.get_library_path()
    try:
        data_path = espeakng_loader.get_data_path()
        lib = ctypes.CDLL(lib_path)
    except (OSError, RuntimeError) as e:
        raise BackendNotInstalled(
            f"cannot load libespeak-ng from {lib_path}: {e}",
            backend="espeak",
            hint='reinstall it: pip install --force-reinstall "lipdub[local]"',
        ) from e
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoiceStruct))
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_int,
        ctypes.c_int,
    ]

    rate = lib.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
    )
    if rate <= 0:
        raise BackendError(
            f"libespeak-ng failed to initialise with data from {data_path} (code {rate})",
            backend="espeak",
            hint='reinstall it: pip install --force-reinstall "lipdub[local]"',
        )
    chunks: list[np.ndarray[Any, Any]] = []

    def on_samples(wav: Any, num_samples: int, events: Any) -> int:
        if wav and num_samples > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0  # 0 = continue

    callback = _SynthCallback(on_samples)
    lib.espeak_SetSynthCallback(callback)
    _LIB = _Library(lib, int(rate), callback, chunks)
    logger.debug("libespeak-ng initialised from %s at %d Hz", lib_path, rate)
    return _LIB


def _parse_languages(ptr: int | None) -> list[str]:
    """espeak's ``languages`` field: (priority byte, NUL-terminated code)*, then a 0 byte."""
    out: list[str] = []
    if not ptr:
        return out
    pos = 0
    while True:
        priority = ctypes.string_at(ptr + pos, 1)[0]
        if priority == 0:
            break
        code = ctypes.string_at(ptr + pos + 1)
        out.append(code.decode("utf-8", "replace"))
        pos += len(code) + 2
    return out


_GENDERS: dict[int, Gender] = {0: "unknown", 1: "male", 2: "female"}


def _all_voices() -> list[Voice]:
    global _VOICES
    with _LOCK:
        if _VOICES is not None:
            return _VOICES
        lib = _load()
        array = lib.lib.espeak_ListVoices(None)
        voices: list[Voice] = []
        i = 0
        while array[i]:
            v = array[i].contents
            codes = _parse_languages(v.languages)
            if codes:
                tags: list[str] = []
                for c in codes:
                    tags.append(espeak_to_bcp47(c))
                    tags.extend(_ALIASES.get(c, ()))
                identifier = (v.identifier or b"").decode("utf-8", "replace")
                voices.append(
                    Voice(
                        name=identifier.rsplit("/", 1)[-1] or codes[0],
                        language_codes=tuple(dict.fromkeys(tags)),
                        gender=_GENDERS.get(v.gender, "unknown"),
                        natural_sample_rate_hz=lib.sample_rate_hz,
                        family="espeak-ng",
                        backend="espeak",
                        extra={
                            "display_name": (v.name or b"").decode("utf-8", "replace"),
                            "identifier": identifier,
                            "espeak_languages": codes,
                        },
                    )
                )
            i += 1
        _VOICES = voices
        return voices


class EspeakVoiceSynth(VoiceSynth):
    """Speaks with espeak-ng, offline, in any of its ~100 languages.

    Args:
        sample_rate_hz: Rate of the returned audio; espeak-ng makes 22,050 Hz and other
            rates are resampled.
        words_per_minute: Speaking rate at ``rate=1.0`` (espeak-ng's default is 175).
            ``synthesize(rate=r)`` speaks at ``words_per_minute * r``, clamped to
            80..450 words per minute.
        pitch: Base pitch, 0..100 (50 is espeak-ng's default).
        volume: Loudness, 0..200 (100 is espeak-ng's default).
        sentence_pause_s: Silence put between sentences when a text holds several.
        default_voice: Voice used when neither ``voice`` nor ``language`` is given.

    Raises:
        InputError: for a setting outside its range.

    Example:
        >>> tts = EspeakVoiceSynth(sample_rate_hz=16000)
        >>> tts.synthesize("Hello world.", language="en").sample_rate_hz
        16000
        >>> tts.voice_for("pt-BR"), tts.voice_for("en"), tts.voice_for("es-MX")
        ('pt-BR', 'en-US', 'es-419')
    """

    name: ClassVar[str] = "espeak"
    native_rate: ClassVar[bool] = True

    def __init__(
        self,
        *,
        sample_rate_hz: int = 22050,
        words_per_minute: int = 175,
        pitch: int = 50,
        volume: int = 100,
        sentence_pause_s: float = 0.15,
        default_voice: str = "en-US",
    ) -> None:
        if sample_rate_hz <= 0:
            raise InputError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
        if not MIN_WPM <= words_per_minute <= MAX_WPM:
            raise InputError(
                f"words_per_minute must be in {MIN_WPM}..{MAX_WPM}, got {words_per_minute}"
            )
        if not 0 <= pitch <= 100:
            raise InputError(f"pitch must be in 0..100, got {pitch}")
        if not 0 <= volume <= 200:
            raise InputError(f"volume must be in 0..200, got {volume}")
        if sentence_pause_s < 0:
            raise InputError(f"sentence_pause_s must be >= 0, got {sentence_pause_s}")
        self.sample_rate_hz = int(sample_rate_hz)
        self.words_per_minute = int(words_per_minute)
        self.pitch = int(pitch)
        self.volume = int(volume)
        self.sentence_pause_s = float(sentence_pause_s)
        self.default_voice = default_voice

    def settings(self) -> dict[str, Any]:
        """The options that change the speech (JSON-ready)."""
        return {
            "sample_rate_hz": self.sample_rate_hz,
            "words_per_minute": self.words_per_minute,
            "pitch": self.pitch,
            "volume": self.volume,
            "sentence_pause_s": self.sentence_pause_s,
            "default_voice": self.default_voice,
        }

    # ------------------------------------------------------------------ voices
    def list_voices(self, language: str | None = None) -> list[Voice]:
        """espeak-ng's voices, only those speaking ``language`` (BCP-47) when given.

        ``Voice.name`` is the espeak-ng voice to pass as ``voice=`` (``"es"``,
        ``"en-US"``, ``"pt-BR"``, ``"es-419"``); ``language_codes`` are BCP-47 tags,
        the voice's main language first; ``extra`` holds espeak-ng's display name
        (``"Spanish (Spain)"``) and its own language codes.
        """
        return [v for v in _all_voices() if v.supports(language)]

    def voice_for(self, language: str | None) -> str:
        """The espeak-ng voice name used for ``language`` when no voice is given.

        The usual voice for a bare language comes first (``"en"`` -> ``"en-US"``,
        ``"es"`` -> ``"es"``), then a voice of that exact name or main language
        (``"en-GB"`` -> ``"en-GB"``, ``"pt-BR"`` -> ``"pt-BR"``), then one that lists the
        language among its others (``"es-MX"`` -> ``"es-419"``).

        Raises:
            UnknownLanguageError: if no espeak-ng voice speaks ``language``.
        """
        if not language:
            return self.default_voice
        want = language.strip().lower().replace("_", "-")
        voices = _all_voices()
        by_name = {v.name.lower(): v.name for v in voices}
        preferred = _PREFERRED.get(want)
        if preferred is not None and preferred in by_name:
            return by_name[preferred]
        if want in by_name:
            return by_name[want]
        for rank in (0, None):  # the voice's main language first, then any it lists
            for v in voices:
                codes = v.language_codes[:1] if rank == 0 else v.language_codes
                if any(c.lower() == want for c in codes):
                    return v.name
        candidates = [v for v in voices if v.supports(language)]
        if candidates:
            return candidates[0].name
        raise UnknownLanguageError(
            f"espeak-ng has no voice for language {language!r}",
            backend=self.name,
            hint="see EspeakVoiceSynth().list_voices() for the languages it speaks",
        )

    # ------------------------------------------------------------------ speech
    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """Speak ``text`` sentence by sentence.

        Args:
            text: Plain UTF-8 text (not SSML).
            voice: An espeak-ng voice name from :meth:`list_voices` (``"es"``,
                ``"en-US"``; ``"en-US+f3"`` picks a variant); None picks one for
                ``language``.
            language: BCP-47 code of the text.
            rate: Speaking-rate factor: words per minute = ``words_per_minute * rate``.

        Returns:
            ``(N,)`` float32 mono speech at ``sample_rate_hz``. Empty text gives an
            empty clip.

        Raises:
            InputError: ``rate`` is not positive or ``voice`` is unknown.
            UnknownLanguageError: no voice speaks ``language``.
        """
        self.refuse_reference(reference)
        if not rate > 0:
            raise InputError(f"rate must be > 0, got {rate}")
        name = voice or self.voice_for(language)
        wpm = round(self.words_per_minute * rate)
        if not MIN_WPM <= wpm <= MAX_WPM:
            logger.warning(
                "espeak rate %.2f (%d words/min) is outside %d..%d; clamped",
                rate,
                wpm,
                MIN_WPM,
                MAX_WPM,
            )
            wpm = min(max(wpm, MIN_WPM), MAX_WPM)
        sentences = split_sentences(text)
        pause = np.zeros(round(self.sentence_pause_s * _native_rate()), np.int16)
        parts: list[np.ndarray[Any, Any]] = []
        for i, sentence in enumerate(sentences):
            if i:
                parts.append(pause)
            # Take the lock per sentence so other threads interleave on long texts.
            parts.append(self._speak(sentence, name, wpm))
        pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        clip = AudioClip(pcm.astype(np.float32) / 32768.0, _native_rate())
        return clip.resample(self.sample_rate_hz)

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
        """Speak several texts (the voice is chosen once)."""
        self.refuse_reference(reference)
        name = voice or self.voice_for(language)
        return super().synthesize_many(texts, voice=name, rate=rate, on_event=on_event)

    def _speak(self, text: str, voice: str, wpm: int) -> np.ndarray[Any, Any]:
        data = text.encode("utf-8")
        with _LOCK:
            lib = _load()
            if lib.lib.espeak_SetVoiceByName(voice.encode("utf-8")) != _EE_OK:
                raise InputError(
                    f"espeak-ng has no voice named {voice!r}",
                    backend=self.name,
                    hint="pick one from EspeakVoiceSynth().list_voices(), e.g. 'es' or 'en-US'",
                )
            # SetVoiceByName resets the parameters, so set them after it.
            lib.lib.espeak_SetParameter(_PARAM_RATE, wpm, 0)
            lib.lib.espeak_SetParameter(_PARAM_PITCH, self.pitch, 0)
            lib.lib.espeak_SetParameter(_PARAM_VOLUME, self.volume, 0)
            lib.chunks.clear()
            buf = ctypes.create_string_buffer(data)
            err = lib.lib.espeak_Synth(buf, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
            chunks = list(lib.chunks)
            lib.chunks.clear()
        if err != _EE_OK:
            raise BackendError(
                f"espeak-ng failed to speak {text[:40]!r} (error {err})", backend=self.name
            )
        if not chunks:
            return np.zeros(0, np.int16)
        return _trim_silence(np.concatenate(chunks))

    def __repr__(self) -> str:
        return (
            f"EspeakVoiceSynth(sample_rate_hz={self.sample_rate_hz}, "
            f"words_per_minute={self.words_per_minute}, pitch={self.pitch}, volume={self.volume})"
        )


def phonemize(text: str, voice: str) -> list[list[str]]:
    """The IPA phonemes espeak-ng's ``voice`` would say for ``text``, clause by clause.

    Each clause (espeak-ng pauses between clauses: at commas, full stops...) is the list
    of its phonemes, stress marks left out; numbers and abbreviations are read out as
    the voice reads them.

    Raises:
        BackendNotInstalled: espeakng-loader is missing.
        InputError: espeak-ng has no voice named ``voice``.

    Example:
        >>> phonemize("Hola, amigo.", "es")
        [['o', 'l', 'a'], ['a', 'm', 'i', 'ɣ', 'o']]
    """
    data = text.encode("utf-8")
    clauses: list[list[str]] = []
    with _LOCK:
        lib = _load().lib
        if lib.espeak_SetVoiceByName(voice.encode("utf-8")) != _EE_OK:
            raise InputError(
                f"espeak-ng has no voice named {voice!r}",
                backend="espeak",
                hint="pick one from EspeakVoiceSynth().list_voices(), e.g. 'es' or 'en-US'",
            )
        buf = ctypes.create_string_buffer(data)
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        while ptr.value:  # one clause a call; espeak-ng sets ptr to NULL at the end
            raw = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEMES_IPA)
            found = (raw or b"").decode("utf-8", "replace").translate(_STRESS)
            phones = [p for word in found.split() for p in word.split("_") if p]
            if phones:
                clauses.append(phones)
    return clauses


def _native_rate() -> int:
    with _LOCK:
        return _load().sample_rate_hz


def _trim_silence(samples: np.ndarray[Any, Any], threshold: int = 16) -> np.ndarray[Any, Any]:
    """Drop the digital silence espeak-ng appends after the last sound."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if loud.size == 0:
        return samples[:0]
    end = min(samples.shape[0], int(loud[-1]) + 1 + 220)  # keep a 10 ms tail
    return samples[:end]
