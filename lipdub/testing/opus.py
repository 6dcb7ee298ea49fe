"""A tiny random-weight OPUS-MT model for tests and benchmarks: :func:`write_tiny_opus_model`."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["write_tiny_opus_model"]

_CORPUS = [
    "hello world",
    "good morning everybody",
    "the train is very late",
    "please be on time",
    "how are you today",
    "hola mundo",
    "buenos dias a todos",
    "el tren llega muy tarde",
]


def _train_spm() -> bytes:
    import sentencepiece

    buf = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 20),
        model_writer=buf,
        vocab_size=40,
        model_type="unigram",
        character_coverage=1.0,
        unk_id=0,
        eos_id=1,
        bos_id=-1,
        pad_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return buf.getvalue()


def write_tiny_opus_model(folder: Path, *, extra_tokens: Sequence[str] = ()) -> Path:
    """A random-weight one-layer CTranslate2 transformer in the OPUS-MT folder layout.

    16 dimensions, two heads, ~31 kB, with real SentencePiece models trained on a few
    English and Spanish sentences. It loads through the real path
    (:meth:`lipdub.translate.opus.OpusModel.load`) and translates into gibberish: enough
    to test counts, order, n-best lists and the choice among them, not quality.
    ``extra_tokens`` are added to the vocabulary (``">>es<<"`` for a multi-target model).
    Needs ctranslate2 and sentencepiece (``lipdub[local]``).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> folder = write_tiny_opus_model(Path(tempfile.mkdtemp()) / "en-es")
        >>> sorted(p.name for p in folder.iterdir())[:3]
        ['config.json', 'model.bin', 'shared_vocabulary.json']
    """
    import sentencepiece
    from ctranslate2 import specs

    folder.mkdir(parents=True, exist_ok=True)
    proto = _train_spm()
    (folder / "source.spm").write_bytes(proto)
    (folder / "target.spm").write_bytes(proto)
    sp = sentencepiece.SentencePieceProcessor(model_proto=proto)
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())] + list(extra_tokens)
    d, ff, v = 16, 32, len(vocab)
    spec = specs.TransformerSpec.from_config(num_layers=(1, 1), num_heads=2)
    rng = np.random.default_rng(0)
    for name, value in list(spec.variables().items()):
        if value is not None:
            continue
        if name.endswith(("gamma", "beta")):
            shape: tuple[int, ...] = (d,)
        elif "embeddings" in name or "projection" in name:
            shape = (v, d)
        elif "self_attention/linear_0" in name:
            shape = (3 * d, d)  # fused query/key/value
        elif "/attention/linear_1" in name:
            shape = (2 * d, d)  # fused key/value of the encoder-decoder attention
        elif "ffn/linear_0" in name:
            shape = (ff, d)
        elif "ffn/linear_1" in name:
            shape = (d, ff)
        else:
            shape = (d, d)
        obj = spec
        parts = name.split("/")
        for p in parts[:-1]:
            if hasattr(obj, p):
                obj = getattr(obj, p)
            else:
                base, index = p.rsplit("_", 1)
                obj = getattr(obj, base)[int(index)]
        setattr(obj, parts[-1], (rng.standard_normal(shape) * 0.1).astype(np.float32))
    spec.config.unk_token = "<unk>"
    spec.config.eos_token = "</s>"
    spec.config.decoder_start_token = "</s>"
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(folder))
    return folder
