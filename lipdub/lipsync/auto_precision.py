"""``precision="auto"`` chosen by measurement, once per machine, thread count and weights.

A lip-syncer that offers several precisions (Wav2Lip: ``fp32``, ``bf16``, ``int8`` on
the CPU, ``fp16`` on CUDA) hands :func:`measure` one runner per mode and a few batches
of calibration crops. After a warm-up the modes take turns batch by batch, each batch
timed; a mode's outputs are compared with ``fp32``'s (PSNR over all crops). The
choice (:func:`choose`) is the fastest mode whose PSNR against ``fp32`` is at least the
bound (:data:`FIDELITY_MIN_PSNR_DB`, 40 dB); ``fp32`` itself always passes, so it is the
fall-back. On CUDA a preferred mode (``fp16``) wins whenever it passes the bound.

The result is an :class:`AutoChoice`, kept as JSON by :class:`ChoiceCache` under a key
made of what decides the speed (:func:`machine_identity`: the CPU's vendor, family,
model, name and flags, or the GPU's name and compute capability; the thread count; the
torch and ONNX Runtime versions) and what decides the outputs (the weights' sha256, the
modes tried, the bound, the int8 recipe). Both CPU types this project runs on report
only ``"AMD EPYC"`` as their name; their flags and model numbers tell them apart.

A cached file is untrusted input: one that does not parse, names a mode that was not
tried or holds impossible numbers is measured again (with a warning), never used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lipdub._io import atomic_write_text

__all__ = [
    "AUTO_MODES",
    "FIDELITY_MIN_PSNR_DB",
    "AutoChoice",
    "ChoiceCache",
    "ModeTrial",
    "Runner",
    "Timer",
    "choice_key",
    "choose",
    "cpu_identity",
    "machine_identity",
    "measure",
    "measurement_key",
    "psnr_db",
    "wall_timer",
]

logger = logging.getLogger(__name__)

#: The fidelity bound ``"auto"`` asks of a reduced precision: PSNR (dB) of its generated
#: faces against float32 on the calibration crops.
FIDELITY_MIN_PSNR_DB = 40.0
#: Version of the measurement and its file format (part of the key: bump on a change).
MEASURE_RECIPE = "auto-v1"

Batch = tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]
#: ``runner(faces, mels) -> generated faces``: one precision mode of a lip-syncer.
Runner = Callable[[npt.NDArray[np.uint8], npt.NDArray[np.float32]], npt.NDArray[np.uint8]]
#: ``timer(mode, call) -> (call's result, seconds)``: how one batch is timed.
Timer = Callable[[str, Callable[[], npt.NDArray[np.uint8]]], tuple[npt.NDArray[np.uint8], float]]


def wall_timer(
    mode: str, call: Callable[[], npt.NDArray[np.uint8]]
) -> tuple[npt.NDArray[np.uint8], float]:
    """The default :data:`Timer`: wall-clock seconds of ``call()`` (``mode`` unused)."""
    t0 = time.perf_counter()
    out = call()
    return out, time.perf_counter() - t0


def psnr_db(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    """PSNR of two uint8 images (or stacks) in dB, ``inf`` when they are equal.

    Example:
        >>> a = np.zeros((4, 4), np.uint8)
        >>> psnr_db(a, a), round(psnr_db(a, a + 1), 1)
        (inf, 48.1)
    """
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


@dataclass(frozen=True, slots=True)
class ModeTrial:
    """How one precision mode did: its speed and its fidelity against ``fp32``.

    Attributes:
        mode: ``"fp32"``, ``"bf16"``, ``"int8"``, ``"fp16"``.
        faces_per_s: Crops per second of its fastest timed batch (None: not run).
        psnr_db: PSNR of its outputs against ``fp32``'s (``inf``: identical; None: not run).
        passed: Whether it may be chosen (PSNR at least the bound; ``fp32`` always).
        note: Why it was not run or failed (empty when it ran).
    """

    mode: str
    faces_per_s: float | None
    psnr_db: float | None
    passed: bool
    note: str = ""

    def describe(self) -> str:
        """``"int8 49.1 faces/s, 50.0 dB"`` (or the note)."""
        if self.faces_per_s is None:
            return f"{self.mode} not run ({self.note})"
        fid = "reference" if self.mode == "fp32" else f"{_db_text(self.psnr_db)}"
        text = f"{self.mode} {self.faces_per_s:.1f} faces/s, {fid}"
        return text + (f" ({self.note})" if self.note else "")


def _db_text(value: float | None) -> str:
    if value is None:
        return "?"
    return "identical" if math.isinf(value) else f"{value:.1f} dB"


@dataclass(frozen=True, slots=True)
class AutoChoice:
    """What ``"auto"`` resolved to, and the measurement behind it.

    Attributes:
        precision: The mode chosen.
        trials: Every mode tried (or skipped, with its note), ``fp32`` first.
        bound_db: The fidelity bound the reduced modes had to pass.
        key: The cache key (see the module docstring).
        machine: :func:`machine_identity` of the machine it was measured on.
        measured_at: UTC time of the measurement (ISO 8601).
        cached: Whether it was read from the cache rather than measured now.
    """

    precision: str
    trials: tuple[ModeTrial, ...]
    bound_db: float
    key: str
    machine: Mapping[str, Any]
    measured_at: str
    cached: bool = False

    def reason(self) -> str:
        """One line: what was chosen and why.

        Example:
            >>> t = (ModeTrial("fp32", 18.7, math.inf, True), ModeTrial("int8", 42.0, 50.0, True))
            >>> AutoChoice("int8", t, 40.0, "k", {}, "now").reason()
            'int8: the fastest mode within 40 dB PSNR of fp32 (fp32 18.7 faces/s, reference; int8 42.0 faces/s, 50.0 dB)'
        """  # noqa: E501
        rows = "; ".join(t.describe() for t in self.trials)
        failed = [t.mode for t in self.trials if t.faces_per_s is not None and not t.passed]
        why = f"the fastest mode within {self.bound_db:g} dB PSNR of fp32"
        if self.precision == "fp16" and any(t.mode == "fp16" for t in self.trials):
            why = f"float16 on CUDA, within {self.bound_db:g} dB PSNR of fp32"
        if failed:
            why += f"; {', '.join(failed)} failed the bound"
        return f"{self.precision}: {why} ({rows})"

    def to_json(self) -> str:
        """The cache file's text (``inf`` PSNR written as null with ``identical``)."""
        trials = []
        for t in self.trials:
            row = asdict(t)
            if t.psnr_db is not None and math.isinf(t.psnr_db):
                row["psnr_db"] = None
                row["identical"] = True
            trials.append(row)
        body = {
            "recipe": MEASURE_RECIPE,
            "precision": self.precision,
            "bound_db": self.bound_db,
            "key": self.key,
            "machine": dict(self.machine),
            "measured_at": self.measured_at,
            "trials": trials,
        }
        return json.dumps(body, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, key: str) -> AutoChoice:
        """Parse and check a cache file written by :meth:`to_json` for ``key``.

        Raises:
            ValueError: it does not parse, is for another key, or holds a choice that
                its own trials do not support (a mode not run, failed, or not the
                fastest passing one), or numbers that cannot be.
        """
        body = json.loads(text)
        if not isinstance(body, dict) or body.get("recipe") != MEASURE_RECIPE:
            raise ValueError("not an auto-precision record of this version")
        if body.get("key") != key:
            raise ValueError("recorded for another machine, weights or bound")
        bound = body.get("bound_db")
        if not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise ValueError("bad bound")
        rows = body.get("trials")
        if not isinstance(rows, list) or not 1 <= len(rows) <= 8:
            raise ValueError("bad trials")
        trials = []
        for row in rows:
            if not isinstance(row, dict):
                raise ValueError("bad trial")
            mode, speed, psnr = row.get("mode"), row.get("faces_per_s"), row.get("psnr_db")
            if not isinstance(mode, str) or mode not in _KNOWN_MODES:
                raise ValueError(f"unknown mode {mode!r}")
            if speed is not None and not (
                isinstance(speed, (int, float)) and math.isfinite(speed) and speed > 0
            ):
                raise ValueError(f"bad speed for {mode}")
            if row.get("identical") is True:
                psnr = math.inf
            elif psnr is not None and not (isinstance(psnr, (int, float)) and math.isfinite(psnr)):
                raise ValueError(f"bad PSNR for {mode}")
            note = row.get("note", "")
            if not isinstance(note, str) or len(note) > 500:
                raise ValueError(f"bad note for {mode}")
            passed = speed is not None and (
                mode == "fp32" or (psnr is not None and float(psnr) >= float(bound))
            )
            trials.append(ModeTrial(mode, speed, psnr, passed, note))
        machine = body.get("machine")
        when = body.get("measured_at")
        if not isinstance(machine, dict) or not isinstance(when, str):
            raise ValueError("bad machine or time")
        precision = body.get("precision")
        prefer = ("fp16",) if any(t.mode == "fp16" for t in trials) else ()
        if precision != choose(trials, prefer=prefer):
            raise ValueError(f"the choice {precision!r} does not follow from the trials")
        return cls(str(precision), tuple(trials), float(bound), key, machine, when, cached=True)


#: Every precision a measurement may name (a lip-syncer declares some of them).
AUTO_MODES: tuple[str, ...] = ("fp32", "bf16", "int8", "fp16")
_KNOWN_MODES = AUTO_MODES


def choose(trials: Sequence[ModeTrial], *, prefer: Sequence[str] = ()) -> str:
    """The mode ``"auto"`` takes: a ``prefer``-red mode that passed, else the fastest
    mode that passed, else ``"fp32"``.

    Example:
        >>> choose([ModeTrial("fp32", 10, math.inf, True), ModeTrial("int8", 30, 35.0, False),
        ...         ModeTrial("bf16", 20, 55.0, True)])
        'bf16'
    """
    passed = [t for t in trials if t.passed and t.faces_per_s is not None]
    for mode in prefer:
        if any(t.mode == mode for t in passed):
            return mode
    if not passed:
        return "fp32"
    return max(passed, key=lambda t: (float(t.faces_per_s or 0.0), t.mode == "fp32")).mode


def measure(
    runners: Mapping[str, Runner],
    batches: Sequence[Batch],
    *,
    bound_db: float = FIDELITY_MIN_PSNR_DB,
    timer: Timer = wall_timer,
    skipped: Mapping[str, str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[ModeTrial]:
    """Time every mode of ``runners`` on ``batches`` and compare it with ``"fp32"``.

    Each mode first runs the first batch untimed (warm-up: caches, lazy sessions).
    Then the modes take turns, batch by batch (fp32, bf16, int8, fp32, bf16, ...), each
    call timed by ``timer``, so that other load on the machine falls on every mode
    alike; a mode's speed is the crops per second of its fastest batch (a burst of load
    slows some batches, not the fastest). A mode that raises is recorded as failed
    with the error, and never chosen.

    Args:
        runners: Mode name -> runner; must hold ``"fp32"`` (the reference).
        batches: ``(faces, mels)`` batches of calibration inputs (at least one).
        bound_db: PSNR a reduced mode needs against ``fp32`` to pass.
        timer: How a batch is timed (default :func:`wall_timer`; tests pass a stub).
        skipped: Modes not tried, with the reason (recorded as trials).
        on_progress: Called as ``on_progress(done, total)`` after each timed batch.

    Returns:
        One :class:`ModeTrial` per mode, ``fp32`` first, then the skipped ones.
    """
    if "fp32" not in runners or not batches:
        raise ValueError("measure needs an fp32 runner and at least one batch")
    order = ["fp32", *[m for m in runners if m != "fp32"]]
    failed: dict[str, str] = {}
    outs: dict[str, list[npt.NDArray[np.uint8]]] = {m: [] for m in order}
    secs: dict[str, list[float]] = {m: [] for m in order}

    def attempt(mode: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as e:  # a mode that fails is recorded and never chosen
            if mode == "fp32":
                raise
            failed[mode] = f"failed: {type(e).__name__}: {e}"

    for mode in order:
        attempt(mode, functools.partial(runners[mode], *batches[0]))
    total, done = len(batches) * len(order), 0
    for faces, mels in batches:
        for mode in order:
            if mode not in failed:

                def timed(m: str = mode, f: Any = faces, w: Any = mels) -> None:
                    out, sec = timer(m, functools.partial(runners[m], f, w))
                    outs[m].append(np.asarray(out))
                    secs[m].append(max(float(sec), 1e-9))

                attempt(mode, timed)
            done += 1
            if on_progress is not None:
                on_progress(done, total)
    reference = np.concatenate(outs["fp32"])
    trials: list[ModeTrial] = []
    for mode in order:
        if mode in failed:
            trials.append(ModeTrial(mode, None, None, False, failed[mode]))
            continue
        speed = round(max(len(b[0]) / s for b, s in zip(batches, secs[mode], strict=True)), 2)
        if mode == "fp32":
            trials.append(ModeTrial(mode, speed, math.inf, True))
            continue
        value = psnr_db(np.concatenate(outs[mode]), reference)
        value = value if math.isinf(value) else round(value, 2)
        ok = value >= bound_db
        trials.append(
            ModeTrial(mode, speed, value, ok, "" if ok else f"below the {bound_db:g} dB bound")
        )
    for mode, why in (skipped or {}).items():
        trials.append(ModeTrial(mode, None, None, False, why))
    return trials


# --------------------------------------------------------------------------- identity
def cpu_identity() -> dict[str, Any]:
    """The CPU's vendor, family, model, name and flags (``/proc/cpuinfo`` on Linux;
    ``platform`` elsewhere).

    Example:
        >>> sorted(cpu_identity())
        ['family', 'flags', 'model', 'model_name', 'vendor']
    """
    fields = {"vendor": "", "family": "", "model": "", "model_name": "", "flags": ""}
    names = {
        "vendor_id": "vendor",
        "cpu family": "family",
        "model": "model",
        "model name": "model_name",
        "flags": "flags",
        "Features": "flags",  # arm64
    }
    try:
        text = Path("/proc/cpuinfo").read_text("utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        if not line.strip():
            if fields["flags"]:
                break  # the first processor is enough
            continue
        name, _, value = line.partition(":")
        key = names.get(name.strip())
        if key is not None and not fields[key]:
            fields[key] = value.strip()
    if not fields["model_name"]:
        fields["model_name"] = platform.processor() or platform.machine()
    fields["flags"] = " ".join(sorted(set(fields["flags"].split())))
    return fields


def machine_identity(device: str, threads: int) -> dict[str, Any]:
    """What decides the speed of each precision here: the processor that runs the
    model (the CPU, or the GPU for ``cuda``), the thread count and the runtimes'
    versions."""
    import torch

    out: dict[str, Any] = {"device": device.split(":")[0], "threads": int(threads)}
    out["torch"] = str(torch.__version__)
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        out["gpu"] = str(torch.cuda.get_device_name(index))
        out["capability"] = list(torch.cuda.get_device_capability(index))
        out["cuda"] = str(torch.version.cuda)
        return out
    out["cpu"] = cpu_identity()
    try:
        import onnxruntime

        out["onnxruntime"] = str(onnxruntime.__version__)
    except ImportError:
        out["onnxruntime"] = None
    return out


def choice_key(
    machine: Mapping[str, Any],
    weights_sha256: str,
    modes: Sequence[str],
    bound_db: float,
    recipe: str,
) -> str:
    """The cache key of a measurement (hex sha256 of its canonical JSON)."""
    body = {
        "measure": MEASURE_RECIPE,
        "machine": dict(machine),
        "weights_sha256": weights_sha256,
        "modes": list(modes),
        "bound_db": float(bound_db),
        "recipe": recipe,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def measurement_key(
    device: str,
    threads: int,
    weights_sha256: str,
    modes: Sequence[str],
    bound_db: float,
    recipe: str,
) -> str:
    """The cache key of a measurement on ``device`` (:func:`choice_key` of its
    :func:`machine_identity`; the thread count counts on the CPU only)."""
    cpu = device.split(":")[0] == "cpu"
    machine = machine_identity(device, threads if cpu else 0)
    return choice_key(machine, weights_sha256, modes, bound_db, recipe)


def utc_now() -> str:
    """The current UTC time, ISO 8601, seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ChoiceCache:
    """The measurements kept in ``folder`` (``auto-<key>.json``), one per key.

    Args:
        folder: Where the records live (the int8 model cache).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        """The record of ``key``."""
        return self.folder / f"auto-{key[:32]}.json"

    def get(self, key: str) -> AutoChoice | None:
        """The recorded choice of ``key``, or None (absent, or unsound: warned)."""
        p = self.path(key)
        try:
            if not p.is_file() or p.stat().st_size > 64_000:
                if p.exists():
                    logger.warning("ignoring %s: not a small regular file", p)
                return None
            return AutoChoice.from_json(p.read_text("utf-8"), key=key)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            logger.warning("the auto-precision record %s is unsound (%s); measuring again", p, e)
            return None

    def put(self, choice: AutoChoice) -> Path:
        """Record ``choice`` (atomically)."""
        return atomic_write_text(self.path(choice.key), choice.to_json() + "\n")

    def all(self) -> list[AutoChoice]:
        """Every sound record in the folder (for listings)."""
        out = []
        for p in sorted(self.folder.glob("auto-*.json")) if self.folder.is_dir() else []:
            try:
                key = json.loads(p.read_text("utf-8")).get("key", "")
                if isinstance(key, str) and self.path(key) == p:
                    out.append(AutoChoice.from_json(p.read_text("utf-8"), key=key))
            except (OSError, ValueError, UnicodeDecodeError, AttributeError):
                continue
        return out

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold ``key``'s lock: one process measures at a time (two measuring at once
        would slow each other down and record the slowdown)."""
        from lipdub._lock import exclusive_lock

        self.folder.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.folder / f".auto-{key[:32]}.lock", required=False):
            yield
