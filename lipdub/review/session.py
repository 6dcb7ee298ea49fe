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
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

from lipdub import artifacts
from lipdub._hashing import file_sha256
from lipdub._io import file_kind
from lipdub._lock import exclusive_lock
from lipdub.dub.report import LEGACY_STATUS, LineStatus
from lipdub.dub.stages import Transcribe
from lipdub.errors import Cancelled, EditConflict, InputError, LipdubError, printable
from lipdub.review.access import Missing, Refused, ReviewFiles
from lipdub.review.schema import LANGUAGE, MAX_SPEAKER, MAX_TEXT, has_controls
from lipdub.types import Transcript

if TYPE_CHECKING:
    from lipdub.dub.options import DubOptions
    from lipdub.dub.pipeline import DubbingPipeline
    from lipdub.events import Event

__all__ = ["Busy", "Job", "JobKind", "ReviewSession", "StaleVersion"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The largest timing report the page reads.
MAX_TIMING_BYTES = 64 << 20
_STATUSES = frozenset(get_args(LineStatus))
#: Timing fields the page shows: required, then optional with their defaults.
_TIMING_REQUIRED = ("start_s", "speech_s")
_TIMING_OPTIONAL = {
    "end_s": None,
    "delay_s": 0.0,
    "speed": 1.0,
    "rate": 1.0,
    "stretch": 1.0,
    "borrowed_s": 0.0,
    "overflow_s": 0.0,
}

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
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds pass); whether it ended."""
        return self._ended.wait(timeout)

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

    Every path it reads or writes goes through :class:`~lipdub.review.access.ReviewFiles`:
    work-directory files only inside the work directory, the input and outputs only
    from these arguments or lipdub's naming rule (or, to read, when they probe as
    media), and saves only to ``transcript.<lang>.json`` / ``translation.<lang>.json``.

    Args:
        workdir: The work directory of a dub (it has a ``manifest.json``).
        pipeline: The pipeline that runs the remaining stages; give it the components
            the dub was made with, or every stage they key will be redone.
        options: The dub options of the run (None: the pipeline's).
        voice: The voice name of the run.
        input: The input video (None: ``NAME`` for a work directory ``NAME.lipdub``,
            else the one the manifest names, which is read only if it is media).
        output: The output video, ``{lang}`` for the language (None: lipdub's name
            beside the input, ``talk.<lang>.mp4``).

    Raises:
        InputError: an argument of the wrong type or naming no usable file (the
            message names the argument), not a work directory lipdub made, or no
            transcript in it.
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        pipeline: DubbingPipeline,
        *,
        options: DubOptions | None = None,
        voice: str | None = None,
        input: str | os.PathLike[str] | None = None,
        output: str | os.PathLike[str] | None = None,
    ) -> None:
        from lipdub.dub.options import DubOptions
        from lipdub.dub.pipeline import DubbingPipeline
        from lipdub.dub.workdir import Workdir

        root = _path_arg("workdir", workdir)
        if not isinstance(pipeline, DubbingPipeline):
            raise InputError(
                f"ReviewSession(pipeline=...) must be a DubbingPipeline, got {_kind(pipeline)}"
            )
        if options is not None and not isinstance(options, DubOptions):
            raise InputError(
                f"ReviewSession(options=...) must be DubOptions or None, got {_kind(options)}"
            )
        if voice is not None and (not isinstance(voice, str) or not voice.strip()):
            raise InputError(f"ReviewSession(voice=...) must be a voice name, got {_kind(voice)}")
        in_path = _path_arg("input", input) if input is not None else None
        if in_path is not None and (why := file_kind(in_path)) is not None:
            raise InputError(
                f"ReviewSession(input=...): the input video is {why}",
                path=in_path,
                hint="give the dub's input video",
            )
        out = str(_path_arg("output", output)) if output is not None else None

        self.root = root.resolve()
        if file_kind(self.root / artifacts.MANIFEST) is not None:
            raise InputError(
                "not a lipdub work directory (no manifest.json)",
                path=self.root,
                hint="run `lipdub dub VIDEO --to LANG --stop-after translate` first",
            )
        self.wd = Workdir(self.root)
        self.pipeline = pipeline
        self.options = options
        self.voice = voice
        self.output = out
        self.files = ReviewFiles(
            self.root,
            lambda: self.wd,
            input=in_path.resolve() if in_path is not None else None,
            output=out,
        )
        self.job: Job | None = None
        self._lock = threading.Lock()
        if self.files.input is None:
            raise InputError(
                "the manifest does not name the input video",
                path=self.root,
                hint="pass the input video (lipdub review WORKDIR --input VIDEO)",
            )
        if self.transcript_path() is None:
            raise InputError(
                "the work directory has no transcript yet",
                path=self.root,
                hint="run `lipdub dub VIDEO --to LANG --stop-after transcribe` first",
            )

    @property
    def input(self) -> Path:
        """The input video (see :class:`~lipdub.review.access.ReviewFiles` for when it
        may be read or written beside)."""
        found = self.files.input
        assert found is not None  # checked when the session opened
        return found

    # ------------------------------------------------------------------ reading
    def transcript_path(self) -> Path | None:
        """The current source transcript (the manifest's, if it is one inside the work
        directory; else the only one)."""
        return self.files.transcript()

    def languages(self) -> list[str]:
        """Target languages with a translation in the work directory."""
        return self.files.languages()

    def existing_output(self, language: str) -> Path | None:
        """The dubbed video of ``language`` if it exists and may be read."""
        try:
            return self.files.output_video(language)
        except (Missing, Refused):
            return None

    def text_path(self, kind: str, language: str | None) -> Path:
        """``"source"``: the transcript; ``"target"``: ``translation.<language>.json``.

        Raises:
            InputError: nothing to edit for ``kind`` / ``language``.
        """
        if kind == "source":
            path = self.transcript_path()
            if path is None:
                raise Missing("no transcript in the work directory", path=self.root)
            return path
        if (
            kind == "target"
            and isinstance(language, str)
            and LANGUAGE.fullmatch(language)
            and language in self.languages()
        ):
            return self.files.translation(language)
        raise InputError(
            f"nothing to edit for {printable(kind, newlines=False)!r} / "
            f"{printable(language, newlines=False)!r}",
            path=self.root,
        )

    def state(self, language: str | None = None) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready data.

        A file that cannot be read (an editor broke it while the page was open) is
        named in ``problems``, one line each; the rest is shown as far as it can be.
        """
        problems: list[str] = []
        langs = self.languages()
        lang = language if language in langs else (langs[0] if langs else None)
        versions: dict[str, str] = {}
        source: Transcript | None = None
        src_path = self.transcript_path()
        if src_path is None:
            problems.append("no readable transcript in the work directory")
        else:
            source = _attempt(problems, src_path, lambda: Transcript.load(src_path))
            versions["source"] = _attempt(problems, src_path, lambda: file_sha256(src_path)) or ""
        target: Transcript | None = None
        timing: dict[int, dict[str, Any]] = {}
        if lang is not None:
            tpath = self.files.translation(lang)
            target = _attempt(problems, tpath, lambda: Transcript.load(tpath, lang))
            versions["target"] = _attempt(problems, tpath, lambda: file_sha256(tpath)) or ""
            timing = self._timing(lang, problems)
        rows_out = []
        for i, seg in enumerate(source.segments if source is not None else ()):
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
        # the lines too long for their time first: they are what stops the dub
        cut = {i for i, t in timing.items() if t["status"] == "cut"}
        rows_out.sort(key=lambda r: r["index"] not in cut)
        ends = [seg.end_s for seg in source.segments] if source is not None else []
        duration = max([0.0, *ends, *(float(t["end_s"]) for t in timing.values())])
        with self._lock:
            job = self.job.summary() if self.job is not None else None
        out = None
        if lang is not None:
            try:
                out = self.files.output_video(lang)
            except Refused as e:
                problems.append(e.message)
            except Missing:
                pass
        where = self.files.input
        return {
            "workdir": str(self.root),
            "input": where.name if where is not None else None,
            "languages": langs,
            "language": lang,
            "source_language": source.language if source is not None else None,
            "duration_s": duration,
            "rows": rows_out,
            # lines still failing the quality checks after their retry: listed first
            "flagged": [
                i
                for i, t in sorted(timing.items())
                if (t["quality"] or {}).get("verdict") == "review"
            ],
            "versions": versions,
            "has_speech": lang is not None and self._has(artifacts.speech(lang)),
            "has_source_audio": self._has(artifacts.SOURCE_AUDIO),
            "output": out.name if out is not None else None,
            "output_mtime": _mtime(out),
            "job": job,
            "problems": problems,
        }

    def _has(self, name: str) -> bool:
        try:
            self.files.inside(name)
        except (Missing, Refused):
            return False
        return True

    def _timing(self, lang: str, problems: list[str]) -> dict[int, dict[str, Any]]:
        """The rows of ``timing.<lang>.json`` the page shows, checked; {} if unusable."""
        name = artifacts.timing(lang)
        try:
            path = self.files.inside(name)
        except Missing:
            return {}
        except Refused as e:
            problems.append(e.message)
            return {}
        try:
            if path.stat().st_size > MAX_TIMING_BYTES:
                raise ValueError(f"larger than {MAX_TIMING_BYTES >> 20} MiB")
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data.get("segments") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise ValueError("no list of segments")
            return {row["index"]: row for row in map(_timing_row, rows)}
        except RecursionError:
            problems.append(f"{name} cannot be read: JSON nested too deeply")
        except (OSError, ValueError) as e:
            problems.append(f"{name} cannot be read: {printable(e, newlines=False)}")
        return {}

    # ------------------------------------------------------------------ files
    def work_file(self, relative: str) -> Path:
        """A regular file inside the work directory, symlinks resolved.

        Raises:
            InputError: the path leaves the work directory, or is not a file.
        """
        return self.files.inside(relative)

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
        refused with :class:`StaleVersion`, never merged. The check and the write hold
        the work directory's save lock, so two processes never both save against one
        version. Returns the new version.

        Raises:
            StaleVersion: the file changed since ``version``.
            Busy: a run is in progress.
            InputError: a bad argument (named), or the file cannot be read.
        """
        if isinstance(index, bool) or not isinstance(index, int):
            raise InputError(f"save_line(index=...) must be an integer, got {_kind(index)}")
        if not isinstance(version, str):
            raise InputError(f"save_line(version=...) must be a string, got {_kind(version)}")
        if text is None and speaker is None:
            raise InputError("save_line needs text= or speaker=")
        for name, value, limit in (("text", text, MAX_TEXT), ("speaker", speaker, MAX_SPEAKER)):
            if value is None:
                continue
            if not isinstance(value, str):
                raise InputError(f"save_line({name}=...) must be a string, got {_kind(value)}")
            if len(value) > limit:
                raise InputError(f"save_line({name}=...) is longer than {limit} characters")
            if has_controls(value):
                raise InputError(f"save_line({name}=...) holds control characters")
        path = self.text_path(kind, language)
        with self._lock:
            if self.job is not None and self.job.state == "running":
                raise Busy("a run is in progress; save when it ends")
            with exclusive_lock(self.root / ".review.lock"):
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
                try:
                    dataclasses.replace(transcript, segments=tuple(segments)).save(path)
                except UnicodeEncodeError as e:  # a lone surrogate the file already held
                    raise InputError(
                        f"{path.name} holds text that is not valid Unicode ({e.reason})",
                        path=path,
                        hint="fix that line in a text editor, then reload the page",
                    ) from None
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
            InputError: an unknown kind or language, or (``"finish"``) an output that
                would go beside an input only the manifest names.
        """
        if kind not in ("speak", "finish"):
            raise InputError(f"start(kind=...) must be 'speak' or 'finish', got {_kind(kind)}")
        if not isinstance(language, str) or language not in self.languages():
            raise InputError(
                f"no translation for {printable(language, newlines=False)!r} in the work directory"
            )
        for name, stages in (("keep", keep), ("redo", redo)):
            if not isinstance(stages, tuple) or not all(isinstance(s, str) for s in stages):
                raise InputError(f"start({name}=...) must be a tuple of stage names")
        self.files.input_video()  # it may be read
        output = self.files.run_output(language) if kind == "finish" else None
        with self._lock:
            if self.job is not None and self.job.state == "running":
                raise Busy("a run is already in progress")
            job = Job(kind, language)
            self.job = job
        thread = threading.Thread(
            target=self._run,
            args=(job, output, keep, redo),
            name=f"lipdub-review-{kind}",
            daemon=True,
        )
        thread.start()
        return job

    def _speech_files(self) -> set[str]:
        folder = self.root / artifacts.SPEECH_CACHE
        return {p.name for p in folder.glob("*.wav")} if folder.is_dir() else set()

    def _run(
        self, job: Job, output: Path | None, keep: tuple[str, ...], redo: tuple[str, ...]
    ) -> None:
        before = self._speech_files()
        rec = self.wd.get(Transcribe.name)
        # the language the dub asked for (its key holds it); older manifests: the found
        # one. The manifest is data: a language only if it looks like one.
        info = rec.info if rec is not None else {}
        asked = info["asked"] if "asked" in info else info.get("language")
        source_language = asked if isinstance(asked, str) and LANGUAGE.fullmatch(asked) else None
        t0 = time.perf_counter()
        state: Literal["done", "failed", "cancelled"] = "done"
        try:
            result = self.pipeline.run(
                self.input,
                job.language,
                output,
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
            job._ended.set()


def _kind(value: object) -> str:
    """A value's type and a short view of it, for an argument error."""
    text = printable(repr(value), newlines=False)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _path_arg(name: str, value: object) -> Path:
    if isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes):
        text = os.fspath(value)
        if isinstance(text, str) and text and "\x00" not in text:
            return Path(text)
    raise InputError(f"ReviewSession({name}=...) must be a path, got {_kind(value)}")


def _attempt(problems: list[str], path: Path, read: Callable[[], T]) -> T | None:
    """``read()``, or None with one line in ``problems`` saying why it failed."""
    try:
        return read()
    except LipdubError as e:
        problems.append(f"{path.name} cannot be read: {printable(e.message, newlines=False)}")
    except RecursionError:
        problems.append(f"{path.name} cannot be read: JSON nested too deeply")
    except (OSError, ValueError) as e:
        problems.append(f"{path.name} cannot be read: {printable(e, newlines=False)}")
    return None


def _finite(row: dict[str, Any], key: str, default: float | None) -> float:
    value = row.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"segment {row.get('index')!r}: {key!r} is not a finite number")
    return float(value)


def _timing_row(row: object) -> dict[str, Any]:
    """One row of a timing report, with the types the page needs (ValueError if not)."""
    if not isinstance(row, dict):
        raise ValueError("a segment is not a JSON object")
    index = row.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"a segment's index is not a whole number: {printable(index)[:20]}")
    text = row.get("text")
    if not isinstance(text, str):
        raise ValueError(f"segment {index}: 'text' is not a string")
    status = row.get("status", "ok")
    status = LEGACY_STATUS.get(status, status) if isinstance(status, str) else status
    if status not in _STATUSES:
        raise ValueError(f"segment {index}: unknown status {printable(status)[:20]!r}")
    warnings = row.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise ValueError(f"segment {index}: 'warnings' is not a list of strings")
    out: dict[str, Any] = {"index": index, "text": text, "status": status, "warnings": warnings}
    for key in _TIMING_REQUIRED:
        out[key] = _finite(row, key, None)
    for key, default in _TIMING_OPTIONAL.items():
        out[key] = _finite(
            row, key, out["start_s"] + out["speech_s"] if default is None else default
        )
    out["quality"] = _quality_of(row.get("quality"))
    return out


def _quality_of(raw: object) -> dict[str, Any] | None:
    """What the page shows of a line's quality record: its verdict, problems, CER and
    speaker similarity (a record it cannot read is shown as none: only numbers)."""
    from lipdub.errors import InputError
    from lipdub.quality.records import LineQuality

    if not isinstance(raw, dict):
        return None
    try:
        q = LineQuality.from_dict(raw)
    except InputError:
        return None
    return {
        "verdict": q.verdict,
        "problems": [p[:200] for p in q.problems[:5]],
        "cer": q.intelligibility.cer,
        "similarity": q.speaker.own,
        "closest": q.speaker.closest,
        "retry": None if q.retry is None else f"{q.retry.way}, kept the {q.retry.kept}",
    }


def _mtime(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return path.stat().st_mtime
    except OSError:
        return None
