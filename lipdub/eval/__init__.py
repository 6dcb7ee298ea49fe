"""Lip-sync evaluation: SyncNet (``syncnet_python``) offset, LSE-D and LSE-C.

- :mod:`lipdub.eval.weights` loads ``syncnet_v2.model`` without running pickled code;
- :mod:`lipdub.eval.mfcc` the 13 MFCCs at 100 Hz; :mod:`lipdub.eval.protocol` the
  offset search over +-15 frames (LSE-D, LSE-C); :mod:`lipdub.eval.scorer` the batched
  network pass; :mod:`lipdub.eval.crops` face crops (already cropped, or lipdub's
  tracker with the reference's crop geometry); :mod:`lipdub.eval.compare` PSNR/SSIM
  outside the mouth; :mod:`lipdub.eval.mouth` the mouth's sharpness and its stability in
  silence; :mod:`lipdub.eval.report` the whole evaluation;
  :mod:`lipdub.eval.side_by_side` two dubs of one source in one table.

Importing this package is light; torch loads with the scorer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lipdub.eval.report import EvalReport, evaluate_video
    from lipdub.eval.scorer import SyncNetScorer

__all__ = ["EvalReport", "SyncNetScorer", "evaluate_video"]

_WHERE = {
    "EvalReport": "lipdub.eval.report",
    "evaluate_video": "lipdub.eval.report",
    "SyncNetScorer": "lipdub.eval.scorer",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'lipdub.eval' has no attribute {name!r}")
