"""Music-grade separation with Hybrid Transformer Demucs (``pip install "lipdub[separate]"``).

:class:`DemucsSeparator` runs a Demucs model (``htdemucs`` by default, fetched on first
use through the weights catalogue and verified like every other model) and returns its
``vocals`` stem as the voice and the sum of the other stems as the background.

Long audio is processed segment by segment (the model's own training length, with
``overlap`` between segments and the same triangular cross-fade as
``demucs.apply.apply_model``); only one segment of model-rate audio is held at a time,
and the input is resampled to the model's rate window by window and the stems back to
the clip's rate as they are finished, so the working memory does not grow with the
audio's length (the input and output clips themselves, at the clip's rate, do).

:func:`iter_stems` is the streaming core; it gives the same stems as
``apply_model(model, mix, shifts=0, split=True, overlap=overlap)``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lipdub._deps import parse_device, require_modules
from lipdub._hashing import file_sha256
from lipdub.audio.resample import StreamResampler, resample_window
from lipdub.errors import CheckpointError, InputError
from lipdub.events import EventCallback, Progress, emit
from lipdub.separate.base import Separation, Separator
from lipdub.types import AudioClip

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MODEL",
    "DemucsSeparator",
    "StreamResampler",
    "iter_stems",
    "load_demucs_file",
]

log = logging.getLogger(__name__)

#: The catalogue name of the default model.
DEFAULT_MODEL = "htdemucs"


# ------------------------------------------------------------------ streaming core
def _triangle(length: int, power: float, device: Any) -> torch.Tensor:
    import torch

    half = length // 2
    w = torch.cat(
        [
            torch.arange(1, half + 1, device=device),
            torch.arange(length - half, 0, -1, device=device),
        ]
    )
    return (w / w.max()) ** power


def iter_stems(
    model: Any,
    read: Callable[[int, int], torch.Tensor],
    length: int,
    *,
    overlap: float = 0.25,
    segment_s: float | None = None,
    transition_power: float = 1.0,
    device: Any = None,
    on_segment: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Run one Demucs model over ``length`` samples, yielding finished stems in order.

    Args:
        model: A Demucs model (``HTDemucs``, ``HDemucs``...; not a bag).
        read: ``read(start, stop)`` returns the mix ``(channels, stop - start)`` at the
            model's rate, zeros outside ``[0, length)``.
        length: Samples of the mix at the model's rate.
        overlap: Fraction of each segment shared with the next.
        segment_s: Segment length in seconds (default: the model's).
        transition_power: Sharpness of the cross-fade (as in ``apply_model``).
        device: Where the model runs (the stems come back on the same device).
        on_segment: Called with ``(done, total)`` segments after each one.

    Yields:
        ``(start, stems)``: ``stems`` is ``(sources, channels, n)`` for samples
        ``[start, start + n)``; the blocks tile ``[0, length)``.
    """
    import torch

    segment = float(model.segment if segment_s is None else segment_s)
    seg_len = int(model.samplerate * segment)
    stride = int((1 - overlap) * seg_len)
    if seg_len <= 0 or stride <= 0:
        raise InputError(f"segment ({segment} s) and overlap ({overlap}) leave no stride")
    weight = _triangle(seg_len, transition_power, device)
    n_src = len(model.sources)
    offsets = range(0, length, stride)
    acc: torch.Tensor | None = None
    wsum = torch.zeros(seg_len, device=device)
    for i, off in enumerate(offsets):
        n = min(seg_len, length - off)
        valid = model.valid_length(n) if hasattr(model, "valid_length") else n
        start = off - (valid - n) // 2
        x = read(start, start + valid).to(device)
        with torch.no_grad():
            out = model(x[None])[0]
        trim = out.shape[-1] - n
        out = out[..., trim // 2 : out.shape[-1] - (trim - trim // 2)]
        if acc is None:
            acc = torch.zeros(n_src, out.shape[1], seg_len, device=device)
        acc[..., :n] += weight[:n] * out
        wsum[:n] += weight[:n]
        done = min(stride, length - off)
        yield off, acc[..., :done] / wsum[:done]
        acc = torch.cat([acc[..., stride:], torch.zeros_like(acc[..., :stride])], dim=-1)
        wsum = torch.cat([wsum[stride:], torch.zeros_like(wsum[:stride])])
        if on_segment is not None:
            on_segment(i + 1, len(offsets))


# ------------------------------------------------------------------ loading
def load_demucs_file(path: str | os.PathLike[str]) -> Any:
    """Load a Demucs model in its published safetensors format (class + args in metadata).

    Returns:
        The model (``HTDemucs``...), in eval mode.

    Raises:
        CheckpointError: the file is not a Demucs safetensors model.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"Demucs model file {p} does not exist")
    from demucs.hf import load_safetensors_model

    try:
        model = load_safetensors_model(p)
    except Exception as e:  # any parse failure means "not a Demucs file"
        raise CheckpointError(
            f"{p} is not a Demucs safetensors model ({type(e).__name__}: {e})",
            hint="pass a Demucs .safetensors file as published on the Hub (adefossez/HTDemucs)",
        ) from e
    model.eval()
    return model


# ------------------------------------------------------------------ the separator
class DemucsSeparator(Separator):
    """Voice and background with Hybrid Transformer Demucs.

    The voice is the ``vocals`` stem, the background the sum of the others (drums,
    bass, other...). Mono input is fed to the model as identical left and right
    channels and the stems are mixed back to mono at the input's rate. The mix is
    normalised by its mean and standard deviation before the model, as Demucs does.

    Args:
        model: A catalogue name (``"htdemucs"``, fetched on first use) or the path
            of a Demucs ``.safetensors`` file in the published format.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        overlap: Fraction of each segment shared with the next (0.25 as in Demucs).
        segment_s: Segment length in seconds (default: the model's training length).
        cache_dir: Hugging Face cache folder for the weights.
        local_files_only: Never download; use the cache only.
        verify: Check the downloaded file against the catalogue.

    Reproducible for a given torch thread count: no random shifts (``shifts=0``) and no
    other randomness, so the same audio, settings and threads give the same stems, byte
    for byte. torch's CPU kernels sum in an order that depends on the thread count, so
    1 and 2 threads may differ in the last bit of some 16-bit samples; a dub never
    remakes ``background.wav``/``vocals.wav`` while the separate stage's key (audio,
    settings, speech spans) holds, so a resumed or re-run dub reuses the recorded stems.

    Example:
        >>> DemucsSeparator(overlap=0.5).settings()["overlap"]
        0.5
    """

    name: ClassVar[str] = "demucs"
    isolates_voice: ClassVar[bool] = True

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: str | None = None,
        overlap: float = 0.25,
        segment_s: float | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        verify: bool = True,
    ) -> None:
        if not 0 <= overlap < 1:
            raise InputError(f"overlap must be in [0, 1), got {overlap}")
        if segment_s is not None and segment_s <= 0:
            raise InputError(f"segment_s must be > 0, got {segment_s}")
        self.model = os.fspath(model)
        self.device = device
        self.overlap = overlap
        self.segment_s = segment_s
        self.cache_dir = cache_dir
        self.local_files_only = local_files_only
        self.verify = verify
        self._model: Any = None
        self._lock = threading.Lock()
        self._identity: str | None = None

    def _is_path(self) -> bool:
        return self.model.endswith(".safetensors") or os.sep in self.model

    def settings(self) -> dict[str, Any]:
        """The model (catalogue name, or a local file's sha256), overlap and segment."""
        if self._is_path():
            if self._identity is None:
                self._identity = "sha256:" + file_sha256(Path(self.model))
            model = self._identity
        else:
            model = self.model
        return {"model": model, "overlap": self.overlap, "segment_s": self.segment_s}

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                require_modules(self.name, "the demucs separator", "demucs", extra="separate")
                if self._is_path():
                    path = Path(self.model)
                else:
                    from lipdub.hub.download import resolve_weights

                    path = resolve_weights(
                        self.model,
                        cache_dir=self.cache_dir,
                        local_files_only=self.local_files_only,
                        verify=self.verify,
                    )
                self._model = load_demucs_file(path).to(parse_device(self.device))
            return self._model

    def separate(
        self,
        audio: AudioClip,
        speech_spans: Sequence[tuple[float, float]] = (),
        *,
        on_event: EventCallback | None = None,
    ) -> Separation:
        """Return the vocals stem and the rest (``speech_spans`` are not needed)."""
        import torch

        model = self._load()
        rate = audio.sample_rate_hz
        x = audio.samples
        if x.size == 0:
            return Separation(audio, audio)
        srcs = list(model.sources)
        if "vocals" not in srcs:
            raise CheckpointError(
                f"Demucs model {self.model!r} has no 'vocals' source ({srcs})",
                hint="use a model trained with a vocals stem (htdemucs)",
            )
        v_i = srcs.index("vocals")
        rest = [k for k in range(len(srcs)) if k != v_i]
        mean = float(x.mean(dtype=np.float64))
        std = float(x.std(dtype=np.float64)) or 1.0
        norm = ((x - np.float32(mean)) / np.float32(std)).astype(np.float32, copy=False)
        channels = int(getattr(model, "audio_channels", 2))
        mrate = int(model.samplerate)
        length = -(-x.size * mrate // rate)

        def read(a: int, b: int) -> torch.Tensor:
            win = torch.from_numpy(resample_window(norm, rate, mrate, a, b))
            return win[None].expand(channels, -1).contiguous()

        def progress(done: int, total: int) -> None:
            emit(on_event, Progress("separate", done, total, "segments"))

        # only these (and the input) grow with the audio: float32 at the clip's rate
        voice = np.zeros(x.size, np.float32)
        background = np.zeros(x.size, np.float32)
        rs = StreamResampler(mrate, rate, length, 2)
        pos = 0
        blocks = iter_stems(
            model,
            read,
            length,
            overlap=self.overlap,
            segment_s=self.segment_s,
            device=next(model.parameters()).device,
            on_segment=progress,
        )
        for _, stems in blocks:
            mono = stems.mean(dim=1)  # (sources, n)
            pair = torch.stack([mono[v_i], mono[rest].sum(0)])
            out = rs.push(pair.cpu().numpy())
            voice[pos : pos + out.shape[1]] = out[0]
            background[pos : pos + out.shape[1]] = out[1]
            pos += out.shape[1]
        out = rs.finish()[:, : x.size - pos]
        voice[pos : pos + out.shape[1]] = out[0]
        background[pos : pos + out.shape[1]] = out[1]
        voice *= np.float32(std)
        background *= np.float32(std)
        background += np.float32(mean)
        return Separation(AudioClip(voice, rate), AudioClip(background, rate))
