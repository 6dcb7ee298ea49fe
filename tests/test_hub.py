"""lipdub.hub: resolving, verifying and loading weights, all offline."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

from lipdub import hub
from lipdub.errors import CheckpointError, ChecksumMismatch, InputError, ModelNotFoundError
from lipdub.hub import KNOWN_WEIGHTS, WeightsSpec, load_state_dict, resolve_weights
from lipdub.testing.checkpoints import (
    FakeHubServer,
    prefilled_hub_cache,
    random_state_dict,
    spec_for_file,
    write_random_checkpoint,
)

TINY = [
    ["conv.weight", [4, 3, 3, 3], "float32"],
    ["conv.bias", [4], "float32"],
    ["bn.running_var", [4], "float32"],
    ["bn.num_batches_tracked", [], "int64"],
]
TINY_KEYS = [k for k, _, _ in TINY]

S3FD_LIKE = [
    ["conv1_1.weight", [4, 3, 3, 3], "float32"],
    ["conv1_1.bias", [4], "float32"],
    ["conv3_3_norm_mbox_conf.weight", [4, 4, 3, 3], "float32"],
]


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test online; huggingface_hub also keeps the flag it read at import."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_known_weights_table() -> None:
    assert set(KNOWN_WEIGHTS) >= {"wav2lip", "wav2lip_gan", "s3fd", "syncnet"}
    w = KNOWN_WEIGHTS["wav2lip"]
    assert (w.repo_id, w.filename, w.size, w.sha256_prefix) == (
        "Nekochu/Wav2Lip",
        "wav2lip.pth",
        435_807_851,
        "b78b681b",
    )
    s = KNOWN_WEIGHTS["s3fd"]
    assert (s.repo_id, s.filename, s.size) == (
        "camenduru/Wav2Lip",
        "checkpoints/s3fd-619a316812.pth",
        89_843_225,
    )
    assert "non-commercial" in KNOWN_WEIGHTS["wav2lip_gan"].licence
    with pytest.raises(TypeError):
        KNOWN_WEIGHTS["x"] = w  # type: ignore[index]


def test_local_path_is_returned_and_revision_rejected(tmp_path: Path) -> None:
    p = write_random_checkpoint(tmp_path / "w.pth", TINY)
    assert resolve_weights(p) == p
    assert resolve_weights(str(p)) == p
    with pytest.raises(InputError, match="revision"):
        resolve_weights(p, revision="main")


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        resolve_weights("wav2lipp")
    assert "wav2lip_gan" in str(err.value)


def test_missing_offline_names_repo_file_and_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        resolve_weights("wav2lip_gan", cache_dir=tmp_path)
    msg = str(err.value)
    assert "Nekochu/Wav2Lip" in msg
    assert "wav2lip_gan.pth" in msg
    assert "lipdub weights download wav2lip_gan" in msg
    assert "local path" in msg


def test_missing_with_local_files_only(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="camenduru/Wav2Lip"):
        resolve_weights("s3fd", cache_dir=tmp_path, local_files_only=True)


def test_prefilled_cache_found_offline_and_verified(tmp_path: Path) -> None:
    ckpt = write_random_checkpoint(tmp_path / "tiny.pth", TINY)
    spec = spec_for_file("tiny-test", ckpt)
    snap = prefilled_hub_cache(tmp_path / "cache", spec, ckpt)
    got = resolve_weights(spec, cache_dir=tmp_path / "cache", local_files_only=True)
    assert got == snap
    assert got.read_bytes() == ckpt.read_bytes()
    # the verification is remembered beside the blob
    marker = got.resolve().with_name(got.resolve().name + ".lipdub-verified")
    assert marker.is_file()
    assert resolve_weights(spec, cache_dir=tmp_path / "cache", local_files_only=True) == snap


def test_registered_custom_weights(tmp_path: Path) -> None:
    ckpt = write_random_checkpoint(tmp_path / "tiny.pth", TINY)
    spec = spec_for_file("tiny-registered", ckpt)
    hub.register_weights(spec)
    with pytest.raises(InputError):
        hub.register_weights(
            spec_for_file(
                "tiny-registered", write_random_checkpoint(tmp_path / "other.pth", TINY, seed=1)
            )
        )
    prefilled_hub_cache(tmp_path / "cache", "tiny-registered", ckpt)
    got = resolve_weights("tiny-registered", cache_dir=tmp_path / "cache", local_files_only=True)
    assert load_state_dict(got, expected_keys=TINY_KEYS, what="tiny").keys() == set(TINY_KEYS)


def test_random_file_under_known_name_fails_checksum(tmp_path: Path) -> None:
    ckpt = write_random_checkpoint(tmp_path / "w.pth", TINY)
    prefilled_hub_cache(tmp_path / "cache", "wav2lip", ckpt)
    with pytest.raises(ChecksumMismatch) as err:
        resolve_weights("wav2lip", cache_dir=tmp_path / "cache", local_files_only=True)
    msg = str(err.value)
    assert "435,807,851" in msg and "lipdub weights download wav2lip" in msg
    # tests with random weights opt out explicitly
    got = resolve_weights(
        "wav2lip", cache_dir=tmp_path / "cache", local_files_only=True, verify=False
    )
    assert got.read_bytes() == ckpt.read_bytes()


def test_wrong_hash_same_size(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"a" * 100)
    spec = WeightsSpec("hash-test", "me/x", "f.bin", None, 100, "deadbeef")
    with pytest.raises(ChecksumMismatch, match="sha256"):
        hub.verify_file(p, spec)
    good = WeightsSpec("hash-test", "me/x", "f.bin", None, 100, hub.sha256_file(p)[:8])
    hub.verify_file(p, good)


def test_stale_marker_is_not_trusted(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"a" * 100)
    spec = WeightsSpec("stale", "me/x", "f.bin", None, 100, hub.sha256_file(p)[:8])
    hub.verify_file(p, spec)
    p.write_bytes(b"b" * 100)  # same size, new content, new mtime
    os.utime(p, ns=(1, 1))
    with pytest.raises(ChecksumMismatch):
        hub.verify_file(p, spec)


def test_download_verify_and_licence_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real download (from a local fake Hub): cached, verified, licence logged once."""
    hub._licence_logged.clear()
    a = write_random_checkpoint(tmp_path / "a.pth", TINY, seed=1)
    b = write_random_checkpoint(tmp_path / "b.pth", TINY, seed=2)
    spec_a = dataclasses.replace(spec_for_file("dl-a", a), licence="NC only")
    spec_b = dataclasses.replace(spec_for_file("dl-b", b), licence="NC only")
    caplog.set_level(logging.INFO, logger="lipdub.hub")
    files = {(spec_a.repo_id, "a.pth"): a, (spec_b.repo_id, "b.pth"): b}
    with FakeHubServer(files) as server:
        got_a = resolve_weights(spec_a, cache_dir=tmp_path / "c", endpoint=server.endpoint)
        got_b = resolve_weights(spec_b, cache_dir=tmp_path / "c", endpoint=server.endpoint)
        n_requests = len(server.requests)
        # cached now: no more requests
        again = resolve_weights(spec_a, cache_dir=tmp_path / "c", endpoint=server.endpoint)
        assert len(server.requests) == n_requests
    assert got_a.read_bytes() == a.read_bytes() and got_b.read_bytes() == b.read_bytes()
    assert again == got_a
    assert "models--lipdub-test--weights" in str(got_a)
    assert sum("NC only" in r.getMessage() for r in caplog.records) == 1
    assert any("downloading dl-a" in r.getMessage() for r in caplog.records)


def test_download_of_wrong_file_is_rejected(tmp_path: Path) -> None:
    """The Hub serves a small file under the published name (like camenduru's 167 kB one)."""
    small = write_random_checkpoint(tmp_path / "wav2lip.pth", TINY)
    spec = KNOWN_WEIGHTS["wav2lip"]
    files = {(spec.repo_id, spec.filename): small}
    with FakeHubServer(files) as server, pytest.raises(ChecksumMismatch) as err:
        hub.download_weights("wav2lip", cache_dir=tmp_path / "c", endpoint=server.endpoint)
    msg = str(err.value)
    assert "expected 435,807,851 bytes" in msg and "not wav2lip.pth" in msg


def test_download_missing_on_server(tmp_path: Path) -> None:
    with FakeHubServer({}) as server, pytest.raises(ModelNotFoundError) as err:
        resolve_weights("syncnet", cache_dir=tmp_path / "c", endpoint=server.endpoint)
    msg = str(err.value)
    assert "could not download syncnet" in msg
    assert "camenduru/Wav2Lip" in msg and "lipdub weights download syncnet" in msg


# ----------------------------------------------------------------- load_state_dict


@pytest.mark.parametrize("fmt", ["original", "bare", "safetensors"])
def test_load_formats(tmp_path: Path, fmt: str) -> None:
    suffix = ".safetensors" if fmt == "safetensors" else ".pth"
    p = write_random_checkpoint(tmp_path / f"w{suffix}", TINY, format=fmt)  # type: ignore[arg-type]
    sd = load_state_dict(p, expected_keys=TINY_KEYS, what="tiny")
    ref = random_state_dict(TINY)
    assert sd.keys() == ref.keys()
    for k in ref:
        assert torch.equal(sd[k], ref[k])


def test_html_page(tmp_path: Path) -> None:
    p = tmp_path / "wav2lip.pth"
    p.write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(CheckpointError, match="HTML page") as err:
        load_state_dict(p, what="Wav2Lip")
    assert str(p) in str(err.value)


def test_truncated_file(tmp_path: Path) -> None:
    p = write_random_checkpoint(tmp_path / "w.pth", TINY, format="original")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated") as err:
        load_state_dict(p, what="Wav2Lip")
    assert str(p) in str(err.value)


def test_truncated_safetensors(tmp_path: Path) -> None:
    p = write_random_checkpoint(tmp_path / "w.safetensors", TINY, format="safetensors")
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.raises(CheckpointError, match="safetensors"):
        load_state_dict(p, what="Wav2Lip")


def test_garbage_and_empty(tmp_path: Path) -> None:
    p = tmp_path / "g.pth"
    p.write_bytes(os.urandom(2000))
    with pytest.raises(CheckpointError):
        load_state_dict(p, what="Wav2Lip")
    p.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_state_dict(p, what="Wav2Lip")
    with pytest.raises(ModelNotFoundError):
        load_state_dict(tmp_path / "nope.pth", what="Wav2Lip")


def test_lfs_pointer(tmp_path: Path) -> None:
    p = tmp_path / "w.pth"
    p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n")
    with pytest.raises(CheckpointError, match="LFS"):
        load_state_dict(p, what="Wav2Lip")


def test_other_models_keys(tmp_path: Path) -> None:
    p = write_random_checkpoint(tmp_path / "s3fd.pth", S3FD_LIKE)
    with pytest.raises(CheckpointError) as err:
        load_state_dict(p, expected_keys=TINY_KEYS, what="Wav2Lip")
    msg = str(err.value)
    assert "expected 4 Wav2Lip tensors" in msg
    assert "3 keys like 'conv1_1.weight'" in msg
    assert "S3FD" in msg


def test_partial_keys_and_shapes(tmp_path: Path) -> None:
    p = write_random_checkpoint(tmp_path / "w.pth", TINY[:3])
    with pytest.raises(CheckpointError, match="1 missing"):
        load_state_dict(p, expected_keys=TINY_KEYS, what="tiny")
    p = write_random_checkpoint(tmp_path / "w2.pth", TINY)
    shapes = {k: s for k, s, _ in TINY}
    shapes["conv.weight"] = [8, 3, 3, 3]
    with pytest.raises(CheckpointError, match="shape"):
        load_state_dict(p, expected_shapes=shapes, what="tiny")


def test_non_tensor_dict(tmp_path: Path) -> None:
    p = tmp_path / "w.pth"
    torch.save({"global_step": 3, "optimizer": {}}, p)
    with pytest.raises(CheckpointError, match="no tensors"):
        load_state_dict(p, what="Wav2Lip")


def test_convert_weights(tmp_path: Path) -> None:
    p = write_random_checkpoint(tmp_path / "w.pth", TINY, format="original")
    out = hub.convert_weights(p, tmp_path / "w.safetensors", half=True)
    sd = load_state_dict(out, expected_keys=TINY_KEYS, what="tiny")
    assert sd["conv.weight"].dtype == torch.float16
    assert sd["bn.num_batches_tracked"].dtype == torch.int64
    ref = random_state_dict(TINY)
    assert torch.allclose(sd["conv.weight"].float(), ref["conv.weight"], atol=1e-3)
    full = hub.convert_weights(p, tmp_path / "f.safetensors")
    assert torch.equal(load_state_dict(full, what="tiny")["conv.weight"], ref["conv.weight"])
    with pytest.raises(InputError):
        hub.convert_weights(p, tmp_path / "w.bin")


def test_download_weights_unknown_name() -> None:
    with pytest.raises(ModelNotFoundError, match="known names"):
        hub.download_weights("nope")


# ----------------------------------------------------------------- checkpoint honesty


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_non_finite_weights_are_rejected(tmp_path: Path, bad: str) -> None:
    state = random_state_dict(TINY)
    state["conv.bias"][1] = float(bad)
    p = tmp_path / "w.pth"
    torch.save({"state_dict": state}, p)
    with pytest.raises(CheckpointError) as err:
        load_state_dict(p, expected_keys=TINY_KEYS, what="tiny")
    msg = str(err.value)
    assert str(p) in msg and "'conv.bias'" in msg and "NaN or infinite" in msg
    assert "1 of them" in msg
    assert load_state_dict(p, what="tiny", allow_nonfinite=True).keys() == set(TINY_KEYS)


def test_code_pickles_are_refused_without_weights_only_advice(tmp_path: Path) -> None:
    p = tmp_path / "module.pth"
    torch.save({"net": torch.nn.Linear(2, 2)}, p)
    with pytest.raises(CheckpointError) as err:
        load_state_dict(p, what="Wav2Lip")
    msg = str(err.value)
    assert "torch.nn.modules.linear.Linear" in msg and "refuses" in msg
    assert "weights_only" not in msg and "will likely succeed" not in msg
    assert err.value.__cause__ is None  # PyTorch's advice is not chained either


@pytest.mark.parametrize(
    ("bom", "codec"), [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"", "utf-8")]
)
def test_html_with_byte_order_mark(tmp_path: Path, bom: bytes, codec: str) -> None:
    p = tmp_path / "wav2lip_gan.pth"
    p.write_bytes(bom + "\n  <!DOCTYPE html><html>Sign in</html>".encode(codec))
    with pytest.raises(CheckpointError, match="HTML page"):
        load_state_dict(p, what="Wav2Lip")


def test_json_error_body(tmp_path: Path) -> None:
    p = tmp_path / "w.pth"
    p.write_text('{"error":"Repository not found"}')
    with pytest.raises(CheckpointError, match="JSON error"):
        load_state_dict(p, what="Wav2Lip")


def test_devices_pipes_and_folders_get_their_word(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="character device") as err:
        load_state_dict("/dev/null", what="Wav2Lip")
    assert "folder" not in str(err.value)
    with pytest.raises(ModelNotFoundError, match="character device") as err2:
        resolve_weights("/dev/null")
    assert "folder" not in str(err2.value)
    with pytest.raises(CheckpointError, match="a folder"):
        load_state_dict(tmp_path, what="Wav2Lip")
    with pytest.raises(ModelNotFoundError, match="a folder"):
        resolve_weights(tmp_path)
    fifo = tmp_path / "pipe.pth"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="named pipe"):
        load_state_dict(fifo, what="Wav2Lip")  # and does not block reading it
