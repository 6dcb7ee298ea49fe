"""Live checks against the real Google Cloud APIs (marked ``google``).

Skipped unless credentials are available (``GOOGLE_APPLICATION_CREDENTIALS`` or
``gcloud auth application-default login``) and a project is set for Translation.
Run with ``pytest -m google tests/test_google_live.py``; each test costs a few cents.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("google.cloud.texttospeech_v1")

from lipdub.errors import CredentialsError

pytestmark = pytest.mark.google


def _have_credentials() -> bool:
    from lipdub._google import load_credentials

    try:
        load_credentials()
    except CredentialsError:
        return False
    return True


if not _have_credentials():
    pytest.skip("no Google Cloud credentials", allow_module_level=True)


def test_live_voices_and_synthesis() -> None:
    from lipdub.voice.google import GoogleVoiceSynth

    synth = GoogleVoiceSynth()
    voices = synth.list_voices("es")
    assert voices and all(v.supports("es") for v in voices)
    clip = synth.synthesize("Hola, ¿qué tal? <todo bien> & más.", language="es", rate=1.1)
    assert 0.5 < clip.duration_s < 10 and clip.rms() > 0.01


def test_live_round_trip_speech() -> None:
    from lipdub.transcribe.google import GoogleTranscriber
    from lipdub.voice.google import GoogleVoiceSynth

    clip = GoogleVoiceSynth().synthesize("Good morning. The weather is nice today.", language="en")
    t = GoogleTranscriber().transcribe(clip, "en-US")
    text = t.text.lower()
    assert "morning" in text and "weather" in text
    assert t.segments[0].start_s < 1.0 and t.segments[-1].end_s <= clip.duration_s + 0.5
    assert np.isfinite(t.segments[0].end_s)


@pytest.mark.skipif(
    not (os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCLOUD_PROJECT")),
    reason="set GOOGLE_CLOUD_PROJECT for Translation v3",
)
def test_live_translation() -> None:
    from lipdub.translate.google import GoogleTranslator

    out = GoogleTranslator().translate(["Good morning.", "", "Thank you very much."], "en", "es")
    assert len(out) == 3 and out[1] == ""
    assert "buenos" in out[0].lower() and "gracias" in out[2].lower()
