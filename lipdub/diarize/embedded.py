"""A diarizer that needs no token and no download: resemblyzer's bundled speaker encoder.

The ``resemblyzer`` wheel (Apache-2.0) ships a trained d-vector encoder
(``pretrained.pt``: a 3-layer LSTM over 40 mel bands, 256-d output). lipdub loads those
weights into its own small module (so resemblyzer's VAD dependency is never imported),
embeds overlapping windows of the speech (found by :mod:`lipdub.diarize.vad`: Silero's
model when installed), clusters them (the number of speakers
is given, or counted by average-linkage agglomerative clustering on cosine distance;
the split refined by k-means on mean-centred embeddings, see :func:`cluster`) and turns
the window labels into speaker turns.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub.diarize.base import Diarizer, SpeakerTurn
from lipdub.diarize.embedder import RATE, ResemblyzerEmbedder, SpeakerEmbedder, encoder_path
from lipdub.diarize.vad import LevelVad, Vad, vad_named
from lipdub.errors import InputError
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import AudioClip

__all__ = ["EmbeddedDiarizer", "cluster", "encoder_path"]


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
    """Speaker turns from a speaker embedder and clustering (no token, no download).

    Speech is found by ``vad`` (Silero's model when installed, see
    :mod:`lipdub.diarize.vad`); windows of it are embedded by ``embedder``
    (resemblyzer's bundled encoder by default) and clustered.

    Args:
        window_s: Length of each embedded window (the encoder saw 1.6 s).
        hop_s: Step between windows.
        min_speech_db: The level threshold's floor, used when ``vad`` is ``"level"``
            (or ``"auto"`` without Silero installed).
        max_speakers: Upper bound when the count is found automatically.
        max_distance: Cosine distance at which the count's clustering stops merging.
        min_share: Share of the windows a cluster needs to count as a speaker.
        min_turn_s: Shorter turns are merged into their neighbours.
        relabel_window_s: With two or more speakers, windows this long (every
            ``relabel_hop_s``) are each given to the nearest speaker found with the long
            windows, so turns shorter than ``window_s`` (a "yes", an "mm-hm") are kept;
            None: the long windows' labels are the turns.
        relabel_hop_s: Step between those windows.
        num_speakers: How many speakers, when known (None: found by clustering);
            ``diarize(num_speakers=)`` overrides it.
        vad: ``"auto"``, ``"silero"``, ``"level"`` or a :class:`~lipdub.diarize.vad.Vad`.
        embedder: The speaker encoder (None: :class:`ResemblyzerEmbedder`).
        device: Where the default encoder runs (``"auto"``, ``"cpu"``, ``"cuda"``).

    Reproducible: nothing is drawn at random (the clustering is agglomerative, and its
    k-means refinement starts from those labels), and turns are whole windows, so the
    encoder's last-digit differences between thread counts do not reach them: the same
    audio and settings give the same ``speakers.json`` (checked with 1 and 2 torch
    threads on ``tests/data/two_speakers.wav``).

    Example:
        >>> EmbeddedDiarizer(hop_s=0.25).settings()["hop_s"]
        0.25
        >>> EmbeddedDiarizer(vad="level").settings()["vad"]
        {'vad': 'level', 'floor_db': -35.0}
    """

    name: ClassVar[str] = "resemblyzer"

    def __init__(
        self,
        *,
        window_s: float = 1.6,
        hop_s: float = 0.4,
        min_speech_db: float = -35.0,
        max_speakers: int = 8,
        max_distance: float = 0.25,
        min_share: float = 0.1,
        min_turn_s: float = 0.4,
        relabel_window_s: float | None = 0.8,
        relabel_hop_s: float = 0.2,
        num_speakers: int | None = None,
        vad: str | Vad = "auto",
        embedder: SpeakerEmbedder | None = None,
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
        self.max_distance = max_distance
        self.min_share = min_share
        self.min_turn_s = min_turn_s
        if num_speakers is not None and num_speakers < 1:
            raise InputError(f"num_speakers must be >= 1, got {num_speakers}")
        self.num_speakers = num_speakers
        self.device = device
        found = vad_named(vad) if isinstance(vad, str) else vad
        self.vad: Vad = LevelVad(min_speech_db) if isinstance(found, LevelVad) else found
        self.embedder: SpeakerEmbedder = embedder or ResemblyzerEmbedder(device=device)

    def settings(self) -> dict[str, Any]:
        """Encoder, voice-activity method, windows, speaker bound and shortest turn."""
        return {
            **self.embedder.settings(),
            "vad": self.vad.settings(),
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "max_speakers": self.max_speakers,
            "max_distance": self.max_distance,
            "min_share": self.min_share,
            "min_turn_s": self.min_turn_s,
            "relabel_window_s": self.relabel_window_s,
            "relabel_hop_s": self.relabel_hop_s,
            "clustering": "distance-count, centred k-means, v2",
            "num_speakers": self.num_speakers,
        }

    def _voiced(self, audio: AudioClip, n: int) -> npt.NDArray[np.bool_]:
        """The speech mask, one frame per 10 ms, ``n`` frames long."""
        frames = self.vad.mask(audio).frames
        out = np.zeros(n, bool)
        out[: min(n, len(frames))] = frames[:n]
        return out

    def embed(
        self,
        audio: AudioClip,
        *,
        window_s: float | None = None,
        hop_s: float | None = None,
        voiced: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        """Window centres (s) and embeddings ``(n, dim)`` of the voiced windows of ``audio``.

        ``window_s`` and ``hop_s`` default to the diarizer's own; ``voiced`` (one bool
        per 10 ms frame) to the ``vad``'s speech.
        """
        x = audio.resample(RATE).samples if audio.sample_rate_hz != RATE else audio.samples
        n_frames = 1 + len(x) // 160
        if voiced is None:
            voiced = self._voiced(audio, n_frames)
        win = max(1, round((window_s or self.window_s) * 100))
        hop = max(1, round((hop_s or self.hop_s) * 100))
        starts = [s for s in range(0, max(1, n_frames - win + 1), hop)]
        keep = [s for s in starts if voiced[s : s + win].mean() >= 0.5]
        if not keep:
            return np.zeros(0), np.zeros((0, self.embedder.dim), np.float32)
        emb = self.embedder.embed(np.asarray(x, np.float32), [(s, win) for s in keep])
        centres = (np.array(keep) + win / 2) / 100.0
        return centres, emb

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
        x = audio.resample(RATE).samples if audio.sample_rate_hz != RATE else audio.samples
        voiced = self._voiced(audio, 1 + len(x) // 160)
        loud = voiced
        if not isinstance(self.vad, LevelVad):
            # windows to embed: speech that is also loud (a quiet voice under another's,
            # a breath or a pause inside the VAD's span blurs the print)
            level = LevelVad(self.min_speech_db).mask(audio).frames
            loud = voiced & np.pad(level, (0, max(0, len(voiced) - len(level))))[: len(voiced)]
        centres, emb = self.embed(audio, voiced=loud)
        emit(on_event, Progress("diarize", 1, 2, "steps"))
        if len(centres) == 0:  # speech, but too little for one window: one speaker
            emit(on_event, Progress("diarize", 2, 2, "steps"))
            return _merge_short(_frame_turns(np.array([0.0]), np.zeros(1, int), voiced), 0.0)
        labels = cluster(
            emb,
            num_speakers,
            max_speakers=self.max_speakers,
            max_distance=self.max_distance,
            min_share=self.min_share,
        )
        window, hop = self.window_s, self.hop_s
        if self.relabel_window_s is not None and labels.max() > 0:
            short = self.embed(
                audio, window_s=self.relabel_window_s, hop_s=self.relabel_hop_s, voiced=loud
            )
            if len(short[0]):
                centres, labels = short[0], _nearest(emb, labels, short[1])
                window, hop = self.relabel_window_s, self.relabel_hop_s
        turns = _turns(centres, labels, hop, window, audio.duration_s)
        turns = _merge_short(turns, self.min_turn_s)
        turns = _renumber(_snap(turns, voiced, search_s=window / 2 + hop, loud=loud))
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


def _renumber(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    """Labels ``S1``, ``S2``... in order of first appearance (none skipped)."""
    order: dict[str, str] = {}
    for t in turns:
        order.setdefault(t.speaker, f"S{len(order) + 1}")
    return [SpeakerTurn(t.start_s, t.end_s, order[t.speaker]) for t in turns]


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


def _frame_turns(
    centres: npt.NDArray[np.float64], labels: npt.NDArray[np.int_], voiced: npt.NDArray[np.bool_]
) -> list[SpeakerTurn]:
    """Every voiced 10 ms frame given the label of the nearest window centre; runs of
    one label over consecutive voiced frames are the turns (no speech is dropped, and a
    short utterance between windows keeps its own speaker)."""
    idx = np.flatnonzero(voiced)
    if idx.size == 0:
        return []
    t = (idx + 0.5) / 100.0
    right = np.clip(np.searchsorted(centres, t), 0, len(centres) - 1)
    left = np.clip(right - 1, 0, len(centres) - 1)
    pick = np.where(np.abs(centres[left] - t) <= np.abs(centres[right] - t), left, right)
    lab = labels[pick]
    breaks = np.flatnonzero((np.diff(idx) > 1) | (np.diff(lab) != 0)) + 1
    out = []
    for run in np.split(np.arange(idx.size), breaks):
        a, b = idx[run[0]] / 100.0, (idx[run[-1]] + 1) / 100.0
        out.append(SpeakerTurn(float(a), float(b), f"S{int(lab[run[0]]) + 1}"))
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
    turns: list[SpeakerTurn],
    voiced: npt.NDArray[np.bool_],
    search_s: float = 0.6,
    loud: npt.NDArray[np.bool_] | None = None,
) -> list[SpeakerTurn]:
    """Move speaker changes into the nearest pause and trim turns to their voiced frames.

    Window embeddings place a change only to within a hop or two; people change turns
    in pauses, so the change goes to the longest pause (not ``loud``; default: not
    ``voiced``) within ``search_s``.
    """
    if not turns or voiced.size == 0:
        return turns
    fps = 100
    bounds = [[round(t.start_s * fps), round(t.end_s * fps)] for t in turns]
    reach = round(search_s * fps)
    for i in range(len(bounds) - 1):
        edge = (bounds[i][1] + bounds[i + 1][0]) // 2
        gap = _longest_gap(voiced if loud is None else loud, edge - reach, edge + reach)
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
