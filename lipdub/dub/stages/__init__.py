"""The stages of a dub, in order: what each reads, writes and keys on.

Each is a :class:`~lipdub.dub.runner.Stage`; :func:`~lipdub.dub.runner.run_stage`
decides whether to reuse, adopt or compute it. The text stages (whose artifacts a
person edits) are in :mod:`.text`, the audio ones in :mod:`.audio`, the picture ones in
:mod:`.video`, the choice of the speaking face in :mod:`.faces`. Adding a stage is
one class and one line in :data:`PLAN`.

Two rules make re-runs idempotent (``tests/test_idempotent.py``):

* a key is a pure function of the stage's inputs (content hashes of the files it
  reads) and declared settings (the components' ``settings()``, the options and
  arguments it uses), never of what the manifest or an earlier run recorded; so an
  identical run reuses everything, and an option re-runs only the stages it keys;
* ``compute`` leaves in the run what ``load`` would read back from the files it wrote
  (16-bit samples, rounded JSON), so what a later stage sees does not depend on
  whether the earlier one ran in this process or a killed one: a dub killed anywhere
  and resumed writes the same bytes as a clean run.
"""

from __future__ import annotations

from lipdub.dub.runner import Stage
from lipdub.dub.stages.audio import Extract, Mix, Separate, Speak
from lipdub.dub.stages.faces import Faces
from lipdub.dub.stages.text import Diarize, Transcribe, Translate
from lipdub.dub.stages.video import LipSync, Subtitles, Track
from lipdub.dub.stages.voices import Voices

__all__ = [
    "PLAN",
    "Diarize",
    "Extract",
    "Faces",
    "LipSync",
    "Mix",
    "Separate",
    "Speak",
    "Subtitles",
    "Track",
    "Transcribe",
    "Translate",
    "Voices",
]


PLAN: tuple[tuple[Stage, str | None], ...] = (
    (Extract(), None),
    (Transcribe(), "transcribe"),
    (Separate(early=True), None),  # only when speaker analysis reads the vocals
    (Diarize(), None),
    (Voices(), None),
    (Translate(), "translate"),
    (Speak(), None),
    (Separate(), None),
    (Mix(), "speak"),
    (Track(), None),
    (Faces(), None),
    (LipSync(), "lipsync"),
    (Subtitles(), None),
)
