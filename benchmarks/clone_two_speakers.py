"""A two-speaker video to dub with ``--voice clone``, and how far each cloned voice lands.

    python benchmarks/clone_two_speakers.py OUT_DIR           # write the inputs, print the command
    python benchmarks/clone_two_speakers.py OUT_DIR --measure # after the dub: the numbers

Writes into ``OUT_DIR``: ``call.mp4`` (the generated 30 s phone call of
``tests/data/two_speakers.wav`` over a drawn face; speaker B raised to a woman's pitch,
x1.6, so pitch tells the two apart), ``call.en.json`` (the true turns as the transcript),
``call.es.json`` (a Spanish translation, speakers ``S1``/``S2``) and ``random.pth`` (a
random-weight Wav2Lip checkpoint: the path runs offline, the picture is not the point).

``--measure`` reads the work directory the dub left (``call.mp4.lipdub``) and prints,
per speaker, the median F0 of their reference and of their dubbed lines, and the
cosine similarity of the resemblyzer speaker embedding of their dubbed lines to each
reference (own vs. other).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

SPANISH = [
    "Hola, gracias por llamar. ¿Cómo puedo ayudarle hoy?",
    "Hola, pedí una chaqueta azul la semana pasada y todavía no ha llegado.",
    "Siento oír eso. ¿Me puede dar su número de pedido, por favor?",
    "Claro, es cuatro cinco siete dos nueve uno.",
    "Gracias. Veo que el paquete está esperando en el depósito local.",
    "¿De verdad? ¿Se puede entregar mañana por la mañana?",
    "Sí, he reservado una entrega para mañana entre las nueve y las doce.",
    "Perfecto, muchas gracias por su ayuda.",
]


def make_inputs(out: Path) -> None:
    from lipdub.media.writer import mux_audio
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint
    from lipdub.testing.media import make_test_video
    from lipdub.types import AudioClip
    from lipdub.voice.match import pitch_shift

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_two_speakers import LINES

    out.mkdir(parents=True, exist_ok=True)
    audio = AudioClip.load_wav(DATA / "two_speakers.wav")
    turns = json.loads((DATA / "two_speakers.json").read_text())
    x = audio.samples.copy()
    for t in turns:
        if t["speaker"] == "B":
            a, b = round(t["start_s"] * 16000), round(t["end_s"] * 16000)
            x[a:b] = pitch_shift(AudioClip(x[a:b], 16000), 1.6).samples
    audio = AudioClip(x, 16000)
    silent = make_test_video(
        out / "face.mp4", duration_s=audio.duration_s, fps=25, size=(320, 240), audio=False
    )
    mux_audio(silent, audio, out / "call.mp4")
    label = {"A": "S1", "B": "S2"}
    en = [
        {"start_s": t["start_s"], "end_s": t["end_s"], "text": line, "speaker": label[t["speaker"]]}
        for t, line in zip(turns, LINES, strict=True)
    ]
    es = [{**seg, "text": line} for seg, line in zip(en, SPANISH, strict=True)]
    (out / "call.en.json").write_text(json.dumps({"language": "en", "segments": en}, indent=1))
    (out / "call.es.json").write_text(
        json.dumps({"language": "es", "segments": es}, indent=1, ensure_ascii=False)
    )
    write_random_wav2lip_checkpoint(out / "random.pth")
    print(
        f"lipdub dub {out / 'call.mp4'} --to es --voice clone --speakers 2 "
        f"--transcript {out / 'call.en.json'} --translation {out / 'call.es.json'} "
        f"--detector haar --checkpoint {out / 'random.pth'} --device cpu --allow-no-face --offline"
    )


def measure(out: Path) -> None:
    from lipdub.diarize.speakers import SpeakerMap
    from lipdub.dub.timing import TimingReport
    from lipdub.types import AudioClip
    from lipdub.voice.voiceprint import median_f0

    wd = out / "call.mp4.lipdub"
    labels = list(SpeakerMap.load(wd / "speakers.json").speakers)
    refs = {s: AudioClip.load_wav(wd / "voices" / f"{s}.wav") for s in labels}
    speech = AudioClip.load_wav(wd / "speech.es.wav")
    lines: dict[str, list[np.ndarray]] = {}
    texts: dict[str, list[str]] = {}
    for seg in TimingReport.load(wd / "timing.es.json").segments:
        if seg.speaker:
            piece = speech.slice(seg.start_s, seg.start_s + seg.speech_s).samples
            lines.setdefault(seg.speaker, []).append(piece)
            texts.setdefault(seg.speaker, []).append(seg.text)
    dubbed = {s: AudioClip(np.concatenate(v), speech.sample_rate_hz) for s, v in lines.items()}
    embed = _embedder()
    ref_emb = {s: embed(c) for s, c in refs.items()} if embed is not None else {}
    for s in labels:
        print(
            f"{s}: reference {refs[s].duration_s:.1f} s, median F0 {median_f0(refs[s]):.1f} Hz; "
            f"dubbed lines {dubbed[s].duration_s:.1f} s, median F0 {median_f0(dubbed[s]):.1f} Hz"
        )
        if embed is not None:
            e = embed(dubbed[s])
            sims = ", ".join(f"{r} {float(e @ ref_emb[r]):.3f}" for r in labels)
            print(f"    speaker-embedding cosine to each reference: {sims}")
            from lipdub.voice.espeak import EspeakVoiceSynth  # baseline: the unmatched voice

            plain = EspeakVoiceSynth()
            base = [plain.synthesize(t, language="es") for t in texts[s]]
            b = embed(AudioClip(np.concatenate([c.samples for c in base]), base[0].sample_rate_hz))
            sims = ", ".join(f"{r} {float(b @ ref_emb[r]):.3f}" for r in labels)
            print(f"    the same lines in plain espeak-ng (baseline): {sims}")


def _embedder():  # type: ignore[no-untyped-def]
    """Mean resemblyzer-weights embedding (lipdub's embedded diarizer encoder), unit length."""
    try:
        from lipdub.diarize.embedded import EmbeddedDiarizer
    except ImportError:
        return None
    diarizer = EmbeddedDiarizer()

    def embed(clip):  # type: ignore[no-untyped-def]
        _, e = diarizer.embed(clip.resample(16000))
        m = e.mean(axis=0)
        return m / np.linalg.norm(m)

    return embed


if __name__ == "__main__":
    target = Path(sys.argv[1])
    if "--measure" in sys.argv:
        measure(target)
    else:
        make_inputs(target)
