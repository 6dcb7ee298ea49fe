"""A glossary every translator honours: source term -> target term, or ``keep``.

A :class:`Glossary` is read from a CSV file a person writes (``lipdub dub --glossary
terms.csv``, or ``DubOptions(glossary=Glossary.load("terms.csv"))``)::

    # source term, target term (or keep)
    Acme, keep
    lip sync, doblaje labial

One term per line: the source term, a comma, and the target term or ``keep`` (any
case) for names and brands that stay as they are. Blank lines and lines starting with
``#`` are skipped; a first line ``source,target`` is a header. Fields may be quoted
(``"Acme, Inc.", keep``). Source terms match whole words, in any case. A file with no
term (empty, a header only, comments only) is refused: a glossary that would do nothing
is a mistake.

How the translators use it (:meth:`Translator.translate_transcript
<lipdub.translate.base.Translator.translate_transcript>`):

* a backend that follows instructions (the ``llm`` translator) gets the terms in its
  prompt, and its output is checked;
* every other backend gets each term replaced by a placeholder (:meth:`Glossary.protect`),
  translates, and the placeholders are replaced by the target terms
  (:meth:`Glossary.restore`). A line whose placeholders the engine lost or repeated is
  translated again in pieces around its terms (:func:`translate_protected`), so the
  terms are always there.

Whatever the backend, :meth:`Glossary.check` tells which lines of a translation break a
term (a term of the source line whose target is missing); the dub reports them on their
line (a warning, and in ``timing.<lang>.json``, which the review page shows).

Example:
    >>> g = Glossary.parse("Acme, keep\\nlip sync, doblaje labial\\n")
    >>> g.check("Acme makes lip sync.", "Acme hace doblaje labial.")
    []
    >>> g.check("Acme makes lip sync.", "Acme hace sincronía.")
    ["the glossary term 'lip sync' should read 'doblaje labial'"]
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lipdub.errors import InputError, printable

__all__ = [
    "MAX_GLOSSARY_BYTES",
    "MAX_TERMS",
    "Glossary",
    "Term",
    "translate_protected",
]

#: Largest glossary file read (a glossary is a few kB).
MAX_GLOSSARY_BYTES = 1 << 20
#: Most terms in one glossary.
MAX_TERMS = 5000
#: Longest term, in characters.
MAX_TERM_CHARS = 200

_HINT = "one term per line: SOURCE TERM, TARGET TERM (or keep)"
# A placeholder an engine passes through: no word of any language, digits to tell apart.
_PLACEHOLDER = "ZQX{}"
_PLACEHOLDER_RE = re.compile(r"ZQX\s?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Term:
    """One glossary entry.

    Attributes:
        source: The term as written in the source language.
        target: Its translation, or None to keep it as it is (``keep``).
        line: The line of the glossary file it came from (0 when built in code).
    """

    source: str
    target: str | None = None
    line: int = 0

    @property
    def rendering(self) -> str:
        """What the term must read in a translation."""
        return self.source if self.target is None else self.target


@dataclass(frozen=True)
class Glossary:
    """Terms a translation must render a fixed way (see the module docstring).

    Args:
        terms: The entries; source terms are matched case-insensitively, as whole words.
    """

    terms: tuple[Term, ...]

    def __post_init__(self) -> None:
        seen: dict[str, Term] = {}
        for term in self.terms:
            if not term.source.strip():
                raise InputError("a glossary term is empty", hint=_HINT)
            if len(term.source) > MAX_TERM_CHARS or len(term.target or "") > MAX_TERM_CHARS:
                raise InputError(
                    f"glossary term {printable(term.source[:40])!r}... is longer than "
                    f"{MAX_TERM_CHARS} characters",
                    hint=_HINT,
                )
            folded = term.source.casefold()
            if folded in seen:
                raise InputError(
                    f"glossary term {printable(term.source)!r} is given twice"
                    + (f" (lines {seen[folded].line} and {term.line})" if term.line else ""),
                    hint="keep one line per source term",
                )
            seen[folded] = term
        if len(self.terms) > MAX_TERMS:
            raise InputError(f"the glossary has {len(self.terms)} terms; at most {MAX_TERMS}")

    # ------------------------------------------------------------------ reading
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Glossary:
        """Read a glossary CSV file (untrusted input: size-capped, UTF-8, checked).

        Raises:
            InputError: the file cannot be read, a line is not a term (the message
                names the file and the line), or the file holds no term.
        """
        from lipdub._userfiles import read_text_file

        text = read_text_file(path, "glossary", max_bytes=MAX_GLOSSARY_BYTES, hint=_HINT)
        return cls.parse(text, path=path)

    @classmethod
    def parse(cls, text: str, *, path: str | os.PathLike[str] | None = None) -> Glossary:
        """A glossary from CSV text (see the module docstring for the format).

        Raises:
            InputError: a line that is not ``source, target`` or ``source, keep``,
                naming ``path`` and the line; or no term at all (empty, a header only,
                comments only), naming ``path``.

        Example:
            >>> len(Glossary.parse("source,target\\nAcme, keep"))
            1
            >>> try:
            ...     Glossary.parse("# nothing yet\\n", path="terms.csv")
            ... except InputError as e:
            ...     print(e.message)
            glossary: no terms found
        """
        where = Path(path) if path is not None else None
        terms: list[Term] = []
        header_allowed = True
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                row = next(csv.reader([line], skipinitialspace=True, strict=True), [])
            except csv.Error as e:
                raise InputError(
                    f"glossary line {number}: expected 'source term, target term' ({e})",
                    path=where,
                    hint=_HINT,
                ) from None
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if header_allowed and [c.lower() for c in cells] == ["source", "target"]:
                header_allowed = False
                continue
            header_allowed = False
            if len(cells) != 2 or not cells[0] or not cells[1]:
                raise InputError(
                    f"glossary line {number}: expected 'source term, target term' or "
                    f"'source term, keep', got {printable(line, newlines=False)[:80]!r}",
                    path=where,
                    hint=_HINT,
                )
            target = None if cells[1].lower() == "keep" else cells[1]
            terms.append(Term(cells[0], target, number))
        if not terms:
            raise InputError("glossary: no terms found", path=where, hint=_HINT)
        try:
            return cls(tuple(terms))
        except InputError as e:
            raise InputError(e.message, path=where, hint=e.hint) from None

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def key(self) -> list[list[str | None]]:
        """The glossary's content, JSON-ready, for a stage's key (file lines left out)."""
        return [[t.source, t.target] for t in self.terms]

    # ------------------------------------------------------------------ matching
    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        longest_first = sorted(self.terms, key=lambda t: -len(t.source))
        alternatives = "|".join(re.escape(t.source) for t in longest_first)
        return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    @cached_property
    def _by_folded(self) -> dict[str, Term]:
        return {t.source.casefold(): t for t in self.terms}

    def found(self, text: str) -> list[Term]:
        """The terms ``text`` uses, one per occurrence, in order."""
        if not self.terms:
            return []
        return [self._by_folded[m.group(0).casefold()] for m in self._pattern.finditer(text)]

    def check(self, source: str, translation: str) -> list[str]:
        """What ``translation`` of ``source`` breaks: one sentence per term whose
        rendering it lacks (or has fewer times than the source uses the term)."""
        problems = []
        wanted: dict[Term, int] = {}
        for term in self.found(source):
            wanted[term] = wanted.get(term, 0) + 1
        folded = translation.casefold()
        for term, n in wanted.items():
            if folded.count(term.rendering.casefold()) < n:
                if term.target is None:
                    problems.append(f"the glossary term {term.source!r} should stay as it is")
                else:
                    problems.append(
                        f"the glossary term {term.source!r} should read {term.target!r}"
                    )
        return problems

    # ------------------------------------------------------------------ placeholders
    def protect(self, text: str) -> tuple[str, list[Term]]:
        """``text`` with each term replaced by a placeholder, and the terms in order.

        Example:
            >>> Glossary.parse("Acme, keep").protect("I like acme phones.")
            ('I like ZQX0 phones.', [Term(source='Acme', target=None, line=1)])
        """
        slots: list[Term] = []

        def swap(m: re.Match[str]) -> str:
            slots.append(self._by_folded[m.group(0).casefold()])
            return _PLACEHOLDER.format(len(slots) - 1)

        if not self.terms:
            return text, slots
        return self._pattern.sub(swap, text), slots

    @staticmethod
    def restore(text: str, slots: Sequence[Term]) -> str | None:
        """``text`` with the placeholders of :meth:`protect` replaced by the terms'
        renderings; None when a placeholder is missing, repeated or unknown."""
        seen = [int(m.group(1)) for m in _PLACEHOLDER_RE.finditer(text)]
        if sorted(seen) != list(range(len(slots))):
            return None
        return _PLACEHOLDER_RE.sub(lambda m: slots[int(m.group(1))].rendering, text)

    def pieces(self, text: str) -> list[str | Term]:
        """``text`` split at its terms: the texts between them and the terms, in order."""
        out: list[str | Term] = []
        at = 0
        for m in self._pattern.finditer(text) if self.terms else ():
            out.append(text[at : m.start()])
            out.append(self._by_folded[m.group(0).casefold()])
            at = m.end()
        out.append(text[at:])
        return out

    def instructions(self) -> list[dict[str, str]]:
        """The terms as a prompt states them: ``{"source": ..., "target": ...}``, the
        target being the source term itself for ``keep``."""
        return [{"source": t.source, "target": t.rendering} for t in self.terms]


def translate_protected(
    glossary: Glossary,
    texts: Sequence[str],
    translate: Callable[[list[str]], list[str]],
    *,
    pieces: Callable[[list[str]], list[str]] | None = None,
) -> list[str]:
    """Translate ``texts`` with the glossary's terms behind placeholders.

    ``translate`` gets the texts with placeholders (one call); the placeholders in its
    output are replaced by the terms' renderings. A line whose placeholders did not
    come back intact is translated again in pieces around its terms (one call of
    ``pieces``, default ``translate``, for all such lines), and the terms put between
    the translated pieces.

    Example:
        >>> g = Glossary.parse("Acme, keep")
        >>> translate_protected(g, ["I like Acme."], lambda ts: [t.upper() for t in ts])
        ['I LIKE Acme.']
    """
    masked: list[str] = []
    slots: list[list[Term]] = []
    for text in texts:
        m, s = glossary.protect(text)
        masked.append(m)
        slots.append(s)
    out = list(translate(masked))
    if len(out) != len(masked):
        return out  # the caller reports the count
    lost = []
    for i, (text, found) in enumerate(zip(out, slots, strict=True)):
        restored = glossary.restore(text, found) if found else text
        if restored is None:
            lost.append(i)
        else:
            out[i] = restored
    if not lost:
        return out
    split = {i: glossary.pieces(texts[i]) for i in lost}
    todo = [p for i in lost for p in split[i] if isinstance(p, str) and p.strip()]
    translated = list((pieces or translate)(todo)) if todo else []
    if len(translated) != len(todo):
        raise InputError(
            f"the translator returned {len(translated)} texts for {len(todo)} pieces of "
            "lines around glossary terms"
        )
    done = iter(translated)
    for i in lost:
        parts = []
        for p in split[i]:
            if isinstance(p, Term):
                parts.append(p.rendering)
            elif p.strip():
                parts.append(next(done).strip())
        out[i] = " ".join(part for part in parts if part)
    return out
