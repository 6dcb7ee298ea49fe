"""lipdub._hashing: one module, one name per job."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from lipdub._hashing import clip_key, content_key, file_sha256, files_sha256, settings_key
from lipdub.types import AudioClip


def test_file_sha256_reads_the_file_unless_told_to_remember(tmp_path: Path) -> None:
    p = tmp_path / "w.bin"
    p.write_bytes(b"a" * 100)
    first = file_sha256(p, remember=True)
    assert first == file_sha256(p) == hashlib.sha256(b"a" * 100).hexdigest()
    stamp = p.stat().st_mtime_ns
    p.write_bytes(b"b" * 100)  # same size, and the old modification time put back
    os.utime(p, ns=(stamp, stamp))
    assert file_sha256(p) == hashlib.sha256(b"b" * 100).hexdigest()  # read again
    assert file_sha256(p, remember=True) == first  # a model file: kept while unchanged
    os.utime(p, ns=(stamp + 1, stamp + 1))
    assert file_sha256(p, remember=True) == file_sha256(p)


def test_keys_are_short_and_depend_on_content_only(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    assert content_key(a) == content_key(b) == file_sha256(a)[:20]
    assert settings_key({"x": 1, "y": 2}) == settings_key({"y": 2, "x": 1})
    assert len(settings_key(1)) == 20
    clip = AudioClip(np.zeros(160, np.float32), 16000)
    assert clip_key(clip) != clip_key(AudioClip(np.zeros(160, np.float32), 8000))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.bin").write_bytes(b"w")
    digest = files_sha256(tmp_path / "m", ["*.bin"])
    (tmp_path / "m" / "model.bin").rename(tmp_path / "m" / "other.bin")
    assert files_sha256(tmp_path / "m", ["*.bin"]) != digest  # a rename changes it


def test_one_hashing_module() -> None:
    # hashlib is used in one module of the library, plus these in-memory digests of
    # things that are not files (each hashes bytes it already holds).
    others = {
        "faces/retinaface.py",  # the weights blob it loaded
        "lipsync/auto_precision.py",  # a measurement's JSON body (its cache key)
        "distributed/batch.py",  # an input path, for a work-directory name
        "dub/stages/faces.py",  # the vocals' samples: clip_key's job (engineer A's file)
    }
    root = Path(__file__).resolve().parents[1] / "lipdub"
    users = {
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "import hashlib" in p.read_text(encoding="utf-8")
    }
    assert "_hashing.py" in users and users <= {"_hashing.py", *others}
