"""MuseTalk 1.5 against Wav2Lip-GAN at 720p (#28): frames/s and memory, in one run.

Both lip-sync the same 720p clip (``bench_lipsync.make_clip``: the portrait moving over a
noisy background, speech-like audio) through the engine (``lipsync()``) with a fixed face
box, each in its own process (peak RSS is per process): ``wav2lip_gan`` with random
weights of the published shapes, ``musetalk`` with the parity kit's deterministic weights
(built here from their rule, ``lipdub.testing.musetalk_weights``; cached under
``--weights``). Random weights cost the same arithmetic as real ones. Prints frames/s,
peak RSS (and on CUDA the GPU's peak allocated memory) and the ratio musetalk/wav2lip_gan.

On CUDA (``--device cuda``) MuseTalk runs fp16 batched (the user's path) and the script
also checks the fidelity bound: fp16 faces against fp32 faces of the same crops, TF32 off,
must stay within 35 dB PSNR.

Usage::

    python benchmarks/bench_musetalk.py [--device cpu] [--frames 4] [--precision fp32]
        [--weights DIR] [--json out.json]

On a 2-core CPU keep ``--frames`` small: MuseTalk costs about 30-45 s a frame there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def worker(a: argparse.Namespace) -> dict[str, Any]:
    import torch

    from lipdub.lipsync.engine import lipsync
    from lipdub.media import load_audio

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    syncer: Any
    if a.model == "musetalk":
        from lipdub.lipsync.musetalk import MuseTalkSyncer

        syncer = MuseTalkSyncer.from_pretrained(
            weights_dir=a.weights, device=a.device, precision=a.precision
        )
    else:
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        syncer = Wav2LipSyncer.from_pretrained(a.checkpoint, device=a.device, precision="fp32")
    load_rss = _rss_mib()
    syncer.prepare()
    audio = load_audio(a.clip)
    box = tuple(float(v) for v in a.box.split(","))
    if a.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    res = lipsync(a.clip, audio, Path(a.workdir) / f"{a.model}.mp4", syncer=syncer, box=box)
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {
        "model": a.model,
        "precision": syncer.precision,
        "frames": res.frames_total,
        "frames_synced": res.frames_synced,
        "batch_size": res.stats.batch_size,
        "wall_s": round(wall, 2),
        "fps": round(res.frames_synced / wall, 4),
        "rss_after_load_mib": round(load_rss, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
    }
    if a.device.startswith("cuda"):
        out["gpu_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        if a.model == "musetalk":
            out["fp16_vs_fp32_psnr_db"] = _fp16_fidelity(syncer)
    return out


def _fp16_fidelity(syncer: Any) -> float:
    """PSNR of fp16 faces against fp32 faces of the same calibration crops (TF32 off)."""
    import numpy as np

    from lipdub.lipsync.auto_precision import psnr_db
    from lipdub.lipsync.musetalk import _resize
    from lipdub.lipsync.wav2lip_int8 import calibration_crops

    small, _ = calibration_crops(16)
    faces = np.stack([_resize(f) for f in small])
    rng = np.random.default_rng(0)
    windows = rng.standard_normal((len(faces), 50, 384)).astype(np.float32)
    fp32 = syncer._run(faces, windows, "fp32", cache=False)
    fp16 = syncer._run(faces, windows, "fp16", cache=False)
    return round(psnr_db(fp16, fp32), 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--frames", type=int, default=4, help="frames of the 720p clip (25 fps)")
    p.add_argument("--precision", default=None, help="MuseTalk's (default: fp32 CPU, fp16 CUDA)")
    p.add_argument("--weights", default=None, help="where the test weights are built/cached")
    p.add_argument("--workdir", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--clip", help=argparse.SUPPRESS)
    p.add_argument("--box", help=argparse.SUPPRESS)
    p.add_argument("--checkpoint", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a)))
        return 0
    import bench_lipsync

    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint
    from lipdub.testing.musetalk_weights import cached_musetalk_test_weights

    work = Path(a.workdir or tempfile.mkdtemp(prefix="lipdub-musetalk-"))
    work.mkdir(parents=True, exist_ok=True)
    precision = a.precision or ("fp16" if a.device.startswith("cuda") else "fp32")
    t0 = time.perf_counter()
    weights = cached_musetalk_test_weights(a.weights or work / "weights")
    print(f"MuseTalk test weights ready in {time.perf_counter() - t0:.1f} s: {weights}")
    ckpt = write_random_wav2lip_checkpoint(work / "random.pth", seed=0)
    clip = work / "clip720.mp4"
    info = bench_lipsync.make_clip(clip, a.frames / bench_lipsync.FPS)
    box = ",".join(str(v) for v in info["box0"])
    env = {**os.environ, "LIPDUB_CACHE": os.environ.get("LIPDUB_CACHE", str(work / "cache"))}
    report: dict[str, Any] = {"device": a.device, "size": "1280x720", "runs": {}}
    for model in ("wav2lip_gan", "musetalk"):
        cmd = [
            sys.executable, __file__, "--worker", "--model", model, "--device", a.device,
            "--clip", str(clip), "--box", box, "--checkpoint", str(ckpt),
            "--weights", str(weights), "--workdir", str(work), "--precision", precision,
        ]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if res.returncode != 0:
            print(f"{model}: FAILED\n{res.stderr[-3000:]}")
            report["runs"][model] = {"error": res.stderr[-3000:]}
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        report["runs"][model] = r
        gpu = f", GPU peak {r['gpu_peak_mib']} MiB" if "gpu_peak_mib" in r else ""
        fid = r.get("fp16_vs_fp32_psnr_db")
        fid_text = f", fp16 vs fp32 {fid} dB (bound 35)" if fid is not None else ""
        print(
            f"{model:<12} {r['precision']:<5} {r['frames_synced']} frames at 720p: "
            f"{r['fps']:.4f} frames/s ({r['wall_s']} s), peak RSS {r['peak_rss_mib']} MiB "
            f"(after load {r['rss_after_load_mib']} MiB){gpu}{fid_text}"
        )
    runs = report["runs"]
    if all("fps" in runs.get(m, {}) for m in ("wav2lip_gan", "musetalk")):
        speed = runs["musetalk"]["fps"] / runs["wav2lip_gan"]["fps"]
        mem = runs["musetalk"]["peak_rss_mib"] / runs["wav2lip_gan"]["peak_rss_mib"]
        report["ratio_fps"], report["ratio_rss"] = round(speed, 4), round(mem, 2)
        print(f"musetalk / wav2lip_gan: {speed:.4f}x the frames/s, {mem:.2f}x the peak RSS")
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
