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
        run.values["track"] = track
        return [track.save(self.artifacts(run, lang)[0])]

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
    return [
        content_key(run.wd.path(f"translation.{lang.target}.json")),
        run.options.max_chars_per_line,
    ]


class Subtitles(Stage):
    """Subtitle files beside the output, for the target and the source language."""

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
        return [p for _, p in self._paths(run, lang)]

    def key(self, run: Run, lang: Lang | None) -> str:
        assert lang is not None
        return settings_key(
            content_key(run.values["transcript_path"]),
            content_key(run.wd.path(f"translation.{lang.target}.json")),
            content_key(run.wd.path(f"timing.{lang.target}.json")),
            run.options.max_chars_per_line,
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
        written = [cues[which].save(path) for which, path in self._paths(run, lang)]
        lang.values["subtitles"] = tuple(written)
        return written
