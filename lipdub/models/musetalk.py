"""MuseTalk 1.5's networks and the arithmetic between them (no file I/O here).

MuseTalk inpaints the lower half of a 256x256 face in the latent space of Stable
Diffusion's VAE (``stabilityai/sd-vae-ft-mse``), conditioned on the hidden states of
the Whisper-tiny encoder, with one UNet pass at timestep 0 (no diffusion loop). The
networks are ``diffusers``' ``UNet2DConditionModel`` and ``AutoencoderKL`` and
``transformers``' ``WhisperEncoder`` (the ``hd`` extra); this module holds what runs
between them, as the original inference does it:

* audio: 16 kHz, cut into 30 s segments, Whisper's log-mel features of each (padded
  to 3000 frames), every hidden state of the encoder (embeddings, layers 1-3 and the
  final layer norm) stacked: ``(5, 384)`` per 20 ms row (:meth:`MuseTalkNet.whisper_states`);
* per video frame, 10 rows around it (2 frames' worth before, 2 after; zero beyond the
  audio) flattened time-major to 50 tokens of 384 (:func:`audio_prompt`), plus a
  sinusoidal positional encoding (:func:`positional_encoding`);
* face: RGB in [-1, 1]; a copy with rows 128-255 set to black *before* the
  normalisation; both encoded (the posterior's mode) and scaled by 0.18215, masked
  first: an 8-channel ``(8, 32, 32)`` latent (:meth:`MuseTalkNet.encode_faces`);
* the UNet's output at timestep 0 is the new latent; decoded, ``(x / 2 + 0.5)`` clipped
  to [0, 1], times 255, rounded half to even, BGR (:meth:`MuseTalkNet.decode`).

Example:
    >>> import numpy as np
    >>> pe = positional_encoding(50, 384)
    >>> pe.shape, float(pe[0, 1]), float(pe[0, 0])
    ((50, 384), 1.0, 0.0)
    >>> states = np.ones((5, 384, 50), np.float32)  # 1 s of audio: 50 rows
    >>> audio_prompt(states, 0, 25).shape
    (50, 384)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

__all__ = [
    "FACE_SIZE",
    "LATENT_SCALE",
    "PROMPT_TOKENS",
    "STATE_RATE_HZ",
    "WHISPER_DIM",
    "WHISPER_LAYERS",
    "MuseTalkNet",
    "audio_prompt",
    "face_inputs",
    "positional_encoding",
]

#: Side of the square face crop the model works on.
FACE_SIZE = 256
#: Whisper-tiny's width, and the number of hidden states stacked per row.
WHISPER_DIM, WHISPER_LAYERS = 384, 5
#: Rows of encoder states per second of audio (one per 20 ms).
STATE_RATE_HZ = 50
#: Video frames of context on each side of a frame (the original's audio padding 2/2).
CONTEXT_FRAMES = 2
#: Rows of states per frame: 2 x (left + right + 1).
WINDOW_ROWS = 2 * (2 * CONTEXT_FRAMES + 1)
#: Tokens of the UNet's cross-attention input per frame (rows x layers).
PROMPT_TOKENS = WINDOW_ROWS * WHISPER_LAYERS
#: Samples of one Whisper segment (30 s at 16 kHz).
SEGMENT_SAMPLES = 30 * 16000
#: Stable Diffusion's latent scaling (sd-vae-ft-mse has no other in its config).
LATENT_SCALE = 0.18215


def positional_encoding(positions: int, dim: int) -> npt.NDArray[np.float32]:
    """The sinusoidal encoding added to the audio tokens: ``(positions, dim)`` float32,
    sine on even channels and cosine on odd ones (computed in float32 like the original).
    """
    pos = torch.arange(0, positions, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
    pe = torch.zeros(positions, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe.numpy()


def audio_prompt(
    states: npt.NDArray[np.float32], index: int, fps: Fraction | float
) -> npt.NDArray[np.float32]:
    """The UNet's audio tokens for video frame ``index`` (without the positional encoding).

    Args:
        states: ``(5, 384, T)`` stacked encoder states (time last), 50 rows a second.
        index: The video frame.
        fps: Video frame rate.

    Returns:
        ``(50, 384)`` float32: rows ``floor(index * 50 / fps) - pad`` onward (10 rows,
        ``pad = 2 * ceil(50 / fps)``), zeros where they fall outside the audio, each row
        its 5 layers, time-major.
    """
    f = Fraction(fps).limit_denominator(1_000_000)
    per_frame = Fraction(STATE_RATE_HZ) / f
    pad_left = math.ceil(per_frame) * CONTEXT_FRAMES
    start = math.floor(index * per_frame) - pad_left
    total = states.shape[-1]
    out = np.zeros((WINDOW_ROWS, WHISPER_LAYERS, WHISPER_DIM), np.float32)
    lo, hi = max(start, 0), min(start + WINDOW_ROWS, total)
    if hi > lo:
        out[lo - start : hi - start] = np.moveaxis(states[:, :, lo:hi], -1, 0)
    return out.reshape(PROMPT_TOKENS, WHISPER_DIM)


def face_inputs(faces: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], ...]:
    """The VAE's two inputs of ``(B, 256, 256, 3)`` BGR crops: ``(masked, whole)``, each
    ``(B, 3, 256, 256)`` RGB in [-1, 1]; the masked copy's rows 128-255 are -1."""
    rgb = np.ascontiguousarray(faces[..., ::-1].transpose(0, 3, 1, 2))
    unit = (rgb / 255.0).astype(np.float32)  # the division in float64, as the original
    masked = unit.copy()
    masked[:, :, FACE_SIZE // 2 :, :] = 0.0
    return (masked - 0.5) / 0.5, (unit - 0.5) / 0.5


class MuseTalkNet:
    """The three networks of MuseTalk 1.5 and the steps between them.

    The networks stay float32; reduced precisions run under ``torch.autocast`` around
    these calls. Outputs are float32 on the CPU (latents) or uint8 (faces).

    Args:
        unet: A diffusers ``UNet2DConditionModel`` (``musetalk.json``).
        vae: A diffusers ``AutoencoderKL`` (sd-vae-ft-mse).
        whisper: A transformers ``WhisperEncoder`` (whisper-tiny).
        feature_extractor: A transformers ``WhisperFeatureExtractor``.
    """

    def __init__(self, unet: Any, vae: Any, whisper: Any, feature_extractor: Any) -> None:
        self.unet = unet.eval()
        self.vae = vae.eval()
        self.whisper = whisper.eval()
        self.feature_extractor = feature_extractor
        self.scale = float(getattr(vae.config, "scaling_factor", LATENT_SCALE) or LATENT_SCALE)
        self._pe: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ audio
    def whisper_features(self, samples: npt.NDArray[np.float32]) -> list[torch.Tensor]:
        """Log-mel features of 16 kHz ``samples``, one ``(1, 80, 3000)`` per 30 s segment."""
        out = []
        for start in range(0, max(len(samples), 1), SEGMENT_SAMPLES):
            seg = samples[start : start + SEGMENT_SAMPLES]
            feats = self.feature_extractor(seg, sampling_rate=16000, return_tensors="pt")
            out.append(feats.input_features.float())
        return out

    def whisper_states(
        self, samples: npt.NDArray[np.float32], features: list[torch.Tensor] | None = None
    ) -> npt.NDArray[np.float32]:
        """Every hidden state of the encoder for 16 kHz ``samples``: ``(5, 384, T)``
        float32, ``T = floor(len / 16000 * 50)`` (time last)."""
        feats = self.whisper_features(samples) if features is None else features
        dev = next(self.whisper.parameters()).device
        parts = []
        with torch.inference_mode():
            for f in feats:
                hidden = self.whisper(f.to(dev), output_hidden_states=True).hidden_states
                parts.append(torch.stack(list(hidden), dim=2)[0].float().cpu())
        stacked = torch.cat(parts, dim=0)  # (rows, 5, 384)
        rows = math.floor(len(samples) / 16000 * STATE_RATE_HZ)
        result: npt.NDArray[np.float32] = stacked[:rows].permute(1, 2, 0).contiguous().numpy()
        return result

    def prompts(self, windows: npt.NDArray[np.float32]) -> torch.Tensor:
        """``(B, 50, 384)`` audio windows plus the positional encoding, float32 on the
        UNet's device."""
        dev = next(self.unet.parameters()).device
        if str(dev) not in self._pe:
            pe = torch.from_numpy(positional_encoding(PROMPT_TOKENS, WHISPER_DIM))
            self._pe[str(dev)] = pe.to(dev)
        x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(dev)
        return x + self._pe[str(dev)]

    # ------------------------------------------------------------------ faces
    def encode_faces(self, faces: npt.NDArray[np.uint8]) -> torch.Tensor:
        """The UNet's face input of ``(B, 256, 256, 3)`` BGR crops: ``(B, 8, 32, 32)``
        ``[masked | whole]`` latents, scaled (float32)."""
        masked, whole = face_inputs(faces)
        dev = next(self.vae.parameters()).device
        x = torch.from_numpy(np.concatenate([masked, whole])).to(dev)
        with torch.inference_mode():
            lat = self.vae.encode(x).latent_dist.mode().float() * self.scale
        n = len(faces)
        return torch.cat([lat[:n], lat[n:]], dim=1).cpu()

    def generate(self, latents: torch.Tensor, prompts: torch.Tensor) -> torch.Tensor:
        """One UNet pass at timestep 0: the new ``(B, 4, 32, 32)`` latents (float32)."""
        dev = next(self.unet.parameters()).device
        t = torch.tensor([0], device=dev)
        with torch.inference_mode():
            out: Any = self.unet(latents.to(dev), t, encoder_hidden_states=prompts.to(dev))
        result: torch.Tensor = out.sample.float()
        return result

    def decode(self, latents: torch.Tensor) -> npt.NDArray[np.uint8]:
        """Decoded faces: ``(B, 256, 256, 3)`` uint8 BGR."""
        dev = next(self.vae.parameters()).device
        with torch.inference_mode():
            img = self.vae.decode((latents / self.scale).to(dev)).sample
            img = (img.float() / 2 + 0.5).clamp(0, 1)
        arr = img.permute(0, 2, 3, 1).cpu().numpy()
        faces: npt.NDArray[np.uint8] = (arr * 255).round().astype(np.uint8)[..., ::-1]
        return np.ascontiguousarray(faces)
