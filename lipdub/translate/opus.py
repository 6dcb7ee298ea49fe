"""Offline machine translation with OPUS-MT models run by CTranslate2.

Why this translator: OPUS-MT (Helsinki-NLP, trained on the OPUS corpora) has a small
Marian transformer (~75 M parameters; ~150 MB as a CTranslate2 file) for each of more
than a thousand language pairs, and community CTranslate2 conversions of
them sit on the Hugging Face Hub as ``gaudi/opus-mt-{src}-{tgt}-ctranslate2`` (files
``model.bin``, ``shared_vocabulary.json``, ``config.json``, ``source.spm``,
``target.spm``). They run on CPU with ``ctranslate2`` + ``sentencepiece`` alone: no
torch, no transformers, and no network after the one-time download of a pair. NLLB-200
covers more languages in one model but is 2.5 GB at the smallest (600M distilled) and
licensed CC-BY-NC, which rules it out as a default.

The model for a pair comes from, in order: ``models={"en-es": ...}`` given to the
constructor (a local CTranslate2 folder, a Hub repo id or a ready :class:`OpusModel`),
then the Hub repo named by ``repo_template``. Multi-target models (``en-ROMANCE``) work
when passed through ``models=``: the ``>>es<<`` target token is added automatically.

Each text is split into sentences (what OPUS-MT was trained on), all sentences of a
call are translated in batches, and the translations are joined back per text, so the
output has exactly one string per input, in order.

Licences: OPUS-MT weights are CC-BY 4.0 (credit "OPUS-MT, Helsinki-NLP"); the
conversions are published under Apache-2.0.

Example:
    >>> from lipdub.translate.opus import OpusTranslator
    >>> mt = OpusTranslator()
    >>> mt.repo_for("en-US", "es")
    'gaudi/opus-mt-en-es-ctranslate2'
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lipdub._deps import ctranslate2_placement, parse_device, require_modules
from lipdub.errors import InputError, ModelNotFoundError
from lipdub.hub.catalogue import OPUS_FILES, OPUS_REPO_TEMPLATE
from lipdub.text import split_sentences
from lipdub.translate.base import Translator
from lipdub.translate.nbest import Hypothesis, choose_fitting, combine_sentences
from lipdub.types.fit import FitRequest

__all__ = ["OpusModel", "OpusTranslator", "language_code"]

logger = logging.getLogger(__name__)

DEFAULT_REPO_TEMPLATE = OPUS_REPO_TEMPLATE
#: Approximate download of one pair, for messages.
APPROX_PAIR_MB = 155
# Languages written without spaces: sentences are joined without one.
_NO_SPACES = frozenset({"ja", "zh", "th", "lo", "my", "km"})


def language_code(tag: str) -> str:
    """The OPUS-MT code for a BCP-47 tag: its language part, lower case.

    Example:
        >>> language_code("pt-BR"), language_code("EN_us"), language_code("zh-Hans-CN")
        ('pt', 'en', 'zh')
    """
    code = tag.strip().replace("_", "-").split("-")[0].lower()
    if not code.isalpha():
        raise InputError(f"not a language code: {tag!r}")
    return code


@dataclass
class OpusModel:
    """One translation direction: a CTranslate2 translator and its two tokenizers.

    This is also the seam for tests and custom engines: anything with
    ``translate_batch(list[list[str]], **options)`` returning results that have
    ``.hypotheses[0]`` (a token list) works as ``translator`` (for n-best lists,
    :meth:`translate_sentences_nbest`, it is also asked for ``num_hypotheses`` and
    ``return_scores``, and reads ``.hypotheses`` and ``.scores``), and anything with
    SentencePiece's ``encode(text, out_type=str)`` / ``decode(pieces)`` works as a
    tokenizer.

    Args:
        translator: A ``ctranslate2.Translator`` (or a stand-in, see above).
        source_tokenizer: SentencePiece processor for the source side.
        target_tokenizer: SentencePiece processor for the target side.
        eos_token: Appended to each source sentence (None when the model's config
            adds it itself).
        target_token: A ``>>xx<<`` token put first in the source for multi-target
            models, or None.
    """

    translator: Any
    source_tokenizer: Any
    target_tokenizer: Any
    eos_token: str | None = "</s>"
    target_token: str | None = None

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        target: str | None = None,
        device: str = "cpu",
        compute_type: str = "default",
        inter_threads: int = 1,
        intra_threads: int = 0,
    ) -> OpusModel:
        """Load a CTranslate2 OPUS-MT folder (``model.bin``, ``source.spm``, ...).

        Args:
            path: The folder.
            target: Target language, used to pick the ``>>xx<<`` token of a
                multi-target model.
            device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
            compute_type: CTranslate2 compute type (``"int8"``, ``"float16"``, ...).
            inter_threads: Batches translated in parallel.
            intra_threads: Threads per batch (0 = CTranslate2's default).

        Raises:
            ModelNotFoundError: a file is missing or the model cannot be loaded.
        """
        require_modules("opus", "the opus translator", "ctranslate2", "sentencepiece")
        import ctranslate2
        import sentencepiece

        kind, _, index = device.partition(":")
        folder = Path(path)
        missing = [
            n for n in ("model.bin", "source.spm", "target.spm") if not (folder / n).is_file()
        ]
        if missing:
            raise ModelNotFoundError(
                f"not a CTranslate2 OPUS-MT folder: {', '.join(missing)} missing",
                path=folder,
                backend="opus",
                hint="it needs model.bin, config.json, a vocabulary .json, source.spm and "
                "target.spm (as in the gaudi/opus-mt-*-ctranslate2 repos)",
            )
        config: dict[str, Any] = {}
        if (folder / "config.json").is_file():
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        try:
            translator = ctranslate2.Translator(
                str(folder),
                device=kind,
                device_index=int(index or 0),
                compute_type=compute_type,
                inter_threads=inter_threads,
                intra_threads=intra_threads,
            )
            src = sentencepiece.SentencePieceProcessor(model_file=str(folder / "source.spm"))
            tgt = sentencepiece.SentencePieceProcessor(model_file=str(folder / "target.spm"))
        except (RuntimeError, ValueError, OSError) as e:
            raise ModelNotFoundError(
                f"cannot load the OPUS-MT model: {e}",
                path=folder,
                backend="opus",
                hint="re-download it (delete the folder from the Hub cache) or convert it "
                "again with ct2-transformers-converter",
            ) from e
        eos = None if config.get("add_source_eos") else str(config.get("eos_token", "</s>"))
        token = None
        if target is not None:
            candidate = f">>{target}<<"
            if candidate in _vocabulary(folder):
                token = candidate
        return cls(translator, src, tgt, eos, token)

    def translate_sentences(
        self,
        sentences: Sequence[str],
        *,
        batch_size: int = 16,
        beam_size: int = 4,
        max_decoding_length: int = 256,
    ) -> list[str]:
        """Translate sentences, ``batch_size`` at a time; one output per input."""
        out: list[str] = []
        for results in self._batches(
            sentences, batch_size, beam_size=beam_size, max_decoding_length=max_decoding_length
        ):
            out.extend(self._decode(r.hypotheses[0]) for r in results)
        return out

    def translate_sentences_nbest(
        self,
        sentences: Sequence[str],
        *,
        num_hypotheses: int,
        batch_size: int = 16,
        beam_size: int = 4,
        max_decoding_length: int = 256,
    ) -> list[list[Hypothesis]]:
        """Up to ``num_hypotheses`` translations of each sentence, best score first.

        The beam is widened to ``num_hypotheses`` when narrower. A score is the
        engine's (CTranslate2: the log-probability per token under its default
        ``length_penalty=1``); an engine that returns no scores gets its order as the
        score (0, -1, -2...). Hypotheses that decode to the same text are kept once.
        """
        if num_hypotheses < 1:
            raise InputError(f"num_hypotheses must be >= 1, got {num_hypotheses}")
        out: list[list[Hypothesis]] = []
        for results in self._batches(
            sentences,
            batch_size,
            beam_size=max(beam_size, num_hypotheses),
            max_decoding_length=max_decoding_length,
            num_hypotheses=num_hypotheses,
            return_scores=True,
        ):
            for r in results:
                scores = list(getattr(r, "scores", None) or [])
                if len(scores) != len(r.hypotheses):
                    scores = [-float(i) for i in range(len(r.hypotheses))]
                seen: dict[str, Hypothesis] = {}
                for tokens, score in zip(r.hypotheses, scores, strict=True):
                    text = self._decode(tokens)
                    if text not in seen or seen[text].score < score:
                        seen[text] = Hypothesis(text, float(score))
                if not seen:
                    raise InputError(
                        "the translation engine returned no hypothesis", backend="opus"
                    )
                out.append(sorted(seen.values(), key=lambda h: -h.score))
        return out

    def _batches(
        self, sentences: Sequence[str], batch_size: int, **options: Any
    ) -> Iterator[list[Any]]:
        """The engine's results, ``batch_size`` sentences at a time, one per sentence."""
        for start in range(0, len(sentences), batch_size):
            batch = sentences[start : start + batch_size]
            tokens = []
            for s in batch:
                pieces = list(self.source_tokenizer.encode(s, out_type=str))
                if self.target_token:
                    pieces.insert(0, self.target_token)
                if self.eos_token:
                    pieces.append(self.eos_token)
                tokens.append(pieces)
            results = self.translator.translate_batch(tokens, max_batch_size=batch_size, **options)
            if len(results) != len(batch):
                raise InputError(
                    f"the translation engine returned {len(results)} results for "
                    f"{len(batch)} sentences",
                    backend="opus",
                )
            yield list(results)

    def _decode(self, tokens: Sequence[str]) -> str:
        return str(self.target_tokenizer.decode([t for t in tokens if t != self.eos_token])).strip()


def _vocabulary(folder: Path) -> set[str]:
    for name in ("shared_vocabulary.json", "source_vocabulary.json"):
        p = folder / name
        if p.is_file():
            return set(json.loads(p.read_text(encoding="utf-8")))
    for name in ("shared_vocabulary.txt", "source_vocabulary.txt"):
        p = folder / name
        if p.is_file():
            return set(p.read_text(encoding="utf-8").splitlines())
    return set()


def _joiner(target: str) -> str:
    return "" if language_code(target) in _NO_SPACES else " "


class OpusTranslator(Translator):
    """Translates offline with an OPUS-MT model per language pair (CTranslate2).

    Models load on first use of a pair and stay in memory. A pair not on disk is
    downloaded once from the Hub (``repo_template``), ~155 MB, into the Hugging Face
    cache (``cache_dir``, ``HF_HUB_CACHE``).

    It is :attr:`~lipdub.Translator.length_aware`: given time budgets
    (:meth:`translate_fitted`), it chooses each line among ``n_best`` hypotheses of the
    beam, the best-scoring one predicted to fit.

    Args:
        models: Pair -> model overrides: ``{"en-es": "/models/en-es"}``; values are a
            local CTranslate2 folder, a Hub repo id, or an :class:`OpusModel`. Pairs
            are ``"src-tgt"`` language codes (``"en-es"``; region tags are dropped).
        repo_template: Hub repo for other pairs, with ``{src}`` and ``{tgt}``.
        revision: Hub revision for downloads (None = the repo's ``main``; the
            community conversions carry no release tags to pin).
        cache_dir: Hub cache directory (default: the Hugging Face cache).
        local_files_only: Never download (``HF_HUB_OFFLINE=1`` does the same).
        token: Hugging Face token.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        compute_type: ``"auto"`` is ``int8`` on CPU and ``float16`` on CUDA.
        batch_size: Sentences per ``translate_batch`` call.
        beam_size: Beam width (1 = greedy).
        max_decoding_length: Longest translation of one sentence, in tokens.
        split_sentences: Translate sentence by sentence (recommended: OPUS-MT was
            trained on single sentences and may drop the rest of a long input).
        n_best: Hypotheses asked of the beam per sentence when the dub gives time
            budgets (:meth:`translate_fitted`); 1 turns the choice off. The beam is
            widened to ``n_best`` there.

    Raises:
        BackendNotInstalled: ctranslate2 or sentencepiece is missing.
        InputError: a bad option.
    """

    name: ClassVar[str] = "opus"
    length_aware: ClassVar[bool] = True

    def __init__(
        self,
        *,
        models: Mapping[str, str | os.PathLike[str] | OpusModel] | None = None,
        repo_template: str = DEFAULT_REPO_TEMPLATE,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        token: str | None = None,
        device: str = "auto",
        compute_type: str = "auto",
        batch_size: int = 16,
        beam_size: int = 4,
        max_decoding_length: int = 256,
        split_sentences: bool = True,
        n_best: int = 8,
    ) -> None:
        require_modules("opus", "the opus translator", "ctranslate2", "sentencepiece")
        if batch_size < 1 or beam_size < 1 or max_decoding_length < 1 or n_best < 1:
            raise InputError(
                "batch_size, beam_size, max_decoding_length and n_best must be >= 1, got "
                f"{batch_size}, {beam_size}, {max_decoding_length}, {n_best}"
            )
        if "{src}" not in repo_template or "{tgt}" not in repo_template:
            raise InputError(f"repo_template needs {{src}} and {{tgt}}, got {repo_template!r}")
        device = parse_device(device, engine="ctranslate2", check=False)
        self.models: dict[str, str | os.PathLike[str] | OpusModel] = {}
        for pair, value in (models or {}).items():
            self.models[self._pair_key(pair)] = value
        self.repo_template = repo_template
        self.revision = revision
        self.cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        self.local_files_only = local_files_only
        self.token = token
        self.device = device
        self.compute_type = compute_type
        self.batch_size = batch_size
        self.beam_size = beam_size
        self.max_decoding_length = max_decoding_length
        self.split_sentences = split_sentences
        self.n_best = n_best
        self._loaded: dict[str, OpusModel] = {}
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """The options that change translations (JSON-ready).

        ``models`` maps each overridden pair to its model: a Hub repo id (with
        ``revision``), a sha256 of a local folder's model files (moving the folder keeps
        the cache), or, for a ready :class:`OpusModel`, the type of its engine.
        ``compute_type`` is the one asked for (``"auto"`` whatever the device). Device,
        cache folder, token, ``local_files_only`` and ``batch_size`` are left out.
        """
        from lipdub._hashing import files_sha256

        models: dict[str, Any] = {}
        for pair, spec in sorted(self.models.items()):
            if isinstance(spec, OpusModel):
                engine = type(spec.translator)
                models[pair] = {"engine": f"{engine.__module__}.{engine.__qualname__}"}
            elif Path(spec).expanduser().is_dir():
                models[pair] = {"files_sha256": files_sha256(Path(spec).expanduser(), OPUS_FILES)}
            else:
                models[pair] = {"repo_id": os.fspath(spec)}
        return {
            "models": models,
            "repo_template": self.repo_template,
            "revision": self.revision,
            "compute_type": self.compute_type,
            "beam_size": self.beam_size,
            "max_decoding_length": self.max_decoding_length,
            "split_sentences": self.split_sentences,
            "n_best": self.n_best,
        }

    @staticmethod
    def _pair_key(pair: str) -> str:
        src, sep, tgt = pair.partition("-")
        if not sep or not src or not tgt:
            raise InputError(f"a language pair looks like 'en-es', got {pair!r}")
        return f"{language_code(src)}-{language_code(tgt)}"

    def repo_for(self, source: str, target: str) -> str:
        """The Hub repo id used for ``source`` -> ``target`` when no override is given."""
        return self.repo_template.format(src=language_code(source), tgt=language_code(target))

    # ------------------------------------------------------------------ models
    def model_for(self, source: str, target: str) -> OpusModel:
        """The loaded model for a pair (downloading it on first use).

        Raises:
            ModelNotFoundError: the pair is not cached and cannot be downloaded, or
                no OPUS-MT model exists for it.
        """
        src, tgt = language_code(source), language_code(target)
        key = f"{src}-{tgt}"
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
            spec = self.models.get(key)
            if isinstance(spec, OpusModel):
                model = spec
            else:
                folder = self._folder_for(src, tgt, spec)
                device, compute_type = self._device_and_type()
                logger.info("loading OPUS-MT %s from %s (%s)", key, folder, device)
                model = OpusModel.load(folder, target=tgt, device=device, compute_type=compute_type)
            self._loaded[key] = model
            return model

    def _folder_for(self, src: str, tgt: str, spec: str | os.PathLike[str] | None) -> Path:
        if spec is not None:
            local = Path(spec).expanduser()
            if local.is_dir():
                return local
            name = os.fspath(spec)
            if len(name.split("/")) != 2 or name.startswith((".", "/", "~")):
                raise ModelNotFoundError(
                    f"the model folder given for {src}-{tgt} does not exist",
                    path=local,
                    backend=self.name,
                    hint="pass an existing CTranslate2 folder or a Hub repo id",
                )
            repo = name
        else:
            repo = self.repo_template.format(src=src, tgt=tgt)
        from lipdub.hub.catalogue import opus_spec
        from lipdub.hub.download import fetch

        default_repo = OPUS_REPO_TEMPLATE.format(src=src, tgt=tgt)
        pair = dataclasses.replace(opus_spec(src, tgt, repo_id=repo), revision=self.revision)
        return fetch(
            pair,
            cache_dir=self.cache_dir,
            local_files_only=self.local_files_only,
            token=self.token,
            label=f"the OPUS-MT model for {src}->{tgt}",
            registered=repo == default_repo and self.revision is None,
        )

    def _device_and_type(self) -> tuple[str, str]:
        device, index, compute_type = ctranslate2_placement(self.device, self.compute_type)
        return (f"{device}:{index}" if device == "cuda" else device), compute_type

    # ------------------------------------------------------------------ translating
    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """Translate ``texts`` from ``source`` to ``target``; one output per input.

        Empty or blank texts come back as ``""`` without reaching the model. The same
        language on both sides returns the texts unchanged.

        Raises:
            InputError: ``source`` is None (OPUS-MT cannot detect the language).
            ModelNotFoundError: see :meth:`model_for`.
        """
        source = self._check_source(source)
        if language_code(source) == language_code(target):
            return list(texts)
        if not any(t.strip() for t in texts):
            return ["" for _ in texts]
        pieces, owner = self._sentences(texts)
        translated = self.model_for(source, target).translate_sentences(
            pieces,
            batch_size=self.batch_size,
            beam_size=self.beam_size,
            max_decoding_length=self.max_decoding_length,
        )
        joined: list[list[str]] = [[] for _ in texts]
        for i, t in zip(owner, translated, strict=True):
            joined[i].append(t)
        joiner = _joiner(target)
        return [joiner.join(parts) for parts in joined]

    def translate_fitted(
        self, texts: Sequence[str], source: str | None, target: str, fit: FitRequest
    ) -> list[str]:
        """Translate ``texts``, choosing for each line among ``n_best`` hypotheses.

        Each sentence gets up to ``n_best`` hypotheses from the beam; a line's
        candidates are the combinations of its sentences' (scores added), and it gets
        the best-scoring candidate predicted (by ``fit.length``) to fit its budget, else
        the best that fits at ``fit.max_rate``, else the one closest to fitting
        (:func:`lipdub.translate.nbest.choose_fitting`). Blank texts and same-language
        pairs are handled as :meth:`translate` handles them.

        Raises:
            InputError: ``source`` is None, or ``fit`` has not one budget per text.
            ModelNotFoundError: see :meth:`model_for`.
        """
        source = self._check_source(source)
        if len(fit.budgets) != len(texts):
            raise InputError(
                f"{len(fit.budgets)} time budgets for {len(texts)} texts", backend=self.name
            )
        if language_code(source) == language_code(target):
            return list(texts)
        if not any(t.strip() for t in texts):
            return ["" for _ in texts]
        pieces, owner = self._sentences(texts)
        nbest = self.model_for(source, target).translate_sentences_nbest(
            pieces,
            num_hypotheses=self.n_best,
            batch_size=self.batch_size,
            beam_size=self.beam_size,
            max_decoding_length=self.max_decoding_length,
        )
        per_line: list[list[list[Hypothesis]]] = [[] for _ in texts]
        for i, hyps in zip(owner, nbest, strict=True):
            per_line[i].append(hyps)
        out = []
        for i, sentences in enumerate(per_line):
            if not sentences:
                out.append("")
                continue
            candidates = combine_sentences(sentences, fit.length, joiner=_joiner(target))
            chosen = choose_fitting(i, candidates, fit)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "line %d: %d candidates, chose score %.3f, %.2f of its budget",
                    i,
                    len(candidates),
                    chosen.score,
                    fit.ratio(i, chosen.text),
                )
            out.append(chosen.text)
        return out

    def _check_source(self, source: str | None) -> str:
        if source is None:
            raise InputError(
                "the opus translator needs the source language",
                backend=self.name,
                hint="pass source= (the transcript's language)",
            )
        return source

    def _sentences(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        """The non-blank sentences of ``texts`` and the index of the text each is from."""
        pieces: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            parts = split_sentences(text) if self.split_sentences else [text.strip()]
            for p in parts:
                if p.strip():
                    pieces.append(p)
                    owner.append(i)
        return pieces, owner

    def __repr__(self) -> str:
        return f"OpusTranslator(repo_template={self.repo_template!r}, device={self.device!r})"
