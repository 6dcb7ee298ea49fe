"""Translation by a large language model over the OpenAI-compatible chat API.

Install with ``pip install "lipdub[llm]"`` (the ``openai`` client). The same API is
served by OpenAI and, on your own machine, by Ollama, vLLM and llama.cpp's server, so a
dub can be translated privately on a GPU box (see ``docs/backends.md``).

Configuration, each from the constructor or else the environment:

* ``base_url``: ``LIPDUB_LLM_BASE_URL``, then ``OPENAI_BASE_URL``, then OpenAI's;
* ``model``: ``LIPDUB_LLM_MODEL`` (required: there is no default model);
* ``api_key``: ``LIPDUB_LLM_API_KEY``, then ``OPENAI_API_KEY`` (local servers take any).
  The key is sent to the server and nowhere else: it is in no setting, log line, error
  message or file.

What the model is told, for each window of ``window_lines`` lines (the whole transcript
when it is that short; otherwise ``context_lines`` lines on each side come along as
context): the languages, the glossary's terms, and each line's text, speaker and, for
a dub (:meth:`LLMTranslator.translate_fitted`), its time budget in seconds and in the
characters the target voice says in it. It answers JSON, one object per line. A line
predicted too long to speak at the fit's ``max_rate``, or one that breaks a glossary
term, is asked again, shorter, with its previous answer, up to ``max_rewrites`` times;
the answer that fits best is kept.

Failures are one-line errors: the server cannot be reached or stays unavailable
(:class:`~lipdub.errors.CloudServiceError`), the model is unknown
(:class:`~lipdub.errors.ModelNotFoundError`), the key is refused (401/403,
:class:`~lipdub.errors.CredentialsError`), rate limits outlast the
:class:`~lipdub.retry.RetryPolicy` (429), and replies that are not the JSON asked for,
or that drop or merge lines, ``json_attempts`` times in a row.

Example:
    >>> from lipdub.testing.llm import FakeChatServer
    >>> with FakeChatServer() as fake:
    ...     tr = LLMTranslator(model="fake-model", base_url=fake.base_url, api_key="sk-test")
    ...     tr.translate(["hello world"], "en", "es")
    ['olleh dlrow']
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from lipdub._deps import require_modules
from lipdub.errors import (
    CloudServiceError,
    CredentialsError,
    InputError,
    LipdubError,
    ModelNotFoundError,
    printable,
)
from lipdub.retry import RetryPolicy
from lipdub.translate.base import Translator
from lipdub.translate.glossary import Glossary
from lipdub.types import Transcript
from lipdub.types.fit import FitRequest

__all__ = ["PROMPT_VERSION", "LLMTranslator"]

logger = logging.getLogger(__name__)

#: Changes whenever the prompt's wording or shape changes (it is in the settings).
PROMPT_VERSION = 1
OPENAI_BASE_URL = "https://api.openai.com/v1"
#: The largest reply read, in characters.
MAX_REPLY_CHARS = 1 << 20

_SYSTEM = """\
You translate the lines of a video's transcript for dubbing.
You get JSON with: source_language (null: detect it), target_language, glossary (terms \
that must be rendered exactly as given: source term -> target term; a target equal to \
the source means keep it unchanged), context_before and context_after (neighbouring \
lines, for meaning only: do not translate them), and lines to translate, each with an \
id, its speaker (null if unknown) and its text. A line may carry seconds (how long it \
may last when spoken) and max_chars (the most characters that can be spoken in that \
time): then write a natural translation of at most max_chars characters, shortening or \
rephrasing as a dubbing translator would, keeping the meaning. A line with previous \
and problem was answered before and was not usable: answer it again, fixing the problem.
Keep one translation per line: never merge, split, drop or add lines. Keep each \
speaker's tone.
Answer with JSON only, exactly: {"lines": [{"id": <id>, "text": "<translation>"}, ...]} \
with one object per line given, in the same order."""


@dataclass
class _Line:
    """One line being translated: its answers so far."""

    index: int
    text: str
    answers: list[str]


class LLMTranslator(Translator):
    """Translates with a chat model behind an OpenAI-compatible API (see module docs).

    Args:
        model: The model's name on the server (``"gpt-4o-mini"``, ``"qwen2.5:7b"``);
            None reads ``LIPDUB_LLM_MODEL``.
        base_url: The API's base URL, ending in ``/v1`` (``http://localhost:11434/v1``
            for Ollama); None reads ``LIPDUB_LLM_BASE_URL``, then ``OPENAI_BASE_URL``,
            then uses OpenAI's.
        api_key: The API key; None reads ``LIPDUB_LLM_API_KEY``, then
            ``OPENAI_API_KEY`` (a local server accepts any key).
        temperature: Sampling temperature (0 is the most repeatable).
        window_lines: Lines translated per request.
        context_lines: Lines on each side of a window sent along as context.
        max_rewrites: How many times a line predicted too long (or breaking a glossary
            term) is asked again.
        json_attempts: Requests per window before a reply that is not the JSON asked
            for (or that drops or merges lines) is an error.
        json_mode: Ask the server for a JSON object (``response_format``); turn off
            for a server that refuses it.
        retry: Backoff for rate limits (429), server errors (5xx) and an unreachable
            server; its ``timeout_s`` is the per-request deadline.
        client: A ready ``openai.OpenAI`` client (its base URL is then used).
        sleep: Waits between retries (tests pass a no-op).

    Raises:
        InputError: no model was given, or an option is out of range.
        BackendNotInstalled: the ``openai`` package is missing.
    """

    name: ClassVar[str] = "llm"
    length_aware: ClassVar[bool] = True
    follows_glossary: ClassVar[bool] = True

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.2,
        window_lines: int = 40,
        context_lines: int = 20,
        max_rewrites: int = 2,
        json_attempts: int = 3,
        json_mode: bool = True,
        retry: RetryPolicy | None = None,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        require_modules("llm", "the llm translator", "openai", extra="llm")
        model = model or os.environ.get("LIPDUB_LLM_MODEL") or None
        if not model:
            raise InputError(
                "the llm translator needs a model name",
                backend=self.name,
                hint="pass --opt translator.model=NAME (or model=), or set LIPDUB_LLM_MODEL",
            )
        if not 0.0 <= temperature <= 2.0:
            raise InputError(f"temperature must be in [0, 2], got {temperature}")
        if window_lines < 1 or context_lines < 0 or max_rewrites < 0 or json_attempts < 1:
            raise InputError(
                "window_lines and json_attempts must be >= 1, context_lines and "
                f"max_rewrites >= 0; got {window_lines}, {json_attempts}, {context_lines}, "
                f"{max_rewrites}"
            )
        self.model = model
        if client is not None:
            base_url = str(client.base_url)
        self.base_url = (
            base_url
            or os.environ.get("LIPDUB_LLM_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
            or OPENAI_BASE_URL
        )
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(
                f"the llm base URL must be http(s)://HOST[:PORT]/PATH, got "
                f"{printable(_without_userinfo(self.base_url), newlines=False)!r}",
                backend=self.name,
            )
        self._api_key = api_key or (
            os.environ.get("LIPDUB_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or None
        )
        self.temperature = temperature
        self.window_lines = window_lines
        self.context_lines = context_lines
        self.max_rewrites = max_rewrites
        self.json_attempts = json_attempts
        self.json_mode = json_mode
        self.retry = retry or RetryPolicy()
        self._client = client
        self._sleep = sleep

    # ------------------------------------------------------------------ identity
    @property
    def host(self) -> str:
        """The server's host and port (no credentials, no path)."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if parts.port else host

    def settings(self) -> dict[str, Any]:
        """What changes the translations: the server's host, the model, the prompt
        version, the temperature and the windowing and rewrite options. The key, the
        client and the retry policy are left out."""
        return {
            "host": self.host,
            "model": self.model,
            "prompt_version": PROMPT_VERSION,
            "temperature": self.temperature,
            "window_lines": self.window_lines,
            "context_lines": self.context_lines,
            "max_rewrites": self.max_rewrites,
            "json_mode": self.json_mode,
        }

    def __repr__(self) -> str:
        return f"LLMTranslator(model={self.model!r}, host={self.host!r})"

    @property
    def client(self) -> Any:
        """The ``openai.OpenAI`` client (built on first use; it does not retry itself)."""
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=self._api_key or "no-key",
                max_retries=0,
                timeout=self.retry.timeout_s,
            )
        return self._client

    # ------------------------------------------------------------------ translating
    def translate_transcript(
        self,
        transcript: Transcript,
        target: str,
        *,
        fit: FitRequest | None = None,
        glossary: Glossary | None = None,
    ) -> Transcript:
        """As :meth:`Translator.translate_transcript
        <lipdub.translate.base.Translator.translate_transcript>`, with each segment's
        speaker in the prompt (with or without ``fit``)."""
        token = _SPEAKERS.set(tuple(s.speaker for s in transcript.segments))
        try:
            return super().translate_transcript(transcript, target, fit=fit, glossary=glossary)
        finally:
            _SPEAKERS.reset(token)

    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """Translate ``texts`` (no time budgets); one output per input, in order."""
        return self._run(texts, source, target, None, None)

    def translate_fitted(
        self, texts: Sequence[str], source: str | None, target: str, fit: FitRequest
    ) -> list[str]:
        """Translate ``texts`` so that line ``i`` fits ``fit.budgets[i]`` (see module)."""
        return self._run(texts, source, target, fit, None)

    def translate_with_glossary(
        self,
        texts: Sequence[str],
        source: str | None,
        target: str,
        glossary: Glossary,
        fit: FitRequest | None = None,
    ) -> list[str]:
        """Translate ``texts`` with ``glossary``'s terms in the prompt; a line that breaks
        a term is asked again like a line too long (the dub reports what stays broken)."""
        return self._run(texts, source, target, fit, glossary)

    def _run(
        self,
        texts: Sequence[str],
        source: str | None,
        target: str,
        fit: FitRequest | None,
        glossary: Glossary | None,
    ) -> list[str]:
        if fit is not None and len(fit.budgets) != len(texts):
            raise InputError(f"{len(fit.budgets)} time budgets for {len(texts)} texts")
        out = ["" for _ in texts]
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if not todo:
            return out
        starts = range(0, len(todo), self.window_lines)
        logger.info(
            "llm translate: %d lines %s -> %s in %d request window(s) (model %s at %s)",
            len(todo),
            source or "auto",
            target,
            len(starts),
            self.model,
            self.host,
        )
        rewrites = 0
        for w, start in enumerate(starts):
            end = min(start + self.window_lines, len(todo))
            window = todo[start:end]
            before = todo[max(0, start - self.context_lines) : start]
            after = todo[end : end + self.context_lines]
            lines = [_Line(i, texts[i], []) for i in window]
            asking = lines
            for attempt in range(self.max_rewrites + 1):
                payload = self._payload(texts, asking, before, after, source, target, fit, glossary)
                answers = self._ask(payload, [ln.index for ln in asking], window=w)
                for ln in asking:
                    ln.answers.append(answers[ln.index])
                asking = [ln for ln in lines if _problem(ln, fit, glossary) is not None]
                if not asking or attempt == self.max_rewrites:
                    break
                rewrites += 1
                logger.info(
                    "llm translate: asking again for %d line(s) of window %d (%s)",
                    len(asking),
                    w + 1,
                    "; ".join(f"line {ln.index}: {_problem(ln, fit, glossary)}" for ln in asking),
                )
            for ln in lines:
                out[ln.index] = _best(ln, fit, glossary)
        if rewrites:
            logger.info("llm translate: %d rewrite request(s) in all", rewrites)
        return out

    def _payload(
        self,
        texts: Sequence[str],
        asking: list[_Line],
        before: list[int],
        after: list[int],
        source: str | None,
        target: str,
        fit: FitRequest | None,
        glossary: Glossary | None,
    ) -> dict[str, Any]:
        speakers = fit.speakers if fit is not None and fit.speakers else _SPEAKERS.get()
        if len(speakers) != len(texts):
            speakers = ()

        def speaker(i: int) -> str | None:
            return speakers[i] if speakers else None

        def line(ln: _Line) -> dict[str, Any]:
            row: dict[str, Any] = {"id": ln.index, "speaker": speaker(ln.index), "text": ln.text}
            if fit is not None:
                budget = fit.budgets[ln.index]
                row["seconds"] = round(budget.seconds, 2)
                row["max_chars"] = _max_chars(fit, ln.index)
            if ln.answers:
                row["previous"] = ln.answers[-1]
                row["problem"] = _problem(ln, fit, glossary)
            return row

        def context(i: int) -> dict[str, Any]:
            return {"id": i, "speaker": speaker(i), "text": texts[i]}

        return {
            "source_language": source,
            "target_language": target,
            "glossary": glossary.instructions() if glossary else [],
            "context_before": [context(i) for i in before],
            "context_after": [context(i) for i in after],
            "lines": [line(ln) for ln in asking],
        }

    # ------------------------------------------------------------------ one request
    def _ask(self, payload: dict[str, Any], ids: list[int], *, window: int) -> dict[int, str]:
        """The answers to one request, by line index (re-asked on a bad reply)."""
        messages: list[dict[str, str]] = [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
        ]
        why = ""
        for attempt in range(self.json_attempts):
            content = self._complete(messages)
            try:
                return _parse(content, ids)
            except _BadReply as e:
                why = str(e)
                logger.warning(
                    "llm translate: reply %d/%d for window %d unusable: %s",
                    attempt + 1,
                    self.json_attempts,
                    window + 1,
                    why,
                )
                messages = [
                    *messages[:2],
                    {"role": "assistant", "content": content[:4000]},
                    {
                        "role": "user",
                        "content": f"That reply was not usable: {why}. Answer again with "
                        'JSON only: {"lines": [{"id": ..., "text": ...}, ...]}, one '
                        "object per line given.",
                    },
                ]
        raise CloudServiceError(
            f"the LLM ({self.model} at {self.host}) did not answer the JSON asked for in "
            f"{self.json_attempts} tries: {why}",
            backend=self.name,
            hint="try another model or a lower temperature, or raise "
            "--opt translator.json_attempts",
        )

    def _complete(self, messages: list[dict[str, str]]) -> str:
        """One chat completion's text, with retries for transient failures."""
        import openai

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
        }
        if self.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        policy = self.retry
        for attempt in range(policy.max_attempts):
            try:
                response = self.client.chat.completions.create(**kwargs)
            except _transient(openai) as e:
                if attempt + 1 < policy.max_attempts:
                    delay = policy.delay_s(attempt)
                    logger.warning(
                        "llm translate: %s, retry %d/%d in %.2f s",
                        self._describe(e),
                        attempt + 1,
                        policy.max_attempts - 1,
                        delay,
                    )
                    self._sleep(delay)
                    continue
                raise self._error(e, attempts=policy.max_attempts) from None
            except openai.APIError as e:
                raise self._error(e, attempts=attempt + 1) from None
            try:
                content = response.choices[0].message.content
            except (AttributeError, IndexError, TypeError):
                content = None
            if not isinstance(content, str):
                return ""
            return content[:MAX_REPLY_CHARS]
        raise AssertionError("unreachable")  # pragma: no cover

    def _describe(self, e: Exception) -> str:
        import openai

        if isinstance(e, openai.APIConnectionError):
            return f"cannot reach the LLM server at {self.host} ({type(e).__name__})"
        status = getattr(e, "status_code", None)
        return f"the LLM server at {self.host} answered HTTP {status}"

    def _error(self, e: Exception, *, attempts: int) -> LipdubError:
        """The one-line lipdub error for a failed request (the key is never in it)."""
        import openai

        where = f"{self.model} at {self.host}"
        said = self._server_message(e)
        if isinstance(e, openai.APIConnectionError):
            return CloudServiceError(
                f"cannot reach the LLM server at {self.host} ({attempts} tries)",
                backend=self.name,
                hint="start the server (ollama serve, vllm serve ...) or fix "
                "--opt translator.base_url / LIPDUB_LLM_BASE_URL",
            )
        if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return CredentialsError(
                f"the LLM server at {self.host} refused the API key "
                f"(HTTP {getattr(e, 'status_code', '?')})",
                backend=self.name,
                hint="set LIPDUB_LLM_API_KEY or OPENAI_API_KEY to a valid key",
            )
        if isinstance(e, openai.NotFoundError):
            return ModelNotFoundError(
                f"the LLM server at {self.host} has no model {self.model!r}{said}",
                backend=self.name,
                hint="list its models (GET /v1/models; ollama list) and pass "
                "--opt translator.model=NAME; for Ollama, ollama pull NAME first",
            )
        if isinstance(e, openai.RateLimitError):
            return CloudServiceError(
                f"the LLM server at {self.host} kept rate-limiting (HTTP 429) through "
                f"{attempts} tries{said}",
                backend=self.name,
                hint="wait and run again (finished stages are kept), or raise "
                "the retry policy's max_attempts",
            )
        status = getattr(e, "status_code", None)
        return CloudServiceError(
            f"the LLM request to {where} failed"
            + (f" (HTTP {status})" if status else "")
            + (f" after {attempts} tries" if attempts > 1 else "")
            + said,
            backend=self.name,
            hint="check the server's log; run again to resume",
        )

    def _server_message(self, e: Exception) -> str:
        """What the server said, short, with anything like a key taken out."""
        body = getattr(e, "body", None)
        message: Any = None
        if isinstance(body, dict):
            message = body.get("message")
            if isinstance(body.get("error"), dict):
                message = body["error"].get("message")
            elif isinstance(body.get("error"), str):
                message = body["error"]
        if not isinstance(message, str) or not message.strip():
            return ""
        return f": {self._scrub(message)[:200]}"

    def _scrub(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return _KEYLIKE.sub("***", text)


def _transient(openai: Any) -> tuple[type[Exception], ...]:
    """The client's errors worth retrying: rate limits, server errors, no connection."""
    return (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)


#: Things that look like API keys, taken out of server messages before they are shown.
_KEYLIKE = re.compile(r"\b(?:sk|pk|key|api)[-_][A-Za-z0-9*_\-.]{6,}")


#: The speakers of the transcript being translated (see translate_transcript).
_SPEAKERS: ContextVar[tuple[str | None, ...]] = ContextVar("lipdub_llm_speakers", default=())


class _BadReply(ValueError):
    """A reply that is not the JSON asked for, or that drops or merges lines."""


def _parse(content: str, ids: list[int]) -> dict[int, str]:
    """The translations of a reply, by line id; :class:`_BadReply` says what is wrong."""
    text = content.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    if fence:
        text = fence.group(1)
    if not text:
        raise _BadReply("the reply was empty")
    try:
        data = json.loads(text)
    except RecursionError:
        raise _BadReply("the JSON is nested too deeply") from None
    except ValueError as e:
        raise _BadReply(f"not JSON ({str(e).splitlines()[0][:80]})") from None
    rows = data.get("lines") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise _BadReply('no "lines" list')
    found: dict[int, str] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise _BadReply("a line is not an object")
        i, t = row.get("id"), row.get("text")
        if isinstance(i, str) and i.strip().isdigit():
            i = int(i)
        if not isinstance(i, int) or isinstance(i, bool) or not isinstance(t, str):
            raise _BadReply('a line lacks an integer "id" or a string "text"')
        if i not in ids:
            raise _BadReply(f"line id {i} was not asked for")
        if i in found:
            raise _BadReply(f"line {i} is answered twice")
        if not t.strip():
            raise _BadReply(f"line {i} is answered empty (merged into another?)")
        found[i] = t.strip()
    missing = [i for i in ids if i not in found]
    if missing:
        raise _BadReply(
            f"{len(missing)} of {len(ids)} lines dropped or merged (ids "
            f"{', '.join(map(str, missing[:10]))})"
        )
    return found


def _max_chars(fit: FitRequest, index: int) -> int:
    """The most characters line ``index`` can hold at the fit's ``max_rate``."""
    return fit.length.chars_in(fit.budgets[index].seconds * fit.max_rate)


def _problem(ln: _Line, fit: FitRequest | None, glossary: Glossary | None) -> str | None:
    """Why the line's last answer is to be asked again, or None."""
    answer = ln.answers[-1]
    broken = glossary.check(ln.text, answer) if glossary else []
    if broken:
        return "; ".join(broken)
    if fit is not None and not fit.fits(ln.index, answer, rate=fit.max_rate):
        budget = fit.budgets[ln.index].seconds
        return (
            f"too long: about {fit.length.seconds(answer):.1f} s to say for {budget:.1f} s; "
            f"write at most {_max_chars(fit, ln.index)} characters"
        )
    return None


def _best(ln: _Line, fit: FitRequest | None, glossary: Glossary | None) -> str:
    """The answer that breaks the fewest glossary terms, then fits best (earliest on ties)."""

    def score(answer: str) -> tuple[int, float]:
        broken = len(glossary.check(ln.text, answer)) if glossary else 0
        if fit is None:
            return broken, 0.0
        excess = fit.ratio(ln.index, answer) / fit.max_rate - 1.0
        return broken, max(0.0, excess) if math.isfinite(excess) else math.inf

    return min(ln.answers, key=score)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
