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

from lipdub import artifacts
from lipdub._hashing import content_key, file_sha256, settings_key
from lipdub.dub.clone import CLONE, ReferenceFile, ReferenceFiles, pick_cloning_voice
from lipdub.dub.runner import Run, Stage
from lipdub.dub.state import Diarized, Voiced, advance
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

#: The label of the only speaker when the source is not split by speaker.
DEFAULT_SPEAKER = "S1"
#: Said on the first cloned run of a work directory (and by ``lipdub speak --reference``).
CONSENT_NOTICE = (
    "voice cloning: the dubbed voices are cloned from the people speaking in the input; "
    "you need each speaker's consent to clone and publish their voice"
)
_SAMPLE_RATE = 24000  # of the saved references
_CUT = {"min_s": 6.0, "max_s": 15.0, "version": 1}  # what pick_reference is asked


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
    return run.path(artifacts.voice(safe))


def _turns(st: Diarized) -> list[SpeakerTurn]:
    from lipdub.diarize.base import SpeakerTurn

    if st.speakers is not None:
        return list(st.speakers.turns)
    return [
        SpeakerTurn(s.start_s, s.end_s, s.speaker or DEFAULT_SPEAKER)
        for s in st.source.segments
        if s.text.strip() and s.end_s > s.start_s
    ]


def _labels(st: Diarized) -> list[str]:
    if st.speakers is not None:
        return list(st.speakers.speakers)
    return list(dict.fromkeys(t.speaker for t in _turns(st))) or [DEFAULT_SPEAKER]


def _voice_audio(st: Diarized) -> tuple[AudioClip, str]:
    """The isolated voice when a model separator ran, else the source; and its key."""
    if st.vocals is not None:
        return st.vocals, str(st.vocals_key)
    assert st.original is not None  # the stage applies only with audio
    return st.original, str(st.audio_key)


class Voices(Stage[Diarized, Voiced]):
    """``voices/<speaker>.wav``: each speaker's reference clip (replaceable by the user)."""

    name = "voices"
    editable = True
    upstream = "speaker turns or the voice they are cut from"

    def applies(self, run: Run, st: Diarized) -> bool:
        return st.original is not None and bool(run.components.voice().clones)

    def skip(self, run: Run, st: Diarized) -> Voiced:
        return advance(
            st, Voiced, references=None, references_key=None, reference=None, reference_files=None
        )

    def artifacts(self, run: Run, st: Diarized) -> list[Path]:
        return [reference_file(run, s) for s in _labels(st)]

    def key(self, run: Run, st: Diarized) -> str:
        _, audio_key = _voice_audio(st)
        turns = [(t.start_s, t.end_s, t.speaker) for t in _turns(st)]
        return settings_key(audio_key, turns, _labels(st), _CUT)

    def _cut(self, run: Run, st: Diarized, speaker: str, path: Path) -> Path | None:
        from lipdub.voice.clone_ref import MIN_REFERENCE_S, pick_reference

        if path.is_dir():  # would be "missing" to the runner; never write over it
            raise InputError(
                f"the reference clip {path.name} is a folder, not audio",
                path=path,
                hint="remove the folder (lipdub then cuts a reference from the input), "
                "or put a WAV of the speaker's voice there",
            )
        voice, _ = _voice_audio(st)
        ref = pick_reference(
            voice, _turns(st), speaker, min_s=float(_CUT["min_s"]), max_s=float(_CUT["max_s"])
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

    def _use(self, run: Run, st: Diarized) -> Voiced:
        from lipdub.voice.clone_ref import read_reference

        refs: dict[str, AudioClip] = {}
        files: dict[str, ReferenceFile] = {}
        keys: list[tuple[str, str]] = []
        labels = _labels(st)
        for speaker in labels:
            path = reference_file(run, speaker)
            if path.exists():
                refs[speaker] = read_reference(path, sample_rate_hz=_SAMPLE_RATE)
                name = path.relative_to(run.wd.root).as_posix()
                files[speaker] = ReferenceFile(name, file_sha256(path))
                keys.append((speaker, content_key(path)))
        single = len(refs) == 1 and len(labels) == 1
        return advance(
            st,
            Voiced,
            references=refs,
            references_key=settings_key(keys),
            reference=next(iter(refs.values())) if single else None,
            reference_files=ReferenceFiles(files, next(iter(files.values())) if single else None),
        )

    def reusable(self, states: Mapping[Path, str]) -> bool:
        # a speaker with too little clear speech has no clip: "missing" is what was made
        return bool(states) and all(s in ("ours", "missing") for s in states.values())

    def load(self, run: Run, st: Diarized) -> tuple[Voiced, list[Path]]:
        self._consent(run)  # clips the user placed before the first run
        rec = run.wd.get(self.name)
        none = rec.info.get("no_clip") if rec is not None and rec.key == self.key(run, st) else ()
        written = []
        for speaker in _labels(st):
            path = reference_file(run, speaker)
            if isinstance(none, list) and speaker in none:
                continue  # too little speech last time, and the key holds: still none
            if not path.exists():  # a speaker whose clip the user did not give
                out = self._cut(run, st, speaker, path)
                if out is not None:
                    written.append(out)
        return self._use(run, st), written

    def _consent(self, run: Run) -> None:
        if run.wd.get(self.name) is None:  # the first cloned run of this work directory
            run.notice(self.name, CONSENT_NOTICE)

    def compute(self, run: Run, st: Diarized) -> tuple[Voiced, list[Path]]:
        self._consent(run)
        written = []
        for speaker in _labels(st):
            out = self._cut(run, st, speaker, reference_file(run, speaker))
            if out is not None:
                written.append(out)
        return self._use(run, st), written

    def info(self, run: Run, out: Voiced) -> dict[str, Any]:
        labels = _labels(out)
        return {
            "speakers": labels,
            "no_clip": [s for s in labels if not reference_file(run, s).exists()],
        }
