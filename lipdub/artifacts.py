"""The name of every file in a work directory, in one place.

The stages write these files, the review page and ``lipdub eval`` read them; each
name is spelt here and nowhere else. The functions return names relative to the work
directory (``Workdir.path(artifacts.transcript("en"))`` makes the path, and checks it).

=========================  ===================================================
name                       what it holds
=========================  ===================================================
``source.wav``             the input's audio at the dub's sample rate
``transcript.<src>.json``  the source transcript (editable)
``speakers.json``          who speaks when (editable)
``voices/<speaker>.wav``   each speaker's reference clip (replaceable)
``translation.<tgt>.json``  the translation (editable), and its ``.srt`` copy
``speech.<tgt>.wav``       the dubbed speech at the source timing (checked)
``timing.<tgt>.json``      where each line was placed, how fast, and its quality
``draft.speech.<tgt>.wav``  the speech before the quality checks (and its
``draft.timing.<tgt>.json``  timing): the speak stage's, the quality stage's input
``background.wav``         the input without the voice (``vocals.wav``: the voice)
``dub.<tgt>.wav``          the dubbed soundtrack: speech over the background
``facetrack.<key>.json``   the face through the video (per video and detector)
``facelinks.<key>.json``   every face of every frame, with stable ids
``faces.json``             which face speaks in each span (editable)
``speech/``                per-utterance speech kept between runs
``quality/``               per-line quality measures kept between runs
``manifest.json``          what lipdub wrote, and from what (the record)
=========================  ===================================================

Example:
    >>> translation("es"), timing("pt-BR"), voice("S1")
    ('translation.es.json', 'timing.pt-BR.json', 'voices/S1.wav')
    >>> language_of("transcript.en.json", TRANSCRIPT)
    'en'
"""

from __future__ import annotations

__all__ = [
    "BACKGROUND",
    "DRAFT_SPEECH",
    "DRAFT_TIMING",
    "DUB",
    "FACES",
    "MANIFEST",
    "QUALITY_CACHE",
    "SOURCE_AUDIO",
    "SPEAKERS",
    "SPEECH",
    "SPEECH_CACHE",
    "TIMING",
    "TRANSCRIPT",
    "TRANSLATION",
    "VOCALS",
    "VOICES",
    "draft_speech",
    "draft_timing",
    "dub",
    "facelinks",
    "facetrack",
    "language_of",
    "pattern",
    "speech",
    "subtitle",
    "timing",
    "transcript",
    "translation",
    "translation_srt",
    "voice",
]

#: The language-independent files.
SOURCE_AUDIO = "source.wav"
SPEAKERS = "speakers.json"
BACKGROUND = "background.wav"
VOCALS = "vocals.wav"
FACES = "faces.json"
MANIFEST = "manifest.json"
#: Folders: the reference clips, and the per-utterance speech cache.
VOICES = "voices"
SPEECH_CACHE = "speech"
QUALITY_CACHE = "quality"

#: The per-language files, as ``(prefix, suffix)`` around the language code.
TRANSCRIPT = ("transcript.", ".json")
TRANSLATION = ("translation.", ".json")
TIMING = ("timing.", ".json")
SPEECH = ("speech.", ".wav")
DUB = ("dub.", ".wav")
DRAFT_SPEECH = ("draft.speech.", ".wav")
DRAFT_TIMING = ("draft.timing.", ".json")


def _named(kind: tuple[str, str], code: str) -> str:
    return f"{kind[0]}{code}{kind[1]}"


def transcript(language: str) -> str:
    """``transcript.<language>.json``: the source transcript."""
    return _named(TRANSCRIPT, language)


def translation(language: str) -> str:
    """``translation.<language>.json``: the translation."""
    return _named(TRANSLATION, language)


def translation_srt(language: str) -> str:
    """``translation.<language>.srt``: the translation's subtitle copy (editable too)."""
    return translation(language).removesuffix(".json") + ".srt"


def timing(language: str) -> str:
    """``timing.<language>.json``: the timing report of the dubbed speech."""
    return _named(TIMING, language)


def speech(language: str) -> str:
    """``speech.<language>.wav``: the dubbed speech alone."""
    return _named(SPEECH, language)


def draft_speech(language: str) -> str:
    """``draft.speech.<language>.wav``: the dubbed speech before the quality checks."""
    return _named(DRAFT_SPEECH, language)


def draft_timing(language: str) -> str:
    """``draft.timing.<language>.json``: its timing report, before the quality checks."""
    return _named(DRAFT_TIMING, language)


def dub(language: str) -> str:
    """``dub.<language>.wav``: the dubbed soundtrack."""
    return _named(DUB, language)


def voice(safe_label: str) -> str:
    """``voices/<label>.wav``: a speaker's reference clip (the label already made safe)."""
    return f"{VOICES}/{safe_label}.wav"


def facetrack(key: str) -> str:
    """``facetrack.<key>.json``: the face track of one video under one detector."""
    return f"facetrack.{key}.json"


def facelinks(key: str) -> str:
    """``facelinks.<key>.json``: all the faces of one video under one detector."""
    return f"facelinks.{key}.json"


def subtitle(stem: str, language: str, fmt: str) -> str:
    """``<stem>.<language>.<fmt>``: a subtitle file beside the output video."""
    return f"{stem}.{language}.{fmt}"


def pattern(kind: tuple[str, str]) -> str:
    """A glob for every language's file of ``kind`` (``"timing.*.json"``)."""
    return _named(kind, "*")


def language_of(name: str, kind: tuple[str, str]) -> str | None:
    """The language code in a file name of ``kind``, or None if it is not one."""
    prefix, suffix = kind
    if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix + suffix):
        return name[len(prefix) : -len(suffix)]
    return None
