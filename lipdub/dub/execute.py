"""One dub run: check the arguments, lay out the work directory, walk :data:`PLAN`.

:meth:`DubbingPipeline.run <lipdub.dub.pipeline.DubbingPipeline.run>` is the public
entry point (its arguments: :class:`~lipdub.dub.request.RunRequest`); :func:`run_plan`
is its body: it turns the request into a :class:`~lipdub.dub.runner.Run` (targets,
outputs, the user's files adopted) and walks :data:`~lipdub.dub.stages.PLAN`, whose
every stage :func:`~lipdub.dub.runner.run_stage` reuses, adopts or computes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lipdub._io import same_file
from lipdub.dub.adopt import adopt_user_file
from lipdub.dub.result import DubResult, result_of, versions
from lipdub.errors import InputError, MediaError, NoSpeechError

if TYPE_CHECKING:
    from lipdub.dub.pipeline import DubbingPipeline
    from lipdub.dub.request import RunRequest

__all__ = ["parse_targets", "run_plan"]


def run_plan(pipeline: DubbingPipeline, request: RunRequest) -> list[DubResult]:
    """Run ``pipeline`` as ``request`` asks: one result per target language, in order.

    (``request.on_event`` is already wrapped so that it raises when ``cancel`` is set.)
    """
    from lipdub.dub.runner import Run
    from lipdub.dub.stages import NAMES, PLAN, Transcribe, Translate
    from lipdub.dub.state import Start, Target
    from lipdub.dub.workdir import Workdir, content_key
    from lipdub.languages import check_language
    from lipdub.media import probe

    components = pipeline.stage_components()
    voice, text, transcript, translation = (
        request.voice,
        request.text,
        request.transcript,
        request.translation,
    )
    if voice == "clone":  # each speaker in their own voice: needs a cloning backend
        from lipdub.dub.stages.voices import check_clone_request

        check_clone_request(components.voice())
        voice = None
    targets = parse_targets(request.target_language)
    src_lang = (
        check_language(request.source_language, what="source language")
        if request.source_language
        else None
    )
    in_path = Path(request.input)
    info = probe(in_path)
    if text is None and transcript is None and (info.is_image or not info.has_audio):
        kind = "still image" if info.is_image else "video without an audio track"
        raise MediaError(
            f"{in_path.name} is a {kind}, so there is no speech to transcribe",
            path=in_path,
            hint='give the words to speak with text="..." (CLI: --text or --text-file)',
        )
    if text is not None and not text.strip():
        raise NoSpeechError("the text to speak is empty", hint="pass non-empty text")
    outputs = _outputs(in_path, targets, request.output)
    stages = set(NAMES)
    for name in (*request.redo, *request.keep):
        if name not in stages:
            raise InputError(
                f"no stage named {name!r}", hint=f"use one of {', '.join(sorted(stages))}"
            )
    run = Run(
        components=components,
        wd=Workdir(
            Path(request.workdir)
            if request.workdir
            else in_path.with_name(f"{in_path.name}.lipdub")
        ),
        input=in_path,
        input_key=content_key(in_path),
        info=info,
        options=request.options or pipeline.options,
        targets=tuple(targets),
        source_language=src_lang,
        text=text,
        voice=voice,
        redo=frozenset(request.redo if request.resume else stages),
        keep=frozenset(request.keep),
        on_event=request.on_event,
        cancel=request.cancel,
    )
    langs: list[object] = [Target(t, o) for t, o in zip(targets, outputs, strict=True)]
    if transcript is not None:
        adopt_user_file(run, Path(transcript), Transcribe.name, None)
    if translation is not None:
        if len(targets) != 1:
            raise InputError(
                "translation= gives one language's translation, but the run has "
                f"{len(targets)} targets",
                path=Path(translation),
                hint="dub one language at a time with --translation",
            )
        adopt_user_file(run, Path(translation), Translate.name, targets[0])
    run.wd.set_meta(input=str(in_path), versions=versions())

    state, langs = PLAN.walk(run, Start(), langs, request.stop_after)

    run.wd.set_meta(backends=pipeline.resolved_backends())
    return [result_of(run, state, lang) for lang in langs]


def _default_workdir(input: Path) -> Path:
    return input.with_name(f"{input.name}.lipdub")


def parse_targets(target_language: str | Sequence[str]) -> list[str]:
    """Target languages, checked and without repeats, from a code, a comma list or a list.

    Example:
        >>> parse_targets(["es", "fr,es"])
        ['es', 'fr']
    """
    from lipdub.languages import check_language

    raw = [target_language] if isinstance(target_language, str) else list(target_language)
    targets: list[str] = []
    for t in raw:
        for part in str(t).split(","):
            if part.strip():
                code = check_language(part.strip(), what="target language")
                if code not in targets:
                    targets.append(code)
    if not targets:
        raise InputError("no target language given", hint="pass e.g. 'es' or ['es', 'fr']")
    return targets


def _outputs(input: Path, targets: list[str], output: str | os.PathLike[str] | None) -> list[Path]:
    if output is None:
        outs = [input.with_name(f"{input.stem}.{t}.mp4") for t in targets]
    else:
        pattern = os.fspath(output)
        if len(targets) > 1 and "{lang}" not in pattern:
            raise InputError(
                f"{len(targets)} target languages need one output each",
                path=Path(pattern),
                hint="put {lang} in the output name, e.g. -o 'talk.{lang}.mp4', or leave -o out",
            )
        outs = [Path(pattern.replace("{lang}", t)) for t in targets]
    for out in outs:
        if same_file(input, out):
            raise InputError(
                "the output would overwrite the input video",
                path=out,
                hint="choose another output name (-o)",
            )
    return outs
