"""Real time on the CPU: generator speed and fidelity per precision, then end to end.

One run prints:

1. **Generator** — Wav2Lip faces/s at batch 8 for each precision (``fp32``, ``bf16``,
   ``int8``) with its fidelity against float32: PSNR (dB) and the largest absolute
   error (0..255) of the generated faces, on real face crops (the bundled portrait,
   cropped by RetinaFace at several shifts and scales, padded like the engine) with
   speech-like mel windows. The weights are random (``write_random_wav2lip_checkpoint``;
   the published weights cannot be downloaded here), so the fidelity numbers say how
   far each precision's arithmetic drifts on this network, not how a trained model's
   mouths look. Then the same fidelity on the parity kit's reference inputs
   (``tests/data/wav2lip_reference.npz``: the original network's outputs with the
   kit's synthetic weights, masked faces). int8 is built once into the work folder
   (``--workdir``; about 15 s per set of weights) before it is timed. A mode that is
   not available prints why.
2. **End to end** — ``lipsync()`` on a generated 720p clip (``bench_lipsync.make_clip``:
   the portrait drifting over a textured background) for ``fp32`` and for the fastest
   mode whose fidelity passes the bound ``auto`` uses
   (:data:`lipdub.lipsync.wav2lip.FIDELITY_MIN_PSNR_DB`), each in its own subprocess:
   frames/s, peak RSS, busy % per stage.

Usage::

    python benchmarks/bench_realtime.py [--seconds 10] [--preset veryfast] [--json out.json]
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH = 8
MODES = ("fp32", "bf16", "int8")


def _checkpoint(workdir: Path) -> Path:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    path = workdir / "wav2lip_random.pth"
    if not path.exists():
        write_random_wav2lip_checkpoint(path, seed=0)
    return path


def face_crops(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``n`` real 96x96 face crops (the portrait at shifts/scales) and mel windows."""
    import cv2

    from lipdub.faces.retinaface import RetinaFaceDetector
    from lipdub.lipsync.blend import crop_face
    from lipdub.media import read_image
    from lipdub.testing.media import sample_portrait_path, speech_tones

    img = read_image(sample_portrait_path())
    box = RetinaFaceDetector().detect([img])[0][0]
    rng = np.random.default_rng(0)
    crops = []
    for _ in range(n):
        s = float(rng.uniform(0.9, 1.1))
        dx, dy = rng.uniform(-6, 6, 2)
        b = box.padded(0, 10, 0, 0)
        cx, cy = (b.x1 + b.x2) / 2 + dx, (b.y1 + b.y2) / 2 + dy
        hw, hh = (b.x2 - b.x1) * s / 2, (b.y2 - b.y1) * s / 2
        crops.append(crop_face(img, (cx - hw, cy - hh, cx + hw, cy + hh), 96))
    del cv2
    from lipdub.audio import melspectrogram

    mel = melspectrogram(speech_tones(max(2.0, n / 25 + 1)).resample(16000).samples)
    mels = np.stack([mel[:, 3 * i : 3 * i + 16] for i in range(n)])
    return np.stack(crops), mels.astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def parity_fidelity(workdir: Path, threads: int) -> dict[str, Any]:
    """PSNR / max error (0..255) of each precision's raw generator output against the
    original network's ``output_masked_faces`` (parity kit inputs and weights)."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_wav2lip_model import DATA, parity_weights

    from lipdub.lipsync.wav2lip_int8 import Int8Generator
    from lipdub.models.wav2lip import Wav2Lip

    ref = np.load(DATA / "wav2lip_reference.npz")
    faces = ref["faces"].copy()
    faces[:, :3, 48:] = 0
    want = ref["output_masked_faces"] * 255.0
    net = Wav2Lip()
    net.load_state_dict(parity_weights(), strict=True)
    net.eval()
    mel_t, faces_t = torch.from_numpy(ref["mel"]), torch.from_numpy(faces)
    outs: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        outs["fp32"] = net(mel_t, faces_t).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            outs["bf16"] = net(mel_t, faces_t).float().numpy()
    try:
        gen = Int8Generator(net, "parity-kit-weights", workdir / "int8")
        sess = gen.session(threads)
        outs["int8"] = sess.run(["out"], {"mel": ref["mel"], "face": faces})[0]
    except Exception as e:
        outs.pop("int8", None)
        print(f"  int8 on the parity kit: not available: {str(e).splitlines()[0]}")
    rows: dict[str, Any] = {}
    for mode, out in outs.items():
        got = out * 255.0
        mse = float(np.mean((got.astype(np.float64) - want) ** 2))
        rows[mode] = {
            "psnr_db": round(10 * np.log10(255.0**2 / mse), 2) if mse else float("inf"),
            "max_err": round(float(np.abs(got - want).max()), 3),
        }
    return rows


def generator(workdir: Path, repeats: int, rounds: int = 3) -> dict[str, Any]:
    """Faces/s and fidelity per precision. The modes are timed in turn, ``rounds``
    times (fp32, bf16, int8, fp32, ...), and each reports its median round, so a burst
    of load from other jobs on a shared machine moves one round, not one mode."""
    import contextlib

    from lipdub.lipsync.base import default_threads
    from lipdub.lipsync.wav2lip import Wav2LipSyncer, cpu_supports

    ckpt = _checkpoint(workdir)
    faces, mels = face_crops()
    threads = default_threads()
    out: dict[str, Any] = {"threads": threads, "rounds": rounds}
    ref: np.ndarray | None = None
    syncers: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        for mode in MODES:
            try:
                syncer = Wav2LipSyncer.from_pretrained(
                    ckpt, device="cpu", precision=mode, int8_cache_dir=workdir / "int8"
                )
                stack.enter_context(syncer.running(threads))  # int8: built once, opened
                gen = np.concatenate(
                    [
                        syncer.sync(faces[i : i + BATCH], mels[i : i + BATCH])
                        for i in range(0, 32, BATCH)
                    ]
                )
            except Exception as e:
                out[mode] = {"available": False, "why": str(e).splitlines()[0]}
                continue
            syncers[mode] = syncer
            if ref is None:
                ref = gen
            diff = np.abs(gen.astype(int) - ref.astype(int))
            out[mode] = {
                "available": True,
                "native": cpu_supports(mode),
                "psnr_db": round(psnr(gen, ref), 2),
                "max_err": int(diff.max()),
                "mean_err": round(float(diff.mean()), 3),
                "rounds_faces_per_s": [],
            }
        for _ in range(rounds):
            for mode, syncer in syncers.items():
                syncer.sync(faces[:BATCH], mels[:BATCH])  # warm-up
                t0 = time.perf_counter()
                for _ in range(repeats):
                    syncer.sync(faces[:BATCH], mels[:BATCH])
                dt = time.perf_counter() - t0
                out[mode]["rounds_faces_per_s"].append(round(repeats * BATCH / dt, 1))
    for mode in syncers:
        out[mode]["faces_per_s"] = float(np.median(out[mode]["rounds_faces_per_s"]))
    out["parity_kit"] = parity_fidelity(workdir, threads)
    return out


def _cpu_s() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mib() -> float:
    """Peak resident memory of this process, MiB: ``VmHWM`` (the high-water mark of its
    own address space; ``ru_maxrss`` would carry the parent's peak across ``exec`` on
    Linux, and the parent holds every precision's model)."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_e2e(a: argparse.Namespace) -> dict[str, Any]:
    from lipdub import registry
    from lipdub.lipsync.engine import lipsync
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.media import load_audio

    syncer = Wav2LipSyncer.from_pretrained(
        _checkpoint(Path(a.workdir)),
        device="cpu",
        precision=a.precision,
        int8_cache_dir=Path(a.workdir) / "int8",
    )
    with syncer.running(a.threads):  # int8: a model not in the work folder is built here
        pass
    audio = load_audio(a.clip)
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    res = lipsync(
        a.clip,
        audio,
        Path(a.workdir) / f"out_{a.precision}.mp4",
        syncer=syncer,
        detector=registry.resolve("detector", "retinaface"),
        preset=a.preset,
        threads=a.threads,
    )
    wall = time.perf_counter() - t0
    cpu = _cpu_s() - cpu0
    s = res.stats
    return {
        "precision": a.precision,
        "frames": res.frames_total,
        "frames_synced": res.frames_synced,
        "fps": round(res.frames_total / wall, 2),
        "cpu_ms_per_frame": round(1000 * cpu / max(1, res.frames_total), 1),
        "peak_rss_mib": round(_rss_mib(), 1),
        "busy_pct": {k: round(100 * v / wall) for k, v in s.stage_busy_s.items()},
        "batch_size": s.batch_size,
        "queue_bounds": s.queue_bounds,
        "frames_in_flight_peak": s.frames_in_flight_peak,
        "frames_in_flight_bound": s.frames_in_flight_bound,
    }


def _run(a: argparse.Namespace, clip: Path, precision: str) -> dict[str, Any]:
    cmd = [
        sys.executable, __file__, "--worker", "e2e", "--clip", str(clip),
        "--precision", precision, "--workdir", a.workdir, "--preset", a.preset,
    ]  # fmt: skip
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    result: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    from lipdub.lipsync.wav2lip import FIDELITY_MIN_PSNR_DB

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="720p clip length")
    p.add_argument("--preset", default="veryfast", help="x264 preset")
    p.add_argument("--repeats", type=int, default=6, help="timed generator batches per mode")
    p.add_argument("--threads", type=int, default=None, help="model threads (default: auto)")
    p.add_argument("--json", default=None)
    p.add_argument("--workdir", default=None)
    p.add_argument("--skip-e2e", action="store_true")
    p.add_argument("--skip-generator", action="store_true")
    p.add_argument("--size", default="1280x720", help="end-to-end clip WIDTHxHEIGHT")
    p.add_argument("--e2e-modes", default=None, help="e.g. bf16 (default: fp32 + fastest)")
    p.add_argument("--worker", choices=["e2e"], help=argparse.SUPPRESS)
    p.add_argument("--clip", help=argparse.SUPPRESS)
    p.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker == "e2e":
        print(json.dumps(worker_e2e(a)))
        return 0
    a.workdir = a.workdir or tempfile.mkdtemp(prefix="lipdub-rt-")
    load = os.getloadavg()
    report: dict[str, Any] = {"loadavg_at_start": [round(x, 2) for x in load]}
    if a.skip_generator:
        gen = {"threads": 0, **{m: {"available": False, "why": "skipped"} for m in MODES}}
        gen["fp32"] = {"available": False, "why": "skipped"}
    else:
        gen = generator(Path(a.workdir), a.repeats)
    report["generator"] = gen
    print(f"generator, batch {BATCH}, {gen['threads']} threads (random weights, face crops):")
    for mode in MODES:
        row = gen[mode]
        if not row["available"]:
            print(f"  {mode:5s} not available: {row['why']}")
            continue
        print(
            f"  {mode:5s} {row['faces_per_s']:6.1f} faces/s (rounds {row['rounds_faces_per_s']})"
            f"  PSNR {row['psnr_db']} dB  max err {row['max_err']}  mean err {row['mean_err']}"
            f"  native {row['native']}"
        )
    for mode, row in gen.get("parity_kit", {}).items():
        print(f"  parity kit {mode:5s} PSNR {row['psnr_db']} dB  max err {row['max_err']}")
    passing = [
        m
        for m in MODES
        if gen[m]["available"] and (m == "fp32" or gen[m]["psnr_db"] >= FIDELITY_MIN_PSNR_DB)
    ]
    fastest = max(passing, key=lambda m: gen[m]["faces_per_s"], default="fp32")
    report["fastest_passing"] = fastest
    print(f"fastest mode passing PSNR >= {FIDELITY_MIN_PSNR_DB} dB: {fastest}")
    if not a.skip_e2e:
        import bench_lipsync

        w, h = (int(v) for v in a.size.split("x"))
        bench_lipsync.WIDTH, bench_lipsync.HEIGHT = w, h
        clip = Path(a.workdir) / f"clip{h}.mp4"
        bench_lipsync.make_clip(clip, a.seconds)
        report["e2e"] = {}
        modes = a.e2e_modes.split(",") if a.e2e_modes else ("fp32", fastest)
        for mode in dict.fromkeys(modes):
            r = _run(a, clip, mode)
            report["e2e"][mode] = r
            print(
                f"end to end {a.size} {a.seconds:g} s, {mode}: {r['fps']} frames/s "
                f"({r['cpu_ms_per_frame']} CPU ms a frame), peak RSS {r['peak_rss_mib']} MiB, "
                f"busy % {r['busy_pct']}"
            )
    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average: start {report['loadavg_at_start']}, end {report['loadavg_at_end']}")
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
