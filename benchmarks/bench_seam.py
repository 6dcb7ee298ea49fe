"""The seam of the pasted mouth: today's feathered box vs the landmark ellipse.

A lip-syncer that returns each crop *shifted in brightness* (+40 levels) makes the
paste's seam as visible as it can be: whatever edge the mask has shows as an edge in
the output. On the bundled real portrait (face and 5 landmarks from RetinaFace, box
padded like the engine: 10 px below), for each mask shape this prints

* ``energy``: the gradient energy of the brightness step the paste adds,
  ``sum |grad(out - same)|^2`` over the frame, where ``same`` is the paste of the
  unshifted crop (levels^2; lower = a smoother transition),
* ``boundary``: the same energy counted only on the mask's boundary band
  (``0 < m < 1``), per boundary pixel,
* ``max_grad``: the steepest step the paste adds, ``max |grad(out - same)|``
  (levels per pixel),
* ``straight``: the longest run of boundary pixels along one row or column of the box
  (a straight edge; pixels),

and writes ``docs/images/mouth_mask.png`` (box | ellipse, face region, 2x) so the seam
can be seen.

Usage::

    python benchmarks/bench_seam.py [--shift 40] [--png docs/images/mouth_mask.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def _grad(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gy, gx = np.gradient(img.astype(np.float64))
    return gx, gy


def _longest_run(flags: np.ndarray) -> int:
    best = 0
    for line in list(flags) + list(flags.T):
        run = 0
        for v in line:
            run = run + 1 if v else 0
            best = max(best, run)
    return best


def measure(shift: int, png: Path | None) -> dict[str, Any]:
    import cv2

    from lipdub.faces.retinaface import RetinaFaceDetector
    from lipdub.lipsync.blend import blend_mask, crop_face, mouth_top_from_landmarks, paste_face
    from lipdub.lipsync.mask import ellipse_mask
    from lipdub.media import read_image
    from lipdub.testing.media import sample_portrait_path

    frame = read_image(sample_portrait_path())
    h, w = frame.shape[:2]
    face = RetinaFaceDetector().detect([frame])[0][0]
    box = face.padded(0, 10, 0, 0).clipped(w, h)
    crop = crop_face(frame, box, 96)
    brighter = np.clip(crop.astype(int) + shift, 0, 255).astype(np.uint8)
    x1, y1, x2, y2 = box.to_int()
    bh, bw = y2 - y1, x2 - x1
    results: dict[str, Any] = {"box_px": [bw, bh], "shift": shift}
    panels = []
    for shape in ("box", "ellipse"):
        out = paste_face(frame, box, brighter, shape=shape, mouth_top=mouth_top_from_landmarks(box))
        same = paste_face(frame, box, crop, shape=shape, mouth_top=mouth_top_from_landmarks(box))
        # out - same: the brightness step alone (the resized crop's own texture change,
        # common to both pastes, cancels)
        delta = out.astype(np.float64).mean(axis=2) - same.astype(np.float64).mean(axis=2)
        gx, gy = _grad(delta)
        mag2 = gx**2 + gy**2
        if shape == "box":
            m = blend_mask(bh, bw, mouth_top=mouth_top_from_landmarks(box))
        else:
            marks = tuple((x - x1, y - y1) for x, y in box.landmarks or ())
            m = ellipse_mask(bh, bw, marks or None)
        band = (m > 0.02) & (m < 0.98)
        sub = mag2[y1:y2, x1:x2]
        results[shape] = {
            "energy": round(float(mag2.sum()), 1),
            "boundary_per_px": round(float(sub[band].mean()), 3),
            "max_grad": round(float(np.sqrt(mag2.max())), 2),
            "straight_px": _longest_run(_edge_pixels(m)),
        }
        pad = 20
        ya, yb = max(0, y1 - pad), min(h, y2 + pad)
        xa, xb = max(0, x1 - pad), min(w, x2 + pad)
        panel = cv2.resize(out[ya:yb, xa:xb], None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        cv2.putText(panel, shape, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 255, 255), 2)
        panels.append(panel)
    if png is not None:
        png.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(png), np.concatenate(panels, axis=1))
        results["png"] = str(png)
    return results


def _edge_pixels(m: np.ndarray) -> np.ndarray:
    """Pixels on the mask's outer edge: m > 0 next to m == 0 (4-neighbourhood)."""
    inside = m > 0.02
    edge = np.zeros_like(inside)
    edge[1:, :] |= inside[1:, :] & ~inside[:-1, :]
    edge[:-1, :] |= inside[:-1, :] & ~inside[1:, :]
    edge[:, 1:] |= inside[:, 1:] & ~inside[:, :-1]
    edge[:, :-1] |= inside[:, :-1] & ~inside[:, 1:]
    return edge


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shift", type=int, default=40, help="brightness shift of the fake syncer")
    p.add_argument("--png", default="docs/images/mouth_mask.png")
    a = p.parse_args(argv)
    res = measure(a.shift, Path(a.png) if a.png else None)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
