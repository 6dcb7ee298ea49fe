"""Lip-sync speed: the Wav2Lip generator, the mel front end and the blend step.

Each measurement is one function returning a row dict, so more parts (the
end-to-end engine) can be added beside them. Random weights are used: the speed of
the network does not depend on them.

Usage:
    python benchmarks/lipsync_bench.py                       # generator at batch 1, 16, 128
    python benchmarks/lipsync_bench.py --batch 1 16 --device cuda --dtype float16
    python benchmarks/lipsync_bench.py --only mel blend --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

Row = dict[str, Any]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ru / 1024 if sys.platform != "darwin" else ru / (1024 * 1024)


def _timeit(
    fn: Callable[[], object], *, min_s: float, min_iters: int, sync: bool
) -> tuple[int, float]:
    iters = 0
    start = time.perf_counter()
    while True:
        fn()
        if sync:
            torch.cuda.synchronize()
        iters += 1
        elapsed = time.perf_counter() - start
        if iters >= min_iters and elapsed >= min_s:
            return iters, elapsed


def measure_generator(
    batch: int, *, device: str, dtype: str | None, min_s: float, warmup: int
) -> Row:
    """Frames per second of ``Wav2LipSyncer.sync`` (input prep + network + uint8 output)."""
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.models.wav2lip import Wav2Lip

    torch.manual_seed(0)
    syncer = Wav2LipSyncer(Wav2Lip(), device=device, dtype=dtype, model_name="random")
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (batch, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (batch, 80, 16)).astype(np.float32)
    cuda = syncer.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        syncer.sync(faces, mels)
    iters, elapsed = _timeit(lambda: syncer.sync(faces, mels), min_s=min_s, min_iters=1, sync=cuda)
    row: Row = {
        "part": "generator",
        "batch": batch,
        "device": syncer.device,
        "dtype": str(syncer.dtype).removeprefix("torch."),
        "iters": iters,
        "ms_per_batch": 1000 * elapsed / iters,
        "frames_per_s": batch * iters / elapsed,
        "peak_rss_mb": peak_rss_mb(),
    }
    if cuda:
        row["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def measure_mel(*, seconds: float = 60.0, min_s: float) -> Row:
    """Real-time factor of :func:`lipdub.audio.melspectrogram` + :func:`mel_windows`."""
    from lipdub.audio import mel_windows, melspectrogram

    wav = (np.random.default_rng(0).standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)
    iters, elapsed = _timeit(
        lambda: mel_windows(melspectrogram(wav), 25), min_s=min_s, min_iters=1, sync=False
    )
    per = elapsed / iters
    return {
        "part": f"mel ({seconds:.0f} s audio)",
        "batch": "-",
        "device": "cpu",
        "dtype": "float64",
        "iters": iters,
        "ms_per_batch": 1000 * per,
        "frames_per_s": seconds * 25 / per,
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_blend(*, size: tuple[int, int] = (1920, 1080), color_match: bool, min_s: float) -> Row:
    """Frames per second of crop_face + paste_face on one full-HD frame."""
    from lipdub.lipsync.blend import crop_face, paste_face
    from lipdub.types import FaceBox

    w, h = size
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    box = FaceBox(w * 0.4, h * 0.25, w * 0.4 + 320, h * 0.25 + 400)
    gen = np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)

    def step() -> None:
        crop_face(frame, box)
        paste_face(frame, box, gen, color_match=color_match)

    iters, elapsed = _timeit(step, min_s=min_s, min_iters=5, sync=False)
    return {
        "part": f"crop+paste {w}x{h}" + (" +colour" if color_match else ""),
        "batch": 1,
        "device": "cpu",
        "dtype": "uint8",
        "iters": iters,
        "ms_per_batch": 1000 * elapsed / iters,
        "frames_per_s": iters / elapsed,
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_engine(seconds: float, *, device: str, dtype: str | None) -> Row:
    """Frames per second of the whole streaming engine on a generated 640x360 clip.

    Decode, tracking (a fixed-box fake detector, so every frame has a face), crops,
    the random-weight generator, blending and the x264 encode (``veryfast``), all
    overlapped as in :func:`lipdub.lipsync.engine.lipsync`. ``bench_lipsync.py``
    measures the same at 720p against the original algorithm.
    """
    import tempfile
    from pathlib import Path

    from lipdub.lipsync.engine import lipsync
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.models.wav2lip import Wav2Lip
    from lipdub.testing import FakeFaceDetector
    from lipdub.testing.media import make_test_video, speech_tones

    syncer = Wav2LipSyncer(Wav2Lip(), device=device, dtype=dtype, model_name="random")
    with tempfile.TemporaryDirectory() as d:
        clip = make_test_video(Path(d) / "in.mp4", duration_s=seconds, size=(640, 360))
        t0 = time.perf_counter()
        res = lipsync(
            clip,
            speech_tones(seconds),
            Path(d) / "out.mp4",
            syncer=syncer,
            detector=FakeFaceDetector(),
            preset="veryfast",
        )
        elapsed = time.perf_counter() - t0
    busy = ", ".join(f"{k} {100 * v / elapsed:.0f}%" for k, v in res.stage_busy_s.items())
    return {
        "part": f"engine 640x360 {seconds:g} s ({busy})",
        "batch": res.stats.batch_size,
        "device": syncer.device,
        "dtype": str(syncer.dtype).removeprefix("torch."),
        "iters": res.frames_total,
        "ms_per_batch": 1000 * elapsed / max(1, res.frames_total) * res.stats.batch_size,
        "frames_per_s": res.frames_total / elapsed,
        "peak_rss_mb": peak_rss_mb(),
    }


def print_table(rows: list[Row]) -> None:
    cols = [
        "part",
        "batch",
        "device",
        "dtype",
        "iters",
        "ms_per_batch",
        "frames_per_s",
        "peak_rss_mb",
    ]
    if any("peak_gpu_mb" in r for r in rows):
        cols.append("peak_gpu_mb")

    def fmt(v: Any) -> str:
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    table = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(wd) for c, wd in zip(cols, widths, strict=True)))
    print("  ".join("-" * wd for wd in widths))
    for t in table:
        print("  ".join(v.ljust(wd) for v, wd in zip(t, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--only",
        nargs="+",
        choices=["generator", "mel", "blend"],
        default=["generator", "mel", "blend"],
        help="which measurements to run",
    )
    ap.add_argument(
        "--batch", nargs="+", type=int, default=[1, 16, 128], help="generator batch sizes"
    )
    ap.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    ap.add_argument("--dtype", default=None, help="float32 / float16 / bfloat16 (default: auto)")
    ap.add_argument(
        "--min-seconds", type=float, default=2.0, help="time each measurement at least this long"
    )
    ap.add_argument("--warmup", type=int, default=1, help="untimed generator calls first")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument(
        "--engine",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also time the whole streaming engine on a clip this long (0: skip)",
    )
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(
        f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} CPU threads, device {device}"
        + (f" ({torch.cuda.get_device_name()})" if device.startswith("cuda") else "")
    )
    rows: list[Row] = []
    if "generator" in args.only:
        for b in args.batch:
            rows.append(
                measure_generator(
                    b, device=device, dtype=args.dtype, min_s=args.min_seconds, warmup=args.warmup
                )
            )
    if "mel" in args.only:
        rows.append(measure_mel(min_s=args.min_seconds))
    if "blend" in args.only:
        rows.append(measure_blend(color_match=False, min_s=args.min_seconds))
        rows.append(measure_blend(color_match=True, min_s=args.min_seconds))
    if args.engine > 0:
        rows.append(measure_engine(args.engine, device=device, dtype=args.dtype))
    print_table(rows)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
