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

The package is split by service: :mod:`.server` (the gRPC server, clients, failure
injection), :mod:`.tts`, :mod:`.speech`, :mod:`.translation` (with the v2 REST fake) and
:mod:`.environment`.
"""

from __future__ import annotations

from lipdub.testing.google.environment import isolate_google_environment
from lipdub.testing.google.server import FakeGoogleCloud
from lipdub.testing.google.translation import FakeTranslateV2
from lipdub.testing.google.tts import FakeVoice, default_fake_voices

__all__ = [
    "FakeGoogleCloud",
    "FakeTranslateV2",
    "FakeVoice",
    "default_fake_voices",
    "isolate_google_environment",
]
