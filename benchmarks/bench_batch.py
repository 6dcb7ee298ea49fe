"""Batch dubbing on a local Ray: wall time with 1 worker vs 2 (lipdub.distributed).

Generates N short talking-face clips and dubs each into two languages with real CPU work
where it matters (espeak-ng voice, Wav2Lip with random weights on the CPU, the DSP
separator) and fakes where a model download would be needed (transcriber, translator,
face detector). Each worker count gets a fresh local Ray and a fresh work root; Ray
gives each task one CPU (and ``OMP_NUM_THREADS=1``), so workers = tasks at once.

Usage::

    python benchmarks/bench_batch.py [--videos 3] [--seconds 3] [--workers 1,2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from lipdub.distributed import PipelineSpec, dub_many
from lipdub.testing import register_fakes
from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint
from lipdub.testing.media import make_test_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args()
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="bench_batch-"))
    ckpt = write_random_wav2lip_checkpoint(tmp / "w2l.safetensors", format="safetensors")
    videos = [
        make_test_video(tmp / f"v{i}.mp4", duration_s=args.seconds, size=(320, 240))
        for i in range(args.videos)
    ]
    spec = PipelineSpec(
        {
            "transcriber": "fake",
            "translator": "fake",
            "voice": "espeak",
            "detector": "fake",
            "lipsyncer": ("wav2lip", {"name_or_path": str(ckpt)}),
        },
        device="cpu",
        setup=register_fakes,  # in each worker: the fakes by name
    )
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        load0 = os.getloadavg()[0]
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        t0 = time.perf_counter()
        report = dub_many(
            videos, ["es", "fr"], pipeline=spec, workdir_root=tmp / f"wd{workers}",
            output_dir=tmp / f"out{workers}",
        )  # fmt: skip
        wall = time.perf_counter() - t0
        ray.shutdown()
        assert report.failed == 0, report.table()
        row = {
            "workers": workers,
            "tasks": len(report.tasks),
            "wall_s": round(wall, 2),
            "stage_s": report.stage_seconds(),
            "load_before": round(load0, 2),
            "load_after_1min": round(os.getloadavg()[0], 2),
        }
        rows.append(row)
        print(json.dumps(row))
    base = rows[0]["wall_s"]
    for r in rows:
        print(f"{r['workers']} worker(s): {r['wall_s']:.1f} s, speed-up x{base / r['wall_s']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
