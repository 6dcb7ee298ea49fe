"""Checks that a backend's optional dependencies are installed, without importing them."""

from __future__ import annotations

import importlib.util

from lipdub.errors import BackendNotInstalled

__all__ = ["ctranslate2_device", "require_modules"]


def require_modules(backend: str, what: str, *modules: str, extra: str = "local") -> None:
    """Raise :class:`BackendNotInstalled` naming the extra if any of ``modules`` is missing.

    Args:
        backend: Registry name of the backend (``"whisper"``).
        what: How the message names it (``"the whisper transcriber"``).
        *modules: Importable module names to look for (not imported).
        extra: The lipdub extra that installs them.
    """
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise BackendNotInstalled(
                f"{what} needs {module}, which is not installed",
                backend=backend,
                hint=f'pip install "lipdub[{extra}]"',
            )


def ctranslate2_device(device: str, compute_type: str) -> tuple[str, str]:
    """Resolve ``"auto"`` for a CTranslate2 model: CUDA if present, int8 on CPU, fp16 on CUDA."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type
