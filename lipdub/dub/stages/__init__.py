"""The stages of a dub, in order: what each reads, writes and keys on.

Each is a :class:`~lipdub.dub.runner.Stage` (once per run) or a
:class:`~lipdub.dub.runner.LangStage` (once per target language) that reads one typed
state of :mod:`lipdub.dub.state` and returns the next; :func:`~lipdub.dub.runner.run_stage`
decides whether to reuse, adopt or compute it. :data:`PLAN` puts them in order, and
mypy checks the order: a stage placed before the one that produces what it reads does
not type-check. It also names the ``stop_after`` points (:data:`STOPS`, the CLI's
``--stop-after`` choices) and the stages ``redo``/``keep`` take (:data:`NAMES`).

The text stages (whose artifacts a person edits) are in :mod:`.text`, the audio ones
in :mod:`.audio`, the picture ones in :mod:`.video`, the choice of the speaking face in
:mod:`.faces`, the speakers' reference clips in :mod:`.voices`. Adding a stage is
one class (and, if it produces something new, a state) and one line in :data:`PLAN`.

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

from typing import TypeAlias

from lipdub.dub.runner import Plan
from lipdub.dub.stages.audio import Extract, Mix, Separate, SeparateLate, Speak
from lipdub.dub.stages.faces import Faces
from lipdub.dub.stages.quality import Quality
from lipdub.dub.stages.text import Diarize, Transcribe, Translate
from lipdub.dub.stages.video import LipSync, Subtitles, Track
from lipdub.dub.stages.voices import Voices
from lipdub.dub.state import Start, Target

__all__ = [
    "NAMES",
    "PLAN",
    "STOPS",
    "Diarize",
    "Extract",
    "Faces",
    "LipSync",
    "Mix",
    "Quality",
    "Separate",
    "SeparateLate",
    "Speak",
    "StopAfter",
    "Subtitles",
    "Track",
    "Transcribe",
    "Translate",
    "Voices",
]

#: The stages of a dub in order; ``stop=`` marks where each ``stop_after`` ends.
PLAN = (
    Plan[Start, Target]()
    .then(Extract())
    .then(Transcribe(), stop=Transcribe.name)
    .then(Separate())  # only when speaker analysis reads the vocals
    .then(Diarize())
    .then(Voices())
    .each(Translate(), stop=Translate.name)
    .each(Speak())
    .each(Quality())  # every line checked; a failing line spoken once more
    .then(SeparateLate())
    .each(Mix(), stop=Speak.name)  # "speak": the dub's audio, before the slow lip-sync
    .then(Track())
    .then(Faces())
    .each(LipSync(), stop=LipSync.name)
    .each(Subtitles())
)

#: The ``stop_after`` values, in order.
STOPS: tuple[str, ...] = PLAN.stops
#: The stage names (``redo`` and ``keep`` take them).
NAMES: tuple[str, ...] = PLAN.names
#: A ``stop_after`` value: one of :data:`STOPS` (checked when a run starts).
StopAfter: TypeAlias = str
