"""Local speaker segmentation (pyannote segmentation-3.0) on the AMI train-list excerpts (#24).

    nice -n 10 python benchmarks/segment_ami.py [--step 1.0]

Data: ``tests/data/external/ami_train`` (ten 30 s train-list excerpts, ``trn00``..
``trn09``, and their RTTM); the development and test lists are never read. Nothing is
tuned here: every figure is an evaluation figure of the network with pyannote's own
decisions (hard powerset class per frame; chunks of 10 s every ``--step`` s, 1 s as
pyannote's pipeline), on all ten files.

Per file, on the segmenter's frame grid (one frame every 16.875 ms, scored at each
frame's centre against the RTTM):

* speech: a frame is speech when at least half of the chunks that see it have some
  local speaker active (``aggregate(active.any(-1)) >= 0.5``); miss and false alarm as
  shares of the reference speech; Silero VAD's spans (lipdub's default VAD) beside it;
* overlap: a frame is overlap when the chunks' average number of active local speakers
  rounds to 2 or more (pyannote's speaker count); precision and recall against the
  frames where the RTTM has two or more speakers;
* time: CPU seconds (all threads, ``time.process_time``) per minute of audio, the
  segmenter and Silero VAD measured in the same run, and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lipdub.diarize.base import SpeakerTurn  # noqa: E402
from lipdub.diarize.score import read_rttm  # noqa: E402
from lipdub.diarize.segmentation import Segmenter  # noqa: E402
from lipdub.diarize.vad import SileroVad  # noqa: E402
from lipdub.types import AudioClip  # noqa: E402

DATA = ROOT / "tests" / "data" / "external" / "ami_train"
RTTM = DATA / "debug.train.rttm"
TRAIN = tuple(f"trn{i:02d}" for i in range(10))


def reference_count(turns: Sequence[SpeakerTurn], times_s: np.ndarray) -> np.ndarray:
    """How many reference speakers talk at each of ``times_s``."""
    count = np.zeros(len(times_s), int)
    for t in turns:
        count += (times_s >= t.start_s) & (times_s < t.end_s)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step", type=float, default=1.0, help="seconds between chunks")
    args = parser.parse_args()
    listed = (DATA / "debug.train.lst").read_text(encoding="utf-8").split()
    assert len(listed) == 10 and all(u.startswith("tr") for u in listed), listed
    seg, vad = Segmenter(step_s=args.step, device="cpu"), SileroVad()
    seg.model()  # loading is not timed
    rows = []
    print(
        f"{'file':6} {'speech':>7} {'miss':>6} {'FA':>6} {'Silero miss':>11} {'FA':>6} "
        f"{'overlap':>7} {'prec':>5} {'recall':>6} {'seg CPU s/min':>13} {'Silero':>7}"
    )
    for name in TRAIN:
        audio = AudioClip.load_wav(DATA / f"{name}.wav")
        ref = read_rttm(RTTM, file_id=name)
        t0 = time.process_time()
        local = seg.segment(audio.samples)
        t_seg = time.process_time() - t0
        t0 = time.process_time()
        mask = vad.mask(audio)
        t_vad = time.process_time() - t0
        times = local.global_times_s()
        truth = reference_count(ref, times)
        speech = local.aggregate(local.active.any(-1)) >= 0.5
        overlap = np.rint(local.aggregate(local.active.sum(-1))) >= 2
        silero = mask.frames[np.minimum((times * 100).astype(int), len(mask.frames) - 1)]
        ref_speech, ref_overlap = truth > 0, truth > 1
        r = {
            "speech_s": ref_speech.sum() * local.frame_step_s,
            "miss": (ref_speech & ~speech).sum(),
            "fa": (~ref_speech & speech).sum(),
            "smiss": (ref_speech & ~silero).sum(),
            "sfa": (~ref_speech & silero).sum(),
            "n_speech": ref_speech.sum(),
            "ov_s": ref_overlap.sum() * local.frame_step_s,
            "tp": (overlap & ref_overlap).sum(),
            "hyp_ov": overlap.sum(),
            "ref_ov": ref_overlap.sum(),
            "min": audio.duration_s / 60,
            "t_seg": t_seg,
            "t_vad": t_vad,
        }
        rows.append(r)
        print(_line(name, r))
    pooled = {k: sum(float(r[k]) for r in rows) for k in rows[0]}
    print(_line("pooled", pooled))
    print(
        f"segmenter / Silero CPU time: {pooled['t_seg'] / pooled['t_vad']:.2f}x pooled "
        f"({pooled['t_seg'] / pooled['min']:.1f} vs {pooled['t_vad'] / pooled['min']:.1f} "
        "CPU s per minute of audio)"
    )
    # a shared machine inflates some files' times: the median file is the steadier figure
    seg_min = float(np.median([r["t_seg"] / r["min"] for r in rows]))
    vad_min = float(np.median([r["t_vad"] / r["min"] for r in rows]))
    print(
        f"median file: segmenter {seg_min:.1f}, Silero {vad_min:.1f} CPU s per minute of "
        f"audio ({seg_min / vad_min:.2f}x)"
    )


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:5.1f}%" if b else "    -"


def _line(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:6} {r['speech_s']:6.1f}s {_pct(r['miss'], r['n_speech'])} "
        f"{_pct(r['fa'], r['n_speech'])} {_pct(r['smiss'], r['n_speech']):>11} "
        f"{_pct(r['sfa'], r['n_speech'])} {r['ov_s']:6.1f}s "
        f"{_pct(r['tp'], r['hyp_ov']):>5} {_pct(r['tp'], r['ref_ov']):>6} "
        f"{r['t_seg'] / r['min']:13.1f} {r['t_vad'] / r['min']:7.1f}"
    )


if __name__ == "__main__":
    main()
