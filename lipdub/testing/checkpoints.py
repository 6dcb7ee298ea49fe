"""Random-weight checkpoints and a prefilled Hugging Face cache, for offline tests.

* :func:`write_random_checkpoint` writes random weights for any network (a module, a
  state dict or a manifest of ``[key, shape, dtype]`` entries) in the original
  Wav2Lip layout, as a bare state dict, or as safetensors.
* :func:`write_random_wav2lip_checkpoint` does that for lipdub's Wav2Lip generator.
* :func:`prefilled_hub_cache` lays a file into the Hugging Face cache layout so that
  ``hf_hub_download(..., cache_dir=..., local_files_only=True)`` (and so
  :func:`lipdub.hub.resolve_weights`) finds it without any network.
* :class:`FakeHubServer` serves files over HTTP on 127.0.0.1 the way the Hub's
  ``resolve`` endpoint does, so real downloads (``endpoint=server.endpoint``) run
  offline and fast.

Random weights are not the published files, so the size/sha256 check of a known name
rejects them. Tests either register their own :class:`~lipdub.hub.WeightsSpec` (with
the random file's real size and hash, see :func:`spec_for_file`) or pass
``verify=False`` to :func:`~lipdub.hub.resolve_weights`.

Example:
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> ckpt = write_random_checkpoint(tmp / "tiny.pth", [["w", [2, 3], "float32"]])
    >>> import torch
    >>> sorted(torch.load(ckpt, weights_only=True))
    ['w']
"""

from __future__ import annotations

import http.server
import json
import math
import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from lipdub._hashing import file_sha256
from lipdub._io import atomic_path
from lipdub.errors import InputError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from lipdub.hub import WeightsSpec

__all__ = [
    "CheckpointFormat",
    "FakeHubServer",
    "prefilled_hub_cache",
    "random_state_dict",
    "spec_for_file",
    "write_random_checkpoint",
    "write_random_wav2lip_checkpoint",
]

CheckpointFormat = Literal["original", "bare", "safetensors"]

_Entries = Sequence[tuple[str, tuple[int, ...], str]]


def _entries_of(source: Any) -> list[tuple[str, tuple[int, ...], str]]:
    import torch

    if isinstance(source, (str, os.PathLike)):
        source = json.loads(Path(source).read_text(encoding="utf-8"))
    if isinstance(source, Mapping) and "entries" in source:
        source = source["entries"]
    if isinstance(source, torch.nn.Module):
        source = source.state_dict()
    out: list[tuple[str, tuple[int, ...], str]] = []
    if isinstance(source, Mapping):
        for key, value in source.items():
            if not isinstance(value, torch.Tensor):
                raise InputError(f"state dict entry {key!r} is not a tensor")
            out.append((str(key), tuple(value.shape), str(value.dtype).removeprefix("torch.")))
        return out
    for item in source:
        key, shape, dtype = item
        out.append((str(key), tuple(int(d) for d in shape), str(dtype)))
    return out


def random_state_dict(
    manifest_or_module: nn.Module | Mapping[str, Any] | Sequence[Any] | str | os.PathLike[str],
    *,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Deterministic random tensors with the keys, shapes and dtypes of a network.

    Args:
        manifest_or_module: A torch module, a state dict, a manifest dict/JSON file
            with ``"entries"``, or a list of ``[key, shape, dtype]``.
        seed: Seed of the random stream.

    Returns:
        ``{key: tensor}``: kernels ~ N(0, 1/fan_in), BatchNorm weights/variances near
        1, biases/means near 0, integer buffers 0.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape, dtype in _entries_of(manifest_or_module):
        tdtype = getattr(torch, dtype)
        if not tdtype.is_floating_point:
            out[key] = torch.zeros(shape, dtype=tdtype)
            continue
        if len(shape) > 1:
            fan_in = math.prod(shape[1:])
            t = torch.randn(shape, generator=g) / math.sqrt(max(fan_in, 1))
        elif key.endswith("running_var"):
            t = 1.0 + 0.1 * torch.rand(shape, generator=g)
        elif key.endswith("weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            t = 0.1 * torch.randn(shape, generator=g)
        out[key] = t.to(tdtype).contiguous()
    return out


def _save(state: Mapping[str, torch.Tensor], path: Path, format: CheckpointFormat) -> Path:
    import torch

    if format == "safetensors":
        from safetensors.torch import save_file

        with atomic_path(path) as tmp:
            save_file(dict(state), os.fspath(tmp), metadata={"format": "pt"})
        return path
    if format == "original":
        obj: Any = {
            "state_dict": {f"module.{k}": v for k, v in state.items()},
            "optimizer": {},
            "global_step": 0,
            "global_epoch": 0,
        }
    elif format == "bare":
        obj = dict(state)
    else:
        raise InputError(f"unknown checkpoint format {format!r}; use original, bare or safetensors")
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def write_random_checkpoint(
    path: str | os.PathLike[str],
    manifest_or_module: nn.Module | Mapping[str, Any] | Sequence[Any] | str | os.PathLike[str],
    *,
    seed: int = 0,
    format: CheckpointFormat = "bare",
) -> Path:
    """Write random weights for any network.

    Args:
        path: Output file (``.pth`` or ``.safetensors``), written atomically.
        manifest_or_module: See :func:`random_state_dict`.
        seed: Seed of the random stream.
        format: ``"bare"`` (a plain state dict, like the S3FD file), ``"original"``
            (Wav2Lip's ``{"state_dict": {"module." + key: ...}, "optimizer": {}, ...}``)
            or ``"safetensors"``.

    Returns:
        ``path``.
    """
    return _save(random_state_dict(manifest_or_module, seed=seed), Path(path), format)


def write_random_wav2lip_checkpoint(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    format: CheckpointFormat = "original",
) -> Path:
    """Write a random-weight Wav2Lip generator checkpoint (original on-disk layout).

    The file loads with :meth:`lipdub.lipsync.wav2lip.Wav2LipSyncer.from_pretrained`
    exactly like the published ``wav2lip.pth`` (``module.`` prefixes, a ``state_dict``
    wrapper, an empty optimizer), but is ~145 MB of random floats written in a second.

    Example:
        >>> import tempfile, pathlib
        >>> p = write_random_wav2lip_checkpoint(pathlib.Path(tempfile.mkdtemp()) / "w.pth")
        >>> from lipdub.lipsync.wav2lip import Wav2LipSyncer
        >>> Wav2LipSyncer.from_pretrained(p, device="cpu").sync(
        ...     __import__("numpy").zeros((1, 96, 96, 3), "uint8"),
        ...     __import__("numpy").zeros((1, 80, 16), "float32")).shape
        (1, 96, 96, 3)
    """
    from lipdub.models.wav2lip import wav2lip_manifest

    return write_random_checkpoint(path, wav2lip_manifest(), seed=seed, format=format)


def spec_for_file(
    name: str, file_path: str | os.PathLike[str], *, repo_id: str = "lipdub-test/weights"
) -> WeightsSpec:
    """A :class:`~lipdub.hub.WeightsSpec` matching a local file's real size and sha256.

    Register it with :func:`lipdub.hub.register_weights` and lay the file into a cache
    with :func:`prefilled_hub_cache` to test the full download-verify-load path.
    """
    from lipdub.hub import WeightsSpec

    p = Path(file_path)
    return WeightsSpec(
        name=name,
        repo_id=repo_id,
        filename=p.name,
        revision=None,
        size=p.stat().st_size,
        sha256_prefix=None,
        sha256=file_sha256(p),
        description="random test weights",
    )


def prefilled_hub_cache(
    cache_dir: str | os.PathLike[str],
    name: str | WeightsSpec,
    file_path: str | os.PathLike[str],
    *,
    commit: str | None = None,
) -> Path:
    """Put ``file_path`` into a Hugging Face cache as the file of weights ``name``.

    Builds ``models--owner--repo/blobs/<sha256>``, ``snapshots/<commit>/<filename>``
    and ``refs/main`` (plus ``refs/<revision>`` for a non-hex pinned revision) the way
    ``huggingface_hub`` does, so ``hf_hub_download(repo_id, filename,
    cache_dir=cache_dir, local_files_only=True)`` returns the file.

    Args:
        cache_dir: The cache folder (``HF_HUB_CACHE`` layout).
        name: A key of :data:`lipdub.hub.KNOWN_WEIGHTS` or a spec.
        file_path: The file to lay in (copied).
        commit: The commit hash to file it under (default: the spec's 40-hex pin, else
            a hash derived from the file).

    Returns:
        Path of the file inside the snapshot.
    """
    from lipdub.hub import KNOWN_WEIGHTS, WeightsSpec

    spec = name if isinstance(name, WeightsSpec) else KNOWN_WEIGHTS[name]
    src = Path(file_path)
    digest = file_sha256(src)
    if commit is None:
        commit = spec.revision if spec.pinned and spec.revision else digest[:40]
    owner, repo = spec.repo_id.split("/")
    root = Path(cache_dir) / f"models--{owner}--{repo}"
    blob = root / "blobs" / digest
    blob.parent.mkdir(parents=True, exist_ok=True)
    if not blob.exists():
        shutil.copyfile(src, blob)
    snap = root / "snapshots" / commit / spec.filename
    snap.parent.mkdir(parents=True, exist_ok=True)
    if snap.exists() or snap.is_symlink():
        snap.unlink()
    try:
        snap.symlink_to(os.path.relpath(blob, snap.parent))
    except OSError:  # no symlinks (Windows without developer mode)
        shutil.copyfile(blob, snap)
    refs = root / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(commit, encoding="utf-8")
    if spec.revision and not spec.pinned:
        (refs / spec.revision).write_text(commit, encoding="utf-8")
    return snap


class _HubHandler(http.server.BaseHTTPRequestHandler):
    server: _HubHTTPServer

    def _answer(self, body: bool) -> None:
        # /{owner}/{repo}/resolve/{revision}/{filename}
        parts = unquote(self.path.split("?", 1)[0]).lstrip("/").split("/", 4)
        self.server.requests.append(f"{self.command} {self.path}")
        entry = None
        if len(parts) == 5 and parts[2] == "resolve":
            entry = self.server.files.get((f"{parts[0]}/{parts[1]}", parts[4]))
        if entry is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Error-Message", "Entry not found")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data, digest = entry
        self.send_response(200)
        self.send_header("X-Repo-Commit", self.server.commit)
        self.send_header("ETag", f'"{digest}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HubHTTPServer(http.server.ThreadingHTTPServer):
    files: dict[tuple[str, str], tuple[bytes, str]]
    requests: list[str]
    commit: str


class FakeHubServer:
    """A tiny stand-in for the Hugging Face Hub's file server, on 127.0.0.1.

    Answers ``HEAD``/``GET /{repo_id}/resolve/{revision}/{filename}`` with the
    headers ``huggingface_hub`` reads (commit, ETag = sha256, size), and 404 for
    anything else, so ``hf_hub_download(..., endpoint=server.endpoint)`` and
    :func:`lipdub.hub.resolve_weights` download for real without the internet.

    Args:
        files: ``{(repo_id, filename): local file}`` to serve.
        commit: The commit hash the server reports.

    Example:
        >>> import tempfile, pathlib
        >>> from huggingface_hub import hf_hub_download
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (tmp / "w.bin").write_bytes(b"weights")
        >>> with FakeHubServer({("me/models", "w.bin"): tmp / "w.bin"}) as hub:
        ...     p = hf_hub_download("me/models", "w.bin", cache_dir=tmp / "c",
        ...                         endpoint=hub.endpoint, token=False)
        >>> pathlib.Path(p).read_bytes()
        b'weights'
    """

    def __init__(
        self,
        files: Mapping[tuple[str, str], str | os.PathLike[str]],
        *,
        commit: str = "0123456789abcdef0123456789abcdef01234567",
    ) -> None:
        self._files = {
            key: (Path(p).read_bytes(), file_sha256(Path(p))) for key, p in files.items()
        }
        self.commit = commit
        self._server: _HubHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[str]:
        """``"METHOD /path"`` of every request so far."""
        return [] if self._server is None else list(self._server.requests)

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` to pass as ``endpoint=``."""
        if self._server is None:
            raise RuntimeError("FakeHubServer is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHubServer:
        server = _HubHTTPServer(("127.0.0.1", 0), _HubHandler)
        server.files = dict(self._files)
        server.requests = []
        server.commit = self.commit
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
