"""Peak memory and CPU time of the Demucs separator for 1 and 10 minutes of audio.

Each measurement runs in a fresh process (peak RSS is per process). The model is an
HTDemucs with random weights (speed and memory do not depend on the weights):
``--model small`` (a narrow test-size network, fast enough for 10 minutes on a laptop
CPU) or ``--model full`` (the HTDemucs default constructor, the size of ``htdemucs``).

    python benchmarks/bench_demucs.py --minutes 1 10 --model small
    python benchmarks/bench_demucs.py --minutes 1 --model full
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {
    "small": dict(channels=8, depth=4, t_layers=1, bottom_channels=0, segment=2, nfft=1024),
    "full": {},
}


def child(minutes: float, model_name: str, rate: int) -> None:
    import numpy as np
    import torch
    from demucs.htdemucs import HTDemucs
    from safetensors.torch import save_file

    from lipdub.separate.demucs import DemucsSeparator
    from lipdub.types import AudioClip

    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], **CONFIGS[model_name])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.safetensors"
        _args, kwargs = model._init_args_kwargs
        meta = {"klass": "demucs.htdemucs.HTDemucs", "args": "[]", "kwargs": json.dumps(kwargs)}
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), meta)
        del model
        n = int(minutes * 60 * rate)
        x = (0.1 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
        sep = DemucsSeparator(path, device="cpu")
        t0, c0 = time.perf_counter(), time.process_time()
        out = sep.separate(AudioClip(x, rate))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "minutes": minutes,
                "model": model_name,
                "rate": rate,
                "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "cpu_s_per_audio_min": round(cpu / minutes, 1),
                "peak_rss_mib": round(peak),
                "voice_rms": float(out.voice.rms()),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--model", choices=sorted(CONFIGS), default="small")
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.minutes[0], a.model, a.rate)
        return
    for m in a.minutes:
        cmd = [sys.executable, __file__, "--child", "--minutes", str(m), "--model", a.model]
        cmd += ["--rate", str(a.rate)]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
