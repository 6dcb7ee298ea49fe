"""Reading checkpoints safely and honestly.

``.pth``/``.pt`` files are read with ``torch.load(weights_only=True)`` (no code runs),
``.safetensors`` with safetensors. Before that, the first bytes are sniffed so that a
folder, a device such as ``/dev/null``, a named pipe, an empty file, an HTML or JSON
error page (with or without a byte-order mark) or a Git LFS pointer each get their own
message; after it, tensors holding NaN or infinity are rejected (they would only make
garbage). lipdub never suggests turning ``weights_only`` off: a checkpoint that needs
code to load is refused with a message saying what it pickles.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub._io import atomic_path, file_kind
from lipdub.errors import CheckpointError, InputError, ModelNotFoundError

if TYPE_CHECKING:
    import torch

__all__ = ["convert_weights", "describe_non_file", "load_state_dict"]

logger = logging.getLogger("lipdub.hub")

_SAFETENSORS_SUFFIXES = (".safetensors",)
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_HTML_STARTS = ("<!doctype", "<html", "<?xml", "<head", "<body", "<!--", "<meta", "<title")


def describe_non_file(path: Path) -> str | None:
    """What ``path`` is when it exists but is not a regular file (``"a folder"``,
    ``"a character device"`` such as ``/dev/null``, ``"a named pipe (FIFO)"``, ...);
    None for a regular file or a missing path (see :func:`lipdub._io.file_kind`).

    Example:
        >>> import tempfile, pathlib
        >>> describe_non_file(pathlib.Path(tempfile.mkdtemp()))
        'a folder'
    """
    kind = file_kind(path)
    return None if kind == "missing" or (kind or "").startswith("not accessible") else kind


def _as_text(head: bytes) -> str:
    """The first bytes as lower-case text without a byte-order mark (for sniffing)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="ignore").lstrip().lower()
    return head.decode("latin-1").lstrip().lower()


def _sniff(path: Path, what: str) -> bytes:
    kind = describe_non_file(path)
    if kind is not None:
        raise CheckpointError(
            f"{path} is {kind}, not a {what} weights file",
            path=path,
            hint="pass the checkpoint file itself (.pth, .pt or .safetensors)",
        )
    try:
        with path.open("rb") as f:
            head = f.read(512)
    except FileNotFoundError as e:
        raise ModelNotFoundError(f"{what} weights file does not exist", path=path) from e
    except OSError as e:
        raise CheckpointError(f"cannot read {what} weights: {e.strerror}", path=path) from e
    if not head:
        raise CheckpointError(
            f"the {what} weights file is empty", path=path, hint="delete it and download it again"
        )
    text = _as_text(head)
    if text.startswith(_HTML_STARTS):
        raise CheckpointError(
            f"this is an HTML page, not {what} weights (the download returned an error or "
            "login page)",
            path=path,
            hint="delete it and download the file again, e.g. with `lipdub weights download`",
        )
    if text.startswith(('{"error"', '{ "error"')):
        raise CheckpointError(
            f"this is a JSON error response, not {what} weights",
            path=path,
            hint="delete it and download the file again, e.g. with `lipdub weights download`",
        )
    if text.startswith("version https://git-lfs"):
        raise CheckpointError(
            f"this is a Git LFS pointer, not {what} weights (the repo was cloned without git-lfs)",
            path=path,
            hint="run `git lfs pull` or download the file with `lipdub weights download`",
        )
    return head


def _looks_like_safetensors(head: bytes) -> bool:
    return len(head) > 9 and head[8:10] in (b'{"', b"{ ")


_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def _torch_reason(e: BaseException) -> tuple[str, str]:
    """A short reason for a failed ``torch.load`` and the hint, never PyTorch's advice to
    turn ``weights_only`` off."""
    text = str(e).replace("\x1b[1m", "").replace("\x1b[0m", "")
    if "Weights only load failed" in text or "WeightsUnpickler" in text:
        m = _GLOBAL.search(text)
        what = f" (it pickles {m.group(1)})" if m else ""
        return (
            f"it holds Python objects that need code to load{what}, which lipdub refuses to run",
            "use a file holding only tensors: a state_dict .pth or a .safetensors file",
        )
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if "weights_only" not in ln and "trusted source" not in ln]
    first = keep[0] if keep else ""
    return (
        f"{type(e).__name__}: {first}".rstrip(": "),
        "delete the file and download it again (`lipdub weights download NAME`)",
    )


def _read_any(path: Path, what: str) -> Any:
    head = _sniff(path, what)
    if path.suffix.lower() in _SAFETENSORS_SUFFIXES or _looks_like_safetensors(head):
        try:
            from safetensors.torch import load_file

            return load_file(os.fspath(path), device="cpu")
        except Exception as e:  # safetensors raises SafetensorError / OSError variants
            raise CheckpointError(
                f"cannot read {what} weights as safetensors (truncated or corrupt?): {e}",
                path=path,
                hint="delete the file and convert or download it again",
            ) from e
    import torch

    try:
        return torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as e:  # zip, pickle, EOF and weights_only errors all land here
        reason, hint = _torch_reason(e)
        raise CheckpointError(
            f"cannot read {what} weights as a PyTorch checkpoint (truncated, corrupt, or not "
            f"a checkpoint): {reason}",
            path=path,
            hint=hint,
        ) from None


def _guess_model(keys: Collection[str]) -> str | None:
    if any(k.startswith("conv1_1.") for k in keys) and any("mbox" in k for k in keys):
        return "an S3FD face-detector checkpoint?"
    if any(k.startswith("face_decoder_blocks.") for k in keys):
        return "a Wav2Lip generator checkpoint?"
    if any(k.startswith("face_encoder.") for k in keys) and any(
        k.startswith("audio_encoder.") for k in keys
    ):
        return "a SyncNet lip-sync-expert checkpoint?"
    if any(k.startswith("face_encoder_blocks.") for k in keys):
        return "part of a Wav2Lip checkpoint, or its visual-quality discriminator?"
    return None


def _describe_keys(keys: Sequence[str]) -> str:
    shown = ", ".join(repr(k) for k in keys[:2])
    guess = _guess_model(keys)
    text = f"{len(keys)} keys like {shown}" if keys else "no tensors"
    return f"{text} ({guess})" if guess else text


def _check_finite(path: Path, state: Mapping[str, torch.Tensor], what: str) -> None:
    import torch

    bad: list[str] = []
    first_count = 0
    for key, t in state.items():
        if t.is_floating_point() or t.is_complex():
            finite = torch.isfinite(t)
            if not bool(finite.all()):
                if not bad:
                    first_count = int((~finite).sum())
                bad.append(key)
    if bad:
        more = f" and {len(bad) - 1} more tensors" if len(bad) > 1 else ""
        raise CheckpointError(
            f"the {what} weights hold NaN or infinite values: tensor {bad[0]!r} has "
            f"{first_count:,} of them{more}; the output would be garbage",
            path=path,
            hint="the file is damaged or from a diverged training run: delete it and "
            "download or export it again",
        )


def load_state_dict(
    path: str | os.PathLike[str],
    *,
    expected_keys: Collection[str] | None = None,
    expected_shapes: Mapping[str, Sequence[int]] | None = None,
    what: str,
    allow_nonfinite: bool = False,
) -> dict[str, torch.Tensor]:
    """Read a checkpoint into a flat ``{name: tensor}`` dict on the CPU.

    ``.pth``/``.pt`` files are read with ``torch.load(weights_only=True)`` (no code
    runs); ``.safetensors`` with safetensors. A ``{"state_dict": ...}`` wrapper (the
    original Wav2Lip format, with optimizer state) is unwrapped and a ``module.``
    prefix (from DataParallel training) is removed.

    Args:
        path: The checkpoint file.
        expected_keys: The exact key set the network needs; any difference raises.
        expected_shapes: ``{key: shape}`` to check as well (implies ``expected_keys``).
        what: What the file should hold, for messages (``"Wav2Lip"``).
        allow_nonfinite: Accept tensors with NaN/infinity (off: they are rejected).

    Returns:
        The tensors by key (without the ``module.`` prefix).

    Raises:
        ModelNotFoundError: the file does not exist.
        CheckpointError: a folder/device/pipe, an HTML page, a truncated/corrupt file,
            a file that needs code to unpickle, no tensors, NaN/infinite values, or the
            wrong network (the message counts the keys and guesses what it is).
    """
    import torch

    p = Path(path)
    obj = _read_any(p, what)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"expected {what} weights (a dict of tensors), found a {type(obj).__name__}",
            path=p,
        )
    state: dict[str, torch.Tensor] = {}
    not_tensors: list[str] = []
    for key, value in obj.items():
        name = str(key).removeprefix("module.")
        if isinstance(value, torch.Tensor):
            state[name] = value
        else:
            not_tensors.append(str(key))
    if not state:
        found = ", ".join(repr(k) for k in not_tensors[:4])
        raise CheckpointError(
            f"expected {what} weights, found no tensors (top-level keys: {found or 'none'})",
            path=p,
            hint="is this a training log or optimizer-only file? pass the model checkpoint",
        )
    if expected_shapes is not None and expected_keys is None:
        expected_keys = expected_shapes.keys()
    if expected_keys is not None:
        _check_keys(p, state, expected_keys, what)
    if expected_shapes is not None:
        for key, shape in expected_shapes.items():
            got = tuple(state[key].shape)
            if got != tuple(shape):
                raise CheckpointError(
                    f"expected {what} weights, but tensor {key!r} has shape {got} instead of "
                    f"{tuple(shape)} (another variant of the network?)",
                    path=p,
                )
    if not allow_nonfinite:
        _check_finite(p, state, what)
    return state


def _check_keys(
    path: Path, state: Mapping[str, Any], expected_keys: Collection[str], what: str
) -> None:
    want = set(expected_keys)
    have = set(state)
    if want == have:
        return
    missing = sorted(want - have)
    extra = sorted(have - want)
    keys = list(state)
    msg = f"expected {len(want)} {what} tensors, found {_describe_keys(keys)}"
    if have & want:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]!r})")
        if extra:
            parts.append(f"{len(extra)} unexpected (e.g. {extra[0]!r})")
        msg += "; " + ", ".join(parts)
    raise CheckpointError(
        msg, path=path, hint=f"pass a {what} checkpoint (see `lipdub weights list`)"
    )


def convert_weights(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    half: bool = False,
    what: str = "model",
) -> Path:
    """Save a checkpoint's tensors as ``.safetensors`` (optionally float16).

    Drops the optimizer state of original Wav2Lip checkpoints (435 MB -> ~145 MB, or
    ~73 MB with ``half``) and gives a file that loads without unpickling. What
    ``lipdub weights convert IN OUT.safetensors [--half]`` runs.

    Args:
        in_path: A ``.pth``/``.pt``/``.safetensors`` checkpoint.
        out_path: Where to write (``.safetensors``); written atomically.
        half: Store floating tensors as float16 (integers are kept).
        what: What the file holds, for messages.

    Returns:
        ``out_path``.

    Raises:
        InputError: ``out_path`` does not end in ``.safetensors``.
        CheckpointError: the input is not a readable checkpoint.
    """
    import torch
    from safetensors.torch import save_file

    out = Path(out_path)
    if out.suffix.lower() != ".safetensors":
        raise InputError(
            "the output of a weights conversion must be a .safetensors file",
            path=out,
            hint="name it like wav2lip_gan.safetensors",
        )
    state = load_state_dict(in_path, what=what)
    tensors: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        t = value.detach().to("cpu")
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        tensors[key] = t.contiguous().clone()
    meta = {"format": "pt", "source": Path(in_path).name, "dtype": "float16" if half else "as-is"}
    with atomic_path(out) as tmp:
        save_file(tensors, os.fspath(tmp), metadata=meta)
    logger.info("wrote %d tensors to %s", len(tensors), out)
    return out
