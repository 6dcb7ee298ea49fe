"""lipdub: translate the speech in a video and re-sync the speaker's lips.

The public surface lives here. Importing lipdub is cheap: it loads none of torch, av,
cv2, onnxruntime or google.*; backends import those when they are first used.

Example:
    >>> import lipdub
    >>> from lipdub.testing import FakeTranslator
    >>> t = lipdub.Transcript("en", (lipdub.Segment(0.0, 1.0, "Hello."),))
    >>> FakeTranslator().translate_transcript(t, "es").segments[0].text
    '[es] Hello.'
"""

import logging

from lipdub._version import __version__
from lipdub.component import Component
from lipdub.dub.pipeline import DubbingPipeline
from lipdub.errors import (
    BackendError,
    BackendNotInstalled,
    Cancelled,
    CheckpointError,
    ChecksumMismatch,
    CloudServiceError,
    CredentialsError,
    EditConflict,
    InputError,
    LipdubError,
    MediaError,
    ModelError,
    ModelNotFoundError,
    NoFaceError,
    NoSpeechError,
    PipelineError,
    TimingFitError,
    UnknownBackendError,
    UnknownLanguageError,
)
from lipdub.faces.base import FaceDetector
from lipdub.lipsync.base import LipSyncer
from lipdub.transcribe.base import Transcriber
from lipdub.translate.base import Translator
from lipdub.types import AudioClip, FaceBox, Segment, Transcript, VideoInfo, Voice, Word
from lipdub.voice.base import VoiceSynth

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AudioClip",
    "BackendError",
    "BackendNotInstalled",
    "Cancelled",
    "CheckpointError",
    "ChecksumMismatch",
    "CloudServiceError",
    "Component",
    "CredentialsError",
    "DubbingPipeline",
    "EditConflict",
    "FaceBox",
    "FaceDetector",
    "InputError",
    "LipSyncer",
    "LipdubError",
    "MediaError",
    "ModelError",
    "ModelNotFoundError",
    "NoFaceError",
    "NoSpeechError",
    "PipelineError",
    "Segment",
    "TimingFitError",
    "Transcriber",
    "Transcript",
    "Translator",
    "UnknownBackendError",
    "UnknownLanguageError",
    "VideoInfo",
    "Voice",
    "VoiceSynth",
    "Word",
    "__version__",
]
