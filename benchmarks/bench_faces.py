"""What the active-speaker stage costs, against the face track every dub computes.

On a generated two-face clip, 640x320 at 25 fps: the bundled real portrait twice side by
side, drifting a few pixels (``--clip real``, the default), or the two drawn cartoon
faces whose mouths move (``--clip drawn``), with the RetinaFace detector (or
``--detector``), this times in the same run:

* ``track``: ``FaceTracker.track`` (the face track of every dub; the baseline),
* ``find_faces``: every face with a stable id (the ``faces`` stage's detection pass),
* ``score``: scoring both faces in every speech span with a random-weight SyncNet
  (``SyncNetScorer``; the numbers are meaningless, the time is real),

and prints each as seconds and as a ratio to ``track``, with the 1-minute load average.

Usage::

    python benchmarks/bench_faces.py [--seconds 10] [--detector retinaface] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def _real_two_faces(path: Path, seconds: float) -> Path:
    """The bundled portrait twice, 320x320 each, drifting by up to 3 px."""
    import math

    import cv2
    import numpy as np

    from lipdub.media import write_video
    from lipdub.testing.media import sample_portrait_path, speech_tones

    face = cv2.resize(cv2.imread(str(sample_portrait_path())), (300, 300))
    frames = []
    for i in range(round(seconds * 25)):
        frame = np.full((320, 640, 3), 30, np.uint8)
        for k, x in enumerate((10, 330)):
            dx = round(3 * math.sin(i / 10 + k))
            dy = round(3 * math.cos(i / 13 + k))
            frame[10 + dy : 310 + dy, x + dx : x + dx + 300] = face
        frames.append(frame)
    return write_video(path, frames, fps=25, audio=speech_tones(seconds), preset="ultrafast")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--detector", default="retinaface")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clip", choices=["real", "drawn"], default="real")
    args = ap.parse_args()

    import torch

    from lipdub import registry
    from lipdub.eval.faces import find_faces, score_spans
    from lipdub.eval.scorer import SyncNetScorer
    from lipdub.faces.track import FaceTracker
    from lipdub.media import VideoReader, load_audio
    from lipdub.models.syncnet_v2 import SyncNetV2
    from lipdub.testing.speaker import make_two_face_video

    n = args.seconds
    spans = [(t, min(n, t + 1.5), t // 2 % 2) for t in [x * 2.0 + 0.3 for x in range(int(n // 2))]]
    with tempfile.TemporaryDirectory() as tmp:
        if args.clip == "drawn":
            clip = make_two_face_video(
                Path(tmp) / "two.mp4",
                duration_s=n,
                speaking=[(a, b, int(f)) for a, b, f in spans],
                size=(640, 320),
            )
        else:
            clip = _real_two_faces(Path(tmp) / "two.mp4", n)
        detector = registry.resolve("detector", args.detector)
        if args.device != "cpu":
            detector = detector.to(args.device)
        t0 = time.perf_counter()
        with VideoReader(clip) as reader:
            track = FaceTracker(detector).track(iter(reader), fps=25.0)
        t_track = time.perf_counter() - t0
        t0 = time.perf_counter()
        links = find_faces(clip, detector)
        t_find = time.perf_counter() - t0
        torch.manual_seed(0)
        scorer = SyncNetScorer(net=SyncNetV2(), device=args.device)
        audio = load_audio(clip, 16000).to_int16()
        t0 = time.perf_counter()
        scores = score_spans(clip, links, [(a, b, links.ids) for a, b, _ in spans], scorer, audio)
        t_score = time.perf_counter() - t0
    speech_s = sum(b - a for a, b, _ in spans)
    print(
        json.dumps(
            {
                "clip_s": n,
                "clip": args.clip,
                "detector": args.detector,
                "device": args.device,
                "faces_found": len(links.ids),
                "frames_tracked": track.num_faces,
                "spans": len(spans),
                "speech_s": round(speech_s, 2),
                "scored": sum(v is not None for s in scores for v in s.values()),
                "track_s": round(t_track, 2),
                "find_faces_s": round(t_find, 2),
                "score_s": round(t_score, 2),
                "find_vs_track": round(t_find / t_track, 2),
                "score_vs_track": round(t_score / t_track, 2),
                "score_s_per_face_speech_s": round(t_score / max(1e-9, speech_s * 2), 3),
                "load_1min": round(os.getloadavg()[0], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
