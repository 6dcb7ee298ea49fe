"""Language codes: validation of BCP-47 tags against ISO 639.

lipdub passes language codes to every backend; catching a typo (``--to sp``) before an
hour of work is the point of :func:`check_language`.
"""

from __future__ import annotations

import re

from lipdub.errors import UnknownLanguageError

__all__ = ["ISO_639_1", "base_language", "check_language"]

#: The ISO 639-1 two-letter language codes.
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu
    cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho
    hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv
    kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr
    nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq
    sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh
    yi yo za zh zu""".split()
)

# Three-letter codes some backends use (espeak, NLLB, Whisper) for languages without a
# two-letter one; any other 3-letter code is accepted when it is well formed.
_TAG = re.compile(
    r"^(?P<lang>[A-Za-z]{2,3})(?:[-_](?:[A-Za-z]{4}|[A-Za-z]{2}|\d{3}|[A-Za-z0-9]{5,8}))*$"
)


def base_language(code: str) -> str:
    """The primary language subtag, lower-case: ``"es-ES"`` -> ``"es"``."""
    return re.split(r"[-_]", code.strip(), maxsplit=1)[0].lower()


def check_language(code: str | None, *, what: str = "language") -> str:
    """Return ``code`` normalised (``es_es`` -> ``es-ES``) or raise.

    Raises:
        UnknownLanguageError: not a BCP-47 tag with a known ISO 639 language.

    Example:
        >>> check_language("pt_br")
        'pt-BR'
        >>> check_language("spanish")
        Traceback (most recent call last):
        ...
        lipdub.errors.UnknownLanguageError: unknown language code 'spanish' ...
    """
    if not code or not isinstance(code, str):
        raise UnknownLanguageError(f"a {what} code is required", hint="use a BCP-47 code like 'es'")
    m = _TAG.match(code.strip())
    lang = m.group("lang").lower() if m else ""
    if not m or (len(lang) == 2 and lang not in ISO_639_1):
        raise UnknownLanguageError(
            f"unknown language code {code!r} for the {what}",
            hint="use a BCP-47 code such as 'en', 'es', 'pt-BR', 'zh-CN'",
        )
    parts = re.split(r"[-_]", code.strip())
    out = [lang]
    for p in parts[1:]:
        if len(p) == 2:
            out.append(p.upper())
        elif len(p) == 4 and p.isalpha():
            out.append(p.title())
        else:
            out.append(p)
    return "-".join(out)
