"""End-to-end lip-sync speed and memory: lipdub's streaming engine vs the original algorithm.

Generates 720p clips (the bundled real portrait drifting over a textured background,
with tone-burst "speech"), then, each run in its own subprocess so that its peak RSS
(``resource.getrusage``) is its own:

* **ours** — :func:`lipdub.lipsync.engine.lipsync`: one threaded decode, RetinaFace
  inside a :class:`~lipdub.faces.track.FaceTracker` (default settings), 96x96 crops,
  Wav2Lip at the syncer's batch size, feathered mouth blending, one encode, all
  overlapped in bounded queues.
* **reference** — the original Wav2Lip inference algorithm's costs, rewritten from the
  facts in ``docs`` (not its code): every frame decoded into memory first, S3FD at full
  resolution on every frame (seconds per 720p frame on a CPU, so it is *timed on a
  sample of frames and extrapolated*; the output says so), one mel window per frame
  collected in a list, the generator at batch 128, a hard paste of the whole box, then
  the encode — sequential stages, no overlap. Both use the same random Wav2Lip weights
  (or ``--checkpoint``) and the same encoder settings.

It prints the frames/s of both and their ratio, the peak RSS of ours on the short and
the long clip (flat memory: they must differ by < 20 % and stay < 1.5 GiB), busy %
per stage, and an equivalence check: both paths run with the same fixed box and a hard
paste on a short clip, and their frames are compared before encoding.

Usage::

    python benchmarks/bench_lipsync.py [--quick] [--device cpu|cuda] [--checkpoint PATH]
        [--short 10] [--long 60] [--s3fd-samples 2] [--preset veryfast] [--json out.json]

``--quick`` keeps the run under ~10 minutes on a 2-core CPU: the long-clip memory runs
use the pass-through syncer (the model's memory is a constant; this measures the
pipeline's buffering) and the long clip's Wav2Lip throughput is not measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WIDTH, HEIGHT, FPS = 1280, 720, 25
BATCH_REFERENCE = 128
FACE_SCALE = 1.6  # the portrait is scaled up so the face is ~250 px tall in 720p


# ----------------------------------------------------------------------------- clips


def _portrait() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The bundled portrait (scaled) and the face box inside it, found by RetinaFace."""
    import cv2

    from lipdub.faces.retinaface import RetinaFaceDetector
    from lipdub.media import read_image
    from lipdub.testing.media import sample_portrait_path

    img = read_image(sample_portrait_path())
    img = cv2.resize(img, None, fx=FACE_SCALE, fy=FACE_SCALE, interpolation=cv2.INTER_LINEAR)
    faces = RetinaFaceDetector().detect([img])[0]
    if not faces:
        raise SystemExit("RetinaFace found no face in the sample portrait")
    x1, y1, x2, y2 = faces[0].to_int()
    return img, (x1, y1, x2, y2)


def _offset(i: int) -> tuple[int, int]:
    x = 400 + round(200 * math.sin(2 * math.pi * i / (FPS * 16)))
    y = 40 + round(30 * math.sin(2 * math.pi * i / (FPS * 9)))
    return x, y


def make_clip(path: Path, seconds: float) -> dict[str, Any]:
    """Write a 720p clip with speech-like audio; returns its face box at frame 0."""
    import cv2

    from lipdub.media import VideoWriter
    from lipdub.testing.media import speech_tones

    img, face = _portrait()
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 60, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    bg = cv2.resize(noise, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    n = round(seconds * FPS)
    h, w = img.shape[:2]
    with VideoWriter(
        path, fps=FPS, width=WIDTH, height=HEIGHT, audio=speech_tones(seconds), preset="ultrafast"
    ) as writer:
        for i in range(n):
            frame = bg.copy()
            x, y = _offset(i)
            hh, ww = min(h, HEIGHT - y), min(w, WIDTH - x)
            frame[y : y + hh, x : x + ww] = img[:hh, :ww]
            writer.write(frame)
    x, y = _offset(0)
    return {"frames": n, "box0": (face[0] + x, face[1] + y, face[2] + x, face[3] + y)}


# ----------------------------------------------------------------------------- workers


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load_syncer(kind: str, checkpoint: str | None, device: str, ckpt_dir: Path) -> Any:
    if kind == "passthrough":
        from lipdub.testing import PassThroughLipSyncer

        return PassThroughLipSyncer()
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    path = checkpoint
    if path is None:
        path = str(ckpt_dir / "wav2lip_random.pth")
        if not Path(path).exists():
            write_random_wav2lip_checkpoint(path, seed=0)
    return Wav2LipSyncer.from_pretrained(path, device=device)


def worker_ours(a: argparse.Namespace) -> dict[str, Any]:
    from lipdub import registry
    from lipdub.lipsync.engine import lipsync
    from lipdub.media import load_audio

    syncer = _load_syncer(a.syncer, a.checkpoint, a.device, Path(a.workdir))
    detector = registry.resolve("detector", "retinaface")
    audio = load_audio(a.clip)
    t0 = time.perf_counter()
    res = lipsync(
        a.clip,
        audio,
        Path(a.workdir) / f"ours_{Path(a.clip).stem}.mp4",
        syncer=syncer,
        detector=detector,
        preset=a.preset,
        batch_size=a.batch_size,
        threads=a.threads,
    )
    wall = time.perf_counter() - t0
    s = res.stats
    return {
        "path": "ours",
        "syncer": a.syncer,
        "frames": res.frames_total,
        "frames_synced": res.frames_synced,
        "frames_no_face": res.frames_no_face,
        "seconds": wall,
        "fps": res.frames_total / wall,
        "peak_rss_mib": _rss_mib(),
        "busy_s": s.stage_busy_s,
        "busy_pct": {k: 100 * v / wall for k, v in s.stage_busy_s.items()},
        "batch_size": s.batch_size,
        "queue_peaks": s.queue_peaks,
        "frames_in_flight_peak": s.frames_in_flight_peak,
        "torch_threads": _torch_threads(),
    }


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _reference_frames(
    clip: str,
    audio_clip: Any,
    model: Any,
    box: tuple[int, int, int, int] | None,
    s3fd_samples: int,
    timings: dict[str, float],
    device: str = "cpu",
) -> list[np.ndarray]:
    """The original algorithm, stage after stage; returns the output frames (in memory)."""
    import cv2
    import torch

    from lipdub.audio import melspectrogram, original_window_starts
    from lipdub.media import iter_frames

    t = time.perf_counter()
    frames = list(iter_frames(clip))  # every frame in memory
    timings["read_s"] = time.perf_counter() - t

    if box is None:
        # S3FD on every full-resolution frame, batch of 1..2 frames, timed on a sample
        from lipdub.models.s3fd import S3FD

        net = S3FD().eval().to(device)
        sample = frames[: max(1, s3fd_samples)]
        with torch.inference_mode():
            t = time.perf_counter()
            for f in sample:
                x = (f[..., ::-1].astype(np.float32) - np.array([104, 117, 123], np.float32))[None]
                y = net(torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).to(device))
                [o.cpu() for o in y]  # the original moves the outputs to the CPU
        per_frame = (time.perf_counter() - t) / len(sample)
        timings["detect_s"] = per_frame * len(frames)
        timings["detect_per_frame_s"] = per_frame
        timings["detect_extrapolated_from"] = len(sample)
        h, w = frames[0].shape[:2]
        # random weights find nothing: continue with a central box (same downstream cost)
        box = (w // 2 - 130, h // 2 - 160, w // 2 + 130, h // 2 + 160)
    else:
        timings["detect_s"] = 0.0

    t = time.perf_counter()
    mel = melspectrogram(audio_clip.resample(16000).samples)
    starts = original_window_starts(mel.shape[1], FPS)
    chunks = [mel[:, s : s + 16] for s in starts]  # one window per frame, in a list
    timings["mel_s"] = time.perf_counter() - t

    x1, y1, x2, y2 = box
    out_frames: list[np.ndarray] = []
    gen_s = paste_s = 0.0
    for b0 in range(0, len(chunks), BATCH_REFERENCE):
        idx = range(b0, min(len(chunks), b0 + BATCH_REFERENCE))
        t = time.perf_counter()
        faces = np.stack([cv2.resize(frames[i % len(frames)][y1:y2, x1:x2], (96, 96)) for i in idx])
        masked = faces.copy()
        masked[:, 48:] = 0
        img = np.concatenate((masked, faces), axis=3) / 255.0
        mels = np.stack([chunks[i] for i in idx])[..., None]
        img_t = torch.FloatTensor(np.transpose(img, (0, 3, 1, 2))).to(device)
        mel_t = torch.FloatTensor(np.transpose(mels, (0, 3, 1, 2))).to(device)
        with torch.no_grad():
            pred = model(mel_t, img_t)
        pred = pred.cpu().numpy().transpose(0, 2, 3, 1) * 255.0
        gen_s += time.perf_counter() - t
        t = time.perf_counter()
        for i, p in zip(idx, pred, strict=True):
            f = frames[i % len(frames)].copy()
            f[y1:y2, x1:x2] = cv2.resize(p.astype(np.uint8), (x2 - x1, y2 - y1))
            out_frames.append(f)
        paste_s += time.perf_counter() - t
    timings["generate_s"] = gen_s
    timings["paste_s"] = paste_s
    return out_frames


def worker_reference(a: argparse.Namespace) -> dict[str, Any]:
    from lipdub.media import VideoWriter, load_audio

    syncer = _load_syncer(
        "wav2lip", a.checkpoint, "cpu" if a.device == "cpu" else a.device, Path(a.workdir)
    )
    model = syncer.model.float().cpu().eval() if a.device == "cpu" else syncer.model
    audio = load_audio(a.clip)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    frames = _reference_frames(a.clip, audio, model, None, a.s3fd_samples, timings, device=a.device)
    t = time.perf_counter()
    with VideoWriter(
        Path(a.workdir) / "reference.mp4",
        fps=FPS,
        width=WIDTH,
        height=HEIGHT,
        audio=audio,
        preset=a.preset,
    ) as w:
        for f in frames:
            w.write(f)
    timings["encode_s"] = time.perf_counter() - t
    measured = time.perf_counter() - t0
    # the measured wall time includes only the S3FD sample; add the extrapolated rest
    sample_s = timings["detect_per_frame_s"] * timings["detect_extrapolated_from"]
    total = measured - sample_s + timings["detect_s"]
    return {
        "path": "reference",
        "frames": len(frames),
        "seconds": total,
        "seconds_without_detection": measured - sample_s,
        "fps": len(frames) / total,
        "peak_rss_mib": _rss_mib(),
        "timings": timings,
    }


def worker_check(a: argparse.Namespace) -> dict[str, Any]:
    """Same fixed box, hard paste: compare our frames with the reference's."""
    from lipdub.lipsync.engine import lipsync_stream
    from lipdub.media import load_audio

    syncer = _load_syncer("wav2lip", a.checkpoint, "cpu", Path(a.workdir))
    audio = load_audio(a.clip)
    box = tuple(int(v) for v in a.box.split(","))
    ref = _reference_frames(a.clip, audio, syncer.model, box, 0, {})  # type: ignore[arg-type]
    with lipsync_stream(
        a.clip,
        audio,
        syncer=syncer,
        box=box,
        pads=(0, 0, 0, 0),
        feather=0.0,
        mouth_only=False,
    ) as stream:
        ours = list(stream)
    # the reference's last frame uses its "tail" mel window; compare the frames before it
    n = min(len(ours), len(ref) - 1)
    diffs = [np.abs(ours[i].astype(np.int16) - ref[i].astype(np.int16)) for i in range(n)]
    return {
        "frames_compared": n,
        "frames_identical": sum(int(d.max() == 0) for d in diffs),
        "max_abs_diff": max(int(d.max()) for d in diffs),
        "pixels_differing_pct": 100.0
        * sum(int((d > 0).sum()) for d in diffs)
        / sum(d.size for d in diffs),
        "frames_ours": len(ours),
        "frames_reference": len(ref),
    }


# ----------------------------------------------------------------------------- driver


def _run_worker(kind: str, clip: Path, a: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    out = Path(a.workdir) / f"{kind}_{clip.stem}_{extra.get('syncer', '')}.json"
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--clip",
        str(clip),
        "--out",
        str(out),
        "--workdir",
        a.workdir,
        "--device",
        a.device,
        "--preset",
        a.preset,
        "--s3fd-samples",
        str(a.s3fd_samples),
    ]
    if a.checkpoint:
        cmd += ["--checkpoint", a.checkpoint]
    if a.batch_size:
        cmd += ["--batch-size", str(a.batch_size)]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    result["subprocess_s"] = time.perf_counter() - t
    return result


def _machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1m_at_start": os.getloadavg()[0],
    }
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="keep it under ~10 min on 2 cores")
    p.add_argument("--device", default="cpu")
    p.add_argument("--checkpoint", default=None, help="Wav2Lip weights (default: random)")
    p.add_argument("--short", type=float, default=10.0, help="short clip length (s)")
    p.add_argument("--long", type=float, default=60.0, help="long clip length (s)")
    p.add_argument("--s3fd-samples", type=int, default=2)
    p.add_argument("--preset", default="veryfast", help="x264 preset (both paths)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch threads for ours")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--workdir", default=None)
    p.add_argument("--skip-reference", action="store_true")
    # worker-only options
    p.add_argument("--worker", choices=["ours", "reference", "check"], help=argparse.SUPPRESS)
    p.add_argument("--clip", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--syncer", default="wav2lip", help=argparse.SUPPRESS)
    p.add_argument("--box", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.worker:
        fn = {"ours": worker_ours, "reference": worker_reference, "check": worker_check}
        Path(a.out).write_text(json.dumps(fn[a.worker](a), indent=1, default=str))
        return 0

    a.workdir = a.workdir or tempfile.mkdtemp(prefix="lipdub-bench-")
    work = Path(a.workdir)
    t_start = time.perf_counter()
    print(f"machine: {_machine()}")
    print(f"workdir: {work}")
    clips: dict[str, Path] = {}
    meta: dict[str, Any] = {}
    for name, secs in (("short", a.short), ("long", a.long), ("check", 1.0)):
        path = work / f"clip_{name}_{secs:g}s.mp4"
        if not path.exists():
            t = time.perf_counter()
            meta[name] = make_clip(path, secs)
            print(f"made {path.name}: {secs:g} s 720p in {time.perf_counter() - t:.1f} s")
        clips[name] = path
    if "check" not in meta:
        meta["check"] = make_clip(clips["check"], 1.0)

    results: dict[str, Any] = {"machine": _machine(), "settings": vars(a).copy()}
    ours = _run_worker("ours", clips["short"], a, syncer="wav2lip")
    results["ours_short"] = ours
    print(
        f"ours      {a.short:g} s: {ours['frames']} frames in {ours['seconds']:.1f} s = "
        f"{ours['fps']:.2f} frames/s, peak RSS {ours['peak_rss_mib']:.0f} MiB, "
        f"batch {ours['batch_size']}, synced {ours['frames_synced']}, "
        f"no face {ours['frames_no_face']}"
    )
    print("  busy % per stage: " + ", ".join(f"{k} {v:.0f}%" for k, v in ours["busy_pct"].items()))
    if not a.skip_reference:
        ref = _run_worker("reference", clips["short"], a)
        results["reference_short"] = ref
        tm = ref["timings"]
        print(
            f"reference {a.short:g} s: {ref['frames']} frames in {ref['seconds']:.1f} s = "
            f"{ref['fps']:.3f} frames/s, peak RSS {ref['peak_rss_mib']:.0f} MiB "
            f"(S3FD full-res {tm['detect_per_frame_s']:.2f} s/frame, timed on "
            f"{tm['detect_extrapolated_from']:g} frames and EXTRAPOLATED to all "
            f"{ref['frames']}: {tm['detect_s']:.0f} s; without detection "
            f"{ref['seconds_without_detection']:.1f} s)"
        )
        print("  stages: " + ", ".join(f"{k} {v:.1f}" for k, v in tm.items() if k.endswith("_s")))
        speedup = ours["fps"] / ref["fps"]
        speedup_nodet = ours["fps"] / (ref["frames"] / ref["seconds_without_detection"])
        results["speedup"] = speedup
        results["speedup_without_detection"] = speedup_nodet
        print(
            f"speed-up ours/reference: {speedup:.1f}x  (excluding detection: {speedup_nodet:.2f}x)"
        )

    mem_syncer = "passthrough" if a.quick else "wav2lip"
    mem_short = _run_worker("ours", clips["short"], a, syncer=mem_syncer)
    mem_long = _run_worker("ours", clips["long"], a, syncer=mem_syncer)
    results["memory"] = {"syncer": mem_syncer, "short": mem_short, "long": mem_long}
    r_s, r_l = mem_short["peak_rss_mib"], mem_long["peak_rss_mib"]
    growth = 100.0 * (r_l - r_s) / r_s
    results["memory"]["growth_pct"] = growth
    print(
        f"memory ({mem_syncer} syncer): peak RSS {a.short:g} s = {r_s:.0f} MiB, "
        f"{a.long:g} s = {r_l:.0f} MiB ({growth:+.1f} %); in-flight frames peak "
        f"{mem_short['frames_in_flight_peak']} / {mem_long['frames_in_flight_peak']}; "
        f"long clip {mem_long['fps']:.1f} frames/s"
    )

    check = _run_worker("check", clips["check"], a, box=",".join(map(str, meta["check"]["box0"])))
    results["equivalence"] = check
    print(
        f"same box + hard paste: {check['frames_identical']}/{check['frames_compared']} frames "
        f"identical, max |diff| {check['max_abs_diff']}, "
        f"{check['pixels_differing_pct']:.4f} % pixels differ"
    )
    results["total_benchmark_s"] = time.perf_counter() - t_start
    print(f"benchmark took {results['total_benchmark_s']:.0f} s")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
