"""The picture stages: the face track, the lip-synced output, its subtitles."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub import artifacts
from lipdub._hashing import content_key, settings_key
from lipdub.dub import operations
from lipdub.dub.runner import LangStage, Run, Stage, component_identity
from lipdub.dub.state import Faced, Mixed, Subtitled, Synced, Tracked, Voiced, advance
from lipdub.types import Transcript

if TYPE_CHECKING:
    from lipdub.dub.workdir import StageRecord

__all__ = ["LipSync", "Subtitles", "Track"]


class Track(Stage[Voiced, Tracked]):
    """The face through the video, ``facetrack.<key>.json`` (once per input and detector).

    The same file is :meth:`DubbingPipeline.track_faces
    <lipdub.dub.pipeline.DubbingPipeline.track_faces>`'s cache: a dub of the same video
    into another language (another work directory) can reuse it.
    """

    name = "track"

    def applies(self, run: Run, st: Voiced) -> bool:
        return not run.info.is_image

    def skip(self, run: Run, st: Voiced) -> Tracked:
        return advance(st, Tracked, track=None, track_key=None)

    def _key(self, run: Run) -> str:
        return run.memo(
            self.name, "key", lambda: operations.track_key(run.components.detector(), run.input)
        )

    def artifacts(self, run: Run, st: Voiced) -> list[Path]:
        return [run.path(artifacts.facetrack(self._key(run)))]

    def key(self, run: Run, st: Voiced) -> str:
        return self._key(run)

    def progress(self, run: Run, st: Voiced) -> tuple[float | None, str]:
        return run.info.frame_count, "frames"

    def load(self, run: Run, st: Voiced) -> tuple[Tracked, list[Path]]:
        from lipdub.faces.facetrack import FaceTrack

        track = FaceTrack.load(self.artifacts(run, st)[0])
        return advance(st, Tracked, track=track, track_key=self._key(run)), []

    def compute(self, run: Run, st: Voiced) -> tuple[Tracked, list[Path]]:
        track = operations.track_faces(run.components.detector(), run.input, on_event=run.on_event)
        written = [track.save(self.artifacts(run, st)[0])]
        out, _ = self.load(run, st)  # the track as a resumed run reads it (the file's rounding)
        return out, written

    def check(self, run: Run, out: Tracked) -> None:
        if not run.options.allow_no_face and out.track is not None:
            from lipdub.faces.track import require_face

            require_face(out.track, source=run.input)


class LipSync(LangStage[Faced, Mixed, Synced]):
    """The output video: lips synced to the dubbed speech, carrying the soundtrack."""

    name = "lipsync"
    own_events = True

    def artifacts(self, run: Run, src: Faced, st: Mixed) -> list[Path]:
        return [st.output]

    def key(self, run: Run, src: Faced, st: Mixed) -> str:
        opts = run.options
        syncer = run.components.lipsyncer()
        # one-time work the key depends on ("auto" precision measured, int8 built),
        # done here as reported steps rather than silently inside settings()
        syncer.prepare(on_event=run.on_event)
        return settings_key(
            run.input_key,
            content_key(run.path(artifacts.speech(st.target))),
            content_key(run.path(artifacts.dub(st.target))),
            src.track_key,
            component_identity(syncer),
            None if src.track is not None else component_identity(run.components.detector()),
            list(opts.pads),
            opts.crf,
            opts.allow_no_face,
            _burned_subtitles_key(run, st),
            _engine_look(),
            *((src.faces_key,) if src.faces_key else ()),
        )

    def load(self, run: Run, src: Faced, st: Mixed) -> tuple[Synced, list[Path]]:
        rec = run.wd.get(f"{self.name}:{st.target}")
        info = rec.info if rec else {}
        total, synced = int(info.get("frames_total", 0)), int(info.get("frames_synced", 0))
        return advance(st, Synced, frames_total=total, frames_synced=synced), []

    def compute(self, run: Run, src: Faced, st: Mixed) -> tuple[Synced, list[Path]]:
        cues = None
        if run.options.burn_subtitles:
            from lipdub.dub.subtitles import subtitle_cues

            cues = subtitle_cues(
                st.translation, st.timing, max_chars_per_line=run.options.max_chars_per_line
            )
        result = operations.lipsync(
            run.components.lipsyncer(),
            run.components.detector,
            run.input,
            st.speech,
            st.output,
            run.options,
            soundtrack=st.soundtrack,
            speech_spans=st.timing.speech_spans,
            track=src.lipsync_track,
            subtitles=cues,
            on_event=run.on_event,
        )
        out = advance(
            st, Synced, frames_total=result.frames_total, frames_synced=result.frames_synced
        )
        return out, [st.output]

    def info(self, run: Run, src: Faced, out: Synced) -> dict[str, Any]:
        return {"frames_total": out.frames_total, "frames_synced": out.frames_synced}


def _engine_look() -> dict[str, Any]:
    """The lip-sync engine's defaults that change how the output looks (mask, blend)."""
    from lipdub.lipsync.options import LipSyncOptions

    defaults = LipSyncOptions()
    return {
        name: getattr(defaults, name)
        for name in ("mask", "feather", "color_match", "mouth_only", "preset")
    }


def _burned_subtitles_key(run: Run, lang: Mixed) -> Any:
    if not run.options.burn_subtitles:
        return None
    from lipdub.dub.subtitles import CUE_RULES

    return [
        content_key(run.path(artifacts.translation(lang.target))),
        run.options.max_chars_per_line,
        CUE_RULES,
    ]


class Subtitles(LangStage[Faced, Synced, Subtitled]):
    """Subtitle files beside the output, for the target and the source language.

    A file at one of those paths that lipdub did not write (no subtitle record of this
    work directory has it as it is now, and it does not already hold the cues) is the
    user's: it is kept and a notice says so; ``redo=["subtitles"]`` moves it aside to
    a timestamped ``.bak`` first.
    """

    name = "subtitles"

    def _paths(self, run: Run, src: Faced, lang: Synced) -> list[tuple[str, Path]]:
        source = src.source
        stem = lang.output.stem.removesuffix(f".{lang.target}")
        out: list[tuple[str, Path]] = []
        has_source_times = not run.info.is_image and source.segments[-1].end_s > 0
        for fmt in run.options.subtitles:
            target = artifacts.subtitle(stem, lang.target, fmt)
            out.append(("target", lang.output.with_name(target)))
            if has_source_times and source.language != lang.target:
                name = artifacts.subtitle(stem, source.language, fmt)
                out.append(("source", lang.output.with_name(name)))
        return out

    def artifacts(self, run: Run, src: Faced, st: Synced) -> list[Path]:
        return [p for _, p in self._paths(run, src, st)]

    def key(self, run: Run, src: Faced, st: Synced) -> str:
        from lipdub.dub.subtitles import CUE_RULES

        return settings_key(
            content_key(src.transcript_path),
            content_key(run.path(artifacts.translation(st.target))),
            content_key(run.path(artifacts.timing(st.target))),
            run.options.max_chars_per_line,
            CUE_RULES,
        )

    def load(self, run: Run, src: Faced, st: Synced) -> tuple[Subtitled, list[Path]]:
        return advance(st, Subtitled, subtitles=tuple(self.artifacts(run, src, st))), []

    def compute(self, run: Run, src: Faced, st: Synced) -> tuple[Subtitled, list[Path]]:
        from lipdub.dub.subtitles import subtitle_cues

        width = run.options.max_chars_per_line
        cues = {
            "target": subtitle_cues(st.translation, st.timing, max_chars_per_line=width),
            "source": subtitle_cues(src.source, None, max_chars_per_line=width),
        }
        written = []
        for which, path in self._paths(run, src, st):
            if (
                not _ours(run, path, st.target)
                and not _same_text(path, cues[which])
                and _keep_theirs(run, path)
            ):
                continue
            written.append(cues[which].save(path))
        return advance(st, Subtitled, subtitles=tuple(written)), written


def _ours(run: Run, path: Path, target: str) -> bool:
    """Whether ``path`` is as lipdub wrote it, by the subtitle records of every language
    (the source-language file is shared by the dubs of all target languages), as they
    were before this language's stage started (a --redo forgets its record first)."""
    if not path.is_file():
        return False
    wd = run.wd
    recorded = (
        artifacts.language_of(p.name, artifacts.TRANSLATION)
        for p in wd.root.glob(artifacts.pattern(artifacts.TRANSLATION))
    )
    langs = sorted({*run.targets, *(t for t in recorded if t)})
    return any(wd.state(path, _record(run, t, target)) == "ours" for t in langs)


def _record(run: Run, lang: str, current: str) -> StageRecord | None:
    sid = f"{Subtitles.name}:{lang}"
    return run.before.get(sid) if lang == current else run.wd.get(sid)


def _same_text(path: Path, cues: Transcript) -> bool:
    """Whether ``path`` already holds exactly what lipdub is about to write there (as
    when another language's dub, or another work directory, wrote the shared file)."""
    if path.is_symlink() or not path.is_file():
        return False
    text = (cues.to_vtt() if path.suffix == ".vtt" else cues.to_srt()).encode("utf-8")
    return path.stat().st_size == len(text) and path.read_bytes() == text


def _keep_theirs(run: Run, path: Path) -> bool:
    """Whether ``path`` is there and not lipdub's (a user's file, or one edited since):
    it is kept, and said so; with ``--redo subtitles`` it is moved aside to a ``.bak``."""
    if not (path.exists() or path.is_symlink()):
        return False
    if Subtitles.name in run.redo and path.is_file() and not path.is_symlink():
        backup = run.wd.move_aside(path, given=True)  # beside the output: ours to name
        run.notice(Subtitles.name, f"moved your {path.name} aside to {backup.name} (--redo)")
        return False
    run.notice(
        Subtitles.name,
        f"kept {path} (not written by lipdub, or edited since): its subtitles of this dub "
        "were not written; move it away, or pass --redo subtitles to have it moved aside "
        "to a .bak, and run again",
    )
    return True
