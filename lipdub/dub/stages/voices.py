"""The voices stage: one reference clip per speaker, ``voices/<speaker>.wav``, for cloning.

Runs when the voice backend clones (:attr:`~lipdub.voice.base.VoiceSynth.clones`).
Each speaker's reference is the cleanest 6-15 s of their turns
(:func:`~lipdub.voice.clone_ref.pick_reference`), cut from the isolated voice when a
model separator ran (``vocals.wav``), else from the source audio. Without a speaker
map the whole transcript is one speaker, ``S1``.

The clips are the user's to replace: a file put in place of ``voices/S2.wav`` is used
and never overwritten (the runner's rule for edited artifacts), and its hash is part
of the speak stage's key, so replacing it re-speaks the dub (only that speaker's lines
miss the per-utterance cache).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub._hashing import content_key, settings_key
from lipdub.dub.runner import Lang, Run, Stage
from lipdub.errors import InputError
from lipdub.types import AudioClip

if TYPE_CHECKING:
    from lipdub.diarize.base import SpeakerTurn
    from lipdub.voice.base import VoiceSynth

__all__ = [
    "CLONE",
    "CONSENT_NOTICE",
    "DEFAULT_SPEAKER",
    "Voices",
    "check_clone_request",
    "pick_cloning_voice",
    "reference_file",
]

logger = logging.getLogger(__name__)

#: The voice name (and voice-slot name) that means "clone each speaker of the input".
CLONE = "clone"
#: The label of the only speaker when the source is not split by speaker.
DEFAULT_SPEAKER = "S1"
#: Said on the first cloned run of a work directory (and by ``lipdub speak --reference``).
CONSENT_NOTICE = (
    "voice cloning: the dubbed voices are cloned from the people speaking in the input; "
    "you need each speaker's consent to clone and publish their voice"
)
_SAMPLE_RATE = 24000  # of the saved references
_CUT = {"min_s": 6.0, "max_s": 15.0, "version": 1}  # what pick_reference is asked


def pick_cloning_voice() -> tuple[str, str | None]:
    """The registry name ``"clone"`` stands for, and a notice if it fell back.

    ``"chatterbox"`` when the ``chatterbox`` package is installed and its weights are
    cached (nothing is downloaded to decide); else ``"match"``, the offline
    reference-matched voice, with a one-line notice.

    Example:
        >>> name, notice = pick_cloning_voice()
        >>> name in ("chatterbox", "match")
        True
    """
    import importlib.util

    if importlib.util.find_spec("chatterbox") is None:
        return "match", (
            "cloning with the offline reference-matched voice (espeak-ng moved to each "
            "speaker's pitch and timbre, not a neural clone); for real cloning install "
            "chatterbox and run `lipdub weights download chatterbox`"
        )
    from lipdub.hub.catalogue import lookup
    from lipdub.hub.download import cached_path

    if cached_path(lookup("chatterbox")) is None:
        return "match", (
            "cloning with the offline reference-matched voice: the chatterbox weights are "
            "not downloaded (`lipdub weights download chatterbox`, or --tts chatterbox)"
        )
    return "chatterbox", None


def check_clone_request(voice: VoiceSynth) -> None:
    """Raise a one-line :class:`InputError` if ``voice="clone"`` meets a non-cloning backend."""
    if not voice.clones:
        raise InputError(
            f"--voice clone needs a voice backend that clones; {voice.name} speaks its own voices",
            hint="leave --tts out (lipdub picks one), or use --tts match or --tts chatterbox",
        )


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def reference_file(run: Run, speaker: str) -> Path:
    """``voices/<speaker>.wav`` (a label that is not a plain name gets a safe one)."""
    safe = _SAFE.sub("_", speaker).strip("._") or "speaker"
    if safe != speaker:
        safe = f"{safe[:40]}-{settings_key(speaker)[:6]}"
    return run.wd.path(f"voices/{safe}.wav")


def _turns(run: Run) -> list[SpeakerTurn]:
    from lipdub.diarize.base import SpeakerTurn

    speakers = run.values.get("speakers")
    if speakers is not None:
        return list(speakers.turns)
    return [
        SpeakerTurn(s.start_s, s.end_s, s.speaker or DEFAULT_SPEAKER)
        for s in run.values["source"].segments
        if s.text.strip() and s.end_s > s.start_s
    ]


def _labels(run: Run) -> list[str]:
    speakers = run.values.get("speakers")
    if speakers is not None:
        return list(speakers.speakers)
    return list(dict.fromkeys(t.speaker for t in _turns(run))) or [DEFAULT_SPEAKER]


def _voice_audio(run: Run) -> tuple[AudioClip, str]:
    """The isolated voice when a model separator ran, else the source; and its key."""
    vocals = run.values.get("vocals")
    if vocals is not None:
        return vocals, str(run.values["vocals_key"])
    return run.values["original"], str(run.values["audio_key"])


class Voices(Stage):
    """``voices/<speaker>.wav``: each speaker's reference clip (replaceable by the user)."""

    name = "voices"
    editable = True

    def applies(self, run: Run, lang: Lang | None) -> bool:
        return (
            run.values.get("original") is not None
            and "source" in run.values
            and bool(run.pipeline.component("voice").clones)
        )

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        return [reference_file(run, s) for s in _labels(run)]

    def key(self, run: Run, lang: Lang | None) -> str:
        _, audio_key = _voice_audio(run)
        turns = [(t.start_s, t.end_s, t.speaker) for t in _turns(run)]
        return settings_key(audio_key, turns, _labels(run), _CUT)

    def _cut(self, run: Run, speaker: str, path: Path) -> Path | None:
        from lipdub.voice.clone_ref import MIN_REFERENCE_S, pick_reference

        if path.is_dir():  # would be "missing" to the runner; never write over it
            raise InputError(
                f"the reference clip {path.name} is a folder, not audio",
                path=path,
                hint="remove the folder (lipdub then cuts a reference from the input), "
                "or put a WAV of the speaker's voice there",
            )
        voice, _ = _voice_audio(run)
        ref = pick_reference(
            voice, _turns(run), speaker, min_s=float(_CUT["min_s"]), max_s=float(_CUT["max_s"])
        )
        if ref.clip.duration_s < MIN_REFERENCE_S:
            run.notice(
                self.name,
                f"speaker {speaker} has under {MIN_REFERENCE_S:g} s of clear speech, so no "
                f"reference clip; their lines use the voice's default (or put one in "
                f"{path.parent.name}/{path.name})",
            )
            return None
        if not ref.long_enough:
            run.notice(
                self.name,
                f"the reference for {speaker} is only {ref.clip.duration_s:.1f} s (6-15 s is "
                f"best); replace {path.parent.name}/{path.name} with a longer clean clip if "
                "the voice sounds off",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        return ref.clip.resample(_SAMPLE_RATE).save_wav(path)

    def _use(self, run: Run) -> None:
        from lipdub.voice.clone_ref import read_reference

        refs: dict[str, AudioClip] = {}
        keys: list[tuple[str, str]] = []
        for speaker in _labels(run):
            path = reference_file(run, speaker)
            if path.exists():
                refs[speaker] = read_reference(path, sample_rate_hz=_SAMPLE_RATE)
                keys.append((speaker, content_key(path)))
        run.values["references"] = refs
        run.values["references_key"] = settings_key(keys)
        only = list(refs.values())
        run.values["reference"] = only[0] if len(only) == 1 and len(_labels(run)) == 1 else None

    def reusable(self, states: Mapping[Path, str]) -> bool:
        # a speaker with too little clear speech has no clip: "missing" is what was made
        return bool(states) and all(s in ("ours", "missing") for s in states.values())

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        self._consent(run)  # clips the user placed before the first run
        rec = run.wd.get(self.name)
        none = rec.info.get("no_clip") if rec is not None and rec.key == self.key(run, lang) else ()
        written = []
        for speaker in _labels(run):
            path = reference_file(run, speaker)
            if isinstance(none, list) and speaker in none:
                continue  # too little speech last time, and the key holds: still none
            if not path.exists():  # a speaker whose clip the user did not give
                out = self._cut(run, speaker, path)
                if out is not None:
                    written.append(out)
        self._use(run)
        return written

    def _consent(self, run: Run) -> None:
        if run.wd.get(self.name) is None:  # the first cloned run of this work directory
            run.notice(self.name, CONSENT_NOTICE)

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        self._consent(run)
        written = []
        for speaker in _labels(run):
            out = self._cut(run, speaker, reference_file(run, speaker))
            if out is not None:
                written.append(out)
        self._use(run)
        return written

    def info(self, run: Run, lang: Lang | None) -> dict[str, Any]:
        labels = _labels(run)
        return {
            "speakers": labels,
            "no_clip": [s for s in labels if not reference_file(run, s).exists()],
        }


def speak_references(run: Run) -> dict[str, Any]:
    """The ``references=``/``reference=`` a cloning voice's speak stage passes (or {})."""
    if "references" not in run.values:
        return {}
    return {"references": run.values["references"], "reference": run.values["reference"]}


def references_part(run: Run) -> tuple[str, ...]:
    """The reference clips' hash for the speak stage's key (nothing without cloning)."""
    key = run.values.get("references_key")
    return (key,) if key else ()
