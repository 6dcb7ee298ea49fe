"""`lipdub review`: the page's API, its refusals, and the whole workflow in a real browser.

The work directory is made by a dub with lipdub.testing fakes. The browser test drives
Debian's chromium through Playwright (skipped, with the reason, where either is missing).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the review extra (starlette) is not installed")
pytest.importorskip("uvicorn", reason="the review extra (uvicorn) is not installed")

from lipdub import DubbingPipeline
from lipdub.dub.workdir import Workdir
from lipdub.review.server import ReviewServer
from lipdub.review.session import ReviewSession
from lipdub.testing import FakeFaceDetector, FakeTranscriber, FakeVoiceSynth

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["Hello there, my friend.", "How are you today?", "See you soon."]


@dataclass
class Dub:
    video: Path
    workdir: Path
    output: Path
    pipeline: DubbingPipeline
    voice: FakeVoiceSynth
    transcriber: FakeTranscriber


def _make_dub(root: Path) -> Dub:
    from lipdub.testing.media import make_test_video

    video = make_test_video(root / "talk.mp4", duration_s=6.0, fps=25, size=(160, 120))
    transcriber = FakeTranscriber.from_texts(TEXTS, start_s=0.4, segment_s=1.4, gap_s=0.5)
    voice = FakeVoiceSynth()
    pipe = DubbingPipeline(
        transcriber=transcriber,
        translator="fake",
        voice=voice,
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )
    workdir = root / "talk.lipdub"
    output = root / "talk.es.mp4"
    pipe.run(video, "es", output, workdir=workdir, stop_after="speak")
    return Dub(video, workdir, output, pipe, voice, transcriber)


@pytest.fixture
def dub(tmp_path: Path) -> Dub:
    return _make_dub(tmp_path)


@pytest.fixture
def server(dub: Dub) -> Iterator[ReviewServer]:
    session = ReviewSession(dub.workdir, dub.pipeline, output=str(dub.output))
    with ReviewServer(session) as srv:
        yield srv


def _request(
    srv: ReviewServer,
    method: str,
    path: str,
    *,
    token: bool = True,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    """A raw request (no client-side path normalisation), under the page's secret path."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    h = {"Host": f"127.0.0.1:{srv.port}", **(headers or {})}
    if token:
        path = f"/{srv.token}{path}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    out = r.read()
    conn.close()
    return r.status, out, {k.lower(): v for k, v in r.getheaders()}


def _origin(srv: ReviewServer) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{srv.port}"}


# ----------------------------------------------------------------------------- safety


def test_every_request_needs_the_token(server: ReviewServer) -> None:
    for path in ("/", "/api/state", "/files/source.wav", "/media/input", "/static/app.js"):
        status, body, headers = _request(server, "GET", path, token=False)
        assert status == 403, path
        assert "token" in json.loads(body)["error"]
        assert headers["referrer-policy"] == "no-referrer"  # headers on refusals too
        assert headers["x-frame-options"] == "DENY"
    wrong = "x" * len(server.token)
    assert _request(server, "GET", f"/{wrong}/api/state", token=False)[0] == 403
    assert _request(server, "GET", f"/api/state?token={server.token}", token=False)[0] == 403
    # the secret path is the key: no cookie is ever set
    status, _, headers = _request(server, "GET", "/")
    assert status == 200
    assert "set-cookie" not in headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert _request(server, "GET", "/api/state")[0] == 200
    # /<token> leads to /<token>/, so the page's relative URLs stay under it
    status, _, headers = _request(server, "GET", "")
    assert status == 307 and headers["location"] == f"{server.token}/"
    # programs may send the token in a header instead
    status, body, _ = _request(
        server, "GET", "/api/state", token=False, headers={"X-Lipdub-Token": server.token}
    )
    assert status == 200 and json.loads(body)["languages"] == ["es"]


def test_paths_outside_the_work_directory_are_refused(server: ReviewServer, dub: Dub) -> None:
    secret = dub.workdir.parent / "secret.txt"
    secret.write_text("not yours")
    (dub.workdir / "link.txt").symlink_to(secret)
    for path in (
        "/files/../secret.txt",
        "/files/..%2fsecret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/speech/../../secret.txt",
        "/files//etc/passwd",
        "/files/link.txt",
    ):
        status, body, _ = _request(server, "GET", path)
        assert status in (403, 404), path
        assert b"not yours" not in body and b"root:" not in body, path
    assert _request(server, "GET", "/files/link.txt")[0] == 403  # symlink resolved, refused
    assert _request(server, "GET", "/static/../session.py")[0] in (403, 404)
    status, body, _ = _request(server, "GET", "/files/manifest.json")
    assert status == 200 and b'"stages"' in body


def test_a_foreign_host_or_origin_is_refused(server: ReviewServer, dub: Dub) -> None:
    # DNS rebinding: the right token through a name that is not this machine
    status, _, _ = _request(server, "GET", "/api/state", headers={"Host": "evil.example:80"})
    assert status == 403
    before = (dub.workdir / "translation.es.json").read_bytes()
    state = json.loads(_request(server, "GET", "/api/state")[1])
    save = {
        "kind": "target",
        "lang": "es",
        "index": 0,
        "version": state["versions"]["target"],
        "text": "Hola.",
    }
    for headers in (
        {},  # no browser origin at all
        {"Origin": "http://evil.example"},
        {"Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "cross-site"},
        {"Referer": "http://evil.example/page"},
    ):
        status, _, _ = _request(server, "POST", "/api/save", body=save, headers=headers)
        assert status == 403, headers
    assert (dub.workdir / "translation.es.json").read_bytes() == before
    status, _, _ = _request(
        server, "POST", "/api/save", body=save, token=False, headers=_origin(server)
    )
    assert status == 403
    status, _, _ = _request(server, "POST", "/api/save", body=save, headers=_origin(server))
    assert status == 200


def test_media_answers_range_requests(server: ReviewServer, dub: Dub) -> None:
    size = (dub.workdir / "source.wav").stat().st_size
    status, body, headers = _request(
        server, "GET", "/files/source.wav", headers={"Range": "bytes=100-199"}
    )
    assert status == 206
    assert headers["content-range"] == f"bytes 100-199/{size}"
    assert body == (dub.workdir / "source.wav").read_bytes()[100:200]
    status, body, headers = _request(server, "GET", "/media/input", headers={"Range": "bytes=0-9"})
    assert status == 206 and body == dub.video.read_bytes()[:10]
    assert headers["content-type"] == "video/mp4"
    assert _request(server, "GET", "/media/output/es")[0] == 404  # not dubbed yet


def test_a_stale_save_is_refused_not_merged(server: ReviewServer, dub: Dub) -> None:
    path = dub.workdir / "translation.es.json"
    state = json.loads(_request(server, "GET", "/api/state")[1])
    version = state["versions"]["target"]
    first = {"kind": "target", "lang": "es", "index": 1, "version": version, "text": "Uno."}
    status, body, _ = _request(server, "POST", "/api/save", body=first, headers=_origin(server))
    assert status == 200
    saved = path.read_bytes()
    # a second tab still holds the old version
    second = {**first, "index": 2, "text": "Dos."}
    status, body, _ = _request(server, "POST", "/api/save", body=second, headers=_origin(server))
    assert status == 409
    assert "changed since" in json.loads(body)["error"]
    assert path.read_bytes() == saved
    texts = [s["text"] for s in json.loads(saved)["segments"]]
    assert texts == ["[es] Hello there, my friend.", "Uno.", "[es] See you soon."]
    # the edit is the user's now: lipdub will never overwrite it
    wd = Workdir(dub.workdir)
    assert wd.state(path, wd.get("translate:es")) == "edited"


def test_the_session_refuses_a_folder_that_is_not_a_work_directory(tmp_path: Path) -> None:
    from lipdub.errors import InputError

    with pytest.raises(InputError, match="manifest"):
        ReviewSession(tmp_path, DubbingPipeline())


# ----------------------------------------------------------------------------- browser


def _chromium() -> str | None:
    for candidate in (os.environ.get("LIPDUB_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def _speech_cache(workdir: Path) -> set[str]:
    return {p.name for p in (workdir / "speech").glob("*.wav")}


def _keys(workdir: Path) -> dict[str, str]:
    stages = json.loads((workdir / "manifest.json").read_text())["stages"]
    return {k: v["key"] for k, v in stages.items()}


def test_review_in_a_browser_edit_speak_and_finish(dub: Dub, tmp_path: Path) -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    wd = dub.workdir
    session = ReviewSession(wd, dub.pipeline, output=str(dub.output))
    cache_before = _speech_cache(wd)
    keys_before = _keys(wd)
    speech_before = (wd / "speech.es.wav").read_bytes()
    transcribe_calls = dub.transcriber.calls
    calls_before = len(dub.voice.calls)
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    args += ["--autoplay-policy=no-user-gesture-required", "--mute-audio"]
    with (
        ReviewServer(session) as srv,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 640})
            page.goto(srv.url)
            rows = page.locator("#rows tbody tr")
            expect(rows).to_have_count(3)
            expect(rows.nth(0).locator("td.target [contenteditable]")).to_have_text(
                "[es] Hello there, my friend."
            )
            expect(page.locator("#lane-dub .span")).to_have_count(3)
            expect(rows.nth(1).locator(".status")).to_have_text("ok")
            assert page.context.cookies() == []  # the secret path is the key, no cookie

            # media plays through the page's relative URLs: the source span of line 1
            rows.nth(1).locator("button.play-source").click()
            page.wait_for_function(
                "() => { const p = document.querySelector('#player');"
                " return p.readyState >= 1 && p.currentTime >= 2.2; }",
                timeout=10000,
            )

            # edit line 1's translation inline and save it (Enter)
            cell = rows.nth(1).locator("td.target [contenteditable]")
            cell.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("¿Qué tal estás hoy, amigo?")
            page.keyboard.press("Enter")
            expect(page.locator("#message")).to_contain_text("saved line 1")
            expect(rows.nth(1).locator(".status")).to_have_text("edited")
            saved = json.loads((wd / "translation.es.json").read_text())
            assert saved["segments"][1]["text"].startswith("¿Qué tal estás hoy")
            assert saved["segments"][0]["text"] == "[es] Hello there, my friend."

            # speak this line again: only that line is synthesized
            rows.nth(1).locator("button.speak").click()
            expect(page.locator("body")).to_have_attribute("data-job", "done", timeout=60000)
            expect(page.locator("#message")).to_contain_text("utterance(s)")
            spoken = {text for text, _, _ in dub.voice.calls[calls_before:]}
            assert spoken == {saved["segments"][1]["text"]}  # only the edited line
            assert session.job is not None and session.job.spoken >= 1
            assert len(_speech_cache(wd) - cache_before) == session.job.spoken
            assert (wd / "speech.es.wav").read_bytes() != speech_before
            timing = json.loads((wd / "timing.es.json").read_text())["segments"]
            assert timing[1]["text"].startswith("¿Qué tal estás hoy")
            expect(rows.nth(1).locator(".status")).not_to_have_text("edited")
            assert set(session.job.ran) == {"speak", "quality", "mix"}

            page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
            if os.environ.get("LIPDUB_REVIEW_SCREENSHOT"):
                page.screenshot(path=os.environ["LIPDUB_REVIEW_SCREENSHOT"], full_page=True)

            # finish the dub: the remaining stages, live progress, then the new video plays
            page.locator("#finish").click()
            expect(page.locator("body")).to_have_attribute("data-job", "done", timeout=120000)
            expect(page.locator("#video-label")).to_contain_text("talk.es.mp4")
            src = page.locator("#video").get_attribute("src") or ""
            assert src.startswith("media/output/es")
            page.wait_for_function(
                "() => document.querySelector('#video').readyState >= 1", timeout=10000
            )
        finally:
            browser.close()

    job = session.job
    assert job is not None and job.state == "done"
    assert {"track", "lipsync", "subtitles"} <= set(job.ran)
    assert not {"extract", "transcribe", "translate", "speak", "separate", "mix"} & set(job.ran)
    assert job.spoken == 0
    assert {t for t, _, _ in dub.voice.calls[calls_before:]} == {"¿Qué tal estás hoy, amigo?"}
    assert dub.output.is_file() and dub.output.with_name("talk.es.srt").is_file()
    assert "¿Qué tal estás hoy" in dub.output.with_name("talk.es.srt").read_text()
    assert dub.transcriber.calls == transcribe_calls
    keys_after = _keys(wd)
    for stage in ("extract", "transcribe", "separate"):
        assert keys_after[stage] == keys_before[stage], stage
    translation = wd / "translation.es.json"
    assert Workdir(wd).state(translation, Workdir(wd).get("translate:es")) == "edited"


def test_the_url_carries_a_fresh_token(dub: Dub) -> None:
    session = ReviewSession(dub.workdir, dub.pipeline)
    a, b = ReviewServer(session), ReviewServer(session)
    try:
        assert a.url == f"http://127.0.0.1:{a.port}/{a.token}/"
        assert a.token != b.token
        assert len(a.token) >= 32
    finally:
        a.close()
        b.close()


def test_lipdub_review_command_serves_the_work_directory(dub: Dub) -> None:
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    code = (
        "import sys, lipdub.testing as t; t.register_fakes(); "
        "from lipdub.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    cmd = [sys.executable, "-c", code, "review", str(dub.workdir), "--no-browser"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "review page for" in line, line
        url = line.split(": ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with urllib.request.urlopen(url + "api/state", timeout=10) as r:
            state = json.loads(r.read())
        assert state["languages"] == ["es"]
        assert [row["source"] for row in state["rows"]] == TEXTS
        assert state["rows"][0]["timing"]["status"] == "ok"
        bare = url.rstrip("/").rsplit("/", 1)[0] + "/api/state"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bare, timeout=10)
        assert refused.value.code == 403
    finally:
        proc.terminate()
        proc.wait(10)


def test_lipdub_review_refuses_a_folder_that_is_not_a_work_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main

    assert main(["review", str(tmp_path), "--no-browser"]) != 0
    assert "manifest.json" in capsys.readouterr().err


def test_lipdub_dub_review_stops_and_serves_the_page(make_video) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    import urllib.request

    video = make_video("talk.mp4", duration_s=3.0)
    code = (
        "import sys, lipdub.testing as t; t.register_fakes(); "
        "from lipdub.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    cmd = [sys.executable, "-c", code, "dub", str(video), "--to", "es", "-q", "--review"]
    cmd += ["--transcriber", "fake", "--translator", "fake", "--tts", "fake", "--detector", "fake"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BROWSER": "true"}  # no browser opens
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "review page for" in line:
                break
        assert lines and "review page for" in lines[-1], "".join(lines)
        assert any("stopped early" in x for x in lines)
        url = lines[-1].split(": ", 1)[1].strip()
        with urllib.request.urlopen(url + "api/state", timeout=10) as r:
            state = json.loads(r.read())
        assert state["rows"][0]["target"] == "[es] Hello world."
        assert state["rows"][0]["timing"]["status"] == "ok"  # stopped after the speech
        assert state["output"] is None
    finally:
        proc.terminate()
        proc.wait(10)


def _wait(session: ReviewSession) -> None:
    job = session.job
    assert job is not None, "no job was started"
    assert job.wait(60), "the job did not end"


def test_an_edit_under_an_edit_stops_with_the_ways_on(dub: Dub) -> None:
    session = ReviewSession(dub.workdir, dub.pipeline, output=str(dub.output))
    state = session.state("es")
    session.save_line("target", "es", 0, state["versions"]["target"], text="Hola, amigo.")
    session.save_line("source", None, 2, state["versions"]["source"], text="See you later.")
    session.start("speak", "es")
    _wait(session)
    job = session.job
    assert job is not None and job.state == "failed" and job.conflict
    assert "--keep translate" in job.hint
    translation = json.loads((dub.workdir / "translation.es.json").read_text())
    assert translation["segments"][0]["text"] == "Hola, amigo."  # not overwritten
    session.start("speak", "es", keep=("translate",))
    _wait(session)
    assert session.job is not None and session.job.state == "done", session.job.message
    timing = json.loads((dub.workdir / "timing.es.json").read_text())["segments"]
    assert timing[0]["text"] == "Hola, amigo."


class _GatedVoice(FakeVoiceSynth):
    """A fake voice that waits for the test before it speaks (to cancel mid-run)."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.entered = threading.Event()
        self.gate = threading.Event()

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "gated": True}  # new settings: the cache misses

    def synthesize(self, text: str, **kwargs: Any) -> Any:
        self.entered.set()
        self.gate.wait(30)
        return super().synthesize(text, **kwargs)


def test_cancel_in_the_browser_stops_the_run(dub: Dub) -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    voice = _GatedVoice()  # another voice: the speech is redone, and waits for us
    pipe = DubbingPipeline(**{**dub.pipeline.components, "voice": voice})
    session = ReviewSession(dub.workdir, pipe, output=str(dub.output))
    speech_before = (dub.workdir / "speech.es.wav").read_bytes()
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with ReviewServer(session) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page()
            page.goto(srv.url)
            expect(page.locator("#rows tbody tr")).to_have_count(3)
            page.locator("#finish").click()
            assert voice.entered.wait(30)
            expect(page.locator("#cancel")).to_be_visible()
            expect(page.locator("#finish")).to_be_disabled()
            page.locator("#cancel").click()
            assert session.job is not None and session.job.cancel.wait(10)
            voice.gate.set()
            expect(page.locator("body")).to_have_attribute("data-job", "cancelled", timeout=30000)
            expect(page.locator("#message")).to_contain_text("cancelled")
            expect(page.locator("#cancel")).to_be_hidden()
        finally:
            voice.gate.set()
            browser.close()
    assert not dub.output.exists()
    assert (dub.workdir / "speech.es.wav").read_bytes() == speech_before  # nothing half-done


def test_the_page_offers_the_ways_on_after_an_edit_conflict(dub: Dub) -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    session = ReviewSession(dub.workdir, dub.pipeline, output=str(dub.output))
    state = session.state("es")
    session.save_line("target", "es", 0, state["versions"]["target"], text="Hola, amigo.")
    session.save_line("source", None, 2, state["versions"]["source"], text="See you later.")
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with ReviewServer(session) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page()
            page.goto(srv.url)
            page.locator("#rows tbody tr").nth(0).locator("button.speak").click()
            expect(page.locator("body")).to_have_attribute("data-job", "failed", timeout=30000)
            expect(page.locator("#message")).to_contain_text("did not overwrite it")
            page.locator("#message button.keep").click()
            expect(page.locator("body")).to_have_attribute("data-job", "done", timeout=30000)
        finally:
            browser.close()
    timing = json.loads((dub.workdir / "timing.es.json").read_text())["segments"]
    assert timing[0]["text"] == "Hola, amigo."


def test_a_relative_input_is_found_beside_the_work_directory(
    dub: Dub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wd = Workdir(dub.workdir)
    wd.set_meta(input="talk.mp4")  # as `lipdub dub talk.mp4` run from the video's folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    session = ReviewSession(dub.workdir, dub.pipeline)
    assert session.input == dub.video.resolve()
