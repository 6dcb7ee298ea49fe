"""Voice / background separation (to keep the original background under the dub)."""

from lipdub.separate.base import Separation, Separator

__all__ = ["Separation", "Separator"]
