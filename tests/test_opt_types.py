"""``--opt`` values are checked against the type the backend's constructor declares, before
any work: a string where a number is wanted is one line naming the flag, the backend, the
option, the value and the type, not a TypeError in the middle of a dub."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest

from lipdub import registry
from lipdub._hints import mismatch, parameter_hints
from lipdub.cli import main
from lipdub.cli._args import check_options
from lipdub.errors import BackendNotInstalled, InputError

ROOT = Path(__file__).resolve().parents[1]
#: A driver that registers the test doubles explicitly, then runs the command line.
DRIVER = (
    "import sys; from lipdub.testing import register_fakes; register_fakes(); "
    "from lipdub.cli import main; sys.exit(main(sys.argv[1:]))"
)

#: (kind, backend, option, a value of the declared type, one of another type, the
#: words the refusal uses for the type wanted). Every kind, every annotation shape.
TABLE: list[tuple[str, str, str, Any, Any, str]] = [
    ("transcriber", "whisper", "beam_size", 5, "five", "a whole number"),
    ("transcriber", "whisper", "temperature", [0.0, 0.2], [0.0, "hot"], "a number or a list"),
    ("transcriber", "whisper", "model", "DIR", 3, "text or a path"),
    ("transcriber", "google", "api", "v2", "v3", "one of 'v1', 'v2' or null"),
    ("transcriber", "google", "alternative_languages", ["fr-FR"], "fr-FR", "a list of text"),
    ("translator", "opus", "beam_size", 4, 4.5, "a whole number"),
    ("translator", "opus", "models", {"en-es": "DIR"}, ["DIR"], "a JSON object or null"),
    ("translator", "llm", "model", "gpt", 5, "text or null"),
    ("translator", "llm", "json_mode", False, 0, "true or false"),
    ("translator", "google", "location", "global", None, "text"),
    ("voice", "espeak", "sentence_pause_s", 0.2, "long", "a number"),
    ("voice", "piper", "speaker", 1, True, "a whole number or null"),
    ("voice", "match", "match_pitch", False, "yes", "true or false"),
    ("voice", "google", "gender", "female", "other", "one of 'female', 'male'"),
    ("voice", "chatterbox", "seed", 7, "7.5", "a whole number"),
    ("voice", "fake", "seconds_per_word", 1, "slow", "a number"),
    ("detector", "haar", "max_side", None, "big", "a whole number or null"),
    ("detector", "haar", "cascade_path", "c.xml", 1, "text or a path or null"),
    ("detector", "retinaface", "score_threshold", 1, "high", "a number"),
    ("detector", "s3fd", "local_files_only", True, 1, "true or false"),  # takes **options
    ("lipsyncer", "wav2lip", "min_psnr_db", 38, "x", "a number"),
    ("lipsyncer", "wav2lip_gan", "precision", "fp32", 32, "one of 'fp32'"),
    ("lipsyncer", "musetalk", "latent_cache", 100, 1.5, "a whole number"),
    ("separator", "duck", "band_hz", [100, 4000], [100], "a list of 2 (a number, a number)"),
    ("separator", "spectral", "frame_s", 0.05, None, "a number"),
    ("separator", "demucs", "overlap", 0.5, "half", "a number"),
    ("diarizer", "resemblyzer", "max_distance", 0.3, "abc", "a number"),
    ("diarizer", "meeting", "onset", None, "abc", "a number or null"),
    ("diarizer", "pyannote", "num_speakers", 2, 2.5, "a whole number or null"),
    ("scorer", "syncnet_v2", "vshift", 10, "ten", "a whole number"),
]


def _installed(kind: str, name: str) -> bool:
    try:
        registry.option_names(kind, name)  # type: ignore[arg-type]
    except BackendNotInstalled:
        return False
    return True


def test_the_table_covers_every_kind() -> None:
    assert {row[0] for row in TABLE} == set(registry.KINDS)


@pytest.mark.parametrize(("kind", "name", "key", "good", "bad", "wanted"), TABLE)
def test_a_wrong_type_is_refused_and_the_right_one_passes(
    kind: str, name: str, key: str, good: Any, bad: Any, wanted: str
) -> None:
    if not _installed(kind, name):
        pytest.skip(f"the {kind} backend {name} is not installed here")  # pragma: no cover
    check_options(kind, name, {key: good}, flag=f"--opt {kind}.*")
    with pytest.raises(InputError) as caught:
        check_options(kind, name, {key: bad}, flag=f"--opt {kind}.*")
    text = str(caught.value)
    spelled = bad if isinstance(bad, str) else json.dumps(bad)
    assert text.startswith(f"--opt {kind}.{key}={spelled}: the {kind} backend {name!r} wants ")
    assert wanted in text and f"for {key}, got " in text
    assert caught.value.backend == name
    assert "\n" not in text


def test_single_backend_commands_name_the_bare_flag() -> None:
    with pytest.raises(InputError, match=r"^--opt words_per_minute=fast: the voice backend"):
        check_options("voice", "espeak", {"words_per_minute": "fast"})


def test_text_wanted_but_a_number_given_says_how_to_quote_it() -> None:
    with pytest.raises(InputError) as caught:
        check_options("translator", "llm", {"model": 5}, flag="--opt translator.*")
    assert (
        caught.value.hint == "to pass it as text, quote it as JSON: --opt translator.model='\"5\"'"
    )
    check_options("translator", "llm", {"model": "5"}, flag="--opt translator.*")


def test_an_unknown_key_is_still_refused_first() -> None:
    with pytest.raises(InputError, match="has no option 'nope'"):
        check_options("voice", "espeak", {"nope": "x", "pitch": "x"})


def _every_backend() -> list[tuple[str, str]]:
    """Built-ins, plugins and the test doubles conftest registers."""
    return [(k, n) for k in registry.KINDS for n in registry.available(k)]  # type: ignore[arg-type]


#: One value of each shape ``--opt`` can produce (JSON or text).
SAMPLES: list[Any] = ["abc", "", 0, -3, 2.5, float("nan"), True, False, None, [], [1, "a"], {}]


def test_the_checker_reads_every_registered_backend() -> None:
    """Every registered backend's annotations resolve without an exception (nothing is
    imported for it), every sample value gets an answer, and no backend's own default is
    refused (the checker never says no to what the constructor declares)."""
    checked = 0
    for kind, name in _every_backend():
        try:
            hints = registry.option_hints(kind, name)  # type: ignore[arg-type]
        except BackendNotInstalled:  # pragma: no cover - every extra is installed in CI
            continue
        factory = registry._import_target(
            registry.entry(kind, name).target,  # type: ignore[arg-type]
            kind=kind,
            name=name,
            extra=None,
        )
        defaults = {
            p.name: p.default
            for p in inspect.signature(factory).parameters.values()
            if p.default is not inspect.Parameter.empty
        }
        for key, hint in hints.items():
            for value in SAMPLES:
                wanted = mismatch(hint, value)
                assert wanted is None or (isinstance(wanted, str) and wanted)
            if key in defaults:
                assert mismatch(hint, defaults[key]) is None, (kind, name, key)
        checked += 1
    assert checked >= 30


def test_resolved_hints_of_a_real_backend() -> None:
    hints = registry.option_hints("diarizer", "resemblyzer")
    assert hints["max_distance"] is float and hints["num_speakers"] == int | None
    assert "embedder" in hints  # a class: resolved, but a value for it is not checked
    assert mismatch(hints["embedder"], "abc") is None


def test_a_name_only_type_checkers_see_leaves_that_option_unchecked() -> None:
    namespace: dict[str, Any] = {}
    exec(  # a module whose annotation names an import under TYPE_CHECKING
        "from __future__ import annotations\n"
        "def make(depth: int = 1, device: str | torch.device | None = None) -> None: ...",
        namespace,
    )
    hints = parameter_hints(namespace["make"])
    assert hints == {"depth": int}
    assert "torch" not in namespace


@pytest.mark.parametrize(
    ("hint", "value", "wanted"),
    [
        (int, True, "a whole number"),  # a bool is not a number
        (float, False, "a number"),
        (bool, 1, "true or false"),  # nor a number a bool
        (float, 3, None),  # an int is fine for a float
        (int, 3.0, "a whole number"),
        (str, None, "text"),
        (Path, "a/b", None),
        (os.PathLike, 3, "a path"),
        (Literal[1, 2], True, "one of 1, 2"),  # True == 1, but not a Literal 1
        (tuple[float, ...], [1, 2.5], None),
        (list[int], [1, "2"], "a list of a whole number"),
        (dict[str, int], {"a": "b"}, "a JSON object"),
        (Any, object(), None),
        (int | Any, "x", None),  # an arm not checked: the whole union is not
    ],
)
def test_annotation_shapes(hint: Any, value: Any, wanted: str | None) -> None:
    assert mismatch(hint, value) == wanted


def test_dub_refuses_a_wrong_typed_opt_before_any_work(tmp_path: Path) -> None:
    """`lipdub dub ... --opt diarizer.max_distance=abc` exits 1 with one line, no
    traceback, and leaves the folder as it was (no work directory, no output)."""
    from lipdub.testing.media import make_test_video

    clip = make_test_video(tmp_path / "talk.mp4", duration_s=1.0, size=(96, 72))
    before = sorted(p.name for p in tmp_path.iterdir())
    fakes = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake"]
    args = [*fakes, "--detector", "fake", "--speakers", "2", "--diarizer", "resemblyzer"]
    bad = ["--opt", "diarizer.max_distance=abc"]
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, "dub", str(clip), "--to", "es", *args, *bad],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert run.returncode == 1
    assert run.stderr == (
        "error: --opt diarizer.max_distance=abc: the diarizer backend 'resemblyzer' wants "
        "a number for max_distance, got the text 'abc'\n"
    )
    assert "Traceback" not in run.stdout + run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_single_backend_command_refuses_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["voices", "--backend", "espeak", "--opt", "words_per_minute=fast"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: --opt words_per_minute=fast: the voice backend 'espeak' wants a whole number "
        "for words_per_minute, got the text 'fast'\n"
    )


def test_checking_imports_no_heavy_dependency() -> None:
    """Checking a backend's option types imports its module (as the key check does), and
    nothing the module itself imports lazily: no torch, PyAV, ONNX Runtime or OpenCV."""
    code = (
        "import sys\n"
        "from lipdub.cli._args import check_options\n"
        "from lipdub.errors import InputError\n"
        "for kind, name, key in [('diarizer', 'resemblyzer', 'max_distance'),\n"
        "                        ('voice', 'piper', 'sentence_pause_s'),\n"
        "                        ('translator', 'opus', 'beam_size')]:\n"
        "    check_options(kind, name, {key: 1})\n"
        "    try:\n"
        "        check_options(kind, name, {key: 'abc'})\n"
        "    except InputError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('not refused: ' + name)\n"
        "heavy = ('torch', 'av', 'onnxruntime', 'cv2')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "[]\n"


def test_diarizer_options_without_speakers_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The diarizer runs only with --speakers: its options alone would do nothing."""
    from lipdub.testing.media import make_test_video

    clip = make_test_video(tmp_path / "talk.mp4", duration_s=1.0, size=(96, 72))
    before = sorted(p.name for p in tmp_path.iterdir())
    fakes = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake"]
    args = ["dub", str(clip), "--to", "es", *fakes, "--detector", "fake"]
    assert main([*args, "--opt", "diarizer.onset=0.2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --opt diarizer.*: the diarizer runs only with --speakers")
    assert "--speakers auto" in err and len(err.strip().splitlines()) <= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before
