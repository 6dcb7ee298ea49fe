"""From local speakers in overlapping chunks to the speakers of a whole recording.

A segmentation model sees a recording in overlapping chunks and, in each, tells up to
three *local* speakers apart (with overlap), but a local speaker's number means nothing
outside its chunk. This module links them: each local speaker with enough speech has
a voice print (:class:`LocalSpeaker`); :func:`link` clusters the prints under the
rule that two speakers of one chunk are never the same person, :func:`by_speaker`
relabels each chunk's activity with the linked speakers, and :func:`pick` chooses, on
the recording's frame grid, as many speakers per frame as the chunks heard there
(:func:`drop_slivers` first takes out the speakers it would give only a few frames).

Everything here is numbers in, numbers out (no model): the meeting diarizer
(:mod:`lipdub.diarize.meeting`) feeds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["LocalSpeaker", "by_speaker", "drop_slivers", "link", "pick"]


@dataclass(frozen=True, slots=True)
class LocalSpeaker:
    """One local speaker of one chunk, with its voice print.

    Attributes:
        chunk: Index of the chunk.
        slot: The segmentation model's local speaker number in that chunk.
        embedding: Unit-length voice print of its speech in the chunk.
        active_s: Seconds it speaks in the chunk (overlap included).
    """

    chunk: int
    slot: int
    embedding: npt.NDArray[np.float32]
    active_s: float


def link(
    speakers: Sequence[LocalSpeaker],
    *,
    max_distance: float,
    min_speech_s: float,
    redundancy: float,
    num_speakers: int | None = None,
) -> dict[tuple[int, int], int]:
    """Each local speaker's global speaker (``0..n-1``, by first chunk): ``{(chunk, slot): n}``.

    Average-linkage clustering of the prints by cosine distance, where two clusters
    holding speakers of the same chunk never merge; merging stops at ``max_distance``
    (or, with ``num_speakers``, at that many clusters). A cluster that speaks less than
    ``min_speech_s`` (its speakers' ``active_s`` summed, over ``redundancy``: how many
    chunks see each second) is not a speaker of its own: its local speakers go to the
    nearest kept cluster that has none of their chunk, or are dropped.

    Example:
        >>> e = np.eye(2, dtype=np.float32)
        >>> ls = [LocalSpeaker(0, 0, e[0], 5.0), LocalSpeaker(0, 1, e[1], 5.0),
        ...       LocalSpeaker(1, 0, e[1], 5.0)]
        >>> link(ls, max_distance=0.5, min_speech_s=1.0, redundancy=1.0)
        {(0, 0): 0, (0, 1): 1, (1, 0): 1}
    """
    n = len(speakers)
    if n == 0:
        return {}
    x = np.stack([s.embedding for s in speakers]).astype(np.float64)
    chunks = np.array([s.chunk for s in speakers])
    members = _cluster(x, chunks, max_distance, num_speakers)
    speech = [sum(speakers[i].active_s for i in m) / redundancy for m in members]
    if num_speakers is not None:
        keep = sorted(range(len(members)), key=lambda c: -speech[c])[:num_speakers]
    else:
        keep = [c for c in range(len(members)) if speech[c] >= min_speech_s]
        keep = keep or [int(np.argmax(speech))]
    kept = [members[c] for c in sorted(keep, key=lambda c: min(chunks[members[c]]))]
    label = {i: g for g, m in enumerate(kept) for i in m}
    centres = np.stack([x[m].mean(0) for m in kept])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    for c in range(len(members)):
        if c in keep:
            continue
        for i in members[c]:
            taken = {g for j, g in label.items() if chunks[j] == chunks[i]}
            for g in np.argsort(-(centres @ x[i])):
                if int(g) not in taken:
                    label[i] = int(g)
                    break
    return {(speakers[i].chunk, speakers[i].slot): g for i, g in sorted(label.items())}


def _cluster(
    x: npt.NDArray[np.float64],
    chunks: npt.NDArray[np.int_],
    max_distance: float,
    num_speakers: int | None,
) -> list[list[int]]:
    """Constrained average linkage: lists of row indices, one list per cluster.

    Each row keeps its best partner (the nearest-neighbour cache), so a merge costs
    one pass over the rows whose best partner it touched, not over the whole matrix.
    """
    n = len(x)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T
    size = np.ones(n)
    members: list[list[int]] = [[i] for i in range(n)]
    # score: the similarity where a merge is allowed, -inf where it is not
    score = np.where(chunks[:, None] == chunks[None, :], -np.inf, sim)
    best = score.argmax(1)
    stop = -np.inf if num_speakers is not None else 1.0 - max_distance
    alive = n
    while alive > (num_speakers or 1):
        rows = np.arange(n)
        a = int(np.argmax(score[rows, best]))
        b = int(best[a])
        if not np.isfinite(score[a, b]) or score[a, b] < stop:
            break
        # Lance-Williams for average linkage; a clash with either part is a clash
        merged = (size[a] * sim[a] + size[b] * sim[b]) / (size[a] + size[b])
        sim[a] = sim[:, a] = merged
        blocked = ~np.isfinite(score[a]) | ~np.isfinite(score[b])
        score[a] = score[:, a] = np.where(blocked, -np.inf, merged)
        score[a, a] = -np.inf
        score[b] = score[:, b] = -np.inf
        size[a] += size[b]
        members[a] += members[b]
        members[b] = []
        alive -= 1
        # rows whose best partner was a or b look again; the rest may now prefer a
        stale = (best == a) | (best == b)
        stale[a] = True
        best[stale] = score[stale].argmax(1)
        better = score[:, a] > score[rows, best]
        best[better] = a
    return [m for m in members if m]


def by_speaker(
    active: npt.NDArray[np.bool_], labels: dict[tuple[int, int], int], n_speakers: int
) -> npt.NDArray[np.float32]:
    """``(chunks, frames, n_speakers)``: each chunk's activity under the global labels.

    ``active`` is the segmentation's ``(chunks, frames, slots)``; a local speaker
    without a label (no print, or dropped by :func:`link`) adds nothing.

    Example:
        >>> act = np.ones((1, 2, 3), bool)
        >>> by_speaker(act, {(0, 2): 0}, 1)[0, :, 0]
        array([1., 1.], dtype=float32)
    """
    out = np.zeros((*active.shape[:2], n_speakers), np.float32)
    for (chunk, slot), g in labels.items():
        out[chunk, :, g] = np.maximum(out[chunk, :, g], active[chunk, :, slot])
    return out


def pick(
    score: npt.NDArray[np.floating], count: npt.NDArray[np.floating], *, overlap: bool
) -> npt.NDArray[np.bool_]:
    """``(n_speakers, frames)``: who speaks in each frame of the recording.

    ``score`` is each speaker's activity on the recording's frames (``(frames,
    n_speakers)``, averaged over the chunks that see them) and ``count`` how many local
    speakers the chunks hear there on average. Each frame gets that many (rounded; at
    most one without ``overlap``) of its best-scoring speakers, never one scoring 0.

    Example:
        >>> pick(np.array([[0.9, 0.6], [0.2, 0.0]]), np.array([2.0, 1.0]), overlap=True)
        array([[ True,  True],
               [ True, False]])
    """
    frames, n_speakers = score.shape
    out = np.zeros((n_speakers, frames), bool)
    if n_speakers == 0:
        return out
    wanted = np.minimum(np.rint(count).astype(int), n_speakers if overlap else 1)
    rank = np.argsort(-score, axis=1, kind="stable")
    for k in range(int(wanted.max(initial=0))):
        rows = np.flatnonzero(wanted > k)
        who = rank[rows, k]
        heard = score[rows, who] > 0
        out[who[heard], rows[heard]] = True
    return out


def drop_slivers(
    score: npt.NDArray[np.floating], count: npt.NDArray[np.floating], min_frames: float
) -> npt.NDArray[np.floating]:
    """``score`` without the speakers :func:`pick` would give fewer than ``min_frames``
    frames (overlap included): their columns become 0, so their frames go to the next
    speaker heard there. The speaker with the most frames is always kept.

    Example:
        >>> score = np.array([[0.9, 0.2], [0.8, 0.0], [0.1, 0.7]])
        >>> drop_slivers(score, np.ones(3), 2)[:, 1]
        array([0., 0., 0.])
    """
    frames = pick(score, count, overlap=True).sum(1)
    short = frames < min_frames
    if not short.any():
        return score
    short[int(np.argmax(frames))] = False
    out = score.copy()
    out[:, short] = 0
    return out
