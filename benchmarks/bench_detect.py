"""Face detection + tracking speed: lipdub's default vs the original's every-frame S3FD.

Builds a synthetic 720p clip in memory (scikit-image's astronaut photo pasted on a
textured background, drifting slowly) and measures:

* the default: :class:`~lipdub.faces.retinaface.RetinaFaceDetector` inside a
  :class:`~lipdub.faces.track.FaceTracker` (detect every 5th frame on a 640-pixel copy,
  interpolate, smooth), timed over the whole clip;
* the original Wav2Lip way: S3FD at full resolution on *every* frame. That costs seconds
  per 720p frame on a CPU, so it is timed on a few sampled frames and extrapolated to
  frames per second (the output says so). Random weights unless ``--s3fd-weights`` (or
  a cached ``s3fd`` download) gives the real ones: speed does not depend on the weights.

With real S3FD weights it also reports the IoU between the two detectors' boxes on the
sampled frames. Both are compared with the known position of the pasted face.

Usage::

    python benchmarks/bench_detect.py [--frames 250] [--s3fd-samples 3]
        [--s3fd-weights PATH] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from lipdub.faces.retinaface import RetinaFaceDetector
from lipdub.faces.s3fd import S3FDFaceDetector
from lipdub.faces.track import FaceTracker
from lipdub.types import FaceBox

WIDTH, HEIGHT, FPS = 1280, 720, 25
# The astronaut's face in skimage.data.astronaut() (512x512 px), measured by hand.
FACE_IN_PHOTO = (175.0, 55.0, 275.0, 180.0)


def _background() -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 60, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    import cv2

    bg = cv2.resize(noise, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    bg[..., 0] = np.clip(bg[..., 0].astype(np.int16) + 40, 0, 255).astype(np.uint8)
    return np.asarray(bg)


def _offset(i: int) -> tuple[int, int]:
    """Where the photo's top-left corner is in frame ``i`` (a slow drift, ~1 px/frame)."""
    x = 380 + round(250 * math.sin(2 * math.pi * i / (FPS * 16)))
    y = 110 + round(40 * math.sin(2 * math.pi * i / (FPS * 9)))
    return x, y


def make_clip(n: int) -> Iterator[np.ndarray]:
    """``n`` 720p BGR frames of the astronaut drifting on a textured background."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[..., ::-1])
    bg = _background()
    for i in range(n):
        frame = bg.copy()
        x, y = _offset(i)
        frame[y : y + 512, x : x + 512] = photo
        yield frame


def true_box(i: int) -> FaceBox:
    x, y = _offset(i)
    x1, y1, x2, y2 = FACE_IN_PHOTO
    return FaceBox(x1 + x, y1 + y, x2 + x, y2 + y)


def _jitter(boxes: list[FaceBox | None]) -> float:
    """Mean absolute second difference of the box centre (0 for uniform motion)."""
    c = np.array([b.center for b in boxes if b is not None], np.float64)
    if len(c) < 3:
        return float("nan")
    return float(np.mean(np.abs(c[2:] - 2 * c[1:-1] + c[:-2])))


def _load_s3fd(path: str | None) -> tuple[S3FDFaceDetector, str]:
    from lipdub.errors import ModelError

    opts: dict[str, Any] = {"device": "cpu", "max_side": None, "batch_size": 1}
    if path:
        return S3FDFaceDetector.from_pretrained(path, **opts), f"real weights from {path}"
    try:
        return S3FDFaceDetector.from_pretrained("s3fd", local_files_only=True, **opts), (
            "real weights (cached s3fd download)"
        )
    except ModelError:
        from lipdub.models.s3fd import S3FD

        return S3FDFaceDetector(S3FD(), **opts), "RANDOM weights (speed only)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=250, help="clip length in frames (25 fps)")
    ap.add_argument("--s3fd-samples", type=int, default=3, help="frames timed for S3FD")
    ap.add_argument("--s3fd-weights", default=None, help="path of s3fd-619a316812.pth")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"frames": args.frames, "size": f"{WIDTH}x{HEIGHT}"}

    # -- default: RetinaFace + FaceTracker over the whole clip
    tracker = FaceTracker(RetinaFaceDetector())
    t0 = time.perf_counter()
    boxes = [box for _, box in tracker.stream(make_clip(args.frames))]
    t_track = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in make_clip(args.frames):
        pass
    t_gen = time.perf_counter() - t0  # making the synthetic frames is not detection
    track_s = max(t_track - t_gen, 1e-9)
    fps_default = args.frames / track_s
    ious = [b.iou(true_box(i)) if b is not None else 0.0 for i, b in enumerate(boxes)]
    results["default"] = {
        "fps": fps_default,
        "seconds": track_s,
        "detector_frames": tracker.stats.detections,
        "frames_with_face": sum(b is not None for b in boxes),
        "mean_iou_vs_truth": float(np.mean(ious)),
        "min_iou_vs_truth": float(np.min(ious)),
    }
    print(
        f"default (retinaface + tracker): {fps_default:8.1f} frames/s over {args.frames} "
        f"frames ({track_s:.2f} s; detector ran on {tracker.stats.detections} frames; "
        f"IoU vs true face mean {np.mean(ious):.3f}, min {np.min(ious):.3f})"
    )

    # -- for context: RetinaFace alone on every frame at full resolution
    n_ctx = min(args.frames, 50)
    plain = RetinaFaceDetector(max_side=None)
    clip = list(make_clip(n_ctx))
    t0 = time.perf_counter()
    raw = [plain.detect([frame])[0] for frame in clip]
    fps_plain = n_ctx / (time.perf_counter() - t0)
    results["retinaface_every_frame_full_res_fps"] = fps_plain
    jitter_raw = _jitter([r[0] if r else None for r in raw])
    jitter_track = _jitter(boxes[:n_ctx])
    jitter_true = _jitter([true_box(i) for i in range(n_ctx)])
    results["jitter_px"] = {"raw": jitter_raw, "tracked": jitter_track, "truth": jitter_true}
    print(f"context (retinaface, full 720p, every frame): {fps_plain:8.1f} frames/s")
    print(
        f"jitter (mean |2nd difference| of the box centre, px/frame^2, first {n_ctx} frames): "
        f"per-frame detection {jitter_raw:.2f}, tracked {jitter_track:.2f}, "
        f"true motion {jitter_true:.2f}"
    )
    del clip

    # -- original: full-resolution S3FD on every frame, timed on a few samples
    s3fd, which = _load_s3fd(args.s3fd_weights)
    frames = list(make_clip(args.frames))
    step = max(1, args.frames // max(args.s3fd_samples, 1))
    sample_idx = list(range(0, args.frames, step))[: args.s3fd_samples]
    s3fd.detect([frames[0][:256, :256]])  # warm-up (allocations), not timed
    times, s3fd_boxes = [], []
    for i in sample_idx:
        t0 = time.perf_counter()
        found = s3fd.detect([frames[i]])[0]
        times.append(time.perf_counter() - t0)
        s3fd_boxes.append(found[0] if found else None)
    per_frame = float(np.mean(times))
    fps_s3fd = 1.0 / per_frame
    ratio = fps_default / fps_s3fd
    results["s3fd_full_res"] = {
        "weights": which,
        "sampled_frames": sample_idx,
        "seconds_per_frame": times,
        "fps_extrapolated": fps_s3fd,
    }
    results["speedup"] = ratio
    print(
        f"original (S3FD, full 720p, every frame, {which}): {per_frame:.2f} s/frame timed on "
        f"{len(sample_idx)} sampled frames -> {fps_s3fd:.3f} frames/s EXTRAPOLATED to the "
        f"clip ({args.frames * per_frame:.0f} s for {args.frames} frames)"
    )
    print(f"speed-up: {ratio:.0f}x  (issue requires >= 50x: {'PASS' if ratio >= 50 else 'FAIL'})")

    # -- agreement, only meaningful with the real weights
    if which.startswith("RANDOM"):
        print("IoU(S3FD, default): skipped (no real S3FD weights; pass --s3fd-weights)")
    else:
        agree = []
        for i, b in zip(sample_idx, s3fd_boxes, strict=True):
            ours = boxes[i]
            agree.append(b.iou(ours) if b is not None and ours is not None else 0.0)
        results["iou_s3fd_vs_default"] = agree
        print(f"IoU(S3FD, default) on sampled frames: {[round(a, 3) for a in agree]}")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0 if ratio >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
