"""Every path the review page reads or writes goes through :class:`ReviewFiles`.

A work directory is data that people share, and its manifest may name any path. So:

* a work-directory file is used only when it lies inside the work directory once
  resolved (a symlink that leaves it counts as outside) and is a regular file;
* the input video and the outputs are trusted only when they come from the session's
  arguments or from lipdub's naming rule (``talk.mp4.lipdub`` belongs to ``talk.mp4``;
  outputs are ``talk.<lang>.mp4`` beside a trusted input). One that only the manifest
  names may be *read* when it probes as media, and is never written;
* saves only ever go to ``transcript.<lang>.json`` / ``translation.<lang>.json``
  directly inside the work directory.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lipdub import artifacts
from lipdub._io import file_kind
from lipdub.dub.stages import Transcribe
from lipdub.errors import InputError, printable
from lipdub.review.schema import LANGUAGE

if TYPE_CHECKING:
    from lipdub.dub.workdir import Workdir

__all__ = ["Missing", "Refused", "ReviewFiles"]

logger = logging.getLogger(__name__)


def _text_kind(name: str) -> tuple[str, str] | None:
    """``("transcript" | "translation", language)`` of a text artifact's name, else None."""
    kinds = (("transcript", artifacts.TRANSCRIPT), ("translation", artifacts.TRANSLATION))
    for kind, pattern in kinds:
        lang = artifacts.language_of(name, pattern)
        if lang is not None and not any(c in lang for c in "./\\"):
            return kind, lang
    return None


#: The longest path the page may ask for under ``files/``.
MAX_PATH = 1024


class Refused(InputError):
    """A path the page may not use: outside the work directory, or not a regular file."""


class Missing(InputError):
    """A file the page may use, but that is not there (yet)."""


def _name(path: object) -> str:
    return printable(path, newlines=False)


class ReviewFiles:
    """The one guard between the review page and the disk.

    Args:
        root: The work directory, resolved.
        manifest: Returns the work directory's current :class:`Workdir` (its manifest
            is read for the transcript, the input and the outputs, never trusted).
        input: The input video the session was given (trusted), or None.
        output: The output the session was given, ``{lang}`` for the language
            (trusted), or None.
    """

    def __init__(
        self,
        root: Path,
        manifest: Callable[[], Workdir],
        *,
        input: Path | None = None,
        output: str | None = None,
    ) -> None:
        self.root = root
        self._manifest = manifest
        self._input_arg = input
        self._output_arg = output
        self._probed: dict[tuple[str, int, int], bool] = {}
        self._probe_lock = threading.Lock()
        self._warned: set[str] = set()

    def _warn(self, message: str) -> None:
        """Log a refused work-directory entry once (the page asks for its state often)."""
        with self._probe_lock:
            if message in self._warned:
                return
            self._warned.add(message)
        logger.warning("%s", message)

    # ------------------------------------------------------------ work directory
    def inside(self, relative: str) -> Path:
        """A regular file inside the work directory, symlinks resolved.

        Raises:
            Refused: the path leaves the work directory, or names no regular file.
            Missing: there is no such file.
        """
        if not relative or len(relative) > MAX_PATH or "\x00" in relative:
            raise Refused(f"refused path {_name(relative[:80])!r}", path=self.root)
        if Path(relative).is_absolute():
            raise Refused(f"refused path {_name(relative)!r}: absolute", path=self.root)
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or candidate == self.root:
            raise Refused(f"{_name(relative)!r} is outside the work directory", path=self.root)
        kind = file_kind(candidate)
        if kind == "missing":
            raise Missing(f"no file {_name(relative)!r} in the work directory", path=self.root)
        if kind is not None:
            raise Refused(f"{_name(relative)!r} is {kind}, not a regular file", path=self.root)
        return candidate

    def text_file(self, name: str) -> Path:
        """``transcript.<lang>.json`` or ``translation.<lang>.json`` in the work directory.

        The path returned is the one to read and to save to: directly inside the work
        directory, whatever a manifest says.

        Raises:
            Refused: another name, or not a regular file inside the work directory.
            Missing: no such file.
        """
        m = _text_kind(name)
        if m is None or not LANGUAGE.fullmatch(m[1]):
            raise Refused(
                f"{_name(name)!r} is not a transcript or translation name", path=self.root
            )
        self.inside(name)  # resolved, inside, a regular file
        return self.root / name

    def transcript(self) -> Path | None:
        """The source transcript: the manifest's when it passes :meth:`text_file`, else
        the only ``transcript.<lang>.json`` of the work directory."""
        for path in self._manifest().files_of(Transcribe.name):
            name = path.name if path.parent == self.root else None
            try:
                if name is None:
                    raise Refused(f"{_name(path)} is not in the work directory")
                return self.text_file(name)
            except (Refused, Missing) as e:
                self._warn(f"the manifest's transcript entry is not used: {e.message}")
        found = []
        for entry in self._entries():
            if artifacts.language_of(entry, artifacts.TRANSCRIPT) is not None:
                try:
                    found.append(self.text_file(entry))
                except (Refused, Missing):
                    continue
        return found[0] if len(found) == 1 else None

    def languages(self) -> list[str]:
        """Target languages with a usable ``translation.<lang>.json``."""
        langs = []
        for entry in self._entries():
            m = _text_kind(entry)
            if m is None or m[0] != "translation":
                continue
            try:
                self.text_file(entry)
            except (Refused, Missing) as e:
                self._warn(e.message)
                continue
            langs.append(m[1])
        return langs

    def _entries(self) -> list[str]:
        """The work directory's file names, sorted ([] if it cannot be listed)."""
        try:
            return sorted(os.listdir(self.root))
        except OSError as e:
            self._warn(f"cannot list the work directory: {e.strerror or e}")
            return []

    def translation(self, language: str) -> Path:
        """``translation.<language>.json`` (see :meth:`text_file`)."""
        return self.text_file(artifacts.translation(language))

    # ------------------------------------------------------------ input and outputs
    def _input(self) -> tuple[Path, bool] | None:
        """The input video and whether it is trusted (argument or naming rule)."""
        if self._input_arg is not None:
            return self._input_arg, True
        if self.root.name.endswith(".lipdub") and len(self.root.name) > len(".lipdub"):
            own = self.root.with_name(self.root.name[: -len(".lipdub")])
            if file_kind(own) is None:
                return own, True
        named = self._manifest().meta.get("input")
        if not isinstance(named, str) or not named or "\x00" in named:
            return None
        path = Path(named)
        if not path.is_absolute():
            here = path.resolve()
            # a relative name from another directory: the default work directory lies
            # beside its input
            path = here if here.is_file() else self.root.parent / path.name
        return path, False

    @property
    def input(self) -> Path | None:
        """The input video's path (not checked: see :meth:`input_video`)."""
        found = self._input()
        return found[0] if found is not None else None

    @property
    def input_trusted(self) -> bool:
        """Whether the input came from the session's arguments or the naming rule."""
        found = self._input()
        return found is not None and found[1]

    def input_video(self) -> Path:
        """The input video, to read.

        Raises:
            Missing: no input is named, or it is not there.
            Refused: only the manifest names it, and it is not media.
        """
        found = self._input()
        if found is None:
            raise Missing("the work directory does not name the input video", path=self.root)
        return self._readable(*found, what="input video")

    def output_video(self, language: str) -> Path:
        """The dubbed video of ``language``, to read.

        Raises:
            Missing: not made yet (or an unknown language).
            Refused: only the manifest names it, and it is not media.
        """
        if not LANGUAGE.fullmatch(language) or language not in self.languages():
            raise Missing(f"no translation {_name(language)!r} in the work directory")
        if self._output_arg is not None:
            return self._readable(self._output(language), True, what="output video")
        refused: Refused | None = None  # a manifest entry that is not media: say so
        missing: Missing = Missing(f"the {language} dub is not made yet")
        candidates: list[tuple[Path, bool]] = []
        # the record as it is (untrusted): an output may lie anywhere, so each one is
        # read only if it probes as media (``_readable``), and never written
        for path in self._manifest().recorded(f"lipsync:{language}"):
            candidates.append((path, False))
        found = self._input()
        if found is not None:
            default = found[0].with_name(f"{found[0].stem}.{language}.mp4")
            candidates.append((default, found[1]))
        for path, trusted in candidates:
            try:
                return self._readable(path, trusted, what="output video")
            except Refused as e:
                refused = refused or e
            except Missing as e:
                missing = e
        raise refused or missing

    def _output(self, language: str) -> Path:
        assert self._output_arg is not None
        return Path(self._output_arg.replace("{lang}", language))

    def run_output(self, language: str) -> Path | None:
        """Where a run may write the dub of ``language`` (None: the pipeline's default
        beside a trusted input).

        Raises:
            Refused: the input only the manifest names, and no output was given.
        """
        if self._output_arg is not None:
            return self._output(language)
        if self.input_trusted:
            return None
        where = self.input
        raise Refused(
            "the output would go beside the input video that only the work directory's "
            f"manifest names ({_name(where) if where else 'none'})",
            path=self.root,
            hint="name the input or the output: lipdub review WORKDIR --input VIDEO (or -o OUT)",
        )

    def _readable(self, path: Path, trusted: bool, *, what: str) -> Path:
        kind = file_kind(path)
        if kind == "missing":
            raise Missing(f"the {what} is not there: {_name(path.name)}", path=self.root)
        if kind is not None:
            raise Refused(f"the {what} {_name(path.name)} is {kind}", path=self.root)
        if not trusted and not self._is_media(path):
            raise Refused(
                f"the {what} the manifest names is not media: {_name(path)}",
                path=self.root,
                hint="open the review with --input VIDEO (or -o OUT)",
            )
        return path

    def _is_media(self, path: Path) -> bool:
        """Whether ``path`` probes as a video (cached by size and mtime)."""
        try:
            st = path.stat()
        except OSError:
            return False
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._probe_lock:
            if key in self._probed:
                return self._probed[key]
        from lipdub.media import probe

        try:
            probe(path)
            ok = True
        except Exception as e:  # any failure to probe means: not media
            self._warn(f"{_name(path)} does not probe as media: {printable(e, newlines=False)}")
            ok = False
        with self._probe_lock:
            self._probed[key] = ok
        return ok
