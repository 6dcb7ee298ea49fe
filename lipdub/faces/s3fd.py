"""S3FD face detector: the detector the original Wav2Lip release uses, same weights.

:class:`S3FDFaceDetector` runs :class:`lipdub.models.s3fd.S3FD` and decodes its output
exactly as the original does:

1. Preprocessing: the BGR frame is flipped to RGB, converted to float32 and the
   per-channel mean (104, 117, 123) is subtracted (no scaling to 0..1); NCHW layout.
2. The network runs on a batch of same-sized frames.
3. Softmax over the (background, face) logits of each of the six sources.
4. Every anchor with face probability > ``candidate_threshold`` (0.05) is decoded:
   source ``i`` has stride ``s = 4 * 2**i``, an anchor at map cell ``(y, x)`` is centred
   at ``(s/2 + x*s, s/2 + y*s)`` with side ``4*s``; SSD offsets with variances
   (0.1, 0.2) give centre ``c + off[:2] * 0.1 * side`` and size ``side * exp(off[2:] * 0.2)``.
5. Greedy non-maximum suppression at IoU 0.3 with the "+1 pixel" area convention.
6. Boxes with score > ``score_threshold`` (0.5) are kept, best first.

One deliberate difference, on by default: ``max_side=640`` detects on a copy whose longer
side is at most 640 pixels and maps the boxes back to the frame (see
:mod:`lipdub.faces._scale`); full-resolution S3FD costs about 580 GFLOP per 720p
frame. Pass ``max_side=None`` for the original's full-resolution behaviour.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch

from lipdub._deps import parse_device, parse_dtype
from lipdub._hashing import WeightsIdentity
from lipdub.errors import InputError
from lipdub.faces._scale import detect_scaled
from lipdub.faces.base import FaceDetector, Frame
from lipdub.hub.catalogue import known_sha256
from lipdub.models.s3fd import S3FD, S3FD_MEAN_RGB, S3FD_STRIDES
from lipdub.types import FaceBox
from lipdub.typing import FloatArray

__all__ = ["S3FDFaceDetector", "decode_s3fd", "nms", "s3fd_postprocess"]

logger = logging.getLogger(__name__)


_MIN_SIDE = 32  # smallest input side the network accepts (five 2x2 max-poolings)


def decode_s3fd(
    cls_maps: Sequence[npt.NDArray[np.floating[Any]]],
    reg_maps: Sequence[npt.NDArray[np.floating[Any]]],
    *,
    strides: Sequence[int] = S3FD_STRIDES,
    candidate_threshold: float = 0.05,
) -> FloatArray:
    """Decode S3FD score and offset maps of one image into candidate boxes.

    Args:
        cls_maps: Per source, ``(2, h, w)`` class *probabilities* (background, face),
            i.e. after the softmax.
        reg_maps: Per source, ``(4, h, w)`` box offsets ``(dx, dy, dw, dh)``.
        strides: Pixel stride of each source (default 4, 8, ..., 128).
        candidate_threshold: Keep anchors whose face probability is strictly above this.

    Returns:
        ``(K, 5)`` float32 rows ``(x1, y1, x2, y2, score)`` in input-image pixels,
        gathered source by source and, within a source, in row-major map order.
    """
    if not (len(cls_maps) == len(reg_maps) == len(strides)):
        raise InputError(
            f"decode_s3fd needs one class map, offset map and stride per source, got "
            f"{len(cls_maps)}, {len(reg_maps)}, {len(strides)}"
        )
    rows: list[FloatArray] = []
    for cls, reg, stride in zip(cls_maps, reg_maps, strides, strict=True):
        cls = np.asarray(cls, dtype=np.float32)
        reg = np.asarray(reg, dtype=np.float32)
        face = cls[1]
        ys, xs = np.nonzero(face > candidate_threshold)  # row-major order
        if ys.size == 0:
            continue
        s = np.float32(stride)
        centre = np.stack([s / 2 + xs * s, s / 2 + ys * s], axis=1).astype(np.float32)
        side = np.float32(4 * stride)
        off = reg[:, ys, xs].T  # (k, 4)
        c = centre + off[:, :2] * np.float32(0.1) * side
        size = side * np.exp(off[:, 2:] * np.float32(0.2))
        x1y1 = c - size / 2
        x2y2 = x1y1 + size
        scores = face[ys, xs][:, None]
        rows.append(np.concatenate([x1y1, x2y2, scores], axis=1).astype(np.float32))
    if not rows:
        return np.zeros((0, 5), np.float32)
    return np.concatenate(rows, axis=0)


def nms(dets: npt.NDArray[np.floating[Any]], threshold: float = 0.3) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression, as in the original S3FD code.

    Boxes are visited by score, highest first (ties: the later-gathered box first, as
    ``argsort()[::-1]`` orders them); each kept box removes every remaining box whose
    IoU with it is greater than ``threshold``. Areas and overlaps count pixels
    inclusively: a box's area is ``(x2 - x1 + 1) * (y2 - y1 + 1)``.

    Args:
        dets: ``(K, 5)`` rows ``(x1, y1, x2, y2, score)``.
        threshold: IoU above which a lower-scoring box is dropped.

    Returns:
        Indices into ``dets`` of the kept boxes, best first.
    """
    dets = np.asarray(dets)
    if dets.shape[0] == 0:
        return np.zeros((0,), np.intp)
    x1, y1, x2, y2, scores = (dets[:, i] for i in range(5))
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores, kind="stable")[::-1]
    keep: list[int] = []
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou <= threshold]
    return np.asarray(keep, dtype=np.intp)


def s3fd_postprocess(
    outputs: Sequence[npt.NDArray[np.floating[Any]]],
    *,
    candidate_threshold: float = 0.05,
    nms_threshold: float = 0.3,
    score_threshold: float = 0.5,
) -> FloatArray:
    """Turn the 12 raw outputs of one image into final detections.

    Args:
        outputs: ``(cls1, reg1, ..., cls6, reg6)`` for one image: class maps are raw
            ``(2, h, w)`` logits (softmax is applied here), offset maps ``(4, h, w)``.
        candidate_threshold: Face probability an anchor must exceed to be decoded.
        nms_threshold: IoU above which NMS drops the lower-scoring box.
        score_threshold: Final score a box must exceed.

    Returns:
        ``(K, 5)`` float32 ``(x1, y1, x2, y2, score)``, best first.
    """
    cls_maps = []
    for logits in outputs[0::2]:
        z = np.asarray(logits, dtype=np.float32)
        z = np.exp(z - z.max(axis=0, keepdims=True))
        cls_maps.append(z / z.sum(axis=0, keepdims=True))
    dets = decode_s3fd(cls_maps, list(outputs[1::2]), candidate_threshold=candidate_threshold)
    dets = dets[nms(dets, nms_threshold)]
    return dets[dets[:, 4] > score_threshold]


def _resolve_device(device: str | torch.device | None) -> torch.device:
    return torch.device(parse_device(device))


def _resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if dtype is None or dtype == "auto":
        return torch.float32
    name = parse_dtype(dtype, str(device), what="S3FD", cpu_dtypes=("float32",))
    value: torch.dtype = getattr(torch, name)
    return value


class S3FDFaceDetector(FaceDetector):
    """The original Wav2Lip face detector (S3FD), batched, with optional downscaling.

    Args:
        model: An :class:`~lipdub.models.s3fd.S3FD` network with loaded weights (use
            :meth:`from_pretrained` to get the published ones).
        device: Torch device (``"cpu"``, ``"cuda"``, ``"auto"``/None = CUDA if present).
        dtype: ``torch.float32`` (default) or, on CUDA, ``float16``/``bfloat16``.
        max_side: Detect on a copy whose longer side is at most this many pixels and
            map the boxes back; None detects at full resolution like the original.
        score_threshold: Final score a face must exceed (original: 0.5).
        candidate_threshold: Face probability an anchor must exceed to be decoded (0.05).
        nms_threshold: NMS IoU threshold (0.3).
        batch_size: Frames per forward pass (bounds memory).

    Example:
        >>> import numpy as np
        >>> from lipdub.models.s3fd import S3FD
        >>> det = S3FDFaceDetector(S3FD(), max_side=64)
        >>> len(det.detect([np.zeros((48, 64, 3), np.uint8)]))
        1
    """

    name: ClassVar[str] = "s3fd"

    def __init__(
        self,
        model: S3FD,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        max_side: int | None = 640,
        score_threshold: float = 0.5,
        candidate_threshold: float = 0.05,
        nms_threshold: float = 0.3,
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        if max_side is not None and max_side < 16:
            raise InputError(f"max_side must be >= 16 pixels or None, got {max_side}")
        self.device = _resolve_device(device)
        self.dtype = _resolve_dtype(dtype, self.device)
        self.model = model.eval().to(device=self.device, dtype=self.dtype)
        self.max_side = max_side
        self.score_threshold = score_threshold
        self.candidate_threshold = candidate_threshold
        self.nms_threshold = nms_threshold
        self.batch_size = batch_size
        self.weights: str | None = None  # where from_pretrained loaded the weights
        self._identity = WeightsIdentity(self.model)

    def settings(self) -> dict[str, Any]:
        """The options that change detections (JSON-ready).

        The weights are named by sha256: the published digest, the checkpoint file's, or
        (for a network built in memory) its state dict's, worked out once. The device,
        the cache folder and the token are left out.
        """
        return {
            "weights_sha256": self._identity.sha256(),
            "max_side": self.max_side,
            "score_threshold": self.score_threshold,
            "candidate_threshold": self.candidate_threshold,
            "nms_threshold": self.nms_threshold,
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "s3fd",
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        token: str | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        **detector_options: Any,
    ) -> S3FDFaceDetector:
        """Load the published S3FD weights (``s3fd-619a316812.pth``) or a local file.

        Args:
            name_or_path: ``"s3fd"`` (the pinned Hub copy, verified by size and sha256)
                or a path to a ``.pth``/``.safetensors`` file with the same keys.
            revision: Hub revision; None means the pinned one.
            cache_dir: Hub cache folder (default: the huggingface_hub cache).
            local_files_only: Never download; fail if the file is not cached.
            token: Hugging Face token (not needed for public weights).
            device: See the class doc.
            dtype: See the class doc.
            **detector_options: ``max_side``, ``score_threshold``, ``candidate_threshold``,
                ``nms_threshold``, ``batch_size`` (see the class doc).

        Raises:
            ModelNotFoundError: the weights are not cached and cannot be downloaded.
            ChecksumMismatch: the file is not the published one.
            CheckpointError: the file does not hold an S3FD network.
        """
        from lipdub.hub import load_state_dict, resolve_weights

        path = resolve_weights(
            name_or_path,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
        )
        model = S3FD()
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        state = load_state_dict(path, expected_shapes=shapes, what="S3FD")
        model.load_state_dict(state, strict=True)
        logger.info("loaded S3FD weights from %s", path)
        detector = cls(model, device=device, dtype=dtype, **detector_options)
        detector.weights = str(path)
        detector._identity = WeightsIdentity(file=path, sha256=known_sha256(name_or_path))
        return detector

    def to(self, device: str) -> S3FDFaceDetector:
        """Move the network to ``device``; returns self."""
        self.device = _resolve_device(device)
        self.model.to(self.device)
        return self

    @torch.inference_mode()
    def forward(self, images: Sequence[Frame]) -> list[FloatArray]:
        """Run S3FD on same-sized BGR images (no resizing); detections per image.

        Args:
            images: ``(H, W, 3)`` uint8 BGR images, all the same size. Images under
                32 pixels on a side are padded (bottom/right) with the mean colour.

        Returns:
            Per image, ``(K, 5)`` float32 ``(x1, y1, x2, y2, score)`` best first.
        """
        batch = np.stack([img[..., ::-1] for img in images]).astype(np.float32)
        batch -= np.asarray(S3FD_MEAN_RGB, np.float32)
        n, h, w, _ = batch.shape
        if h < _MIN_SIDE or w < _MIN_SIDE:
            # five 2x2 poolings need 32 pixels; pad bottom/right with the mean colour
            padded = np.zeros((n, max(h, _MIN_SIDE), max(w, _MIN_SIDE), 3), np.float32)
            padded[:, :h, :w] = batch
            batch = padded
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).to(self.device, self.dtype)
        outs = [o.float().cpu().numpy() for o in self.model(x)]
        return [
            s3fd_postprocess(
                [o[n] for o in outs],
                candidate_threshold=self.candidate_threshold,
                nms_threshold=self.nms_threshold,
                score_threshold=self.score_threshold,
            )
            for n in range(len(images))
        ]

    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        """Faces in each ``(H, W, 3)`` uint8 BGR frame, best first, in frame pixels."""
        return detect_scaled(
            frames, max_side=self.max_side, batch_size=self.batch_size, run=self._boxes
        )

    def _boxes(self, images: Sequence[Frame]) -> list[list[FaceBox]]:
        """Boxes in the pixels of ``images`` (one batch of equal-sized images)."""
        return [
            [
                FaceBox(float(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]))
                for r in d
                if r[2] > r[0] and r[3] > r[1]
            ]
            for d in self.forward(images)
        ]
