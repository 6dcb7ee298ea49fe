"""The review page on a dub spoken by a real voice (eSpeak NG): statuses in colour, a screenshot.

``LIPDUB_REVIEW_SCREENSHOT=docs/review.png pytest tests/test_review_screenshot.py`` writes
the README's screenshot. The transcript comes from the fake transcriber (no model
download); the Spanish translation is written by hand, as a reviewer would, and spoken
by eSpeak NG, so the timing statuses are the real fit's.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the review extra (starlette) is not installed")
pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from lipdub import DubbingPipeline
from lipdub.dub.options import DubOptions
from lipdub.review.server import ReviewServer
from lipdub.review.session import ReviewSession
from lipdub.testing import FakeFaceDetector, FakeTranscriber
from lipdub.types import Segment, Transcript

LINES = [
    (0.4, 2.0, "A", "Welcome back to the workshop.", "Bienvenidos de nuevo al taller."),
    (2.4, 3.6, "A", "Today we fix the old radio.", "Hoy arreglamos la vieja radio."),
    (
        4.0,
        5.0,
        "B",
        "Is it broken?",
        "¿Está realmente rota o solo necesita una limpieza a fondo y un poco de paciencia?",
    ),
    (5.6, 7.4, "A", "Only the speaker, I think.", "Solo el altavoz, creo."),
    (8.0, 9.6, "B", "Then let's open it up.", "Entonces vamos a abrirla ahora mismo."),
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("LIPDUB_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def _espeak_works() -> bool:
    try:
        from lipdub import registry

        registry.resolve("voice", "espeak").synthesize("hola", language="es")
    except Exception:
        return False
    return True


def test_review_page_screenshot(tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium installed (apt-get install chromium)")
    if not _espeak_works():
        pytest.skip("eSpeak NG is not available (the local extra)")
    from playwright.sync_api import expect, sync_playwright

    from lipdub.testing.media import make_test_video

    video = make_test_video(tmp_path / "workshop.mp4", duration_s=10.0, size=(320, 240))
    source = Transcript("en", tuple(Segment(a, b, en, speaker=who) for a, b, who, en, _ in LINES))
    pipe = DubbingPipeline(
        transcriber=FakeTranscriber(source),
        translator="fake",
        voice="espeak",
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )
    workdir = tmp_path / "workshop.mp4.lipdub"
    pipe.run(video, "es", workdir=workdir, stop_after="translate")
    # the reviewer's translation (a hand edit: lipdub keeps it)
    path = workdir / "translation.es.json"
    fake = Transcript.load(path, "es")
    mine = tuple(
        dataclasses.replace(seg, text=es)
        for seg, (*_, es) in zip(fake.segments, LINES, strict=True)
    )
    Transcript("es", mine).save(path)
    # line 3 is too long for its time even at 1.2x: accepted cut, so the page shows it
    pipe.run(
        video,
        "es",
        workdir=workdir,
        stop_after="speak",
        options=DubOptions(allow_truncation=True),
    )

    session = ReviewSession(workdir, pipe)
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with ReviewServer(session) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[*args, "--mute-audio"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 760})
            page.goto(srv.url)
            rows = page.locator("#rows tbody tr")
            expect(rows).to_have_count(len(LINES))
            statuses = rows.locator(".status").all_inner_texts()
            # the long line, cut to its time, is listed first; the others fit
            assert statuses[0] == "too long: cut" and "ok" in statuses[1:]
            assert rows.nth(0).locator(".warn").count() >= 1
            colours = page.eval_on_selector_all(
                "#lane-dub .span",
                "els => els.map(e => [e.dataset.status, getComputedStyle(e).backgroundColor])",
            )
            by_status = dict(colours)
            assert len(set(by_status.values())) == len(by_status) >= 2  # one colour per status
            out = os.environ.get("LIPDUB_REVIEW_SCREENSHOT") or str(tmp_path / "review.png")
            page.screenshot(path=out)
            assert Path(out).stat().st_size > 10_000
        finally:
            browser.close()
