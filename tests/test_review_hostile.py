"""The review page under attack: hostile requests, hostile work directories, other origins.

Every case asserts the status, the one-line reason, and that nothing outside the work
directory changed (a "victim" folder's bytes are compared before and after). The work
directory is made once by a dub with lipdub.testing fakes and copied for each case.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the review extra (starlette) is not installed")
pytest.importorskip("uvicorn", reason="the review extra (uvicorn) is not installed")

from lipdub import DubbingPipeline
from lipdub.dub.workdir import Workdir
from lipdub.errors import InputError
from lipdub.review.app import MAX_BODY, create_app
from lipdub.review.server import ReviewServer, uvicorn_config
from lipdub.review.session import ReviewSession
from lipdub.testing import FakeFaceDetector, FakeTranscriber, FakeVoiceSynth

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["Hello there, my friend.", "How are you today?", "See you soon."]
SECURITY = (
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "content-security-policy",
)


def _pipeline() -> DubbingPipeline:
    return DubbingPipeline(
        transcriber=FakeTranscriber.from_texts(TEXTS, start_s=0.4, segment_s=1.4, gap_s=0.5),
        translator="fake",
        voice=FakeVoiceSynth(),
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``room/talk.mp4`` and its work directory ``room/talk.mp4.lipdub``, spoken in es."""
    from lipdub.testing.media import make_test_video

    room = tmp_path_factory.mktemp("template") / "room"
    room.mkdir()
    video = make_test_video(room / "talk.mp4", duration_s=6.0, fps=25, size=(96, 72))
    _pipeline().run(video, "es", workdir=room / "talk.mp4.lipdub", stop_after="speak")
    return room


class Victim:
    """A folder outside the work directory; nothing in it may ever change."""

    def __init__(self, root: Path, template: Path) -> None:
        self.root = root
        root.mkdir()
        # a transcript-shaped file (the sharpest target for a save), a secret, a video
        shutil.copy(template / "talk.mp4.lipdub" / "transcript.en.json", root / "victim.json")
        (root / "secret.txt").write_text("root:x:0:0:not yours\n")
        shutil.copy(template / "talk.mp4", root / "clip.mp4")
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, bytes]:
        return {
            str(p.relative_to(self.root)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(self.root.rglob("*"))
        }

    def assert_unchanged(self) -> None:
        assert self.snapshot() == self.before

    def leaked(self, body: bytes) -> bool:
        return any(len(v) > 16 and v[:4096] in body for v in self.before.values()) or (
            b"not yours" in body
        )


@dataclass
class Case:
    room: Path
    wd: Path
    video: Path
    victim: Victim


def _case(template: Path, tmp_path: Path, *, workdir_name: str = "talk.mp4.lipdub") -> Case:
    room = tmp_path / "room"
    shutil.copytree(template, room, symlinks=True)
    wd = room / "talk.mp4.lipdub"
    if workdir_name != wd.name:  # a name lipdub's naming rule does not tie to the input
        wd = wd.rename(room / workdir_name)
    Workdir(wd).set_meta(input=str(room / "talk.mp4"))
    return Case(room, wd, room / "talk.mp4", Victim(tmp_path / "victim", template))


@pytest.fixture
def case(template: Path, tmp_path: Path) -> Iterator[Case]:
    c = _case(template, tmp_path)
    yield c
    c.victim.assert_unchanged()


def _request(
    srv: ReviewServer,
    method: str,
    path: str,
    *,
    body: bytes | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    secret: bool = True,
    cap: int = MAX_BODY,
) -> tuple[int, bytes, dict[str, str]]:
    """A raw request under the page's secret path, as the page's own origin (``cap``:
    the server's body cap)."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    h = {"Host": f"127.0.0.1:{srv.port}", "Origin": f"http://127.0.0.1:{srv.port}"}
    h.update(headers or {})
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    if data is not None:
        h.setdefault("Content-Type", "application/json")
        h["Content-Length"] = str(len(data))
    conn.putrequest(
        method, f"/{srv.token}{path}" if secret else path, skip_host=True, skip_accept_encoding=True
    )
    for name, value in h.items():
        conn.putheader(name, value)
    conn.endheaders()
    if data and len(data) <= cap:
        with contextlib.suppress(OSError):  # refused on its headers: the server stopped reading
            conn.send(data)
    # A body over the cap is refused on its Content-Length, unread: it is not sent, since a
    # server that closes with a megabyte unread resets the connection, and the reset can
    # overtake the answer under load (the 50 MB tests below send theirs and count the bytes
    # the server reads)
    r = conn.getresponse()
    out = r.read()
    conn.close()
    return r.status, out, {k.lower(): v for k, v in r.getheaders()}


def _refusal(answer: tuple[int, bytes, dict[str, str]], status: int, reason: str) -> None:
    """A 4xx JSON answer: the status, one line naming the reason, a hint, the headers."""
    code, body, headers = answer
    assert code == status, (code, body)
    data = json.loads(body)
    assert set(data) == {"error", "hint"}
    assert reason in data["error"], data
    assert "\n" not in data["error"] and data["error"].isprintable()
    for name in SECURITY:
        assert name in headers, name
    assert headers["referrer-policy"] == "no-referrer"


# ----------------------------------------------------------------- the request matrix

NESTED = b'{"lang": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def _save(**change: Any) -> dict[str, Any]:
    return {
        "kind": "target",
        "lang": "es",
        "index": 0,
        "version": "0" * 64,
        "text": "Hola.",
        **change,
    }


Row = tuple[str, str, str, Any, int, str]
V0 = "0" * 64


def _rows(method: str, path: str, cases: list[tuple[str, Any, int, str]]) -> list[Row]:
    """``(id, method, path, body, status, reason)`` rows of one route."""
    route = path.strip("/").split("/")[-1].split("?")[0] or "index"
    return [(f"{route}:{name}", method, path, body, st, why) for name, body, st, why in cases]


def _get(cases: list[tuple[str, str, int, str]]) -> list[Row]:
    """GET rows: ``(id, path with query, status, reason)``."""
    return [(name, "GET", path, None, st, why) for name, path, st, why in cases]


def _run_rows(route: str) -> list[Row]:
    es = {"lang": "es"}
    return _rows(
        "POST",
        f"/api/{route}",
        [
            ("type-lang", {"lang": 5}, 400, "lang: must be a string"),
            ("type-keep-num", {**es, "keep": 5}, 400, "keep: must be a list"),
            ("type-keep-str", {**es, "keep": "translate"}, 400, "keep: must be a list"),
            ("type-redo-obj", {**es, "redo": {"a": 1}}, 400, "redo: must be a list"),
            ("type-keep-item", {**es, "keep": [1]}, 400, "keep[0]: must be a string"),
            ("unknown-stage", {**es, "redo": ["rm"]}, 400, "no stage named 'rm'"),
            ("missing", {}, 400, "lang: missing"),
            ("unknown", {**es, "output": "/tmp/x"}, 400, "unknown field 'output'"),
            ("nan", b'{"lang": "es", "keep": [NaN]}', 400, "NaN is not a finite"),
            ("oversized-lang", {"lang": "e" * 41}, 400, "lang: at most 40"),
            ("oversized-list", {**es, "keep": ["mix"] * 17}, 400, "keep: at most 16"),
            ("unknown-lang", {"lang": "fr"}, 400, "no translation for 'fr'"),
            ("nested", NESTED, 400, "nested too deeply"),
            ("oversized", b"[" * (MAX_BODY + 1), 413, "larger than"),
        ],
    )


# (id, method, path, body, status, reason); bodies are sent as JSON unless bytes
MATRIX: list[Row] = [
    *_rows(
        "POST",
        "/api/save",
        [
            ("type-index-str", _save(index="abc"), 400, "index: must be a whole"),
            ("type-index-frac", _save(index=0.9), 400, "index: must be a whole"),
            ("type-index-bool", _save(index=True), 400, "index: must be a whole"),
            ("type-kind", _save(kind=5), 400, "kind: must be a string"),
            ("type-text", _save(text=["a"]), 400, "text: must be a string"),
            ("type-body", [1, 2], 400, "must be a JSON object"),
            ("missing-index", {"kind": "target", "version": V0}, 400, "index: missing"),
            ("missing-text", {"kind": "source", "index": 0, "version": V0}, 400, "text or speaker"),
            ("unknown", _save(path="/etc/passwd"), 400, "unknown field 'path'"),
            ("nan", b'{"kind":"target","index":NaN}', 400, "NaN is not a finite number"),
            ("inf", b'{"kind":"target","index":Infinity}', 400, "Infinity is not a finite"),
            (
                "1e999",
                json.dumps(_save()).replace('"index": 0', '"index": 1e999').encode(),
                400,
                "index: must be a whole",
            ),
            ("big-index", _save(index=10**30), 400, "index: must be between"),
            ("huge-int", b'{"index":' + b"9" * 5000 + b"}", 400, "not usable JSON"),
            ("long-text", _save(text="x" * 5001), 400, "text: at most 5000"),
            ("long-speaker", _save(speaker="x" * 201), 400, "speaker: at most"),
            ("control", _save(text="a\x1b[31mb"), 400, "control characters"),
            ("surrogate", _save(speaker="\ud800"), 400, "lone surrogate"),
            ("nested", NESTED, 400, "nested too deeply"),
            ("not-json", b"{kind: target", 400, "not JSON"),
            ("not-utf8", b'{"text": "\xff"}', 400, "not UTF-8"),
            ("oversized", b" " * (MAX_BODY + 1), 413, "larger than"),
            ("bad-version", _save(version="../x"), 400, "version: not a valid"),
            ("stale", _save(), 409, "changed since"),
            ("bad-lang", _save(lang="../../etc"), 400, "lang: not a valid"),
        ],
    ),
    *_run_rows("speak"),
    *_run_rows("finish"),
    *_rows(
        "POST",
        "/api/cancel",
        [
            ("type", [], 400, "must be a JSON object"),
            ("unknown", {"all": True}, 400, "unknown field 'all'"),
            ("nan", b'{"a": -Infinity}', 400, "-Infinity is not a finite"),
            ("nested", NESTED, 400, "nested too deeply"),
            ("oversized", b"{" * (MAX_BODY + 1), 413, "larger than"),
        ],
    ),
    # GET routes: their query strings and path parameters
    *_get(
        [
            ("state:type-lang", "/api/state?lang=12", 400, "lang: not a valid"),
            ("state:unknown", "/api/state?debug=1", 400, "unknown field 'debug'"),
            ("state:twice", "/api/state?lang=es&lang=fr", 400, "given twice"),
            ("state:oversized", "/api/state?lang=" + "e" * 41, 400, "lang: at most 40"),
            ("state:control", "/api/state?lang=NaN%00", 400, "lang: holds control"),
            ("index:unknown", "/?token=x", 400, "unknown field 'token'"),
            ("static:missing", "/static/nope.js", 404, "no page file"),
            ("static:traversal", "/static/..%2f..%2fapp.py", 404, "no such page"),
            ("files:missing", "/files/nope.wav", 404, "no file 'nope.wav'"),
            ("files:absolute", "/files//etc/passwd", 403, "absolute"),
            ("files:outside", "/files/../../victim/secret.txt", 403, "outside"),
            ("files:oversized", "/files/" + "a" * 2000, 403, "refused path"),
            ("files:unknown", "/files/source.wav?x=1", 400, "unknown field 'x'"),
            ("files:oversized-v", "/files/source.wav?v=" + "1" * 65, 400, "v: at most 64"),
            ("output:type-lang", "/media/output/12", 404, "no translation '12'"),
            ("output:oversized", "/media/output/" + "e" * 300, 404, "no translation"),
            ("output:unknown", "/media/output/es?q=1", 400, "unknown field 'q'"),
            ("output:missing", "/media/output/es", 404, "is not there: talk.es.mp4"),
            ("input:unknown", "/media/input?q=1", 400, "unknown field 'q'"),
            ("events:unknown", "/api/events?since=NaN", 400, "unknown field 'since'"),
            ("route:missing", "/api/nothing", 404, "no such page"),
        ]
    ),
    ("route:method", "PUT", "/api/save", {}, 405, "method not allowed"),
    ("route:preflight", "OPTIONS", "/api/save", None, 405, "method not allowed"),
]


@pytest.fixture(scope="module")
def matrix_server(
    template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ReviewServer, Victim]]:
    tmp = tmp_path_factory.mktemp("matrix")
    c = _case(template, tmp)
    session = ReviewSession(c.wd, _pipeline())
    with ReviewServer(session) as srv:
        yield srv, c.victim
    c.victim.assert_unchanged()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    [row[1:] for row in MATRIX],
    ids=[row[0] for row in MATRIX],
)
def test_a_hostile_request_gets_a_4xx_with_one_line(
    matrix_server: tuple[ReviewServer, Victim],
    method: str,
    path: str,
    body: Any,
    status: int,
    reason: str,
) -> None:
    srv, victim = matrix_server
    before = (srv.session.root / "translation.es.json").read_bytes()
    answer = _request(srv, method, path, body=body)
    _refusal(answer, status, reason)
    assert not victim.leaked(answer[1])
    assert (srv.session.root / "translation.es.json").read_bytes() == before
    assert srv.session.job is None  # nothing was started
    victim.assert_unchanged()


def test_a_bad_range_header_is_a_json_refusal(
    matrix_server: tuple[ReviewServer, Victim],
) -> None:
    srv, _ = matrix_server
    answer = _request(srv, "GET", "/files/source.wav", headers={"Range": "bytes=abc"})
    _refusal(answer, 400, "Range header")
    answer = _request(srv, "GET", "/files/source.wav", headers={"Range": "bytes=999999999-"})
    _refusal(answer, 416, "refused")
    assert answer[2]["content-range"].startswith("bytes */")


def test_a_file_holding_a_lone_surrogate_is_shown_and_refused_in_one_line(case: Case) -> None:
    path = case.wd / "translation.es.json"
    data = json.loads(path.read_text())
    data["segments"][0]["text"] = "caf\ud800"
    path.write_text(json.dumps(data))  # the escape, as an editor could leave it
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        status, body, _ = _request(srv, "GET", "/api/state")
        assert status == 200
        state = json.loads(body)
        assert state["rows"][0]["target"] == "caf\ud800"
        save = {"kind": "target", "lang": "es", "index": 1, "version": state["versions"]["target"]}
        answer = _request(srv, "POST", "/api/save", body={**save, "text": "Uno."})
        _refusal(answer, 400, "not valid Unicode")


# ----------------------------------------------------------------- bodies: capped before read


class _Counted:
    """Feeds an ASGI app a body in 64 KiB chunks and counts the bytes it pulls."""

    CHUNK = 64 * 1024

    def __init__(self, size: int) -> None:
        self.size = size
        self.read = 0
        self.messages: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.read >= self.size:
            return {"type": "http.disconnect"}
        n = min(self.CHUNK, self.size - self.read)
        self.read += n
        return {"type": "http.request", "body": b"{" * n, "more_body": self.read < self.size}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_50_mb_body_is_refused_before_it_is_read(case: Case, framing: str) -> None:
    session = ReviewSession(case.wd, _pipeline())
    token = "t" * 32
    app = create_app(session, token)
    size = 50 * 1024 * 1024
    framing_header = (
        (b"content-length", str(size).encode())
        if framing == "content-length"
        else (b"transfer-encoding", b"chunked")
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/{token}/api/save",
        "raw_path": f"/{token}/api/save".encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:9"), (b"origin", b"http://127.0.0.1:9"), framing_header],
    }
    body = _Counted(size)
    asyncio.run(app(scope, body.receive, body.send))  # type: ignore[arg-type]
    start = body.messages[0]
    assert start["status"] == 413
    assert (b"connection", b"close") in start["headers"]
    assert "larger than 1000000 bytes" in json.loads(body.messages[1]["body"])["error"]
    if framing == "content-length":
        assert body.read == 0  # refused on the header alone
    else:
        assert MAX_BODY < body.read <= MAX_BODY + 64 * 1024


def _raw_post(port: int, token: str, size: int, *, chunked: bool) -> int:
    """POST ``size`` bytes to a live server over a socket; the status it answers."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST /{token}/api/save HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += f"Origin: http://127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    answer = bytearray()

    def read() -> None:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                return
            answer.extend(data)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        sock.sendall(head.encode())
        block = b"[" * (256 * 1024)
        sent = 0
        while sent < size and reader.is_alive():
            piece = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
            sock.sendall(piece)
            sent += len(block)
    except OSError:  # the server closed the connection: it read no more
        pass
    reader.join(30)
    sock.close()
    return int(bytes(answer).split(b" ", 2)[1])


def test_a_live_server_refuses_50_mb_both_ways_and_reads_little(case: Case) -> None:
    import uvicorn

    session = ReviewSession(case.wd, _pipeline())
    token = "s" * 32
    inner = create_app(session, token)
    counted = {"bytes": 0}

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        async def wrapped() -> Any:
            message = await receive()
            counted["bytes"] += len(message.get("body", b""))
            return message

        await inner(scope, wrapped, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(counting))  # as ReviewServer runs it
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for chunked in (False, True):
            counted["bytes"] = 0
            assert _raw_post(port, token, 50 * 1024 * 1024, chunked=chunked) == 413
            assert counted["bytes"] <= MAX_BODY + 64 * 1024, (chunked, counted)
            if not chunked:
                assert counted["bytes"] == 0
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_max_body_raises_the_cap(case: Case) -> None:
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session, max_body=4_000_000) as srv:
        padded = (
            b'{"kind": "source", "index": 0, "version": "'
            + b"0" * 64
            + b'"'
            + b" " * 2_000_000
            + b"}"
        )
        padded_answer = _request(srv, "POST", "/api/save", body=padded, cap=4_000_000)
        _refusal(padded_answer, 400, "text or speaker")
        too_big = _request(srv, "POST", "/api/save", body=b" " * 4_000_001, cap=4_000_000)
        _refusal(too_big, 413, "4000000 bytes")
    with pytest.raises(InputError, match="max_body"):
        create_app(session, "t" * 32, max_body=-1)


# ----------------------------------------------------------------- paths held by the work directory

EXTERNAL = ("absolute", "dotdot", "symlink")


def _point(case: Case, how: str, target: Path, *, link_name: str) -> str:
    """A manifest value naming ``target`` outside the work directory, ``how`` it says so."""
    if how == "absolute":
        return str(target)
    if how == "dotdot":
        return os.path.relpath(target, case.wd)
    link = case.wd / link_name
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    return link_name


def _edit_manifest(wd: Path, change: Any) -> None:
    path = wd / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("how", EXTERNAL)
def test_the_manifests_transcript_entry_cannot_leave_the_work_directory(
    case: Case, how: str
) -> None:
    target = case.victim.root / "victim.json"
    name = _point(case, how, target, link_name="transcript.xx.json")

    def retarget(data: dict[str, Any]) -> None:
        files = data["stages"]["transcribe"]["files"]
        files[name] = files.pop("transcript.en.json")

    _edit_manifest(case.wd, retarget)
    session = ReviewSession(case.wd, _pipeline())
    assert session.transcript_path() == case.wd / "transcript.en.json"
    with ReviewServer(session) as srv:
        status, body, _ = _request(srv, "GET", "/api/state")
        assert status == 200
        state = json.loads(body)
        assert [r["source"] for r in state["rows"]] == TEXTS
        save = {"kind": "source", "index": 0, "version": state["versions"]["source"], "text": "Hi."}
        status, body, _ = _request(srv, "POST", "/api/save", body=save)
        assert status == 200, body
        status, body, _ = _request(srv, "GET", f"/files/{name}")
        assert status in (403, 404) and not case.victim.leaked(body)
    assert json.loads((case.wd / "transcript.en.json").read_text())["segments"][0]["text"] == "Hi."
    case.victim.assert_unchanged()


@pytest.mark.parametrize("how", EXTERNAL)
def test_a_symlinked_transcript_or_translation_is_never_read_nor_written(
    case: Case, how: str
) -> None:
    session = ReviewSession(case.wd, _pipeline())  # the page is open, then the files change
    with ReviewServer(session) as srv:
        version = json.loads(_request(srv, "GET", "/api/state")[1])["versions"]
        for name in ("transcript.en.json", "translation.es.json"):
            path = case.wd / name
            path.unlink()
            if how == "symlink":
                path.symlink_to(case.victim.root / "victim.json")
            elif how == "absolute":
                path.symlink_to(case.victim.root.resolve() / "victim.json")
            else:
                path.symlink_to(os.path.relpath(case.victim.root / "victim.json", case.wd))
        status, body, _ = _request(srv, "GET", "/api/state")
        assert status == 200
        state = json.loads(body)
        assert state["rows"] == [] and state["languages"] == []
        assert "no readable transcript" in " ".join(state["problems"])
        assert not case.victim.leaked(body)
        save = {"kind": "source", "index": 0, "version": version["source"], "text": "Pwned."}
        _refusal(_request(srv, "POST", "/api/save", body=save), 404, "no transcript")
        save = {**save, "kind": "target", "lang": "es", "version": version["target"]}
        _refusal(_request(srv, "POST", "/api/save", body=save), 400, "nothing to edit")
    with pytest.raises(InputError, match="no transcript"):
        ReviewSession(case.wd, _pipeline())
    case.victim.assert_unchanged()


@pytest.mark.parametrize("how", EXTERNAL)
def test_the_manifests_input_is_served_only_if_it_is_media(
    template: Path, tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case(template, tmp_path, workdir_name="work")  # no naming rule: the manifest counts
    monkeypatch.chdir(case.wd)
    secret = case.victim.root / "secret.txt"
    Workdir(case.wd).set_meta(input=_point(case, how, secret, link_name="input.mp4"))
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        answer = _request(srv, "GET", "/media/input")
        _refusal(answer, 403, "the input video the manifest names is not media")
        assert not case.victim.leaked(answer[1])
        _refusal(_request(srv, "POST", "/api/finish", body={"lang": "es"}), 403, "not media")
    # a real video elsewhere may be read, but nothing is written beside it
    Workdir(case.wd).set_meta(
        input=_point(case, how, case.victim.root / "clip.mp4", link_name="in.mp4")
    )
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        status, body, _ = _request(srv, "GET", "/media/input")
        assert status == 200 and body == (case.victim.root / "clip.mp4").read_bytes()
        answer = _request(srv, "POST", "/api/finish", body={"lang": "es"})
        _refusal(answer, 403, "the output would go beside the input video")
        assert "--input" in json.loads(answer[1])["hint"]
    assert session.job is None
    case.victim.assert_unchanged()


@pytest.mark.parametrize("how", EXTERNAL)
def test_the_manifests_output_record_is_served_only_if_it_is_media(case: Case, how: str) -> None:
    secret = case.victim.root / "secret.txt"
    name = _point(case, how, secret, link_name="out.mp4")

    def record(target: str) -> Any:
        def change(data: dict[str, Any]) -> None:
            data["stages"]["lipsync:es"] = {
                "key": "k",
                "files": {target: {"size": 1, "sha256": "0" * 64, "owner": "lipdub"}},
                "info": {},
            }

        return change

    _edit_manifest(case.wd, record(name))
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        answer = _request(srv, "GET", "/media/output/es")
        assert answer[0] in (403, 404) and not case.victim.leaked(answer[1])
        _refusal(answer, answer[0], "")
        state = json.loads(_request(srv, "GET", "/api/state")[1])
        assert state["output"] is None
        assert any("not media" in p for p in state["problems"])
    # a real video the manifest names is shown
    _edit_manifest(
        case.wd, record(_point(case, how, case.victim.root / "clip.mp4", link_name="o.mp4"))
    )
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        status, body, _ = _request(srv, "GET", "/media/output/es")
        assert status == 200 and body == (case.victim.root / "clip.mp4").read_bytes()
    case.victim.assert_unchanged()


def test_etc_passwd_in_every_manifest_field_serves_and_changes_nothing(
    template: Path, tmp_path: Path
) -> None:
    case = _case(template, tmp_path, workdir_name="work")  # no naming rule: the manifest counts
    passwd = Path("/etc/passwd")
    before = passwd.read_bytes()
    entry = {"size": 1, "sha256": "0" * 64, "owner": "lipdub"}

    def change(data: dict[str, Any]) -> None:
        files = data["stages"]["transcribe"]["files"]
        files[str(passwd)] = files.pop("transcript.en.json")
        data["stages"]["lipsync:es"] = {"key": "k", "files": {str(passwd): entry}, "info": {}}
        data["meta"]["input"] = str(passwd)

    _edit_manifest(case.wd, change)
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        answers = [
            _request(srv, "GET", path)
            for path in ("/api/state", "/media/input", "/media/output/es", "/files//etc/passwd")
        ]
        assert [a[0] for a in answers] == [200, 403, 403, 403]
        assert all(b"root:" not in body for _, body, _ in answers)
        state = json.loads(answers[0][1])
        save = {"kind": "source", "index": 0, "version": state["versions"]["source"], "text": "x"}
        assert _request(srv, "POST", "/api/save", body=save)[0] == 200
        _refusal(_request(srv, "POST", "/api/finish", body={"lang": "es"}), 403, "not media")
    assert passwd.read_bytes() == before
    assert json.loads((case.wd / "transcript.en.json").read_text())["segments"][0]["text"] == "x"
    case.victim.assert_unchanged()


def test_finishing_writes_lipdubs_output_not_the_manifests(case: Case) -> None:
    target = case.victim.root / "victim.json"

    def change(data: dict[str, Any]) -> None:
        data["stages"]["lipsync:es"] = {
            "key": "k",
            "files": {str(target): {"size": 1, "sha256": "0" * 64, "owner": "lipdub"}},
            "info": {},
        }

    _edit_manifest(case.wd, change)
    session = ReviewSession(case.wd, _pipeline())
    job = session.start("finish", "es")
    assert job.wait(120)
    assert job.state == "done", job.message
    assert (case.room / "talk.es.mp4").is_file()  # lipdub's name beside the input
    case.victim.assert_unchanged()


def test_a_hostile_save_lock_refuses_the_save(case: Case) -> None:
    session = ReviewSession(case.wd, _pipeline())
    version = session.state("es")["versions"]["target"]
    lock = case.wd / ".review.lock"
    lock.symlink_to(case.victim.root / "made-by-lock")  # a dangling link out
    with pytest.raises(InputError, match=r"review\.lock.*symlink"):
        session.save_line("target", "es", 0, version, text="Hola.")
    lock.unlink()
    os.mkfifo(lock)
    with pytest.raises(InputError, match="not a regular file"):
        session.save_line("target", "es", 0, version, text="Hola.")
    case.victim.assert_unchanged()


# ----------------------------------------------------------------- broken artifacts, open page


BROKEN_TIMING: dict[str, bytes] = {
    "not-json": b'{"segments": [',
    "wrong-types": b'{"segments": [{"index": "abc", "text": 1, "start_s": "x"}]}',
    "not-finite": b'{"segments": [{"index": 0, "text": "a", "start_s": NaN, "speech_s": 1}]}',
    "nested": b'{"segments": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "status": b'{"segments": [{"index": 0, "text": "a", "start_s": 0, "speech_s": 1, '
    b'"status": "<img src=x>"}]}',
    "not-utf8": b"\xff\xfe",
}


@pytest.mark.parametrize("damage", [*BROKEN_TIMING, "fifo", "folder"])
def test_a_timing_report_broken_under_an_open_page_is_a_message(case: Case, damage: str) -> None:
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        state = json.loads(_request(srv, "GET", "/api/state")[1])
        assert state["problems"] == [] and state["rows"][0]["timing"] is not None
        path = case.wd / "timing.es.json"
        path.unlink()
        if damage == "fifo":
            os.mkfifo(path)
        elif damage == "folder":
            path.mkdir()
        else:
            path.write_bytes(BROKEN_TIMING[damage])
        status, body, _ = _request(srv, "GET", "/api/state")
        assert status == 200
        state = json.loads(body)
        assert len(state["problems"]) == 1 and "timing.es.json" in state["problems"][0]
        assert "\n" not in state["problems"][0]
        assert [r["timing"] for r in state["rows"]] == [None, None, None]
        # the page keeps working: a save goes through
        save = {"kind": "target", "lang": "es", "index": 1, "version": state["versions"]["target"]}
        status, body, _ = _request(srv, "POST", "/api/save", body={**save, "text": "Uno."})
        assert status == 200, body


@pytest.mark.parametrize("name", ["transcript.en.json", "translation.es.json"])
def test_a_transcript_broken_under_an_open_page_is_a_message(case: Case, name: str) -> None:
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        versions = json.loads(_request(srv, "GET", "/api/state")[1])["versions"]
        (case.wd / name).write_text('{"language": "en", "segments": [{"start_s": "soon"}]}')
        status, body, _ = _request(srv, "GET", "/api/state")
        assert status == 200
        state = json.loads(body)
        assert any(p.startswith(f"{name} cannot be read") for p in state["problems"]), state
        kind = "source" if name.startswith("transcript") else "target"
        other = "target" if kind == "source" else "source"
        # the broken file cannot be saved into (one line); the other one can
        answer = _request(
            srv,
            "POST",
            "/api/save",
            body={
                "kind": kind,
                "lang": "es",
                "index": 0,
                "version": state["versions"][kind],
                "text": "x",
            },
        )
        _refusal(answer, 400, "start_s")
        status, body, _ = _request(
            srv,
            "POST",
            "/api/save",
            body={"kind": other, "lang": "es", "index": 0, "version": versions[other], "text": "y"},
        )
        assert status == 200, body


# ----------------------------------------------------------------- another local origin


def test_another_local_origin_gets_nothing(case: Case) -> None:
    session = ReviewSession(case.wd, _pipeline())
    with ReviewServer(session) as srv:
        other = f"http://127.0.0.1:{srv.port + 1}"
        before = (case.wd / "translation.es.json").read_bytes()
        version = json.loads(_request(srv, "GET", "/api/state")[1])["versions"]["target"]
        save = {"kind": "target", "lang": "es", "index": 0, "version": version, "text": "Hola."}
        # a page on another port knows the address but is another origin
        for headers in (
            {"Origin": other},
            {"Origin": other, "Sec-Fetch-Site": "same-site"},
            {"Origin": "null"},
        ):
            answer = _request(srv, "POST", "/api/save", body=save, headers=headers)
            _refusal(answer, 403, "cross-origin request refused")
            assert "access-control-allow-origin" not in answer[2]
        # without the address: nothing, whatever cookie it sends
        for path in ("/api/state", "/media/input", "/files/source.wav", "/"):
            answer = _request(srv, "GET", path, secret=False, headers={"Cookie": "a=b"})
            _refusal(answer, 403, "a valid token is required")
            assert "set-cookie" not in answer[2]
        assert (case.wd / "translation.es.json").read_bytes() == before


def _recording_server() -> tuple[ThreadingHTTPServer, list[dict[str, str]]]:
    """A tiny web app on another 127.0.0.1 port that records what browsers send it."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(
                {
                    "path": self.path,
                    "cookie": self.headers.get("Cookie", ""),
                    "referer": self.headers.get("Referer", ""),
                }
            )
            body = b"<!doctype html><title>other app</title><img src='/pixel.png'>"
            body += b"<script>fetch('/api', {credentials: 'include'})</script>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def _chromium() -> str | None:
    for candidate in (os.environ.get("LIPDUB_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def test_in_a_browser_the_token_never_reaches_another_origin(case: Case) -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    other, seen = _recording_server()
    other_url = f"http://127.0.0.1:{other.server_address[1]}"
    session = ReviewSession(case.wd, _pipeline())
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    try:
        with ReviewServer(session) as srv, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=args)
            try:
                context = browser.new_context()
                page = context.new_page()
                page.goto(srv.url)
                rows = page.locator("#rows tbody tr")
                expect(rows).to_have_count(3)
                expect(page.locator("#problems")).to_be_hidden()
                # an editor breaks the timing report while the page is open
                (case.wd / "timing.es.json").write_text('{"segments": [')
                page.reload()
                expect(page.locator("#problems")).to_contain_text("timing.es.json cannot be read")
                expect(rows).to_have_count(3)
                cell = rows.nth(2).locator("td.target [contenteditable]")
                cell.click()
                page.keyboard.press("Control+A")
                page.keyboard.type("Hasta luego.")
                page.keyboard.press("Enter")
                expect(page.locator("#message")).to_contain_text("saved line 2")
                assert context.cookies() == []
                # the page goes to another local web app (script-led, as a link would)
                page.evaluate(f"location.href = {json.dumps(other_url + '/from-review?x=1')}")
                page.wait_for_url(other_url + "/from-review?x=1")
                # ... and the user opens that app in another tab of the same browser
                tab = context.new_page()
                tab.goto(other_url + "/tab")
                tab.wait_for_load_state("networkidle")
                page.wait_for_load_state("networkidle")
            finally:
                browser.close()
    finally:
        other.shutdown()
    paths = {row["path"] for row in seen}
    assert {"/from-review?x=1", "/tab", "/api", "/pixel.png"} <= paths, seen
    for row in seen:
        for value in row.values():
            assert srv.token not in value, row
    navigation = next(row for row in seen if row["path"].startswith("/from-review"))
    assert navigation["referer"] == ""  # no-referrer: not even the origin
    assert all(row["cookie"] == "" for row in seen)
    saved = json.loads((case.wd / "translation.es.json").read_text())
    assert saved["segments"][2]["text"] == "Hasta luego."


# ----------------------------------------------------------------- two servers, one work directory


def _serve_in_a_process(wd: Path) -> tuple[subprocess.Popen[str], str]:
    code = (
        "import sys, lipdub.testing as t; t.register_fakes(); "
        "from lipdub.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "review", str(wd), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "review page for" in line, line
    return proc, line.split(": ", 1)[1].strip()


def _post(url: str, path: str, body: dict[str, Any]) -> int:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(
        "POST",
        parts.path + path,
        body=json.dumps(body),
        headers={"Origin": f"http://{parts.netloc}", "Content-Type": "application/json"},
    )
    status = conn.getresponse().status
    conn.close()
    return status


def test_two_servers_saving_one_line_at_once_accept_exactly_one(case: Case) -> None:
    servers = [_serve_in_a_process(case.wd) for _ in range(2)]
    try:
        path = case.wd / "translation.es.json"
        from lipdub._hashing import file_sha256

        def save(k: int, url: str, body: dict[str, Any], gate: Any, out: list[int]) -> None:
            gate.wait(10)  # both requests leave together
            out[k] = _post(url, "api/save", body)

        line = {"kind": "target", "lang": "es", "index": 0}
        for round_ in range(30):
            version = file_sha256(path)
            barrier = threading.Barrier(2)
            statuses: list[int] = [0, 0]
            threads = [
                threading.Thread(
                    target=save,
                    args=(
                        k,
                        url,
                        {**line, "version": version, "text": f"round {round_} server {k}"},
                        barrier,
                        statuses,
                    ),
                )
                for k, (_, url) in enumerate(servers)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert sorted(statuses) == [200, 409], (round_, statuses)
            winner = statuses.index(200)
            text = json.loads(path.read_text())["segments"][0]["text"]
            assert text == f"round {round_} server {winner}"  # the accepted edit was kept
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(10)


# ----------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"workdir": 5}, "workdir"),
        ({"workdir": b"/tmp"}, "workdir"),
        ({"workdir": ""}, "workdir"),
        ({"pipeline": None}, "pipeline"),
        ({"pipeline": "fake"}, "pipeline"),
        ({"options": {"subtitles": ()}}, "options"),
        ({"voice": 5}, "voice"),
        ({"voice": " "}, "voice"),
        ({"input": 5}, "input"),
        ({"input": "/no/such/video.mp4"}, "input"),
        ({"input": "/"}, "input"),
        ({"output": 5}, "output"),
        ({"output": ""}, "output"),
    ],
)
def test_review_session_arguments_are_checked(
    case: Case, kwargs: dict[str, Any], named: str
) -> None:
    args: dict[str, Any] = {"workdir": case.wd, "pipeline": _pipeline(), **kwargs}
    with pytest.raises(InputError, match=rf"ReviewSession\({named}=\.\.\.\)"):
        ReviewSession(**args)


def test_review_session_refuses_a_folder_without_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"manifest\.json"):
        ReviewSession(tmp_path, _pipeline())


def test_review_server_and_app_arguments_are_checked(case: Case) -> None:
    session = ReviewSession(case.wd, _pipeline())
    with pytest.raises(InputError, match=r"ReviewServer\(session=\.\.\.\)"):
        ReviewServer("talk.mp4.lipdub")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"ReviewServer\(port=\.\.\.\)"):
        ReviewServer(session, port=70000)
    with pytest.raises(InputError, match="token"):
        create_app(session, "short")
    with pytest.raises(InputError, match=r"start\(kind=\.\.\.\)"):
        session.start("delete", "es")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"save_line\(index=\.\.\.\)"):
        session.save_line("target", "es", "0", "0" * 64, text="x")  # type: ignore[arg-type]


# ----------------------------------------------------------------- the guard's last resort


def _through_guard(inner: Any) -> tuple[int, dict[bytes, bytes], dict[str, Any]]:
    from lipdub.review.app import Guard

    token = "g" * 32
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/{token}/api/state",
        "raw_path": b"",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:9")],
    }
    asyncio.run(Guard(inner, token)(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], dict(sent[0]["headers"]), json.loads(body)


def test_an_unexpected_exception_is_a_json_answer_not_a_500() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise KeyError("a bug")

    status, headers, data = _through_guard(broken)
    assert status == 422
    assert data == {"error": "could not handle the request (KeyError)", "hint": ""}
    assert headers[b"referrer-policy"] == b"no-referrer"


def test_a_plain_text_error_becomes_json() -> None:
    from starlette.responses import PlainTextResponse

    async def plain(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("Bad thing\nwith a second line", status_code=400)(
            scope, receive, send
        )

    status, headers, data = _through_guard(plain)
    assert status == 400
    assert data == {"error": "Bad thing", "hint": ""}
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"x-frame-options"] == b"DENY"
