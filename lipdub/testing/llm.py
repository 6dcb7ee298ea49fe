"""A fake OpenAI-compatible chat server on 127.0.0.1, for the ``llm`` translator's tests.

:class:`FakeChatServer` speaks the real HTTP API (``POST /v1/chat/completions``,
``GET /v1/models``) to the real ``openai`` client, records every request, and is
scripted per test: :attr:`FakeChatServer.script` lists what the next requests get, in
order; once it is empty every request gets ``"answer"``.

What it "translates": it reads the JSON the ``llm`` translator sends (the first user
message) and answers each line with its words reversed (``hello world`` ->
``olleh dlrow``), rendering the request's glossary terms as the glossary says (a term
of the source line becomes its target, as written). A line that carries ``max_chars``
is cut, word by word, to at most that many characters: so answers are too long until
the prompt carries each line's budget.

Script entries:

* ``"answer"``: as above;
* ``"too_long"``: every word said twice, budgets ignored;
* ``"ignore_glossary"``: words reversed, glossary terms too;
* ``"malformed"``: prose instead of JSON;
* ``"drop"``: the last line left out; ``"merge"``: the last two lines answered as one;
  ``"blank"``: the last line answered with an empty text;
* an ``int``: that HTTP status with an OpenAI-style error body (``429`` rate limit,
  ``401`` a refused key, echoed back as OpenAI does, ``500``...).

A request for a model not in :attr:`FakeChatServer.models` gets OpenAI's 404
``model_not_found``; with :attr:`FakeChatServer.api_key` set, any other key gets 401.

Example:
    >>> import openai
    >>> with FakeChatServer() as fake:
    ...     client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    ...     r = client.chat.completions.create(model="fake-model", messages=[
    ...         {"role": "user", "content": '{"lines": [{"id": 0, "text": "hi there"}]}'}])
    ...     r.choices[0].message.content
    '{"lines": [{"id": 0, "text": "ih ereht"}]}'
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from lipdub.testing._http import JsonHandler, LocalServer

__all__ = ["FakeChatServer"]


@dataclass
class FakeChatServer:
    """The fake server (a context manager); see the module docstring.

    Attributes:
        models: The models it serves.
        api_key: The only key it accepts (None: any).
        script: What the next requests get, in order (consumed as they come).
        requests: Every request's JSON body, in arrival order, with the
            ``Authorization`` header it carried under ``"_authorization"``.
        base_url: ``http://127.0.0.1:PORT/v1`` once started.
    """

    models: tuple[str, ...] = ("fake-model",)
    api_key: str | None = None
    script: list[str | int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    _server: LocalServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def chats(self) -> list[dict[str, Any]]:
        """The chat requests' lipdub payloads (the first user message, decoded)."""
        out = []
        for r in self.requests:
            payload = _payload(r)
            if payload is not None:
                out.append(payload)
        return out

    def __enter__(self) -> FakeChatServer:
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
                    self.send_json(200, {"object": "list", "data": data})
                else:
                    self.send_json(404, _error("not found", "not_found"))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    self.send_json(400, _error("body is not JSON", "invalid_json"))
                    return
                body["_authorization"] = self.headers.get("Authorization")
                with fake._lock:
                    fake.requests.append(body)
                    step = fake.script.pop(0) if fake.script else "answer"
                status, out = fake._answer(body, step, self.headers.get("Authorization"))
                self.send_json(status, out)

        self._server = LocalServer(Handler)
        self.base_url = f"{self._server.url}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()

    # ------------------------------------------------------------------ answers
    def _answer(
        self, body: dict[str, Any], step: str | int, authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        key = (authorization or "").removeprefix("Bearer ")
        if self.api_key is not None and key != self.api_key:
            step = 401
        if isinstance(step, int):
            if step == 401:
                return 401, _error(f"Incorrect API key provided: {key}.", "invalid_api_key")
            if step == 429:
                return 429, _error("Rate limit reached for requests.", "rate_limit_exceeded")
            return step, _error(f"fake failure {step}", "server_error")
        model = body.get("model")
        if model not in self.models:
            return 404, _error(f"The model `{model}` does not exist.", "model_not_found")
        payload = _payload(body)
        if payload is None or not isinstance(payload.get("lines"), list):
            return 400, _error("no lipdub payload in the first user message", "bad_request")
        if step == "malformed":
            content = "Sure! Here are your translations:\n1. hola\n2. adiós"
        else:
            content = json.dumps({"lines": _translate(payload, step)}, ensure_ascii=False)
        return 200, {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _payload(body: dict[str, Any]) -> dict[str, Any] | None:
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            try:
                data = json.loads(m.get("content") or "")
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _translate(payload: dict[str, Any], step: str | int) -> list[dict[str, Any]]:
    terms = [] if step == "ignore_glossary" else payload.get("glossary") or []
    out = []
    for line in payload["lines"]:
        text = str(line.get("text", ""))
        words: list[str] = []
        for piece in _split_terms(text, terms):
            if isinstance(piece, dict):
                words.append(str(piece["target"]))
            else:
                words.extend(w[::-1] for w in piece.split())
        if step == "too_long":
            words = [w for w in words for _ in (0, 1)]
        limit = line.get("max_chars")
        if step != "too_long" and isinstance(limit, int):
            while len(words) > 1 and len(" ".join(words)) > limit:
                words.pop()
        out.append({"id": line.get("id"), "text": " ".join(words)})
    if step == "drop" and out:
        out.pop()
    if step == "blank" and out:
        out[-1]["text"] = ""
    if step == "merge" and len(out) >= 2:
        last = out.pop()
        out[-1]["text"] += " " + last["text"]
    return out


def _split_terms(text: str, terms: list[dict[str, Any]]) -> list[str | dict[str, Any]]:
    if not terms:
        return [text]
    by_folded = {str(t["source"]).casefold(): t for t in terms}
    longest_first = sorted(terms, key=lambda t: -len(str(t["source"])))
    pattern = re.compile("|".join(re.escape(str(t["source"])) for t in longest_first), re.I)
    out: list[str | dict[str, Any]] = []
    at = 0
    for m in pattern.finditer(text):
        out.append(text[at : m.start()])
        out.append(by_folded[m.group(0).casefold()])
        at = m.end()
    out.append(text[at:])
    return out
