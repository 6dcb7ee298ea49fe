"""Fake Google Cloud Speech-to-Text, Translation and Text-to-Speech services on 127.0.0.1.

:class:`FakeGoogleCloud` runs a real gRPC server that speaks the real protocols
(``google.cloud.speech.v1.Speech``, ``google.cloud.translation.v3.TranslationService``,
``google.cloud.texttospeech.v1.TextToSpeech``), so the *real* ``google-cloud-*`` client
libraries, and lipdub's Google backends on top of them, run unchanged in tests without
an account or network. It records every request and can be told to fail.

What the fakes do (deterministic, no models):

* **Text-to-Speech** ``ListVoices`` returns :attr:`FakeGoogleCloud.voices` (filtered by
  language); ``SynthesizeSpeech`` parses SSML as XML (malformed SSML is refused the way
  Google refuses it), enforces the 5,000-byte input limit, the speaking-rate and pitch
  ranges and the families that take no SSML or pitch, and returns a LINEAR16 WAV (with
  its RIFF header, as Google does) of tone bursts, ``0.25 s`` per word divided by the
  speaking rate, plus any ``<break time=...>``.
* **Speech-to-Text** ``Recognize`` decodes the LINEAR16 audio, refuses more than 60 s
  (as Google does for synchronous requests) and reports one word per burst of sound
  (runs of 10 ms frames above ``-40 dBFS``), with its start/end time; the words' texts
  come from :attr:`FakeGoogleCloud.vocabulary` in turn. With diarization on, the last
  result repeats all words with ``speaker_tag`` 1/2 alternating per pause-separated
  utterance, as Google does. ``LongRunningRecognize`` does the same for audio given
  inline or registered with :meth:`FakeGoogleCloud.add_gcs_object`. The v2 service
  (``google.cloud.speech.v2.Speech/Recognize``, recorded as ``"v2.Recognize"``) does the
  same with v2 messages, speaker labels on every word when diarization is asked for.
* **Translation** ``TranslateText`` checks the parent, the 1,024-string and 30,000-codepoint
  limits, and returns ``"[<target>] <text>"`` (or :attr:`FakeGoogleCloud.dictionary`
  entries), with glossary translations when a glossary is set.
* :class:`FakeTranslateV2` is the REST Translation v2 API (API-key users) on a local
  HTTP server; it HTML-escapes its answers as the real v2 API does.

Point a backend at the fakes with ``client=fake.tts_client()`` (and friends), or let it
build its own client with ``**fake.client_kwargs("tts")``. For "not logged in" tests,
:func:`isolate_google_environment` removes every credentials source from the
environment. Transient and permanent failures are injected with
:meth:`FakeGoogleCloud.fail` (``grpc.StatusCode.UNAVAILABLE``, ``PERMISSION_DENIED``...).

Example:
    >>> from lipdub.testing.google import FakeGoogleCloud
    >>> with FakeGoogleCloud() as fake:
    ...     client = fake.translation_client()
    ...     r = client.translate_text(
    ...         parent="projects/p/locations/global", contents=["hi"], target_language_code="es"
    ...     )
    ...     r.translations[0].translated_text
    '[es] hi'
"""

from __future__ import annotations

import io
import os
import re
import threading
import wave
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
import numpy as np
from google.cloud import speech_v1, speech_v2, texttospeech_v1, translate_v3
from google.longrunning import operations_pb2
from google.protobuf import any_pb2

from lipdub.types import AudioClip

__all__ = [
    "FakeGoogleCloud",
    "FakeTranslateV2",
    "FakeVoice",
    "default_fake_voices",
    "isolate_google_environment",
]

TTS_SERVICE = "google.cloud.texttospeech.v1.TextToSpeech"
SPEECH_SERVICE = "google.cloud.speech.v1.Speech"
SPEECH_V2_SERVICE = "google.cloud.speech.v2.Speech"
TRANSLATION_SERVICE = "google.cloud.translation.v3.TranslationService"

#: Voice families that refuse SSML input / a pitch setting in this fake (as documented
#: for Google's Chirp 3 HD and Journey voices).
NO_SSML_FAMILIES = ("Chirp3-HD", "Chirp-HD", "Journey")
NO_PITCH_FAMILIES = ("Chirp3-HD", "Chirp-HD", "Journey", "Studio")

# No message size limits, like the channels the Google client libraries create.
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]

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


def _sound_spans(samples: np.ndarray[Any, Any], rate: int) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of each run of >= 50 ms of 10 ms frames above -40 dBFS RMS."""
    hop = max(1, rate // 100)
    n = len(samples) // hop
    if n == 0:
        return []
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 0.01
    spans: list[tuple[float, float]] = []
    start = None
    for i, on in enumerate([*loud.tolist(), False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start >= 5:
                spans.append((start * hop / rate, i * hop / rate))
            start = None
    return spans


def _utterances(spans: list[tuple[float, float]]) -> list[list[int]]:
    """Indices of ``spans`` grouped into utterances (gaps under 1 s)."""
    groups: list[list[int]] = []
    for i, (a, _b) in enumerate(spans):
        if groups and a - spans[groups[-1][-1]][1] < 1.0:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _duration_to_s(text: str) -> float:
    m = re.fullmatch(r"\s*([\d.]+)\s*(ms|s)\s*", text)
    if not m:
        return 0.0
    value = float(m.group(1))
    return value / 1000 if m.group(2) == "ms" else value


@dataclass
class _Failure:
    code: grpc.StatusCode
    message: str
    remaining: int


@dataclass
class FakeGoogleCloud:
    """The three fake services on one local gRPC server (a context manager).

    Args:
        voices: Voices the Text-to-Speech fake offers (default
            :func:`default_fake_voices`).
        vocabulary: Texts the Speech fake gives to successive detected words.
        dictionary: ``{(target, text): translation}`` overrides for the Translation fake.
        seconds_per_word: Length of one synthesized word before the speaking rate.
        spoken_language: The language the Speech fake "hears": reported as a result's
            ``language_code`` when the request lists it (as primary or alternative),
            otherwise the request's primary language is reported.
        no_ssml_families: Voice families that refuse SSML input.
        no_pitch_families: Voice families that refuse a pitch setting.

    Attributes:
        address: ``"127.0.0.1:PORT"`` once started.
        requests: Every request received, by method name (``"SynthesizeSpeech"``), as
            proto-plus messages, in arrival order.
    """

    voices: list[FakeVoice] = field(default_factory=default_fake_voices)
    vocabulary: tuple[str, ...] = ("hello", "world.")
    dictionary: Mapping[tuple[str, str], str] = field(default_factory=dict)
    seconds_per_word: float = 0.25
    spoken_language: str | None = None
    no_ssml_families: tuple[str, ...] = NO_SSML_FAMILIES
    no_pitch_families: tuple[str, ...] = NO_PITCH_FAMILIES
    address: str = ""
    requests: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    _failures: dict[str, list[_Failure]] = field(default_factory=lambda: defaultdict(list))
    _gcs: dict[str, AudioClip] = field(default_factory=dict)
    _server: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _channels: list[grpc.Channel] = field(default_factory=list)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeGoogleCloud:
        """Start serving on an ephemeral port of 127.0.0.1."""
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_CHANNEL_OPTIONS)
        server.add_generic_rpc_handlers(
            (
                self._handler(
                    TTS_SERVICE,
                    {
                        "SynthesizeSpeech": (
                            self._synthesize,
                            texttospeech_v1.SynthesizeSpeechRequest,
                            texttospeech_v1.SynthesizeSpeechResponse,
                        ),
                        "ListVoices": (
                            self._list_voices,
                            texttospeech_v1.ListVoicesRequest,
                            texttospeech_v1.ListVoicesResponse,
                        ),
                    },
                ),
                self._handler(
                    SPEECH_SERVICE,
                    {
                        "Recognize": (
                            self._recognize,
                            speech_v1.RecognizeRequest,
                            speech_v1.RecognizeResponse,
                        ),
                        "LongRunningRecognize": (
                            self._long_running,
                            speech_v1.LongRunningRecognizeRequest,
                            None,
                        ),
                    },
                ),
                self._handler(
                    SPEECH_V2_SERVICE,
                    {
                        "Recognize": (
                            self._recognize_v2,
                            speech_v2.RecognizeRequest,
                            speech_v2.RecognizeResponse,
                        ),
                    },
                    record_prefix="v2.",
                ),
                self._handler(
                    TRANSLATION_SERVICE,
                    {
                        "TranslateText": (
                            self._translate,
                            translate_v3.TranslateTextRequest,
                            translate_v3.TranslateTextResponse,
                        ),
                    },
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        """Stop the server and close the channels the helper clients opened."""
        for ch in self._channels:
            ch.close()
        self._channels.clear()
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    def __enter__(self) -> FakeGoogleCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ controls
    def fail(self, method: str, code: grpc.StatusCode, message: str = "", times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` (``"Recognize"``...) fail with ``code``."""
        with self._lock:
            self._failures[method].append(_Failure(code, message or code.name, times))

    def add_gcs_object(self, uri: str, audio: AudioClip) -> None:
        """Serve ``audio`` as the object ``gs://bucket/name`` for ``LongRunningRecognize``."""
        self._gcs[uri] = audio

    # ------------------------------------------------------------------ clients
    def _channel(self) -> grpc.Channel:
        ch = grpc.insecure_channel(self.address, options=_CHANNEL_OPTIONS)
        self._channels.append(ch)
        return ch

    def tts_client(self) -> texttospeech_v1.TextToSpeechClient:
        """A real ``TextToSpeechClient`` connected to this fake."""
        from google.cloud.texttospeech_v1.services.text_to_speech.transports import (
            TextToSpeechGrpcTransport,
        )

        t = TextToSpeechGrpcTransport(host=self.address, channel=self._channel())
        return texttospeech_v1.TextToSpeechClient(transport=t)

    def speech_client(self) -> speech_v1.SpeechClient:
        """A real ``SpeechClient`` connected to this fake."""
        from google.cloud.speech_v1.services.speech.transports import SpeechGrpcTransport

        t = SpeechGrpcTransport(host=self.address, channel=self._channel())
        return speech_v1.SpeechClient(transport=t)

    def speech_v2_client(self) -> speech_v2.SpeechClient:
        """A real Speech-to-Text v2 ``SpeechClient`` connected to this fake."""
        from google.cloud.speech_v2.services.speech.transports import (
            SpeechGrpcTransport as SpeechV2GrpcTransport,
        )

        t = SpeechV2GrpcTransport(host=self.address, channel=self._channel())
        return speech_v2.SpeechClient(transport=t)

    def translation_client(self) -> translate_v3.TranslationServiceClient:
        """A real ``TranslationServiceClient`` connected to this fake."""
        from google.cloud.translate_v3.services.translation_service.transports import (
            TranslationServiceGrpcTransport,
        )

        t = TranslationServiceGrpcTransport(host=self.address, channel=self._channel())
        return translate_v3.TranslationServiceClient(transport=t)

    def client_kwargs(self, service: str) -> dict[str, Any]:
        """Keyword arguments that make a lipdub Google backend build its own client here.

        Unlike the ``*_client()`` helpers, this exercises the backend's own lazy client
        construction: anonymous credentials, ``client_options={"api_endpoint": ...}``
        and a transport factory that opens an insecure channel to this fake.

        Args:
            service: ``"speech"``, ``"speech_v2"``, ``"tts"`` or ``"translation"``.

        Example:
            >>> from lipdub.voice.google import GoogleVoiceSynth
            >>> with FakeGoogleCloud() as fake:
            ...     synth = GoogleVoiceSynth(**fake.client_kwargs("tts"))
            ...     len(synth.list_voices("fr"))
            1
        """
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.speech_v1.services.speech.transports import SpeechGrpcTransport
        from google.cloud.speech_v2.services.speech.transports import (
            SpeechGrpcTransport as SpeechV2GrpcTransport,
        )
        from google.cloud.texttospeech_v1.services.text_to_speech.transports import (
            TextToSpeechGrpcTransport,
        )
        from google.cloud.translate_v3.services.translation_service.transports import (
            TranslationServiceGrpcTransport,
        )

        classes: dict[str, Any] = {
            "speech": SpeechGrpcTransport,
            "speech_v2": SpeechV2GrpcTransport,
            "tts": TextToSpeechGrpcTransport,
            "translation": TranslationServiceGrpcTransport,
        }
        if service not in classes:
            raise ValueError(f"unknown service {service!r}; use {', '.join(classes)}")
        transport_cls = classes[service]

        def transport(**kwargs: Any) -> Any:
            host = kwargs["host"]
            return transport_cls(host=host, channel=self._channel_to(host))

        return {
            "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
            "client_options": {"api_endpoint": self.address},
            "transport": transport,
        }

    def _channel_to(self, host: str) -> grpc.Channel:
        ch = grpc.insecure_channel(host, options=_CHANNEL_OPTIONS)
        self._channels.append(ch)
        return ch

    # ------------------------------------------------------------------ plumbing
    def _handler(
        self,
        service: str,
        methods: Mapping[str, tuple[Callable[..., Any], Any, Any]],
        record_prefix: str = "",
    ) -> grpc.GenericRpcHandler:
        handlers = {}
        for name, (fn, req_cls, resp_cls) in methods.items():
            serializer = (
                resp_cls.pb().SerializeToString
                if resp_cls is not None
                else operations_pb2.Operation.SerializeToString
            )
            handlers[name] = grpc.unary_unary_rpc_method_handler(
                self._wrap(record_prefix + name, fn, req_cls),
                request_deserializer=req_cls.pb().FromString,
                response_serializer=serializer,
            )
        return grpc.method_handlers_generic_handler(service, handlers)

    def _wrap(self, name: str, fn: Callable[..., Any], req_cls: Any) -> Callable[..., Any]:
        def handle(request_pb: Any, context: grpc.ServicerContext) -> Any:
            request = req_cls.wrap(request_pb)
            with self._lock:
                self.requests[name].append(request)
                queue = self._failures.get(name)
                failure = queue[0] if queue else None
                if failure is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        queue.pop(0)  # type: ignore[union-attr]
            if failure is not None:
                context.abort(failure.code, failure.message)
            result = fn(request, context)
            return result if not hasattr(type(result), "pb") else type(result).pb(result)

        return handle

    # ------------------------------------------------------------------ text-to-speech
    def _list_voices(self, request: Any, context: grpc.ServicerContext) -> Any:
        lang = request.language_code
        voices = [
            v.to_proto() for v in self.voices if not lang or _lang_matches(lang, v.language_codes)
        ]
        return texttospeech_v1.ListVoicesResponse(voices=voices)

    def _find_voice(self, params: Any, context: grpc.ServicerContext) -> FakeVoice:
        if params.name:
            for v in self.voices:
                if v.name == params.name:
                    return v
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"Voice '{params.name}' does not exist."
            )
        for v in self.voices:
            if _lang_matches(params.language_code, v.language_codes):
                return v
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Voice for language '{params.language_code}' does not exist.",
        )
        raise AssertionError("unreachable")

    def _synthesize(self, request: Any, context: grpc.ServicerContext) -> Any:
        inp = request.input
        ssml = inp.ssml
        text = inp.text
        payload = ssml or text
        if len(payload.encode("utf-8")) > 5000:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Either `input.text` or `input.ssml` is longer than the limit of 5000 bytes.",
            )
        voice = self._find_voice(request.voice, context)
        family = _family(voice.name)
        cfg = request.audio_config
        if ssml and family in self.no_ssml_families:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"Voice {voice.name} does not support SSML input."
            )
        if cfg.pitch and family in self.no_pitch_families:
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
        word_n = round(self.seconds_per_word / rate * sr)
        t = np.arange(word_n) / sr
        env = np.sin(np.pi * np.arange(word_n) / max(word_n - 1, 1))
        burst = 0.3 * env * np.sin(2 * np.pi * 180.0 * t)
        audio = np.concatenate([np.tile(burst, n_words), np.zeros(round(pause_s * sr))])
        gain = 10 ** (cfg.volume_gain_db / 20) if cfg.volume_gain_db else 1.0
        return texttospeech_v1.SynthesizeSpeechResponse(audio_content=_wav_bytes(audio * gain, sr))

    # ------------------------------------------------------------------ speech-to-text
    def _recognize_audio(
        self, request: Any, context: grpc.ServicerContext, limit_s: float | None
    ) -> Any:
        cfg = request.config
        if request.audio.uri:
            clip = self._gcs.get(request.audio.uri)
            if clip is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"No such object: {request.audio.uri}")
            samples, rate = clip.samples, clip.sample_rate_hz  # type: ignore[union-attr]
        else:
            if cfg.encoding != speech_v1.RecognitionConfig.AudioEncoding.LINEAR16:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "The fake only decodes LINEAR16.")
            rate = cfg.sample_rate_hertz
            if rate <= 0:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "sample_rate_hertz is required for LINEAR16."
                )
            samples = np.frombuffer(request.audio.content, "<i2").astype(np.float32) / 32768.0
        if not cfg.language_code:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Invalid recognition 'config': missing language_code.",
            )
        if limit_s is not None and len(samples) / rate > limit_s:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Sync input too long. For audio longer than 1 min use LongRunningRecognize "
                "with a 'uri' parameter.",
            )
        spans = _sound_spans(samples, rate)
        words = []
        for k, (a, b) in enumerate(spans):
            words.append(
                speech_v1.WordInfo(
                    word=self.vocabulary[k % len(self.vocabulary)],
                    start_time=timedelta(seconds=round(a, 3)),
                    end_time=timedelta(seconds=round(b, 3)),
                    confidence=0.9,
                )
            )
        # one result per utterance (words separated by >= 1 s of silence)
        groups = [[(words[k], spans[k]) for k in g] for g in _utterances(spans)]
        diarize = cfg.diarization_config.enable_speaker_diarization
        offered = [cfg.language_code, *cfg.alternative_language_codes]
        heard = cfg.language_code
        if self.spoken_language and self.spoken_language.lower() in (c.lower() for c in offered):
            heard = self.spoken_language
        results = []
        tagged = []
        for g_i, g in enumerate(groups):
            ws = [w for w, _ in g]
            if not cfg.enable_word_time_offsets:
                ws_out = [speech_v1.WordInfo(word=w.word) for w in ws]
            else:
                ws_out = ws
            alt = speech_v1.SpeechRecognitionAlternative(
                transcript=" ".join(w.word for w in ws), confidence=0.9, words=ws_out
            )
            results.append(
                speech_v1.SpeechRecognitionResult(
                    alternatives=[alt],
                    result_end_time=timedelta(seconds=round(g[-1][1][1], 3)),
                    language_code=heard.lower(),
                )
            )
            for w in ws:
                tw = speech_v1.WordInfo(w)
                tw.speaker_tag = 1 + g_i % 2
                tagged.append(tw)
        if diarize and tagged:
            alt = speech_v1.SpeechRecognitionAlternative(transcript="", words=tagged)
            results.append(speech_v1.SpeechRecognitionResult(alternatives=[alt]))
        return results, len(samples) / rate

    def _recognize(self, request: Any, context: grpc.ServicerContext) -> Any:
        results, duration = self._recognize_audio(request, context, 60.0)
        return speech_v1.RecognizeResponse(
            results=results, total_billed_time=timedelta(seconds=round(duration))
        )

    def _long_running(self, request: Any, context: grpc.ServicerContext) -> Any:
        results, duration = self._recognize_audio(request, context, None)
        resp = speech_v1.LongRunningRecognizeResponse(
            results=results, total_billed_time=timedelta(seconds=round(duration))
        )
        packed = any_pb2.Any()
        packed.Pack(speech_v1.LongRunningRecognizeResponse.pb(resp))
        meta = any_pb2.Any()
        meta.Pack(
            speech_v1.LongRunningRecognizeMetadata.pb(
                speech_v1.LongRunningRecognizeMetadata(progress_percent=100)
            )
        )
        return operations_pb2.Operation(
            name="operations/fake-1", done=True, response=packed, metadata=meta
        )

    def _recognize_v2(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not re.fullmatch(
            r"projects/[^/]+/locations/[^/]+/recognizers/[^/]+", request.recognizer
        ):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"Invalid recognizer {request.recognizer!r}."
            )
        cfg = request.config
        dec = cfg.explicit_decoding_config
        if request.uri:
            clip = self._gcs.get(request.uri)
            if clip is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"No such object: {request.uri}")
            samples, rate = clip.samples, clip.sample_rate_hz  # type: ignore[union-attr]
        else:
            if dec.encoding != speech_v2.ExplicitDecodingConfig.AudioEncoding.LINEAR16:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "The fake only decodes explicit LINEAR16."
                )
            rate = dec.sample_rate_hertz
            samples = np.frombuffer(request.content, "<i2").astype(np.float32) / 32768.0
        codes = list(cfg.language_codes)
        if not codes:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "language_codes is required.")
        if len(samples) / rate > 60.0:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Audio can be of a maximum of 60 seconds for synchronous Recognize.",
            )
        heard = codes[0]
        if self.spoken_language and self.spoken_language.lower() in (c.lower() for c in codes):
            heard = self.spoken_language
        diarize = "diarization_config" in cfg.features
        spans = _sound_spans(samples, rate)
        results = []
        for g_i, group in enumerate(_utterances(spans)):
            words = [
                speech_v2.WordInfo(
                    word=self.vocabulary[k % len(self.vocabulary)],
                    start_offset=timedelta(seconds=round(spans[k][0], 3)),
                    end_offset=timedelta(seconds=round(spans[k][1], 3)),
                    confidence=0.9,
                    speaker_label=str(1 + g_i % 2) if diarize else "",
                )
                for k in group
            ]
            if not cfg.features.enable_word_time_offsets:
                words = [speech_v2.WordInfo(word=w.word) for w in words]
            alt = speech_v2.SpeechRecognitionAlternative(
                transcript=" ".join(w.word for w in words), confidence=0.9, words=words
            )
            results.append(
                speech_v2.SpeechRecognitionResult(
                    alternatives=[alt],
                    result_end_offset=timedelta(seconds=round(spans[group[-1]][1], 3)),
                    language_code=heard.lower(),
                )
            )
        return speech_v2.RecognizeResponse(results=results)

    # ------------------------------------------------------------------ translation
    def _translate(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not re.fullmatch(r"projects/[^/]+(/locations/[^/]+)?", request.parent):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"Invalid 'parent': {request.parent!r}."
            )
        if not request.target_language_code:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Target language is required.")
        contents = list(request.contents)
        if len(contents) > 1024:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Number of text segments exceeds the limit of 1024.",
            )
        if sum(len(c) for c in contents) > 30000:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "Text too long: the limit is 30000 codepoints."
            )
        target = request.target_language_code
        detected = "" if request.source_language_code else "en"

        def tr(text: str) -> str:
            return self.dictionary.get((target, text), f"[{target}] {text}")

        translations = [
            translate_v3.Translation(translated_text=tr(c), detected_language_code=detected)
            for c in contents
        ]
        resp = translate_v3.TranslateTextResponse(translations=translations)
        if request.glossary_config.glossary:
            resp.glossary_translations = [
                translate_v3.Translation(
                    translated_text=tr(c) + " (glossary)", glossary_config=request.glossary_config
                )
                for c in contents
            ]
        return resp


class FakeTranslateV2:
    """A fake of the REST Translation v2 API (``POST /language/translate/v2``) on 127.0.0.1.

    Like the real v2 API it returns HTML-escaped text (``'`` as ``&#39;``), counts the
    requests in :attr:`requests` (the decoded JSON bodies plus the ``key`` header seen),
    and answers ``[<target>] <text>``. ``fail_status`` makes the next requests fail with
    that HTTP status. Point ``translate_v2.Client`` at it with
    ``client_options={"api_endpoint": fake.url}``.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_status: list[int] = []
        self.url = ""
        self._httpd: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeTranslateV2:
        import html
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                body["_api_key"] = self.headers.get("x-goog-api-key")
                fake.requests.append(body)
                if fake.fail_status:
                    status = fake.fail_status.pop(0)
                    out = {"error": {"code": status, "message": f"fake failure {status}"}}
                else:
                    status = 200
                    target = body.get("target", "")
                    out = {
                        "data": {
                            "translations": [
                                {"translatedText": html.escape(f"[{target}] {q}")}
                                for q in body["q"]
                            ]
                        }
                    }
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


_not_gce_address: str | None = None
_not_gce_lock = threading.Lock()


def _not_gce_server() -> str:
    """``host:port`` of a local server that answers like "not Google Compute Engine"."""
    global _not_gce_address
    with _not_gce_lock:
        if _not_gce_address is None:
            from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

            class Handler(BaseHTTPRequestHandler):
                def log_message(self, format: str, *args: Any) -> None:  # quiet
                    pass

                def do_GET(self) -> None:
                    self.send_response(404)  # no "Metadata-Flavor: Google" header
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
            _not_gce_address = f"127.0.0.1:{httpd.server_address[1]}"
        return _not_gce_address


def isolate_google_environment(env: Any, tmp_dir: str | os.PathLike[str]) -> None:
    """Remove every source of Google credentials from the environment.

    For tests of the "not logged in" path: unsets ``GOOGLE_APPLICATION_CREDENTIALS`` and
    the project variables, points the gcloud config at an empty ``tmp_dir``, and points
    the metadata-server probe at a local server that answers "not on Google Cloud", so
    ``google.auth.default()`` fails at once instead of waiting for timeouts.

    Args:
        env: pytest's ``monkeypatch`` (anything with ``setenv``/``delenv``).
        tmp_dir: An empty directory.
    """
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "CLOUDSDK_CORE_PROJECT",
        "GOOGLE_CLOUD_QUOTA_PROJECT",
        "GOOGLE_TRANSLATE_API_KEY",
    ):
        env.delenv(name, raising=False)
    env.setenv("CLOUDSDK_CONFIG", os.fspath(tmp_dir))
    env.setenv("GCE_METADATA_IP", _not_gce_server())
