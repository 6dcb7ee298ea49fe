"""The array and path vocabulary every lipdub module shares, defined once.

Type aliases (use them in annotations; at run time they are ordinary numpy/`os` types):

* :data:`Frame`: one video frame, a ``(H, W, 3)`` ``uint8`` array in BGR channel order
  (OpenCV's and PyAV's ``bgr24``).
* :data:`FloatArray`: a ``float32`` array (audio samples, mel spectrograms, scores).
* :data:`PathLike`: a file path given as ``str`` or any :class:`os.PathLike` of ``str``.

and the one check of the :data:`Frame` contract, :func:`check_frame`, used wherever
lipdub accepts frames from a caller (the lip-sync engine, the blender, the face
detectors and the tracker).

Example:
    >>> import numpy as np
    >>> from lipdub.typing import Frame, check_frame
    >>> frame: Frame = check_frame(np.zeros((4, 6, 3), np.uint8))
    >>> frame.shape
    (4, 6, 3)
"""

from __future__ import annotations

import os
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError

__all__ = ["FloatArray", "Frame", "PathLike", "check_frame"]

#: One video frame: ``(H, W, 3)`` uint8, BGR channel order (OpenCV's).
Frame: TypeAlias = npt.NDArray[np.uint8]
#: A float32 array: audio samples, spectrograms, network outputs.
FloatArray: TypeAlias = npt.NDArray[np.float32]
#: A filesystem path: ``str`` or any ``os.PathLike[str]`` (e.g. :class:`pathlib.Path`).
PathLike: TypeAlias = str | os.PathLike[str]


def check_frame(frame: object, what: str = "frame") -> Frame:
    """``frame`` as a C-contiguous :data:`Frame`, or :class:`~lipdub.errors.InputError`.

    Args:
        frame: Anything numpy can view as an array.
        what: How the error message names the frame (``"face[0]"``, ``"frame 12"``).

    Returns:
        The same array when it is already C-contiguous (no copy), else a contiguous copy.

    Raises:
        InputError: the array is not ``(H, W, 3)`` uint8, or has no pixels.

    Example:
        >>> check_frame(np.zeros((2, 2), np.uint8), "face[0]")
        Traceback (most recent call last):
        ...
        lipdub.errors.InputError: face[0] must be an (H, W, 3) uint8 BGR image, got shape (2, 2) uint8 (convert with cv2.cvtColor / .astype(np.uint8) first)
    """  # noqa: E501
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise InputError(
            f"{what} must be an (H, W, 3) uint8 BGR image, got shape {arr.shape} {arr.dtype}",
            hint="convert with cv2.cvtColor / .astype(np.uint8) first",
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{what} is empty: shape {arr.shape}")
    return np.ascontiguousarray(arr)
