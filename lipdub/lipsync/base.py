"""The :class:`LipSyncer` interface: face crops + audio windows in, new mouths out.

The whole-video engine (:mod:`lipdub.lipsync.engine`) knows nothing about a model: it
asks the lip-syncer for everything model-specific through the methods declared here —
the audio features and the window each video frame gets (:meth:`audio_features`,
:meth:`audio_window`), the crop size (:attr:`face_size`), how a batch is laid out in
memory (:meth:`make_batch`), the one-time work before a run (:meth:`prepare`), the
runtime tuning around a run (:meth:`running`), and compilation (:meth:`compile`).
The precisions a backend runs, and ``"auto"`` among them, follow one contract
(:class:`~lipdub.lipsync.precision.PrecisionContract`, mixed in here).
The defaults fit the Wav2Lip family (80-band mel at 16 kHz, 16-column windows, plain
numpy batches, nothing to tune); a model with other
audio features or another crop size overrides them.
"""

from __future__ import annotations

import contextlib
import logging
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub.component import Component
from lipdub.errors import InputError
from lipdub.lipsync.precision import PrecisionContract
from lipdub.lipsync.threads import default_threads

if TYPE_CHECKING:
    from lipdub.events import EventCallback
    from lipdub.types import AudioClip

__all__ = ["LipSyncer", "default_threads"]

logger = logging.getLogger(__name__)

#: Sample rate of the default audio features (Wav2Lip's mel spectrogram).
MEL_RATE_HZ = 16000


class LipSyncer(PrecisionContract, Component):
    """Redraws the lower face of each crop so its mouth matches an audio window.

    This is the narrow, batch-shaped unit of work; whole videos are handled by
    :func:`lipdub.lipsync.lipsync`, which crops, batches, calls :meth:`sync` and
    blends the results back.

    Class attributes describe the inputs the model wants: square crops of
    ``face_size`` pixels and audio windows of ``mel_bands`` x ``mel_window`` feature
    columns, ``feature_rate_hz`` columns per second of audio (80 for Wav2Lip's mel),
    and the precisions it runs per device (:attr:`precisions`; none by default, see
    :class:`~lipdub.lipsync.precision.PrecisionContract`).

    Example:
        >>> import numpy as np
        >>> from lipdub.testing import PassThroughLipSyncer
        >>> s = PassThroughLipSyncer()
        >>> faces = np.zeros((2, 96, 96, 3), np.uint8)
        >>> s.sync(faces, np.zeros((2, 80, 16), np.float32)).shape
        (2, 96, 96, 3)
        >>> from lipdub.types import AudioClip
        >>> feats = s.audio_features(AudioClip.silence(1.0, 16000))
        >>> feats.shape[0], s.audio_window(feats, 10, 25).shape
        (80, (80, 16))
    """

    face_size: ClassVar[int] = 96
    mel_bands: ClassVar[int] = 80
    mel_window: ClassVar[int] = 16
    #: Feature columns per second of audio (Wav2Lip's mel: 80).
    feature_rate_hz: ClassVar[int] = 80

    @abstractmethod
    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        """Generate mouths.

        Args:
            faces: ``(B, S, S, 3)`` uint8 BGR face crops, ``S = face_size``.
            mels: ``(B, *window_shape)`` float32 audio windows (from
                :meth:`audio_window`), one per crop.

        Returns:
            ``(B, S, S, 3)`` uint8 BGR crops with the mouth redrawn.
        """

    # ------------------------------------------------------------------ audio
    @property
    def window_shape(self) -> tuple[int, ...]:
        """Shape of one audio window (default ``(mel_bands, mel_window)``)."""
        return (self.mel_bands, self.mel_window)

    def audio_features(self, audio: AudioClip) -> npt.NDArray[np.float32]:
        """Features of the whole driving audio, time on the last axis.

        Default: the 80-band log-mel spectrogram of the audio at 16 kHz (reflection
        padding, what the Wav2Lip weights saw), ``(80, T)`` with 80 columns a second.

        Raises:
            InputError: The audio is empty.
        """
        from lipdub.audio import melspectrogram

        clip = audio.resample(MEL_RATE_HZ)
        if clip.num_samples == 0:
            raise InputError("audio: the driving audio is empty", hint="pass speech audio")
        return np.ascontiguousarray(melspectrogram(clip.samples), dtype=np.float32)

    def audio_window(
        self, features: npt.NDArray[np.float32], index: int, fps: Fraction | float
    ) -> npt.NDArray[np.float32]:
        """The window of ``features`` that drives video frame ``index``.

        Default (the original Wav2Lip's rule): ``mel_window`` columns starting at
        ``int(index * feature_rate_hz / fps)``, clamped so the window lies inside the
        features; a spectrogram shorter than one window repeats its last column.
        """
        width = self.window_shape[-1]
        f = Fraction(fps).limit_denominator(1_000_000)
        cols = features.shape[-1]
        start = (index * self.feature_rate_hz * f.denominator) // f.numerator
        start = max(0, min(int(start), cols - width))
        win = features[..., start : start + width]
        if win.shape[-1] < width:
            pad = np.repeat(win[..., -1:], width - win.shape[-1], axis=-1)
            win = np.concatenate([win, pad], axis=-1)
        return win

    # ------------------------------------------------------------------ batches
    def make_batch(
        self,
        crops: Sequence[npt.NDArray[np.uint8]],
        windows: Sequence[npt.NDArray[np.float32]],
        rows: int,
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """Stack crops and windows into one batch of ``rows`` (zero-padded) rows.

        Override to assemble batches in special memory (page-locked buffers for an
        asynchronous host-to-device copy). The engine never keeps the arrays past
        the :meth:`sync` call that receives them.
        """
        faces = np.stack(crops)
        mels = np.stack(windows).astype(np.float32, copy=False)
        n = len(crops)
        if rows > n:
            faces = np.concatenate([faces, np.zeros((rows - n, *faces.shape[1:]), np.uint8)])
            mels = np.concatenate([mels, np.zeros((rows - n, *mels.shape[1:]), np.float32)])
        return faces, mels

    # ------------------------------------------------------------------ runtime
    @property
    def device(self) -> str:
        """Where the model runs (``"cpu"``, ``"cuda:0"``)."""
        return "cpu"

    def to(self, device: str) -> LipSyncer:
        """Move to a torch device where the backend uses one; returns self."""
        return self

    def suggested_batch_size(self) -> int:
        """A good batch size for :meth:`sync` on the current device."""
        return 16

    def run_batch_size(self) -> int:
        """The batch size a whole-video run should use before the engine caps it by host
        memory (default :meth:`suggested_batch_size`; a GPU backend may fill its
        free memory)."""
        return self.suggested_batch_size()

    def prepare(self, on_event: EventCallback | None = None, threads: int | None = None) -> None:
        """Do the slow one-time work before a run's first frame, reported on ``on_event``.

        Building a derived model, or measuring which precision is fastest here, must
        not happen silently inside the first batch: the engine
        (:func:`lipdub.lipsync.lipsync`) calls this before it opens the video, and a
        dub before it computes the lip-sync stage's key (whose :meth:`settings` may
        depend on the outcome). Each piece of work is a stage of its own
        (:class:`~lipdub.events.StageStarted` ... :class:`~lipdub.events.StageFinished`
        with its time). Calling it again must do nothing. Default: nothing to prepare.

        Args:
            on_event: Progress callback.
            threads: CPU threads the run will use (None: :func:`default_threads`).

        Default: resolve ``"auto"`` (:meth:`resolve_precision`) when the backend
        declares precisions; else nothing to prepare.
        """
        if self.precisions:
            self.resolve_precision(on_event, threads)

    @contextlib.contextmanager
    def running(self, threads: int | None = None) -> Iterator[None]:
        """Tune the runtime for a whole-video run (thread counts...), undone on exit.

        Args:
            threads: CPU threads the model may use (None: :func:`default_threads`).
        """
        yield

    def compile(self) -> bool:
        """Compile the model for fixed-shape batches; returns whether it was.

        The engine calls it when asked to compile and then feeds batches of one
        shape. Default: nothing to compile (False).
        """
        logger.warning("lip-syncer %r cannot be compiled; running it as is", self.name)
        return False
