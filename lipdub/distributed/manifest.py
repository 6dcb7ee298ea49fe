"""The batch manifest: which videos to dub, with optional per-video options.

A manifest is a CSV file with a header row, or a JSON list; each entry names an
``input`` and may add ``output`` (a file name that may contain ``{lang}``),
``source_language`` (alias ``from``) and ``text`` (speak this instead of
transcribing). Relative paths are relative to the manifest's folder.

Example:
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "m.csv").write_text("input,from\\ntalk.mp4,en\\nintro.mp4,\\n")
    >>> [(i.input.name, i.source_language) for i in load_manifest(d / "m.csv")]
    [('talk.mp4', 'en'), ('intro.mp4', None)]
    >>> rows = ["a.mp4", {"input": "b.mp4", "output": "b.{lang}.mp4"}]
    >>> _ = (d / "m.json").write_text(json.dumps(rows))
    >>> [(i.input.name, i.output and i.output.name) for i in load_manifest(d / "m.json")]
    [('a.mp4', None), ('b.mp4', 'b.{lang}.mp4')]
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lipdub.errors import InputError

__all__ = ["BatchItem", "load_manifest"]

_FIELDS = {"input", "output", "source_language", "from", "text"}


@dataclass(frozen=True)
class BatchItem:
    """One video of a batch and its own options.

    Attributes:
        input: The video (or still image with ``text``).
        output: Output file; may contain ``{lang}`` (None: ``<stem>.<lang>.mp4`` in the
            batch's output folder, or beside the input).
        source_language: Spoken language (None: detected).
        text: Speak this text instead of transcribing.
    """

    input: Path
    output: Path | None = None
    source_language: str | None = None
    text: str | None = None

    @classmethod
    def of(cls, value: BatchItem | str | os.PathLike[str] | Mapping[str, Any]) -> BatchItem:
        """A path, a mapping with the manifest's fields, or an item."""
        if isinstance(value, BatchItem):
            return value
        if isinstance(value, Mapping):
            return _item(dict(value), Path("."), "inputs")
        return cls(Path(value))


def _item(row: dict[str, Any], base: Path, where: str) -> BatchItem:
    unknown = sorted(set(row) - _FIELDS)
    if unknown:
        raise InputError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}",
            hint=f"use {', '.join(sorted(_FIELDS))}",
        )
    raw = str(row.get("input") or "").strip()
    if not raw:
        raise InputError(f"{where}: no input", hint="every entry needs an 'input' path")

    def opt(*names: str) -> str | None:
        for n in names:
            v = row.get(n)
            if v is not None and str(v).strip():
                return str(v).strip()
        return None

    output = opt("output")
    return BatchItem(
        input=base / raw,
        output=base / output if output else None,
        source_language=opt("source_language", "from"),
        text=opt("text"),
    )


def load_manifest(path: str | os.PathLike[str]) -> list[BatchItem]:
    """Read a CSV (with a header row) or JSON (a list) manifest.

    Raises:
        InputError: the file is missing, empty, or an entry is malformed.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(
            f"cannot read the manifest: {e.strerror or e}",
            path=p,
            hint="pass a CSV or JSON list of inputs",
        ) from e
    base = p.parent
    items: list[BatchItem] = []
    if p.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InputError(f"the manifest is not valid JSON: {e}", path=p) from e
        if not isinstance(data, list):
            raise InputError("a JSON manifest must be a list", path=p, hint='["a.mp4", ...]')
        for n, entry in enumerate(data, 1):
            row = {"input": entry} if isinstance(entry, str) else entry
            if not isinstance(row, dict):
                raise InputError(f"{p.name} entry {n}: not a path or an object", path=p)
            items.append(_item(row, base, f"{p.name} entry {n}"))
    else:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or "input" not in reader.fieldnames:
            raise InputError(
                "the CSV manifest needs a header row with an 'input' column",
                path=p,
                hint="first line: input,output,from,text (only input is required)",
            )
        for n, row in enumerate(reader, 2):
            clean = {k.strip(): v for k, v in row.items() if k is not None and v is not None}
            items.append(_item(clean, base, f"{p.name} line {n}"))
    if not items:
        raise InputError("the manifest lists no inputs", path=p)
    return items
