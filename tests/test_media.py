"""lipdub.media: probe, read, write, mux and load audio with PyAV (no ffmpeg binary)."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from lipdub.errors import InputError, MediaError
from lipdub.media import (
    AudioFile,
    VideoReader,
    VideoWriter,
    is_image,
    iter_frames,
    load_audio,
    mux_audio,
    probe,
    read_image,
    write_audio,
    write_video,
)
from lipdub.testing.media import (
    make_portrait,
    make_speech_wav,
    make_test_video,
    sample_portrait_path,
    speech_tones,
)
from lipdub.types import AudioClip

FRAME_S = 0.04  # one frame at 25 fps
AUDIO_TOL_S = 0.02


def _grey(value: int, h: int = 48, w: int = 64) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def _level(frame: np.ndarray) -> int:
    return round(float(frame.mean()))


# --------------------------------------------------------------------------- round trip


def test_round_trip_10s_640x360_keeps_frames_fps_and_audio(tmp_path: Path) -> None:
    src = make_test_video(tmp_path / "src.mp4", duration_s=10.0, size=(640, 360))
    info = probe(src)
    assert (info.width, info.height, info.fps, info.frame_count) == (640, 360, Fraction(25), 250)
    assert info.has_audio and info.audio_sample_rate_hz == 16000
    assert info.duration_s == pytest.approx(10.0, abs=FRAME_S)
    audio = load_audio(src, 16000)
    assert audio.duration_s == pytest.approx(10.0, abs=AUDIO_TOL_S)

    out = write_video(
        tmp_path / "out.mp4", iter_frames(src), fps=info.fps, audio=audio, preset="ultrafast"
    )
    info2 = probe(out)
    assert info2.fps == info.fps
    assert abs(info2.frame_count - info.frame_count) <= 1
    assert sum(1 for _ in iter_frames(out)) == pytest.approx(250, abs=1)
    audio2 = load_audio(out, 16000)
    assert audio2.duration_s == pytest.approx(audio.duration_s, abs=AUDIO_TOL_S)
    # The sound survives (AAC is lossy: compare loudness, not samples).
    assert audio2.rms() == pytest.approx(audio.rms(), rel=0.1)


@pytest.mark.parametrize("seconds", [0.37, 1.0, 1.013])
@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_written_audio_duration_is_exact(tmp_path: Path, seconds: float, rate: int) -> None:
    clip = speech_tones(seconds, rate)
    out = write_video(tmp_path / "a.mp4", [_grey(100)] * 3, fps=25, audio=clip)
    back = load_audio(out, rate)
    assert back.duration_s == pytest.approx(seconds, abs=AUDIO_TOL_S)


def test_unicode_and_spaces_in_paths(tmp_path: Path) -> None:
    folder = tmp_path / "dossier été 動画"
    src = make_test_video(folder / "clip ñ 1.mp4", duration_s=0.4, size=(64, 48))
    info = probe(src)
    assert info.path == str(src) and info.frame_count == 10
    out = write_video(folder / "sortie ü.mp4", iter_frames(src), fps=25, audio=load_audio(src))
    assert probe(out).frame_count == 10
    assert load_audio(out).duration_s == pytest.approx(0.4, abs=AUDIO_TOL_S)


def test_exact_ntsc_frame_rate(tmp_path: Path) -> None:
    src = make_test_video(
        tmp_path / "ntsc.mp4", duration_s=0.5, fps=Fraction(30000, 1001), size=(64, 48)
    )
    info = probe(src)
    assert info.fps == Fraction(30000, 1001)
    assert info.frame_count == round(0.5 * 30000 / 1001)


def test_reader_frames_are_bgr_uint8_in_order(tmp_path: Path) -> None:
    frames = [_grey(40 + 20 * i) for i in range(6)]
    frames[0][:, :, 2] = 250  # a red first frame: channel 2 is red in BGR
    out = write_video(tmp_path / "g.mp4", frames, fps=25, crf=0)
    with VideoReader(out) as reader:
        assert len(reader) == 6
        got = list(reader)
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in got)
    assert got[0][..., 2].mean() > 200 and got[0][..., 0].mean() < 100
    assert [_level(f) for f in got[1:]] == pytest.approx([60, 80, 100, 120, 140], abs=2)


def test_reader_iterates_once_and_is_lazy(test_video: Path) -> None:
    reader = VideoReader(test_video)
    it = iter(reader)
    first = next(it)
    assert first.shape == (120, 160, 3)
    it.close()  # stop early: the file is released
    reader.close()
    with pytest.raises(MediaError, match="only once"):
        iter(reader)


def test_requested_fps_resamples(tmp_path: Path) -> None:
    src = write_video(tmp_path / "n.mp4", [_grey(20 + 10 * i) for i in range(20)], fps=25, crf=0)
    with VideoReader(src, fps=50) as reader:
        assert reader.info.fps == 50 and reader.info.frame_count == 40
        doubled = [_level(f) for f in reader]
    assert len(doubled) == 40
    assert doubled[::2] == pytest.approx(doubled[1::2], abs=1)  # each frame twice
    halved = [_level(f) for f in iter_frames(src, fps=Fraction(25, 2))]
    assert len(halved) == 10
    assert halved == pytest.approx([20 + 10 * i for i in range(0, 20, 2)], abs=2)


# --------------------------------------------------------------------------- odd sizes


def test_odd_frame_size_is_padded_to_even(tmp_path: Path) -> None:
    frame = np.zeros((33, 47, 3), np.uint8)
    frame[:, -1] = 200  # last column bright: the padding repeats it
    with VideoWriter(tmp_path / "odd.mp4", fps=25, width=47, height=33, crf=0) as w:
        assert w.encoded_size == (48, 34)
        w.write_many([frame] * 3)
    info = probe(tmp_path / "odd.mp4")
    assert (info.width, info.height, info.frame_count) == (48, 34, 3)
    back = read_image(tmp_path / "odd.mp4")
    assert back[:, -2:].mean() > 150 and back[:, :40].mean() < 30


def test_writer_rejects_wrong_frame(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match=r"\(48, 64, 3\) uint8"),
        VideoWriter(tmp_path / "x.mp4", fps=25, width=64, height=48) as w,
    ):
        w.write(np.zeros((48, 60, 3), np.uint8))
    assert not (tmp_path / "x.mp4").exists()


# --------------------------------------------------------------------------- atomicity


def test_exception_mid_write_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"

    def frames():  # type: ignore[no-untyped-def]
        for i in range(5):
            yield _grey(10 * i)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_video(out, frames(), fps=25, audio=AudioClip.silence(1.0, 16000))
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(KeyboardInterrupt), VideoWriter(out, fps=25, width=64, height=48) as w:
        w.write(_grey(50))
        raise KeyboardInterrupt
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_no_frames_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no frames"):
        write_video(tmp_path / "e.mp4", [], fps=25)
    with (
        pytest.raises(InputError, match="no frames"),
        VideoWriter(tmp_path / "e.mp4", fps=25, width=64, height=48),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- errors


def _assert_one_line(err: MediaError, path: Path) -> None:
    text = str(err)
    assert "\n" not in text
    assert str(path) in text
    assert err.path == str(path) and err.hint


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    for fn in (probe, load_audio, read_image):
        with pytest.raises(MediaError, match="not found") as ei:
            fn(missing)  # type: ignore[operator]
        _assert_one_line(ei.value, missing)


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my meeting notes, not a video\n" * 50)
    with pytest.raises(MediaError, match="not a video") as ei:
        probe(fake)
    _assert_one_line(ei.value, fake)
    with pytest.raises(MediaError):
        list(iter_frames(fake))
    with pytest.raises(MediaError):
        load_audio(fake)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe(empty)


@pytest.mark.parametrize("faststart", [True, False])
def test_truncated_file(tmp_path: Path, faststart: bool) -> None:
    full = write_video(
        tmp_path / "full.mp4",
        [_grey(i * 5) for i in range(25)],
        fps=25,
        audio=speech_tones(1.0, 16000),
        faststart=faststart,
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated") as ei:
        probe(cut)
    _assert_one_line(ei.value, cut)
    with pytest.raises(MediaError):
        load_audio(cut)


def test_no_video_stream(tmp_path: Path) -> None:
    wav = make_speech_wav(tmp_path / "speech.wav", 0.5)
    with pytest.raises(MediaError, match="no video track") as ei:
        probe(wav)
    _assert_one_line(ei.value, wav)


def test_no_audio_stream(tmp_path: Path) -> None:
    silent = make_test_video(tmp_path / "silent.mp4", duration_s=0.2, size=(64, 48), audio=False)
    assert not probe(silent).has_audio
    with pytest.raises(MediaError, match="no audio track") as ei:
        load_audio(silent)
    _assert_one_line(ei.value, silent)


def test_errors_pickle(tmp_path: Path) -> None:
    import pickle

    try:
        probe(tmp_path / "gone.mp4")
    except MediaError as e:
        again = pickle.loads(pickle.dumps(e))
        assert str(again) == str(e) and again.path == e.path


# --------------------------------------------------------------------------- rotation


@pytest.mark.parametrize(
    ("rotation", "corner"),
    [(90, "top-right"), (180, "bottom-right"), (270, "bottom-left")],
)
def test_rotated_video_decodes_upright(tmp_path: Path, rotation: int, corner: str) -> None:
    frame = np.zeros((48, 80, 3), np.uint8)  # landscape as stored
    frame[:8, :8] = 255  # marker in the stored top-left corner
    out = write_video(tmp_path / "r.mp4", [frame] * 3, fps=25, rotation=rotation, crf=0)
    info = probe(out)
    assert info.rotation == rotation
    expected_size = (48, 80) if rotation in (90, 270) else (80, 48)
    assert (info.width, info.height) == expected_size
    got = next(iter_frames(out))
    assert got.shape == (info.height, info.width, 3)
    ys, xs = np.nonzero(got.max(axis=2) > 128)
    h, w = got.shape[:2]
    where = ("top" if ys.mean() < h / 2 else "bottom") + "-"
    where += "left" if xs.mean() < w / 2 else "right"
    assert where == corner


def test_rotation_survives_mux_audio(tmp_path: Path) -> None:
    out = write_video(tmp_path / "r.mp4", [_grey(90, 48, 80)] * 3, fps=25, rotation=90)
    muxed = mux_audio(out, speech_tones(0.12, 16000), tmp_path / "m.mp4")
    info = probe(muxed)
    assert info.rotation == 90 and (info.width, info.height) == (48, 80)


# --------------------------------------------------------------------------- VFR


def _write_vfr(path: Path, times_ms: list[int]) -> None:
    """Frames shown at ``times_ms`` (irregular), grey level 20 + 5 * index."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=25, options={"crf": "0"})
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    stream.time_base = Fraction(1, 1000)
    stream.codec_context.time_base = Fraction(1, 1000)
    for i, t in enumerate(times_ms):
        frame = av.VideoFrame.from_ndarray(_grey(20 + 5 * i), format="bgr24")
        frame.pts, frame.time_base = t, Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()


def test_variable_frame_rate_is_resampled_to_constant(tmp_path: Path) -> None:
    # Pairs of frames 10 ms apart, pairs 80 ms apart: 25 fps on average.
    times = [p * 80 + d for p in range(20) for d in (0, 10)]
    path = tmp_path / "vfr.mp4"
    _write_vfr(path, times)
    info = probe(path)
    assert info.variable_frame_rate
    assert info.fps == 25
    assert info.frame_count == pytest.approx(40, abs=1)
    frames = list(iter_frames(path))
    assert len(frames) == info.frame_count
    src_index = [round((_level(f) - 20) / 5) for f in frames]
    assert src_index == sorted(src_index)  # time never runs backwards
    assert len(set(src_index)) < len(times)  # some frames dropped ...
    assert any(a == b for a, b in itertools.pairwise(src_index))  # ... some doubled
    for i, k in enumerate(src_index):  # each output shows a frame from (about) its time
        assert abs(times[k] / 1000 - i * FRAME_S) <= FRAME_S + 1e-6


def test_constant_frame_rate_is_not_flagged_vfr(test_video: Path) -> None:
    assert not probe(test_video).variable_frame_rate


# --------------------------------------------------------------------------- images


def test_still_image_is_a_one_frame_source(tmp_path: Path) -> None:
    png = make_portrait(tmp_path / "face.png", size=(200, 150))
    assert is_image(png)
    info = probe(png)
    assert info.is_image and info.frame_count == 1 and info.fps == 25
    assert (info.width, info.height, info.duration_s) == (200, 150, 0.0)
    assert not info.has_audio
    frames = list(iter_frames(png))
    assert len(frames) == 1 and frames[0].shape == (150, 200, 3)
    face = read_image(png)
    assert face[75, 100].tolist() != face[2, 2].tolist()  # face in the middle, background at edge


def test_image_detection_by_content_and_suffix(tmp_path: Path, test_video: Path) -> None:
    png = make_portrait(tmp_path / "actually_png.dat")
    assert is_image(png)
    assert not is_image(test_video)
    assert is_image(tmp_path / "missing.JPG")  # no content to read: the suffix decides


def test_sample_portrait(tmp_path: Path) -> None:
    path = sample_portrait_path()
    assert path.is_file() and path.stat().st_size < 100_000
    # the library's own data (the int8 calibration uses it), not the test helpers'
    assert path.parent.name == "data" and path.parent.parent.name == "lipdub"
    info = probe(path)
    assert info.is_image and 256 <= min(info.width, info.height) <= 400
    img = read_image(path)
    assert img.shape == (info.height, info.width, 3) and img.std() > 30
    repo_copy = Path(__file__).resolve().parents[1] / "examples" / "data" / "portrait.jpg"
    assert repo_copy.read_bytes() == path.read_bytes()


def test_image_through_writer(tmp_path: Path) -> None:
    img = read_image(sample_portrait_path())
    out = write_video(tmp_path / "still.mp4", [img] * 5, fps=25, preset="ultrafast")
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (img.shape[1], img.shape[0], 5)


# --------------------------------------------------------------------------- audio


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus"])
@pytest.mark.parametrize("rate", [16000, 22050])
def test_load_audio_formats(tmp_path: Path, suffix: str, rate: int) -> None:
    source = speech_tones(1.2, 44100)
    path = write_audio(tmp_path / f"speech{suffix}", source)
    clip = load_audio(path, rate)
    assert clip.sample_rate_hz == rate
    assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    assert clip.duration_s == pytest.approx(1.2, abs=AUDIO_TOL_S)
    assert clip.rms() == pytest.approx(source.rms(), rel=0.15)


def test_load_audio_from_mp4(test_video: Path) -> None:
    clip = load_audio(test_video, 8000)
    assert clip.sample_rate_hz == 8000
    assert clip.duration_s == pytest.approx(1.0, abs=AUDIO_TOL_S)
    assert clip.rms() == pytest.approx(speech_tones(1.0, 8000).rms(), rel=0.15)


def test_load_audio_mixes_stereo_to_mono(tmp_path: Path) -> None:
    # .ogg is written as two identical channels: the mono mix has the same level.
    src = speech_tones(0.5, 22050)
    clip = load_audio(write_audio(tmp_path / "s.ogg", src), 22050)
    assert clip.rms() == pytest.approx(src.rms(), rel=0.15)


def test_write_audio_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.xyz"):
        write_audio(tmp_path / "a.xyz", AudioClip.silence(0.1, 16000))


# --------------------------------------------------------------------------- mux


def _video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.dts is not None]


def test_mux_audio_replaces_audio_without_reencoding(tmp_path: Path, test_video: Path) -> None:
    new_audio = speech_tones(1.7, 24000)
    out = mux_audio(test_video, new_audio, tmp_path / "dubbed.mp4")
    assert _video_packets(out) == _video_packets(test_video)  # bit-identical video
    info = probe(out)
    assert info.frame_count == 25 and info.audio_sample_rate_hz == 24000
    assert load_audio(out, 24000).duration_s == pytest.approx(1.7, abs=AUDIO_TOL_S)


def test_mux_audio_in_place_and_onto_silent_video(tmp_path: Path) -> None:
    silent = make_test_video(tmp_path / "s.mp4", duration_s=0.4, size=(64, 48), audio=False)
    mux_audio(silent, speech_tones(0.4, 16000), silent)
    assert probe(silent).has_audio
    assert load_audio(silent).duration_s == pytest.approx(0.4, abs=AUDIO_TOL_S)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mp4"]


def test_mux_audio_needs_video(tmp_path: Path) -> None:
    wav = make_speech_wav(tmp_path / "a.wav", 0.3)
    with pytest.raises(MediaError, match="no video track"):
        mux_audio(wav, AudioClip.silence(0.3, 16000), tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


# --------------------------------------------------------------------------- test media


def test_test_video_face_and_blank_spans(tmp_path: Path) -> None:
    from lipdub.testing import BrightRegionDetector

    path = make_test_video(
        tmp_path / "b.mp4", duration_s=1.0, size=(160, 120), blank_spans=[(0.4, 0.6)]
    )
    frames = list(iter_frames(path))
    found = [bool(b) for b in BrightRegionDetector().detect(frames)]
    assert len(found) == 25
    assert found[:10] == [True] * 10 and found[15:] == [True] * 10
    assert found[10:15] == [False] * 5
    boxes = [b[0] for b in BrightRegionDetector().detect([frames[0], frames[24]])]
    assert boxes[0].as_tuple() != boxes[1].as_tuple()  # the face moves
    assert 40 < boxes[0].height < 90  # about half the frame height


def test_test_video_without_face(tmp_path: Path) -> None:
    path = make_test_video(tmp_path / "n.mp4", duration_s=0.2, size=(64, 48), face="none")
    assert all(f.max() < 60 for f in iter_frames(path))


def test_speech_wav(tmp_path: Path) -> None:
    path = make_speech_wav(tmp_path / "s.wav", 2.0, 22050)
    clip = AudioClip.load_wav(path)
    assert clip.sample_rate_hz == 22050 and clip.num_samples == 44100
    # Tone bursts: loud syllables and silent pauses.
    frames = clip.samples[: 44100 // 441 * 441].reshape(-1, 441)
    levels = np.sqrt((frames**2).mean(axis=1))
    assert levels.max() > 0.1 and (levels < 1e-3).sum() > 10


def _late_sound_video(path: Path) -> Path:
    """40 frames at 25 fps with 1 s of tone-burst sound stored 0.5 s after the first."""
    container = av.open(str(path), "w")
    video = container.add_stream("libx264", rate=25)
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    sound = container.add_stream("aac", rate=16000, layout="mono")
    for i in range(40):
        frame = av.VideoFrame.from_ndarray(_grey(80), format="bgr24")
        frame.pts = i
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)
    tone = speech_tones(1.0, 16000).samples
    for pos in range(0, 16000, 1024):
        chunk = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(tone[None, pos : pos + 1024]), format="fltp", layout="mono"
        )
        chunk.sample_rate, chunk.pts, chunk.time_base = 16000, 8000 + pos, Fraction(1, 16000)
        for packet in sound.encode(chunk):
            container.mux(packet)
    for packet in sound.encode(None):
        container.mux(packet)
    container.close()
    return path


def test_load_audio_aligns_late_sound_with_the_video(tmp_path: Path) -> None:
    """Sound stored 0.5 s after the first frame reads back with 0.5 s of lead-in silence."""
    path = _late_sound_video(tmp_path / "late.mp4")
    aligned = load_audio(path, 16000)
    assert aligned.duration_s == pytest.approx(1.5, abs=0.07)
    assert aligned.slice(0.0, 0.4).rms() < 1e-3
    assert aligned.slice(0.5, 1.5).rms() == pytest.approx(speech_tones(1.0, 16000).rms(), rel=0.2)
    stored = load_audio(path, 16000, align_to_video=False)
    assert stored.duration_s == pytest.approx(1.0, abs=0.07)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".bmp"])
def test_image_formats(tmp_path: Path, suffix: str) -> None:
    import cv2

    img = cv2.imread(str(make_portrait(tmp_path / "p.png", size=(90, 70))))
    path = tmp_path / f"face{suffix}"
    path.write_bytes(cv2.imencode(suffix, img)[1].tobytes())
    assert is_image(path)
    info = probe(path)
    assert info.is_image and (info.width, info.height) == (90, 70)
    frames = list(iter_frames(path, fps=30))
    assert len(frames) == 1
    assert np.abs(frames[0].astype(int) - img.astype(int)).mean() < 3


def test_jpeg_exif_orientation_is_applied(tmp_path: Path) -> None:
    image_mod = pytest.importorskip("PIL.Image")
    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:8, :8] = 255
    pic = image_mod.fromarray(stored)
    exif = pic.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "phone.jpg"
    pic.save(path, exif=exif.tobytes())
    info = probe(path)
    assert info.rotation == 90 and (info.width, info.height) == (40, 80)
    shown = read_image(path)
    ys, xs = np.nonzero(shown.max(axis=2) > 128)
    assert shown.shape == (80, 40, 3) and ys.mean() < 20 and xs.mean() > 20  # top-right


# --------------------------------------------------------------------------- look (SAR, colour)

#: An anamorphic (PAL 4:3 DVD-like) BT.709 limited-range clip, turned 90 degrees.
ANAMORPHIC = {
    "sar": Fraction(128, 117),
    "color_range": 1,  # limited (MPEG)
    "color_primaries": 1,  # BT.709
    "color_trc": 1,
    "colorspace": 1,
}


def make_anamorphic(
    path: Path, *, rotation_ccw: int = 90, full_range: bool = False, seconds: float = 1.0
) -> Path:
    """The drawn talking face (with its tone bursts) re-encoded by PyAV directly with
    SAR 128:117, BT.709 tags, a display matrix, and limited or full range."""
    src = make_test_video(path.with_name("src-" + path.name), duration_s=seconds, size=(96, 72))
    rng = 2 if full_range else 1
    audio = load_audio(src, 16000)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25, options={"crf": "12"})
        video.width, video.height, video.pix_fmt = 96, 72, "yuv420p"
        ctx = video.codec_context
        ctx.sample_aspect_ratio = ANAMORPHIC["sar"]
        ctx.color_range = rng
        ctx.color_primaries = ctx.color_trc = ctx.colorspace = 1
        if rotation_ccw:
            video.set_display_rotation(rotation_ccw)
        sound = out.add_stream("aac", rate=16000, layout="mono")
        for i, frame in enumerate(iter_frames(src)):
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            vf = vf.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=rng)
            vf.pts = i
            out.mux(video.encode(vf))
        out.mux(video.encode(None))
        samples = audio.samples
        for start in range(0, len(samples), 1024):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[None, start : start + 1024]),
                format="fltp",
                layout="mono",
            )
            chunk.sample_rate, chunk.time_base, chunk.pts = 16000, Fraction(1, 16000), start
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))
    return path


def stream_look(path: Path) -> dict[str, object]:
    """What ffprobe would show of the first video stream, read through PyAV."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        ctx = s.codec_context
        frame = next(c.decode(s))
        return {
            "size": (ctx.width, ctx.height),
            "sar": s.sample_aspect_ratio,
            "dar": s.display_aspect_ratio,
            "color_range": ctx.color_range,
            "color_primaries": ctx.color_primaries,
            "color_trc": ctx.color_trc,
            "colorspace": ctx.colorspace,
            "rotation_ccw": frame.rotation,
        }


def _assert_same_look(out: Path, src: Path, rows: slice = slice(None)) -> None:
    """Same stream look, and (decoded upright) the same picture in ``rows``."""
    got, want = stream_look(out), stream_look(src)
    assert got == want
    assert got["sar"] == Fraction(128, 117) and got["dar"] == Fraction(512, 351)
    a = np.stack([f[rows] for f in iter_frames(src)]).astype(np.int16)
    b = np.stack([f[rows] for f in iter_frames(out)])[: len(a)].astype(np.int16)
    assert a.shape == b.shape
    # each H.264 generation moves levels by ~1 (4:2:0 rounding), with or without a look
    assert float(np.abs(a - b).mean()) < 2.5


@pytest.mark.parametrize("full_range", [False, True], ids=["limited", "full"])
def test_writer_look_keeps_aspect_rotation_and_colour(tmp_path: Path, full_range: bool) -> None:
    from lipdub.media.look import VideoLook

    src = make_anamorphic(tmp_path / "ana.mp4", full_range=full_range, seconds=0.4)
    look = VideoLook.of(src)
    assert look == VideoLook(Fraction(128, 117), 270, 2 if full_range else 1, 1, 1, 1)
    assert look.display_size(96, 72) == (72, 105)  # shown turned, 9 % wider
    info = probe(src)
    out = write_video(tmp_path / "out.mp4", iter_frames(src), fps=info.fps, look=look)
    _assert_same_look(out, src)
    assert probe(out).rotation == 270 and (probe(out).width, probe(out).height) == (72, 96)
    # the YUV matrix and range are converted with, not only tagged: saturated colours
    # come back within 4 levels (a BT.601 conversion tagged BT.709 is off by up to 23)
    patches = np.zeros((48, 96, 3), np.uint8)
    patches[:, :32], patches[:, 32:64], patches[:, 64:] = (
        (30, 30, 200),
        (40, 190, 40),
        (200, 60, 30),
    )
    flat = VideoLook(color_range=look.color_range, colorspace=1, color_primaries=1, color_trc=1)
    coloured = write_video(tmp_path / "c.mp4", [patches] * 2, fps=25, look=flat, crf=0)
    back = next(iter_frames(coloured)).astype(np.int16)
    for x in (16, 48, 80):
        assert np.abs(back[24, x] - patches[24, x]).max() <= 4, (x, back[24, x])


def test_writer_without_look_is_unchanged_and_look_excludes_rotation(tmp_path: Path) -> None:
    from lipdub.media.look import VideoLook

    out = write_video(tmp_path / "plain.mp4", [_grey(90)] * 2, fps=25)
    plain = stream_look(out)
    assert plain["sar"] is None and plain["rotation_ccw"] == 0
    assert plain["color_primaries"] == 2 and plain["colorspace"] == 2  # unspecified
    with pytest.raises(InputError, match="rotation or look, not both"):
        VideoWriter(tmp_path / "x.mp4", fps=25, width=8, height=8, rotation=90, look=VideoLook())
    with pytest.raises(InputError, match="rotation must be 0, 90, 180 or 270"):
        VideoLook(rotation=45)
    assert VideoLook.of(make_portrait(tmp_path / "p.png")).is_default


def test_lipsync_cli_output_keeps_the_anamorphic_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    src = make_anamorphic(tmp_path / "ana.mp4")
    ckpt = write_random_wav2lip_checkpoint(tmp_path / "random.pth")
    out = tmp_path / "synced.mp4"
    args = ["lipsync", "--face", str(src), "--audio", str(src), "-o", str(out)]
    args += ["--checkpoint", str(ckpt), "--detector", "fake", "--device", "cpu", "-q"]
    assert main(args) == 0, capsys.readouterr().err
    got, want = stream_look(out), stream_look(src)
    assert got == want, (got, want)


def test_dub_cli_output_keeps_the_anamorphic_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    src = make_anamorphic(tmp_path / "talk.mp4", seconds=1.6)
    ckpt = write_random_wav2lip_checkpoint(tmp_path / "random.pth")
    args = ["dub", str(src), "--to", "es", "--transcriber", "fake", "--translator", "fake"]
    args += ["--tts", "fake", "--detector", "fake", "--checkpoint", str(ckpt)]
    assert main([*args, "--device", "cpu", "-q"]) == 0, capsys.readouterr().err
    # a random Wav2Lip redraws the face box (the middle half): compare above it
    _assert_same_look(tmp_path / "talk.es.mp4", src, rows=slice(0, 20))


@pytest.mark.parametrize("kind", ["wav", "m4a", "late-mp4", "stored-late-mp4"])
def test_audio_file_streams_exactly_what_load_audio_returns(tmp_path: Path, kind: str) -> None:
    """Chunk by chunk, the same samples: alignment, encoder-padding trim and all."""
    if kind == "wav":
        path = make_speech_wav(tmp_path / "s.wav", 1.3, 22050)
    elif kind == "m4a":  # AAC pads its last frame: the trim to the declared length
        path = write_audio(tmp_path / "s.m4a", speech_tones(1.3, 48000))
    else:
        path = _late_sound_video(tmp_path / "late.mp4")
    align = kind != "stored-late-mp4"
    for rate in (16000, 48000):
        whole = load_audio(path, rate, align_to_video=align).samples
        streamed = np.concatenate(list(AudioFile(path, rate, align_to_video=align).chunks()))
        assert streamed.dtype == np.float32
        np.testing.assert_array_equal(streamed, whole)
    padded = list(AudioFile(path, 16000, align_to_video=align, pad_to_s=3.0).chunks())
    assert sum(len(c) for c in padded) == 48000 and not padded[-1].any()


def test_video_writer_muxes_an_audio_file_as_it_would_the_clip(tmp_path: Path) -> None:
    """The same sound track from a file read as the video goes as from the whole clip."""
    wav = write_audio(tmp_path / "s.wav", speech_tones(2.0, 48000))
    outs = []
    for name, audio in (("clip", load_audio(wav, 48000)), ("file", AudioFile(wav, 48000))):
        out = tmp_path / f"{name}.mp4"
        with VideoWriter(out, fps=25, width=64, height=48, audio=audio, preset="ultrafast") as w:
            for _ in range(20):  # 0.8 s of video, 2 s of sound: the rest at close
                w.write(_grey(90))
        outs.append(load_audio(out, 48000, align_to_video=False).samples)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert len(outs[1]) == 96000


def test_video_writer_never_holds_a_long_audio_file(tmp_path: Path) -> None:
    """Two minutes of 48 kHz sound (23 MB as float32) muxed with under 4 MB traced."""
    import tracemalloc

    wav = write_audio(tmp_path / "long.wav", AudioClip.silence(120.0, 48000))
    sound = AudioFile(wav, 48000)
    tracemalloc.start()
    try:
        with VideoWriter(tmp_path / "o.mp4", fps=25, width=64, height=48, audio=sound) as w:
            for _ in range(5):
                w.write(_grey(90))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000, peak
    assert load_audio(tmp_path / "o.mp4", 16000).duration_s == pytest.approx(120.0, abs=0.01)
