"""The local gRPC server that carries the three fake services: :class:`FakeGoogleCloud`."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import grpc
from google.cloud import speech_v1, speech_v2, texttospeech_v1, translate_v3
from google.longrunning import operations_pb2

from lipdub.testing.google import speech, translation, tts
from lipdub.testing.google.tts import (
    NO_PITCH_FAMILIES,
    NO_SSML_FAMILIES,
    FakeVoice,
    default_fake_voices,
)
from lipdub.types import AudioClip

__all__ = ["FakeGoogleCloud"]

TTS_SERVICE = "google.cloud.texttospeech.v1.TextToSpeech"
SPEECH_SERVICE = "google.cloud.speech.v1.Speech"
SPEECH_V2_SERVICE = "google.cloud.speech.v2.Speech"
TRANSLATION_SERVICE = "google.cloud.translation.v3.TranslationService"

# No message size limits, like the channels the Google client libraries create.
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


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
                            partial(tts.synthesize, self),
                            texttospeech_v1.SynthesizeSpeechRequest,
                            texttospeech_v1.SynthesizeSpeechResponse,
                        ),
                        "ListVoices": (
                            partial(tts.list_voices, self),
                            texttospeech_v1.ListVoicesRequest,
                            texttospeech_v1.ListVoicesResponse,
                        ),
                    },
                ),
                self._handler(
                    SPEECH_SERVICE,
                    {
                        "Recognize": (
                            partial(speech.recognize, self),
                            speech_v1.RecognizeRequest,
                            speech_v1.RecognizeResponse,
                        ),
                        "LongRunningRecognize": (
                            partial(speech.long_running, self),
                            speech_v1.LongRunningRecognizeRequest,
                            None,
                        ),
                    },
                ),
                self._handler(
                    SPEECH_V2_SERVICE,
                    {
                        "Recognize": (
                            partial(speech.recognize_v2, self),
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
                            partial(translation.translate, self),
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
