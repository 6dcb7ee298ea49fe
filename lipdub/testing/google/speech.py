"""The fake Speech-to-Text service: v1 Recognize and LongRunningRecognize, v2 Recognize."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np
from google.cloud import speech_v1, speech_v2
from google.longrunning import operations_pb2
from google.protobuf import any_pb2

if TYPE_CHECKING:
    from lipdub.testing.google.server import FakeGoogleCloud


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


def _recognize_audio(
    fake: FakeGoogleCloud, request: Any, context: grpc.ServicerContext, limit_s: float | None
) -> Any:
    cfg = request.config
    if request.audio.uri:
        clip = fake._gcs.get(request.audio.uri)
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
                word=fake.vocabulary[k % len(fake.vocabulary)],
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
    if fake.spoken_language and fake.spoken_language.lower() in (c.lower() for c in offered):
        heard = fake.spoken_language
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


def recognize(fake: FakeGoogleCloud, request: Any, context: grpc.ServicerContext) -> Any:
    results, duration = _recognize_audio(fake, request, context, 60.0)
    return speech_v1.RecognizeResponse(
        results=results, total_billed_time=timedelta(seconds=round(duration))
    )


def long_running(fake: FakeGoogleCloud, request: Any, context: grpc.ServicerContext) -> Any:
    results, duration = _recognize_audio(fake, request, context, None)
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


def recognize_v2(fake: FakeGoogleCloud, request: Any, context: grpc.ServicerContext) -> Any:
    if not re.fullmatch(r"projects/[^/]+/locations/[^/]+/recognizers/[^/]+", request.recognizer):
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f"Invalid recognizer {request.recognizer!r}."
        )
    cfg = request.config
    dec = cfg.explicit_decoding_config
    if request.uri:
        clip = fake._gcs.get(request.uri)
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
    if fake.spoken_language and fake.spoken_language.lower() in (c.lower() for c in codes):
        heard = fake.spoken_language
    diarize = "diarization_config" in cfg.features
    spans = _sound_spans(samples, rate)
    results = []
    for g_i, group in enumerate(_utterances(spans)):
        words = [
            speech_v2.WordInfo(
                word=fake.vocabulary[k % len(fake.vocabulary)],
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
