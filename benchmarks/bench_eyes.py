"""The eyes of ``lipdub eval`` on real lip-syncers: mouth sharpness and jitter, same clip.

Makes one 720p clip (the bundled real portrait scaled so its face is about 250 px tall,
still, over a textured background: 2 s of tone-burst "speech", then
``--silence`` seconds of silence), lip-syncs it with each ``--lipsyncer`` through
:func:`lipdub.lipsync.engine.lipsync`, and measures every output against the clip with
:func:`lipdub.eval.mouth.measure_mouth` (the boxes come from lipdub's face tracker on
the source, so every model is measured in the same regions). It prints, per model,
mouth sharpness (the source's mouth = 1), mouth jitter in silence and the source's own
jitter on the same frames, and the frames/s of the lip-sync.

Rows, and what each one is:

* ``passthrough`` — the baseline of the same run: the source's own face through the
  engine at Wav2Lip's face size (cropped, resized to 96 px, resized back, blended,
  encoded), no model: what a *perfect* 96-px model would score;
* ``passthrough_256`` — the same at a 256-px face size (MuseTalk's): what a perfect
  256-px model would score;
* ``wav2lip_gan`` — **random weights** unless ``--checkpoint`` (real weights cannot be
  downloaded here): the row measures the *method* (a 96-px face from the network, scaled
  up and blended), not the published model's output;
* any other registered name (``--lipsyncer musetalk`` once that model is merged), built
  with ``registry.resolve("lipsyncer", NAME, **options)``; ``--opt NAME.KEY=VALUE``
  passes it options (weights paths, device ...).

The source itself scores 1 (sharpness) by definition. The head is still and each frame
has its own camera grain (``--grain``, Gaussian, 2 levels): the crops differ from frame
to frame by that grain alone, as they do in a real still shot, so jitter above the
passthrough's is what a model adds.

The sharpness and jitter definitions are fixed in ``lipdub.eval.mouth`` (chosen from the
signal model and checked on the portrait in ``tests/test_eval_mouth.py``); nothing here
tunes them, so every row is an evaluation figure.

Usage::

    python benchmarks/bench_eyes.py [--lipsyncer passthrough --lipsyncer wav2lip_gan ...]
        [--checkpoint wav2lip_gan.pth] [--opt musetalk.device=cpu] [--speech 2]
        [--silence 1.5] [--grain 2] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WIDTH, HEIGHT, FPS = 1280, 720, 25
FACE_SCALE = 2.1  # the portrait's 119-px face box becomes ~250 px tall
DEFAULT_SYNCERS = ("passthrough", "passthrough_256", "wav2lip_gan")


def make_clip(path: Path, speech_s: float, silence_s: float, grain: float) -> Path:
    """A 720p clip of the portrait: speech, then silence (see the module doc)."""
    import cv2

    from lipdub.media import VideoWriter, read_image
    from lipdub.testing.media import sample_portrait_path, speech_tones
    from lipdub.types import AudioClip

    img = read_image(sample_portrait_path())
    img = cv2.resize(img, None, fx=FACE_SCALE, fy=FACE_SCALE, interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 60, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    bg = cv2.resize(noise, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    speech = speech_tones(speech_s).samples
    audio = AudioClip(
        np.concatenate([speech, np.zeros(round(silence_s * 16000), np.float32)]), 16000
    )
    n = round((speech_s + silence_s) * FPS)
    h, w = min(img.shape[0], HEIGHT), img.shape[1]
    still = bg.copy()
    still[:h, 400 : 400 + w] = img[:h]
    with VideoWriter(
        path, fps=FPS, width=WIDTH, height=HEIGHT, audio=audio, preset="veryfast", crf=10
    ) as out:
        for _ in range(n):
            noisy = still + rng.normal(0.0, grain, still.shape) if grain else still
            out.write(np.clip(np.round(noisy), 0, 255).astype(np.uint8))
    return path


def _options(pairs: list[str], name: str) -> dict[str, Any]:
    from lipdub.cli._args import parse_value

    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        owner, _, option = key.partition(".")
        if owner == name and option:
            out[option] = parse_value(value)
    return out


def load_syncer(name: str, a: argparse.Namespace, tmp: Path) -> tuple[Any, str]:
    """The lip-syncer called ``name`` and a note on its weights."""
    from lipdub.testing import PassThroughLipSyncer

    if name == "passthrough":
        return PassThroughLipSyncer(), "no model, 96-px face: the baseline"
    if name == "passthrough_256":

        class PassThrough256(PassThroughLipSyncer):
            face_size = 256

        return PassThrough256(), "no model, 256-px face"
    opts = _options(a.opt or [], name)
    if name in ("wav2lip", "wav2lip_gan") and "checkpoint" not in opts:
        from lipdub.lipsync.wav2lip import Wav2LipSyncer

        path = a.checkpoint
        note = "weights given"
        if path is None:
            from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

            path = str(tmp / "wav2lip_random.pth")
            write_random_wav2lip_checkpoint(path, seed=0)
            note = "RANDOM weights: the method only"
        return Wav2LipSyncer.from_pretrained(path, device=a.device), note
    from lipdub import registry

    return registry.resolve("lipsyncer", name, **opts), f"options {opts or 'default'}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lipsyncer", action="append", help="a model to measure (repeatable)")
    p.add_argument("--checkpoint", help="wav2lip_gan weights (default: random ones)")
    p.add_argument("--opt", action="append", metavar="NAME.KEY=VALUE")
    p.add_argument("--speech", type=float, default=2.0, help="seconds of speech (default 2)")
    p.add_argument("--silence", type=float, default=1.5, help="seconds of silence after it")
    p.add_argument(
        "--grain", type=float, default=2.0, help="camera grain, levels of noise (default 2)"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    names = a.lipsyncer or list(DEFAULT_SYNCERS)
    if "passthrough" not in names:
        names.insert(0, "passthrough")

    from lipdub import registry
    from lipdub.eval.mouth import measure_mouth
    from lipdub.faces.track import FaceTracker
    from lipdub.lipsync.engine import lipsync
    from lipdub.media import VideoReader, load_audio
    from lipdub.testing import register_fakes

    register_fakes()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = make_clip(tmp / "clip.mp4", a.speech, a.silence, a.grain)
        detector = registry.resolve("detector", "retinaface")
        with VideoReader(clip, fps=FPS) as reader:
            track = FaceTracker(detector).track(reader, fps=FPS)
        boxes = list(track.boxes)
        face_px = float(np.median([b.height for b in boxes if b is not None]))
        audio = load_audio(clip, 16000)
        for name in names:
            syncer, note = load_syncer(name, a, tmp)
            out = tmp / f"{name}.mp4"
            t0 = time.perf_counter()
            lipsync(clip, audio, out, syncer=syncer)
            seconds = time.perf_counter() - t0
            m = measure_mouth(out, clip, boxes, audio.to_int16())
            row = {"lipsyncer": name, "weights": note, "fps": len(boxes) / seconds, **m.to_dict()}
            results.append(row)
            print(
                f"{name:<14} sharpness {m.sharpness:.3f}  jitter {m.jitter:.2f} "
                f"(source {m.source_jitter:.2f}, {m.silent_pairs} pairs)  "
                f"{row['fps']:.1f} frames/s   [{note}]",
                flush=True,
            )
    base = results[0]
    cpu = platform.processor() or platform.machine()
    print(
        f"\nclip: {WIDTH}x{HEIGHT}, {len(boxes)} frames, face box ~{face_px:.0f} px tall; "
        f"{a.speech:g} s speech + {a.silence:g} s silence; {cpu}"
    )
    print("vs the passthrough baseline of this run (sharpness ratio, jitter excess in levels):")
    for row in results[1:]:
        print(
            f"  {row['lipsyncer']:<14} sharpness x{row['sharpness'] / base['sharpness']:.3f}  "
            f"jitter {row['jitter'] - base['jitter']:+.2f}"
        )
    if a.json:
        Path(a.json).write_text(json.dumps({"face_px": face_px, "rows": results}, indent=2))


if __name__ == "__main__":
    main()
