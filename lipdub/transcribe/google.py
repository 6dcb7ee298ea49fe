"""Google Cloud Speech-to-Text backend (v1 API).

Install with ``pip install "lipdub[google]"``; credentials come from
``credentials_path=``, ``GOOGLE_APPLICATION_CREDENTIALS`` or Application Default
Credentials (``gcloud auth application-default login``).

Audio is sent as 16 kHz mono LINEAR16. Google's synchronous ``recognize`` takes at most
one minute inline, so longer audio is cut into chunks of at most ``chunk_s`` seconds at
the quietest moment near each chunk's end, recognised chunk by chunk, and the word times
shifted back onto the whole clip. Audio already in Cloud Storage can be recognised in one
``long_running_recognize`` with :meth:`GoogleTranscriber.transcribe_uri`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

import numpy as np
from google.cloud import speech_v1 as speech
from google.cloud import speech_v2

from lipdub._google import ClientFactory, RetryPolicy, call_with_retry, resolve_project
from lipdub.errors import CredentialsError, InputError
from lipdub.events import EventCallback
from lipdub.transcribe._segment import words_to_segments
from lipdub.transcribe.base import Transcriber
from lipdub.types import AudioClip, Segment, Transcript, Word

__all__ = ["GoogleTranscriber", "choose_cuts"]

logger = logging.getLogger(__name__)

#: Longest audio Google's synchronous ``recognize`` accepts inline, in seconds.
SYNC_LIMIT_S = 60.0

# v1 model names and their v2 equivalents.
_V2_MODELS = {"latest_long": "long", "latest_short": "short"}
# Where the Chirp models are served (a regional endpoint is needed).
_CHIRP_LOCATIONS = {"chirp": "us-central1", "chirp_2": "us-central1", "chirp_3": "us"}


def _clean_word(word: str) -> str:
    """A word's text without the reading Google appends for some languages (``東京|トウキョウ``)."""
    return word.split("|", 1)[0].replace("\u2581", " ").strip()


def choose_cuts(
    audio: AudioClip, *, max_chunk_s: float = 55.0, search_s: float = 15.0, frame_s: float = 0.1
) -> list[float]:
    """Cut points (seconds) that split ``audio`` into chunks of at most ``max_chunk_s``.

    Each cut is placed at the lowest-energy ``frame_s`` window in the last ``search_s``
    seconds before the chunk limit, so words are rarely cut in half.

    Returns:
        Increasing cut times, excluding 0 and the end; empty if the clip fits in one chunk.

    Example:
        >>> choose_cuts(AudioClip.silence(50, 16000))
        []
    """
    if max_chunk_s <= frame_s or search_s <= 0:
        raise InputError(
            f"max_chunk_s ({max_chunk_s}) must exceed frame_s and search_s must be > 0"
        )
    sr = audio.sample_rate_hz
    hop = max(1, round(frame_s * sr))
    n_frames = audio.num_samples // hop
    x = audio.samples[: n_frames * hop].reshape(n_frames, hop)  # a view, no copy
    energy = np.einsum("ij,ij->i", x, x, dtype=np.float64) / hop if n_frames else np.zeros(0)
    cuts: list[float] = []
    start = 0.0
    total = audio.duration_s
    while total - start > max_chunk_s:
        hi = int((start + max_chunk_s) / frame_s)  # frame index where the limit falls
        lo = max(int((start + max(frame_s, max_chunk_s - search_s)) / frame_s), 1)
        window = energy[lo:hi]
        if window.size == 0:
            cut = start + max_chunk_s
        else:
            # quietest frame; among equals take the latest (longest chunk)
            k = int(window.size - 1 - np.argmin(window[::-1]))
            cut = (lo + k) * frame_s + frame_s / 2
        cut = min(cut, start + max_chunk_s)
        cuts.append(round(cut, 6))
        start = cut
    return cuts


class GoogleTranscriber(Transcriber):
    """Transcribes with Google Cloud Speech-to-Text v1, with word timings.

    Args:
        language: Default BCP-47 code when ``transcribe`` gets none (Google needs one).
        model: Recognition model (``"latest_long"``, ``"latest_short"``, ``"video"``...).
        diarization: Label speakers (``Segment.speaker`` = ``"speaker_1"``...).
        min_speakers: Fewest speakers expected with diarization.
        max_speakers: Most speakers expected with diarization.
        punctuation: Ask Google for automatic punctuation (sentence ends split segments).
        sample_rate_hz: Rate the audio is sent at (16 kHz is what Google recommends).
        chunk_s: Longest chunk sent per synchronous request, < 60 s.
        max_segment_s: Longest segment in the transcript, in seconds.
        pause_s: A silence this long between words starts a new segment.
        alternative_languages: Up to 3 more BCP-47 codes Google may choose from when
            ``transcribe`` is called without a language; the transcript then carries the
            language Google recognised.
        max_concurrency: Chunks of long audio recognised in parallel.
        api: ``"v1"`` or ``"v2"`` (recognizers, the Chirp models); None picks v2 for
            ``chirp*`` models and v1 otherwise.
        location: Region for the regional endpoint (``"us-central1"``, ``"eu"``...);
            None is global, or the Chirp model's usual region with v2.
        project_id: Project for v2 recognizer paths; None reads ``GOOGLE_CLOUD_PROJECT``
            or the credentials' project.
        recognizer: v2 recognizer id (``"_"`` is the implicit default recognizer).
        client: A ready ``SpeechClient`` (``speech_v1`` or, with ``api="v2"``,
            ``speech_v2``).
        credentials: A ``google.auth`` credentials object.
        credentials_path: A service-account JSON key file.
        client_options: Passed to the client (``{"api_endpoint": ...}``).
        transport: Passed to the client (``"grpc"``, ``"rest"``, an instance or a factory).
        retry: Backoff for transient errors.

    Example:
        >>> import numpy as np
        >>> from lipdub.testing.google import FakeGoogleCloud
        >>> tone = np.sin(np.arange(8000) * 0.2).astype(np.float32) * 0.5
        >>> audio = AudioClip(np.concatenate([np.zeros(8000), tone, np.zeros(8000)]), 16000)
        >>> with FakeGoogleCloud(vocabulary=("Hello.",)) as fake:
        ...     t = GoogleTranscriber(client=fake.speech_client()).transcribe(audio, "en-US")
        >>> [(s.start_s, s.end_s, s.text) for s in t.segments]
        [(0.5, 1.0, 'Hello.')]
    """

    name: ClassVar[str] = "google"

    def __init__(
        self,
        *,
        language: str = "en-US",
        model: str | None = "latest_long",
        diarization: bool = False,
        min_speakers: int = 1,
        max_speakers: int = 6,
        punctuation: bool = True,
        sample_rate_hz: int = 16000,
        chunk_s: float = 55.0,
        max_segment_s: float = 12.0,
        pause_s: float = 0.7,
        alternative_languages: Sequence[str] = (),
        max_concurrency: int = 4,
        api: Literal["v1", "v2"] | None = None,
        location: str | None = None,
        project_id: str | None = None,
        recognizer: str = "_",
        client: Any = None,
        credentials: Any = None,
        credentials_path: str | os.PathLike[str] | None = None,
        client_options: Mapping[str, Any] | None = None,
        transport: Any = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not 1.0 < chunk_s < SYNC_LIMIT_S:
            raise InputError(f"chunk_s must be between 1 and {SYNC_LIMIT_S:g} s, got {chunk_s}")
        self.language = language
        self.model = model
        self.diarization = diarization
        self.min_speakers = min_speakers
        self.max_speakers = max_speakers
        self.punctuation = punctuation
        self.sample_rate_hz = sample_rate_hz
        self.chunk_s = chunk_s
        self.max_segment_s = max_segment_s
        self.pause_s = pause_s
        self.alternative_languages = tuple(alternative_languages)
        self.max_concurrency = max(1, int(max_concurrency))
        self.retry = retry or RetryPolicy()
        chirp = bool(model) and str(model).startswith("chirp")
        self.api = api or ("v2" if chirp else "v1")
        if self.api not in ("v1", "v2"):
            raise InputError(f"api must be 'v1' or 'v2', got {api!r}")
        if self.api == "v1" and chirp:
            raise InputError(
                f"the {model} model is only served by Speech-to-Text v2",
                backend=self.name,
                hint="pass api='v2' (or leave api unset)",
            )
        if self.api == "v2":
            self.model = _V2_MODELS.get(str(model), model) if model else "long"
            location = location or (_CHIRP_LOCATIONS.get(str(self.model)) if chirp else None)
        self.location = location or "global"
        if client_options is None and self.location != "global":
            client_options = {"api_endpoint": f"{self.location}-speech.googleapis.com"}
        self._factory = ClientFactory(
            speech_v2.SpeechClient if self.api == "v2" else speech.SpeechClient,
            client=client,
            credentials=credentials,
            credentials_path=credentials_path,
            client_options=client_options,
            transport=transport,
            backend=self.name,
        )
        self.project_id = resolve_project(project_id, self._factory.project_id)
        if self.api == "v2" and not self.project_id:
            raise CredentialsError(
                "Speech-to-Text v2 needs a Google Cloud project id",
                backend=self.name,
                hint="pass project_id=, set GOOGLE_CLOUD_PROJECT, or use a service-account "
                "key that names its project",
            )
        self.recognizer = (
            recognizer
            if recognizer.startswith("projects/")
            else f"projects/{self.project_id}/locations/{self.location}/recognizers/{recognizer}"
        )

    @property
    def client(self) -> Any:
        """The Google client this backend uses (built on first access)."""
        return self._factory.get()

    def settings(self) -> dict[str, Any]:
        """The options that change the transcript (JSON-ready).

        Credentials, client, transport, endpoint options, retries and concurrency are
        left out. With v2, a named recognizer (which carries its own configuration) is
        included by its full resource name; the implicit ``"_"`` recognizer is not.
        """
        recognizer = None
        if self.api == "v2" and not self.recognizer.endswith("/recognizers/_"):
            recognizer = self.recognizer
        return {
            "api": self.api,
            "model": self.model,
            "location": self.location,
            "recognizer": recognizer,
            "language": self.language,
            "alternative_languages": list(self.alternative_languages),
            "diarization": self.diarization,
            "min_speakers": self.min_speakers,
            "max_speakers": self.max_speakers,
            "punctuation": self.punctuation,
            "sample_rate_hz": self.sample_rate_hz,
            "chunk_s": self.chunk_s,
            "max_segment_s": self.max_segment_s,
            "pause_s": self.pause_s,
        }

    # ------------------------------------------------------------------ config
    def _config(
        self, language: str, sample_rate_hz: int | None, encoding: Any
    ) -> speech.RecognitionConfig:
        cfg = speech.RecognitionConfig(
            encoding=encoding,
            language_code=language,
            enable_word_time_offsets=True,
            enable_automatic_punctuation=self.punctuation,
        )
        if sample_rate_hz:
            cfg.sample_rate_hertz = sample_rate_hz
        if self.model:
            cfg.model = self.model
        if self.alternative_languages:
            cfg.alternative_language_codes = list(self.alternative_languages)
        if self.diarization:
            cfg.diarization_config = speech.SpeakerDiarizationConfig(
                enable_speaker_diarization=True,
                min_speaker_count=self.min_speakers,
                max_speaker_count=self.max_speakers,
            )
        return cfg

    def _request_v2(self, language: str, sample_rate_hz: int, content: bytes) -> Any:
        features = speech_v2.RecognitionFeatures(
            enable_word_time_offsets=True, enable_automatic_punctuation=self.punctuation
        )
        if self.diarization:
            features.diarization_config = speech_v2.SpeakerDiarizationConfig(
                min_speaker_count=self.min_speakers, max_speaker_count=self.max_speakers
            )
        config = speech_v2.RecognitionConfig(
            explicit_decoding_config=speech_v2.ExplicitDecodingConfig(
                encoding=speech_v2.ExplicitDecodingConfig.AudioEncoding.LINEAR16,
                sample_rate_hertz=sample_rate_hz,
                audio_channel_count=1,
            ),
            model=self.model or "long",
            language_codes=[language, *self.alternative_languages],
            features=features,
        )
        return speech_v2.RecognizeRequest(
            recognizer=self.recognizer, config=config, content=content
        )

    # ------------------------------------------------------------------ public
    def transcribe(
        self,
        audio: AudioClip,
        language: str | None = None,
        *,
        on_event: EventCallback | None = None,
    ) -> Transcript:
        """Transcribe ``audio`` (any rate; resampled to ``sample_rate_hz``).

        Args:
            audio: Mono speech of any length.
            language: BCP-47 code; None uses the constructor's ``language`` (and its
                ``alternative_languages``, if any, for Google to choose from).

        Returns:
            Segments with words, times in seconds from the start of ``audio``.

        Raises:
            CredentialsError: the credentials were rejected.
            CloudServiceError: the service refused a request or stayed unavailable.
        """
        lang = self._language(language)
        clip = audio.resample(self.sample_rate_hz)
        cuts = choose_cuts(clip, max_chunk_s=self.chunk_s)
        bounds = [
            (a, b)
            for a, b in zip([0.0, *cuts], [*cuts, clip.duration_s], strict=True)
            if round(b * clip.sample_rate_hz) > round(a * clip.sample_rate_hz)
        ]
        logger.info(
            "google transcribe: %.1f s of audio in %d request(s)", clip.duration_s, len(bounds)
        )
        client = self._factory.get()

        def recognize(index: int) -> Any:
            a, b = bounds[index]
            content = clip.slice(a, b).to_int16().astype("<i2").tobytes()
            if self.api == "v2":
                request = self._request_v2(lang, clip.sample_rate_hz, content)
                call = functools.partial(
                    client.recognize, request=request, retry=None, timeout=self.retry.timeout_s
                )
            else:
                cfg = self._config(
                    lang, clip.sample_rate_hz, speech.RecognitionConfig.AudioEncoding.LINEAR16
                )
                call = functools.partial(
                    client.recognize,
                    config=cfg,
                    audio=speech.RecognitionAudio(content=content),
                    retry=None,
                    timeout=self.retry.timeout_s,
                )
            return call_with_retry(
                call,
                what=f"recognize chunk {index + 1}/{len(bounds)} ({a:.1f}-{b:.1f} s)",
                backend=self.name,
                policy=self.retry,
            )

        if len(bounds) > 1 and self.max_concurrency > 1:
            with ThreadPoolExecutor(min(self.max_concurrency, len(bounds))) as pool:
                responses = list(pool.map(recognize, range(len(bounds))))
        else:
            responses = [recognize(i) for i in range(len(bounds))]
        words: list[tuple[Word, str]] = []
        fallback: list[Segment] = []
        detected: list[str] = []
        for (a, b), response in zip(bounds, responses, strict=True):
            w, f = self._collect(response.results, offset_s=a, end_s=b)
            words.extend(w)
            fallback.extend(f)
            detected.extend(r.language_code for r in response.results if r.language_code)
        return self._build(self._detected(lang, language, detected), words, fallback)

    def _language(self, language: str | None) -> str:
        if language:
            return language
        if not self.alternative_languages:
            logger.warning(
                "google transcribe: no language given; assuming %s (pass language=, or "
                "alternative_languages= to let Google choose)",
                self.language,
            )
        return self.language

    def _detected(self, lang: str, requested: str | None, detected: Sequence[str]) -> str:
        """The language to report: Google's pick among the alternatives, else ``lang``."""
        if requested or not self.alternative_languages or not detected:
            return lang
        best = Counter(d.lower() for d in detected).most_common(1)[0][0]
        for code in (self.language, *self.alternative_languages):
            if code.lower() == best:
                return code
        parts = best.split("-")
        return "-".join([parts[0], *(p.upper() if len(p) == 2 else p for p in parts[1:])])

    def transcribe_uri(
        self,
        uri: str,
        language: str | None = None,
        *,
        sample_rate_hz: int | None = None,
        encoding: str = "ENCODING_UNSPECIFIED",
        timeout_s: float = 3600.0,
    ) -> Transcript:
        """Transcribe audio stored in Cloud Storage with ``long_running_recognize``.

        Args:
            uri: ``gs://bucket/object`` (FLAC or WAV carry their own rate and encoding).
            language: BCP-47 code; None uses the constructor's ``language``.
            sample_rate_hz: The file's rate, when its header does not carry one.
            encoding: A ``RecognitionConfig.AudioEncoding`` name (``"LINEAR16"``,
                ``"FLAC"``...); the default lets Google read WAV/FLAC headers.
            timeout_s: How long to wait for the operation, in seconds.

        Raises:
            InputError: ``uri`` is not a ``gs://`` URI.
            CloudServiceError: the service refused the request or the operation failed.
        """
        if self.api != "v1":
            raise InputError(
                "transcribe_uri uses Speech-to-Text v1",
                backend=self.name,
                hint="create the transcriber with api='v1', or download the audio and call "
                "transcribe()",
            )
        if not uri.startswith("gs://"):
            raise InputError(
                f"long-running recognition reads from Cloud Storage; got {uri!r}",
                backend=self.name,
                hint="upload it (`gcloud storage cp FILE gs://BUCKET/`) and pass the gs:// URI",
            )
        lang = self._language(language)
        enc = getattr(speech.RecognitionConfig.AudioEncoding, encoding)
        cfg = self._config(lang, sample_rate_hz, enc)
        client = self._factory.get()

        def run() -> Any:
            op = client.long_running_recognize(
                config=cfg,
                audio=speech.RecognitionAudio(uri=uri),
                retry=None,
                timeout=self.retry.timeout_s,
            )
            return op.result(timeout=timeout_s)

        response = call_with_retry(
            run, what=f"recognize {uri} (long-running)", backend=self.name, policy=self.retry
        )
        words, fallback = self._collect(response.results, offset_s=0.0, end_s=None)
        detected = [r.language_code for r in response.results if r.language_code]
        return self._build(self._detected(lang, language, detected), words, fallback)

    # ------------------------------------------------------------------ results
    def _collect(
        self, results: Sequence[Any], *, offset_s: float, end_s: float | None
    ) -> tuple[list[tuple[Word, str]], list[Segment]]:
        """Words (with speaker tags) of one response, shifted by ``offset_s``."""
        v2 = self.api == "v2"
        pairs = [(r, r.alternatives[0]) for r in results if r.alternatives]
        if not v2 and self.diarization and pairs and any(w.speaker_tag for w in pairs[-1][1].words):
            # With diarization Google repeats every word, tagged, in the last result.
            chosen = [pairs[-1]]
        else:
            chosen = [(r, a) for r, a in pairs if a.transcript.strip() or a.words]
        words: list[tuple[Word, str]] = []
        fallback: list[Segment] = []
        prev_end = offset_s
        for r, alt in chosen:
            if not alt.words:
                # no word timings: one segment for the result, up to its end time
                result_end = r.result_end_offset if v2 else r.result_end_time
                end = offset_s + result_end.total_seconds() if result_end else (end_s or prev_end)
                if alt.transcript.strip():
                    fallback.append(Segment(prev_end, max(prev_end, end), alt.transcript.strip()))
                prev_end = max(prev_end, end)
                continue
            for w in alt.words:
                if v2:
                    t0, t1, label = w.start_offset, w.end_offset, w.speaker_label
                else:
                    t0, t1 = w.start_time, w.end_time
                    label = str(w.speaker_tag) if w.speaker_tag else ""
                start = offset_s + t0.total_seconds()
                stop = max(start, offset_s + t1.total_seconds())
                conf = float(w.confidence) if w.confidence else None
                text = _clean_word(w.word)
                words.append((Word(round(start, 6), round(stop, 6), text, conf), label))
                prev_end = max(prev_end, stop)
        return words, fallback

    def _build(
        self, language: str, words: list[tuple[Word, str]], fallback: list[Segment]
    ) -> Transcript:
        tags = {id(w): tag for w, tag in words}
        speaker_of = None
        if self.diarization:

            def speaker_of(w: Word) -> str | None:
                tag = tags.get(id(w), "")
                return f"speaker_{tag}" if tag else None

        segments = words_to_segments(
            [w for w, _ in words],
            max_segment_s=self.max_segment_s,
            pause_s=self.pause_s,
            speaker_of=speaker_of,
            joiner=""
            if language.split("-")[0].lower() in ("ja", "zh", "cmn", "yue", "th")
            else " ",
        )
        segments = sorted([*segments, *fallback], key=lambda s: s.start_s)
        return Transcript(language, tuple(segments))
