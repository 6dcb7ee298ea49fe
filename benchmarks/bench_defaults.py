"""The default path, measured (#29): ``auto`` against ``fp32``, where the time goes,
the distance to the machine's peak, and 1080p memory.

One run prints (and writes with ``--json``):

1. **Machine** — the CPU's name, family, model and the flags that decide speed; the
   load average at the start and the end.
2. **Preparation** — what ``precision="auto"`` chose on this machine for the random
   test weights and why (each mode's faces/s on the calibration crops and its PSNR
   against fp32), and what the int8 build and the measurement cost (once per
   weights; ``lipdub weights download`` does it ahead).
3. **Peak** — the generator's operations per face counted by
   ``torch.utils.flop_counter`` (multiply and add counted as 2), and the machine's
   peak from a 2-thread GEMM in the same run: fp32 and bf16 (``torch.mm``, 4096², and
   a 3x3 convolution of the generator's kind, 256 -> 256 channels at 48x48, batch 8,
   which runs on oneDNN like the generator: the better of the two is the peak) and
   int8 (``torch._int_mm``, 4096²). The generator's achieved ops/s in each mode are given as a
   share of the peak of its arithmetic.
4. **CLI pairs** — ``lipdub lipsync`` with no precision flag against
   ``--precision fp32``: whole processes (model loading included), the same 10 s 720p
   clip, every frame lip-synced (``--all-frames``), alternating A B A B; wall time,
   frames/s and peak RSS of each.
5. **Profile** — ``lipsync()`` in the default mode at 720p in its own process: busy
   time per stage (decode, track = detect + interpolate, crop, generate, blend,
   encode) in ms per frame and % of the wall time, and the generator's achieved ops/s
   in the run.
6. **Memory** — ``lipdub lipsync`` in the default mode on 1080p clips of 30 s and
   120 s (``--memory-seconds``): peak RSS of the process.

The clips are ``bench_lipsync.make_clip``'s (the bundled portrait drifting over a
textured background, tone-burst speech). Random weights: speed and memory do not
depend on them.

Usage::

    python benchmarks/bench_defaults.py [--pairs 3] [--seconds 10] [--memory-seconds 30,120]
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

SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8")


def _cpu() -> dict[str, Any]:
    from lipdub.lipsync.auto_precision import cpu_identity

    cpu = cpu_identity()
    flags = [f for f in SPEED_FLAGS if f in cpu["flags"].split()]
    return {
        "model_name": cpu["model_name"],
        "family": cpu["family"],
        "model": cpu["model"],
        "speed_flags": flags,
        "cores": os.cpu_count(),
    }


def _checkpoint(workdir: Path) -> Path:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    path = workdir / "wav2lip_random.pth"
    if not path.exists():
        write_random_wav2lip_checkpoint(path, seed=0)
    return path


def _clip(workdir: Path, seconds: float, width: int, height: int) -> Path:
    import bench_lipsync

    path = workdir / f"clip{height}_{seconds:g}s.mp4"
    if not path.exists():
        bench_lipsync.WIDTH, bench_lipsync.HEIGHT = width, height
        bench_lipsync.make_clip(path, seconds)
    return path


# ----------------------------------------------------------------------------- workers
def worker_prepare(a: argparse.Namespace) -> dict[str, Any]:
    """Build int8 and measure ``auto`` (cold cache), in a fresh process."""
    from lipdub.events import EventRecorder, StageFinished
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    syncer = Wav2LipSyncer.from_pretrained(_checkpoint(Path(a.workdir)), device="cpu")
    rec = EventRecorder()
    t0 = time.perf_counter()
    syncer.prepare(on_event=rec)
    choice = syncer.auto_choice
    assert choice is not None
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "stages": {e.stage: round(e.elapsed_s, 2) for e in rec.of_type(StageFinished)},  # type: ignore[attr-defined]
        "choice": choice.precision,
        "reason": choice.reason(),
        "cached": choice.cached,
        "trials": {
            t.mode: {"faces_per_s": t.faces_per_s, "psnr_db": t.psnr_db, "note": t.note}
            for t in choice.trials
        },
    }


def _best(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def worker_peak(a: argparse.Namespace) -> dict[str, Any]:
    """FLOPs per face and the 2-thread GEMM peaks (fp32, bf16, int8)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lipdub.models.wav2lip import Wav2Lip

    torch.set_num_threads(2)
    net = Wav2Lip().eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 1, 80, 16), torch.zeros(1, 6, 96, 96))
    flops = int(counter.get_total_flops())
    n = 4096
    x = torch.randn(n, n)
    y = torch.randn(n, n)
    out: dict[str, Any] = {"flops_per_face": flops, "threads": 2, "gemm_size": n}
    # the GEMM (torch.mm: MKL for fp32) and a 3x3 convolution of the generator's kind
    # (oneDNN's implicit GEMM, the kernels the generator runs): the better is the peak
    act = torch.randn(8, 256, 48, 48)
    kern = torch.randn(256, 256, 3, 3)
    conv_flops = 2 * 256 * 256 * 9 * 48 * 48 * 8
    with torch.inference_mode():
        torch.mm(x, y)
        out["fp32_gemm_gflops"] = round(2 * n**3 / _best(lambda: torch.mm(x, y), 7) / 1e9, 1)
        conv = torch.nn.functional.conv2d
        conv(act, kern, padding=1)
        best = _best(lambda: conv(act, kern, padding=1), 7)
        out["fp32_conv_gflops"] = round(conv_flops / best / 1e9, 1)
        xb, yb = x.bfloat16(), y.bfloat16()
        torch.mm(xb, yb)
        out["bf16_gemm_gflops"] = round(2 * n**3 / _best(lambda: torch.mm(xb, yb), 7) / 1e9, 1)
        ab, kb = act.bfloat16(), kern.bfloat16()
        conv(ab, kb, padding=1)
        best = _best(lambda: conv(ab, kb, padding=1), 7)
        out["bf16_conv_gflops"] = round(conv_flops / best / 1e9, 1)
        xi = torch.randint(-128, 127, (n, n), dtype=torch.int8)
        yi = torch.randint(-128, 127, (n, n), dtype=torch.int8)
        try:
            torch._int_mm(xi, yi)
            out["int8_gops"] = round(2 * n**3 / _best(lambda: torch._int_mm(xi, yi), 7) / 1e9, 1)
        except RuntimeError as e:
            out["int8_gops"] = None
            out["int8_why"] = str(e).splitlines()[0]
    out["fp32_gflops"] = max(out["fp32_gemm_gflops"], out["fp32_conv_gflops"])
    out["bf16_gflops"] = max(out["bf16_gemm_gflops"], out["bf16_conv_gflops"])
    return out


def worker_profile(a: argparse.Namespace) -> dict[str, Any]:
    """``lipsync()`` in the default mode (precision auto, the CLI's defaults)."""
    from lipdub import registry
    from lipdub.lipsync.engine import lipsync
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.media import load_audio

    syncer = Wav2LipSyncer.from_pretrained(_checkpoint(Path(a.workdir)), device="cpu")
    syncer.prepare()  # cached by the prepare worker
    audio = load_audio(a.clip)
    kw: dict[str, Any] = {}
    if a.preset:
        kw["preset"] = a.preset
    t0 = time.perf_counter()
    res = lipsync(
        a.clip,
        audio,
        Path(a.workdir) / "profile.mp4",
        syncer=syncer,
        detector=registry.resolve("detector", "retinaface"),
        **kw,
    )
    wall = time.perf_counter() - t0
    s = res.stats
    frames = max(1, res.frames_total)
    return {
        "precision": syncer.precision,
        "frames": res.frames_total,
        "frames_synced": res.frames_synced,
        "wall_s": round(wall, 2),
        "fps": round(res.frames_total / wall, 2),
        "busy_ms_per_frame": {k: round(1000 * v / frames, 2) for k, v in s.stage_busy_s.items()},
        "busy_pct": {k: round(100 * v / wall) for k, v in s.stage_busy_s.items()},
        "generate_s": s.stage_busy_s.get("generate"),
    }


def _timed_cli(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``lipdub ARGS`` in a child of a tiny wrapper: wall time and the child's
    peak RSS (``RUSAGE_CHILDREN`` of the wrapper, whose only child it is)."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t0 = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t0\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'rc': r.returncode, 'wall_s': wall, 'peak_mib': peak,"
        " 'out': r.stdout[-400:], 'err': r.stderr[-800:]}))\n"
    )
    cmd = [sys.executable, "-c", wrapper, sys.executable, "-m", "lipdub.cli", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    if out["rc"] != 0:
        raise SystemExit(f"lipdub {' '.join(args)} failed:\n{out['err']}")
    return out


def _lipsync_args(clip: Path, ckpt: Path, out: Path, precision: str | None) -> list[str]:
    args = ["lipsync", "--face", str(clip), "--audio", str(clip), "--checkpoint", str(ckpt)]
    args += ["-o", str(out), "--device", "cpu", "-q", "--all-frames", "--detector", "retinaface"]
    return args + (["--precision", precision] if precision else [])


def _frames(out: str) -> int:
    for word in out.split("(")[1:]:
        if "frames)" in word:
            return int(word.split(",")[1].split()[0])
    raise ValueError(out)


def _worker(a: argparse.Namespace, name: str, env: dict[str, str], **extra: str) -> Any:
    cmd = [sys.executable, __file__, "--worker", name, "--workdir", a.workdir]
    for k, v in extra.items():
        cmd += [f"--{k}", v]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", default=None)
    p.add_argument("--seconds", type=float, default=10.0, help="720p clip length")
    p.add_argument("--pairs", type=int, default=3, help="A/B pairs of CLI runs")
    p.add_argument("--memory-seconds", default="30,120", help="1080p clip lengths ('' skips)")
    p.add_argument(
        "--preset", default=None, help="x264 preset of the profile (default: the engine's)"
    )
    p.add_argument("--skip-pairs", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--worker", choices=["prepare", "peak", "profile"], help=argparse.SUPPRESS)
    p.add_argument("--clip", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        fn = {"prepare": worker_prepare, "peak": worker_peak, "profile": worker_profile}
        print(json.dumps(fn[a.worker](a)))
        return 0
    a.workdir = a.workdir or tempfile.mkdtemp(prefix="lipdub-defaults-")
    work = Path(a.workdir)
    env = {**os.environ, "LIPDUB_CACHE": str(work / "cache")}
    report: dict[str, Any] = {"cpu": _cpu(), "load_start": [round(x, 2) for x in os.getloadavg()]}
    print(f"cpu: {report['cpu']}  load {report['load_start']}")
    ckpt = _checkpoint(work)
    clip = _clip(work, a.seconds, 1280, 720)

    prep = _worker(a, "prepare", env)
    report["prepare"] = prep
    print(f"prepare (cold cache): {prep['seconds']} s {prep['stages']}\n  auto -> {prep['reason']}")

    peak = _worker(a, "peak", env)
    report["peak"] = peak
    gflop = peak["flops_per_face"] / 1e9
    print(
        f"generator: {gflop:.2f} GFLOP per face; 2-thread peak (GEMM / 3x3 conv): fp32 "
        f"{peak['fp32_gemm_gflops']} / {peak['fp32_conv_gflops']} GFLOP/s, bf16 "
        f"{peak['bf16_gemm_gflops']} / {peak['bf16_conv_gflops']}, int8 GEMM "
        f"{peak['int8_gops']} GOP/s"
    )
    peak_of = {"fp32": peak["fp32_gflops"], "bf16": peak["bf16_gflops"], "int8": peak["int8_gops"]}
    report["generator_share"] = {}
    for mode, row in prep["trials"].items():
        if row["faces_per_s"] and peak_of.get(mode):
            ops = row["faces_per_s"] * gflop
            share = ops / peak_of[mode]
            report["generator_share"][mode] = {"gops": round(ops, 1), "share": round(share, 3)}
            print(
                f"  {mode}: {row['faces_per_s']} faces/s (batch 8) = {ops:.0f} GOP/s, "
                f"{100 * share:.0f} % of the {mode} GEMM peak"
            )

    if not a.skip_pairs:
        runs: dict[str, list[dict[str, Any]]] = {"auto": [], "fp32": []}
        for i in range(a.pairs):
            for label, prec in (("auto", None), ("fp32", "fp32")):
                out = work / f"pair_{label}.mp4"
                r = _timed_cli(_lipsync_args(clip, ckpt, out, prec), env)
                r["frames"] = _frames(r["out"])
                r["fps"] = r["frames"] / r["wall_s"]
                r["load"] = round(os.getloadavg()[0], 2)
                runs[label].append(r)
                print(
                    f"  pair {i + 1} {label:4s}: {r['wall_s']:.2f} s, {r['fps']:.2f} frames/s, "
                    f"peak {r['peak_mib']:.0f} MiB (load {r['load']})"
                )
        ratios = [
            b["wall_s"] / a_["wall_s"] for a_, b in zip(runs["auto"], runs["fp32"], strict=True)
        ]
        report["cli_pairs"] = {
            k: [{x: r[x] for x in ("wall_s", "fps", "peak_mib", "load")} for r in v]
            for k, v in runs.items()
        }
        report["cli_speedup"] = [round(r, 3) for r in ratios]
        print(
            f"lipsync, no flag vs --precision fp32: {min(ratios):.2f}-{max(ratios):.2f}x frames/s"
        )

    prof = _worker(a, "profile", env, clip=str(clip), **({"preset": a.preset} if a.preset else {}))
    report["profile"] = prof
    if prof.get("generate_s"):
        ops = prof["frames_synced"] * peak["flops_per_face"] / prof["generate_s"] / 1e9
        prof["generator_gops_in_run"] = round(ops, 1)
        mode_peak = peak_of.get(prof["precision"]) or 0
        prof["generator_share_in_run"] = round(ops / mode_peak, 3) if mode_peak else None
    print(
        f"profile, 720p {a.seconds:g} s, {prof['precision']}: {prof['fps']} frames/s; "
        f"busy ms/frame {prof['busy_ms_per_frame']}; busy % {prof['busy_pct']}; generator "
        f"{prof.get('generator_gops_in_run')} GOP/s ({prof.get('generator_share_in_run')} of peak)"
    )

    report["memory"] = {}
    for sec in [float(x) for x in a.memory_seconds.split(",") if x.strip()]:
        big = _clip(work, sec, 1920, 1080)
        r = _timed_cli(_lipsync_args(big, ckpt, work / "mem.mp4", None), env)
        r["frames"] = _frames(r["out"])
        r["load"] = round(os.getloadavg()[0], 2)
        report["memory"][f"{sec:g}"] = {x: r[x] for x in ("wall_s", "peak_mib", "frames", "load")}
        print(
            f"1080p {sec:g} s, default mode: peak RSS {r['peak_mib']:.0f} MiB, "
            f"{r['frames'] / r['wall_s']:.1f} frames/s (load {r['load']})"
        )
    report["load_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load: start {report['load_start']}, end {report['load_end']}")
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
