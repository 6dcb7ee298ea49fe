"""Checks that a backend's optional dependencies are installed, without importing them."""

from __future__ import annotations

import importlib.util
import re

from lipdub.errors import BackendNotInstalled, InputError

__all__ = [
    "VALID_DEVICES",
    "ctranslate2_device",
    "ctranslate2_placement",
    "parse_device",
    "parse_dtype",
    "require_modules",
]


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
    """Resolve ``"auto"`` for a CTranslate2 model: CUDA if present, int8 on CPU, fp16 on CUDA.

    The device is checked by :func:`parse_device`; see :func:`ctranslate2_placement`
    for the GPU index of ``"cuda:N"``.
    """
    kind, _, compute_type = ctranslate2_placement(device, compute_type)
    return kind, compute_type


#: What every ``device=`` argument accepts (and error messages list).
VALID_DEVICES = "auto, cpu, cuda, cuda:N"
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


def _cuda_count(engine: str) -> int:
    if engine == "ctranslate2":
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def parse_device(device: object = None, *, engine: str = "torch", check: bool = True) -> str:
    """The one device parser of every loader: ``"cpu"``, ``"cuda"``, ``"cuda:N"``.

    ``None``/``"auto"`` pick CUDA when the engine sees a GPU, else the CPU. A bad value,
    or CUDA asked for where there is none, raises :class:`InputError` listing the valid
    values (``"mps"`` is accepted for torch on Apple GPUs).

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device`` or
            None.
        engine: Who runs the model: ``"torch"`` or ``"ctranslate2"`` (each counts its
            own GPUs).
        check: Also check that the device exists (False: only the spelling; nothing
            is imported).

    Example:
        >>> parse_device("CPU")
        'cpu'
        >>> parse_device("cuda:1", check=False)
        'cuda:1'
        >>> parse_device("gpu")
        Traceback (most recent call last):
        ...
        lipdub.errors.InputError: unknown device 'gpu' (valid: auto, cpu, cuda, cuda:N)
    """
    text = "auto" if device is None else str(device).strip().lower()
    if text == "meta" and engine == "torch":
        return text  # torch's shape-only device: builds a network without memory (tests)
    if not _DEVICE.match(text) or (text == "mps" and engine != "torch"):
        raise InputError(f"unknown device {device!r} (valid: {VALID_DEVICES})")
    if not check:
        return text
    if text == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise InputError("device 'mps' was asked for, but this machine has no MPS GPU")
        return text
    if text == "cpu":
        return text
    count = _cuda_count(engine)
    if text == "auto":
        return "cuda" if count > 0 else "cpu"
    if count == 0:
        raise InputError(
            f"device {text!r} was asked for, but CUDA is not available ({engine} sees no GPU)",
            hint="use device 'cpu' or 'auto' (--device cpu)",
        )
    index = int(text.partition(":")[2] or 0)
    if index >= count:
        raise InputError(
            f"device {text!r} was asked for, but {engine} sees only {count} GPU(s) "
            f"(cuda:0 to cuda:{count - 1})",
            hint="use one of those, 'cpu' or 'auto'",
        )
    return text


def parse_dtype(dtype: object, device: str, *, what: str, cpu_dtypes: tuple[str, ...]) -> str:
    """The one dtype parser: ``"float32"``, ``"float16"`` or ``"bfloat16"`` (a name).

    None/``"auto"`` is float16 on CUDA and float32 elsewhere; ``cpu_dtypes`` are the
    precisions ``what`` supports on the CPU.

    Example:
        >>> parse_dtype("fp16", "cuda:0", what="Wav2Lip", cpu_dtypes=("float32",))
        'float16'
        >>> parse_dtype(None, "cpu", what="Wav2Lip", cpu_dtypes=("float32",))
        'float32'
    """
    on_cuda = device.startswith("cuda")
    if dtype is None or dtype == "auto":
        return "float16" if on_cuda else "float32"
    key = str(dtype).removeprefix("torch.").lower()
    name = _DTYPES.get(key)
    if name is None:
        raise InputError(
            f"unknown dtype {dtype!r} for {what}", hint="use float32, float16 or bfloat16"
        )
    if not on_cuda and name not in cpu_dtypes:
        raise InputError(
            f"{name} is not supported on the CPU for {what}",
            hint=f"use dtype=None or one of {', '.join(cpu_dtypes)} on the CPU",
        )
    return name


def dtype_name(dtype: object) -> str:
    """The canonical name of a precision (``"fp16"``, ``torch.float16`` -> ``"float16"``).

    Raises:
        InputError: an unknown precision.
    """
    key = str(dtype).removeprefix("torch.").lower()
    name = _DTYPES.get(key)
    if name is None:
        raise InputError(f"unknown dtype {dtype!r}", hint="use float32, float16 or bfloat16")
    return name


def ctranslate2_placement(device: str, compute_type: str) -> tuple[str, int, str]:
    """``(device, device_index, compute_type)`` for a CTranslate2 model.

    ``device`` goes through :func:`parse_device`; ``compute_type`` ``"auto"`` is int8 on
    the CPU and float16 on CUDA.
    """
    parsed = parse_device(device, engine="ctranslate2")
    kind, _, index = parsed.partition(":")
    if compute_type == "auto":
        compute_type = "float16" if kind == "cuda" else "int8"
    return kind, int(index or 0), compute_type
