"""Shared pytest fixtures (any engineer may add fixtures here)."""

from __future__ import annotations

from pathlib import Path

import pytest

# Registers the test doubles ("fake", "passthrough", ...) by name, for every test.
import lipdub.testing  # noqa: F401


@pytest.fixture
def test_video(tmp_path: Path) -> Path:
    """A 1 s, 160x120, 25 fps MP4 of the drawn talking face, with tone-burst audio."""
    from lipdub.testing.media import make_test_video

    return make_test_video(tmp_path / "face.mp4", duration_s=1.0, size=(160, 120))


@pytest.fixture
def make_video(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: ``make_video(name="clip.mp4", **make_test_video_kwargs) -> Path`` in tmp_path."""
    from lipdub.testing.media import make_test_video

    def _make(name: str = "clip.mp4", **kwargs: object) -> Path:
        kwargs.setdefault("size", (160, 120))
        return make_test_video(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return _make


@pytest.fixture(scope="session", autouse=True)
def _lipdub_model_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep lipdub's model cache (int8 models, ``precision="auto"`` measurements) out of
    the user's ``~/.cache``: in one folder beside pytest's temporary folders, kept
    between sessions so that the one-time build and measurement of the random test
    weights is paid once per machine. Tests of a cold cache set their own."""
    import os

    if "LIPDUB_CACHE" not in os.environ:
        root = tmp_path_factory.getbasetemp().parent / "lipdub-test-cache"
        root.mkdir(parents=True, exist_ok=True)
        os.environ["LIPDUB_CACHE"] = str(root)
