"""The quality stage: every dubbed line checked, a failing line spoken once more.

Reads the speak stage's draft (``draft.speech.<lang>.wav`` + ``draft.timing.<lang>.json``)
and writes the dub's speech and timing (``speech.<lang>.wav``, ``timing.<lang>.json``),
each line of the report carrying its ``quality`` record
(:class:`~lipdub.quality.records.LineQuality`):

1. **check** each line: a Whisper back-transcription (CER, WER against its text), the
   similarity of its speaker embedding to its own speaker's reference and to the
   others' (cloned dubs), its speed, delay and cut (:mod:`lipdub.quality.checker`);
2. **retry** each line that fails (``QualityOptions.max_cer``, closer to another
   speaker): spoken once more another way, *without the clone* when the speaker
   check failed on a cloned line, else *slower* (``retry_speed``); the dub goes
   through the timing fit again (every other line comes from the speech cache) and
   each retried line keeps the better of its two takes;
3. a line still failing is flagged ``review`` (the review page lists it first).

Measures are kept per line in ``quality/<key>.json``, keyed by the line's audio, text,
speaker, the reference clips and the checker's settings, so an edit of one line's
translation re-checks only the lines whose audio changed. ``QualityOptions(check=
False)`` (``--no-quality``) passes the draft through, each line's record saying so.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lipdub import artifacts
from lipdub._hashing import clip_key, content_key, settings_key
from lipdub.dub import operations
from lipdub.dub.report import TimingReport
from lipdub.dub.runner import LangStage, Run, component_identity
from lipdub.dub.stages.audio import annotate_lines, speaking_inputs, spoken_length_s
from lipdub.dub.stages.text import voice_map
from lipdub.dub.state import Spoken, Voiced
from lipdub.errors import LipdubError
from lipdub.events import Progress, emit
from lipdub.quality.checker import LineChecker, make_checker
from lipdub.quality.records import (
    Intelligibility,
    LineQuality,
    LineTiming,
    Retry,
    SpeakerMatch,
)
from lipdub.types import AudioClip, Transcript

__all__ = ["Quality", "QualityCache"]

logger = logging.getLogger(__name__)

_PLAIN = "~plain"  # the speaker label suffix of a retake without the clone


class QualityCache:
    """Per-line measures kept between runs: ``<root>/<key>.json`` (untrusted: a file
    that does not read back as a record is a miss)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> LineQuality | None:
        from lipdub._userfiles import read_json_file

        path = self.root / f"{key}.json"
        if not path.is_file():
            return None
        try:
            data = read_json_file(path, "quality record", max_bytes=1 << 20)
            return LineQuality.from_dict(data) if isinstance(data, dict) else None
        except LipdubError as e:
            logger.warning("ignoring a damaged quality record %s: %s", path, e)
            return None

    def put(self, key: str, record: LineQuality) -> None:
        import json

        from lipdub._io import atomic_write_text

        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.root / f"{key}.json", json.dumps(record.to_dict()))
        except OSError as e:
            logger.warning("cannot keep a quality record in %s: %s", self.root, e)


def _references(src: Voiced) -> dict[str, AudioClip]:
    return dict(src.references or {})


def _speaker_of(label: str | None, refs: Mapping[str, AudioClip]) -> str | None:
    """A line's speaker for the similarity check (the only one when lines carry none)."""
    if label is None and len(refs) == 1:
        return next(iter(refs))
    return label


def _line_clip(speech: AudioClip, start_s: float, length_s: float) -> AudioClip:
    a = max(0, round(start_s * speech.sample_rate_hz))
    b = min(speech.num_samples, a + round(length_s * speech.sample_rate_hz))
    return AudioClip(speech.samples[a:b].copy(), speech.sample_rate_hz)


def _unchecked(reason: str, timing: LineTiming) -> LineQuality:
    return LineQuality(
        Intelligibility(None, None, reason=reason),
        SpeakerMatch(None, reason=reason),
        timing,
        verdict="unchecked",
    )


class Quality(LangStage[Voiced, Spoken, Spoken]):
    """``speech.<lang>.wav`` + ``timing.<lang>.json``: the draft, checked line by line."""

    name = "quality"

    def artifacts(self, run: Run, src: Voiced, st: Spoken) -> list[Path]:
        return [run.path(artifacts.speech(st.target)), run.path(artifacts.timing(st.target))]

    def _checker_identity(self, run: Run) -> Any:
        opts = run.options.quality
        if not opts.check:
            return None
        dub: Any = None
        if opts.model == "auto":
            try:
                dub = component_identity(run.components.transcriber())
            except LipdubError as e:  # a transcriber that cannot be had: no back-transcription
                dub = str(e)
        return {
            "model": opts.model,
            "dub_transcriber": dub,
            "encoder": importlib.util.find_spec("resemblyzer") is not None,
        }

    def key(self, run: Run, src: Voiced, st: Spoken) -> str:
        opts = run.options
        return settings_key(
            content_key(run.path(artifacts.draft_speech(st.target))),
            content_key(run.path(artifacts.draft_timing(st.target))),
            dataclasses.asdict(opts.quality),
            self._checker_identity(run),
            *speaking_inputs(run, src, st.target),  # a retake speaks again
        )

    def progress(self, run: Run, src: Voiced, st: Spoken) -> tuple[float | None, str]:
        return len(st.timing.segments), "lines"

    def load(self, run: Run, src: Voiced, st: Spoken) -> tuple[Spoken, list[Path]]:
        speech_path, timing_path = self.artifacts(run, src, st)
        speech, timing = AudioClip.load_wav(speech_path), TimingReport.load(timing_path)
        return dataclasses.replace(st, speech=speech, timing=timing), []

    def info(self, run: Run, src: Voiced, out: Spoken) -> dict[str, Any]:
        return dict(_stats(run).get(out.target, {}))

    # ------------------------------------------------------------------ the work

    def check(self, run: Run, src: Voiced, out: Spoken) -> None:
        """Lines too long for their time stop the dub here, before any video, unless the
        options allow truncation (the cut lines are then in the report and summary).
        Here, not after ``speak``: the checked ``timing.<lang>.json`` (retries
        included) is what the refusal names and the review page lists first."""
        from lipdub.dub.timing import require_fit

        if not run.options.allow_truncation:
            require_fit(
                out.timing,
                max_rate=run.options.fit.max_rate,
                path=run.path(artifacts.timing(out.target)),
                translation=artifacts.translation(out.target),
            )

    def compute(self, run: Run, src: Voiced, st: Spoken) -> tuple[Spoken, list[Path]]:
        opts = run.options.quality
        stats = {"checked": 0, "reused": 0, "retried": 0, "kept_retake": 0, "review": 0}
        _stats(run)[st.target] = stats
        speech, timing = st.speech, st.timing
        if not opts.check:
            reason = "quality checks switched off (--no-quality)"
            records = {s.index: _unchecked(reason, _timing_of(s)) for s in timing.segments}
        else:
            refs = _references(src)
            checker = run.memo(
                self.name,
                f"checker:{st.target}",
                lambda: make_checker(
                    opts.model,
                    st.target,
                    dub_transcriber=run.components.transcriber,
                    cloning=bool(refs),
                ),
            )
            self._say_what_is_missing(run, checker, bool(refs))
            cache = QualityCache(run.path(artifacts.QUALITY_CACHE))
            records = self._check(run, checker, cache, speech, timing, st.target, refs, stats)
            bad = [i for i, q in records.items() if q.verdict == "review"]
            if bad and opts.retry:
                speech, timing, records = self._retry(
                    run, src, st, checker, cache, refs, records, bad, stats
                )
            stats["review"] = sum(q.verdict == "review" for q in records.values())
            if stats["review"]:
                worst = [i for i, q in records.items() if q.verdict == "review"]
                run.notice(
                    self.name,
                    f"{stats['review']} dubbed line(s) in {st.target} still fail the quality "
                    f"checks after a retry: lines {', '.join(map(str, worst[:10]))} "
                    "(flagged review; see timing and the review page)",
                )
        timing = timing.with_quality(records)
        speech_path, timing_path = self.artifacts(run, src, st)
        written = [speech.save_wav(speech_path), timing.save(timing_path)]
        out, _ = self.load(run, src, st)  # as a resumed run reads them
        return out, written

    def _say_what_is_missing(self, run: Run, checker: LineChecker, cloning: bool) -> None:
        """A notice per check that cannot run (once per run): never silently skipped."""
        said: set[str] = run.memo(self.name, "said", set)
        missing = [checker.reasons[0]] if checker.transcriber is None else []
        if cloning and checker.encoder is None:
            missing.append(checker.reasons[1])
        for reason in missing:
            if reason and reason not in said:
                said.add(reason)
                run.notice(self.name, f"quality: {reason}")

    def _check(
        self,
        run: Run,
        checker: LineChecker,
        cache: QualityCache,
        speech: AudioClip,
        timing: TimingReport,
        language: str,
        refs: Mapping[str, AudioClip],
        stats: dict[str, int] | None,
        only: Sequence[int] | None = None,
    ) -> dict[int, LineQuality]:
        """Each line's record (judged), from the cache where its audio was checked before
        (``stats`` counts the lines ``checked`` anew and ``reused``)."""
        opts = run.options.quality
        ref_keys = sorted((k, clip_key(v)) for k, v in refs.items())
        rows = [s for s in timing.segments if only is None or s.index in only]
        out: dict[int, LineQuality] = {}
        for n, row in enumerate(rows, 1):
            emit(run.on_event, Progress(self.name, n - 1, len(rows), "lines"))
            line_timing = _timing_of(row)
            if row.speech_s <= 0:
                out[row.index] = _unchecked("the line has no audio", line_timing)
                continue
            clip = _line_clip(speech, row.start_s, row.speech_s)
            speaker = _speaker_of(row.speaker, refs)
            key = settings_key(
                clip_key(clip), row.text, language, speaker, ref_keys, checker.settings()
            )
            record = cache.get(key)
            if record is None:
                record = checker.check(clip, row.text, language, speaker=speaker, references=refs)
                cache.put(key, record)
                if stats is not None:
                    stats["checked"] += 1
            elif stats is not None:
                stats["reused"] += 1
            out[row.index] = dataclasses.replace(record, timing=line_timing).judged(opts)
        emit(run.on_event, Progress(self.name, len(rows), len(rows), "lines"))
        return out

    def _respeak(
        self, run: Run, src: Voiced, st: Spoken, ways: Mapping[int, str]
    ) -> tuple[AudioClip, TimingReport]:
        """The dub spoken again with the retakes ``ways`` (index -> "slower" | "plain")."""
        from lipdub.dub.stages.voices import DEFAULT_SPEAKER

        opts = run.options
        refs = _references(src)
        vmap = voice_map(run, src)
        segs = list(st.translation.segments)
        caps: dict[int, float] = {}
        for i, way in ways.items():
            if way == "slower":
                caps[i] = opts.quality.retry_speed
        plain = {i for i, way in ways.items() if way == "plain"}
        if plain:  # every line labelled, so no line falls back to a default reference
            for i, seg in enumerate(segs):
                label = seg.speaker or DEFAULT_SPEAKER
                if i in plain:
                    if label in vmap:
                        vmap[label + _PLAIN] = vmap[label]
                    label += _PLAIN
                segs[i] = dataclasses.replace(seg, speaker=label)
        cloning = src.references is not None
        speech, timing = operations.synthesize(
            run.components.voice(),
            Transcript(st.translation.language, tuple(segs)),
            dataclasses.replace(opts, voice_map=vmap),
            voice_name=run.voice,
            total_s=spoken_length_s(run),
            cache_dir=run.path(artifacts.SPEECH_CACHE),
            on_event=run.on_event,
            references=refs if cloning else None,
            reference=None if plain or not cloning else src.reference,
            speed_caps=caps,
            allow_truncation=True,  # the same speech either way; check() decides
        )
        # each line's own speaker again (a plain retake was relabelled), then what the
        # speak stage writes beside it: its reference clip (none for a plain retake) and
        # the glossary terms it breaks
        speakers = [s.speaker for s in st.translation.segments]
        timing = dataclasses.replace(
            timing,
            segments=tuple(
                dataclasses.replace(r, speaker=speakers[r.index]) for r in timing.segments
            ),
        )
        timing = annotate_lines(run, src, st.translation, timing, plain=plain)
        # what a later run reads back (16-bit samples), so a resumed dub is the same
        speech = AudioClip.from_wav_bytes(speech.to_wav_bytes())
        return speech, timing

    def _retry(
        self,
        run: Run,
        src: Voiced,
        st: Spoken,
        checker: LineChecker,
        cache: QualityCache,
        refs: Mapping[str, AudioClip],
        first: dict[int, LineQuality],
        bad: list[int],
        stats: dict[str, int],
    ) -> tuple[AudioClip, TimingReport, dict[int, LineQuality]]:
        """Each failing line spoken once more; the better take of each kept."""
        ways = {i: _way(first[i], cloned=bool(refs)) for i in bad}
        stats["retried"] = len(ways)
        speech2, timing2 = self._respeak(run, src, st, ways)
        second = self._check(run, checker, cache, speech2, timing2, st.target, refs, None, only=bad)
        kept = {i: w for i, w in ways.items() if second[i].badness() < first[i].badness()}
        stats["kept_retake"] = len(kept)
        if not kept:
            speech, timing = st.speech, st.timing
        elif kept == ways:
            speech, timing = speech2, timing2
        else:
            speech, timing = self._respeak(run, src, st, kept)
        final = self._check(run, checker, cache, speech, timing, st.target, refs, None)
        for i, way in ways.items():
            other = first[i] if i in kept else second[i]
            note = Retry(
                way,
                "retake" if i in kept else "first",
                other.intelligibility.cer,
                other.speaker.own,
            )
            final[i] = dataclasses.replace(final[i], retry=note)
        return speech, timing, final


def _stats(run: Run) -> dict[str, dict[str, int]]:
    """Counts of the quality stage per language in this run (for the manifest)."""
    out: dict[str, dict[str, int]] = run.memo(Quality.name, "stats", dict)
    return out


def _way(record: LineQuality, *, cloned: bool) -> str:
    """How a failing line is spoken again: without the clone when it sounds like
    another speaker, else slower."""
    speaker_failed = any("closer to speaker" in p for p in record.problems)
    return "plain" if cloned and speaker_failed else "slower"


def _timing_of(row: Any) -> LineTiming:
    return LineTiming(float(row.speed), float(row.delay_s), float(row.cut_s) > 0.0005)
