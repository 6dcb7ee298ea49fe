"""A diarizer that needs no token and no download: resemblyzer's bundled speaker encoder.

The ``resemblyzer`` wheel (Apache-2.0) ships a trained d-vector encoder
(``pretrained.pt``: a 3-layer LSTM over 40 mel bands, 256-d output). lipdub loads those
weights into its own small module (so resemblyzer's VAD dependency is never imported),
embeds overlapping windows of the voiced audio, clusters them (the number of speakers
is given, or counted by average-linkage agglomerative clustering on cosine distance;
the split refined by k-means on mean-centred embeddings, see :func:`cluster`) and turns
the window labels into speaker turns.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub._deps import parse_device, require_modules
from lipdub.diarize.base import Diarizer, SpeakerTurn
from lipdub.errors import InputError, ModelNotFoundError
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import AudioClip

if TYPE_CHECKING:
    import torch

__all__ = ["EmbeddedDiarizer", "cluster", "encoder_path"]

RATE = 16000
_N_FFT, _HOP, _MELS = 400, 160, 40  # 25 ms windows, 10 ms hop, as the encoder was trained


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


def _mel(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``(frames, 40)`` power mel spectrogram, the encoder's input.

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
    mel: npt.NDArray[np.float32] = (power @ _mel_filters().T).astype(np.float32)
    return mel


def _big_cut(tree: npt.NDArray[np.float64], k: int, min_size: int) -> npt.NDArray[np.int_]:
    """Window labels 0..k-1: the ``k`` largest clusters of the first cut holding ``k``
    clusters of at least ``min_size`` windows, the rest given to the nearest of them
    later (-1 for now); a plain ``k``-cluster cut when no cut has that many."""
    from scipy.cluster.hierarchy import fcluster

    n = len(tree) + 1
    for t in range(k, n + 1):
        raw = fcluster(tree, t=t, criterion="maxclust")
        ids, counts = np.unique(raw, return_counts=True)
        if (counts >= min_size).sum() >= k:
            keep = ids[np.argsort(-counts, kind="stable")][:k]
            out = np.full(n, -1, int)
            for j, c in enumerate(keep):
                out[raw == c] = j
            return out
    return np.asarray(fcluster(tree, t=k, criterion="maxclust"), int) - 1


def _refine(
    x: npt.NDArray[np.float64], labels: npt.NDArray[np.int_], k: int
) -> npt.NDArray[np.int_]:
    """Spherical k-means from ``labels`` (-1: unassigned): every window to its nearest centre."""
    for _ in range(20):
        centres = np.stack([x[labels == j].mean(axis=0) for j in range(k)])
        centres /= np.linalg.norm(centres, axis=1, keepdims=True).clip(1e-12)
        new = np.argmax(x @ centres.T, axis=1)
        if len(np.unique(new)) < k or np.array_equal(new, labels):
            break
        labels = new
    return labels


def cluster(
    embeddings: npt.NDArray[np.float32],
    num_speakers: int | None = None,
    *,
    max_speakers: int = 8,
    max_distance: float = 0.25,
    min_share: float = 0.1,
) -> npt.NDArray[np.int_]:
    """Cluster L2-normalised embeddings; labels 0..k-1 in order of first appearance.

    The count, when ``num_speakers`` is None, is how many clusters of average-linkage
    agglomerative clustering (cosine distance) still hold ``min_share`` of the windows
    when merging stops at ``max_distance`` (at least 1, at most ``max_speakers``): a
    few windows across a speaker change, a cough or a laugh make small clusters of
    their own and are not counted as speakers. Measured with resemblyzer's encoder,
    windows of one voice stay within ~0.2 of each other and two voices ~0.3 apart.

    The windows are then split in ``k``: embeddings centred on their mean (what all
    the windows share, the channel and the room, is taken out), the ``k`` largest
    clusters of the first agglomerative cut that has ``k`` clusters of that size,
    then every window to its nearest cluster centre (spherical k-means).

    Example:
        >>> e = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], np.float32)
        >>> cluster(e).tolist()
        [0, 0, 1, 1]
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    n = len(embeddings)
    if n < 2 or num_speakers == 1:
        return np.zeros(n, int)
    x = embeddings.astype(np.float64)
    min_size = max(2, int(np.ceil(min_share * n)))
    k = num_speakers
    if k is None:
        tree = linkage(pdist(x, metric="cosine"), method="average")
        _, counts = np.unique(
            fcluster(tree, t=max_distance, criterion="distance"), return_counts=True
        )
        k = int(np.clip((counts >= min_size).sum(), 1, max_speakers))
        if k == 1:
            return np.zeros(n, int)
    k = min(k, n)
    centred = x - x.mean(axis=0)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True).clip(1e-12)
    tree = linkage(pdist(centred, metric="cosine"), method="average")
    raw = _refine(centred, _big_cut(tree, k, min(min_size, n // k)), k)
    order: dict[int, int] = {}
    for r in raw:
        order.setdefault(int(r), len(order))
    return np.array([order[int(r)] for r in raw], int)


class EmbeddedDiarizer(Diarizer):
    """Speaker turns from resemblyzer's bundled encoder and clustering (no token, no download).

    Args:
        window_s: Length of each embedded window (the encoder saw 1.6 s).
        hop_s: Step between windows.
        min_speech_db: Frames quieter than the loudest by more than this are not speech.
        max_speakers: Upper bound when the count is found automatically.
        min_turn_s: Shorter turns are merged into their neighbours.
        relabel_window_s: With two or more speakers, windows this long (every
            ``relabel_hop_s``) are each given to the nearest speaker found with the long
            windows, so turns shorter than ``window_s`` (a "yes", an "mm-hm") are kept;
            None: the long windows' labels are the turns.
        relabel_hop_s: Step between those windows.
        num_speakers: How many speakers, when known (None: found by clustering);
            ``diarize(num_speakers=)`` overrides it.
        device: Where the encoder runs (``"auto"``, ``"cpu"``, ``"cuda"``).

    Reproducible: nothing is drawn at random (the clustering is agglomerative, and its
    k-means refinement starts from those labels), and turns are whole windows, so the
    encoder's last-digit differences between thread counts do not reach them: the same
    audio and settings give the same ``speakers.json`` (checked with 1 and 2 torch
    threads on ``tests/data/two_speakers.wav``).

    Example:
        >>> EmbeddedDiarizer(hop_s=0.25).settings()["hop_s"]
        0.25
    """

    name: ClassVar[str] = "resemblyzer"

    def __init__(
        self,
        *,
        window_s: float = 1.6,
        hop_s: float = 0.4,
        min_speech_db: float = -35.0,
        max_speakers: int = 8,
        min_turn_s: float = 0.4,
        relabel_window_s: float | None = 0.8,
        relabel_hop_s: float = 0.2,
        num_speakers: int | None = None,
        device: str | None = "cpu",
    ) -> None:
        if window_s <= 0 or hop_s <= 0 or max_speakers < 1 or min_turn_s < 0:
            raise InputError("window_s, hop_s > 0, max_speakers >= 1, min_turn_s >= 0")
        if (relabel_window_s is not None and relabel_window_s <= 0) or relabel_hop_s <= 0:
            raise InputError("relabel_window_s (or None) and relabel_hop_s must be > 0")
        self.relabel_window_s = relabel_window_s
        self.relabel_hop_s = relabel_hop_s
        self.window_s = window_s
        self.hop_s = hop_s
        self.min_speech_db = min_speech_db
        self.max_speakers = max_speakers
        self.min_turn_s = min_turn_s
        if num_speakers is not None and num_speakers < 1:
            raise InputError(f"num_speakers must be >= 1, got {num_speakers}")
        self.num_speakers = num_speakers
        self.device = device
        self._enc: Any = None
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """Window, hop, speech threshold, speaker bound and shortest turn."""
        return {
            "encoder": "resemblyzer-0.1.4/pretrained.pt",
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "min_speech_db": self.min_speech_db,
            "max_speakers": self.max_speakers,
            "min_turn_s": self.min_turn_s,
            "relabel_window_s": self.relabel_window_s,
            "relabel_hop_s": self.relabel_hop_s,
            "clustering": "distance-count, centred k-means, v2",
            "num_speakers": self.num_speakers,
        }

    def _encoder(self) -> Any:
        with self._lock:
            if self._enc is None:
                self._enc = _build_encoder(encoder_path()).to(parse_device(self.device))
            return self._enc

    def _voiced(self, mel: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        frame_db = 10 * np.log10(mel.sum(axis=1) + 1e-12)
        if frame_db.size == 0:
            return np.zeros(0, bool)
        out: npt.NDArray[np.bool_] = frame_db > frame_db.max() + self.min_speech_db
        return out

    def embed(
        self, audio: AudioClip, *, window_s: float | None = None, hop_s: float | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        """Window centres (s) and embeddings ``(n, 256)`` of the voiced windows of ``audio``.

        ``window_s`` and ``hop_s`` default to the diarizer's own.
        """
        import torch

        x = audio.resample(RATE).samples if audio.sample_rate_hz != RATE else audio.samples
        mel = _mel(x)
        voiced = self._voiced(mel)
        win = max(1, round((window_s or self.window_s) * 100))
        hop = max(1, round((hop_s or self.hop_s) * 100))
        starts = [s for s in range(0, max(1, len(mel) - win + 1), hop)]
        keep = [s for s in starts if voiced[s : s + win].mean() >= 0.5]
        if not keep:
            return np.zeros(0), np.zeros((0, 256), np.float32)
        enc = self._encoder()
        dev = next(enc.parameters()).device
        out = []
        with torch.no_grad():
            for i in range(0, len(keep), 64):
                batch = np.stack([mel[s : s + win] for s in keep[i : i + 64]])
                if batch.shape[1] < win:
                    batch = np.pad(batch, ((0, 0), (0, win - batch.shape[1]), (0, 0)))
                out.append(enc(torch.from_numpy(batch).to(dev)).cpu().numpy())
        centres = (np.array(keep) + win / 2) / 100.0
        return centres, np.concatenate(out).astype(np.float32)

    def diarize(
        self,
        audio: AudioClip,
        *,
        num_speakers: int | None = None,
        on_event: EventCallback | None = None,
    ) -> list[SpeakerTurn]:
        """Speaker turns of ``audio``; see the class docstring."""
        if num_speakers is not None and num_speakers < 1:
            raise InputError(f"num_speakers must be >= 1, got {num_speakers}")
        num_speakers = num_speakers or self.num_speakers
        emit(on_event, Progress("diarize", 0, 2, "steps"))
        centres, emb = self.embed(audio)
        emit(on_event, Progress("diarize", 1, 2, "steps"))
        if len(centres) == 0:
            emit(on_event, Progress("diarize", 2, 2, "steps"))
            return []
        labels = cluster(emb, num_speakers, max_speakers=self.max_speakers)
        window, hop = self.window_s, self.hop_s
        if self.relabel_window_s is not None and labels.max() > 0:
            short = self.embed(audio, window_s=self.relabel_window_s, hop_s=self.relabel_hop_s)
            if len(short[0]):
                centres, labels = short[0], _nearest(emb, labels, short[1])
                window, hop = self.relabel_window_s, self.relabel_hop_s
        turns = _turns(centres, labels, hop, window, audio.duration_s)
        turns = _merge_short(turns, self.min_turn_s)
        x = audio.resample(RATE).samples if audio.sample_rate_hz != RATE else audio.samples
        turns = _snap(turns, self._voiced(_mel(x)), search_s=window / 2 + hop)
        emit(on_event, Progress("diarize", 2, 2, "steps"))
        return turns


def _nearest(
    emb: npt.NDArray[np.float32], labels: npt.NDArray[np.int_], other: npt.NDArray[np.float32]
) -> npt.NDArray[np.int_]:
    """Each of ``other``'s embeddings labelled with the nearest cluster centre of ``emb``
    (both centred on ``emb``'s mean, as :func:`cluster` splits them)."""
    mean = emb.astype(np.float64).mean(axis=0)

    def unit(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = v / np.linalg.norm(v, axis=-1, keepdims=True).clip(1e-12)
        return out

    x = unit(emb.astype(np.float64) - mean)
    k = int(labels.max()) + 1
    centres = unit(np.stack([x[labels == j].mean(axis=0) for j in range(k)]))
    nearest = np.argmax(unit(other.astype(np.float64) - mean) @ centres.T, axis=1)
    # labels stay in order of first appearance
    order: dict[int, int] = {}
    for r in nearest:
        order.setdefault(int(r), len(order))
    return np.array([order[int(r)] for r in nearest], int)


def _turns(
    centres: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int_],
    hop_s: float,
    window_s: float,
    duration_s: float,
) -> list[SpeakerTurn]:
    """Runs of equal labels; a run spans its windows' centres ± half a hop, gaps kept."""
    out: list[SpeakerTurn] = []
    half = max(hop_s, 0.0) / 2
    reach = window_s / 2
    for i, (c, lab) in enumerate(zip(centres, labels, strict=True)):
        a = max(0.0, c - half if i and c - centres[i - 1] <= hop_s * 1.5 else c - reach)
        b = min(
            duration_s,
            c + half if i + 1 < len(centres) and centres[i + 1] - c <= hop_s * 1.5 else c + reach,
        )
        who = f"S{int(lab) + 1}"
        if out and out[-1].speaker == who and a <= out[-1].end_s + 1e-6:
            out[-1] = SpeakerTurn(out[-1].start_s, float(max(out[-1].end_s, b)), who)
        else:
            a = max(a, out[-1].end_s) if out else a
            out.append(SpeakerTurn(float(a), float(max(a, b)), who))
    return out


def _merge_short(turns: list[SpeakerTurn], min_s: float) -> list[SpeakerTurn]:
    """Give turns shorter than ``min_s`` to the neighbouring speaker, then join runs."""
    if len(turns) < 3:
        return turns
    out = list(turns)
    for i in range(1, len(out) - 1):
        t = out[i]
        if t.duration_s < min_s and out[i - 1].speaker == out[i + 1].speaker:
            out[i] = SpeakerTurn(t.start_s, t.end_s, out[i - 1].speaker)
    merged: list[SpeakerTurn] = []
    for t in out:
        if merged and merged[-1].speaker == t.speaker and t.start_s - merged[-1].end_s < 0.5:
            merged[-1] = SpeakerTurn(merged[-1].start_s, t.end_s, t.speaker)
        else:
            merged.append(t)
    return merged


def _longest_gap(voiced: npt.NDArray[np.bool_], lo: int, hi: int) -> tuple[int, int] | None:
    """The longest run of unvoiced frames in ``[lo, hi)``, or None."""
    best: tuple[int, int] | None = None
    start = None
    for i in range(max(lo, 0), min(hi, len(voiced)) + 1):
        quiet = i < min(hi, len(voiced)) and not voiced[i]
        if quiet and start is None:
            start = i
        elif not quiet and start is not None:
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def _snap(
    turns: list[SpeakerTurn], voiced: npt.NDArray[np.bool_], search_s: float = 0.6
) -> list[SpeakerTurn]:
    """Move speaker changes into the nearest pause and trim turns to their voiced frames.

    Window embeddings place a change only to within a hop or two; people change turns
    in pauses, so the change goes to the longest pause within ``search_s``.
    """
    if not turns or voiced.size == 0:
        return turns
    fps = 100
    bounds = [[round(t.start_s * fps), round(t.end_s * fps)] for t in turns]
    reach = round(search_s * fps)
    for i in range(len(bounds) - 1):
        edge = (bounds[i][1] + bounds[i + 1][0]) // 2
        gap = _longest_gap(voiced, edge - reach, edge + reach)
        if gap is not None:
            bounds[i][1], bounds[i + 1][0] = gap
    out = []
    for (a, b), t in zip(bounds, turns, strict=True):
        idx = np.flatnonzero(voiced[max(a, 0) : max(b, a)])
        if idx.size == 0:
            continue
        start, end = (max(a, 0) + idx[0]) / fps, (max(a, 0) + idx[-1] + 1) / fps
        out.append(SpeakerTurn(float(start), float(end), t.speaker))
    return out
