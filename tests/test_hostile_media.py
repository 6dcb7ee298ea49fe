"""Hostile and broken inputs: memory limits, non-regular files, secrets, honest messages (#13).

Each test checks a refusal (or a safe handling) and its message; none is timed (the
time and memory numbers are in benchmarks/RESULTS.md, "Hostile inputs").
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lipdub import cli
from lipdub._io import atomic_path, remove_in_flight, remove_stale
from lipdub.errors import CredentialsError, InputError, MediaError, printable
from lipdub.limits import Limits, fit_pixels
from lipdub.media import is_image, load_audio, probe, read_image
from lipdub.media.reader import VideoReader
from lipdub.testing.media import make_portrait, make_speech_wav, make_test_video
from lipdub.types import AudioClip, Segment, Transcript, check_segments_within

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the block blocks, e.g. on a FIFO."""

    def fire(signum: int, frame: object) -> None:
        raise TimeoutError(f"blocked for {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def write_wav(path: Path, rate: int, n: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        noise = np.random.default_rng(0).standard_normal(n) * 3000
        w.writeframes(noise.astype("<i2").tobytes())
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "LIPDUB_MIN_SAMPLE_RATE_HZ",
        "LIPDUB_MAX_SAMPLE_RATE_HZ",
        "LIPDUB_MAX_AUDIO_DURATION_S",
        "LIPDUB_MAX_FRAME_PIXELS",
        "LIPDUB_MAX_IMAGE_PIXELS",
        "LIPDUB_SEGMENT_TOLERANCE_S",
    ):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- audio limits


def test_one_hertz_wav_is_refused_by_name_before_decoding(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "1hz.wav", 1, 32000)  # 64 kB declaring 32000 s
    with pytest.raises(MediaError) as info:
        load_audio(wav)
    msg = str(info.value)
    assert msg.startswith(str(wav))
    assert "1 Hz" in msg and "4000-384000 Hz" in msg
    assert "LIPDUB_MIN_SAMPLE_RATE_HZ" in msg


def test_rate_override_then_duration_limit(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "1hz.wav", 1, 32000)
    with pytest.raises(MediaError, match=r"32000 s long, over the 60 s limit"):
        load_audio(wav, limits=Limits(min_sample_rate_hz=1, max_audio_duration_s=60))


def test_rate_override_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = write_wav(tmp_path / "low.wav", 2000, 3000)  # 1.5 s at 2 kHz
    with pytest.raises(MediaError, match="2000 Hz"):
        load_audio(wav)
    monkeypatch.setenv("LIPDUB_MIN_SAMPLE_RATE_HZ", "1000")
    clip = load_audio(wav, 8000)
    assert clip.sample_rate_hz == 8000
    assert abs(clip.duration_s - 1.5) < 0.01


def test_too_high_rate_and_long_audio_refused(tmp_path: Path) -> None:
    high = write_wav(tmp_path / "high.wav", 768_000, 1000)
    with pytest.raises(MediaError, match=r"768000 Hz"):
        load_audio(high)
    longer = make_speech_wav(tmp_path / "3s.wav", 3.0, 8000)
    with pytest.raises(MediaError, match=r"over the 1 s limit") as info:
        load_audio(longer, limits=Limits(max_audio_duration_s=1.0))
    assert "LIPDUB_MAX_AUDIO_DURATION_S" in str(info.value)
    assert load_audio(longer, 8000).num_samples == 24000


def make_late_sound_video(path: Path, offset_s: float) -> Path:
    """A 1 s, 64x48 MP4 whose (1 s) sound track is declared to start ``offset_s`` in."""
    from fractions import Fraction

    import av

    rate = 16000
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), "bgr24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        tone = (0.2 * np.sin(np.arange(1024) / 8)).astype(np.float32)[None, :]
        for k in range(16):
            chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            chunk.sample_rate, chunk.time_base = rate, Fraction(1, rate)
            chunk.pts = round(offset_s * rate) + k * 1024
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))
    return path


def test_a_sound_track_declared_ten_hours_in_is_refused_before_decoding(tmp_path: Path) -> None:
    from lipdub.media.audio import check_audio

    late = make_late_sound_video(tmp_path / "late.mp4", 36000.0)
    for call in (lambda: load_audio(late), lambda: check_audio(late)):
        with pytest.raises(MediaError) as info:
            call()
        msg = str(info.value)
        assert msg.startswith(f"{late}: the audio is 36001 s long once aligned with the video")
        assert "its sound starts 36000 s in" in msg and "10800 s limit" in msg
        assert "\n" not in msg and "LIPDUB_MAX_AUDIO_DURATION_S" in msg
    # as stored (not aligned), it is the 1 s of sound it holds
    assert abs(load_audio(late, align_to_video=False).duration_s - 1.024) < 0.07
    # a small lead within the limits is still padded, as before
    near = make_late_sound_video(tmp_path / "near.mp4", 0.5)
    clip = load_audio(near)
    assert abs(clip.duration_s - 1.524) < 0.07
    assert float(np.abs(clip.samples[: 16000 * 4 // 10]).max()) == 0.0


def test_evaluate_video_refuses_the_late_sound_from_its_header(tmp_path: Path) -> None:
    from lipdub.eval import evaluate_video

    class Unreached:
        def score(self, *args: object, **kwargs: object) -> object:  # pragma: no cover
            raise AssertionError("decoded and scored a file it should have refused")

    late = make_late_sound_video(tmp_path / "late.mp4", 36000.0)
    with pytest.raises(MediaError, match="its sound starts 36000 s in"):
        evaluate_video(late, Unreached(), cropped=True)
    long_limit = Limits(max_audio_duration_s=0.5)
    with pytest.raises(MediaError, match="the video declares 1 s, over the 0 s limit"):
        evaluate_video(late, Unreached(), cropped=True, limits=long_limit)


def test_cli_eval_of_the_late_sound_is_one_line_under_1_gib(tmp_path: Path) -> None:
    """The file that grew ``lipdub eval`` to 22 GB: one error line, peak RSS < 1 GiB."""
    import torch

    from lipdub.models.syncnet_v2 import SyncNetV2

    late = make_late_sound_video(tmp_path / "late.mp4", 36000.0)
    weights = tmp_path / "syncnet_v2.model"
    torch.save(SyncNetV2().state_dict(), weights)
    code = (
        "import resource, sys\n"
        # a regression fails with MemoryError here instead of exhausting the machine
        "resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))\n"
        "from lipdub.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(int(hwm.split()[1]) * 1024)\n"
        "sys.exit(rc)\n"
    )
    args = ["eval", str(late), "--weights", str(weights), "--cropped", "--device", "cpu", "-q"]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert err.count("\n") == 1 and err.startswith(f"error: {late}: the audio is 36001 s")
    peak = int(proc.stdout.strip())
    assert peak < 1 << 30, f"peak RSS {peak / 2**20:.0f} MiB"


def test_wav_reader_refuses_odd_rates(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "1hz.wav", 1, 100)
    with pytest.raises(MediaError, match="1 Hz"):
        AudioClip.load_wav(wav)


def test_limits_from_env_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIPDUB_MAX_FRAME_PIXELS", "lots")
    with pytest.raises(InputError, match="LIPDUB_MAX_FRAME_PIXELS"):
        Limits.from_env()
    monkeypatch.setenv("LIPDUB_MAX_FRAME_PIXELS", "1e6")
    assert Limits.from_env().max_frame_pixels == 1_000_000
    with pytest.raises(InputError, match="max_audio_duration_s"):
        Limits(max_audio_duration_s=float("nan"))


# --------------------------------------------------------------------------- frame limits


def test_fit_pixels_keeps_aspect_and_even_sizes() -> None:
    assert fit_pixels(8000, 8000, 2048 * 2048) == (2048, 2048)
    w, h = fit_pixels(8000, 6000, 2048 * 2048)
    assert w * h <= 2048 * 2048 and w % 2 == 0 and h % 2 == 0
    assert abs(w / h - 8000 / 6000) < 0.01
    assert fit_pixels(640, 480, 2048 * 2048) == (640, 480)


def test_large_still_is_downscaled(tmp_path: Path) -> None:
    png = make_portrait(tmp_path / "p.png", (600, 400))
    image = read_image(png, limits=Limits(max_image_pixels=60_000))
    h, w = image.shape[:2]
    assert w * h <= 60_000 and abs(w / h - 1.5) < 0.02
    with VideoReader(png, limits=Limits(max_image_pixels=60_000)) as reader:
        assert (reader.info.width, reader.info.height) == (w, h)
        assert (reader.source_info.width, reader.source_info.height) == (600, 400)
    assert read_image(png).shape == (400, 600, 3)


def test_large_video_is_refused_with_the_limit_named(tmp_path: Path) -> None:
    clip = make_test_video(tmp_path / "v.mp4", duration_s=0.2, size=(64, 48), audio=False)
    with pytest.raises(MediaError) as info:
        VideoReader(clip, limits=Limits(max_frame_pixels=1000))
    msg = str(info.value)
    assert "64x48" in msg and "1000 pixel limit" in msg and "LIPDUB_MAX_FRAME_PIXELS" in msg


def test_lipsync_of_a_large_still_writes_a_downscaled_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lipdub.lipsync.engine import lipsync
    from lipdub.testing import PassThroughLipSyncer
    from lipdub.testing.media import speech_tones

    monkeypatch.setenv("LIPDUB_MAX_IMAGE_PIXELS", str(128 * 128))
    png = make_portrait(tmp_path / "p.png", (256, 256))
    out = lipsync(
        png,
        speech_tones(0.2),
        tmp_path / "out.mp4",
        syncer=PassThroughLipSyncer(),
        box=(32, 32, 96, 96),
        preset="ultrafast",
    )
    info = probe(out.output)
    assert (info.width, info.height) == (128, 128)


# --------------------------------------------------------------------------- non-regular files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_opening(tmp_path: Path) -> None:
    fifo = tmp_path / "face.png"
    os.mkfifo(fifo)
    with no_hang():
        for fn in (probe, load_audio, read_image, AudioClip.load_wav):
            with pytest.raises(MediaError, match=r"named pipe \(FIFO\)"):
                fn(fifo)
        assert is_image(fifo)  # by suffix, without opening it
        js = tmp_path / "t.json"
        os.mkfifo(js)
        with pytest.raises(InputError, match="FIFO"):
            Transcript.load(js)


def test_devices_and_folders_are_refused(tmp_path: Path) -> None:
    with no_hang():
        with pytest.raises(MediaError, match="character device"):
            probe("/dev/null")
        with pytest.raises(MediaError, match="folder"):
            load_audio(tmp_path)
        with pytest.raises(InputError, match="folder"):
            Transcript.load(tmp_path)


def test_lipsync_with_a_fifo_face_fails_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "face.mp4"
    os.mkfifo(fifo)
    wav = make_speech_wav(tmp_path / "a.wav", 0.5)
    from lipdub.lipsync.engine import lipsync
    from lipdub.testing import PassThroughLipSyncer

    with no_hang(), pytest.raises(MediaError, match="FIFO"):
        lipsync(fifo, wav, tmp_path / "o.mp4", syncer=PassThroughLipSyncer(), box=(0, 0, 8, 8))


# --------------------------------------------------------------------------- segments vs media


def test_segment_beyond_the_media_is_an_input_error() -> None:
    t = Transcript("en", (Segment(0.0, 1.0, "Hi."), Segment(1e7, 1e7 + 2, "Far.")))
    with pytest.raises(InputError) as info:
        check_segments_within(t, 2.0, source="work/translation.es.json")
    msg = str(info.value)
    assert msg.startswith("work/translation.es.json: segment 1 ")
    assert "10000000 s" in msg and "2 s" in msg
    ok = Transcript("en", (Segment(0.0, 2.4, "Hi."),))
    check_segments_within(ok, 2.0)  # within the 1 s tolerance
    with pytest.raises(InputError, match=r"segment 0 .* ends at 2.4 s"):
        check_segments_within(ok, 2.0, tolerance_s=0.0)


def test_cli_speak_refuses_a_far_segment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.json"
    Transcript("en", (Segment(1e7, 1e7 + 1, "Far."),)).save(path)
    assert cli.main(["speak", str(path), "-o", str(tmp_path / "o.wav"), "--backend", "fake"]) == 1
    err = capsys.readouterr().err
    assert "segment 0" in err and str(path) in err and err.count("\n") == 1
    assert not (tmp_path / "o.wav").exists()


# --------------------------------------------------------------------------- transcript files


def _seg_json(**fields: object) -> str:
    seg = {"start_s": 0.0, "end_s": 1.0, "text": "Hi."} | fields
    return json.dumps(
        {"language": "en", "segments": [{"start_s": 0, "end_s": 0.5, "text": "a"}, seg]}
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"text": None}, "segment 1: field 'text' must be a string, got null"),
        ({"text": 5}, "segment 1: field 'text' must be a string, got a number (5)"),
        ({"start_s": "0"}, "segment 1: field 'start_s' must be a number, got a string"),
        ({"end_s": True}, "segment 1: field 'end_s' must be a number, got a boolean"),
        ({"speaker": 3}, "segment 1: field 'speaker' must be a string or null"),
        ({"words": [{"start_s": 0, "end_s": 1}]}, "segment 1: words[0].text must be a string"),
    ],
)
def test_transcript_fields_are_type_checked(
    tmp_path: Path, fields: dict[str, object], expected: str
) -> None:
    path = tmp_path / "t.json"
    path.write_text(_seg_json(**fields), encoding="utf-8")
    with pytest.raises(InputError) as info:
        Transcript.load(path)
    assert str(info.value).startswith(f"{path}: {expected}")


def test_transcript_missing_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps({"language": "en", "segments": [{"start_s": 0, "end_s": 1}]}), "utf-8"
    )
    with pytest.raises(InputError, match=r"segment 0: field 'text' .* missing"):
        Transcript.load(path)


def test_transcript_bom_and_encodings(tmp_path: Path) -> None:
    t = Transcript("es", (Segment(0.0, 1.0, "¿Qué tal?"),))
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + t.to_json().encode("utf-8"))
    assert Transcript.load(bom) == t
    u16 = tmp_path / "u16.json"
    u16.write_bytes(t.to_json().encode("utf-16"))
    with pytest.raises(InputError) as info:
        Transcript.load(u16)
    msg = str(info.value)
    assert "not UTF-8" in msg and "UTF-16" in msg and str(u16) in msg and "\n" not in msg
    latin = tmp_path / "latin.json"
    latin.write_bytes(t.to_json().encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 text: undecodable byte 0xbf"):
        Transcript.load(latin)


def test_deeply_nested_json_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InputError) as info:
        Transcript.load(path)
    assert "nested too deeply" in str(info.value) and "\n" not in str(info.value)


def test_blank_segments_and_empty_language() -> None:
    t = Transcript("es", (Segment(0, 1, "Hola."), Segment(1, 2, " \n"), Segment(2, 3, "")))
    assert t.blank_segments() == (1, 2)
    from lipdub.languages import check_language

    for bad in ("", " ", "."):
        with pytest.raises(InputError):
            check_language(bad)
        with pytest.raises(InputError):
            Transcript(bad)


# --------------------------------------------------------------------------- honest messages


def test_printable_strips_escapes_and_controls() -> None:
    assert printable("\x1b[1;31mred\x1b[0m") == "red"
    assert printable("\x1b]0;evil title\x07ok") == "ok"
    assert printable("bell\x07 bs\x08 nul\x00") == "bell\\x07 bs\\x08 nul\\x00"
    assert printable("\u202eevil") == "\\u202eevil"
    assert printable("two\nlines") == "two\nlines"
    assert printable("two\nlines", newlines=False) == "two\\nlines"


def test_errors_never_carry_escape_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = tmp_path / "\x1b[31mred\x1b[0m\x07.mp4"
    err = MediaError("bad \x1b[2Jthing", path=name, hint="\x1b[5mblink")
    assert "\x1b" not in str(err) and "\x07" not in str(err)
    assert cli.main(["probe", str(name)]) == 1
    out = capsys.readouterr().err
    assert "\x1b" not in out and "\x07" not in out and "file not found" in out


# --------------------------------------------------------------------------- speak -o formats


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".m4a", ".ogg", ".wav"])
def test_speak_writes_the_format_its_suffix_names(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"x{suffix}"
    assert cli.main(["speak", "hello there", "-o", str(out), "--backend", "fake"]) == 0
    head = out.read_bytes()[:12]
    magic = {
        ".mp3": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xe3"),
        ".flac": (b"fLaC",),
        ".ogg": (b"OggS",),
        ".wav": (b"RIFF",),
    }
    if suffix == ".m4a":
        assert head[4:8] == b"ftyp"
    else:
        assert head.startswith(magic[suffix])
    assert load_audio(out).duration_s > 0.1


def test_speak_refuses_unknown_suffix_listing_the_supported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.xyz"
    assert cli.main(["speak", "hello", "-o", str(out), "--backend", "fake"]) == 2  # usage error
    err = capsys.readouterr().err
    assert ".xyz" in err and ".mp3" in err and ".flac" in err
    assert not out.exists()


# --------------------------------------------------------------------------- temporary files


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_names_carry_the_pid(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    with atomic_path(target) as tmp:
        assert re.fullmatch(rf"\.out\.mp4\.{os.getpid()}-\w+\.tmp\.mp4", tmp.name)
        tmp.write_bytes(b"x")
        assert remove_stale(target) == []  # our own, in flight: kept
    assert target.read_bytes() == b"x"


def test_stale_temp_files_are_removed_on_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    dead = tmp_path / f".out.mp4.{_dead_pid()}-abc123.tmp.mp4"
    alive = tmp_path / f".out.mp4.{os.getppid()}-abc123.tmp.mp4"
    old = tmp_path / ".out.mp4.k3j9x0ab.tmp.mp4"  # an older lipdub's name, no pid
    recent = tmp_path / ".out.mp4.zz99yy88.tmp.mp4"
    other = tmp_path / ".out.mp4.bak.mp4.1-abc.tmp.mp4"  # another output's temp
    for p in (dead, alive, old, recent, other):
        p.write_bytes(b"partial")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert not dead.exists() and not old.exists()
    assert alive.exists() and recent.exists() and other.exists()
    assert target.read_bytes() == b"new"


def test_remove_in_flight(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.wav") as tmp:
        tmp.write_bytes(b"x")
        assert remove_in_flight() == [tmp]
        assert not tmp.exists()
        raise RuntimeError("stop")
    assert not (tmp_path / "a.wav").exists()


def test_sigterm_removes_in_flight_temp_files_and_exits_143(tmp_path: Path) -> None:
    script = (
        "import signal, sys, time\n"
        "from lipdub import cli\n"
        "from lipdub._io import atomic_path\n"
        "signal.signal(signal.SIGTERM, cli._on_sigterm)\n"
        f"with atomic_path({str(tmp_path / 'out.mp4')!r}) as tmp:\n"
        "    tmp.write_bytes(b'partial')\n"
        "    print(tmp, flush=True)\n"
        "    time.sleep(60)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    tmp = Path(proc.stdout.readline().decode().strip())
    assert tmp.exists()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert b"terminated" in err
    assert not tmp.exists() and not (tmp_path / "out.mp4").exists()
    assert list(tmp_path.iterdir()) == []


def test_main_installs_and_restores_the_sigterm_handler(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen = []
    png = make_portrait(tmp_path / "p.png", (32, 32))

    def spy(args: object) -> int:
        seen.append(signal.getsignal(signal.SIGTERM))
        return 0

    import lipdub.cli.probe as probe_command

    parser_main = probe_command.cmd_probe
    try:
        probe_command.cmd_probe = spy  # type: ignore[assignment]
        assert cli.main(["probe", str(png)]) == 0
    finally:
        probe_command.cmd_probe = parser_main  # type: ignore[assignment]
    assert seen == [cli._on_sigterm]
    assert signal.getsignal(signal.SIGTERM) == before


# --------------------------------------------------------------------------- secrets


def _fake_key() -> tuple[dict[str, str], str]:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    except ImportError:  # a PEM-shaped dummy
        body = base64.b64encode(bytes(range(256)) * 4).decode()
        lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        pem = f"-----BEGIN PRIVATE KEY-----\n{lines}\n-----END PRIVATE KEY-----\n"
    info = {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": "dubber@demo-project.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return info, pem


def _assert_no_key(text: str, pem: str) -> None:
    assert "PRIVATE KEY" not in text
    assert "private_key" not in text
    body = "".join(pem.splitlines()[1:-1])
    for i in range(0, len(body) - 24, 24):
        assert body[i : i + 24] not in text
    assert not re.search(r"[A-Za-z0-9+/]{40,}", text)


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-16"),
        lambda s: s.encode("utf-16-le"),
        lambda s: s.encode("utf-16-be"),
        lambda s: b"\xfe\xff" + s.encode("utf-16-be"),
        lambda s: s.encode("utf-32"),
        lambda s: s.replace("dubber", "dübber").encode("latin-1"),
        lambda s: b"\x00\x01\xff" + s.encode() + bytes(range(256)),
        lambda s: s[:-5].encode(),  # truncated JSON
    ],
    ids=["utf16", "utf16le", "utf16be", "utf16be-bom", "utf32", "latin1", "binary", "truncated"],
)
def test_credentials_errors_never_echo_the_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    encode: object,
) -> None:
    pytest.importorskip("google.auth")
    from lipdub._google import load_credentials

    info, pem = _fake_key()
    key = tmp_path / "key.json"
    key.write_bytes(encode(json.dumps(info, indent=2)))  # type: ignore[operator]
    with pytest.raises(CredentialsError) as err:
        load_credentials(key)
    text = str(err.value)
    assert str(key) in text and "\n" not in text
    _assert_no_key(text, pem)
    caplog.set_level("DEBUG")
    assert cli.main(["voices", "--backend", "google", "--opt", f"credentials_path={key}"]) == 1
    cap = capsys.readouterr()
    for stream in (cap.out, cap.err, caplog.text):
        _assert_no_key(stream, pem)
    assert "credentials" in cap.err


def test_credentials_good_key_and_external_account(tmp_path: Path) -> None:
    pytest.importorskip("google.auth")
    from lipdub._google import load_credentials

    info, _ = _fake_key()
    key = tmp_path / "key.json"
    key.write_text(json.dumps(info), encoding="utf-8")
    _, project = load_credentials(key)
    assert project == "demo-project"
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(info).encode())
    assert load_credentials(bom)[1] == "demo-project"
    ext = tmp_path / "ext.json"
    ext.write_text(
        json.dumps(
            {
                "type": "external_account",
                "audience": "//iam.googleapis.com/projects/1/locations/global/"
                "workloadIdentityPools/pool/providers/prov",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": "https://sts.googleapis.com/v1/token",
                "credential_source": {"file": str(tmp_path / "token.txt")},
            }
        ),
        encoding="utf-8",
    )
    creds, project = load_credentials(ext)  # no network: the project is looked up later
    assert project is None and creds is not None


def test_credentials_wrong_type_and_missing_fields(tmp_path: Path) -> None:
    pytest.importorskip("google.auth")
    from lipdub._google import load_credentials

    info, pem = _fake_key()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(info | {"type": pem}), encoding="utf-8")
    with pytest.raises(CredentialsError, match='"type" is unrecognised') as err:
        load_credentials(bad)
    _assert_no_key(str(err.value), pem)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"type": "service_account", "private_key": pem}), "utf-8")
    with pytest.raises(CredentialsError, match=r"lack the field.*client_email") as err:
        load_credentials(partial)
    _assert_no_key(str(err.value), pem)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(info | {"private_key": pem[:200]}), "utf-8")
    with pytest.raises(CredentialsError, match="google-auth cannot load") as err:
        load_credentials(broken)
    _assert_no_key(str(err.value), pem)
