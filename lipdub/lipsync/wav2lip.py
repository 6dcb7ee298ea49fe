"""The Wav2Lip lip-syncer: 96x96 face crops + mel windows in, crops with new mouths out.

:class:`Wav2LipSyncer` wraps the :class:`~lipdub.models.wav2lip.Wav2Lip` generator.
It prepares the network's 6-channel input the way the original inference does (the
target crop with its lower half blanked, stacked with the same crop as the identity
reference, BGR, scaled to [0, 1]), runs it without autograd, and returns uint8 BGR
crops (``output * 255`` truncated, like the original). On CUDA it runs with float16
autocast and channels-last memory; on the CPU in the ``precision`` asked for:

* ``"auto"`` (the default) — the fastest mode whose generated faces stay within
  :data:`FIDELITY_MIN_PSNR_DB` (40 dB PSNR) of float32's on real face crops, chosen by
  measurement (:mod:`lipdub.lipsync.auto_precision`) the first time these weights run
  on this machine and thread count, then cached: each candidate (``fp32``, ``bf16``
  where the CPU has native bfloat16, ``int8`` where the ``int8`` extra is installed)
  runs a few batches of calibration crops. On CUDA, float16 when it passes the same
  bound. :meth:`Wav2LipSyncer.prepare` does it (and builds the int8 model) ahead, with
  progress events; :attr:`Wav2LipSyncer.auto_choice` says what was chosen and why.
* ``"fp32"`` — float32, the reference (parity with the original).
* ``"bf16"`` — ``torch.autocast("cpu", bfloat16)`` with channels-last memory, on CPUs
  with AVX-512 BF16 or AMX (about 2x the float32 speed on a 2-core Sapphire Rapids;
  see ``benchmarks/RESULTS.md`` for speed and fidelity).
* ``"int8"`` — the generator quantised to int8 (weights per channel, activations
  calibrated on real face crops) and run by ONNX Runtime on the CPU
  (:mod:`lipdub.lipsync.wav2lip_int8`; the ``int8`` extra). The int8 model is built
  once per set of weights (about 15 s) and cached. On a 2-core Zen 4 with VNNI: 2.2-2.7x
  the float32 speed (1.05-1.3x bf16), PSNR ~50 dB against float32.

The published weights are for research / non-commercial use only (see
:data:`lipdub.hub.KNOWN_WEIGHTS`).

Example:
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint
    >>> ckpt = write_random_wav2lip_checkpoint(pathlib.Path(tempfile.mkdtemp()) / "w.pth")
    >>> syncer = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="fp32")
    >>> faces = np.full((2, 96, 96, 3), 128, np.uint8)
    >>> out = syncer.sync(faces, np.zeros((2, 80, 16), np.float32))
    >>> out.shape, out.dtype
    ((2, 96, 96, 3), dtype('uint8'))
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import torch

from lipdub._deps import parse_device, parse_dtype
from lipdub._hashing import WeightsIdentity
from lipdub.errors import CheckpointError, InputError, LipdubError
from lipdub.events import EventCallback
from lipdub.hub import KNOWN_WEIGHTS, WeightsSpec, load_state_dict, resolve_weights
from lipdub.hub.catalogue import known_sha256
from lipdub.lipsync.auto_precision import (
    FIDELITY_MIN_PSNR_DB,
    AutoChoice,
    ChoiceCache,
    Runner,
    Timer,
    measurement_key,
)
from lipdub.lipsync.base import LipSyncer, default_threads
from lipdub.lipsync.precision import AUTO_STAGE, cpu_supports
from lipdub.lipsync.wav2lip_int8 import (
    INT8_RECIPE,
    Int8Generator,
    int8_cache_dir,
    require_int8,
)
from lipdub.models.wav2lip import FACE_SIZE, MEL_BANDS, MEL_WINDOW, Wav2Lip, expected_shapes

__all__ = [
    "AUTO_STAGE",
    "FIDELITY_MIN_PSNR_DB",
    "PRECISIONS",
    "Precision",
    "Wav2LipSyncer",
    "auto_candidates",
    "auto_key",
    "cpu_supports",
    "recorded_auto_choice",
]

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "int8", "auto"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8", "auto")
_MODE_DTYPE = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
    "int8": torch.float32,
}
_DTYPE_MODE = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
#: Calibration crops per batch, and batches, of the ``"auto"`` measurement.
AUTO_BATCH, AUTO_BATCHES = 8, 4


def _int8_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


def _requested(precision: str | None, dtype: str | torch.dtype | None, device: torch.device) -> str:
    """The mode asked for: ``precision``, else ``dtype``'s, else ``"auto"``."""
    if precision is not None:
        return Wav2LipSyncer.parse_precision(precision)
    if dtype is None or dtype == "auto":
        return "auto"
    return _DTYPE_MODE[_parse_dtype_name(dtype, device)]


def _default_device() -> str:
    return parse_device(None)


def auto_candidates(device: str) -> tuple[list[str], dict[str, str]]:
    """The modes ``"auto"`` measures on ``device``, and those it leaves out here (with
    why): on CUDA fp32 and fp16; on the CPU fp32, bf16 where the CPU has native
    bfloat16, int8 where the ``int8`` extra is installed."""
    if device.startswith("cuda"):
        return ["fp32", "fp16"], {}
    modes, skipped = ["fp32"], {}
    if cpu_supports("bf16"):
        modes.append("bf16")
    else:
        skipped["bf16"] = "no native bfloat16 (AVX-512 BF16 or AMX) on this CPU"
    if _int8_installed():
        modes.append("int8")
    else:
        skipped["int8"] = "the int8 extra is not installed: pip install 'lipdub[int8]'"
    return modes, skipped


def auto_key(
    weights_sha256: str,
    device: str = "cpu",
    threads: int | None = None,
    min_psnr_db: float = FIDELITY_MIN_PSNR_DB,
) -> str:
    """The key of the ``"auto"`` measurement of these weights on this machine."""
    modes, _ = auto_candidates(device)
    recipe = INT8_RECIPE if "int8" in modes else ""
    count = threads or default_threads()
    return measurement_key(device, count, weights_sha256, modes, min_psnr_db, recipe)


def recorded_auto_choice(
    weights_sha256: str,
    *,
    device: str = "cpu",
    threads: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> AutoChoice | None:
    """What ``"auto"`` chose for these weights on this machine, if it was measured
    (``lipdub weights list`` shows it); None otherwise. Measures nothing.

    Example:
        >>> recorded_auto_choice("0" * 64, cache_dir="/nonexistent") is None
        True
    """
    folder = Path(cache_dir) if cache_dir is not None else int8_cache_dir()
    return ChoiceCache(folder).get(auto_key(weights_sha256, device, threads))


def _parse_dtype_name(dtype: str | torch.dtype, device: torch.device) -> str:
    return parse_dtype(dtype, str(device), what="Wav2Lip", cpu_dtypes=("float32", "bfloat16"))


class Wav2LipSyncer(LipSyncer):
    """Lip-sync with the Wav2Lip generator.

    Usually built with :meth:`from_pretrained`. The constructor takes a ready
    :class:`~lipdub.models.wav2lip.Wav2Lip` module (weights loaded).

    Args:
        model: The generator (put in eval mode here).
        device: Torch device; None picks ``cuda`` if available, else ``cpu``.
        dtype: Compute precision as a dtype: ``"float32"``, ``"float16"`` (CUDA only)
            or ``"bfloat16"``; None/``"auto"`` means ``precision="auto"``. Reduced
            precisions run under autocast; weights stay float32.
        model_name: What the weights are (``"wav2lip_gan"``, a file name), for logs.
        precision: ``"auto"`` (the default), ``"fp32"``, ``"bf16"`` or ``"int8"`` (see
            the module docstring); given, it overrides ``dtype``.
        int8_cache_dir: Folder for the int8 models and the ``"auto"`` measurements
            (default :func:`~lipdub.lipsync.wav2lip_int8.int8_cache_dir`).
        min_psnr_db: The fidelity bound of ``"auto"`` (default
            :data:`FIDELITY_MIN_PSNR_DB`): a reduced mode is chosen only if its faces
            are within this PSNR of float32's.

    Raises:
        InputError: an unknown precision, int8 on CUDA, float16 on the CPU.
        BackendNotInstalled: int8 without the ``int8`` extra.
    """

    name: ClassVar[str] = "wav2lip"
    precisions: ClassVar[dict[str, tuple[str, ...]]] = {
        "cpu": ("fp32", "bf16", "int8"),
        "cuda": ("fp32", "fp16", "bf16"),
    }
    precision_choices: ClassVar[tuple[str, ...]] = PRECISIONS
    precision_owner: ClassVar[str] = "Wav2Lip"
    auto_batch: ClassVar[int] = AUTO_BATCH
    auto_batches: ClassVar[int] = AUTO_BATCHES

    def __init__(
        self,
        model: Wav2Lip,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        model_name: str = "wav2lip",
        precision: Precision | str | None = None,
        int8_cache_dir: str | os.PathLike[str] | None = None,
        min_psnr_db: float = FIDELITY_MIN_PSNR_DB,
    ) -> None:
        self.model = model.eval()
        self._network = self.model
        self.model_name = model_name
        self._device = torch.device(parse_device(device))
        given = None if precision is None else str(precision)
        request = _requested(given, dtype, self._device)
        if math.isnan(min_psnr_db):
            raise InputError(f"min_psnr_db must be a number of dB, got {min_psnr_db!r}")
        self._int8_dir = int8_cache_dir
        self._int8: Int8Generator | None = None
        self._channels_last_now = False
        self._identity = WeightsIdentity(self.model)
        self._pinned: tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]] | None = None
        self._threads: int | None = None
        self._prepare_lock = self._precision_lock
        self._network.to(self._device)
        self._init_precision(
            request, str(self._device), bound_db=min_psnr_db, cache_dir=int8_cache_dir
        )
        self._ready_for_auto()

    # ------------------------------------------------------------------ precision
    def _ready_for_auto(self) -> None:
        """Before ``"auto"`` is resolved: channels-last on CUDA."""
        if self._precision_mode is None:
            self._set_channels_last(self._device.type == "cuda")

    def _check_precision_here(self, mode: str, device: str) -> None:
        """int8 needs the ``int8`` extra; bf16 on a CPU without it warns."""
        if mode == "int8":
            require_int8()
        super()._check_precision_here(mode, device)

    def _apply_precision(self, mode: str) -> None:
        super()._apply_precision(mode)
        self._set_channels_last(self._device.type == "cuda" or mode == "bf16")
        if mode != "int8":
            self._int8 = None  # a session opened to measure it is not needed: free it

    def _set_channels_last(self, on: bool) -> None:
        if on != self._channels_last_now:
            fmt = torch.channels_last if on else torch.contiguous_format
            self._network.to(memory_format=fmt)  # type: ignore[call-overload]
            self._channels_last_now = on

    @property
    def requested_precision(self) -> str:
        """The precision asked for (``"auto"`` unless one was given)."""
        return self._precision_request

    @property
    def precision(self) -> str:
        """The precision in use: ``"fp32"``, ``"bf16"``, ``"int8"`` or ``"fp16"``
        (``"auto"`` resolved: measured now if :meth:`prepare` has not run)."""
        return self._current_precision()

    def _int8_generator(self) -> Int8Generator:
        if self._int8 is None:
            sha = self._identity.sha256() or ""
            self._int8 = Int8Generator(self._network, sha, self._int8_dir)
        return self._int8

    def prepare(
        self,
        on_event: EventCallback | None = None,
        threads: int | None = None,
        *,
        timer: Timer | None = None,
    ) -> None:
        """Resolve ``"auto"`` and build the int8 model now, before any frame.

        ``"auto"`` reads the cached measurement for this machine, thread count and
        weights, or measures each candidate mode on a few batches of calibration crops
        (stage ``"precision"`` on ``on_event``; about 5 s on 2 cores); int8 builds its
        model first when it is not cached (stage ``"build int8"``, about 15 s). Calling
        it again does nothing.

        Args:
            on_event: Progress callback for the two stages.
            threads: CPU threads the run will use (default: :func:`default_threads`);
                part of the measurement's key.
            timer: How a measured batch is timed (default: wall clock; for tests).

        Raises:
            ModelError: the int8 model cannot be written (explicit ``"int8"`` only;
                ``"auto"`` then measures without int8).
        """
        with self._prepare_lock:
            mode = self.resolve_precision(on_event, threads, timer)
            if mode == "int8":
                self._int8_generator().build(on_event)

    def auto_candidates(self) -> tuple[list[str], dict[str, str]]:
        """See the module function :func:`auto_candidates` (the int8 extra, native
        bfloat16; fp32 and fp16 on CUDA)."""
        return auto_candidates(str(self._device))

    def auto_weights_id(self) -> str:
        """The sha256 of the weights."""
        return self._identity.sha256() or ""

    def _auto_recipe(self, modes: list[str]) -> str:
        return INT8_RECIPE if "int8" in modes else ""

    def _prepare_candidates(
        self, modes: list[str], skipped: dict[str, str], on_event: EventCallback | None
    ) -> None:
        """Build the int8 model first; int8 is left out if it cannot be built."""
        if "int8" in modes:
            try:
                self._int8_generator().build(on_event)
            except LipdubError as e:
                logger.warning("auto precision: int8 left out, its model cannot be built: %s", e)
                modes.remove("int8")
                skipped["int8"] = f"its model cannot be built: {e}"

    @contextlib.contextmanager
    def _measuring(self, threads: int) -> Iterator[None]:
        saved = torch.get_num_threads()
        try:
            if self._device.type == "cpu":
                torch.set_num_threads(threads)
            yield
        finally:
            torch.set_num_threads(saved)

    def precision_runner(self, mode: str, threads: int) -> Runner:
        """int8 through ONNX Runtime with ``threads``; the others in torch."""
        if mode == "int8":
            gen = self._int8_generator()
            return lambda faces, mels: gen.run(faces, mels, threads)
        cl = self._device.type == "cuda" or mode == "bf16"

        def run(faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]) -> Any:
            self._set_channels_last(cl)
            return self._torch_sync(faces, mels, _MODE_DTYPE[mode])

        return run

    def settings(self) -> dict[str, Any]:
        """The options that change the generated mouths (JSON-ready).

        The model name, the sha256 of the weights (the published digest, the checkpoint
        file's, or the in-memory network's, worked out once) and the precision in use:
        ``"auto"`` resolved (measured first if need be), since int8, bf16 and fp32 give
        different mouths. Device, cache folder and token are left out.
        """
        out: dict[str, Any] = {
            "model": self.model_name,
            "weights_sha256": self._identity.sha256(),
            "precision": self.precision,
        }
        if out["precision"] == "int8":
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
        min_psnr_db: float = FIDELITY_MIN_PSNR_DB,
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
            precision: ``"auto"`` (the default), ``"fp32"``, ``"bf16"`` or ``"int8"`` (see
                the module docstring); overrides ``dtype``.
            int8_cache_dir: Folder for the int8 models and ``"auto"`` measurements.
            min_psnr_db: The fidelity bound of ``"auto"`` (see the class docstring).

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
            min_psnr_db=min_psnr_db,
        )
        syncer._identity = WeightsIdentity(file=path, sha256=known_sha256(name_or_path))
        logger.info(
            "loaded Wav2Lip weights %s from %s on %s (%s)",
            model_name,
            path,
            syncer.device,
            syncer.requested_precision,
        )
        return syncer

    # ------------------------------------------------------------------ device
    @property
    def device(self) -> str:
        """The torch device the model runs on (``"cpu"``, ``"cuda:0"``)."""
        dev = next(self._network.parameters()).device
        return str(dev)

    @property
    def dtype(self) -> torch.dtype:
        """The torch compute precision (float32, or float16/bfloat16 under autocast;
        float32 for int8, whose arithmetic ONNX Runtime does)."""
        return _MODE_DTYPE[self._current_precision()]

    def to(self, device: str | torch.device) -> Wav2LipSyncer:
        """Move the model to ``device``; returns self. ``"auto"`` is resolved again
        for the new device (on first use)."""
        with self._prepare_lock:
            self._device = torch.device(parse_device(device))
            self._network.to(self._device)
            self._place_precision(str(self._device))
            self._ready_for_auto()
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
        :func:`~lipdub.lipsync.base.default_threads`) for the run, then restore.
        :meth:`prepare` runs first (a no-op when the engine already ran it); in int8
        the ONNX Runtime session for that count is opened before the run starts."""
        if self._device.type != "cpu":
            self.prepare(threads=threads)
            yield
            return
        count = threads or default_threads()
        self.prepare(threads=count)
        saved, saved_threads = torch.get_num_threads(), self._threads
        torch.set_num_threads(count)
        self._threads = count
        try:
            if self._current_precision() == "int8":
                self._int8_generator().session(count)
            yield
        finally:
            torch.set_num_threads(saved)
            self._threads = saved_threads

    def compile(self) -> bool:
        """``torch.compile`` the generator for one batch shape (``dynamic=False``);
        in int8 nothing to compile (ONNX Runtime optimises the graph itself)."""
        if self._current_precision() == "int8":
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
        mode = self._precision_mode or self._precision_request
        return (
            f"Wav2LipSyncer(model={self.model_name!r}, device={self.device!r}, precision={mode!r})"
        )

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

        mode = self._current_precision()
        if mode == "int8":
            threads = self._threads or default_threads()
            return self._int8_generator().run(faces_arr, mels_arr, threads)
        return self._torch_sync(faces_arr, mels_arr, _MODE_DTYPE[mode])

    def _torch_sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32], dtype: torch.dtype
    ) -> npt.NDArray[np.uint8]:
        """The generator in torch, in ``dtype`` (autocast unless float32)."""
        s = FACE_SIZE
        dev = self._device
        cuda = dev.type == "cuda"
        with torch.inference_mode():
            ref = torch.from_numpy(np.ascontiguousarray(faces)).to(dev, non_blocking=cuda)
            ref = ref.permute(0, 3, 1, 2).float().div_(255.0)
            masked = ref.clone()
            masked[:, :, s // 2 :] = 0.0
            x = torch.cat([masked, ref], dim=1)
            mel = torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))
            mel = mel.to(dev, non_blocking=cuda).unsqueeze(1)
            if self._channels_last_now:
                x = x.contiguous(memory_format=torch.channels_last)
            autocast: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
            if dtype != torch.float32:
                autocast = torch.autocast(device_type=dev.type, dtype=dtype)
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
