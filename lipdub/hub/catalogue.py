"""The weights catalogue: every model lipdub can fetch, in one table of one spec type.

:data:`KNOWN_WEIGHTS` maps a short name to a :class:`WeightsSpec`:

=========================  ==============================================================
name                       what
=========================  ==============================================================
``wav2lip``                Wav2Lip generator (original ``.pth``), full sha256 known
``wav2lip_gan``            Wav2Lip generator trained with the GAN loss, full sha256 known
``s3fd``                   S3FD face detector of the original Wav2Lip, full sha256 known
``syncnet``                Wav2Lip's SyncNet lip-sync expert, full sha256 known
``syncnet_v2``             syncnet_python's SyncNet (``lipdub eval``), size/sha256 unknown
``whisper-<size>``         faster-whisper (CTranslate2) conversions (``whisper-small``)
``piper-<voice>``          a Piper voice (``piper-es_ES-davefx-medium``)
``htdemucs``               Hybrid Transformer Demucs (music / voice separation)
``chatterbox``             Chatterbox multilingual (voice cloning), size/sha256 unknown
``musetalk``               MuseTalk 1.5 UNet (with ``musetalk-vae``, ``musetalk-whisper``)
=========================  ==============================================================

OPUS-MT pairs follow a rule instead of a list: ``opus-<src>-<tgt>`` is the Hub repo
``gaudi/opus-mt-<src>-<tgt>-ctranslate2``. :func:`lookup` resolves any name, fixed or
by rule; Piper voices outside :data:`PIPER_VOICES` resolve by rule
as well.

What is pinned: a spec is *pinned* when its ``revision`` is a 40-hex commit
(:attr:`WeightsSpec.pinned`). The four Wav2Lip-family files carry their full sha256
(and exact size) and are rejected when they differ; their repos are not pinned (the
hash pins the content). Several Whisper sizes are pinned to commits; their files have
no recorded hash. Piper voices use the release tag ``v1.0.0`` (a tag, not a commit).
OPUS-MT conversions have no tags or recorded hashes.

Example:
    >>> from lipdub.hub import KNOWN_WEIGHTS, lookup
    >>> spec = KNOWN_WEIGHTS["wav2lip_gan"]
    >>> spec.repo_id, spec.filename, spec.size
    ('Nekochu/Wav2Lip', 'wav2lip_gan.pth', 435801865)
    >>> lookup("opus-en-es").repo_id
    'gaudi/opus-mt-en-es-ctranslate2'
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from lipdub.errors import InputError, ModelNotFoundError

__all__ = [
    "KNOWN_WEIGHTS",
    "OPUS_REPO_TEMPLATE",
    "PATTERNS",
    "PIPER_REPO",
    "PIPER_REVISION",
    "PIPER_VOICES",
    "PIPER_VOICE_NAME",
    "WeightsSpec",
    "known_sha256",
    "lookup",
    "opus_spec",
    "piper_path",
    "piper_spec",
    "register_weights",
    "whisper_spec",
]

_HEX40 = re.compile(r"^[0-9a-f]{40}$")

_WAV2LIP_LICENCE = (
    "research / non-commercial use only (the Wav2Lip authors' terms; the models were "
    "trained on LRS2). Do not use them in a commercial product."
)


@dataclass(frozen=True, slots=True)
class WeightsSpec:
    """One downloadable model: where it lives, how big it is, how to recognise it.

    A spec is a single file (``filename``), or a folder when ``allow_patterns`` is set
    (the Hub snapshot of the matching files; ``filename`` then names its main file), or
    a file with companions (``extra_files``, fetched beside it).

    Args:
        name: Short lowercase name (``"wav2lip_gan"``, ``"whisper-small"``).
        repo_id: Hugging Face Hub model repo (``"owner/name"``).
        filename: Path of the (main) file inside the repo.
        revision: Pinned 40-hex commit, a tag/branch, or None for the default branch.
        size: Exact size of ``filename`` in bytes (checked), or None when unknown.
        sha256_prefix: Leading hex digits of the file's sha256, or None.
        sha256: The full sha256 hex digest when known (checked instead of the prefix).
        licence: The licence terms, shown when the weights are downloaded.
        description: One line saying what it is.
        allow_patterns: Non-empty for a folder model: the files to fetch.
        extra_files: Further exact files fetched beside ``filename``.
        approx_size: Approximate download in bytes (for messages) when ``size`` is not
            the whole download.
        slot: The component it serves (``"lipsyncer"``, ``"detector"``,
            ``"transcriber"``, ``"translator"``, ``"voice"``, ``"metric"``).
        local_option: The constructor argument that takes a local copy instead
            (``"model"``), and so the CLI's ``--opt SLOT.OPTION=...``.
        companions: Names of other entries the model needs too; downloading this one
            (``lipdub weights download NAME``) fetches them first.

    Example:
        >>> WeightsSpec("mine", "me/models", "net.pth", None, 1234, "abcd").size
        1234
    """

    name: str
    repo_id: str
    filename: str
    revision: str | None
    size: int | None
    sha256_prefix: str | None
    sha256: str | None = None
    licence: str = ""
    description: str = ""
    allow_patterns: tuple[str, ...] = ()
    extra_files: tuple[str, ...] = ()
    approx_size: int | None = None
    slot: str = ""
    local_option: str = ""
    companions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or os.sep in self.name:
            raise InputError(f"WeightsSpec.name must be a short name, got {self.name!r}")
        if self.repo_id.count("/") != 1:
            raise InputError(f"WeightsSpec.repo_id must be 'owner/name', got {self.repo_id!r}")
        for field_name in ("sha256_prefix", "sha256"):
            value = getattr(self, field_name)
            if value is not None:
                if not re.fullmatch(r"[0-9a-fA-F]+", value):
                    raise InputError(f"WeightsSpec.{field_name} must be hex, got {value!r}")
                object.__setattr__(self, field_name, value.lower())
        if self.sha256 is not None and len(self.sha256) != 64:
            raise InputError(f"WeightsSpec.sha256 must be 64 hex digits, got {self.sha256!r}")
        for field_name in ("size", "approx_size"):
            value = getattr(self, field_name)
            if value is not None and value <= 0:
                raise InputError(f"WeightsSpec.{field_name} must be > 0, got {value}")
        object.__setattr__(self, "allow_patterns", tuple(self.allow_patterns))
        object.__setattr__(self, "extra_files", tuple(self.extra_files))
        object.__setattr__(self, "companions", tuple(self.companions))

    @property
    def url(self) -> str:
        """The direct download URL of ``filename`` (at the revision or ``main``)."""
        rev = self.revision or "main"
        return f"https://huggingface.co/{self.repo_id}/resolve/{rev}/{self.filename}"

    @property
    def pinned(self) -> bool:
        """Whether :attr:`revision` is an immutable 40-hex commit."""
        return self.revision is not None and bool(_HEX40.match(self.revision))

    @property
    def is_folder(self) -> bool:
        """Whether this is a folder model (a snapshot of ``allow_patterns``)."""
        return bool(self.allow_patterns)

    @property
    def download_size(self) -> int | None:
        """Bytes to download: the exact size, else the approximate one, else None."""
        return self.approx_size or self.size

    def size_text(self) -> str:
        """``"435.8 MB"``, ``"~486 MB"`` or ``"size unknown"``."""
        if self.size is not None and self.approx_size is None:
            return f"{self.size / 1e6:.1f} MB"
        if self.approx_size is not None:
            return f"~{self.approx_size / 1e6:.0f} MB"
        return "size unknown"

    def hash_text(self) -> str:
        """The full sha256, ``"sha256 <prefix>…"``, or ``"sha256 unknown"``."""
        if self.sha256:
            return self.sha256
        if self.sha256_prefix:
            return f"{self.sha256_prefix}…"
        return "sha256 unknown"


def _wav2lip_family() -> list[WeightsSpec]:
    return [
        WeightsSpec(
            name="wav2lip",
            repo_id="Nekochu/Wav2Lip",
            filename="wav2lip.pth",
            revision=None,
            size=435_807_851,
            sha256_prefix="b78b681b",
            sha256="b78b681b68ad9fe6c6fb1debc6ff43ad05834a8af8a62ffc4167b7b34ef63c37",
            licence=_WAV2LIP_LICENCE,
            description="Wav2Lip generator (sharper sync, blurrier mouth), original .pth",
            slot="lipsyncer",
            local_option="name_or_path",
        ),
        WeightsSpec(
            name="wav2lip_gan",
            repo_id="Nekochu/Wav2Lip",
            filename="wav2lip_gan.pth",
            revision=None,
            size=435_801_865,
            sha256_prefix="ca9ab7b7",
            sha256="ca9ab7b7b812c0e80a6e70a5977c545a1e8a365a6c49d5e533023c034d7ac3d8",
            licence=_WAV2LIP_LICENCE,
            description="Wav2Lip generator trained with the GAN loss (better looking mouths)",
            slot="lipsyncer",
            local_option="name_or_path",
        ),
        WeightsSpec(
            name="s3fd",
            repo_id="camenduru/Wav2Lip",
            filename="checkpoints/s3fd-619a316812.pth",
            revision=None,
            size=89_843_225,
            sha256_prefix="619a3168",
            sha256="619a31681264d3f7f7fc7a16a42cbbe8b23f31a256f75a366e5a1bcd59b33543",
            licence="BSD-3-Clause (S3FD port by Adrian Bulat, face-alignment)",
            description="S3FD face detector used by the original Wav2Lip",
            slot="detector",
            local_option="name_or_path",
        ),
        WeightsSpec(
            name="syncnet",
            repo_id="camenduru/Wav2Lip",
            filename="checkpoints/lipsync_expert.pth",
            revision=None,
            size=197_357_631,
            sha256_prefix="9b9936c7",
            sha256="9b9936c721696446eeed353032cab242a8cf0eed8c46cde540366f6ae5493be5",
            licence=_WAV2LIP_LICENCE,
            description="Wav2Lip's SyncNet lip-sync expert (scores audio/lip agreement)",
            slot="metric",
        ),
        WeightsSpec(
            # syncnet_python's SyncNet (LSE-D / LSE-C, lipdub eval). Size and sha256 are
            # unknown here (no Hub access when it was added): nothing is checked yet;
            # record both once a copy has been downloaded and compared.
            name="syncnet_v2",
            repo_id="ByteDance/LatentSync-1.6",
            filename="auxiliary/syncnet_v2.model",
            revision=None,
            size=None,
            sha256_prefix=None,
            approx_size=55_000_000,
            licence="syncnet_python (VGG, Chung & Zisserman); see the repository's terms",
            description="syncnet_python's SyncNet for LSE-D/LSE-C (size and sha256 unknown)",
            slot="metric",
            local_option="weights",
        ),
    ]


# ----------------------------------------------------------------------- Whisper

#: Files of a faster-whisper (CTranslate2) conversion that lipdub fetches.
WHISPER_FILES = (
    "config.json",
    "preprocessor_config.json",
    "model.bin",
    "tokenizer.json",
    "vocabulary.*",
)

# size -> (repo, pinned commit or None, approximate MB)
_WHISPER: dict[str, tuple[str, str | None, int]] = {
    "tiny.en": ("Systran/faster-whisper-tiny.en", "7d45cf02c1ed72d240c0dbf99d544d19bef1b5a3", 78),
    "tiny": ("Systran/faster-whisper-tiny", "d90ca5fe260221311c53c58e660288d3deb8d356", 78),
    "base.en": ("Systran/faster-whisper-base.en", None, 148),
    "base": ("Systran/faster-whisper-base", "a80717a3a48b1b28aa687bca146cb7301feae1b1", 148),
    "small.en": ("Systran/faster-whisper-small.en", None, 486),
    "small": ("Systran/faster-whisper-small", "536b0662742c02347bc0e980a01041f333bce120", 486),
    "medium.en": (
        "Systran/faster-whisper-medium.en",
        "f972a5fa3be9378617b8fedc0bb00facbdbb1bf9",
        1530,
    ),
    "medium": ("Systran/faster-whisper-medium", None, 1530),
    "large-v1": (
        "Systran/faster-whisper-large-v1",
        "e46e40f0408853a954b7ded6683808b7ecd14390",
        3090,
    ),
    "large-v2": ("Systran/faster-whisper-large-v2", None, 3090),
    "large-v3": ("Systran/faster-whisper-large-v3", None, 3090),
    "distil-large-v3": ("Systran/faster-distil-whisper-large-v3", None, 1510),
    "turbo": ("mobiuslabsgmbh/faster-whisper-large-v3-turbo", None, 1620),
}
#: Size names that are another size's alias.
WHISPER_ALIASES = {"large": "large-v3"}


def whisper_spec(size: str) -> WeightsSpec | None:
    """The catalogue spec of a Whisper size name (``"small"``, ``"large"``), or None."""
    size = WHISPER_ALIASES.get(size, size)
    known = _KNOWN.get(f"whisper-{size}")
    return known if known is not None and known.slot == "transcriber" else None


def _whisper_entries() -> list[WeightsSpec]:
    return [
        WeightsSpec(
            name=f"whisper-{size}",
            repo_id=repo,
            filename="model.bin",
            revision=rev,
            size=None,
            sha256_prefix=None,
            licence="MIT (OpenAI Whisper weights; CTranslate2 conversion)",
            description=f"Whisper {size} speech recognition (faster-whisper / CTranslate2)",
            allow_patterns=WHISPER_FILES,
            approx_size=mb * 1_000_000,
            slot="transcriber",
            local_option="model",
        )
        for size, (repo, rev, mb) in _WHISPER.items()
    ]


# ----------------------------------------------------------------------- OPUS-MT

#: Hub repo of the CTranslate2 OPUS-MT conversion of a pair.
OPUS_REPO_TEMPLATE = "gaudi/opus-mt-{src}-{tgt}-ctranslate2"
#: Files of an OPUS-MT conversion that lipdub fetches.
OPUS_FILES = ("*.json", "model.bin", "*.spm")
_OPUS_APPROX = 155_000_000
_OPUS_NAME = re.compile(r"^opus-(?P<src>[a-z]{2,3})-(?P<tgt>[a-z]{2,3})$")


def opus_spec(src: str, tgt: str, *, repo_id: str | None = None) -> WeightsSpec:
    """The spec of the OPUS-MT pair ``src`` -> ``tgt`` (the ``opus-SRC-TGT`` rule).

    Example:
        >>> opus_spec("en", "de").name, opus_spec("en", "de").repo_id
        ('opus-en-de', 'gaudi/opus-mt-en-de-ctranslate2')
    """
    return WeightsSpec(
        name=f"opus-{src}-{tgt}",
        repo_id=repo_id or OPUS_REPO_TEMPLATE.format(src=src, tgt=tgt),
        filename="model.bin",
        revision=None,
        size=None,
        sha256_prefix=None,
        licence="CC-BY 4.0 (OPUS-MT, Helsinki-NLP); conversion Apache-2.0",
        description=f"OPUS-MT {src}->{tgt} translation (CTranslate2)",
        allow_patterns=OPUS_FILES,
        approx_size=_OPUS_APPROX,
        slot="translator",
        local_option="models",
    )


# ----------------------------------------------------------------------- Piper

PIPER_REPO = "rhasspy/piper-voices"
#: The release tag of ``rhasspy/piper-voices`` lipdub downloads from by default.
PIPER_REVISION = "v1.0.0"
#: A Piper voice name: ``<lang>_<REGION>-<name>-<quality>`` (``en_US-lessac-medium``).
PIPER_VOICE_NAME = re.compile(
    r"^(?P<lang>[a-z]{2,3})_(?P<region>[A-Za-z0-9]+)-(?P<name>[^-/]+)-(?P<quality>[^/]+)$"
)
#: One good voice per language (the default when only a language is given), then others.
PIPER_VOICES: tuple[str, ...] = (
    "en_US-lessac-medium",
    "en_GB-alan-medium",
    "es_ES-davefx-medium",
    "es_MX-ald-medium",
    "fr_FR-siwis-medium",
    "de_DE-thorsten-medium",
    "it_IT-riccardo-x_low",
    "pt_BR-faber-medium",
    "nl_NL-mls-medium",
    "pl_PL-darkman-medium",
    "ru_RU-dmitri-medium",
    "uk_UA-ukrainian_tts-medium",
    "tr_TR-dfki-medium",
    "sv_SE-nst-medium",
    "da_DK-talesyntese-medium",
    "no_NO-talesyntese-medium",
    "fi_FI-harri-medium",
    "cs_CZ-jirka-medium",
    "hu_HU-anna-medium",
    "ro_RO-mihai-medium",
    "el_GR-rapunzelina-low",
    "ca_ES-upc_ona-medium",
    "ar_JO-kareem-medium",
    "fa_IR-amir-medium",
    "vi_VN-vais1000-medium",
    "zh_CN-huayan-medium",
    "sw_CD-lanfrica-medium",
    "en_US-amy-medium",
    "en_US-ryan-medium",
    "en_US-joe-medium",
)
_PIPER_APPROX = {"x_low": 28_000_000, "low": 63_000_000, "medium": 63_000_000}


def piper_path(voice: str) -> str | None:
    """Path of a voice's ``.onnx`` inside ``rhasspy/piper-voices``, or None if not a name."""
    m = PIPER_VOICE_NAME.match(voice)
    if m is None:
        return None
    lang, region = m["lang"], m["region"]
    return f"{lang}/{lang}_{region}/{m['name']}/{m['quality']}/{voice}.onnx"


def piper_spec(voice: str, *, revision: str = PIPER_REVISION) -> WeightsSpec | None:
    """The spec of a Piper voice (``"es_ES-davefx-medium"``), or None if not a voice name.

    Example:
        >>> piper_spec("es_ES-davefx-medium").filename
        'es/es_ES/davefx/medium/es_ES-davefx-medium.onnx'
    """
    rel = piper_path(voice)
    if rel is None:
        return None
    quality = voice.rsplit("-", 1)[1]
    return WeightsSpec(
        name=f"piper-{voice}",
        repo_id=PIPER_REPO,
        filename=rel,
        revision=revision,
        size=None,
        sha256_prefix=None,
        licence="see the voice's MODEL_CARD in rhasspy/piper-voices (many CC0/CC-BY/MIT)",
        description=f"Piper voice {voice} (VITS, ONNX)",
        extra_files=(rel + ".json",),
        approx_size=_PIPER_APPROX.get(quality, 115_000_000),
        slot="voice",
        local_option="voices_dir",
    )


def _piper_entries() -> list[WeightsSpec]:
    out = []
    for voice in PIPER_VOICES:
        spec = piper_spec(voice)
        if spec is not None:
            out.append(spec)
    return out


# ----------------------------------------------------------------------- the table

# ----------------------------------------------------------------------- Demucs


def _demucs_entries() -> list[WeightsSpec]:
    """Hybrid Transformer Demucs, as its author publishes it on the Hub (one safetensors)."""
    return [
        WeightsSpec(
            name="htdemucs",
            repo_id="adefossez/HTDemucs",
            filename="955717e8.safetensors",
            revision=None,
            size=None,
            sha256_prefix=None,
            licence="MIT (Demucs, Meta Platforms)",
            description="Hybrid Transformer Demucs v4: vocals / drums / bass / other stems",
            extra_files=("htdemucs.yaml",),
            slot="separator",
            local_option="model",
        )
    ]


# ----------------------------------------------------------------------- Chatterbox


def _chatterbox_entries() -> list[WeightsSpec]:
    """Chatterbox multilingual, the files its ``from_local`` loader reads (a folder)."""
    files = (
        "ve.pt",
        "t3_mtl23ls_v2.safetensors",
        "s3gen.pt",
        "grapheme_mtl_merged_expanded_v1.json",
        "conds.pt",
        "Cangjie5_TC.json",
    )
    return [
        WeightsSpec(
            name="chatterbox",
            repo_id="ResembleAI/chatterbox",
            filename="t3_mtl23ls_v2.safetensors",
            revision=None,
            size=None,
            sha256_prefix=None,
            licence="MIT (Chatterbox, Resemble AI)",
            description="Chatterbox multilingual: zero-shot voice cloning in 23 languages",
            allow_patterns=files,
            slot="voice",
            local_option="model",
        )
    ]


# ----------------------------------------------------------------------- MuseTalk

_MUSETALK_CHECK = (
    " Third parties report the weights as CreativeML OpenRAIL-M: check each model card."
)


def _musetalk_entries() -> list[WeightsSpec]:
    """MuseTalk 1.5: its UNet, and the VAE and Whisper encoder it runs with. Sizes,
    revisions and sha256 are unknown here (no Hub access when added): shown as unknown,
    logged at the first download (record them then)."""
    return [
        WeightsSpec(
            name="musetalk",
            repo_id="TMElyralab/MuseTalk",
            filename="musetalkV15/unet.pth",
            revision=None,
            size=None,
            sha256_prefix=None,
            extra_files=("musetalkV15/musetalk.json",),
            licence="MuseTalk code MIT; its README allows commercial use of the weights."
            + _MUSETALK_CHECK,
            description="MuseTalk 1.5 UNet: 256x256 lip-sync in a VAE's latent space",
            slot="lipsyncer",
            local_option="name_or_path",
            companions=("musetalk-vae", "musetalk-whisper"),
        ),
        WeightsSpec(
            name="musetalk-vae",
            repo_id="stabilityai/sd-vae-ft-mse",
            filename="diffusion_pytorch_model.safetensors",
            revision=None,
            size=None,
            sha256_prefix=None,
            allow_patterns=("config.json", "diffusion_pytorch_model.safetensors"),
            licence="MIT (stabilityai/sd-vae-ft-mse); check the model card",
            description="Stable Diffusion's VAE fine-tuned with MSE, MuseTalk's latent space",
            slot="lipsyncer",
            local_option="vae",
        ),
        WeightsSpec(
            name="musetalk-whisper",
            repo_id="openai/whisper-tiny",
            filename="model.safetensors",
            revision=None,
            size=None,
            sha256_prefix=None,
            allow_patterns=("config.json", "preprocessor_config.json", "model.safetensors"),
            licence="Apache-2.0 (openai/whisper-tiny); check the model card",
            description="Whisper tiny (transformers), MuseTalk's audio encoder",
            slot="lipsyncer",
            local_option="whisper",
        ),
    ]


_KNOWN: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        *_wav2lip_family(),
        *_musetalk_entries(),
        *_whisper_entries(),
        *_demucs_entries(),
        *_chatterbox_entries(),
    )
}
_piper_loaded = False

#: Read-only table ``name -> WeightsSpec`` of the models lipdub knows by name.
#:
#: Holds the Wav2Lip family, every Whisper size and the known Piper voices. OPUS-MT
#: pairs follow a rule (see :data:`PATTERNS` and :func:`lookup`). Add entries with
#: :func:`register_weights`.
KNOWN_WEIGHTS: Mapping[str, WeightsSpec] = MappingProxyType(_KNOWN)

#: The name rules beyond the fixed table: ``(pattern, what it fetches)``.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("opus-SRC-TGT", "OPUS-MT pair, Hub repo " + OPUS_REPO_TEMPLATE.format(src="SRC", tgt="TGT")),
    ("piper-VOICE", f"any Piper voice name, from {PIPER_REPO}@{PIPER_REVISION}"),
)

_lock = threading.Lock()


def _ensure_piper() -> None:
    global _piper_loaded
    if _piper_loaded:
        return
    with _lock:
        if not _piper_loaded:
            for spec in _piper_entries():
                _KNOWN.setdefault(spec.name, spec)
            _piper_loaded = True


def known_sha256(name_or_spec: object) -> str | None:
    """The full published sha256 of a weights name or :class:`~lipdub.hub.WeightsSpec`.

    None for a local path, an unknown name, or a spec that pins only a prefix.

    Example:
        >>> known_sha256("/tmp/mine.pth") is None
        True
    """
    if isinstance(name_or_spec, WeightsSpec):
        return name_or_spec.sha256
    if isinstance(name_or_spec, str) and name_or_spec in KNOWN_WEIGHTS:
        return KNOWN_WEIGHTS[name_or_spec].sha256
    return None


def register_weights(spec: WeightsSpec, *, replace: bool = False) -> None:
    """Add a custom entry to :data:`KNOWN_WEIGHTS` (e.g. a fine-tuned Wav2Lip).

    Args:
        spec: The file and its checks.
        replace: Allow replacing an existing entry of the same name.

    Raises:
        InputError: if the name is taken and ``replace`` is False.

    Example:
        >>> register_weights(WeightsSpec("doc-example", "me/models", "net.pth", None, 10, None))
        >>> KNOWN_WEIGHTS["doc-example"].filename
        'net.pth'
    """
    with _lock:
        if spec.name in _KNOWN and not replace and _KNOWN[spec.name] != spec:
            raise InputError(
                f"weights name {spec.name!r} is already registered",
                hint="pass replace=True to override it",
            )
        _KNOWN[spec.name] = spec


def all_specs() -> list[WeightsSpec]:
    """Every fixed entry of :data:`KNOWN_WEIGHTS`, in table order."""
    _ensure_piper()
    return list(_KNOWN.values())


def lookup(name: str) -> WeightsSpec:
    """The spec called ``name``: a table entry or a rule (``opus-en-es``, ``piper-VOICE``).

    Raises:
        ModelNotFoundError: no entry or rule matches; the hint lists the names.

    Example:
        >>> lookup("whisper-small").repo_id
        'Systran/faster-whisper-small'
        >>> lookup("piper-es_ES-davefx-medium").revision
        'v1.0.0'
    """
    if name in _KNOWN:
        return _KNOWN[name]
    _ensure_piper()
    if name in _KNOWN:
        return _KNOWN[name]
    m = _OPUS_NAME.match(name)
    if m is not None:
        return opus_spec(m["src"], m["tgt"])
    if name.startswith("piper-"):
        spec = piper_spec(name.removeprefix("piper-"))
        if spec is not None:
            return spec
    if name.startswith("whisper-"):
        spec = whisper_spec(name.removeprefix("whisper-"))
        if spec is not None:
            return spec
    fixed = sorted(n for n in _KNOWN if not n.startswith("piper-"))
    raise ModelNotFoundError(
        f"no weights named {name!r}",
        hint=f"known names: {', '.join(fixed)}, plus opus-SRC-TGT (e.g. opus-en-es) and "
        "piper-VOICE (e.g. piper-es_ES-davefx-medium); `lipdub weights list` shows them",
    )
