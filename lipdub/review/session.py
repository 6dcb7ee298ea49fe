"""What the review page reads and changes in a work directory (no web code here).

A :class:`ReviewSession` reads a dub's work directory (transcript, translations, timing
reports, manifest), saves a person's edit of one line the way a hand edit is saved
(atomically; the work-directory rules then treat the file as the user's), and runs the
rest of the dub in a background :class:`Job` whose events the page follows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lipdub._hashing import file_sha256
from lipdub.errors import Cancelled, EditConflict, InputError, LipdubError
from lipdub.types import Transcript

if TYPE_CHECKING:
    from lipdub.dub.options import DubOptions
    from lipdub.dub.pipeline import DubbingPipeline
    from lipdub.events import Event

__all__ = ["Busy", "Job", "JobKind", "ReviewSession", "StaleVersion"]

logger = logging.getLogger(__name__)

JobKind = Literal["speak", "finish"]


class StaleVersion(InputError):
    """The file changed since the page loaded it (another tab, an editor, a run)."""


class Busy(InputError):
    """A job is already running; one at a time."""


@dataclass
class Job:
    """One background run of the pipeline, followed by the page."""

    kind: JobKind
    language: str
    cancel: threading.Event = field(default_factory=threading.Event)
    state: Literal["running", "done", "failed", "cancelled"] = "running"
    message: str = ""
    hint: str = ""
    conflict: bool = False
    ran: tuple[str, ...] = ()
    reused: tuple[str, ...] = ()
    spoken: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def push(self, event: Event) -> None:
        """Record one pipeline event (the pipeline's ``on_event``)."""
        row = {"type": type(event).__name__, **dataclasses.asdict(event)}
        with self._lock:
            row["id"] = len(self.events) + 1
            self.events.append(row)

    def since(self, n: int) -> list[dict[str, Any]]:
        """Events after the ``n`` first."""
        with self._lock:
            return list(self.events[n:])

    def summary(self) -> dict[str, Any]:
        """The job's state as JSON-ready data."""
        return {
            "kind": self.kind,
            "language": self.language,
            "state": self.state,
            "message": self.message,
            "hint": self.hint,
            "conflict": self.conflict,
            "ran": list(self.ran),
            "reused": list(self.reused),
            "spoken": self.spoken,
            "events": len(self.events),
        }


class ReviewSession:
    """A dub's work directory opened for review.

    Args:
        workdir: The work directory of a dub (it has a ``manifest.json``).
        pipeline: The pipeline that runs the remaining stages; give it the components
            the dub was made with, or every stage they key will be redone.
        options: The dub options of the run (None: the pipeline's).
        voice: The voice name of the run.
        input: The input video (None: the one the manifest names).
        output: The output video, ``{lang}`` for the language (None: the one the
            manifest names, else the pipeline's default beside the input).

    Raises:
        InputError: not a work directory lipdub made, or no transcript in it.
    """

    def __init__(
        self,
        workdir: str | Path,
        pipeline: DubbingPipeline,
        *,
        options: DubOptions | None = None,
        voice: str | None = None,
        input: str | Path | None = None,
        output: str | None = None,
    ) -> None:
        from lipdub.dub.workdir import Workdir

        self.root = Path(workdir).resolve()
        if not (self.root / "manifest.json").is_file():
            raise InputError(
                "not a lipdub work directory (no manifest.json)",
                path=self.root,
                hint="run `lipdub dub VIDEO --to LANG --stop-after translate` first",
            )
        self.wd = Workdir(self.root)
        self.pipeline = pipeline
        self.options = options
        self.voice = voice
        meta_input = self.wd.meta.get("input")
        if input is None and not meta_input:
            raise InputError("the manifest does not name the input video", path=self.root)
        self.input = Path(input if input is not None else str(meta_input)).resolve()
        if input is None and not self.input.is_file():
            # a relative name from another directory: the default work directory lies
            # beside its input
            beside = self.root.parent / Path(str(meta_input)).name
            if beside.is_file():
                self.input = beside
        self.output = output
        self.job: Job | None = None
        self._lock = threading.Lock()
        if self.transcript_path() is None:
            raise InputError(
                "the work directory has no transcript yet",
                path=self.root,
                hint="run `lipdub dub VIDEO --to LANG --stop-after transcribe` first",
            )

    # ------------------------------------------------------------------ reading
    def transcript_path(self) -> Path | None:
        """The current source transcript (the one the manifest records, else the only one)."""
        files = self.wd.files_of("transcribe")
        if files and files[0].is_file():
            return files[0]
        found = sorted(self.root.glob("transcript.*.json"))
        return found[0] if len(found) == 1 else None

    def languages(self) -> list[str]:
        """Target languages with a translation in the work directory."""
        langs = {p.name.split(".")[1] for p in self.root.glob("translation.*.json")}
        return sorted(langs)

    def output_path(self, language: str) -> Path | None:
        """Where the dubbed video of ``language`` is (or goes); None for the default."""
        if self.output is not None:
            return Path(self.output.replace("{lang}", language))
        for name in self.wd.files_of(f"lipsync:{language}"):
            return name
        return None

    def _default_output(self, language: str) -> Path:
        return self.output_path(language) or self.input.with_name(
            f"{self.input.stem}.{language}.mp4"
        )

    def existing_output(self, language: str) -> Path | None:
        """The dubbed video of ``language`` if it exists."""
        out = self._default_output(language)
        return out if out.is_file() else None

    def text_path(self, kind: str, language: str | None) -> Path:
        """``"source"``: the transcript; ``"target"``: ``translation.<language>.json``."""
        if kind == "source":
            path = self.transcript_path()
            if path is None:
                raise InputError("no transcript in the work directory", path=self.root)
            return path
        if kind == "target" and language in self.languages():
            return self.root / f"translation.{language}.json"
        raise InputError(f"nothing to edit for {kind!r} / {language!r}", path=self.root)

    def state(self, language: str | None = None) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready data."""
        langs = self.languages()
        lang = language if language in langs else (langs[0] if langs else None)
        src_path = self.text_path("source", None)
        source = Transcript.load(src_path)
        target: Transcript | None = None
        timing: dict[int, dict[str, Any]] = {}
        versions = {"source": file_sha256(src_path)}
        if lang is not None:
            tpath = self.root / f"translation.{lang}.json"
            target = Transcript.load(tpath, lang)
            versions["target"] = file_sha256(tpath)
            timing_path = self.root / f"timing.{lang}.json"
            if timing_path.is_file():
                try:
                    rows = json.loads(timing_path.read_text(encoding="utf-8"))["segments"]
                    timing = {int(r["index"]): r for r in rows}
                except (OSError, ValueError, KeyError, TypeError) as e:
                    logger.warning("cannot read %s: %s", timing_path, e)
        rows_out = []
        for i, seg in enumerate(source.segments):
            tseg = target.segments[i] if target is not None and i < len(target.segments) else None
            t = timing.get(i)
            rows_out.append(
                {
                    "index": i,
                    "start_s": seg.start_s,
                    "end_s": seg.end_s,
                    "speaker": seg.speaker,
                    "source": seg.text,
                    "target": tseg.text if tseg is not None else None,
                    "timing": t,
                    # the dubbed line was spoken from other text: speak it again
                    "stale": bool(t is not None and tseg is not None and t["text"] != tseg.text),
                }
            )
        duration = max([seg.end_s for seg in source.segments] or [0.0])
        duration = max([duration, *(float(t["end_s"]) for t in timing.values())])
        with self._lock:
            job = self.job.summary() if self.job is not None else None
        out = self.existing_output(lang) if lang is not None else None
        return {
            "workdir": str(self.root),
            "input": self.input.name,
            "languages": langs,
            "language": lang,
            "source_language": source.language,
            "duration_s": duration,
            "rows": rows_out,
            "versions": versions,
            "has_speech": lang is not None and (self.root / f"speech.{lang}.wav").is_file(),
            "has_source_audio": (self.root / "source.wav").is_file(),
            "output": out.name if out is not None else None,
            "output_mtime": out.stat().st_mtime if out is not None else None,
            "job": job,
        }

    # ------------------------------------------------------------------ files
    def work_file(self, relative: str) -> Path:
        """A file inside the work directory, symlinks resolved.

        Raises:
            InputError: the path leaves the work directory, or is not a file.
        """
        if not relative or "\x00" in relative or Path(relative).is_absolute():
            raise InputError(f"refused path {relative!r}", path=self.root)
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or candidate == self.root:
            raise InputError(f"{relative!r} is outside the work directory", path=self.root)
        if not candidate.is_file():
            raise InputError(f"no file {relative!r} in the work directory", path=self.root)
        return candidate

    # ------------------------------------------------------------------ editing
    def save_line(
        self,
        kind: str,
        language: str | None,
        index: int,
        version: str,
        *,
        text: str | None = None,
        speaker: str | None = None,
    ) -> str:
        """Change one line's text (and/or speaker) of the transcript or a translation.

        ``version`` is the sha256 of the file the page loaded; a file changed since is
        refused with :class:`StaleVersion`, never merged. Returns the new version.
        """
        path = self.text_path(kind, language)
        with self._lock:
            if self.job is not None and self.job.state == "running":
                raise Busy("a run is in progress; save when it ends")
            current = file_sha256(path)
            if current != version:
                raise StaleVersion(
                    f"{path.name} changed since this page loaded it",
                    path=path,
                    hint="reload the page to see the other change, then edit again",
                )
            transcript = Transcript.load(path, language if kind == "target" else None)
            if not 0 <= index < len(transcript.segments):
                raise InputError(f"no segment {index} in {path.name}", path=path)
            seg = transcript.segments[index]
            changes: dict[str, Any] = {}
            if text is not None:
                changes["text"] = " ".join(text.split())
            if speaker is not None:
                changes["speaker"] = speaker.strip() or None
            segments = list(transcript.segments)
            segments[index] = dataclasses.replace(seg, **changes)
            dataclasses.replace(transcript, segments=tuple(segments)).save(path)
            return file_sha256(path)

    # ------------------------------------------------------------------ running
    def start(
        self,
        kind: JobKind,
        language: str,
        *,
        keep: tuple[str, ...] = (),
        redo: tuple[str, ...] = (),
    ) -> Job:
        """Start ``"speak"`` (speech up to date) or ``"finish"`` (the whole dub) in a thread.

        Raises:
            Busy: a job is running.
            InputError: an unknown language.
        """
        if language not in self.languages():
            raise InputError(f"no translation for {language!r} in the work directory")
        with self._lock:
            if self.job is not None and self.job.state == "running":
                raise Busy("a run is already in progress")
            job = Job(kind, language)
            self.job = job
        thread = threading.Thread(
            target=self._run, args=(job, keep, redo), name=f"lipdub-review-{kind}", daemon=True
        )
        thread.start()
        return job

    def _speech_files(self) -> set[str]:
        folder = self.root / "speech"
        return {p.name for p in folder.glob("*.wav")} if folder.is_dir() else set()

    def _run(self, job: Job, keep: tuple[str, ...], redo: tuple[str, ...]) -> None:
        before = self._speech_files()
        rec = self.wd.get("transcribe")
        # the language the dub asked for (its key holds it); older manifests: the found one
        info = rec.info if rec is not None else {}
        asked = info["asked"] if "asked" in info else info.get("language")
        source_language = asked if isinstance(asked, str) else None
        t0 = time.perf_counter()
        state: Literal["done", "failed", "cancelled"] = "done"
        try:
            result = self.pipeline.run(
                self.input,
                job.language,
                self.output_path(job.language),
                source_language=source_language,
                voice=self.voice,
                workdir=self.root,
                stop_after="speak" if job.kind == "speak" else None,
                keep=keep,
                redo=redo,
                options=self.options,
                on_event=job.push,
                cancel=job.cancel,
            )
        except Cancelled as e:
            state, job.message = "cancelled", e.message
        except LipdubError as e:
            state, job.message, job.hint = "failed", e.message, e.hint or ""
            job.conflict = isinstance(e, EditConflict)
        except Exception as e:  # the page must hear of it, whatever it is
            logger.exception("review run failed")
            state, job.message = "failed", f"{type(e).__name__}: {e}"
        else:
            job.ran, job.reused = result.ran, result.reused
            job.message = f"done in {time.perf_counter() - t0:.1f} s"
        finally:
            from lipdub.dub.workdir import Workdir

            job.spoken = len(self._speech_files() - before)
            # the next run reads the work directory afresh (the manifest changed)
            self.wd = Workdir(self.root)
            job.state = state  # last: the page's event stream ends when it sees it
