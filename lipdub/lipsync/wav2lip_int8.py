"""Wav2Lip in int8 on the CPU: ONNX Runtime static quantisation, built once per weights.

:class:`Int8Generator` runs the generator as an int8 ONNX model on ONNX Runtime's CPU
provider (VNNI / AMX kernels where the CPU has them). The model is made the first time
a set of weights is used and kept in lipdub's cache (:func:`int8_cache_dir`), keyed by
the sha256 of the weights, the recipe (:data:`INT8_RECIPE`) and the ONNX Runtime
version:

1. the float32 network is rewritten as plain convolutions with the same outputs
   (:func:`lipdub.models.wav2lip_deploy.deployable`: BatchNorm folded, transposed
   convolutions as convolutions + pixel shuffle, which ONNX Runtime quantises) and
   exported to ONNX;
2. it is quantised statically in QDQ form: weights int8 per output channel,
   activations uint8 per tensor, their ranges calibrated (min/max) on real face crops
   (the bundled portrait at several shifts, scales and exposures, cropped like the
   engine crops) with the mel windows of speech-like audio (:func:`calibration_batches`).

A cached file whose sidecar does not match (another recipe or runtime, a file that was
changed, cut short or cannot be loaded) is rebuilt, with a warning, never trusted.
Building takes about 15 s on a 2-core CPU; it happens when the weights are downloaded
(``lipdub weights download wav2lip_gan``) or, failing that, as a reported step
(:data:`BUILD_STAGE`) before the first frame of a run, never inside it. Needs the
``int8`` extra (``onnx``, ``onnxruntime``); torch is imported only to export.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lipdub._deps import require_modules
from lipdub._hashing import file_sha256
from lipdub._io import atomic_path, atomic_write_text
from lipdub._lock import exclusive_lock
from lipdub.errors import LipdubError, ModelError
from lipdub.events import EventCallback, Progress, emit, stage

if TYPE_CHECKING:
    from lipdub.models.wav2lip import Wav2Lip

__all__ = [
    "BUILD_STAGE",
    "INT8_RECIPE",
    "Int8Generator",
    "calibration_batches",
    "calibration_crops",
    "int8_cache_dir",
    "network_inputs",
    "require_int8",
]

logger = logging.getLogger(__name__)

#: The stage name under which a build is reported (progress events, the CLI).
BUILD_STAGE = "build int8"
#: Names the export + quantisation recipe; part of the cache key (bump on any change).
INT8_RECIPE = "w2l-qdq-u8s8-perchannel-minmax-v1"
_FACE = 96


def require_int8() -> None:
    """Raise :class:`~lipdub.errors.BackendNotInstalled` with the install line when the
    int8 runtime's packages are missing."""
    require_modules("wav2lip", "Wav2Lip in int8", "onnx", "onnxruntime", extra="int8")


def int8_cache_dir() -> Path:
    """Where int8 models are kept: ``$LIPDUB_CACHE/int8``, else
    ``$XDG_CACHE_HOME/lipdub/int8``, else ``~/.cache/lipdub/int8``."""
    root = os.environ.get("LIPDUB_CACHE")
    if root:
        return Path(root).expanduser() / "int8"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "lipdub" / "int8"


def network_inputs(
    faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
) -> dict[str, npt.NDArray[np.float32]]:
    """The generator's inputs for uint8 BGR crops ``(B, 96, 96, 3)`` and mel windows
    ``(B, 80, 16)``, prepared as :meth:`Wav2LipSyncer.sync` prepares them: the crop in
    [0, 1], channels first, its lower half blanked, stacked with itself."""
    ref = faces.transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1 / 255)
    face = np.concatenate([ref, ref], axis=1)
    face[:, :3, _FACE // 2 :] = 0.0
    return {"mel": np.ascontiguousarray(mels[:, None], dtype=np.float32), "face": face}


def calibration_crops(count: int = 32) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """``count`` uint8 BGR face crops ``(count, 96, 96, 3)`` of the bundled portrait
    (shifted up to 6 px, scaled 0.9-1.1, exposure 0.8-1.2, padded 10 px below like the
    engine's crops) and their mel windows of speech-like audio ``(count, 80, 16)``.
    The same every time (seeded)."""
    from lipdub.audio import melspectrogram
    from lipdub.data import PORTRAIT_FACE, portrait_path, speech_tones
    from lipdub.lipsync.blend import crop_face
    from lipdub.media import read_image

    img = read_image(portrait_path())
    x1, y1, x2, y2 = PORTRAIT_FACE
    y2 += 10
    rng = np.random.default_rng(0)
    crops = []
    for _ in range(count):
        s = float(rng.uniform(0.9, 1.1))
        dx, dy = rng.uniform(-6, 6, 2)
        cx, cy = (x1 + x2) / 2 + dx, (y1 + y2) / 2 + dy
        hw, hh = (x2 - x1) * s / 2, (y2 - y1) * s / 2
        crop = crop_face(img, (cx - hw, cy - hh, cx + hw, cy + hh), _FACE)
        gain = float(rng.uniform(0.8, 1.2))
        crops.append(np.clip(crop.astype(np.float32) * gain, 0, 255).astype(np.uint8))
    mel = melspectrogram(speech_tones(count / 25 + 1.0).resample(16000).samples)
    mels = np.stack([mel[:, 3 * i : 3 * i + 16] for i in range(count)]).astype(np.float32)
    return np.stack(crops), mels


def calibration_batches(count: int = 32, batch: int = 8) -> list[dict[str, npt.NDArray[Any]]]:
    """The network inputs (:func:`network_inputs`) of :func:`calibration_crops`, in
    batches: what the activation ranges are calibrated on."""
    faces, mels = calibration_crops(count)
    return [
        network_inputs(faces[i : i + batch], mels[i : i + batch]) for i in range(0, count, batch)
    ]


class _NoPreprocessAdvice(logging.Filter):
    """Drops the quantiser's advice to "pre-process" the model (shape inference and
    graph fusion): the exported graph is already the folded one
    (:func:`~lipdub.models.wav2lip_deploy.deployable`), and the advice is logged as a
    warning on the root logger, where a CLI user would see it on every build."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _step(done: int) -> Progress:
    return Progress(BUILD_STAGE, done, 3, "steps")


def _quantize(model: Wav2Lip, dest: Path, step: Callable[[int], None] | None = None) -> None:
    """Export ``model`` and quantise it into ``dest`` (atomically); ``step(n)`` after
    the export (1) and the quantisation (2)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from lipdub.models.wav2lip_deploy import export_onnx

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(calibration_batches())

        def get_next(self) -> dict[str, npt.NDArray[Any]] | None:
            return next(self._it, None)

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=dest.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(model, fp32)
        if step is not None:
            step(1)
        out = Path(tmp) / "int8.onnx"
        advice = _NoPreprocessAdvice()
        root = logging.getLogger()
        root.addFilter(advice)
        try:
            quantize_static(
                str(fp32),
                str(out),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
        finally:
            root.removeFilter(advice)
        with atomic_path(dest) as final:
            shutil.move(out, final)
        if step is not None:
            step(2)


class Int8Generator:
    """The int8 Wav2Lip generator of one set of weights, on ONNX Runtime's CPU provider.

    Args:
        model: The float32 generator (exported on the first build only).
        weights_sha256: Digest of its weights (the cache key).
        cache_dir: Folder for the int8 models (default :func:`int8_cache_dir`).

    Raises:
        BackendNotInstalled: ``onnx`` or ``onnxruntime`` is missing.
    """

    def __init__(
        self,
        model: Wav2Lip,
        weights_sha256: str,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        require_int8()
        self._model = model
        self.weights_sha256 = weights_sha256
        self.cache_dir = Path(cache_dir) if cache_dir is not None else int8_cache_dir()
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        #: Seconds the last :meth:`build` took here (None: nothing was built).
        self.build_seconds: float | None = None

    @property
    def path(self) -> Path:
        """The cached int8 model file."""
        return self.cache_dir / f"wav2lip-{self.weights_sha256[:16]}-{INT8_RECIPE}.onnx"

    def _meta(self) -> dict[str, str]:
        import onnxruntime

        return {
            "weights_sha256": self.weights_sha256,
            "recipe": INT8_RECIPE,
            "onnxruntime": str(onnxruntime.__version__),
        }

    def _sidecar(self) -> Path:
        return self.path.with_suffix(".json")

    def _cached_ok(self) -> bool:
        if not self.path.is_file():
            return False
        try:
            meta = json.loads(self._sidecar().read_text("utf-8"))
        except (OSError, ValueError):
            meta = None
        if (
            isinstance(meta, dict)
            and meta.get("file_sha256") == file_sha256(self.path, remember=True)
            and {k: meta.get(k) for k in self._meta()} == self._meta()
        ):
            return True
        logger.warning("the cached int8 model %s is damaged or stale; rebuilding it", self.path)
        return False

    def is_built(self) -> bool:
        """Whether a sound int8 model for these weights is in the cache (no warning)."""
        try:
            meta = json.loads(self._sidecar().read_text("utf-8"))
        except (OSError, ValueError):
            return False
        return (
            self.path.is_file()
            and isinstance(meta, dict)
            and {k: meta.get(k) for k in self._meta()} == self._meta()
            and meta.get("file_sha256") == file_sha256(self.path, remember=True)
        )

    def build(self, on_event: EventCallback | None = None) -> Path:
        """Make the int8 model unless a sound one is cached; returns its path.

        A build is reported on ``on_event`` as the stage :data:`BUILD_STAGE` (three
        steps: export, quantise, record) and logged with its time. One process builds
        at a time (a lock beside the model); the others then find it built.

        Raises:
            ModelError: the cache folder cannot be written.
        """
        if self._cached_ok():
            return self.path
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with exclusive_lock(self.cache_dir / f".{self.path.name}.lock", required=False):
                if self.is_built():  # another process built it while this one waited
                    return self.path
                self._build(on_event)
        except OSError as e:
            if isinstance(e, LipdubError):
                raise
            raise ModelError(
                f"cannot write the int8 model: {e.strerror or e}",
                path=self.cache_dir,
                hint="set LIPDUB_CACHE to a writable folder (or pass int8_cache_dir)",
            ) from e
        return self.path

    def _build(self, on_event: EventCallback | None) -> None:
        t0 = time.perf_counter()
        detail = f"int8 Wav2Lip model for weights {self.weights_sha256[:12]}"
        with stage(on_event, BUILD_STAGE, total=3, unit="steps", detail=detail) as info:
            _quantize(self._model, self.path, lambda n: emit(on_event, _step(n)))
            meta = {**self._meta(), "file_sha256": file_sha256(self.path, remember=True)}
            atomic_write_text(self._sidecar(), json.dumps(meta, indent=1))
            emit(on_event, _step(3))
            self.build_seconds = time.perf_counter() - t0
            info["detail"] = f"built once for these weights in {self.build_seconds:.1f} s"
        logger.info("built the int8 Wav2Lip model in %.1f s: %s", self.build_seconds, self.path)

    def _open(self, threads: int) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # the engine's other stages share the cores: idle workers sleep, not spin
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])

    def session(self, threads: int) -> Any:
        """An ONNX Runtime session with ``threads`` threads (made once per count)."""
        with self._lock:
            sess = self._sessions.get(threads)
            if sess is None:
                if not self.is_built():
                    logger.warning(
                        "building the int8 Wav2Lip model now, inside the run (~15 s): "
                        "prepare() or `lipdub weights download` builds it ahead"
                    )
                self.build()
                try:
                    sess = self._open(threads)
                except Exception as e:  # a file that passed the checks yet does not load
                    logger.warning("the int8 model %s does not load (%s); rebuilding", self.path, e)
                    self._sidecar().unlink(missing_ok=True)
                    self.build()
                    sess = self._open(threads)
                self._sessions[threads] = sess
            return sess

    def run(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32], threads: int
    ) -> npt.NDArray[np.uint8]:
        """``(B, 96, 96, 3)`` uint8 BGR crops + ``(B, 80, 16)`` mel windows -> generated
        ``(B, 96, 96, 3)`` uint8 BGR crops (``output * 255`` truncated)."""
        out = self.session(threads).run(["out"], network_inputs(faces, mels))[0]
        scaled = np.clip(np.asarray(out, np.float32) * np.float32(255.0), 0.0, 255.0)
        result: npt.NDArray[np.uint8] = np.ascontiguousarray(
            scaled.astype(np.uint8).transpose(0, 2, 3, 1)
        )
        return result
