"""Speaker encoders on real meetings: resemblyzer against CAM++ on the AMI train list (#24).

    nice -n 10 python benchmarks/bench_embedders.py

Data: ``tests/data/external/ami_train`` (``scripts/setup`` takes it from the
pyannote.audio 4.0.7 sdist), the ten 30 s train-list excerpts ``trn00``..``trn09`` and
their RTTM; the development and test lists of that folder are never read. Nothing is
tuned here: every figure is an evaluation figure on all ten files.

Pieces: every stretch where the reference has exactly one speaker, cut into 1.5 s
pieces (a stretch's remainder under 1.5 s is dropped). Both encoders embed the same
pieces, one embedding each (``embed_clips``). Pairs: two pieces of the same file, same
speaker or different speakers (what a diarizer has to tell apart), pooled over files.
Printed per encoder: the mean same- and different-speaker cosine, their gap, the
equal error rate of a cosine threshold over those pairs, and the CPU time per second
of audio (process time, one torch thread), with CAM++'s ratio to resemblyzer measured
in the same run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lipdub.diarize.campplus import CamPlusPlusEmbedder  # noqa: E402
from lipdub.diarize.embedder import ResemblyzerEmbedder, SpeakerEmbedder  # noqa: E402
from lipdub.diarize.score import read_rttm  # noqa: E402
from lipdub.types import AudioClip  # noqa: E402

DATA = ROOT / "tests" / "data" / "external" / "ami_train"
TRAIN = tuple(f"trn{i:02d}" for i in range(10))
PIECE_S = 1.5
RATE = 16000


def pieces(name: str) -> list[tuple[str, np.ndarray]]:
    """``(speaker, samples)`` of the 1.5 s single-speaker pieces of one train file."""
    assert name in TRAIN, name
    clip = AudioClip.load_wav(DATA / f"{name}.wav").resample(RATE)
    turns = read_rttm(DATA / "debug.train.rttm", file_id=name)
    n = len(clip.samples) // 160
    count = np.zeros(n, int)
    who = np.full(n, -1)
    names = sorted({t.speaker for t in turns})
    for t in turns:
        a, b = round(t.start_s * 100), min(n, round(t.end_s * 100))
        count[a:b] += 1
        who[a:b] = names.index(t.speaker)
    single = np.where(count == 1, who, -1)
    out = []
    i = 0
    while i < n:
        j = i
        while j < n and single[j] == single[i]:
            j += 1
        if single[i] >= 0:
            for k in range(i, j - round(PIECE_S * 100) + 1, round(PIECE_S * 100)):
                piece = clip.samples[k * 160 : (k + round(PIECE_S * 100)) * 160]
                out.append((names[single[i]], piece.astype(np.float32)))
        i = j
    return out


def eer(same: np.ndarray, diff: np.ndarray) -> float:
    """The rate where a cosine threshold rejects as many same pairs as it accepts others."""
    best = 1.0
    for t in np.unique(np.concatenate([same, diff])):
        miss, false = (same < t).mean(), (diff >= t).mean()
        best = min(best, max(miss, false))
    return float(best)


def separation(emb: np.ndarray, labels: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, ...]:
    """Same- and different-speaker cosines of the pairs ``keep`` allows (upper triangle)."""
    sim = emb.astype(np.float64) @ emb.T
    iu = np.triu_indices(len(labels), 1)
    same = (labels[:, None] == labels[None, :])[iu]
    ok = keep[iu]
    return sim[iu][ok & same], sim[iu][ok & ~same]


def main() -> None:
    torch.set_num_threads(1)
    data = [(name, spk, p) for name in TRAIN for spk, p in pieces(name)]
    clips = [p for _, _, p in data]
    labels = np.array([spk for _, spk, _ in data])
    files = np.array([name for name, _, _ in data])
    audio_s = sum(len(p) for p in clips) / RATE
    print(f"{len(clips)} pieces of {PIECE_S} s ({audio_s:.0f} s) on {len(TRAIN)} train files")
    scopes = {
        "within a file": files[:, None] == files[None, :],
        "all ten files (AMI speaker ids are global)": np.ones((len(clips),) * 2, bool),
    }
    encoders: list[SpeakerEmbedder] = [ResemblyzerEmbedder(), CamPlusPlusEmbedder()]
    embs, cpu = {}, {}
    for enc in encoders:
        enc.embed_clips([np.zeros(RATE, np.float32)])  # load the weights outside the timing
        t0 = time.process_time()
        embs[enc.name] = enc.embed_clips(clips)
        cpu[enc.name] = (time.process_time() - t0) / audio_s
    for scope, keep in scopes.items():
        s, d = separation(embs["resemblyzer"], labels, keep)
        print(f"\nPairs {scope}: {len(s)} same-speaker, {len(d)} different-speaker")
        print("| encoder | same-speaker cosine | different-speaker cosine | gap | EER |")
        print("|---|---|---|---|---|")
        for name, emb in embs.items():
            s, d = separation(emb, labels, keep)
            print(
                f"| {name} | {s.mean():.3f} | {d.mean():.3f} | {s.mean() - d.mean():.3f} "
                f"| {eer(s, d):.1%} |"
            )
    base = cpu["resemblyzer"]
    print("\nCPU time per second of audio (1.5 s clips, one torch thread):")
    for name, c in cpu.items():
        print(f"  {name}: {c:.4f} s ({c / base:.2f}x resemblyzer)")


if __name__ == "__main__":
    main()
