"""The lip-sync engine on a GPU (#29): precision ``auto`` (fp16 within the fidelity
bound), 720p and 1080p, a batch-size sweep.

For each frame size a 10 s clip (``bench_lipsync.make_clip``) is lip-synced by
``lipsync()`` in its own process for each batch size (and the engine's own choice,
``auto``): frames/s, the GPU's peak allocated memory, the process's peak RSS. The
first process measures ``auto`` (fp16 against fp32 on the calibration crops) and
prints what it chose and why. Random Wav2Lip weights unless ``--checkpoint``; the HD
lip-sync model joins with ``--hd`` once it is in lipdub (its test weights are built
on the machine by ``lipdub.testing``).

Usage::

    python benchmarks/bench_gpu_sweep.py --device cuda [--sizes 1280x720,1920x1080]
        [--batches 16,32,64,128,256,auto] [--seconds 10] [--json out.json]

``--device cpu --seconds 1 --batches 8`` checks the script itself on a CPU machine.
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

    from lipdub import registry
    from lipdub.lipsync.engine import lipsync
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.media import load_audio

    syncer = Wav2LipSyncer.from_pretrained(a.checkpoint, device=a.device)
    t0 = time.perf_counter()
    syncer.prepare()
    prepare_s = time.perf_counter() - t0
    choice = syncer.auto_choice
    audio = load_audio(a.clip)
    if a.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    res = lipsync(
        a.clip,
        audio,
        Path(a.workdir) / "out.mp4",
        syncer=syncer,
        detector=registry.resolve("detector", "retinaface"),
        batch_size=None if a.batch == "auto" else int(a.batch),
    )
    wall = time.perf_counter() - t0
    gpu_mib = None
    if a.device.startswith("cuda"):
        gpu_mib = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return {
        "precision": syncer.precision,
        "auto": choice.reason() if choice is not None else None,
        "prepare_s": round(prepare_s, 2),
        "batch_size": res.stats.batch_size,
        "frames": res.frames_total,
        "fps": round(res.frames_total / wall, 2),
        "gpu_peak_mib": gpu_mib,
        "peak_rss_mib": round(_rss_mib(), 1),
        "busy_pct": {k: round(100 * v / wall) for k, v in res.stats.stage_busy_s.items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--sizes", default="1280x720,1920x1080")
    p.add_argument("--batches", default="16,32,64,128,256,auto")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--checkpoint", default=None, help="Wav2Lip weights (default: random)")
    p.add_argument("--hd", action="store_true", help="also the HD lip-sync model (when in lipdub)")
    p.add_argument("--workdir", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--clip", help=argparse.SUPPRESS)
    p.add_argument("--batch", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a)))
        return 0
    import bench_lipsync

    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    work = Path(a.workdir or tempfile.mkdtemp(prefix="lipdub-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    if a.checkpoint is None:
        a.checkpoint = str(write_random_wav2lip_checkpoint(work / "random.pth", seed=0))
    env = {**os.environ, "LIPDUB_CACHE": os.environ.get("LIPDUB_CACHE", str(work / "cache"))}
    report: dict[str, Any] = {"device": a.device, "runs": []}
    if a.hd:
        import importlib.util

        if importlib.util.find_spec("lipdub.lipsync.musetalk") is None:
            print("HD lip-sync model: not in this lipdub yet; skipped")
            report["hd"] = "not in this lipdub"
    for size in a.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        bench_lipsync.WIDTH, bench_lipsync.HEIGHT = w, h
        clip = work / f"clip{h}.mp4"
        if not clip.exists():
            bench_lipsync.make_clip(clip, a.seconds)
        for batch in a.batches.split(","):
            cmd = [
                sys.executable, __file__, "--worker", "--device", a.device, "--clip", str(clip),
                "--batch", batch, "--checkpoint", a.checkpoint, "--workdir", str(work),
            ]  # fmt: skip
            res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if res.returncode != 0:
                print(f"{size} batch {batch}: FAILED\n{res.stderr[-2000:]}")
                report["runs"].append({"size": size, "batch": batch, "error": res.stderr[-2000:]})
                continue
            r = {"size": size, "batch": batch, **json.loads(res.stdout.strip().splitlines()[-1])}
            report["runs"].append(r)
            if r["auto"] and "auto" not in report:
                report["auto"] = r["auto"]
                print(f"precision auto on {a.device}: {r['auto']} (prepare {r['prepare_s']} s)")
            print(
                f"{size} batch {batch} ({r['batch_size']}): {r['fps']} frames/s, "
                f"{r['precision']}, GPU peak {r['gpu_peak_mib']} MiB, RSS {r['peak_rss_mib']} "
                f"MiB, busy % {r['busy_pct']}"
            )
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
