"""Loading ``syncnet_v2.model`` without running pickled code.

The published file is a ``torch.save`` pickle. It may hold the whole module
(``torch.save(model)``: the pickle names the classes ``SyncNetModel.S``,
``torch.nn.modules.conv.Conv2d``...) or a state dict. Unpickling a whole module with
``torch.load(weights_only=False)`` would import and call whatever the file names, so
lipdub reads it with a restricted unpickler instead:

- tensor and parameter rebuilds (``torch._utils._rebuild_tensor_v2`` and friends),
  ``collections.OrderedDict`` and ``builtins.set`` (also as ``__builtin__.set``) are
  allowed;
- every module class the file names (``torch.nn.modules.*`` and the SyncNet class
  ``S``/``SyncNet``) becomes an inert stand-in that only records its attributes;
- anything else (``os.system``, ``builtins.eval``, any other global) is refused with
  :class:`~lipdub.errors.CheckpointError` before it is called.

The parameters and buffers are then collected from the stand-ins' ``_parameters`` /
``_buffers`` trees into a state dict, loaded into :class:`SyncNetV2` with
``strict=True``, and checked to be finite.
"""

from __future__ import annotations

import collections
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from lipdub.errors import CheckpointError, ModelNotFoundError
from lipdub.models.syncnet_v2 import SyncNetV2

__all__ = ["load_syncnet_v2", "read_syncnet_state"]

_TENSOR_REBUILDS = frozenset(
    {
        "_rebuild_tensor",
        "_rebuild_tensor_v2",
        "_rebuild_parameter",
        "_rebuild_parameter_with_state",
    }
)
_ROOT_CLASSES = frozenset({"S", "SyncNet", "SyncNetModel", "SyncNetV2"})
_HINT = "use the published syncnet_v2.model (lipdub weights download syncnet_v2) or a state dict"


class _StandIn:
    """An inert object standing in for a pickled ``nn.Module``: it stores its state."""

    _pickled_name = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_state"] = {}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"unexpected state for {self._pickled_name}")
        self.__dict__["_state"] = dict(state)


_stand_ins: dict[str, type[_StandIn]] = {}


def _stand_in(qualified: str) -> type[_StandIn]:
    cls = _stand_ins.get(qualified)
    if cls is None:
        cls = type("StandIn", (_StandIn,), {"_pickled_name": qualified})
        _stand_ins[qualified] = cls
    return cls


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to stand-ins (protocol 0/1 pickles)."""
    if not (isinstance(cls, type) and issubclass(cls, _StandIn)) or base is not object:
        raise pickle.UnpicklingError("copyreg._reconstructor of a non-module class refused")
    return cls()


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the allowed globals (see the module doc)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in _TENSOR_REBUILDS:
            return getattr(torch._utils, name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module in ("builtins", "__builtin__") and name == "set":
            return set
        if module == "torch" and name == "Size":
            return torch.Size
        if module == "copyreg" and name == "_reconstructor":
            return _reconstructor
        if module.startswith("torch.nn.modules.") and name[:1].isupper():
            return _stand_in(f"{module}.{name}")
        if name in _ROOT_CLASSES:
            return _stand_in(f"{module}.{name}")
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


#: A ``pickle_module`` for ``torch.load``: torch subclasses its ``Unpickler`` and
#: keeps its own storage handling; every other global goes through ``find_class``.
_restricted = ModuleType("lipdub_restricted_pickle")
_restricted.Unpickler = _RestrictedUnpickler  # type: ignore[attr-defined]
_restricted.load = pickle.load  # type: ignore[attr-defined]
_restricted.__name__ = "pickle"


def _collect(obj: _StandIn, prefix: str, out: dict[str, torch.Tensor]) -> None:
    state = obj.__dict__.get("_state", {})
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for key, value in (state.get(group) or {}).items():
            if value is None or key in skip:
                continue
            if not isinstance(value, torch.Tensor):
                raise pickle.UnpicklingError(f"{prefix}{key} is not a tensor")
            out[prefix + key] = value.detach()
    for key, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, _StandIn):
            raise pickle.UnpicklingError(f"submodule {prefix}{key} is not a module")
        _collect(child, f"{prefix}{key}.", out)


def read_syncnet_state(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a ``syncnet_v2.model`` file (whole-module pickle or state dict).

    Nothing the file names is imported or called except tensor rebuilds; module
    classes become inert stand-ins.

    Raises:
        ModelNotFoundError: the file does not exist.
        CheckpointError: the pickle names anything else (it would run code), or it
            holds neither a module nor a state dict.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelNotFoundError(
            "SyncNet weights not found", path=p, hint="lipdub weights download syncnet_v2"
        )
    try:
        obj = torch.load(p, map_location="cpu", weights_only=False, pickle_module=_restricted)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"refused to load: the pickle would run code or build objects ({e})",
            path=p,
            hint=_HINT,
        ) from e
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError) as e:
        raise CheckpointError(f"not a readable torch file: {e}", path=p, hint=_HINT) from e
    state: dict[str, torch.Tensor] = {}
    if isinstance(obj, _StandIn):
        try:
            _collect(obj, "", state)
        except pickle.UnpicklingError as e:
            raise CheckpointError(f"malformed module pickle: {e}", path=p, hint=_HINT) from e
    elif isinstance(obj, Mapping):
        inner = obj.get("state_dict", obj) if "state_dict" in obj else obj
        for key, value in inner.items():
            if not isinstance(key, str) or not isinstance(value, torch.Tensor):
                raise CheckpointError(f"entry {key!r} is not a tensor", path=p, hint=_HINT)
            state[key.removeprefix("module.").removeprefix("__S__.")] = value
    else:
        raise CheckpointError(
            f"holds a {type(obj).__name__}, not a SyncNet module or state dict",
            path=p,
            hint=_HINT,
        )
    return state


def load_syncnet_v2(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> SyncNetV2:
    """A :class:`SyncNetV2` in eval mode with the weights of ``path`` (strict).

    Raises:
        CheckpointError: unsafe pickle, missing/unexpected keys, wrong shapes, or
            non-finite values.
    """
    state = read_syncnet_state(path)
    net = SyncNetV2()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0:3]
        raise CheckpointError(
            f"not the syncnet_python SyncNet: {' '.join(first)}", path=path, hint=_HINT
        ) from e
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{key} holds NaN or infinite values", path=path, hint=_HINT)
    return net.to(device).eval()
