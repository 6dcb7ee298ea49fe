"""What one dub run is asked to do: :class:`RunRequest`, the arguments of ``run()``.

:meth:`DubbingPipeline.run <lipdub.dub.pipeline.DubbingPipeline.run>` takes the input,
the target language(s) and the output positionally and the rest as keywords, and
builds one :class:`RunRequest` from them; :func:`~lipdub.dub.execute.run_plan` takes
that. The fields are declared here and nowhere else. Building a request checks each
field's type, so a wrong one (``run(None, "es")``, ``on_event=42``) is one
:class:`~lipdub.errors.InputError` naming it before anything is written. What the
values mean (a known language, a stage name, a readable video) the run checks later.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lipdub._checks import (
    bool_arg,
    callable_arg,
    cancel_arg,
    describe,
    instance_arg,
    names_arg,
    optional_path_arg,
    path_arg,
    str_arg,
)
from lipdub.dub.arguments import check_targets
from lipdub.errors import InputError

if TYPE_CHECKING:
    from lipdub.dub.options import DubOptions
    from lipdub.events import CancelSignal, EventCallback

__all__ = ["RunRequest"]


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """The arguments of one :meth:`~lipdub.dub.pipeline.DubbingPipeline.run`.

    Attributes:
        input: A video with speech, or a still image (then ``text`` is required).
        target_language: BCP-47 code of the dub (``"es"``, ``"pt-BR"``), or a list
            of codes; a list returns a list of results.
        output: Output video (default ``<input stem>.<lang>.mp4`` beside the
            input). With several languages it must contain ``{lang}``.
        source_language: Spoken language (None: detected by the transcriber; with
            ``text``, None means the text is already in the target language).
        voice: Voice name (None: the voice backend's default for the language);
            ``"clone"``: each speaker in their own voice (needs a cloning backend,
            e.g. ``DubbingPipeline(voice="clone")``).
        workdir: Where artifacts go (default ``<input>.lipdub/`` beside the input).
        resume: Reuse artifacts whose inputs did not change (False redoes every
            stage, moving the user's edits aside to timestamped backups first).
        stop_after: End after this stage, one of
            :data:`~lipdub.dub.stages.STOPS` (``"transcribe"`` to review the
            transcript, ``"speak"`` to listen to the dub before the slow lip-sync).
        text: Speak this text instead of transcribing the input.
        transcript: Use this transcript file (JSON, or SRT with
            ``source_language``) instead of transcribing.
        translation: Use this translation file (JSON, or SRT) for the (single)
            target language instead of translating.
        redo: Stages to redo even if they could be reused (``"translate"``...);
            the user's edited artifacts of those stages are moved aside first.
        keep: Stages whose edited artifact is kept even though its inputs changed.
        options: Dub options (default: the pipeline's).
        on_event: Progress callback (see :mod:`lipdub.events`).
        cancel: Set it (a :class:`threading.Event`) from another thread to stop the
            run within about a second with :class:`~lipdub.errors.Cancelled`; the
            finished artifacts stay and the next run resumes from them.

    Example:
        >>> RunRequest(input="talk.mp4", target_language="es", stop_after="speak").resume
        True
        >>> RunRequest(input="talk.mp4", target_language="es", resume="no")
        Traceback (most recent call last):
        ...
        lipdub.errors.InputError: resume must be True or False; got str 'no'
    """

    input: str | os.PathLike[str]
    target_language: str | Sequence[str]
    output: str | os.PathLike[str] | None = None
    source_language: str | None = None
    voice: str | None = None
    workdir: str | os.PathLike[str] | None = None
    resume: bool = True
    stop_after: str | None = None
    text: str | None = None
    transcript: str | os.PathLike[str] | None = None
    translation: str | os.PathLike[str] | None = None
    redo: Sequence[str] = ()
    keep: Sequence[str] = ()
    options: DubOptions | None = None
    on_event: EventCallback | None = None
    cancel: CancelSignal | None = None

    def __post_init__(self) -> None:
        from lipdub.dub.options import DubOptions
        from lipdub.dub.stages import STOPS

        path_arg(self.input, "input")
        check_targets(self.target_language)
        optional_path_arg(self.output, "output")
        str_arg(self.source_language, "source_language", optional=True, empty=False)
        str_arg(self.voice, "voice", optional=True, empty=False)
        optional_path_arg(self.workdir, "workdir")
        bool_arg(self.resume, "resume")
        if self.stop_after is not None and self.stop_after not in STOPS:
            raise InputError(
                f"stop_after must be one of {', '.join(map(repr, STOPS))} or None; "
                f"got {describe(self.stop_after)}"
            )
        str_arg(self.text, "text", optional=True)
        optional_path_arg(self.transcript, "transcript")
        optional_path_arg(self.translation, "translation")
        names_arg(self.redo, "redo")
        names_arg(self.keep, "keep")
        if self.options is not None:
            instance_arg(self.options, "options", DubOptions, "a DubOptions or None")
        callable_arg(self.on_event, "on_event")
        cancel_arg(self.cancel)

    @classmethod
    def of(
        cls,
        input: str | os.PathLike[str],
        target_language: str | Sequence[str],
        output: str | os.PathLike[str] | None,
        keywords: Mapping[str, Any],
    ) -> RunRequest:
        """A request from ``run()``'s arguments; an unknown keyword is a TypeError naming it."""
        known = {f.name for f in dataclasses.fields(cls)}
        for name in keywords:
            if name not in known:
                raise TypeError(f"run() got an unexpected keyword argument {name!r}")
        return cls(input=input, target_language=target_language, output=output, **keywords)
