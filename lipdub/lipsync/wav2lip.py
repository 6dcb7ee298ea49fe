"""The Wav2Lip lip-syncer: 96x96 face crops + mel windows in, crops with new mouths out.

:class:`Wav2LipSyncer` wraps the :class:`~lipdub.models.wav2lip.Wav2Lip` generator.
It prepares the network's 6-channel input the way the original inference does (the
target crop with its lower half blanked, stacked with the same crop as the identity
reference, BGR, scaled to [0, 1]), runs it without autograd, and returns uint8 BGR
crops (``output * 255`` truncated, like the original). On CUDA it runs with float16
autocast and channels-last memory; on the CPU in float32 unless a ``precision`` is
asked for:

* ``"fp32"`` — float32, the reference (parity with the original).
* ``"bf16"`` — ``torch.autocast("cpu", bfloat16)`` with channels-last memory, on CPUs
  with AVX-512 BF16 or AMX (about 2x the float32 speed on a 2-core Sapphire Rapids;
  see ``benchmarks/RESULTS.md`` for speed and fidelity).
* ``"int8"`` — the generator quantised to int8 (weights per channel, activations
  calibrated on real face crops) and run by ONNX Runtime on the CPU
  (:mod:`lipdub.lipsync.wav2lip_int8`; the ``int8`` extra). The int8 model is built
  once per set of weights (about 15 s) and cached. On a 2-core Zen 4 with VNNI: 2.2-2.7x
  the float32 speed (1.05-1.3x bf16), PSNR ~50 dB against float32.
* ``"auto"`` — the fastest mode whose fidelity passes :data:`FIDELITY_MIN_PSNR_DB`
  against float32 (measured by ``benchmarks/bench_realtime.py``): ``"int8"`` where the
  CPU has VNNI/AMX and the int8 extra is installed, else ``"bf16"`` where it has
  AVX-512 BF16/AMX, else ``"fp32"``; float16 on CUDA.

The published weights are for research / non-commercial use only (see
:data:`lipdub.hub.KNOWN_WEIGHTS`).

Example:
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint
    >>> ckpt = write_random_wav2lip_checkpoint(pathlib.Path(tempfile.mkdtemp()) / "w.pth")
    >>> syncer = Wav2LipSyncer.from_pretrained(ckpt, device="cpu")
    >>> faces = np.full((2, 96, 96, 3), 128, np.uint8)
    >>> out = syncer.sync(faces, np.zeros((2, 80, 16), np.float32))
    >>> out.shape, out.dtype
    ((2, 96, 96, 3), dtype('uint8'))
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import torch

from lipdub._deps import dtype_name, parse_device, parse_dtype
from lipdub._fingerprint import WeightsIdentity, known_sha256
from lipdub.errors import CheckpointError, InputError
from lipdub.hub import KNOWN_WEIGHTS, WeightsSpec, load_state_dict, resolve_weights
from lipdub.lipsync.base import LipSyncer, default_threads
from lipdub.lipsync.wav2lip_int8 import INT8_RECIPE, Int8Generator, require_int8
from lipdub.models.wav2lip import FACE_SIZE, MEL_BANDS, MEL_WINDOW, Wav2Lip, expected_shapes

__all__ = ["FIDELITY_MIN_PSNR_DB", "PRECISIONS", "Precision", "Wav2LipSyncer", "cpu_supports"]

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "int8", "auto"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8", "auto")
#: The fidelity bound ``"auto"`` asks of a reduced precision: PSNR of the generated
#: faces against float32, on real face crops (benchmarks/bench_precision.py).
FIDELITY_MIN_PSNR_DB = 40.0
_PRECISION_DTYPE = {"fp32": "float32", "bf16": "bfloat16"}


def cpu_supports(precision: str) -> bool:
    """Whether this CPU runs ``precision`` natively (bf16: AVX-512 BF16 or AMX).

    Example:
        >>> cpu_supports("fp32")
        True
    """
    if precision == "fp32":
        return True
    amx = bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    if precision == "bf16":
        return bool(torch.cpu._is_avx512_bf16_supported() or amx)
    if precision == "int8":
        vnni = getattr(torch.cpu, "_is_vnni_supported", lambda: False)
        return bool(vnni() or amx)
    return False


def _int8_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


def _resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` made concrete for ``device`` (``"fp16"`` on CUDA)."""
    if precision not in PRECISIONS:
        raise InputError(
            f"unknown precision {precision!r} for Wav2Lip",
            hint=f"use one of {', '.join(PRECISIONS)}",
        )
    if device.type == "cuda":
        if precision == "int8":
            raise InputError(
                "precision 'int8' runs Wav2Lip on the CPU only",
                hint="use 'auto' (float16) on CUDA, or --device cpu",
            )
        return "fp16" if precision == "auto" else precision
    if precision == "auto":
        if cpu_supports("int8") and _int8_installed():
            return "int8"
        return "bf16" if cpu_supports("bf16") else "fp32"
    if precision == "bf16" and not cpu_supports("bf16"):
        logger.warning("this CPU has no native bfloat16; 'bf16' will be slow")
    return precision


def _default_device() -> str:
    return parse_device(None)


def _parse_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    name = parse_dtype(dtype, str(device), what="Wav2Lip", cpu_dtypes=("float32", "bfloat16"))
    value: torch.dtype = getattr(torch, name)
    return value


class Wav2LipSyncer(LipSyncer):
    """Lip-sync with the Wav2Lip generator.

    Usually built with :meth:`from_pretrained`. The constructor takes a ready
    :class:`~lipdub.models.wav2lip.Wav2Lip` module (weights loaded).

    Args:
        model: The generator (put in eval mode here).
        device: Torch device; None picks ``cuda`` if available, else ``cpu``.
        dtype: Compute precision: None/``"auto"`` (float16 autocast on CUDA, float32 on
            the CPU), ``"float32"``, ``"float16"`` (CUDA only) or ``"bfloat16"``.
            Reduced precisions run under autocast; weights stay float32.
        model_name: What the weights are (``"wav2lip_gan"``, a file name), for logs.
        precision: ``"fp32"``, ``"bf16"``, ``"int8"`` or ``"auto"`` (see the module
            docstring); None follows ``dtype``. Given, it overrides ``dtype``.
        int8_cache_dir: Folder for the int8 models (default
            :func:`~lipdub.lipsync.wav2lip_int8.int8_cache_dir`).

    Raises:
        InputError: an unknown precision, or int8 on CUDA.
        BackendNotInstalled: int8 without the ``int8`` extra.
    """

    name: ClassVar[str] = "wav2lip"

    def __init__(
        self,
        model: Wav2Lip,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        model_name: str = "wav2lip",
        precision: Precision | str | None = None,
        int8_cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model = model.eval()
        self._network = self.model
        self.model_name = model_name
        self._requested_dtype = dtype
        self._precision = precision
        self._device = torch.device(parse_device(device))
        self._int8_dir = int8_cache_dir
        self._int8: Int8Generator | None = None
        self._int8_mode = False
        self._dtype = self._pick_dtype()
        self._identity = WeightsIdentity(self.model)
        self._pinned: tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]] | None = None
        self._threads: int | None = None
        self._place()

    def _pick_dtype(self) -> torch.dtype:
        """The torch compute dtype; sets whether the int8 runtime is used instead."""
        self._int8_mode = False
        if self._precision is None:
            return _parse_dtype(self._requested_dtype, self._device)
        mode = _resolve_precision(str(self._precision), self._device)
        if mode == "int8":
            require_int8()
            self._int8_mode = True
            return torch.float32
        if self._device.type == "cuda" and mode == "fp16":
            return torch.float16
        return _parse_dtype(_PRECISION_DTYPE[mode], self._device)

    @property
    def precision(self) -> str:
        """The precision in use: ``"fp32"``, ``"bf16"``, ``"int8"`` or ``"fp16"``."""
        if self._int8_mode:
            return "int8"
        return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self._dtype]

    def _int8_generator(self) -> Int8Generator:
        if self._int8 is None:
            sha = self._identity.sha256() or ""
            self._int8 = Int8Generator(self._network, sha, self._int8_dir)
        return self._int8

    def settings(self) -> dict[str, Any]:
        """The options that change the generated mouths (JSON-ready).

        The model name, the sha256 of the weights (the published digest, the checkpoint
        file's, or the in-memory network's, worked out once) and the precision asked
        for: ``"auto"`` (float16 on CUDA, float32 on the CPU) stays ``"auto"``, so moving
        the model to another device keeps the cache. Device, cache folder and token
        are left out.
        """
        requested = self._requested_dtype
        auto = requested is None or requested == "auto"
        precision = "auto" if auto else dtype_name(requested)
        out: dict[str, Any] = {
            "model": self.model_name,
            "weights_sha256": self._identity.sha256(),
            "dtype": precision,
        }
        if self._precision is not None:
            # the precision in use ("auto" resolved: it depends on the CPU)
            out["precision"] = self.precision
            if self._int8_mode:
                out["int8_recipe"] = INT8_RECIPE
        return out

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] | WeightsSpec = "wav2lip_gan",
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        precision: Precision | str | None = None,
        int8_cache_dir: str | os.PathLike[str] | None = None,
    ) -> Wav2LipSyncer:
        """Load published or local Wav2Lip weights.

        Args:
            name_or_path: ``"wav2lip"`` or ``"wav2lip_gan"`` (downloaded from the Hugging
                Face Hub and checked, see :data:`lipdub.hub.KNOWN_WEIGHTS`), a
                :class:`~lipdub.hub.WeightsSpec`, or a local ``.pth`` (original
                format or a bare state dict) / ``.safetensors`` file.
            revision: Hub revision instead of the pinned one (names only).
            cache_dir: Hugging Face cache folder.
            local_files_only: Use the cache only (also ``HF_HUB_OFFLINE=1``).
            token: Hugging Face token.
            device: Torch device; None picks CUDA when available.
            dtype: See the class docstring.
            precision: ``"fp32"``, ``"bf16"``, ``"int8"`` or ``"auto"`` (see the module
                docstring); overrides ``dtype``.
            int8_cache_dir: Folder for the int8 models (see the class docstring).

        Raises:
            ModelNotFoundError: not cached while offline, unknown name, missing file.
            ChecksumMismatch: the downloaded file is not the published one.
            CheckpointError: the file does not hold Wav2Lip weights.
            InputError: an unknown precision, or int8 on CUDA.
            BackendNotInstalled: int8 without the ``int8`` extra.
        """
        path = resolve_weights(
            name_or_path,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
        )
        model = load_wav2lip(path)
        if isinstance(name_or_path, WeightsSpec):
            model_name = name_or_path.name
        elif isinstance(name_or_path, str) and name_or_path in KNOWN_WEIGHTS:
            model_name = name_or_path
        else:
            model_name = Path(name_or_path).name
        syncer = cls(
            model,
            device=device,
            dtype=dtype,
            model_name=model_name,
            precision=precision,
            int8_cache_dir=int8_cache_dir,
        )
        syncer._identity = WeightsIdentity(file=path, sha256=known_sha256(name_or_path))
        logger.info(
            "loaded Wav2Lip weights %s from %s on %s (%s)",
            model_name,
            path,
            syncer.device,
            syncer.precision if precision is not None else str(syncer._dtype)[6:],
        )
        return syncer

    # ------------------------------------------------------------------ device
    def _place(self) -> None:
        self._network.to(self._device)
        if self._channels_last:
            self._network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    @property
    def _channels_last(self) -> bool:
        return self._device.type == "cuda" or self._dtype == torch.bfloat16

    @property
    def device(self) -> str:
        """The torch device the model runs on (``"cpu"``, ``"cuda:0"``)."""
        dev = next(self._network.parameters()).device
        return str(dev)

    @property
    def dtype(self) -> torch.dtype:
        """The compute precision (float32, or float16/bfloat16 under autocast)."""
        return self._dtype

    def to(self, device: str | torch.device) -> Wav2LipSyncer:
        """Move the model to ``device``; returns self. The precision follows the device
        unless one was given explicitly."""
        self._device = torch.device(parse_device(device))
        self._dtype = self._pick_dtype()
        self._place()
        return self

    def suggested_batch_size(self) -> int:
        """128 on CUDA (the original's batch), 16 on the CPU."""
        return 128 if self._device.type == "cuda" else 16

    def run_batch_size(self) -> int:
        """On CUDA, the suggestion raised to fill about half the free GPU memory (about
        24 MiB per crop, fp16 activations with margin, at most 512)."""
        size = self.suggested_batch_size()
        if self._device.type != "cuda":
            return size
        free_b, _ = torch.cuda.mem_get_info(self._device)
        return max(size, min(512, int(free_b * 0.5) // (24 << 20)))

    # ------------------------------------------------------------------ engine hooks
    @contextlib.contextmanager
    def running(self, threads: int | None = None) -> Iterator[None]:
        """On the CPU, give the model ``threads`` threads (default
        :func:`~lipdub.lipsync.base.default_threads`) for the run, then restore. In
        int8 the ONNX Runtime session for that count is opened (the int8 model built
        if it is not cached) before the run starts."""
        if self._device.type != "cpu":
            yield
            return
        count = threads or default_threads()
        saved, saved_threads = torch.get_num_threads(), self._threads
        torch.set_num_threads(count)
        self._threads = count
        try:
            if self._int8_mode:
                self._int8_generator().session(count)
            yield
        finally:
            torch.set_num_threads(saved)
            self._threads = saved_threads

    def compile(self) -> bool:
        """``torch.compile`` the generator for one batch shape (``dynamic=False``);
        in int8 nothing to compile (ONNX Runtime optimises the graph itself)."""
        if self._int8_mode:
            logger.info("int8 runs in ONNX Runtime; nothing to compile")
            return False
        compiled: Any = torch.compile(self._network, dynamic=False)
        self.model = compiled
        return True

    def make_batch(
        self,
        crops: Sequence[npt.NDArray[np.uint8]],
        windows: Sequence[npt.NDArray[np.float32]],
        rows: int,
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """Stack a batch; on CUDA in page-locked buffers (reused) for async copies."""
        if self._device.type != "cuda":
            return super().make_batch(crops, windows, rows)
        if self._pinned is None or len(self._pinned[0]) < rows:
            s = FACE_SIZE
            f = torch.empty((rows, s, s, 3), dtype=torch.uint8).pin_memory().numpy()
            m = torch.empty((rows, MEL_BANDS, MEL_WINDOW), dtype=torch.float32)
            self._pinned = (f, m.pin_memory().numpy())
        n = len(crops)
        faces, mels = self._pinned[0][:rows], self._pinned[1][:rows]
        np.stack(crops, out=faces[:n])
        np.stack(windows, out=mels[:n])
        faces[n:] = 0
        mels[n:] = 0
        return faces, mels

    def __repr__(self) -> str:
        dtype = str(self._dtype).removeprefix("torch.")
        return f"Wav2LipSyncer(model={self.model_name!r}, device={self.device!r}, dtype={dtype})"

    # ------------------------------------------------------------------ inference
    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        """Redraw the mouths of a batch of face crops.

        Args:
            faces: ``(B, 96, 96, 3)`` uint8 BGR crops (from
                :func:`lipdub.lipsync.blend.crop_face`).
            mels: ``(B, 80, 16)`` float32 mel windows (from
                :func:`lipdub.audio.mel_windows`), one per crop.

        Returns:
            ``(B, 96, 96, 3)`` uint8 BGR generated crops.

        Raises:
            InputError: wrong shapes or dtypes, or different batch sizes.
        """
        faces_arr = np.asarray(faces)
        mels_arr = np.asarray(mels)
        s = FACE_SIZE
        if faces_arr.ndim != 4 or faces_arr.shape[1:] != (s, s, 3):
            raise InputError(f"faces must be (B, {s}, {s}, 3), got {faces_arr.shape}")
        if faces_arr.dtype != np.uint8:
            raise InputError(f"faces must be uint8 BGR, got {faces_arr.dtype}")
        if mels_arr.ndim != 3 or mels_arr.shape[1:] != (MEL_BANDS, MEL_WINDOW):
            raise InputError(f"mels must be (B, {MEL_BANDS}, {MEL_WINDOW}), got {mels_arr.shape}")
        if len(faces_arr) != len(mels_arr):
            raise InputError(f"{len(faces_arr)} faces but {len(mels_arr)} mel windows")
        if len(faces_arr) == 0:
            return np.zeros((0, s, s, 3), np.uint8)

        if self._int8_mode:
            threads = self._threads or default_threads()
            return self._int8_generator().run(faces_arr, mels_arr, threads)
        dev = self._device
        cuda = dev.type == "cuda"
        with torch.inference_mode():
            ref = torch.from_numpy(np.ascontiguousarray(faces_arr)).to(dev, non_blocking=cuda)
            ref = ref.permute(0, 3, 1, 2).float().div_(255.0)
            masked = ref.clone()
            masked[:, :, s // 2 :] = 0.0
            x = torch.cat([masked, ref], dim=1)
            mel = torch.from_numpy(np.ascontiguousarray(mels_arr, dtype=np.float32))
            mel = mel.to(dev, non_blocking=cuda).unsqueeze(1)
            if self._channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            autocast: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
            if self._dtype != torch.float32:
                autocast = torch.autocast(device_type=dev.type, dtype=self._dtype)
            with autocast:
                out = self.model(mel, x)
            # (B, 3, S, S) in [0, 1] -> uint8 by truncation, as the original does
            out = (out.float() * 255.0).clamp_(0.0, 255.0).to(torch.uint8)
            result: npt.NDArray[np.uint8] = out.permute(0, 2, 3, 1).contiguous().cpu().numpy()
        return result


def load_wav2lip(path: str | os.PathLike[str]) -> Wav2Lip:
    """Build a :class:`~lipdub.models.wav2lip.Wav2Lip` from a checkpoint file (strict).

    Raises:
        CheckpointError: the file does not hold exactly the Wav2Lip generator's tensors.
    """
    state = load_state_dict(path, expected_shapes=expected_shapes(), what="Wav2Lip")
    model = Wav2Lip()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # dtype/shape trouble that the key check let through
        raise CheckpointError(
            f"Wav2Lip weights do not fit the network: {str(e).splitlines()[0]}", path=path
        ) from e
    return model.eval()
