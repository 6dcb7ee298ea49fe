"""The `lipdub` command against hostile input: every case is one `error:` line.

Each case runs the real command line in-process (``lipdub.cli.main``) on generated
media, random checkpoints and broken artifacts, and checks what a user sees: a non-zero
exit, exactly one line on stderr starting with ``error:`` (no traceback), no output file
(and no temporary file) left behind, and an output that existed before left intact.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from lipdub.cli import main

PREVIOUS = b"previous output, must survive\n"


# --------------------------------------------------------------------------- files


def _wav_header(
    *, rate: int = 16000, channels: int = 1, bits: int = 16, data_bytes: int = 0, fmt: int = 1
) -> bytes:
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt_chunk
        + b"data"
        + struct.pack("<I", data_bytes)
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every hostile input, made once: name -> path."""
    import torch

    from lipdub.testing.checkpoints import write_random_checkpoint
    from lipdub.testing.media import make_speech_wav, make_test_video, sample_portrait_path
    from lipdub.types import Segment, Transcript

    d = tmp_path_factory.mktemp("hostile")
    f: dict[str, Path] = {}

    def put(name: str, data: bytes | str) -> None:
        f[name] = d / name
        if isinstance(data, str):
            f[name].write_text(data, encoding="utf-8")
        else:
            f[name].write_bytes(data)

    f["portrait"] = sample_portrait_path()
    f["video"] = make_test_video(d / "video.mp4", duration_s=0.6, size=(96, 64))
    f["silent_video"] = make_test_video(d / "mute.mp4", duration_s=0.4, size=(96, 64), audio=False)
    f["speech"] = make_speech_wav(d / "speech.wav", 0.4)
    f["folder"] = d / "a folder"
    f["folder"].mkdir()
    f["file"] = d / "plain-file"
    f["file"].write_text("x")
    f["missing"] = d / "missing.mp4"
    # media
    video = f["video"].read_bytes()
    put("empty.mp4", b"")
    put("text.mp4", "this is not a video\n")
    put("html.mp4", "<!DOCTYPE html><html><body>Sign in</body></html>")
    put("truncated.mp4", video[: len(video) // 3])
    put("head.mp4", video[:64])
    put("zeros.mp4", bytes(4096))
    put("random.mp4", np.random.default_rng(1).bytes(8192))
    put("junk.png", b"\x89PNG\r\n\x1a\n" + bytes(64))
    put("truncated.jpg", f["portrait"].read_bytes()[:200])
    put("text.jpg", "not a jpeg")
    # audio headers
    pcm = np.zeros(1600, "<i2").tobytes()
    put("empty.wav", b"")
    put("text.wav", "not a wav file")
    put("riff_only.wav", b"RIFF")
    put("no_data.wav", _wav_header()[:36])
    put("zero_channels.wav", _wav_header(channels=0) + pcm)
    put("bits_7.wav", _wav_header(bits=7, data_bytes=len(pcm)) + pcm)
    put("format_99.wav", _wav_header(fmt=99, data_bytes=len(pcm)) + pcm)
    put("zero_rate.wav", _wav_header(rate=0, data_bytes=len(pcm)) + pcm)
    put("html.mp3", "<html>403 Forbidden</html>")
    put("random.ogg", np.random.default_rng(2).bytes(4096))
    put("truncated.flac", b"fLaC" + bytes(10))
    # checkpoints
    put("html.pth", "<!DOCTYPE html><html>Sign in</html>")
    put("empty.pth", b"")
    put("text.pth", "just text")
    put("zeros.pth", bytes(1024))
    put("junk.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    put("empty.safetensors", b"")
    put("lfs.pth", "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")
    write_random_checkpoint(d / "linear.pth", torch.nn.Linear(3, 2))
    f["linear.pth"] = d / "linear.pth"
    write_random_checkpoint(d / "linear.safetensors", torch.nn.Linear(3, 2), format="safetensors")
    f["linear.safetensors"] = d / "linear.safetensors"
    torch.save({"state_dict": {"module.x": torch.zeros(2)}}, d / "wrapped.pth")
    f["wrapped.pth"] = d / "wrapped.pth"
    torch.save([1, 2, 3], d / "list.pth")
    f["list.pth"] = d / "list.pth"
    # transcripts and text
    good = Transcript("en", (Segment(0.0, 0.5, "one two"),))
    f["good.json"] = good.save(d / "good.json")
    put("segments_strings.json", '{"language": "en", "segments": ["a", "b"]}')
    put("segments_dict.json", '{"language": "en", "segments": {"a": 1}}')
    put(
        "segment_bad_time.json",
        '{"language":"en","segments":[{"start_s":"x","end_s":1,"text":"a"}]}',
    )
    put("segment_nested.json", '{"language":"en","segments":[[0, 1, "a"]]}')
    put("top_list.json", "[1, 2, 3]")
    put("top_string.json", '"hello"')
    put("not_json.json", "{this is not json")
    put("empty.json", b"")
    put(
        "latin1.json",
        '{"language":"en","segments":[{"start_s":0,"end_s":1,"text":"café"}]}'.encode("latin-1"),
    )
    put("deep.json", "[" * 100_000 + "]" * 100_000)
    put("deep_object.json", '{"a":' * 50_000 + "1" + "}" * 50_000)
    put("binary.json", bytes(range(256)))
    put("garbage.srt", "this is not\nan srt file\n")
    put("garbage.vtt", "WEBVTT\n\n00:00:xx --> nonsense\nhello\n")
    put("latin1.txt", "Olé, señor".encode("latin-1"))
    put("binary.txt", b"\xff\xfe\xfd\x00\x81")
    put("utf16_no_bom.txt", "hello".encode("utf-16-le"))
    return f


# --------------------------------------------------------------------------- cases

FAKES = [
    "--transcriber",
    "fake",
    "--translator",
    "fake",
    "--tts",
    "fake",
    "--detector",
    "fake",
    "-q",
    "--device",
    "cpu",
]

# (id, argv with {placeholders}, output suffix or None). "{out}" is the output path.
LIPSYNC = "lipsync --face {face} --audio {audio} --checkpoint {ckpt} -q --detector fake"
CASES: list[tuple[str, str, str | None]] = []
DUB = "dub {video} --to es -o {out} --workdir {out}.wd " + " ".join(FAKES)
DUB_NO_DEVICE = "dub {video} --to es -o {out} --workdir {out}.wd " + " ".join(FAKES[:-2])
TRANSLATE = "translate {good.json} --to es --backend fake -o "
LIPSYNC_OK = LIPSYNC.format(face="{video}", audio="{speech}", ckpt="{linear.pth}")


def case(id_: str, argv: str, out: str | None = ".mp4") -> None:
    CASES.append((id_, argv, out))


def lipsync_case(id_: str, extra: str = "", out: str = ".mp4", **parts: str) -> None:
    fields = {"face": "{video}", "audio": "{speech}", "ckpt": "{linear.pth}", **parts}
    case(id_, LIPSYNC.format(**fields) + " -o {out} " + extra, out)


# media: the face input
for name in (
    "empty.mp4",
    "text.mp4",
    "html.mp4",
    "truncated.mp4",
    "head.mp4",
    "zeros.mp4",
    "random.mp4",
    "junk.png",
    "truncated.jpg",
    "text.jpg",
    "missing",
    "folder",
):
    lipsync_case(f"media-face-{name}", face="{" + name + "}")
for name in ("empty.mp4", "text.mp4", "truncated.mp4", "random.mp4", "missing", "folder"):
    case(f"media-probe-{name}", "probe {" + name + "}", None)
    case(f"media-transcribe-{name}", "transcribe {" + name + "} --backend fake -o {out}", ".json")
    case(
        f"media-dub-{name}",
        DUB.replace("{video}", "{" + name + "}"),
    )
# audio headers: the driving audio
for name in (
    "empty.wav",
    "text.wav",
    "riff_only.wav",
    "no_data.wav",
    "zero_channels.wav",
    "format_99.wav",
    "zero_rate.wav",
    "html.mp3",
    "random.ogg",
    "truncated.flac",
    "silent_video",
    "missing",
    "folder",
):
    lipsync_case(f"audio-{name}", audio="{" + name + "}")
for name in ("empty.wav", "text.wav", "zero_channels.wav", "silent_video"):
    case(f"audio-transcribe-{name}", "transcribe {" + name + "} --backend fake -o {out}", ".json")
# checkpoints
for name in (
    "html.pth",
    "empty.pth",
    "text.pth",
    "zeros.pth",
    "junk.safetensors",
    "empty.safetensors",
    "lfs.pth",
    "linear.pth",
    "linear.safetensors",
    "wrapped.pth",
    "list.pth",
    "missing",
    "folder",
):
    lipsync_case(f"checkpoint-{name}", ckpt="{" + name + "}", face="{portrait}")
case("checkpoint-dub-html", DUB_NO_DEVICE.replace("-q", "--checkpoint {html.pth}"))
# artifacts: transcripts, text files
ARTIFACTS = (
    "segments_strings.json",
    "segments_dict.json",
    "segment_bad_time.json",
    "segment_nested.json",
    "top_list.json",
    "top_string.json",
    "not_json.json",
    "empty.json",
    "latin1.json",
    "deep.json",
    "deep_object.json",
    "binary.json",
    "garbage.srt",
    "garbage.vtt",
    "folder",
)
for name in ARTIFACTS:
    case(
        f"artifact-translate-{name}",
        "translate {" + name + "} --to es --backend fake -o {out}",
        ".json",
    )
    if name != "folder":  # a folder's name is fine text to speak
        case(f"artifact-speak-{name}", "speak {" + name + "} --backend fake -o {out}", ".wav")
for name in ("latin1.txt", "binary.txt", "utf16_no_bom.txt", "folder", "missing"):
    case(f"artifact-text-file-{name}", DUB + " --text-file {" + name + "}")
# arguments
for value in ("nan", "inf", "-inf", "-1", "0", "1e9", "abc", ""):
    lipsync_case(f"arg-fps-{value or 'empty'}", f"--fps={value}")
for value in ("0", "-1", "1.5", "x", "99999"):
    lipsync_case(f"arg-batch-size-{value}", f"--batch-size={value}")
for value in ("nan 0 0 0", "0 10 0 1e6", "0 10 0 99999", "a b c d"):
    lipsync_case(f"arg-pads-{value.replace(' ', '_')}", f"--pads {value}")
for value in ("bogus", "gpu", "cuda:x", "cuda:-1", "cuda", "cuda:7", "cpu:0", ""):
    lipsync_case(f"arg-device-{value or 'empty'}", f"--device={value}")
    case(f"arg-dub-device-{value or 'empty'}", f"{DUB_NO_DEVICE} --device={value}")
for value in ("nan", "0", "-1", "100", "inf"):
    case(f"arg-rate-{value}", f"speak hello --backend fake -o {{out}} --rate={value}", ".wav")
for value in ("0", "1", "-5", "abc", "10000000"):
    case(
        f"arg-sample-rate-{value}",
        f"speak hi --backend fake -o {{out}} --sample-rate={value}",
        ".wav",
    )
case("arg-speak-empty-text", "speak {empty} --backend fake -o {out}", ".wav")
for cmd in ("voices --backend fake", "speak hi --backend fake -o {out}"):
    for opt in ("nonsense=1", "novalue", "=1"):
        out = ".wav" if "speak" in cmd else None
        case(f"arg-opt-{cmd.split()[0]}-{opt}", f"{cmd} --opt {opt}", out)
case("arg-opt-voices-espeak", "voices --opt nonsense=1", None)
case("arg-opt-transcribe", "transcribe {speech} --backend fake -o {out} --opt bad=1", ".json")
case("arg-opt-translate", TRANSLATE + "{out} --opt bad=1", ".json")
for opt in ("voice.nonsense=1", "nonslot.x=1", "noslot=1", "transcriber.bad=2", "detector.x=1"):
    case(f"arg-opt-dub-{opt}", f"{DUB} --opt {opt}")
for backend in ("nope", ""):
    case(f"arg-backend-voices-{backend or 'empty'}", f"voices --backend={backend}", None)
    case(
        f"arg-backend-translate-{backend or 'empty'}",
        f"translate {{good.json}} --to es -o {{out}} --backend={backend}",
        ".json",
    )
lipsync_case("arg-detector-nope", "--detector nope")
lipsync_case("arg-isolate-voice-nope", "--isolate-voice nope")
lipsync_case("arg-audio-longer-bogus", "--audio-longer bogus")
lipsync_case("arg-model-bogus", "--model bogus")
case("arg-missing-to", "dub {video} -o {out}")
case("arg-unknown-flag", "lipsync --face {video} --audio {speech} -o {out} --bogus")
case("arg-voice-map", DUB + " --voice-map nopair")
# environment: the work folder
case("env-workdir-is-file", DUB.replace("{out}.wd", "{file}"))
case("env-workdir-under-file", DUB.replace("{out}.wd", "{file}/sub"))
# output paths
for suffix in (".webm", "", ".gif", ".wav", ".avi", ".MP3"):
    lipsync_case(f"output-lipsync-{suffix or 'none'}", out=suffix)
    case(f"output-dub-{suffix or 'none'}", DUB, suffix)
for suffix in (".webm", "", ".mp4", ".txt"):
    case(f"output-speak-{suffix or 'none'}", "speak hi --backend fake -o {out}", suffix)
for suffix in (".txt", "", ".mp4"):
    case(f"output-translate-{suffix or 'none'}", TRANSLATE + "{out}", suffix)
    case(
        f"output-transcribe-{suffix or 'none'}",
        "transcribe {speech} --backend fake -o {out}",
        suffix,
    )
case("output-lipsync-is-folder", LIPSYNC_OK + " -o {folder}", None)
case("output-speak-is-folder", "speak hi --backend fake -o {folder}", None)
case("output-translate-is-folder", TRANSLATE + "{folder}", None)
case("output-lipsync-under-file", LIPSYNC_OK + " -o {file}/o.mp4", None)
case("output-speak-under-file", "speak hi --backend fake -o {file}/o.wav", None)


# environment variables: (id, {variable: value with {placeholders}}, argv, output suffix)
ENV_CASES: list[tuple[str, dict[str, str], str, str | None]] = []
for name in ("missing", "folder", "not_json.json", "latin1.txt", "segments_strings.json"):
    ENV_CASES.append(
        (f"env-google-credentials-{name}", {"GOOGLE_APPLICATION_CREDENTIALS": "{" + name + "}"},
         "voices --backend google", None)
    )  # fmt: skip
ENV_CASES.append(
    ("env-hf-offline-no-weights", {"HF_HOME": "{out}.hf", "HF_HUB_OFFLINE": "1"},
     "lipsync --face {video} --audio {speech} --model wav2lip -q --device cpu -o {out}", ".mp4")
)  # fmt: skip
ENV_CASES.append(
    ("env-hf-home-is-a-file", {"HF_HOME": "{file}"},
     "lipsync --face {video} --audio {speech} --model wav2lip --offline -q -o {out}", ".mp4")
)  # fmt: skip


# --------------------------------------------------------------------------- tests


def _argv(template: str, files: dict[str, Path], out: Path) -> list[str]:
    names = {k: str(v) for k, v in files.items()} | {"out": str(out), "empty": ""}
    return [
        re.sub(r"\{([^}]+)\}", lambda m: names[m[1]], part) for part in template.split(" ") if part
    ]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _check_one_line(code: int, err: str) -> None:
    assert code != 0, "the command succeeded"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err


def _leftovers(folder: Path, name: str) -> list[str]:
    return [p.name for p in folder.glob(f".{name}.*")]


@pytest.mark.parametrize(
    ("argv", "suffix"), [(a, s) for _, a, s in CASES], ids=[c[0] for c in CASES]
)
def test_hostile_case_is_one_error_line(
    argv: str,
    suffix: str | None,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / f"out{suffix or ''}"
    code, err = _run(_argv(argv, files, out), capsys)
    _check_one_line(code, err)
    assert not out.exists(), "a partial output was left behind"
    assert not _leftovers(tmp_path, out.name)


# a pre-existing output survives a failure (one case per command and failure kind)
KEEP = [
    c
    for c in CASES
    if c[2] is not None
    and c[0].startswith(
        (
            "media-face-text",
            "audio-text.wav",
            "checkpoint-html",
            "checkpoint-linear.pth",
            "artifact-translate-deep.json",
            "artifact-speak-segments_strings",
            "arg-fps-nan",
            "arg-device-cuda",
            "output-lipsync-.webm",
            "output-speak-.webm",
            "media-dub-truncated",
            "artifact-text-file-latin1",
            "arg-opt-dub-voice",
            "env-workdir-is-file",
        )
    )
]


@pytest.mark.parametrize(("argv", "suffix"), [(a, s) for _, a, s in KEEP], ids=[c[0] for c in KEEP])
def test_hostile_case_leaves_a_previous_output_intact(
    argv: str,
    suffix: str,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / f"out{suffix}"
    out.write_bytes(PREVIOUS)
    code, err = _run(_argv(argv, files, out), capsys)
    _check_one_line(code, err)
    assert out.read_bytes() == PREVIOUS
    assert not _leftovers(tmp_path, out.name)


@pytest.mark.parametrize(
    ("env", "argv", "suffix"), [c[1:] for c in ENV_CASES], ids=[c[0] for c in ENV_CASES]
)
def test_hostile_environment_is_one_error_line(
    env: dict[str, str],
    argv: str,
    suffix: str | None,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / f"out{suffix or ''}"
    for key in ("GOOGLE_APPLICATION_CREDENTIALS", "HF_HOME", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, _argv(value, files, out)[0])
    code, err = _run(_argv(argv, files, out), capsys)
    _check_one_line(code, err)
    assert not out.exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
@pytest.mark.parametrize("command", ["speak", "lipsync", "dub-workdir"])
def test_unwritable_folders_are_one_line(
    command: str, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        argv = {
            "speak": "speak hi --backend fake -o {out}",
            "lipsync": LIPSYNC_OK + " -o {out}",
            "dub-workdir": DUB.replace("{out}.wd", str(locked / "work")),
        }[command]
        out = (locked if command != "dub-workdir" else tmp_path) / (
            "o.wav" if command == "speak" else "o.mp4"
        )
        code, err = _run(_argv(argv, files, out), capsys)
        _check_one_line(code, err)
        assert not out.exists() and list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_there_are_at_least_a_hundred_cases() -> None:
    assert len(CASES) + len(KEEP) + len(ENV_CASES) >= 100
    kinds = {c[0].split("-")[0] for c in CASES}
    assert kinds == {"media", "audio", "checkpoint", "artifact", "arg", "env", "output"}


def test_a_valid_lipsync_still_works_after_the_checks(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cases above fail for their one broken part: with it fixed, the command runs."""
    from lipdub.testing import PassThroughLipSyncer  # noqa: F401  (the fakes are importable)

    out = tmp_path / "ok.wav"
    assert main(["speak", "hello", "--backend", "fake", "-o", str(out)]) == 0
    assert out.exists()
    shutil.rmtree(tmp_path / "none", ignore_errors=True)
