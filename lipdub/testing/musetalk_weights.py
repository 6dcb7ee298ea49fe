"""Deterministic stand-in weights for MuseTalk 1.5, in the layout of the published files.

The parity kit (``shared/reference/musetalk``) was made by running the original MuseTalk
code on weights that follow one rule: every tensor is a pure function of its state-dict
key (diffusers / transformers names) and its shape. :func:`rule_tensor` is that rule;
:func:`write_musetalk_test_weights` writes all three networks with it, laid out as
:mod:`lipdub.lipsync.musetalk` reads the real downloads:

* ``musetalkV15/unet.pth`` (a plain ``torch.save`` state dict) and ``musetalkV15/musetalk.json``
* ``sd-vae/config.json`` and ``sd-vae/diffusion_pytorch_model.safetensors``
* ``whisper/config.json``, ``whisper/preprocessor_config.json`` and ``whisper/model.safetensors``
  (the encoder's tensors under ``model.encoder.``, as in ``openai/whisper-tiny``)

Building costs about 45 s and 4 GiB of memory on 2 cores (the UNet has 850 M
parameters), and 3.6 GB of disk: build once and reuse (:func:`cached_musetalk_test_weights`).
Needs the ``hd`` extra (``diffusers``, ``transformers``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lipdub._lock import exclusive_lock

__all__ = [
    "MUSETALK_TEST_LAYOUT",
    "UNET_CONFIG",
    "VAE_CONFIG",
    "WHISPER_CONFIG",
    "WHISPER_PREPROCESSOR",
    "cached_musetalk_test_weights",
    "rule_tensor",
    "write_musetalk_test_weights",
]

logger = logging.getLogger(__name__)

#: Bump when the files written change; names the cache folder.
MUSETALK_TEST_LAYOUT = "musetalk-rule-v1"

#: MuseTalk 1.5's ``musetalk.json`` (a diffusers UNet2DConditionModel).
UNET_CONFIG: dict[str, Any] = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 8,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}

#: ``stabilityai/sd-vae-ft-mse``'s architecture (scaling factor: diffusers' 0.18215).
VAE_CONFIG: dict[str, Any] = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}

#: ``openai/whisper-tiny``'s architecture.
WHISPER_CONFIG: dict[str, Any] = {
    "model_type": "whisper",
    "architectures": ["WhisperForConditionalGeneration"],
    "activation_dropout": 0.0,
    "activation_function": "gelu",
    "attention_dropout": 0.0,
    "d_model": 384,
    "decoder_attention_heads": 6,
    "decoder_ffn_dim": 1536,
    "decoder_layers": 4,
    "dropout": 0.0,
    "encoder_attention_heads": 6,
    "encoder_ffn_dim": 1536,
    "encoder_layerdrop": 0.0,
    "encoder_layers": 4,
    "max_source_positions": 1500,
    "max_target_positions": 448,
    "num_hidden_layers": 4,
    "num_mel_bins": 80,
    "scale_embedding": False,
    "vocab_size": 51865,
}

#: ``openai/whisper-tiny``'s feature extractor settings.
WHISPER_PREPROCESSOR: dict[str, Any] = {
    "feature_extractor_type": "WhisperFeatureExtractor",
    "chunk_length": 30,
    "feature_size": 80,
    "hop_length": 160,
    "n_fft": 400,
    "n_samples": 480000,
    "nb_max_frames": 3000,
    "padding_side": "right",
    "padding_value": 0.0,
    "return_attention_mask": False,
    "sampling_rate": 16000,
}


def rule_tensor(key: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """The kit's weight for state-dict ``key`` of ``shape`` (float32).

    Seeded by the CRC-32 of the key: matrices and kernels are normal / sqrt(fan-in),
    1-d weights (norm gains) 1 +- 0.1 uniform, biases 0.02 * normal; the VAE's
    ``quant_conv.bias`` has its log-variance half at -100 (a deterministic posterior).

    Example:
        >>> rule_tensor("a.bias", (3,)).dtype
        dtype('float32')
        >>> bool((rule_tensor("quant_conv.bias", (8,))[4:] == -100).all())
        True
    """
    gen = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
    if len(shape) >= 2:
        values = gen.standard_normal(shape) / np.sqrt(float(np.prod(shape[1:])))
    elif len(shape) == 1 and key.endswith("weight"):
        values = 1.0 + 0.1 * (2.0 * gen.random(shape) - 1.0)
    elif len(shape) == 1 and key.endswith("bias"):
        values = 0.02 * gen.standard_normal(shape)
        if key == "quant_conv.bias":
            values[shape[0] // 2 :] = -100.0
    else:
        raise ValueError(f"the weights rule has no case for {key!r} of shape {shape}")
    result: npt.NDArray[np.float32] = values.astype(np.float32)
    return result


def _shapes(kind: str) -> Iterator[tuple[str, tuple[int, ...]]]:
    """(key, shape) of each tensor of the reference network ``kind``, built on 'meta'."""
    import torch

    with torch.device("meta"):
        module: Any
        if kind == "unet":
            from diffusers import UNet2DConditionModel

            module = UNet2DConditionModel.from_config(UNET_CONFIG)  # type: ignore[no-untyped-call]
        elif kind == "vae":
            from diffusers import AutoencoderKL

            module = AutoencoderKL.from_config(VAE_CONFIG)  # type: ignore[no-untyped-call]
        else:
            from transformers import WhisperConfig, WhisperModel

            module = WhisperModel(WhisperConfig(**WHISPER_CONFIG))
    for key, value in module.state_dict().items():
        yield key, tuple(int(s) for s in value.shape)


def _tensors(kind: str, keep: str = "") -> dict[str, Any]:
    import torch

    return {
        key: torch.from_numpy(rule_tensor(key, shape))
        for key, shape in _shapes(kind)
        if key.startswith(keep)
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def write_musetalk_test_weights(folder: str | os.PathLike[str]) -> Path:
    """Write the rule's weights for MuseTalk 1.5 into ``folder`` (the layout above).

    Returns:
        ``folder``, holding ``musetalkV15/``, ``sd-vae/`` and ``whisper/``.
    """
    import torch
    from safetensors.torch import save_file

    root = Path(folder)
    for sub in ("musetalkV15", "sd-vae", "whisper"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    _write_json(root / "musetalkV15" / "musetalk.json", UNET_CONFIG)
    _write_json(root / "sd-vae" / "config.json", VAE_CONFIG)
    _write_json(root / "whisper" / "config.json", WHISPER_CONFIG)
    _write_json(root / "whisper" / "preprocessor_config.json", WHISPER_PREPROCESSOR)
    vae = _tensors("vae")
    save_file(vae, os.fspath(root / "sd-vae" / "diffusion_pytorch_model.safetensors"))
    del vae
    enc = {"model." + k: v for k, v in _tensors("whisper", keep="encoder.").items()}
    save_file(enc, os.fspath(root / "whisper" / "model.safetensors"))
    del enc
    torch.save(_tensors("unet"), os.fspath(root / "musetalkV15" / "unet.pth"))
    return root


def cached_musetalk_test_weights(cache_root: str | os.PathLike[str]) -> Path:
    """The rule's weights under ``cache_root``, built on first use (one build at a time,
    across processes: a file lock), reused after.

    Example (not run: about 45 s):
        >>> cached_musetalk_test_weights("/tmp/mt-cache")  # doctest: +SKIP
        PosixPath('/tmp/mt-cache/musetalk-rule-v1')
    """
    root = Path(cache_root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / MUSETALK_TEST_LAYOUT
    done = final / "COMPLETE"
    if done.is_file():
        return final
    with exclusive_lock(root / (MUSETALK_TEST_LAYOUT + ".lock")):
        if done.is_file():
            return final
        partial = root / (MUSETALK_TEST_LAYOUT + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        logger.warning("building the MuseTalk test weights in %s (about 45 s, once)", final)
        write_musetalk_test_weights(partial)
        (partial / "COMPLETE").write_text(MUSETALK_TEST_LAYOUT + "\n", encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
    return final
