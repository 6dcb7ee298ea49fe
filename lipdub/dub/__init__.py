"""Dubbing: the pipeline and everything only a dub needs.

==================  ==========================================================
module              job
==================  ==========================================================
``pipeline``        :class:`DubbingPipeline`: components, stage methods, ``run``
``request``         :class:`RunRequest`, the arguments of ``run()``
``execute``         one run: the request checked, the work directory laid out, the plan walked
``result``          :class:`DubResult`, what a run returns per language
``runner``          the one rule every stage follows (reuse, adopt an edit, or redo), the plan
``state``           the typed data the stages hand each other, and their components
``stages``          the stages of a run and :data:`~lipdub.dub.stages.PLAN`, their order
``operations``      each stage's work on its components (the pipeline's methods too)
``clone``           what ``voice="clone"`` stands for
``adopt``           bring your own transcript or translation file
``workdir``         the work directory: manifest, recorded hashes, user edits (its
                    files' names: :mod:`lipdub.artifacts`)
``timing``          the timing fit: each line placed in its slot, never overlapping
``report``          the timing report: placed and source starts, speeds, statuses
``speech_cache``    per-utterance speech kept between runs
``mix``             the dubbed soundtrack over the original background
``subtitles``       subtitle cues and burning them into frames
``audio_ops``       (old place of :mod:`lipdub.audio.dsp`, re-exported)
``options``         :class:`DubOptions` and :class:`FitOptions`
==================  ==========================================================
"""

from lipdub.dub.mix import remix
from lipdub.dub.options import DubOptions, FitOptions
from lipdub.dub.pipeline import DubbingPipeline, StopAfter
from lipdub.dub.request import RunRequest
from lipdub.dub.result import DubResult
from lipdub.dub.subtitles import subtitle_cues
from lipdub.dub.timing import (
    SegmentTiming,
    SpeechCache,
    TimingReport,
    WavFolderCache,
    speak_transcript,
)

__all__ = [
    "DubOptions",
    "DubResult",
    "DubbingPipeline",
    "FitOptions",
    "RunRequest",
    "SegmentTiming",
    "SpeechCache",
    "StopAfter",
    "TimingReport",
    "WavFolderCache",
    "remix",
    "speak_transcript",
    "subtitle_cues",
]
