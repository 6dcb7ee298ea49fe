"""The Demucs separator: same stems as demucs.apply.apply_model, streaming, conformance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lipdub.events import EventRecorder, Progress
from lipdub.testing.conformance import SeparatorConformance
from lipdub.types import AudioClip

torch = pytest.importorskip("torch")
pytest.importorskip("demucs", reason="demucs is not installed (pip install 'lipdub[separate]')")

from demucs.apply import apply_model  # noqa: E402
from demucs.htdemucs import HTDemucs  # noqa: E402

from lipdub.separate.demucs import (  # noqa: E402
    DemucsSeparator,
    StreamResampler,
    iter_stems,
    load_demucs_file,
)

SOURCES = ["drums", "bass", "other", "vocals"]


def small_htdemucs(seed: int = 0) -> HTDemucs:
    """A random-weight HTDemucs (the published class, small widths, 2 s segments)."""
    torch.manual_seed(seed)
    model = HTDemucs(
        sources=SOURCES,
        channels=8,
        depth=4,
        t_layers=1,
        bottom_channels=0,
        segment=2,
        nfft=1024,
        t_hidden_scale=1.0,
    )
    return model.eval()


def save_published(model: HTDemucs, path: Path) -> Path:
    """Save ``model`` as the Hub's Demucs safetensors files are: class and args in metadata."""
    from safetensors.torch import save_file

    args, kwargs = model._init_args_kwargs
    metadata = {
        "klass": "demucs.htdemucs.HTDemucs",
        "args": json.dumps(list(args)),
        "kwargs": json.dumps(kwargs),
    }
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_published(small_htdemucs(), tmp_path_factory.mktemp("demucs") / "m.safetensors")


def _reader(mix: torch.Tensor):  # type: ignore[no-untyped-def]
    def read(a: int, b: int) -> torch.Tensor:
        out = torch.zeros(mix.shape[0], b - a)
        lo, hi = max(a, 0), min(b, mix.shape[1])
        out[:, lo - a : hi - a] = mix[:, lo:hi]
        return out

    return read


@pytest.mark.parametrize("seconds,overlap", [(5.3, 0.25), (1.2, 0.25), (6.0, 0.5)])
def test_streaming_stems_equal_apply_model(seconds: float, overlap: float) -> None:
    model = small_htdemucs()
    gen = torch.Generator().manual_seed(1)
    mix = torch.randn(2, int(44100 * seconds), generator=gen)
    ref = apply_model(model, mix[None], shifts=0, split=True, overlap=overlap)[0]
    blocks = list(iter_stems(model, _reader(mix), mix.shape[1], overlap=overlap))
    got = torch.cat([b for _, b in blocks], dim=-1)
    assert [s for s, _ in blocks] == sorted(s for s, _ in blocks)
    assert got.shape == ref.shape == (4, 2, mix.shape[1])
    assert torch.equal(got, ref)


def test_the_published_file_loads_to_the_same_model(model_file: Path) -> None:
    loaded = load_demucs_file(model_file)
    ref = small_htdemucs()
    x = torch.randn(1, 2, 44100 * 2)
    with torch.no_grad():
        assert torch.equal(loaded(x), ref(x))


def test_separator_gives_apply_model_stems_at_the_model_rate(model_file: Path) -> None:
    rate = 44100
    gen = np.random.default_rng(2)
    x = (0.1 * gen.standard_normal(int(rate * 3.7))).astype(np.float32)
    sep = DemucsSeparator(model_file, device="cpu").separate(AudioClip(x, rate))
    model = small_htdemucs()
    mix = torch.from_numpy(x.astype(np.float64))
    mean, std = float(mix.mean()), float(mix.std(unbiased=False))
    norm = ((mix - mean) / std).float()[None].expand(2, -1)
    ref = apply_model(model, norm[None], shifts=0, split=True)[0].mean(dim=1).double()
    voice = ref[3] * std
    background = ref[:3].sum(0) * std + mean
    np.testing.assert_allclose(sep.voice.samples, voice.numpy(), atol=1e-6)
    np.testing.assert_allclose(sep.background.samples, background.numpy(), atol=1e-6)


def test_separator_resamples_like_a_whole_signal_resample(model_file: Path) -> None:
    from scipy.signal import resample_poly

    rate = 16000
    x = (0.1 * np.random.default_rng(3).standard_normal(rate * 5)).astype(np.float32)
    rec = EventRecorder()
    sep = DemucsSeparator(model_file, device="cpu").separate(AudioClip(x, rate), on_event=rec)
    up = resample_poly(x.astype(np.float64), 441, 160)
    mean, std = float(x.mean()), float(x.std())
    norm = torch.from_numpy(((up - mean) / std).astype(np.float32))[None].expand(2, -1)
    ref = apply_model(small_htdemucs(), norm[None], shifts=0, split=True)[0].mean(dim=1)
    voice = resample_poly(ref[3].double().numpy(), 160, 441)[: x.size] * std
    np.testing.assert_allclose(sep.voice.samples, voice, atol=1e-5)
    progress = [e for e in rec.events if isinstance(e, Progress)]
    assert progress and progress[-1].done == progress[-1].total == 4


def test_stream_resampler_equals_resample_poly() -> None:
    from scipy.signal import resample_poly

    x = np.random.default_rng(4).standard_normal((2, 44100))
    for a, b in [(44100, 16000), (16000, 44100), (44100, 24000), (8000, 8000)]:
        rs = StreamResampler(a, b, x.shape[1], 2)
        parts = [rs.push(x[:, i : i + 3001]) for i in range(0, x.shape[1], 3001)]
        y = np.concatenate([*parts, rs.finish()], axis=1)
        g = np.gcd(a, b)
        np.testing.assert_allclose(y, resample_poly(x, b // g, a // g, axis=1), atol=1e-9)


def test_settings_name_a_local_file_by_its_content(model_file: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere.safetensors"
    moved.write_bytes(model_file.read_bytes())
    assert DemucsSeparator(model_file).settings() == DemucsSeparator(moved).settings()
    assert DemucsSeparator().settings()["model"] == "htdemucs"


def test_a_file_that_is_not_demucs_is_refused(tmp_path: Path) -> None:
    from lipdub.errors import CheckpointError

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="not a Demucs"):
        DemucsSeparator(bad).separate(AudioClip(np.zeros(100, np.float32), 16000))


def test_htdemucs_is_in_the_catalogue() -> None:
    from lipdub.hub import lookup

    spec = lookup("htdemucs")
    assert spec.repo_id == "adefossez/HTDemucs" and spec.slot == "separator"


class TestDemucsSeparator(SeparatorConformance):
    @pytest.fixture(autouse=True)
    def _file(self, model_file: Path) -> None:
        self.path = model_file

    def make_separator(self):  # type: ignore[no-untyped-def]
        return DemucsSeparator(self.path, device="cpu")

    def make_changed_backend(self):  # type: ignore[no-untyped-def]
        return DemucsSeparator(self.path, device="cpu", overlap=0.5)


def test_a_dub_keeps_the_demucs_vocals_and_cuts_the_references_from_them(
    model_file: Path, make_video
) -> None:  # type: ignore[no-untyped-def]
    """The real separator path: vocals.wav is Demucs's voice stem, read by the voices stage."""
    from lipdub.dub.pipeline import DubbingPipeline
    from lipdub.testing import (
        FakeFaceDetector,
        FakeTranscriber,
        FakeTranslator,
        FakeVoiceSynth,
        PassThroughLipSyncer,
    )
    from lipdub.voice.match import MatchedVoiceSynth

    clip = make_video("talk.mp4", duration_s=6.0)
    wd = clip.with_name("wd")
    separator = DemucsSeparator(model_file, device="cpu")
    result = DubbingPipeline(
        transcriber=FakeTranscriber(),
        translator=FakeTranslator(),
        voice=MatchedVoiceSynth(FakeVoiceSynth()),
        detector=FakeFaceDetector(),
        lipsyncer=PassThroughLipSyncer(),
        separator=separator,
    ).run(clip, "es", workdir=wd, stop_after="translate")
    assert "separate" in result.ran and "voices" in result.ran  # separated before the voices
    source = AudioClip.load_wav(wd / "source.wav")
    vocals = AudioClip.load_wav(wd / "vocals.wav")
    spans = [(s.start_s, s.end_s) for s in result.source.segments]
    expect = separator.separate(source, spans).voice
    assert vocals.num_samples == expect.num_samples
    assert np.abs(vocals.samples - expect.samples).max() < 1e-4  # 16-bit WAV rounding
    ref = AudioClip.load_wav(wd / "voices" / "S1.wav")
    assert ref.duration_s >= 1.0
