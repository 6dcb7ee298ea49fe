"""Model weights: where they live, how they are fetched, checked and loaded.

One table, :data:`KNOWN_WEIGHTS`, maps short names (``"wav2lip"``, ``"wav2lip_gan"``,
``"s3fd"``, ``"syncnet"``) to a file on the Hugging Face Hub with its size and sha256.
:func:`resolve_weights` turns a name (or a local path) into a verified local file,
downloading it through ``huggingface_hub`` (its cache, ``HF_HUB_OFFLINE``, tokens);
:func:`load_state_dict` reads a checkpoint safely (``weights_only=True`` or
safetensors) and checks that it holds the expected network.

The checks are what make a wrong file fail early with a clear message: a 167 kB file
posing as ``wav2lip.pth`` raises :class:`~lipdub.errors.ChecksumMismatch`; an HTML
error page, a truncated download or another model's weights raise
:class:`~lipdub.errors.CheckpointError`. Hashing a 435 MB file takes a second or two,
so a successful check is remembered in a small ``<file>.lipdub-verified`` marker
(keyed by the file's size and modification time) and not repeated.

Example:
    >>> from lipdub.hub import KNOWN_WEIGHTS
    >>> spec = KNOWN_WEIGHTS["wav2lip_gan"]
    >>> spec.repo_id, spec.filename, spec.size
    ('Nekochu/Wav2Lip', 'wav2lip_gan.pth', 435801865)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lipdub._io import atomic_path
from lipdub.errors import CheckpointError, ChecksumMismatch, InputError, ModelNotFoundError

if TYPE_CHECKING:
    import torch

__all__ = [
    "KNOWN_WEIGHTS",
    "WeightsSpec",
    "convert_weights",
    "download_weights",
    "load_state_dict",
    "register_weights",
    "resolve_weights",
    "sha256_file",
    "verify_file",
]

logger = logging.getLogger(__name__)

_WAV2LIP_LICENCE = (
    "research / non-commercial use only (the Wav2Lip authors' terms; the models were "
    "trained on LRS2). Do not use them in a commercial product."
)

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_MARKER_SUFFIX = ".lipdub-verified"


@dataclass(frozen=True, slots=True)
class WeightsSpec:
    """One published weights file and how to recognise it.

    Args:
        name: Short lowercase name (``"wav2lip_gan"``).
        repo_id: Hugging Face Hub model repo (``"owner/name"``).
        filename: Path of the file inside the repo.
        revision: Pinned 40-hex commit of the repo, or None for the repo's default
            branch (used until a pin is verified; the size and hash checks still apply).
        size: Exact size in bytes, or None to skip the size check.
        sha256_prefix: Leading hex digits of the file's sha256, or None.
        sha256: The full sha256 hex digest, when known (checked instead of the prefix).
        licence: The licence terms of the weights, shown when they are downloaded.
        description: One line saying what the file is.

    Example:
        >>> WeightsSpec("mine", "me/models", "net.pth", None, 1234, "abcd").size
        1234
    """

    name: str
    repo_id: str
    filename: str
    revision: str | None
    size: int | None
    sha256_prefix: str | None
    sha256: str | None = None
    licence: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or os.sep in self.name:
            raise InputError(f"WeightsSpec.name must be a short name, got {self.name!r}")
        if self.repo_id.count("/") != 1:
            raise InputError(f"WeightsSpec.repo_id must be 'owner/name', got {self.repo_id!r}")
        for field_name in ("sha256_prefix", "sha256"):
            value = getattr(self, field_name)
            if value is not None:
                if not re.fullmatch(r"[0-9a-fA-F]+", value):
                    raise InputError(f"WeightsSpec.{field_name} must be hex, got {value!r}")
                object.__setattr__(self, field_name, value.lower())
        if self.size is not None and self.size <= 0:
            raise InputError(f"WeightsSpec.size must be > 0, got {self.size}")

    @property
    def url(self) -> str:
        """The direct download URL on the Hub (at the pinned revision or ``main``)."""
        rev = self.revision or "main"
        return f"https://huggingface.co/{self.repo_id}/resolve/{rev}/{self.filename}"

    @property
    def pinned(self) -> bool:
        """Whether :attr:`revision` is an immutable 40-hex commit."""
        return self.revision is not None and bool(_HEX40.match(self.revision))


_KNOWN: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        WeightsSpec(
            name="wav2lip",
            repo_id="Nekochu/Wav2Lip",
            filename="wav2lip.pth",
            revision=None,
            size=435_807_851,
            sha256_prefix="b78b681b",
            licence=_WAV2LIP_LICENCE,
            description="Wav2Lip generator (sharper sync, blurrier mouth), original .pth",
        ),
        WeightsSpec(
            name="wav2lip_gan",
            repo_id="Nekochu/Wav2Lip",
            filename="wav2lip_gan.pth",
            revision=None,
            size=435_801_865,
            sha256_prefix="ca9ab7b7",
            licence=_WAV2LIP_LICENCE,
            description="Wav2Lip generator trained with the GAN loss (better looking mouths)",
        ),
        WeightsSpec(
            name="s3fd",
            repo_id="camenduru/Wav2Lip",
            filename="checkpoints/s3fd-619a316812.pth",
            revision=None,
            size=89_843_225,
            sha256_prefix="619a3168",
            licence="BSD-3-Clause (S3FD port by Adrian Bulat, face-alignment)",
            description="S3FD face detector used by the original Wav2Lip",
        ),
        WeightsSpec(
            name="syncnet",
            repo_id="camenduru/Wav2Lip",
            filename="checkpoints/lipsync_expert.pth",
            revision=None,
            size=197_357_631,
            sha256_prefix="9b9936c7",
            licence=_WAV2LIP_LICENCE,
            description="Wav2Lip's SyncNet lip-sync expert (scores audio/lip agreement)",
        ),
    )
}

#: Read-only table ``name -> WeightsSpec`` of the weights lipdub knows.
#:
#: The ``revision`` pins are ``None`` (the repos' default branch) until a commit hash
#: has been verified against the Hub; fill them in then. Every file is still checked
#: against its size and sha256 prefix, so a changed or wrong file is always rejected.
#: Add entries with :func:`register_weights`.
KNOWN_WEIGHTS: Mapping[str, WeightsSpec] = MappingProxyType(_KNOWN)

_lock = threading.Lock()
_licence_logged: set[str] = set()


def register_weights(spec: WeightsSpec, *, replace: bool = False) -> None:
    """Add a custom entry to :data:`KNOWN_WEIGHTS` (e.g. a fine-tuned Wav2Lip).

    Args:
        spec: The file and its checks.
        replace: Allow replacing an existing entry of the same name.

    Raises:
        InputError: if the name is taken and ``replace`` is False.

    Example:
        >>> register_weights(WeightsSpec("doc-example", "me/models", "net.pth", None, 10, None))
        >>> KNOWN_WEIGHTS["doc-example"].filename
        'net.pth'
    """
    with _lock:
        if spec.name in _KNOWN and not replace and _KNOWN[spec.name] != spec:
            raise InputError(
                f"weights name {spec.name!r} is already registered",
                hint="pass replace=True to override it",
            )
        _KNOWN[spec.name] = spec


def _offline_env() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def _download_command(name: str) -> str:
    return f"lipdub weights download {name}"


def _missing_hint(spec: WeightsSpec, registered: bool) -> str:
    how = (
        f"run `{_download_command(spec.name)}` while online"
        if registered
        else f"download {spec.repo_id}/{spec.filename} while online"
    )
    return (
        f"{how} (it fetches {spec.filename} from the Hub repo {spec.repo_id}, "
        f"{spec.url}), or download that file yourself and pass its local path instead of "
        f"the name {spec.name!r}"
    )


def resolve_weights(
    name_or_path: str | os.PathLike[str] | WeightsSpec,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    verify: bool = True,
    endpoint: str | None = None,
) -> Path:
    """Turn a weights name (or a local file) into a verified local file.

    Args:
        name_or_path: A key of :data:`KNOWN_WEIGHTS`, a :class:`WeightsSpec`, or the
            path of a local file (returned as is, after checking it exists).
        revision: Hub revision (commit, branch or tag) instead of the table's pin. Not
            allowed with a local path.
        cache_dir: Hugging Face cache folder (default: ``HF_HUB_CACHE``).
        local_files_only: Never touch the network; use the cache only. Also forced by
            the environment variable ``HF_HUB_OFFLINE=1``.
        token: Hugging Face token for private or gated repos (never logged).
        verify: Check the file's size and sha256 against the spec. Only turn this off
            for files you made yourself (tests with random weights); the default
            rejects any file that is not the published one.
        endpoint: Hub server to download from (a mirror; default ``HF_ENDPOINT`` or
            https://huggingface.co).

    Returns:
        Path of the local file (inside the Hub cache for known names).

    Raises:
        InputError: ``revision`` with a local path.
        ModelNotFoundError: no such file, an unknown name, or not cached while offline
            / the download failed. The message names the repo, the file and the
            ``lipdub weights download NAME`` command.
        ChecksumMismatch: the file has the wrong size or hash.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "mine.pth"
        >>> _ = p.write_bytes(b"x")
        >>> resolve_weights(p) == p
        True
    """
    if isinstance(name_or_path, WeightsSpec):
        spec = name_or_path
        registered = KNOWN_WEIGHTS.get(spec.name) == spec
    else:
        key = os.fspath(name_or_path)
        spec_or_none = KNOWN_WEIGHTS.get(key) if isinstance(name_or_path, str) else None
        if spec_or_none is None:
            return _resolve_local(key, revision)
        spec = spec_or_none
        registered = True

    offline = local_files_only or _offline_env()
    path = _hub_file(spec, revision, cache_dir, offline, token, registered, endpoint)
    if verify:
        verify_file(path, spec)
    return path


def _resolve_local(key: str, revision: str | None) -> Path:
    path = Path(key).expanduser()
    if revision is not None:
        raise InputError(
            f"revision={revision!r} was given with a local file path",
            path=path,
            hint="revision applies only to weights names like 'wav2lip_gan'; drop it",
        )
    if path.is_file():
        return path
    if path.exists():
        raise ModelNotFoundError(
            "expected a weights file, found a folder", path=path, hint="pass the .pth file"
        )
    known = ", ".join(sorted(KNOWN_WEIGHTS))
    looks_like_name = os.sep not in key and "/" not in key and not path.suffix
    what = f"no weights named {key!r} and no such file" if looks_like_name else "no such file"
    raise ModelNotFoundError(
        what,
        path=path,
        hint=f"use one of the known names ({known}) or the path of an existing "
        ".pth/.safetensors file",
    )


def _hub_file(
    spec: WeightsSpec,
    revision: str | None,
    cache_dir: str | os.PathLike[str] | None,
    offline: bool,
    token: str | bool | None,
    registered: bool,
    endpoint: str | None,
) -> Path:
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    # huggingface_hub reads HF_HUB_OFFLINE once, at import; we also read it now
    offline = offline or bool(constants.HF_HUB_OFFLINE)

    rev = revision if revision is not None else spec.revision
    cache = os.fspath(cache_dir) if cache_dir is not None else None
    where = f"{spec.repo_id}/{spec.filename}" + (f"@{rev}" if rev else "")
    try:
        return Path(
            hf_hub_download(
                spec.repo_id,
                spec.filename,
                revision=rev,
                cache_dir=cache,
                local_files_only=True,
                token=token,
            )
        )
    except LocalEntryNotFoundError as e:
        if offline:
            cache_text = cache or constants.HF_HUB_CACHE
            raise ModelNotFoundError(
                f"{spec.name} weights ({where}) are not in the Hugging Face cache "
                f"{cache_text} and downloads are off (HF_HUB_OFFLINE or local_files_only)",
                backend=spec.name,
                hint=_missing_hint(spec, registered),
            ) from e
    except Exception as e:  # a malformed cache entry or bad arguments
        raise ModelNotFoundError(
            f"cannot look up {spec.name} weights ({where}) in the cache: {e}",
            backend=spec.name,
            hint=_missing_hint(spec, registered),
        ) from e

    _log_licence_once(spec)
    size_text = f"{spec.size / 1e6:.0f} MB" if spec.size else "size unknown"
    logger.info("downloading %s weights from %s (%s)", spec.name, where, size_text)
    try:
        downloaded = hf_hub_download(
            spec.repo_id,
            spec.filename,
            revision=rev,
            cache_dir=cache,
            local_files_only=False,
            token=token,
            endpoint=endpoint,
        )
    except Exception as e:  # huggingface_hub raises many HTTP / OS error types
        raise ModelNotFoundError(
            f"could not download {spec.name} weights ({where}): {type(e).__name__}: {e}",
            backend=spec.name,
            hint=(
                "check the network connection (and HF_TOKEN for private repos); "
                + _missing_hint(spec, registered)
            ),
        ) from e
    return Path(downloaded)


def _log_licence_once(spec: WeightsSpec) -> None:
    if not spec.licence:
        return
    with _lock:
        if spec.licence in _licence_logged:
            return
        _licence_logged.add(spec.licence)
    logger.warning("licence of the %s weights: %s", spec.name, spec.licence)


def _marker_path(path: Path) -> Path:
    real = path.resolve()
    return real.with_name(real.name + _MARKER_SUFFIX)


def _read_marker(path: Path, spec: WeightsSpec) -> bool:
    marker = _marker_path(path)
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        st = path.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    digest = str(data.get("sha256", ""))
    return (
        data.get("size") == st.st_size
        and data.get("mtime_ns") == st.st_mtime_ns
        and _hash_ok(digest, spec)
    )


def _write_marker(path: Path, digest: str) -> None:
    st = path.stat()
    payload = json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest})
    with contextlib.suppress(OSError):  # a read-only cache just means rehashing next time
        marker = _marker_path(path)
        with atomic_path(marker, suffix="") as tmp:
            tmp.write_text(payload, encoding="utf-8")


def _hash_ok(digest: str, spec: WeightsSpec) -> bool:
    if spec.sha256 is not None:
        return digest == spec.sha256
    if spec.sha256_prefix is not None:
        return digest.startswith(spec.sha256_prefix)
    return True


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str | os.PathLike[str], spec: WeightsSpec) -> None:
    """Check a file's size and sha256 against ``spec`` (remembered once it passes).

    Raises:
        ChecksumMismatch: wrong size or hash; the message names the file and the fix.
    """
    p = Path(path)
    size = p.stat().st_size
    fix = (
        f"delete it and run `{_download_command(spec.name)}` to fetch "
        f"{spec.repo_id}/{spec.filename} again"
    )
    if spec.size is not None and size != spec.size:
        raise ChecksumMismatch(
            f"{spec.name} weights have the wrong size: expected {spec.size:,} bytes, "
            f"found {size:,} bytes; this is not {spec.filename}",
            path=p,
            backend=spec.name,
            hint=fix,
        )
    if spec.sha256 is None and spec.sha256_prefix is None:
        return
    if _read_marker(p, spec):
        return
    digest = sha256_file(p)
    if not _hash_ok(digest, spec):
        want = spec.sha256 or f"{spec.sha256_prefix}…"
        raise ChecksumMismatch(
            f"{spec.name} weights have the wrong sha256: expected {want}, found {digest}",
            path=p,
            backend=spec.name,
            hint=fix,
        )
    _write_marker(p, digest)


def download_weights(
    name: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
) -> Path:
    """Download (or find in the cache) and verify the weights called ``name``.

    What ``lipdub weights download NAME`` runs.

    Returns:
        Path of the verified file in the Hugging Face cache.

    Raises:
        ModelNotFoundError: unknown name or the download failed.
        ChecksumMismatch: the downloaded file is not the expected one.
    """
    if name not in KNOWN_WEIGHTS:
        known = ", ".join(sorted(KNOWN_WEIGHTS))
        raise ModelNotFoundError(f"no weights named {name!r}", hint=f"known names: {known}")
    return resolve_weights(
        name, revision=revision, cache_dir=cache_dir, token=token, endpoint=endpoint
    )


# --------------------------------------------------------------------------- loading

_SAFETENSORS_SUFFIXES = (".safetensors",)


def _sniff(path: Path, what: str) -> bytes:
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
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        raise CheckpointError(
            f"this is an HTML page, not {what} weights (the download returned an error or "
            "login page)",
            path=path,
            hint="delete it and download the file again, e.g. with `lipdub weights download`",
        )
    if stripped.startswith(b"version https://git-lfs"):
        raise CheckpointError(
            f"this is a Git LFS pointer, not {what} weights (the repo was cloned without git-lfs)",
            path=path,
            hint="run `git lfs pull` or download the file with `lipdub weights download`",
        )
    return head


def _looks_like_safetensors(head: bytes) -> bool:
    return len(head) > 9 and head[8:10] in (b'{"', b"{ ")


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
        raise CheckpointError(
            f"cannot read {what} weights as a PyTorch checkpoint (truncated, corrupt, or not "
            f"a checkpoint): {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
            path=path,
            hint="delete the file and download it again (`lipdub weights download NAME`)",
        ) from e


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


def load_state_dict(
    path: str | os.PathLike[str],
    *,
    expected_keys: Collection[str] | None = None,
    expected_shapes: Mapping[str, Sequence[int]] | None = None,
    what: str,
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

    Returns:
        The tensors by key (without the ``module.`` prefix).

    Raises:
        ModelNotFoundError: the file does not exist.
        CheckpointError: an HTML page, a truncated/corrupt file, no tensors, or the
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
        msg, path=path, hint=f"pass a {what} checkpoint (see `lipdub weights download`)"
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
