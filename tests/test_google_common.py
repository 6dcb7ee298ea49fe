"""Shared Google plumbing: credentials errors, retry/backoff, error mapping, redaction."""

from __future__ import annotations

import logging
import pickle
import random
from pathlib import Path

import grpc
import pytest

pytest.importorskip("google.cloud.texttospeech_v1")

from google.api_core import exceptions as gexc

from lipdub import registry
from lipdub._google import call_with_retry, load_credentials, map_error, redact
from lipdub.errors import CloudServiceError, CredentialsError, LipdubError
from lipdub.retry import RetryPolicy
from lipdub.testing.google import FakeGoogleCloud, isolate_google_environment
from lipdub.transcribe.google import GoogleTranscriber
from lipdub.translate.google import GoogleTranslator
from lipdub.voice.google import GoogleVoiceSynth

FAST = RetryPolicy(max_attempts=4, initial_delay_s=0.001, max_delay_s=0.002, timeout_s=10)


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_google_environment(monkeypatch, tmp_path)


# ----------------------------------------------------------------------------- credentials


@pytest.mark.parametrize("kind", ["transcriber", "translator", "voice"])
def test_no_credentials_raise_actionable_error_at_construction(
    no_credentials: None, kind: str
) -> None:
    with pytest.raises(CredentialsError) as err:
        registry.resolve(kind, "google")  # type: ignore[arg-type]
    text = str(err.value)
    assert "gcloud auth application-default login" in text
    assert "GOOGLE_APPLICATION_CREDENTIALS" in text
    assert err.value.backend == "google"
    assert "\n" not in text  # one line for the CLI


def test_missing_credentials_file_names_the_path(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nope" / "key.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    with pytest.raises(CredentialsError) as err:
        GoogleVoiceSynth()
    assert str(missing) in str(err.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(err.value)
    with pytest.raises(CredentialsError, match="credentials_path"):
        GoogleTranscriber(credentials_path=missing)


def test_invalid_credentials_file_is_a_credentials_error(
    no_credentials: None, tmp_path: Path
) -> None:
    bad = tmp_path / "key.json"
    bad.write_text('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----abc"}')
    with pytest.raises(CredentialsError) as err:
        load_credentials(bad)
    assert "BEGIN PRIVATE KEY" not in str(err.value)
    assert str(bad) in str(err.value)


def test_translator_without_project_says_how_to_set_one(no_credentials: None) -> None:
    with FakeGoogleCloud() as fake, pytest.raises(CredentialsError, match="GOOGLE_CLOUD_PROJECT"):
        GoogleTranslator(client=fake.translation_client())


def test_credentials_error_pickles() -> None:
    err = CredentialsError("no creds", backend="google", hint="log in")
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, CredentialsError) and str(again) == str(err)


# ----------------------------------------------------------------------------- retry


def test_backoff_is_exponential_bounded_and_jittered() -> None:
    p = RetryPolicy(initial_delay_s=0.5, max_delay_s=4.0, multiplier=2.0, jitter=0.0)
    assert [p.delay_s(k) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    j = RetryPolicy(initial_delay_s=1.0, max_delay_s=8.0, jitter=0.5)
    rng = random.Random(0)
    delays = [j.delay_s(2, rng) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert max(delays) - min(delays) > 1.0  # really random


def test_call_with_retry_retries_transient_then_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise gexc.ServiceUnavailable("try later")
        return "ok"

    policy = RetryPolicy(max_attempts=5, initial_delay_s=0.1, jitter=0.0)
    with caplog.at_level(logging.WARNING):
        assert call_with_retry(flaky, what="x", policy=policy, sleep=slept.append) == "ok"
    assert len(calls) == 3
    assert slept == [0.1, 0.2]


def test_call_with_retry_gives_up_after_max_attempts() -> None:
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise gexc.DeadlineExceeded("slow")

    with pytest.raises(CloudServiceError, match="unavailable") as err:
        call_with_retry(down, what="list voices", policy=FAST, sleep=lambda s: None)
    assert len(calls) == FAST.max_attempts
    assert isinstance(err.value.__cause__, gexc.DeadlineExceeded)


@pytest.mark.parametrize(
    ("exc", "cls", "words"),
    [
        (gexc.PermissionDenied("API not enabled"), CloudServiceError, "enable the API"),
        (gexc.InvalidArgument("bad voice"), CloudServiceError, "bad voice"),
        (gexc.Unauthenticated("expired"), CredentialsError, "gcloud auth"),
    ],
)
def test_permanent_errors_are_not_retried(exc: Exception, cls: type, words: str) -> None:
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise exc

    with pytest.raises(cls) as err:
        call_with_retry(fail, what="synthesize", policy=FAST, sleep=lambda s: None)
    assert len(calls) == 1
    assert words in str(err.value)
    assert isinstance(err.value, LipdubError)


# ----------------------------------------------------------------------------- redaction


def test_redact_removes_tokens_keys_and_private_keys() -> None:
    key = "AIza" + "B" * 35
    text = (
        f"Authorization: Bearer ya29.a0AfH6SMBsecret url?key={key}&x=1 "
        '{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}'
    )
    out = redact(text)
    for secret in ("a0AfH6SMBsecret", key, "MIIE"):
        assert secret not in out


def test_missing_quota_project_gets_the_gcloud_fix() -> None:
    msg = "Your application is authenticating by using local Application Default Credentials. The texttospeech.googleapis.com API requires a quota project"  # noqa: E501
    err = map_error(gexc.PermissionDenied(msg), what="list voices", backend="google")
    assert isinstance(err, CredentialsError)
    assert "set-quota-project" in str(err)


def test_service_messages_are_redacted_in_errors() -> None:
    err = map_error(
        gexc.PermissionDenied("denied for token ya29.SECRET"), what="x", backend="google"
    )
    assert "SECRET" not in str(err)


def test_real_grpc_permission_denied_surfaces_service_message() -> None:
    with FakeGoogleCloud() as fake:
        fake.fail(
            "ListVoices", grpc.StatusCode.PERMISSION_DENIED, "Cloud TTS API has not been used"
        )
        synth = GoogleVoiceSynth(client=fake.tts_client(), retry=FAST)
        with pytest.raises(CloudServiceError, match="Cloud TTS API has not been used"):
            synth.list_voices()
        assert len(fake.requests["ListVoices"]) == 1


def test_cli_voices_without_credentials_prints_one_actionable_line(
    no_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main

    assert main(["voices", "--backend", "google"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "gcloud auth application-default login" in err


def _service_account_file(path: Path, project: str) -> Path:
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "abc123",
        "private_key": pem,
        "client_email": f"dubber@{project}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return path


def test_service_account_file_gives_credentials_and_project(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("cryptography")
    key = _service_account_file(tmp_path / "sa.json", "sa-project")
    creds, project = load_credentials(key)
    assert project == "sa-project"
    assert creds.service_account_email == "dubber@sa-project.iam.gserviceaccount.com"
    # the translator takes its project from the key; nothing is sent at construction
    assert GoogleTranslator(credentials_path=key).parent == "projects/sa-project/locations/global"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    assert GoogleTranslator().project_id == "sa-project"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "override")
    assert GoogleTranslator().project_id == "override"
