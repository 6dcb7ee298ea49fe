"""Offline first: one offline decision, a fast first failure, one-line CLI errors.

The CLI tests run the real command in a subprocess with an empty Hugging Face cache and
HF_ENDPOINT pointing at a closed port on 127.0.0.1, so nothing ever reaches a network.
The time bounds are the failure-latency bounds of issue #13 (the old behaviour waited
~25 s through huggingface_hub's retries), kept generous.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants
import pytest

from lipdub import hub
from lipdub._deps import parse_device, parse_dtype
from lipdub.errors import InputError, ModelNotFoundError
from lipdub.hub import offline as hub_offline
from lipdub.types import AudioClip

ROOT = Path(__file__).resolve().parents[1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RefusingHub:
    """A hub address on 127.0.0.1 that counts connection attempts and drops each at once.

    "Fails fast" is checked by counting, not timing: one look at the hub, no retries.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # a reset: the hub cannot be reached

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def refusing_hub() -> Iterator[RefusingHub]:
    hub_ = RefusingHub()
    yield hub_
    hub_.close()


@pytest.fixture
def offline_env(tmp_path: Path, refusing_hub: RefusingHub) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_CACHE=str(tmp_path / "hf" / "hub"),
        HF_ENDPOINT=f"http://127.0.0.1:{refusing_hub.port}",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture(autouse=True)
def _reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_offline, "_forced_offline", False)
    monkeypatch.setattr(hub_offline, "_reachability", {})


def _cli(
    args: list[str], env: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], None]:
    out = subprocess.run(
        [sys.executable, "-m", "lipdub.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )
    return out, None


@pytest.mark.parametrize("hf_offline", [False, True])
def test_transcribe_without_model_fails_fast_in_one_line(
    tmp_path: Path, offline_env: dict[str, str], hf_offline: bool, refusing_hub: RefusingHub
) -> None:
    AudioClip.silence(1.0, 16000).save_wav(tmp_path / "speech.wav")
    if hf_offline:
        offline_env["HF_HUB_OFFLINE"] = "1"
    out, _ = _cli(["transcribe", "speech.wav", "-o", "t.json"], offline_env, tmp_path)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "Traceback" not in text and "Retrying" not in text
    assert len(text.splitlines()) <= 3, text
    assert "Whisper model 'small'" in text and "486 MB" in text
    assert "lipdub weights download whisper-small" in text
    assert "--opt model=DIR" in text  # the transcribe command's own --opt form
    assert "huggingface-cli" not in text
    if hf_offline:
        assert "HF_HUB_OFFLINE=1 is set" in text and "127.0.0.1" not in text
        assert refusing_hub.connections == 0  # offline: the hub is not even asked
    else:
        assert "cannot be reached" in text and "unset HF_HUB_OFFLINE" not in text
        assert 1 <= refusing_hub.connections <= 2, refusing_hub.connections  # no retries
    assert not (tmp_path / "t.json").exists()


def test_offline_flag_on_transcribe_and_weights_download(
    tmp_path: Path, offline_env: dict[str, str]
) -> None:
    AudioClip.silence(0.5, 16000).save_wav(tmp_path / "speech.wav")
    out, _ = _cli(
        ["transcribe", "speech.wav", "--offline", "--model", "tiny"], offline_env, tmp_path
    )
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "--offline was given" in out.stderr
    assert "lipdub weights download whisper-tiny" in out.stderr
    out, _ = _cli(["weights", "download", "opus-en-es", "--offline"], offline_env, tmp_path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "gaudi/opus-mt-en-es-ctranslate2" in out.stderr and "drop --offline" in out.stderr
    # weights download never tells the user to run weights download
    assert "run `lipdub weights download" not in out.stderr


def test_weights_download_unreachable_hub_one_line(
    tmp_path: Path, offline_env: dict[str, str], refusing_hub: RefusingHub
) -> None:
    out, _ = _cli(["weights", "download", "wav2lip_gan"], offline_env, tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert "cannot be reached" in out.stderr and "435.8 MB" in out.stderr
    assert "check the network connection" in out.stderr
    assert 1 <= refusing_hub.connections <= 2, refusing_hub.connections  # no retries


def test_every_downloading_command_has_offline() -> None:
    from lipdub.cli import build_parser

    parser = build_parser()
    for command in ("dub", "lipsync", "transcribe", "translate", "speak", "weights"):
        extra = ["download"] if command == "weights" else []
        required = {
            "dub": ["in.mp4", "--to", "es"],
            "lipsync": ["--face", "f", "--audio", "a", "-o", "o.mp4"],
            "transcribe": ["in.wav"],
            "translate": ["t.json", "--to", "es"],
            "speak": ["hi", "-o", "o.wav"],
            "weights": [],
        }[command]
        args = parser.parse_args([command, *extra, *required, "--offline"])
        assert args.offline is True, command


# ----------------------------------------------------------------- the offline decision


def test_is_offline_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not hub.is_offline()
    assert hub_offline.offline_reason() is None
    assert hub.is_offline(local_files_only=True)
    assert "local_files_only" in str(hub_offline.offline_reason(True))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.is_offline() and "HF_HUB_OFFLINE=1" in str(hub_offline.offline_reason())
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert hub.is_offline()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    hub.set_offline(True)
    assert hub.is_offline() and hub_offline.offline_reason() == "--offline was given"
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    hub.set_offline(False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not hub.is_offline()


def test_unreachable_hub_is_probed_once(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    reason = hub.hub_unreachable_reason(endpoint)
    assert reason is not None and "Connect" in reason
    assert hub_offline._reachability[endpoint] == reason
    with pytest.raises(ModelNotFoundError) as err:
        hub.resolve_weights("s3fd", cache_dir=tmp_path, endpoint=endpoint)
    msg = str(err.value)
    assert "cannot be reached" in msg and "lipdub weights download s3fd" in msg
    assert "\n" not in msg


def test_reachable_fake_hub(tmp_path: Path) -> None:
    from lipdub.testing.checkpoints import FakeHubServer

    with FakeHubServer({}) as server:
        assert hub.hub_unreachable_reason(server.endpoint) is None


def test_quiet_hub_hides_hub_warnings(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging
    import warnings

    hf = logging.getLogger("huggingface_hub.utils._http")
    # the CLI's main() (run in-process by other tests) quiets this logger for good
    for name, level in (("huggingface_hub", logging.NOTSET), ("lipdub", logging.WARNING)):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "level", logger.level)  # restored after the test
        logger.setLevel(level)  # setLevel also clears logging's level cache
    caplog.set_level(logging.WARNING)
    with hub_offline.quiet_hub(), warnings.catch_warnings(record=True) as seen:
        hf.warning("Retrying in 1s [Retry 1/5].")
        warnings.warn("chatter", UserWarning, stacklevel=1)
    assert not any("Retrying" in r.getMessage() for r in caplog.records)
    assert not seen
    hf.warning("after")
    assert any("after" in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------- one device parser


def test_parse_device() -> None:
    import torch

    assert parse_device("cpu") == "cpu" and parse_device(" CPU ") == "cpu"
    assert parse_device(torch.device("cpu")) == "cpu"
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert parse_device(None) == want and parse_device("auto") == want
    assert parse_device("cuda:1", check=False) == "cuda:1"
    for bad in ("gpu", "cuda:x", "cuda1", "", "tpu"):
        with pytest.raises(InputError, match="valid: auto, cpu, cuda, cuda:N"):
            parse_device(bad)
    with pytest.raises(InputError, match="valid"):
        parse_device("mps", engine="ctranslate2")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            parse_device("cuda")
        with pytest.raises(InputError, match="CUDA is not available"):
            parse_device("cuda:1")


def test_parse_dtype() -> None:
    assert parse_dtype(None, "cuda:0", what="X", cpu_dtypes=("float32",)) == "float16"
    assert parse_dtype("bf16", "cpu", what="X", cpu_dtypes=("float32", "bfloat16")) == "bfloat16"
    with pytest.raises(InputError, match="not supported on the CPU for X"):
        parse_dtype("half", "cpu", what="X", cpu_dtypes=("float32",))
    with pytest.raises(InputError, match="unknown dtype"):
        parse_dtype("int8", "cpu", what="X", cpu_dtypes=("float32",))


def test_loaders_share_the_device_parser() -> None:
    import torch

    from lipdub.faces.s3fd import S3FDFaceDetector
    from lipdub.models.s3fd import S3FD
    from lipdub.transcribe.whisper import WhisperTranscriber
    from lipdub.translate.opus import OpusTranslator

    for make in (
        lambda d: WhisperTranscriber("tiny", device=d),
        lambda d: OpusTranslator(device=d),
        lambda d: S3FDFaceDetector(S3FD(), device=d),
    ):
        with pytest.raises(InputError, match="valid: auto, cpu, cuda, cuda:N"):
            make("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            S3FDFaceDetector(S3FD(), device="cuda")
        with pytest.raises(InputError, match="CUDA is not available"):
            WhisperTranscriber("tiny", device="cuda:0")._device_and_type()


def test_offline_flag_in_process_is_undone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main

    assert main(["weights", "download", "s3fd", "--offline", "--cache-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--offline was given" in err and "89.8 MB" in err
    assert not hub.is_offline() and "HF_HUB_OFFLINE" not in os.environ


def test_cli_checkpoint_that_is_a_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main

    args = ["lipsync", "--face", "f.mp4", "--audio", "a.wav", "-o", str(tmp_path / "o.mp4")]
    assert main([*args, "--checkpoint", "/dev/null"]) == 1
    err = capsys.readouterr().err
    assert "/dev/null is a character device, not a weights file" in err and "folder" not in err
    assert main([*args, "--checkpoint", str(tmp_path)]) == 1
    assert "is a folder, not a weights file" in capsys.readouterr().err


def test_opus_hint_names_the_pair(tmp_path: Path) -> None:
    from lipdub.translate.opus import OpusTranslator

    mt = OpusTranslator(cache_dir=tmp_path, local_files_only=True)
    with pytest.raises(ModelNotFoundError) as err:
        mt.translate(["Hello."], "en", "de")
    msg = str(err.value)
    assert "lipdub weights download opus-en-de" in msg
    assert '--opt translator.models=\'{"en-de": "DIR"}\'' in msg
    assert "models={'en-de': DIR}" in msg and "~155 MB" in msg


def test_probe_of_a_silent_server_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts but never answers costs the probe timeout, once."""
    monkeypatch.setenv("LIPDUB_HUB_TIMEOUT", "0.5")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        reason = hub.hub_unreachable_reason(endpoint)
        assert reason is not None and "Timeout" in reason
        assert hub.hub_unreachable_reason(endpoint) == reason  # remembered
