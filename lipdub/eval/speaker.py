"""Active speaker: which of several faces is speaking, per speech span.

Face selection lives in :mod:`lipdub.faces.select` (re-exported here):

1. :func:`link_faces` gives every face a stable id across frames (greedy IoU matching
   of each frame's detections to the faces of the previous frames; ids in order of
   first appearance).
2. :func:`choose_faces` scores every face inside each speech span with a
   ``score(face_id, first_frame, end_frame) -> float`` (higher: more likely speaking)
   and picks the best; :func:`syncnet_span_score`, here, makes that function from a
   :class:`~lipdub.eval.SyncNetScorer` (LSE-C of the face's crops against the source
   audio of the span).
3. :func:`chosen_track` turns the choice into a :class:`~lipdub.faces.track.FaceTrack`
   whose box in each frame is the chosen face (None outside the spans), which the
   lip-sync engine takes as ``track=``: only that face's mouth is changed.

Example:
    >>> from lipdub.types import FaceBox
    >>> a, b = FaceBox(0, 0, 10, 10), FaceBox(50, 0, 60, 10)
    >>> faces = link_faces([[a, b], [b, a], [a]])
    >>> [faces[0][i] == a for i in range(3)], faces[1][2] is None
    ([True, True, True], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from lipdub.faces.select import (
    SpanChoice,
    SpanScore,
    choose_faces,
    chosen_track,
    detect_faces,
    link_faces,
)
from lipdub.types import FaceBox

if TYPE_CHECKING:
    from lipdub.eval.scorer import SyncNetScorer

__all__ = [
    "SpanChoice",
    "SpanScore",
    "choose_faces",
    "chosen_track",
    "detect_faces",
    "link_faces",
    "resolve_speaker_scorer",
    "syncnet_span_score",
]


def syncnet_span_score(
    frames: Sequence[npt.NDArray[np.uint8]],
    audio_int16: npt.NDArray[np.int16],
    faces: dict[int, list[FaceBox | None]],
    scorer: SyncNetScorer,
) -> SpanScore:
    """A :data:`SpanScore` from a SyncNet scorer: LSE-C of the face's crops in the span
    against the span's audio (25 fps frames, 16 kHz audio); -inf when too short."""
    from lipdub.eval.crops import crop_face
    from lipdub.eval.scorer import SAMPLES_PER_FRAME

    def score(fid: int, a: int, b: int) -> float:
        boxes = faces[fid]
        crops = [crop_face(frames[f], box) for f in range(a, b) if (box := boxes[f]) is not None]
        if len(crops) < 6:
            return float("-inf")
        clip = audio_int16[a * SAMPLES_PER_FRAME : b * SAMPLES_PER_FRAME]
        return scorer.score(np.stack(crops), clip).lse_c

    return score


def resolve_speaker_scorer(spec: object, *, device: str | None = None) -> object | None:
    """The :class:`~lipdub.eval.base.SpeakingScorer` a dub's ``speaker_scorer`` names.

    An instance is used as is; None means no scorer. Other specs go through the
    registry's ``"scorer"`` kind: a registered name (``"syncnet_v2"``, or a plugin's),
    ``(name, {options})``, or a path of a ``syncnet_v2.model`` file (the ``syncnet_v2``
    scorer with that file). Weights are used only when already in the Hugging Face
    cache (nothing is downloaded to decide); when they are not, there is no scorer
    (None).

    Raises:
        InputError: a spec of another type, or a path that names no file.
    """
    import logging
    import os
    from collections.abc import Mapping
    from pathlib import Path

    from lipdub import registry
    from lipdub.errors import InputError, ModelNotFoundError
    from lipdub.eval.base import SpeakingScorer

    if spec is None or isinstance(spec, SpeakingScorer):
        return spec
    if isinstance(spec, tuple | Mapping):
        named: object = spec
        name = str(spec[0] if isinstance(spec, tuple) else spec.get("name"))
    elif isinstance(spec, str | os.PathLike):
        text = os.fspath(spec)
        if text in registry.available("scorer"):
            named = name = text
        else:
            path = Path(text)
            if not path.is_file() and ("/" in text or os.sep in text or path.suffix):
                raise InputError(
                    "no such syncnet_v2.model file",
                    path=path,
                    hint="give the path of a syncnet_v2.model, or leave it out to use the "
                    "cached weights",
                )
            name = "syncnet_v2"
            named = (name, {"name_or_path": text})  # a file, or catalogue weights
    else:
        raise InputError(
            f"speaker_scorer must be a SpeakingScorer, a scorer name, a syncnet_v2.model "
            f"path or None, got {type(spec).__name__}"
        )
    taken = registry.option_names("scorer", name)
    extra = {"device": device, "local_files_only": True}
    overrides = {k: v for k, v in extra.items() if taken is None or k in taken}
    try:
        scorer: object = registry.resolve("scorer", named, **overrides)
    except ModelNotFoundError as e:
        logging.getLogger(__name__).info("no speaker scorer: %s", e)
        return None
    return scorer
