"""Lip-sync quality (LSE-D / LSE-C with syncnet_python's SyncNet) per configuration.

Configurations: ``wav2lip`` vs ``wav2lip_gan``; feathered vs hard paste (``feather=0``,
the original's plain paste); tracked faces vs detection on every frame
(``FaceTracker(detect_every=1, smooth_window=1)``); float32 vs bfloat16 precision.
Each lip-syncs the same talking-face video to its own audio track (or ``--audio``),
then ``lipdub.eval`` scores the output with lipdub's crops (tracked, RetinaFace).

Needs the weights ``syncnet_v2``, ``wav2lip``, ``wav2lip_gan`` in the Hugging Face cache
(or ``--syncnet FILE``); configurations whose weights are missing are reported as
``not available`` (nothing is downloaded).

    python benchmarks/quality.py --video talk.mp4 [--audio speech.wav] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _cached(name: str) -> Path | None:
    from lipdub.errors import ModelError
    from lipdub.hub import resolve_weights

    try:
        return resolve_weights(name, local_files_only=True)
    except ModelError:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", help="talking-face video (default: a generated test clip)")
    ap.add_argument("--audio", help="drive the lips with this audio (default: the video's)")
    ap.add_argument("--syncnet", help="local syncnet_v2.model (default: the cached one)")
    ap.add_argument("--device", default=None, help="cpu, cuda (default: auto)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)

    syncnet = Path(args.syncnet) if args.syncnet else _cached("syncnet_v2")
    if syncnet is None:
        print("syncnet_v2 weights not available: no LSE-D/LSE-C")
        print("(lipdub weights download syncnet_v2, or --syncnet FILE)")
        return 0

    from lipdub.eval import SyncNetScorer, evaluate_video
    from lipdub.faces.retinaface import RetinaFaceDetector
    from lipdub.faces.track import FaceTracker
    from lipdub.lipsync.engine import lipsync
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.testing.media import make_test_video

    tmp = Path(tempfile.mkdtemp(prefix="lipdub-quality-"))
    video = Path(args.video) if args.video else make_test_video(tmp / "clip.mp4", duration_s=6)
    audio = args.audio or str(video)
    scorer = SyncNetScorer(syncnet, device=args.device)
    detector = RetinaFaceDetector()
    configs: list[tuple[str, str, dict[str, Any], str | None]] = [
        ("wav2lip_gan, feathered, tracked, fp32", "wav2lip_gan", {}, "float32"),
        ("wav2lip, feathered, tracked, fp32", "wav2lip", {}, "float32"),
        ("wav2lip_gan, hard paste", "wav2lip_gan", {"feather": 0}, "float32"),
        (
            "wav2lip_gan, per-frame detection",
            "wav2lip_gan",
            {"tracker": FaceTracker(detector, detect_every=1, smooth_window=1)},
            "float32",
        ),
        ("wav2lip_gan, bfloat16", "wav2lip_gan", {}, "bfloat16"),
    ]
    rows: list[dict[str, Any]] = []
    source = evaluate_video(video, scorer, audio=audio, detector=detector)
    assert source.sync is not None
    rows.append({"config": "input video", "lse_d": source.sync.lse_d, "lse_c": source.sync.lse_c})
    for label, model, extra, dtype in configs:
        weights = _cached(model)
        if weights is None:
            rows.append({"config": label, "error": f"{model} weights not available"})
            continue
        syncer = Wav2LipSyncer.from_pretrained(weights, device=args.device, dtype=dtype)
        out = tmp / f"{len(rows)}.mp4"
        t0 = time.perf_counter()
        lipsync(video, audio, out, syncer=syncer, detector=detector, **extra)
        report = evaluate_video(out, scorer, audio=audio, detector=detector)
        assert report.sync is not None
        rows.append(
            {
                "config": label,
                "lse_d": report.sync.lse_d,
                "lse_c": report.sync.lse_c,
                "offset_frames": report.sync.offset_frames,
                "seconds": time.perf_counter() - t0,
            }
        )
    for r in rows:
        if "error" in r:
            print(f"{r['config']:<40} {r['error']}")
        else:
            print(f"{r['config']:<40} LSE-D {r['lse_d']:.3f}  LSE-C {r['lse_c']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
