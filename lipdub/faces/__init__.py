"""Face detection backends and tracking. The interface is :class:`FaceDetector`."""

from lipdub.faces.base import FaceDetector

__all__ = ["FaceDetector"]
