"""Time and peak memory of lipdub's CLI on small hostile inputs (issue #13).

Each case runs ``python -m lipdub.cli ...`` in a child process under ``/usr/bin/time
-v`` (peak RSS of the child; falls back to ``resource.getrusage(RUSAGE_CHILDREN)``),
with a hard timeout. The goal: every case ends (refused or done) within 60 s and under
2 GiB. Inputs are generated into a temporary folder:

* ``1hz.wav``: 64 kB of 16-bit PCM whose header says 1 Hz (32,000 s of audio);
* ``portrait.jpg``: an 8000x8000 JPEG of the test face;
* ``far.json``: a transcript with a segment at ``start_s: 1e7``;
* ``fifo.mp4``: a named pipe.

Run: ``python benchmarks/bench_hostile.py`` (needs torch for the random-weight
Wav2Lip checkpoint; the lip-sync cases use the Haar detector, no downloads).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_inputs(d: Path) -> dict[str, Path]:
    import cv2

    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint
    from lipdub.testing.media import make_portrait, make_speech_wav
    from lipdub.types import Segment, Transcript

    with wave.open(str(d / "1hz.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(1)
        noise = np.random.default_rng(0).standard_normal(32000) * 3000
        w.writeframes(noise.astype("<i2").tobytes())
    make_portrait(d / "small.png", (512, 512))
    big = cv2.resize(cv2.imread(str(d / "small.png")), (8000, 8000), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(d / "portrait.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    make_speech_wav(d / "x.wav", 2.0, 16000)
    Transcript("en", (Segment(0.0, 1.0, "Hello."), Segment(1e7, 1e7 + 1, "Far."))).save(
        d / "far.json"
    )
    os.mkfifo(d / "fifo.mp4")
    write_random_wav2lip_checkpoint(d / "w.pth")
    return {p.stem: p for p in d.iterdir()}


def run(
    cmd: list[str], timeout_s: float, extra_env: dict[str, str] | None = None
) -> tuple[int, float, float, str]:
    """(exit status, seconds, peak RSS MiB, last stderr line) of ``cmd``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(extra_env or {}))
    timed = ["/usr/bin/time", "-v", *cmd] if Path("/usr/bin/time").exists() else cmd
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(timed, capture_output=True, text=True, timeout=timeout_s, env=env)
        rc, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = -9, (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else ""
    wall = time.perf_counter() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    if m:
        peak = int(m.group(1)) / 1024
    else:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines = [ln for ln in err.splitlines() if ln.startswith(("error:", "WARNING"))]
    return rc, wall, peak, (lines[-1] if lines else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    py = [sys.executable, "-m", "lipdub.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        f = make_inputs(d)
        sync = ["--checkpoint", str(f["w"]), "--detector", "haar", "--device", "cpu", "-q"]
        cases = {
            "lipsync, 1 Hz WAV": [
                *py, "lipsync", "--face", str(f["small"]), "--audio", str(f["1hz"]),
                "-o", str(d / "o1.mp4"), *sync,
            ],
            "lipsync, 8000x8000 JPEG": [
                *py, "lipsync", "--face", str(f["portrait"]), "--audio", str(f["x"]),
                "-o", str(d / "o2.mp4"), *sync,
            ],
            "lipsync, FIFO as --face": [
                *py, "lipsync", "--face", str(f["fifo"]), "--audio", str(f["x"]),
                "-o", str(d / "o3.mp4"), *sync,
            ],
            "transcribe, 1 Hz WAV, LIPDUB_MIN_SAMPLE_RATE_HZ=1": [
                *py, "transcribe", str(f["1hz"]), "--backend", "fake", "-o", str(d / "t.json"),
            ],
            "transcribe, 1 Hz WAV": [
                *py, "transcribe", str(f["1hz"]), "--backend", "fake", "-o", str(d / "t.json"),
            ],
            "speak, segment at 1e7 s": [
                *py, "speak", str(f["far"]), "--backend", "fake", "-o", str(d / "s.wav"),
            ],
        }  # fmt: skip
        print("| case | exit | seconds | peak RSS | outcome |")
        print("|---|---:|---:|---:|---|")
        for name, cmd in cases.items():
            env = {"LIPDUB_MIN_SAMPLE_RATE_HZ": "1"} if "RATE_HZ=1" in name else None
            rc, wall, peak, line = run(cmd, args.timeout, env)
            if name.startswith("lipsync, 8000") and rc == 0:
                from lipdub.media import probe

                info = probe(d / "o2.mp4")
                line = f"wrote {info.width}x{info.height}, {info.frame_count} frames; {line}"
            line = line.replace(str(d) + os.sep, "")
            print(f"| {name} | {rc} | {wall:.1f} | {peak:.0f} MiB | {line[:160]} |")


if __name__ == "__main__":
    main()
