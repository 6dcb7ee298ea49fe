"""The timing fit: each translated line spoken where its source line was, never two at once,
never faster than ``max_rate``, and never dropped.

:func:`speak_transcript` speaks every segment of a (translated) transcript so it
starts where the source segment started and ends before the next one, and returns the
speech track with a :class:`TimingReport`.

How a line is fitted (bounds in :class:`~lipdub.dub.options.FitOptions`), in order:

1. A speed within ``min_rate`` .. ``max_rate`` that fills its source slot, asked from
   the voice natively where it can, time-stretched for the rest. ``max_rate`` is the
   one ceiling.
2. The silences around it: its window (:mod:`lipdub.dub.budget`) runs from up to
   ``max_lead_s`` before its source start to where the next line's window opens.
3. Later lines moved into the silences that follow, each by up to ``max_delay_s``
   (a line starts at ``max(its start, previous end + min_pause_s)``); they return to
   their source times as soon as a silence absorbs the delay.
4. What still does not fit is too long: it is cut where the next line must start (or
   at the end of the media) with a short fade and reported (status ``cut``), and
   :func:`speak_transcript` refuses it with :class:`~lipdub.errors.TimingFitError`
   unless ``allow_truncation`` (:func:`require_fit`).

Placed lines never overlap: the track holds one line at a time, separated by at
least ``min_pause_s`` of silence, and every line starts before the end of the media.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lipdub.audio.dsp import time_stretch, trim_silence
from lipdub.dub.budget import Window, line_windows
from lipdub.dub.options import FitOptions
from lipdub.dub.report import SEVERITY, LineStatus, SegmentTiming, TimingReport
from lipdub.dub.speech_cache import SpeechCache, WavFolderCache, utterance_key, voice_identity
from lipdub.errors import BackendError, TimingFitError
from lipdub.events import Event, EventCallback, Progress, StageWarning, emit
from lipdub.types import AudioClip, Segment, Transcript, check_segment_lengths
from lipdub.voice.base import VoiceSynth

__all__ = [
    "LineStatus",
    "SegmentTiming",
    "SpeechCache",
    "TimingReport",
    "WavFolderCache",
    "require_fit",
    "speak_transcript",
]

logger = logging.getLogger(__name__)

_TOL_S = 0.005  # slack in time comparisons (native rates and sample rounding)
_SNAP = 0.02  # a speed this close to 1 is left at 1
_RATE_STEP = 0.05  # native rates are asked on this grid (batches and cache hits)
_FADE_S = 0.05  # fade-out where a line too long for its time is cut
_MIN_HEARD_S = 0.2  # what the fit keeps for each line before the end of the media


# ------------------------------------------------------------------ synthesis


@dataclass(frozen=True, slots=True)
class _Ask:
    """One utterance to speak."""

    text: str
    voice: str | None
    rate: float
    ref: str | None = None  # content hash of the reference clip (cloning voices)


class _Progress:
    """Overall ``Progress("speak", done, total, "segments")``; every emit is a cancel point."""

    def __init__(self, on_event: EventCallback | None, total: int) -> None:
        self.on_event = on_event
        self.done = 0
        self.total = total
        self._sent: tuple[int, int] | None = None

    def set(self, done: int) -> None:
        self.done = done
        if self._sent != (done, self.total):
            self._sent = (done, self.total)
            emit(self.on_event, Progress("speak", done, self.total, "segments"))

    def advance(self, n: int) -> None:
        self.set(self.done + n)


def _speak_all(
    synth: VoiceSynth,
    asks: Sequence[_Ask],
    *,
    language: str | None,
    cache: SpeechCache | None,
    identity: str | None,
    progress: _Progress,
    refs: Mapping[str, AudioClip] | None = None,
) -> list[AudioClip]:
    """Raw clips for ``asks``: cache hits, then one ``synthesize_many`` per (voice, rate, ref)."""
    refs = refs or {}
    keys = [
        utterance_key(identity, a.text, a.voice, language, a.rate, a.ref)
        if cache is not None and identity is not None
        else None
        for a in asks
    ]
    found: dict[_Ask, AudioClip] = {}
    hits = 0
    for a, key in zip(asks, keys, strict=True):
        if a in found:
            hits += 1
        elif cache is not None and key is not None:
            clip = cache.get(key)
            if clip is not None:
                found[a] = clip
                hits += 1
    if hits:
        progress.advance(hits)
    groups: dict[tuple[str | None, float, str | None], list[str]] = {}
    uses: dict[_Ask, int] = {}
    key_of: dict[_Ask, str | None] = {}
    for a, key in zip(asks, keys, strict=True):
        if a in found:
            continue
        if a not in uses:
            groups.setdefault((a.voice, a.rate, a.ref), []).append(a.text)
            key_of[a] = key
        uses[a] = uses.get(a, 0) + 1
    for (voice, rate, ref), texts in groups.items():
        counts = [uses[_Ask(t, voice, rate, ref)] for t in texts]
        base = progress.done

        def relay(event: Event, counts: list[int] = counts, base: int = base) -> None:
            if isinstance(event, Progress) and event.stage == "speak" and event.unit != "segments":
                n = sum(counts[: max(0, min(len(counts), int(event.done)))])
                progress.set(max(progress.done, base + n))
            else:
                emit(progress.on_event, event)

        # a reference only when there is one: backends without cloning keep working
        extra = {"reference": refs[ref]} if ref is not None else {}
        clips = synth.synthesize_many(
            texts,
            voice=voice,
            language=language,
            rate=rate,
            on_event=relay if progress.on_event is not None else None,
            **extra,
        )
        if len(clips) != len(texts):
            raise BackendError(
                f"voice backend {synth.name!r} returned {len(clips)} clips for {len(texts)} texts",
                backend=synth.name,
                hint="its synthesize_many must return one clip per text, in order",
            )
        for text, clip in zip(texts, clips, strict=True):
            a = _Ask(text, voice, rate, ref)
            key = key_of[a]
            if cache is not None and key is not None:
                cache.put(key, clip)
                # what a later run's hit gives (16-bit), so a resumed dub is the same
                stored = cache.get(key)
                clip = stored if stored is not None else clip
            found[a] = clip
        progress.set(base + sum(counts))
    return [found[a] for a in asks]


def _reference_table(
    segs: Sequence[Segment],
    references: Mapping[str, AudioClip],
    default: AudioClip | None,
) -> tuple[dict[str, AudioClip], list[str | None]]:
    """Reference clips by content hash, and each segment's reference hash (or None)."""
    from lipdub._hashing import clip_key

    by_hash: dict[str, AudioClip] = {}
    digest_of: dict[int, str] = {}

    def digest(clip: AudioClip) -> str:
        if id(clip) not in digest_of:
            digest_of[id(clip)] = clip_key(clip)
            by_hash[digest_of[id(clip)]] = clip
        return digest_of[id(clip)]

    out: list[str | None] = []
    for s in segs:
        clip = references.get(s.speaker, default) if s.speaker else default
        out.append(digest(clip) if clip is not None else None)
    return by_hash, out


# ------------------------------------------------------------------ the fit


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where and how fast one line is spoken (seconds), planned on its natural length."""

    start: float
    speed: float
    window: Window
    limit: float  # where it is cut if longer: the latest the next line may start, less a pause


def _plan(
    natural: Sequence[float],
    spans: Sequence[tuple[float, float]],
    total_s: float | None,
    options: FitOptions,
    *,
    caps: Sequence[float | None] = (),
) -> list[_Plan]:
    """Each line's start and speed (the remedies of the module docstring, in order);
    ``caps[k]``, where given and not None, is line ``k``'s fastest speed (below
    ``max_rate``: a retried line asked to go slower)."""
    n = len(spans)
    pause = options.min_pause_s
    media_end = math.inf if total_s is None else total_s
    windows = line_windows(spans, total_s=total_s, options=options)
    # the latest start of each line: max_delay_s after its source start, and early
    # enough that the lines after it still start before the end of the media
    latest = [0.0] * n
    after = media_end + pause
    for k in reversed(range(n)):
        latest[k] = min(spans[k][0] + options.max_delay_s, after - pause - _MIN_HEARD_S)
        after = latest[k]
    plans: list[_Plan] = []
    cursor = -math.inf
    for k, ((s, e), w, n_s) in enumerate(zip(spans, windows, natural, strict=True)):
        limit = latest[k + 1] - pause if k + 1 < n else media_end
        earliest = max(0.0, min(max(cursor, w.start_s), latest[k]))
        preferred = max(0.0, min(max(cursor, s), latest[k]))
        # 1. a speed that fills the slot (what is left of it when the line starts late)
        room = w.end_s - preferred
        slot = e - s
        cap = caps[k] if k < len(caps) else None
        top = options.max_rate if cap is None else min(options.max_rate, cap)
        speed = min(_speed(n_s, min(slot, room) if slot > 0 else room, options), top)
        if (
            abs(speed - 1.0) <= _SNAP
            and top >= 1.0
            and (speed < 1.0 or preferred + n_s <= w.end_s + _TOL_S)
        ):
            speed = 1.0  # not worth processing
        length = n_s / speed
        start = preferred
        if start + length > w.end_s + _TOL_S:
            # 2. the silences around it: up to max_lead_s before, as fast as allowed
            room = w.end_s - earliest
            need = n_s / room if room > 0 else math.inf
            speed = min(max(speed, need), top)
            length = n_s / speed
            start = max(earliest, min(preferred, w.end_s - length))
        # 3. what still runs past its window moves the next lines (the cursor); 4. what
        # runs past ``limit`` is cut there
        plans.append(_Plan(start, speed, w, limit))
        cursor = min(start + length, limit) + pause
    return plans


def _speed(natural_s: float, target_s: float, options: FitOptions) -> float:
    """The speed that makes ``natural_s`` last ``target_s``, within the comfortable bounds."""
    if natural_s <= 0 or not math.isfinite(target_s):
        return 1.0
    if target_s <= 0:
        return options.max_rate
    return min(max(natural_s / target_s, options.min_rate), options.max_rate)


def _native_rate(synth: VoiceSynth, speed: float) -> float:
    """The rate to ask the voice for: ``speed`` on a coarse grid, or 1 without a native rate."""
    if not synth.native_rate or abs(speed - 1.0) <= _SNAP:
        return 1.0
    return round(round(speed / _RATE_STEP) * _RATE_STEP, 3)


def _fade_cut(clip: AudioClip, keep_s: float) -> AudioClip:
    """The first ``keep_s`` of ``clip``, faded out over its last ``_FADE_S``."""
    n = max(0, min(clip.num_samples, round(keep_s * clip.sample_rate_hz)))
    out = clip.samples[:n].copy()
    fade = min(n, round(_FADE_S * clip.sample_rate_hz))
    if fade:
        out[n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return AudioClip(out, clip.sample_rate_hz)


def _review(
    index: int,
    text: str,
    *,
    delay: float,
    speed: float,
    cut_s: float,
    heard: bool,
    options: FitOptions,
    on_event: EventCallback | None,
) -> tuple[LineStatus, tuple[str, ...]]:
    """A placed line's status (the worst that happened to it) and its warnings.

    Warnings are logged; all but a delay within ``max_delay_s`` are also sent as
    :class:`~lipdub.events.StageWarning` events.
    """
    found: list[tuple[LineStatus, str]] = []
    if delay > options.max_delay_s + _TOL_S:
        found.append(
            (
                "late",
                f"starts {delay:.2f} s after its source line, more than max_delay_s "
                f"{options.max_delay_s:.2f} s (the lines before do not fit)",
            )
        )
    elif delay > _TOL_S:
        found.append(
            ("delayed", f"starts {delay:.2f} s after its source line (the line before ran long)")
        )
    if cut_s > 0.0005:
        msg = (
            f"too long for its time even at {speed:.2f}x: the last {cut_s:.2f} s are cut"
            if heard
            else "too long for its time: not heard at all"
        )
        found.append(("cut", msg))
    status: LineStatus = "ok"
    for kind, msg in found:
        level = logging.INFO if kind == "delayed" else logging.WARNING
        logger.log(level, "line %d (%r): %s", index, text[:40], msg)
        if level == logging.WARNING:
            emit(on_event, StageWarning("speak", f"line {index} ({text[:40]!r}): {msg}"))
        if SEVERITY.index(kind) > SEVERITY.index(status):
            status = kind
    return status, tuple(msg for _, msg in found)


def require_fit(
    report: TimingReport,
    *,
    max_rate: float,
    path: str | os.PathLike[str] | None = None,
    translation: str | None = None,
) -> None:
    """Raise :class:`~lipdub.errors.TimingFitError` if ``report`` has lines cut short.

    The one-line message names the lines (1-based, as in the SRT) and the ways on:
    shorten them, raise ``max_rate``, or accept the cut (``allow_truncation``).

    Args:
        report: The timing report of a dub.
        max_rate: The ceiling the fit used.
        path: The timing report's file, named in the error.
        translation: The file to shorten the lines in (named in the hint).
    """
    cut = report.cut
    if not cut:
        return
    shown = ", ".join(f"{s.index + 1} ({s.text[:30]!r})" for s in cut[:5])
    more = f" and {len(cut) - 5} more" if len(cut) > 5 else ""
    what = "lines are too long for their" if len(cut) > 1 else "line is too long for its"
    err = TimingFitError(
        f"{len(cut)} {what} time even at {max_rate:.2f}x: {shown}{more}",
        path=path,
        hint=f"shorten them in {translation or 'the translation'} (the review page lists "
        "them first), raise --max-rate, or pass --allow-truncation to cut them",
    )
    err.lines = tuple(s.index for s in cut)
    raise err


def speak_transcript(
    synth: VoiceSynth,
    transcript: Transcript,
    *,
    voice: str | None = None,
    voice_map: Mapping[str, str] | None = None,
    total_s: float | None = None,
    sample_rate_hz: int | None = None,
    options: FitOptions | None = None,
    cache: SpeechCache | None = None,
    on_event: EventCallback | None = None,
    references: Mapping[str, AudioClip] | None = None,
    reference: AudioClip | None = None,
    allow_truncation: bool = False,
    speed_caps: Mapping[int, float] | None = None,
) -> tuple[AudioClip, TimingReport]:
    """Speak every segment at its time and return the speech track and timing report.

    Each line is fitted to its source line's slot, never faster than
    ``options.max_rate``, and placed so that two lines never sound at once (the
    module docstring has the remedies in order). A line too long for its time even
    then is refused, or with ``allow_truncation`` cut with a short fade and reported
    (status ``"cut"``).

    The voice is called through :meth:`~lipdub.voice.base.VoiceSynth.synthesize_many`,
    once per (voice, rate) for the utterances not in ``cache``: first every line at
    its natural rate, then the lines that need a native rate.

    Args:
        synth: The voice backend.
        transcript: Segments to speak (usually a translation); ``language`` is passed
            to the voice.
        voice: Default voice name (None: the backend's default for the language).
        voice_map: Speaker label -> voice, for segments that carry a speaker.
        total_s: Length of the track, the media's length (default: the end of the
            last speech); no speech is placed past it.
        sample_rate_hz: Rate of the track (default: the voice's native rate).
        options: Timing-fit bounds.
        cache: Per-utterance speech cache (e.g. :class:`WavFolderCache`); the
            deprecated ``cache(key, make)`` callable form is still accepted.
        references: Speaker label -> reference clip, for a cloning voice
            (:attr:`~lipdub.voice.base.VoiceSynth.clones`): each speaker's lines are
            spoken in their own reference voice.
        reference: The reference for segments whose speaker has none in
            ``references`` (None: the voice's own default).
        speed_caps: Segment index -> the fastest total speed for that line (below 1:
            slower than natural), for a retake spoken slower (the quality stage's).
        on_event: Receives ``Progress("speak", done, total, "segments")`` (the total
            grows by the lines that need a second, native-rate pass) and a
            ``StageWarning("speak", ...)`` per line warning; exceptions it raises
            (:class:`~lipdub.errors.Cancelled`) propagate.
        allow_truncation: Cut the lines too long for their time (reported per line)
            instead of raising.

    Returns:
        The speech track and the per-line :class:`TimingReport`.

    Raises:
        InputError: A segment's text is far too long for any voice (checked before
            the voice is called; see :func:`~lipdub.types.check_segment_lengths`).
        TimingFitError: Lines too long for their time even at ``max_rate``, without
            ``allow_truncation`` (:func:`require_fit`).

    Example:
        >>> from lipdub.testing import FakeVoiceSynth
        >>> from lipdub.types import Segment
        >>> t = Transcript("es", (Segment(0.5, 1.1, "uno dos"), Segment(2.0, 2.6, "tres")))
        >>> track, report = speak_transcript(FakeVoiceSynth(), t, total_s=3.0)
        >>> round(track.duration_s, 2), [s.start_s for s in report.segments]
        (3.0, [0.5, 2.0])
        >>> [s.status for s in report.segments]
        ['ok', 'ok']
    """
    check_segment_lengths(transcript, total_s=total_s)  # before the voice builds hours
    options = options or FitOptions()
    voice_map = voice_map or {}
    speech_cache = cache
    identity = voice_identity(synth) if speech_cache is not None else None
    segs = transcript.segments
    voices = [voice_map.get(s.speaker, voice) if s.speaker else voice for s in segs]
    by_hash, seg_refs = _reference_table(segs, references or {}, reference)
    active = [i for i, s in enumerate(segs) if s.text.strip()]
    progress = _Progress(on_event, len(segs))
    if len(active) < len(segs):
        progress.advance(len(segs) - len(active))

    def clean(clip: AudioClip) -> AudioClip:
        return trim_silence(clip) if options.trim_silence else clip

    # 1. every line at its natural rate
    natural = _speak_all(
        synth,
        [_Ask(segs[i].text, voices[i], 1.0, seg_refs[i]) for i in active],
        language=transcript.language,
        cache=speech_cache,
        identity=identity,
        progress=progress,
        refs=by_hash,
    )
    nat = {i: clean(c) for i, c in zip(active, natural, strict=True)}
    active = [i for i in active if nat[i].num_samples]  # silent output: nothing to place

    # 2. plan each line's start and speed on the natural lengths
    plans = dict(
        zip(
            active,
            _plan(
                [nat[i].duration_s for i in active],
                [(segs[i].start_s, segs[i].end_s) for i in active],
                total_s,
                options,
                caps=[(speed_caps or {}).get(i) for i in active],
            ),
            strict=True,
        )
    )
    speeds = {i: plans[i].speed for i in active}

    # 3. the lines that need a native rate, batched by (voice, rate)
    rates = {i: _native_rate(synth, speeds[i]) for i in active}
    redo = [i for i in active if rates[i] != 1.0]
    progress.total += len(redo)
    spoken = dict(nat)
    if redo:
        clips = _speak_all(
            synth,
            [_Ask(segs[i].text, voices[i], rates[i], seg_refs[i]) for i in redo],
            language=transcript.language,
            cache=speech_cache,
            identity=identity,
            progress=progress,
            refs=by_hash,
        )
        spoken.update({i: clean(c) for i, c in zip(redo, clips, strict=True)})

    # 4. stretch to the planned length, at the track's rate
    track_hz = sample_rate_hz or next((spoken[i].sample_rate_hz for i in active), 24000)
    fitted: dict[int, tuple[AudioClip, float]] = {}
    for i in active:
        want_s = nat[i].duration_s / speeds[i]
        clip = spoken[i]
        rest = clip.duration_s / want_s if want_s > 0 else 1.0
        stretch = 1.0
        fastest = nat[i].duration_s / options.max_rate
        # never longer than planned; a bit shorter is fine, but never above max_rate
        if rest > 1.0001 or rest < 0.99 or clip.duration_s < fastest - 1e-4:
            stretch = rest
            clip = time_stretch(clip, rest, target_s=want_s)
        fitted[i] = (clip.resample(track_hz), stretch)

    # 5. place them one after another, in samples so they cannot touch
    pause = round(options.min_pause_s * track_hz)
    end_n = None if total_s is None else round(total_s * track_hz)
    placed: dict[int, tuple[int, AudioClip]] = {}
    rows: list[SegmentTiming] = []
    prev: int | None = None
    for i, seg in enumerate(segs):
        v = voices[i]
        if i not in fitted:
            rows.append(
                SegmentTiming(
                    i,
                    seg.text,
                    seg.start_s,
                    seg.end_s - seg.start_s,
                    0.0,
                    nat[i].duration_s if i in nat else 0.0,
                    0.0,
                    1.0,
                    1.0,
                    0.0,
                    0.0,
                    voice=v,
                    speaker=seg.speaker,
                    source_start_s=seg.start_s,
                    status="empty",
                    warnings=("the voice returned silence",) if i in nat else (),
                )
            )
            continue
        clip, stretch = fitted[i]
        plan = plans[i]
        a = max(0, round(plan.start * track_hz))
        if prev is not None and prev + pause > a:
            a = prev + pause
        start = a / track_hz
        full_s = clip.duration_s
        limit_n = round(plan.limit * track_hz) if math.isfinite(plan.limit) else None
        if end_n is not None:
            limit_n = end_n if limit_n is None else min(limit_n, end_n)
        cut_s = 0.0
        if limit_n is not None and a + clip.num_samples > limit_n:
            clip = _fade_cut(clip, (limit_n - a) / track_hz if limit_n > a else 0.0)
            cut_s = full_s - clip.duration_s
        prev = a + clip.num_samples
        if clip.num_samples:
            placed[i] = (a, clip)
        end = start + full_s  # where it would end, uncut
        win = plan.window
        status, notes = _review(
            i,
            seg.text,
            delay=start - seg.start_s,
            speed=nat[i].duration_s / full_s if full_s > 0 else 1.0,
            cut_s=cut_s,
            heard=clip.num_samples > 0,
            options=options,
            on_event=on_event,
        )
        heard_end = start + clip.duration_s
        borrowed = max(0.0, min(seg.start_s, heard_end) - start) + max(
            0.0, heard_end - max(seg.end_s, start)
        )
        rows.append(
            SegmentTiming(
                i,
                seg.text,
                start,
                seg.end_s - seg.start_s,
                max(0.0, win.end_s - start) if math.isfinite(win.end_s) else full_s,
                nat[i].duration_s,
                clip.duration_s,
                rates[i],
                stretch,
                borrowed,
                max(0.0, end - win.end_s),
                voice=v,
                speaker=seg.speaker,
                source_start_s=seg.start_s,
                budget_s=win.seconds if math.isfinite(win.end_s) else 0.0,
                cut_s=cut_s,
                status=status,
                warnings=notes,
            )
        )

    # 6. the track: one line at a time
    length = end_n if end_n is not None else max((prev or 0), 0)
    samples = np.zeros(length, np.float32)
    for a, clip in placed.values():
        samples[a : a + clip.num_samples] = clip.samples[: max(0, length - a)]
    progress.set(progress.total)
    report = TimingReport(tuple(rows), options.max_rate)
    if not allow_truncation:
        require_fit(report, max_rate=options.max_rate)
    return AudioClip(samples, track_hz), report
