"""The picture stages: the face track, the lip-synced output, its subtitles."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub._hashing import content_key, settings_key
from lipdub.dub.runner import Lang, Run, Stage, component_identity
from lipdub.types import Transcript

if TYPE_CHECKING:
    from lipdub.dub.report import TimingReport

__all__ = ["LipSync", "Subtitles", "Track"]


class Track(Stage):
    """The face through the video, ``facetrack.<key>.json`` (once per input and detector)."""

    name = "track"

    def applies(self, run: Run, lang: Lang | None) -> bool:
        return not run.info.is_image

    def _key(self, run: Run) -> str:
        if "track_key" not in run.values:
            from lipdub.faces.track import FaceTracker, track_cache_key

            tracker = FaceTracker(run.pipeline.component("detector"))
            run.values["track_key"] = track_cache_key(run.input, tracker.settings)
        key: str = run.values["track_key"]
        return key

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        return [run.wd.path(f"facetrack.{self._key(run)}.json")]

    def key(self, run: Run, lang: Lang | None) -> str:
        return self._key(run)

    def progress(self, run: Run, lang: Lang | None) -> tuple[float | None, str]:
        return run.info.frame_count, "frames"

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        from lipdub.faces.track import FaceTrack

        run.values["track"] = FaceTrack.load(self.artifacts(run, lang)[0])
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        track = run.pipeline.track_faces(run.input, on_event=run.on_event)
        written = [track.save(self.artifacts(run, lang)[0])]
        self.load(run, lang)  # the track as a resumed run reads it (the file's rounding)
        return written

    def check(self, run: Run, lang: Lang | None) -> None:
        if not run.options.allow_no_face:
            from lipdub.faces.track import require_face

            require_face(run.values["track"], source=run.input)


class LipSync(Stage):
    """The output video: lips synced to the dubbed speech, carrying the soundtrack."""

    name = "lipsync"
    per_language = True
    own_events = True

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        return [lang.output]

    def key(self, run: Run, lang: Lang | None) -> str:
        assert lang is not None
        opts = run.options
        pipe = run.pipeline
        syncer = pipe.component("lipsyncer")
        # one-time work the key depends on ("auto" precision measured, int8 built),
        # done here as reported steps rather than silently inside settings()
        syncer.prepare(on_event=run.on_event)
        return settings_key(
            run.input_key,
            content_key(run.wd.path(f"speech.{lang.target}.wav")),
            content_key(run.wd.path(f"dub.{lang.target}.wav")),
            run.values.get("track_key"),
            component_identity(syncer),
            None if "track" in run.values else component_identity(pipe.component("detector")),
            list(opts.pads),
            opts.crf,
            opts.allow_no_face,
            _burned_subtitles_key(run, lang),
            _engine_look(),
            *_faces_part(run),
        )

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        rec = run.wd.get(self.stage_id(lang))
        info = rec.info if rec else {}
        lang.values["frames_total"] = int(info.get("frames_total", 0))
        lang.values["frames_synced"] = int(info.get("frames_synced", 0))
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        cues = None
        if run.options.burn_subtitles:
            from lipdub.dub.subtitles import subtitle_cues

            cues = subtitle_cues(
                lang.values["translation"],
                lang.values["timing"],
                max_chars_per_line=run.options.max_chars_per_line,
            )
        timing: TimingReport = lang.values["timing"]
        result = run.pipeline.lipsync(
            run.input,
            lang.values["speech"],
            lang.output,
            soundtrack=lang.values["soundtrack"],
            speech_spans=timing.speech_spans,
            track=run.values.get("lipsync_track", run.values.get("track")),
            subtitles=cues,
            options=run.options,
            on_event=run.on_event,
        )
        lang.values["frames_total"] = result.frames_total
        lang.values["frames_synced"] = result.frames_synced
        return [lang.output]

    def info(self, run: Run, lang: Lang | None) -> dict[str, Any]:
        assert lang is not None
        return {
            "frames_total": lang.values["frames_total"],
            "frames_synced": lang.values["frames_synced"],
        }


def _engine_look() -> dict[str, Any]:
    """The lip-sync engine's defaults that change how the output looks (mask, blend)."""
    from lipdub.lipsync.options import LipSyncOptions

    defaults = LipSyncOptions()
    return {
        name: getattr(defaults, name)
        for name in ("mask", "feather", "color_match", "mouth_only", "preset")
    }


def _faces_part(run: Run) -> tuple[str, ...]:
    """The hash of ``faces.json`` when the faces stage ran (nothing otherwise)."""
    key = run.values.get("faces_key")
    return (key,) if key else ()


def _burned_subtitles_key(run: Run, lang: Lang) -> Any:
    if not run.options.burn_subtitles:
        return None
    from lipdub.dub.subtitles import CUE_RULES

    return [
        content_key(run.wd.path(f"translation.{lang.target}.json")),
        run.options.max_chars_per_line,
        CUE_RULES,
    ]


class Subtitles(Stage):
    """Subtitle files beside the output, for the target and the source language.

    A file at one of those paths that lipdub did not write (no subtitle record of this
    work directory has it as it is now, and it does not already hold the cues) is the
    user's: it is kept and a notice says so; ``redo=["subtitles"]`` moves it aside to
    a timestamped ``.bak`` first.
    """

    name = "subtitles"
    per_language = True

    def _paths(self, run: Run, lang: Lang) -> list[tuple[str, Path]]:
        source: Transcript = run.values["source"]
        stem = lang.output.stem.removesuffix(f".{lang.target}")
        out: list[tuple[str, Path]] = []
        has_source_times = not run.info.is_image and source.segments[-1].end_s > 0
        for fmt in run.options.subtitles:
            out.append(("target", lang.output.with_name(f"{stem}.{lang.target}.{fmt}")))
            if has_source_times and source.language != lang.target:
                out.append(("source", lang.output.with_name(f"{stem}.{source.language}.{fmt}")))
        return out

    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        paths = [p for _, p in self._paths(run, lang)]
        # Which of them lipdub wrote, noted now: a --redo forgets the record before compute.
        lang.values["subtitles_ours"] = frozenset(p for p in paths if _ours(run, p))
        return paths

    def key(self, run: Run, lang: Lang | None) -> str:
        from lipdub.dub.subtitles import CUE_RULES

        assert lang is not None
        return settings_key(
            content_key(run.values["transcript_path"]),
            content_key(run.wd.path(f"translation.{lang.target}.json")),
            content_key(run.wd.path(f"timing.{lang.target}.json")),
            run.options.max_chars_per_line,
            CUE_RULES,
        )

    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        assert lang is not None
        lang.values["subtitles"] = tuple(self.artifacts(run, lang))
        return []

    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        from lipdub.dub.subtitles import subtitle_cues

        assert lang is not None
        width = run.options.max_chars_per_line
        cues = {
            "target": subtitle_cues(
                lang.values["translation"], lang.values["timing"], max_chars_per_line=width
            ),
            "source": subtitle_cues(run.values["source"], None, max_chars_per_line=width),
        }
        ours = lang.values.get("subtitles_ours", frozenset())
        written = []
        for which, path in self._paths(run, lang):
            if path not in ours and not _same_text(path, cues[which]) and _keep_theirs(run, path):
                continue
            written.append(cues[which].save(path))
        lang.values["subtitles"] = tuple(written)
        return written


def _ours(run: Run, path: Path) -> bool:
    """Whether ``path`` is as lipdub wrote it, by the subtitle records of every language
    (the source-language file is shared by the dubs of all target languages)."""
    if not path.is_file():
        return False
    wd = run.wd
    recorded = (p.name.split(".")[1] for p in wd.root.glob("translation.*.json"))
    langs = sorted({*run.values["targets"], *recorded})
    return any(wd.state(path, wd.get(f"{Subtitles.name}:{t}")) == "ours" for t in langs)


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
