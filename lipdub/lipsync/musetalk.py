"""The MuseTalk 1.5 lip-syncer: 256x256 faces, mouths inpainted in a VAE's latent space.

:class:`MuseTalkSyncer` runs :class:`~lipdub.models.musetalk.MuseTalkNet` (one UNet pass
per frame at timestep 0, then the VAE decode) behind the :class:`LipSyncer` interface:
its audio features are the stacked hidden states of the Whisper-tiny encoder
(``(5, 384, T)``, 50 rows a second) and each frame's window is the 50 tokens of 384 the
UNet attends to. The engine crops the face box extended 10 px below the chin (its
default pads, as MuseTalk 1.5's ``extra_margin``) and pastes the decoded face back with
its own soft mask and colour handling.

Weights come through the catalogue: ``musetalk`` (the v1.5 UNet, ``unet.pth`` with its
``musetalk.json``), ``musetalk-vae`` (``stabilityai/sd-vae-ft-mse``) and
``musetalk-whisper`` (``openai/whisper-tiny``); ``lipdub weights download musetalk``
fetches all three. A local copy is a folder in the original's ``models/`` layout
(``weights_dir``: ``musetalkV15/unet.pth``, ``sd-vae/``, ``whisper/``), or one path per
network. Loading is safe: ``torch.load(weights_only=True)`` and safetensors.

**Avatar reuse.** The two VAE encodings of a crop (lower half masked, and whole) do not
depend on the audio, so they are kept, keyed by the crop's bytes, and a video dubbed
into several languages by one syncer encodes each frame's crop once
(:attr:`MuseTalkSyncer.crops_encoded` counts the encodings).

Precision: ``"fp32"`` (the reference, parity with the original), ``"bf16"`` (CPU
autocast; CPUs with AVX-512 BF16 or AMX), ``"fp16"`` (CUDA autocast, batched) and
``"auto"``: the fastest mode whose decoded faces stay within
:data:`~lipdub.lipsync.auto_precision.FIDELITY_MIN_PSNR_DB` of float32's, measured once
per machine and weights, like Wav2Lip's (:mod:`lipdub.lipsync.auto_precision`).

Needs the ``hd`` extra (``pip install 'lipdub[hd]'``: diffusers, transformers).

Example (not run here: it builds 4 GB of test weights):
    >>> from lipdub.testing.musetalk_weights import cached_musetalk_test_weights
    >>> root = cached_musetalk_test_weights("/tmp/mt")  # doctest: +SKIP
    >>> syncer = MuseTalkSyncer.from_pretrained(weights_dir=root)  # doctest: +SKIP
    >>> syncer.face_size, syncer.window_shape  # doctest: +SKIP
    (256, (50, 384))
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch

from lipdub._deps import parse_device, require_modules
from lipdub._hashing import array_key, file_sha256, settings_key
from lipdub.errors import CheckpointError, InputError
from lipdub.hub import load_state_dict, resolve_weights
from lipdub.lipsync.auto_precision import FIDELITY_MIN_PSNR_DB, Runner
from lipdub.lipsync.base import LipSyncer, default_threads
from lipdub.lipsync.precision import AUTO_STAGE as AUTO_STAGE
from lipdub.models.musetalk import (
    FACE_SIZE,
    PROMPT_TOKENS,
    STATE_RATE_HZ,
    WHISPER_DIM,
    MuseTalkNet,
    audio_prompt,
)

if TYPE_CHECKING:
    from lipdub.events import EventCallback
    from lipdub.types import AudioClip

__all__ = ["PRECISIONS", "MuseTalkSyncer", "load_musetalk"]

logger = logging.getLogger(__name__)

#: The precisions :class:`MuseTalkSyncer` takes.
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: Crops whose latents a syncer keeps (about 32 KiB each: 128 MiB).
DEFAULT_LATENT_CACHE = 4096
#: What ``"auto"`` measures on: crops per batch and batches.
AUTO_BATCH, AUTO_BATCHES = 1, 1
_RECIPE = "musetalk-auto-v1"


# --------------------------------------------------------------------------- loading
def _config(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(
            f"cannot read the {what} config: {e}",
            path=path,
            hint="download the weights again (`lipdub weights download musetalk`)",
        ) from e
    if not isinstance(data, dict):
        raise CheckpointError(f"the {what} config is not a JSON object", path=path)
    return data


def _load_into(module: Any, state: dict[str, torch.Tensor], path: Path, what: str) -> Any:
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise CheckpointError(
            f"{what} weights do not fit the network: {str(e).splitlines()[0]}", path=path
        ) from e
    return module.eval()


def _meta_shapes(module: Any) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _load_unet(path: Path) -> Any:
    from diffusers import UNet2DConditionModel

    cfg = _config(path.with_name("musetalk.json"), "MuseTalk UNet")
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(cfg)  # type: ignore[no-untyped-call]
    state = load_state_dict(path, expected_shapes=_meta_shapes(unet), what="MuseTalk UNet")
    return _load_into(unet, state, path, "MuseTalk UNet")


def _load_vae(folder: Path) -> Any:
    from diffusers import AutoencoderKL

    cfg = _config(folder / "config.json", "VAE")
    with torch.device("meta"):
        vae = AutoencoderKL.from_config(cfg)  # type: ignore[no-untyped-call]
    path = folder / "diffusion_pytorch_model.safetensors"
    state = load_state_dict(path, expected_shapes=_meta_shapes(vae), what="sd-vae-ft-mse VAE")
    return _load_into(vae, state, path, "VAE")


def _load_whisper(folder: Path) -> tuple[Any, Any]:
    from transformers import WhisperConfig, WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    config = WhisperConfig(**_config(folder / "config.json", "Whisper"))
    with torch.device("meta"):
        encoder = WhisperEncoder(config)
    path = folder / "model.safetensors"
    state = load_state_dict(path, what="whisper-tiny")
    enc: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in ("model.encoder.", "encoder."):
            if key.startswith(prefix):
                enc[key.removeprefix(prefix)] = value
    want = _meta_shapes(encoder)
    bad = sorted(set(want) ^ set(enc))
    if bad:
        raise CheckpointError(
            f"expected the whisper-tiny encoder's {len(want)} tensors, {len(bad)} differ "
            f"(e.g. {bad[0]!r})",
            path=path,
            hint="pass openai/whisper-tiny's model.safetensors",
        )
    encoder = _load_into(encoder, enc, path, "Whisper encoder")
    extractor = WhisperFeatureExtractor(**_extractor_options(folder))  # type: ignore[no-untyped-call]
    return encoder, extractor


def _extractor_options(folder: Path) -> dict[str, Any]:
    path = folder / "preprocessor_config.json"
    data = _config(path, "Whisper feature extractor") if path.is_file() else {}
    keys = ("feature_size", "sampling_rate", "hop_length", "chunk_length", "n_fft")
    opts = {k: data[k] for k in keys if k in data}
    if opts.get("sampling_rate", 16000) != 16000 or opts.get("feature_size", 80) != 80:
        raise CheckpointError(
            "the Whisper feature extractor is not whisper-tiny's (16 kHz, 80 mel bands)",
            path=path,
        )
    return opts


def load_musetalk(
    unet: str | os.PathLike[str], vae: str | os.PathLike[str], whisper: str | os.PathLike[str]
) -> MuseTalkNet:
    """Build :class:`~lipdub.models.musetalk.MuseTalkNet` from local files (strict keys).

    Args:
        unet: The v1.5 ``unet.pth`` (``musetalk.json`` beside it).
        vae: The ``sd-vae-ft-mse`` folder (``config.json``,
            ``diffusion_pytorch_model.safetensors``).
        whisper: The ``whisper-tiny`` folder (``config.json``, ``model.safetensors``,
            ``preprocessor_config.json``).

    Raises:
        BackendNotInstalled: the ``hd`` extra is missing.
        CheckpointError: a file is missing, unreadable or holds another network.
    """
    require_modules("musetalk", "MuseTalk", "diffusers", "transformers", extra="hd")
    unet_path, vae_dir, whisper_dir = Path(unet), Path(vae), Path(whisper)
    encoder, extractor = _load_whisper(whisper_dir)
    return MuseTalkNet(_load_unet(unet_path), _load_vae(vae_dir), encoder, extractor)


# --------------------------------------------------------------------------- the syncer
class MuseTalkSyncer(LipSyncer):
    """Lip-sync with MuseTalk 1.5 (256x256 faces).

    Usually built with :meth:`from_pretrained`; the constructor takes a ready net.

    Args:
        net: The networks (weights loaded).
        device: Torch device; None picks ``cuda`` if available, else ``cpu``.
        precision: ``"auto"`` (default), ``"fp32"``, ``"bf16"`` (CPU) or ``"fp16"`` (CUDA).
        weights: What the weights are, for :meth:`settings`: a name -> sha256 mapping.
        latent_cache: Crops whose latents are kept (avatar reuse; 0 turns it off).
        cache_dir: Folder of the ``"auto"`` measurements (default ``$LIPDUB_CACHE``).
        min_psnr_db: The fidelity bound of ``"auto"``.

    Raises:
        InputError: an unknown precision, fp16 on the CPU or bf16 on CUDA.
    """

    name: ClassVar[str] = "musetalk"
    precisions: ClassVar[dict[str, tuple[str, ...]]] = {
        "cpu": ("fp32", "bf16"),
        "cuda": ("fp32", "fp16"),
    }
    precision_choices: ClassVar[tuple[str, ...]] = PRECISIONS
    precision_owner: ClassVar[str] = "MuseTalk"
    auto_batch: ClassVar[int] = AUTO_BATCH
    auto_batches: ClassVar[int] = AUTO_BATCHES
    auto_recipe: ClassVar[str] = _RECIPE
    face_size: ClassVar[int] = FACE_SIZE
    mel_bands: ClassVar[int] = PROMPT_TOKENS
    mel_window: ClassVar[int] = WHISPER_DIM
    feature_rate_hz: ClassVar[int] = STATE_RATE_HZ

    def __init__(
        self,
        net: MuseTalkNet,
        *,
        device: str | torch.device | None = None,
        precision: str | None = None,
        weights: Mapping[str, str | None] | None = None,
        latent_cache: int = DEFAULT_LATENT_CACHE,
        cache_dir: str | os.PathLike[str] | None = None,
        min_psnr_db: float = FIDELITY_MIN_PSNR_DB,
    ) -> None:
        self.net = net
        self._device = torch.device(parse_device(device))
        request = self.parse_precision(None if precision is None else str(precision))
        self.check_precision(request, str(self._device))
        if int(latent_cache) < 0:
            raise InputError(f"latent_cache must be >= 0 crops, got {latent_cache}")
        self._weights = dict(weights or {})
        self._cache_limit = int(latent_cache)
        self._latents: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._threads: int | None = None
        self._lock = self._precision_lock
        #: Crops encoded by the VAE so far (each: two encodings, masked and whole).
        self.crops_encoded = 0
        for module in (net.unet, net.vae, net.whisper):
            module.to(self._device)
        self._init_precision(request, str(self._device), bound_db=min_psnr_db, cache_dir=cache_dir)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "musetalk",
        *,
        vae: str | os.PathLike[str] = "musetalk-vae",
        whisper: str | os.PathLike[str] = "musetalk-whisper",
        weights_dir: str | os.PathLike[str] | None = None,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        device: str | None = None,
        precision: str | None = None,
        latent_cache: int = DEFAULT_LATENT_CACHE,
        min_psnr_db: float = FIDELITY_MIN_PSNR_DB,
    ) -> MuseTalkSyncer:
        """Load the three networks by catalogue name or from local copies.

        Args:
            name_or_path: The UNet: ``"musetalk"`` (the catalogue) or a local
                ``unet.pth`` with ``musetalk.json`` beside it.
            vae: ``"musetalk-vae"`` or a local ``sd-vae-ft-mse`` folder.
            whisper: ``"musetalk-whisper"`` or a local ``whisper-tiny`` folder.
            weights_dir: A folder in the original's ``models/`` layout
                (``musetalkV15/unet.pth``, ``sd-vae/``, ``whisper/``); overrides the
                three names above.
            revision: Hub revision of the UNet's repo instead of the catalogue's.
            cache_dir: Hugging Face cache folder.
            local_files_only: Never touch the network.
            token: Hugging Face token.
            device: Torch device (default: CUDA if available).
            precision: See the class.
            latent_cache: See the class.
            min_psnr_db: See the class.

        Raises:
            BackendNotInstalled: the ``hd`` extra is missing.
            ModelNotFoundError: not downloaded and offline, or a path does not exist.
            CheckpointError: a file holds something else.
        """
        require_modules("musetalk", "MuseTalk", "diffusers", "transformers", extra="hd")
        hub: dict[str, Any] = {"cache_dir": cache_dir, "local_files_only": local_files_only}
        hub["token"] = token
        if weights_dir is not None:
            root = Path(weights_dir)
            unet_path = root / "musetalkV15" / "unet.pth"
            vae_dir, whisper_dir = root / "sd-vae", root / "whisper"
            for p in (unet_path, vae_dir, whisper_dir):
                if not p.exists():
                    raise InputError(
                        f"weights_dir has no {p.relative_to(root)}",
                        path=root,
                        hint="lay it out as MuseTalk's models/: musetalkV15/unet.pth, "
                        "sd-vae/, whisper/",
                    )
        else:
            unet_path = resolve_weights(name_or_path, revision=revision, **hub)
            vae_dir = _folder(resolve_weights(vae, **hub))
            whisper_dir = _folder(resolve_weights(whisper, **hub))
        net = load_musetalk(unet_path, vae_dir, whisper_dir)
        identity = {
            "unet": file_sha256(unet_path, remember=True),
            "vae": file_sha256(vae_dir / "diffusion_pytorch_model.safetensors", remember=True),
            "whisper": file_sha256(whisper_dir / "model.safetensors", remember=True),
        }
        logger.info("loaded MuseTalk 1.5 weights %s", identity)
        return cls(
            net,
            device=device,
            precision=precision,
            weights=identity,
            latent_cache=latent_cache,
            min_psnr_db=min_psnr_db,
        )

    # ------------------------------------------------------------------ identity
    def settings(self) -> dict[str, Any]:
        """The model, the sha256 of each network's weights and the precision in use
        (``"auto"`` resolved)."""
        return {
            "model": "musetalk-1.5",
            "weights": dict(self._weights),
            "precision": self.precision,
        }

    @property
    def device(self) -> str:
        """The torch device the model runs on."""
        return str(self._device)

    @property
    def requested_precision(self) -> str:
        """The precision asked for."""
        return self._precision_request

    @property
    def precision(self) -> str:
        """The precision in use (``"auto"`` resolved, measured now if need be)."""
        return self._current_precision()

    def auto_weights_id(self) -> str:
        """The digest of the three networks' sha256."""
        return settings_key(self._weights)

    def precision_runner(self, mode: str, threads: int) -> Runner:
        """The whole syncer in ``mode``, its latents not kept."""
        return lambda faces, windows: self._run(faces, windows, mode, cache=False)

    def suggested_batch_size(self) -> int:
        """32 on CUDA, 4 on the CPU (a UNet batch of 4 is about 10 s on 2 cores)."""
        return 32 if self._device.type == "cuda" else 4

    # ------------------------------------------------------------------ audio
    def audio_features(self, audio: AudioClip) -> npt.NDArray[np.float32]:
        """Whisper-tiny's stacked hidden states of the audio at 16 kHz: ``(5, 384, T)``,
        50 rows a second (time last), computed in float32 whatever the precision.

        Raises:
            InputError: The audio is empty.
        """
        clip = audio.resample(16000)
        if clip.num_samples == 0:
            raise InputError("audio: the driving audio is empty", hint="pass speech audio")
        samples = np.ascontiguousarray(clip.samples, dtype=np.float32)
        # float32 in every precision: the encoder is tiny, and the features feed each mode
        return self.net.whisper_states(samples)

    def audio_window(
        self, features: npt.NDArray[np.float32], index: int, fps: Fraction | float
    ) -> npt.NDArray[np.float32]:
        """The UNet's 50 audio tokens for frame ``index``: ``(50, 384)``."""
        return audio_prompt(features, index, fps)

    # ------------------------------------------------------------------ runtime
    def _autocast(self, mode: str) -> contextlib.AbstractContextManager[Any]:
        if mode in _DTYPES:
            return torch.autocast(device_type=self._device.type, dtype=_DTYPES[mode])
        return contextlib.nullcontext()

    def prepare(self, on_event: EventCallback | None = None, threads: int | None = None) -> None:
        """Resolve ``"auto"`` (read the cached measurement or measure it, stage
        ``"precision"``: a few minutes on 2 CPU cores, once per machine and weights)."""
        self.resolve_precision(on_event, threads)

    @contextlib.contextmanager
    def running(self, threads: int | None = None) -> Iterator[None]:
        """On the CPU, give the model ``threads`` threads for the run, then restore."""
        self.prepare(threads=threads)
        if self._device.type != "cpu":
            yield
            return
        count = threads or default_threads()
        saved = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(saved)

    # ------------------------------------------------------------------ inference
    def latents(self, faces: npt.NDArray[np.uint8], *, cache: bool = True) -> torch.Tensor:
        """The UNet's face input of each crop, ``(B, 8, 32, 32)``: kept by the crop's
        bytes (and precision), so a crop seen before is not encoded again."""
        return self._latents_in(faces, self.precision, cache=cache)

    def _latents_in(
        self, faces: npt.NDArray[np.uint8], mode: str, *, cache: bool = True
    ) -> torch.Tensor:
        keys = [array_key(f) + mode for f in faces]
        todo = [i for i, k in enumerate(keys) if not cache or k not in self._latents]
        found: dict[int, torch.Tensor] = {}
        if todo:
            with self._autocast(mode):
                fresh = self.net.encode_faces(np.ascontiguousarray(faces[todo]))
            self.crops_encoded += len(todo)
            for j, i in enumerate(todo):
                found[i] = fresh[j]
                if cache and self._cache_limit:
                    self._latents[keys[i]] = fresh[j]
                    while len(self._latents) > self._cache_limit:
                        self._latents.popitem(last=False)
        rows = []
        for i, k in enumerate(keys):
            if i not in found:
                self._latents.move_to_end(k)
                found[i] = self._latents[k]
            rows.append(found[i])
        return torch.stack(rows)

    def _run(
        self,
        faces: npt.NDArray[np.uint8],
        windows: npt.NDArray[np.float32],
        mode: str,
        *,
        cache: bool = True,
    ) -> npt.NDArray[np.uint8]:
        lat = self._latents_in(faces, mode, cache=cache)
        with self._autocast(mode):
            new = self.net.generate(lat, self.net.prompts(windows))
            return self.net.decode(new)

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        """Redraw the mouths of a batch of crops.

        Args:
            faces: ``(B, 256, 256, 3)`` uint8 BGR crops.
            mels: ``(B, 50, 384)`` float32 audio windows (from :meth:`audio_window`).

        Returns:
            ``(B, 256, 256, 3)`` uint8 BGR decoded faces.

        Raises:
            InputError: wrong shapes or dtypes, or different batch sizes.
        """
        f, w = np.asarray(faces), np.asarray(mels)
        s = FACE_SIZE
        if f.ndim != 4 or f.shape[1:] != (s, s, 3) or f.dtype != np.uint8:
            raise InputError(f"faces must be (B, {s}, {s}, 3) uint8 BGR, got {f.shape} {f.dtype}")
        if w.ndim != 3 or w.shape[1:] != (PROMPT_TOKENS, WHISPER_DIM):
            raise InputError(
                f"audio windows must be (B, {PROMPT_TOKENS}, {WHISPER_DIM}), got {w.shape}"
            )
        if len(f) != len(w):
            raise InputError(f"{len(f)} faces but {len(w)} audio windows")
        if len(f) == 0:
            return np.zeros((0, s, s, 3), np.uint8)
        with self._lock:
            return self._run(f, w.astype(np.float32, copy=False), self.precision)

    def __repr__(self) -> str:
        mode = self._precision_mode or self._precision_request
        return f"MuseTalkSyncer(device={self.device!r}, precision={mode!r})"


def _folder(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _resize(face: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A calibration crop at MuseTalk's size (benchmarks/bench_musetalk.py)."""
    import cv2

    size = (FACE_SIZE, FACE_SIZE)
    out: npt.NDArray[np.uint8] = np.asarray(
        cv2.resize(face, size, interpolation=cv2.INTER_CUBIC), dtype=np.uint8
    )
    return out
