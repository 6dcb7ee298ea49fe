"""The lipdub exception tree.

Every error lipdub raises on purpose derives from :class:`LipdubError`, and each one
also subclasses the builtin it resembles, so generic ``except ValueError`` or
``except ImportError`` clauses keep working::

    LipdubError
    ├── InputError (ValueError)              bad arguments or unusable input data
    │   ├── MediaError                       a file that is not (readable) media
    │   ├── NoSpeechError                    nothing to dub: no speech / empty transcript
    │   ├── TimingFitError                   lines too long for their time, even at max_rate
    │   └── UnknownLanguageError             a language code lipdub cannot map
    ├── BackendError                         a component could not be used
    │   ├── UnknownBackendError (KeyError)   no backend registered under that name
    │   ├── BackendNotInstalled (ImportError) its optional extra is missing
    │   └── CloningNotSupported              a voice without cloning was given a reference
    ├── ModelError (OSError)                 model weights could not be had or loaded
    │   ├── ModelNotFoundError               not cached and downloads are off / failed
    │   ├── ChecksumMismatch                 the file is not the expected one
    │   └── CheckpointError                  the file does not hold the expected network
    ├── NoFaceError (ValueError)             no face anywhere in the input
    ├── CloudServiceError (RuntimeError)     a remote service refused or failed
    │   └── CredentialsError                 missing or invalid credentials
    ├── PipelineError (RuntimeError)         a pipeline stage failed; wraps the cause
    ├── EditConflict (RuntimeError)          a stage would overwrite the user's edit
    └── Cancelled                            the caller cancelled the run

Every message says what failed, for which file or name, and what to do next. Errors
carry the structured fields ``path``, ``backend`` and ``hint`` (any may be ``None``) and
survive pickling, so worker processes can re-raise them.
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = [
    "BackendError",
    "BackendNotInstalled",
    "Cancelled",
    "CheckpointError",
    "ChecksumMismatch",
    "CloningNotSupported",
    "CloudServiceError",
    "CredentialsError",
    "EditConflict",
    "InputError",
    "LipdubError",
    "MediaError",
    "ModelError",
    "ModelNotFoundError",
    "NoFaceError",
    "NoSpeechError",
    "PipelineError",
    "TimingFitError",
    "UnknownBackendError",
    "UnknownLanguageError",
    "printable",
]

# ANSI/VT escape sequences: CSI (``ESC [ ... final``), OSC (``ESC ] ... BEL/ST``), and
# two-character escapes; the 8-bit CSI/OSC introducers too.
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]"
)
# Other C0/C1 control characters, DEL, and the Unicode bidi overrides that can make a
# terminal line read differently from what it holds.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_NL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: object, *, newlines: bool = True) -> str:
    r"""``text`` safe to show in a terminal: escape sequences removed, controls escaped.

    Anything user-supplied (a file name, a transcript's text, a backend option) passes
    through here before it reaches an error message, so a crafted name cannot recolour
    the terminal, move the cursor, or hide part of the message. ANSI escape sequences
    are dropped; any other control character is shown as its escape (``\x07``).

    Args:
        text: What to show (converted with ``str``).
        newlines: Keep line breaks and tabs (False escapes them too, for one-line fields
            such as file names).

    Example:
        >>> printable("\x1b[31mred\x1b[0m file\x07.mp4")
        'red file\\x07.mp4'
        >>> printable("a\nb", newlines=False)
        'a\\nb'
    """
    s = _ANSI.sub("", str(text))
    pattern = _CONTROL if newlines else _CONTROL_NL
    return pattern.sub(lambda m: repr(m.group(0))[1:-1], s)


class LipdubError(Exception):
    """Root of every error lipdub raises on purpose.

    Args:
        message: What failed, in one sentence.
        path: The file the error is about, if any.
        backend: The backend (registry name) the error is about, if any.
        hint: What the user can do next (a command, an environment variable, a URL).

    Example:
        >>> err = LipdubError("cannot read clip", path="in.mp4", hint="re-encode it")
        >>> str(err)
        'in.mp4: cannot read clip (re-encode it)'
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        backend: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.backend = backend
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if self.path is not None and self.path not in text:
            text = f"{printable(self.path, newlines=False)}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return printable(text)

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), self.message, self.path, self.backend, self.hint, dict(self.__dict__)),
        )


def _rebuild(
    cls: type[LipdubError],
    message: str,
    path: str | None,
    backend: str | None,
    hint: str | None,
    state: dict[str, Any],
) -> LipdubError:
    err = cls.__new__(cls)
    LipdubError.__init__(err, message, path=path, backend=backend, hint=hint)
    err.__dict__.update(state)
    return err


class InputError(LipdubError, ValueError):
    """An argument or input value lipdub cannot use (names the field or file)."""


class MediaError(InputError):
    """A file that is missing, not media, truncated, or lacks the needed stream."""


class NoSpeechError(InputError):
    """There is nothing to dub: no speech was found or the transcript is empty."""


class TimingFitError(InputError):
    """Translated lines too long for their time even at the fastest rate allowed.

    ``lines`` holds their indices (0-based, as in ``timing.<lang>.json``). The ways on:
    shorten them, raise ``max_rate``, or accept the cut (``allow_truncation``).
    """

    lines: tuple[int, ...] = ()


class UnknownLanguageError(InputError):
    """A language code that is not a valid BCP-47 tag or that the backend does not support."""


class BackendError(LipdubError):
    """A component (transcriber, translator, voice, detector, lip-syncer) cannot be used."""


class UnknownBackendError(BackendError, KeyError):
    """No backend is registered under the requested name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self._render()


class BackendNotInstalled(BackendError, ImportError):
    """The backend exists but its optional dependencies are not installed.

    The hint names the ``pip install "lipdub[extra]"`` command that fixes it.
    """


class CloningNotSupported(BackendError):
    """A voice backend that speaks only its own voices was given a reference clip.

    Only backends whose :attr:`~lipdub.voice.base.VoiceSynth.clones` is True take one
    (``"match"``, ``"chatterbox"``).
    """


class ModelError(LipdubError, OSError):
    """Model weights could not be downloaded, found, verified or loaded."""


class ModelNotFoundError(ModelError):
    """The weights are not in the cache and could not be downloaded (offline or failed)."""


class ChecksumMismatch(ModelError):
    """A weights file has the wrong size or sha256: it is not the expected file."""


class CheckpointError(ModelError):
    """A weights file could be read but does not hold the expected network."""


class NoFaceError(LipdubError, ValueError):
    """No face was found in any frame of the input."""


class CloudServiceError(LipdubError, RuntimeError):
    """A remote service (Google Cloud) refused the request or failed after retries."""


class CredentialsError(CloudServiceError):
    """Credentials for a cloud backend are missing or invalid."""


class PipelineError(LipdubError, RuntimeError):
    """A stage of the dubbing or lip-sync pipeline failed; ``__cause__`` holds the reason."""


class EditConflict(LipdubError, RuntimeError):
    """A stage's inputs changed under an artifact the user edited; nothing was overwritten.

    ``path`` is the edited file. The hint gives the two ways on: keep the edit
    (``keep=`` / ``--keep STAGE``) or regenerate it (``redo=`` / ``--redo STAGE``, which
    first moves the edit aside to a timestamped backup).
    """


class Cancelled(LipdubError):
    """The caller cancelled the run (its ``cancel`` event was set).

    Finished artifacts are kept in the work directory and no partial output is left;
    running again resumes from them.
    """
