"""The precision contract every :class:`~lipdub.lipsync.base.LipSyncer` shares.

A lip-syncer that runs in several precisions declares them per device type in
:attr:`PrecisionContract.precisions` (``"fp32"`` first: the reference) and gives one
runner per precision (:meth:`PrecisionContract.precision_runner`). The rest is here,
the same for every backend:

* the precision asked for (:attr:`~PrecisionContract.requested_precision`, ``"auto"``
  unless one was given) and the one in use (:attr:`~PrecisionContract.precision`);
* one wording for the two refusals: a name the backend does not take
  (``unknown precision 'fp8' for Wav2Lip``) and a precision the device cannot run
  (``precision 'int8' runs Wav2Lip on the CPU only``), both :class:`InputError`;
* ``"auto"``: on a device type the backend declares, the fastest candidate whose faces
  stay within the fidelity bound of ``fp32``'s, measured once per machine, thread
  count and weights by :mod:`lipdub.lipsync.auto_precision` and kept in its cache;
  on any other device (``meta``, ``mps``) the reference ``fp32``.

A lip-syncer that declares no precision (the default) has none:
:attr:`~PrecisionContract.precision` and :attr:`~PrecisionContract.requested_precision`
are None.

Example:
    >>> from lipdub.lipsync.base import LipSyncer
    >>> class Rounding(LipSyncer):
    ...     precisions = {"cpu": ("fp32", "bf16")}
    ...     precision_owner = "Rounding"
    ...     def __init__(self, precision=None):
    ...         self._init_precision(self.parse_precision(precision), "cpu")
    ...     def settings(self):
    ...         return {"precision": self.precision}
    ...     def sync(self, faces, mels):
    ...         return faces.copy()
    >>> Rounding("bf16").precision, Rounding().requested_precision
    ('bf16', 'auto')
    >>> Rounding.check_precision("fp16", "cpu")
    Traceback (most recent call last):
    ...
    lipdub.errors.InputError: unknown precision 'fp16' for Rounding (use one of auto, fp32, bf16)
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError
from lipdub.events import Progress, emit, stage
from lipdub.lipsync.auto_precision import (
    FIDELITY_MIN_PSNR_DB,
    AutoChoice,
    ChoiceCache,
    Runner,
    Timer,
    choose,
    machine_identity,
    measure,
    measurement_key,
    utc_now,
    wall_timer,
)
from lipdub.lipsync.threads import default_threads

if TYPE_CHECKING:
    from lipdub.events import EventCallback

__all__ = ["AUTO_STAGE", "PrecisionContract", "cpu_supports"]

logger = logging.getLogger(__name__)

#: The stage name under which the ``"auto"`` measurement is reported.
AUTO_STAGE = "precision"
_WHERE = {"cpu": "the CPU", "cuda": "CUDA"}
_Batch = tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]


def cpu_supports(precision: str) -> bool:
    """Whether this CPU runs ``precision`` natively (bf16: AVX-512 BF16 or AMX; int8:
    VNNI or AMX; ``"auto"`` measures instead of asking this).

    Example:
        >>> cpu_supports("fp32")
        True
    """
    if precision == "fp32":
        return True
    import torch

    amx = bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    if precision == "bf16":
        return bool(torch.cpu._is_avx512_bf16_supported() or amx)
    if precision == "int8":
        vnni = getattr(torch.cpu, "_is_vnni_supported", lambda: False)
        return bool(vnni() or amx)
    return False


def _device_type(device: str) -> str:
    return str(device).split(":")[0]


class PrecisionContract:
    """The precisions a lip-syncer declares, which one is asked for and which one runs.

    Mixed into :class:`~lipdub.lipsync.base.LipSyncer`. A backend with precisions sets
    :attr:`precisions` (and :attr:`precision_owner` for messages), calls
    :meth:`_init_precision` in its constructor (and :meth:`_place_precision` when it
    moves to another device), implements :meth:`precision_runner` and
    :meth:`auto_weights_id`, and reads :meth:`_current_precision` in ``sync``.
    """

    #: The precisions each device type runs (``{"cpu": ("fp32", "bf16")}``), ``"fp32"``
    #: first (the reference ``"auto"`` compares with); a device type not listed runs
    #: the CPU's. Empty: the backend has no precision option.
    precisions: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: What ``precision=`` takes, in the order a refusal lists them (default:
    #: ``"auto"`` and every declared precision).
    precision_choices: ClassVar[tuple[str, ...]] = ()
    #: The model's name in refusals (default: the class name).
    precision_owner: ClassVar[str] = ""
    #: Calibration crops per batch, and batches, of the ``"auto"`` measurement.
    auto_batch: ClassVar[int] = 8
    auto_batches: ClassVar[int] = 4
    #: Names the measuring recipe (part of the measurement's key).
    auto_recipe: ClassVar[str] = ""

    _precision_request: str = "auto"
    _precision_device: str | None = None
    _precision_mode: str | None = None
    _precision_choice: AutoChoice | None = None
    _precision_bound_db: float = FIDELITY_MIN_PSNR_DB
    _precision_cache_dir: Any = None
    #: The thread count of the run in progress (None: none).
    _threads: int | None = None

    # ------------------------------------------------------------------ declaration
    @classmethod
    def accepted_precisions(cls) -> tuple[str, ...]:
        """What ``precision=`` takes: :attr:`precision_choices`, or ``"auto"`` and every
        declared precision; empty when the backend declares none."""
        if cls.precision_choices or not cls.precisions:
            return tuple(cls.precision_choices)
        names = [m for modes in cls.precisions.values() for m in modes]
        return ("auto", *dict.fromkeys(names))

    @classmethod
    def device_precisions(cls, device: str) -> tuple[str, ...]:
        """The precisions ``device`` (``"cpu"``, ``"cuda:0"``) runs; a device type not
        declared runs the CPU's."""
        table = cls.precisions
        return tuple(table.get(_device_type(device), table.get("cpu", ())))

    @classmethod
    def _owner(cls) -> str:
        return cls.precision_owner or cls.__name__

    @classmethod
    def parse_precision(cls, precision: str | None) -> str:
        """The precision asked for: ``precision``, or ``"auto"`` when None.

        Raises:
            InputError: a name the backend does not take.
        """
        if precision is None:
            return "auto"
        names = cls.accepted_precisions()
        if precision not in names:
            raise InputError(
                f"unknown precision {precision!r} for {cls._owner()}",
                hint=f"use one of {', '.join(names)}"
                if names
                else "leave the precision out: this lip-syncer has no precision option",
            )
        return str(precision)

    @classmethod
    def check_precision(cls, precision: str, device: str) -> str:
        """Refuse a precision the backend does not take, or that ``device`` cannot run
        (``"auto"`` runs everywhere); returns it. Needs no such device here.

        Raises:
            InputError: an unknown precision, or one ``device`` does not run.
        """
        declared = {m for modes in cls.precisions.values() for m in modes}
        mode = precision if precision in declared else cls.parse_precision(precision)
        runs = cls.device_precisions(device)
        if mode == "auto" or mode in runs:
            return mode
        kind = _device_type(device)
        homes = [k for k, modes in cls.precisions.items() if mode in modes and k != kind]
        where = " or ".join(_WHERE.get(k, k) for k in homes) or "no device"
        here = _WHERE.get(kind, kind)
        raise InputError(
            f"precision {mode!r} runs {cls._owner()} on {where} only",
            hint=f"on {here} use one of auto, {', '.join(runs)}"
            + (f"; or run on {where}" if homes else ""),
        )

    def _check_precision_here(self, mode: str, device: str) -> None:
        """What a backend adds to :meth:`check_precision` once it runs ``mode`` on
        ``device`` (an extra that must be installed...). Default: warn when bf16 runs
        on a CPU without native bfloat16."""
        if mode == "bf16" and _device_type(device) == "cpu" and not cpu_supports("bf16"):
            logger.warning("this CPU has no native bfloat16; 'bf16' will be slow")

    # ------------------------------------------------------------------ state
    def _init_precision(
        self,
        request: str,
        device: str,
        *,
        bound_db: float = FIDELITY_MIN_PSNR_DB,
        cache_dir: Any = None,
    ) -> None:
        """Record the precision asked for (from :meth:`parse_precision`) and place it
        on ``device`` (:meth:`_place_precision`).

        Args:
            request: The precision asked for.
            device: The device the model runs on.
            bound_db: The fidelity bound of ``"auto"``.
            cache_dir: Folder of the ``"auto"`` measurements (default: lipdub's cache).
        """
        self._precision_request = request
        self._precision_bound_db = float(bound_db)
        self._precision_cache_dir = cache_dir
        self._place_precision(device)

    def _place_precision(self, device: str) -> None:
        """(Re)start on ``device``: an explicit precision is checked and applied now;
        ``"auto"`` waits for :meth:`resolve_precision`, except on a device type the
        backend does not declare (nothing to measure on): the reference ``fp32``."""
        with self._precision_lock:
            self._precision_device = str(device)
            self._precision_mode = None
            self._precision_choice = None
            request = self._precision_request
            if request != "auto":
                self.check_precision(request, device)
                self._check_precision_here(request, device)
                self._apply_precision(request)
            elif _device_type(device) not in self.precisions:
                self._apply_precision("fp32")

    def _apply_precision(self, mode: str) -> None:
        """Run in ``mode`` from now on (override to set the model up for it; call super)."""
        self._precision_mode = mode

    @property
    def _precision_lock(self) -> threading.RLock:
        lock: threading.RLock = self.__dict__.setdefault("_precision_rlock", threading.RLock())
        return lock

    def _precision_place(self) -> str:
        if self._precision_device is None:
            return str(getattr(self, "device", "cpu"))
        return self._precision_device

    @property
    def requested_precision(self) -> str | None:
        """The precision asked for (``"auto"`` unless one was given); None for a
        lip-syncer without precisions."""
        return self._precision_request if self.precisions else None

    @property
    def precision(self) -> str | None:
        """The precision in use, one of :meth:`device_precisions` (``"auto"``
        resolved: measured now if :meth:`resolve_precision` has not run); None for a
        lip-syncer without precisions."""
        return self._current_precision() if self.precisions else None

    @property
    def auto_choice(self) -> AutoChoice | None:
        """What ``"auto"`` chose and why (the measurement); None for another
        precision, or before ``"auto"`` was resolved."""
        return self._precision_choice

    def _current_precision(self) -> str:
        """The concrete precision, resolving ``"auto"`` now (through ``prepare``) if
        need be."""
        if self._precision_mode is None:
            prepare = getattr(self, "prepare", None)
            if prepare is not None:
                prepare()
            if self._precision_mode is None:
                self.resolve_precision()
        assert self._precision_mode is not None
        return self._precision_mode

    # ------------------------------------------------------------------ "auto"
    def precision_runner(self, mode: str, threads: int) -> Runner:
        """``runner(faces, mels) -> faces`` in ``mode`` with ``threads`` CPU threads:
        what ``"auto"`` times (every backend with more than one precision has one)."""
        raise NotImplementedError(
            f"{type(self).__name__} declares precisions but no precision_runner()"
        )

    def auto_weights_id(self) -> str:
        """What tells the weights apart in the measurement's key (their sha256)."""
        raise NotImplementedError(
            f"{type(self).__name__} declares precisions but no auto_weights_id()"
        )

    def auto_candidates(self) -> tuple[list[str], dict[str, str]]:
        """The precisions ``"auto"`` measures on this device, and those it leaves out
        (with why). Default: the device's, but bf16 on a CPU without native bfloat16."""
        device = self._precision_place()
        modes, skipped = [], {}
        for mode in self.device_precisions(device):
            if mode == "bf16" and _device_type(device) == "cpu" and not cpu_supports("bf16"):
                skipped[mode] = "no native bfloat16 (AVX-512 BF16 or AMX) on this CPU"
            else:
                modes.append(mode)
        return modes, skipped

    def _auto_recipe(self, modes: list[str]) -> str:
        """The measuring recipe of the key (default :attr:`auto_recipe`)."""
        return self.auto_recipe

    def auto_key(self, threads: int | None = None) -> str:
        """The key of this syncer's ``"auto"`` measurement (machine, threads, weights,
        candidates, bound, recipe; see :mod:`lipdub.lipsync.auto_precision`)."""
        count = threads or self._threads or default_threads()
        modes, _ = self.auto_candidates()
        return measurement_key(
            self._precision_place(),
            count,
            self.auto_weights_id(),
            modes,
            self._precision_bound_db,
            self._auto_recipe(modes),
        )

    def auto_cache(self) -> ChoiceCache:
        """Where the ``"auto"`` measurements are kept."""
        from lipdub.lipsync.wav2lip_int8 import int8_cache_dir

        folder = self._precision_cache_dir
        return ChoiceCache(Path(folder) if folder is not None else int8_cache_dir())

    def resolve_precision(
        self,
        on_event: EventCallback | None = None,
        threads: int | None = None,
        timer: Timer | None = None,
    ) -> str:
        """Resolve ``"auto"`` now (read the recorded measurement, or measure: stage
        ``"precision"`` on ``on_event``); returns the precision in use. Calling it
        again does nothing.

        Args:
            on_event: Progress callback.
            threads: CPU threads the run will use (default: the run's, else
                :func:`~lipdub.lipsync.threads.default_threads`); part of the key.
            timer: How a measured batch is timed (default: wall clock; for tests).
        """
        with self._precision_lock:
            if self._precision_mode is None:
                if not self.precisions:
                    raise InputError(f"{type(self).__name__} declares no precision")
                count = threads or self._threads or default_threads()
                choice = self._auto(on_event, count, timer or wall_timer)
                self._precision_choice = choice
                logger.info("precision auto -> %s", choice.reason())
                self._apply_precision(choice.precision)
            assert self._precision_mode is not None
            return self._precision_mode

    def _auto(self, on_event: EventCallback | None, threads: int, timer: Timer) -> AutoChoice:
        cache = self.auto_cache()
        key = self.auto_key(threads)
        found = cache.get(key)
        if found is None:
            with cache.lock(key):
                found = cache.get(key)  # measured by another process meanwhile?
                if found is None:
                    found = self._measure(key, threads, on_event, timer)
                    try:
                        cache.put(found)
                    except OSError as e:
                        logger.warning("cannot record the auto-precision choice: %s", e)
        return found

    def _prepare_candidates(
        self, modes: list[str], skipped: dict[str, str], on_event: EventCallback | None
    ) -> None:
        """The work before measuring (build a derived model...): drop a mode from
        ``modes`` into ``skipped`` (with why) if it cannot be made ready. Default: none."""

    @contextlib.contextmanager
    def _measuring(self, threads: int) -> Iterator[None]:
        """The runtime while ``"auto"`` measures (thread counts...). Default: as is."""
        yield

    def calibration_batches(self) -> list[_Batch]:
        """What ``"auto"`` measures on: :attr:`auto_batches` batches of
        :attr:`auto_batch` crops of the bundled portrait at ``face_size``, and mel
        windows of speech (or, for another window shape, seeded Gaussian windows)."""
        from lipdub.lipsync.wav2lip_int8 import calibration_crops

        size = int(getattr(self, "face_size", 96))
        shape = tuple(getattr(self, "window_shape", (80, 16)))
        faces, mels = calibration_crops(self.auto_batch * self.auto_batches)
        if faces.shape[1] != size:
            import cv2

            faces = np.stack(
                [cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in faces]
            ).astype(np.uint8)
        if mels.shape[1:] != shape:
            rng = np.random.default_rng(0)
            mels = rng.standard_normal((len(faces), *shape)).astype(np.float32)
        step = self.auto_batch
        return [(faces[i : i + step], mels[i : i + step]) for i in range(0, len(faces), step)]

    def _measure(
        self, key: str, threads: int, on_event: EventCallback | None, timer: Timer
    ) -> AutoChoice:
        modes, skipped = self.auto_candidates()
        self._prepare_candidates(modes, skipped, on_event)
        runners = {m: self.precision_runner(m, threads) for m in modes}
        batches = self.calibration_batches()
        crops = sum(len(b[0]) for b in batches)
        device = self._precision_place()
        detail = f"timing {', '.join(modes)} on {crops} face crops"
        total = len(modes) * len(batches)
        with stage(on_event, AUTO_STAGE, total=total, unit="batches", detail=detail) as info:
            with self._measuring(threads):
                trials = measure(
                    runners,
                    batches,
                    bound_db=self._precision_bound_db,
                    timer=timer,
                    skipped=skipped,
                    on_progress=lambda n, t: emit(on_event, Progress(AUTO_STAGE, n, t, "batches")),
                )
            prefer = ("fp16",) if _device_type(device) == "cuda" else ()
            choice = AutoChoice(
                choose(trials, prefer=prefer),
                tuple(trials),
                self._precision_bound_db,
                key,
                machine_identity(device, threads),
                utc_now(),
            )
            info["detail"] = f"auto -> {choice.reason()}"
        return choice
