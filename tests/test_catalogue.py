"""The one weights catalogue: entries, rules, `lipdub weights list/download`."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest

from lipdub import hub
from lipdub.cli import main
from lipdub.errors import ModelNotFoundError
from lipdub.events import EventRecorder, Progress, StageFinished, StageStarted
from lipdub.hub import KNOWN_WEIGHTS, lookup
from lipdub.hub import offline as hub_offline
from lipdub.testing.checkpoints import (
    FakeHubServer,
    prefilled_hub_cache,
    spec_for_file,
    write_random_checkpoint,
)

FULL = {
    "wav2lip": "b78b681b68ad9fe6c6fb1debc6ff43ad05834a8af8a62ffc4167b7b34ef63c37",
    "wav2lip_gan": "ca9ab7b7b812c0e80a6e70a5977c545a1e8a365a6c49d5e533023c034d7ac3d8",
    "syncnet": "9b9936c721696446eeed353032cab242a8cf0eed8c46cde540366f6ae5493be5",
    "s3fd": "619a31681264d3f7f7fc7a16a42cbbe8b23f31a256f75a366e5a1bcd59b33543",
}


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_offline, "_forced_offline", False)


def test_wav2lip_family_has_full_hashes_and_sizes() -> None:
    for name, digest in FULL.items():
        spec = KNOWN_WEIGHTS[name]
        assert spec.sha256 == digest and spec.sha256_prefix == digest[:8]
        assert spec.size is not None and spec.hash_text() == digest
    # the S3FD file name carries its own hash prefix (the PyTorch-hub convention)
    assert KNOWN_WEIGHTS["s3fd"].filename.endswith(FULL["s3fd"][:10] + ".pth")


def test_every_kind_is_in_one_table() -> None:
    specs = hub.all_specs()
    slots = {s.slot for s in specs}
    assert {"lipsyncer", "detector", "metric", "transcriber", "voice"} <= slots
    assert all(isinstance(s, hub.WeightsSpec) for s in specs)
    small = lookup("whisper-small")
    assert small.is_folder and small.pinned and small.sha256 is None
    assert small.size_text() == "~486 MB" and small.hash_text() == "sha256 unknown"
    assert lookup("whisper-large") is lookup("whisper-large-v3") or (
        lookup("whisper-large").repo_id == lookup("whisper-large-v3").repo_id
    )
    opus = lookup("opus-en-es")
    assert (opus.repo_id, opus.revision, opus.is_folder) == (
        "gaudi/opus-mt-en-es-ctranslate2",
        None,
        True,
    )
    assert not opus.pinned
    voice = lookup("piper-es_ES-davefx-medium")
    assert voice.repo_id == "rhasspy/piper-voices" and voice.revision == "v1.0.0"
    assert voice.extra_files == (voice.filename + ".json",) and not voice.pinned
    # any voice name works by rule, even one not in KNOWN_VOICES
    assert lookup("piper-de_DE-karlsson-low").filename == (
        "de/de_DE/karlsson/low/de_DE-karlsson-low.onnx"
    )


def test_backends_read_the_catalogue() -> None:
    from lipdub.transcribe.whisper import WHISPER_MODELS, WhisperTranscriber
    from lipdub.translate.opus import OpusTranslator

    assert WHISPER_MODELS["small"] is KNOWN_WEIGHTS["whisper-small"]
    stt = WhisperTranscriber("small", device="cpu")
    assert (stt.repo_id, stt.revision) == (
        lookup("whisper-small").repo_id,
        lookup("whisper-small").revision,
    )
    assert OpusTranslator().repo_for("en", "es") == lookup("opus-en-es").repo_id


def test_unknown_name_lists_names_and_rules() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        lookup("whisper-huge")
    msg = str(err.value)
    assert "whisper-small" in msg and "opus-SRC-TGT" in msg and "piper-VOICE" in msg


def test_weights_list_shows_size_pin_and_cache_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["weights", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    for name in (*FULL, "whisper-small", "piper-es_ES-davefx-medium", "opus-SRC-TGT"):
        assert name in rows, name
    assert "435.8 MB" in rows["wav2lip_gan"] and "full" in rows["wav2lip_gan"]
    assert "main (no pin)" in rows["wav2lip_gan"]
    assert "pin 536b066274" in rows["whisper-small"] and "unknown" in rows["whisper-small"]
    assert "tag v1.0.0" in rows["piper-es_ES-davefx-medium"]
    # a cached file is listed as such; verified once its hash was checked
    ckpt = write_random_checkpoint(tmp_path / "w.pth", [["w", [2, 2], "float32"]])
    spec = spec_for_file("list-test", ckpt)
    hub.register_weights(spec, replace=True)
    prefilled_hub_cache(tmp_path / "c", spec, ckpt)
    assert main(["weights", "list", "list-test", "--cache-dir", str(tmp_path / "c")]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert "unverified" in line
    hub.resolve_weights("list-test", cache_dir=tmp_path / "c", local_files_only=True)
    assert main(["weights", "list", "list-test", "--cache-dir", str(tmp_path / "c")]) == 0
    assert " verified" in capsys.readouterr().out


def test_download_emits_progress_events(tmp_path: Path) -> None:
    ckpt = write_random_checkpoint(tmp_path / "a.pth", [["w", [64, 64], "float32"]])
    spec = spec_for_file("progress-test", ckpt)
    hub.register_weights(spec, replace=True)
    rec = EventRecorder()
    with FakeHubServer({(spec.repo_id, spec.filename): ckpt}) as server:
        path = hub.download_weights(
            "progress-test", cache_dir=tmp_path / "c", endpoint=server.endpoint, on_event=rec
        )
    assert path.read_bytes() == ckpt.read_bytes()
    started = rec.of_type(StageStarted)
    assert started and started[0].stage == "download" and started[0].total == spec.size
    progress = [e for e in rec.of_type(Progress) if isinstance(e, Progress)]
    assert progress and progress[-1].done == spec.size
    assert rec.of_type(StageFinished)


def test_weights_download_command_requires_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "download"]) == 1
    assert "weights list" in capsys.readouterr().err
    assert main(["weights", "download", "nope-model"]) == 1
    assert "known names" in capsys.readouterr().err


def test_cached_folder_and_voice_are_found_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cache first: a pinned Whisper folder and a Piper voice (tag revision) need no Hub."""
    import dataclasses

    monkeypatch.setattr(hub_offline, "_reachability", {})
    cache = tmp_path / "cache"
    tiny = lookup("whisper-tiny")
    for name in ("model.bin", "config.json", "tokenizer.json"):
        src = tmp_path / name
        src.write_text(name)
        prefilled_hub_cache(cache, dataclasses.replace(tiny, filename=name), src)
    voice = lookup("piper-es_ES-davefx-medium")
    for rel in (voice.filename, *voice.extra_files):
        src = tmp_path / Path(rel).name
        src.write_text(rel)
        prefilled_hub_cache(cache, dataclasses.replace(voice, filename=rel), src, commit="c" * 40)
    closed = "http://127.0.0.1:9"
    folder = hub.fetch(tiny, cache_dir=cache, endpoint=closed)
    assert (folder / "model.bin").read_text() == "model.bin" and tiny.revision in str(folder)
    onnx = hub.fetch(voice, cache_dir=cache, endpoint=closed)
    assert onnx.name == "es_ES-davefx-medium.onnx" and onnx.with_suffix(".onnx.json").is_file()
    assert hub_offline._reachability == {}  # the Hub was never asked
    assert hub.cached_path(tiny, cache_dir=cache) == folder
    # and the whisper transcriber resolves it the same way
    from lipdub.transcribe.whisper import WhisperTranscriber

    stt = WhisperTranscriber("tiny", cache_dir=cache, device="cpu")
    assert stt.resolve_model_dir() == folder
