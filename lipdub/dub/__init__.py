"""Dubbing: the pipeline and everything only a dub needs.

==================  ==========================================================
module              job
==================  ==========================================================
``pipeline``        :class:`DubbingPipeline`: components, stage methods, ``run``
``result``          :class:`DubResult`, what a run returns per language
``runner``          the one rule every stage follows: reuse, adopt an edit, or redo
``stages``          the stages of a run as objects: inputs, key, artifacts
``adopt``           bring your own transcript or translation file
``workdir``         the work directory: manifest, recorded hashes, user edits
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
    "SegmentTiming",
    "SpeechCache",
    "StopAfter",
    "TimingReport",
    "WavFolderCache",
    "remix",
    "speak_transcript",
    "subtitle_cues",
]
