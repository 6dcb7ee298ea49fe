"""The fake Text-to-Speech service: its voices, ``ListVoices`` and ``SynthesizeSpeech``."""

from __future__ import annotations

import io
import re
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np
from google.cloud import texttospeech_v1

if TYPE_CHECKING:
    from lipdub.testing.google.server import FakeGoogleCloud

__all__ = ["NO_PITCH_FAMILIES", "NO_SSML_FAMILIES", "FakeVoice", "default_fake_voices"]

#: Voice families that refuse SSML input / a pitch setting in this fake (as documented
#: for Google's Chirp 3 HD and Journey voices).
NO_SSML_FAMILIES = ("Chirp3-HD", "Chirp-HD", "Journey")
NO_PITCH_FAMILIES = ("Chirp3-HD", "Chirp-HD", "Journey", "Studio")

_GENDERS = {
    "male": texttospeech_v1.SsmlVoiceGender.MALE,
    "female": texttospeech_v1.SsmlVoiceGender.FEMALE,
    "neutral": texttospeech_v1.SsmlVoiceGender.NEUTRAL,
}


@dataclass(frozen=True)
class FakeVoice:
    """A voice the fake Text-to-Speech service offers."""

    name: str
    language_codes: tuple[str, ...]
    gender: str = "female"
    natural_sample_rate_hz: int = 24000

    def to_proto(self) -> texttospeech_v1.Voice:
        """The ``google.cloud.texttospeech.v1.Voice`` message."""
        return texttospeech_v1.Voice(
            name=self.name,
            language_codes=list(self.language_codes),
            ssml_gender=_GENDERS.get(
                self.gender, texttospeech_v1.SsmlVoiceGender.SSML_VOICE_GENDER_UNSPECIFIED
            ),
            natural_sample_rate_hertz=self.natural_sample_rate_hz,
        )


def default_fake_voices() -> list[FakeVoice]:
    """A small catalogue across families and languages (names in Google's format)."""
    return [
        FakeVoice("en-US-Standard-A", ("en-US",), "male", 24000),
        FakeVoice("en-US-Wavenet-D", ("en-US",), "male", 24000),
        FakeVoice("en-US-Neural2-F", ("en-US",), "female", 24000),
        FakeVoice("en-US-Studio-O", ("en-US",), "female", 24000),
        FakeVoice("en-US-Chirp3-HD-Aoede", ("en-US",), "female", 24000),
        FakeVoice("en-GB-News-G", ("en-GB",), "female", 24000),
        FakeVoice("es-ES-Standard-A", ("es-ES",), "female", 24000),
        FakeVoice("es-ES-Wavenet-B", ("es-ES",), "male", 24000),
        FakeVoice("es-ES-Neural2-A", ("es-ES",), "female", 24000),
        FakeVoice("es-US-Polyglot-1", ("es-US",), "male", 24000),
        FakeVoice("fr-FR-Standard-A", ("fr-FR",), "female", 22050),
        FakeVoice("de-DE-Chirp3-HD-Charon", ("de-DE",), "male", 24000),
    ]


def _family(name: str) -> str:
    parts = name.split("-")
    return "-".join(parts[2:-1]) if len(parts) >= 4 else ""


def _lang_matches(want: str, codes: Iterable[str]) -> bool:
    w = want.lower()
    return any(c.lower() == w or c.lower().split("-")[0] == w for c in codes)


def _wav_bytes(samples: np.ndarray[Any, Any], rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(samples * 32767, -32768, 32767).astype("<i2").tobytes())
    return buf.getvalue()


def _duration_to_s(text: str) -> float:
    m = re.fullmatch(r"\s*([\d.]+)\s*(ms|s)\s*", text)
    if not m:
        return 0.0
    value = float(m.group(1))
    return value / 1000 if m.group(2) == "ms" else value


def list_voices(fake: FakeGoogleCloud, request: Any, context: grpc.ServicerContext) -> Any:
    lang = request.language_code
    voices = [
        v.to_proto() for v in fake.voices if not lang or _lang_matches(lang, v.language_codes)
    ]
    return texttospeech_v1.ListVoicesResponse(voices=voices)


def _find_voice(fake: FakeGoogleCloud, params: Any, context: grpc.ServicerContext) -> FakeVoice:
    if params.name:
        for v in fake.voices:
            if v.name == params.name:
                return v
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Voice '{params.name}' does not exist.")
    for v in fake.voices:
        if _lang_matches(params.language_code, v.language_codes):
            return v
    context.abort(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Voice for language '{params.language_code}' does not exist.",
    )
    raise AssertionError("unreachable")


def synthesize(fake: FakeGoogleCloud, request: Any, context: grpc.ServicerContext) -> Any:
    inp = request.input
    ssml = inp.ssml
    text = inp.text
    payload = ssml or text
    if len(payload.encode("utf-8")) > 5000:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Either `input.text` or `input.ssml` is longer than the limit of 5000 bytes.",
        )
    voice = _find_voice(fake, request.voice, context)
    family = _family(voice.name)
    cfg = request.audio_config
    if ssml and family in fake.no_ssml_families:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f"Voice {voice.name} does not support SSML input."
        )
    if cfg.pitch and family in fake.no_pitch_families:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Voice {voice.name} does not support pitch parameters.",
        )
    rate = cfg.speaking_rate or 1.0
    if not 0.25 <= rate <= 2.0:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, "speaking_rate must be between 0.25 and 2.0."
        )
    if not -20.0 <= cfg.pitch <= 20.0:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "pitch must be between -20.0 and 20.0.")
    pause_s = 0.0
    if ssml:
        try:
            root = ET.fromstring(ssml)
        except ET.ParseError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid SSML: {e}")
        if root.tag != "speak":
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "SSML must have a <speak> root element."
            )
        text = " ".join(root.itertext())
        pause_s = sum(_duration_to_s(b.get("time", "")) for b in root.iter("break"))
    sr = cfg.sample_rate_hertz or voice.natural_sample_rate_hz
    n_words = max(1, len(text.split()))
    word_n = round(fake.seconds_per_word / rate * sr)
    t = np.arange(word_n) / sr
    env = np.sin(np.pi * np.arange(word_n) / max(word_n - 1, 1))
    burst = 0.3 * env * np.sin(2 * np.pi * 180.0 * t)
    audio = np.concatenate([np.tile(burst, n_words), np.zeros(round(pause_s * sr))])
    gain = 10 ** (cfg.volume_gain_db / 20) if cfg.volume_gain_db else 1.0
    return texttospeech_v1.SynthesizeSpeechResponse(audio_content=_wav_bytes(audio * gain, sr))
