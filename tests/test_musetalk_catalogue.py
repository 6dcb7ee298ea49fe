"""MuseTalk's weights through the catalogue: three entries (the UNet names the VAE and the
Whisper encoder as companions, so downloading it fetches all three), sizes, revisions and
sha256 unknown and shown so, the licences in `weights list`, the name in the registry."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import huggingface_hub.constants
import pytest

from lipdub import hub, registry
from lipdub.cli import main
from lipdub.hub import KNOWN_WEIGHTS
from lipdub.hub import offline as hub_offline
from lipdub.testing.checkpoints import FakeHubServer, spec_for_file, write_random_checkpoint


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_offline, "_forced_offline", False)


def test_the_three_entries_and_what_is_unknown() -> None:
    unet, vae, whisper = (
        KNOWN_WEIGHTS[n] for n in ("musetalk", "musetalk-vae", "musetalk-whisper")
    )
    assert (unet.repo_id, unet.filename) == ("TMElyralab/MuseTalk", "musetalkV15/unet.pth")
    assert unet.extra_files == ("musetalkV15/musetalk.json",)
    assert unet.companions == ("musetalk-vae", "musetalk-whisper")
    assert vae.repo_id == "stabilityai/sd-vae-ft-mse" and "config.json" in vae.allow_patterns
    assert whisper.repo_id == "openai/whisper-tiny"
    assert "preprocessor_config.json" in whisper.allow_patterns
    for spec in (unet, vae, whisper):
        assert spec.size is None and spec.revision is None and spec.sha256 is None
        assert spec.size_text() == "size unknown" and spec.hash_text() == "sha256 unknown"
        assert spec.slot == "lipsyncer"
    assert "MIT" in unet.licence and "OpenRAIL-M" in unet.licence
    assert "MIT" in vae.licence and "Apache-2.0" in whisper.licence
    assert registry.entry("lipsyncer", "musetalk").extra == "hd"


def test_weights_list_shows_them_unknown_with_their_licences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["weights", "list", "musetalk", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    for name in ("musetalk", "musetalk-vae", "musetalk-whisper"):
        assert "size unknown" in rows[name] and "unknown" in rows[name]
    assert "licence of musetalk: MuseTalk code MIT" in out and "OpenRAIL-M" in out
    assert "licence of musetalk-whisper: Apache-2.0" in out


def test_downloading_a_model_fetches_its_companions_first(tmp_path: Path) -> None:
    files = {}
    for name in ("comp-a", "comp-b", "comp-main"):
        ckpt = write_random_checkpoint(tmp_path / f"{name}.pth", [["w", [4, 4], "float32"]])
        spec = spec_for_file(name, ckpt)
        if name == "comp-main":
            spec = dataclasses.replace(spec, companions=("comp-a", "comp-b"))
        hub.register_weights(spec, replace=True)
        files[(spec.repo_id, spec.filename)] = ckpt
    cache = tmp_path / "c"
    with FakeHubServer(files) as server:
        hub.download_weights("comp-main", cache_dir=cache, endpoint=server.endpoint)
    for name in ("comp-a", "comp-b", "comp-main"):
        assert hub.cached_path(KNOWN_WEIGHTS[name], cache_dir=cache) is not None, name
