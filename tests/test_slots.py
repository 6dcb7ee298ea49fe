"""The component slots are declared once (``lipdub.slots.SLOTS``); the registry, the
pipeline, the command line, the Ray spec and the docs table are derived from it."""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path
from typing import get_args

import pytest

from lipdub import registry
from lipdub.cli import build_parser
from lipdub.distributed import PipelineSpec
from lipdub.dub.pipeline import DEFAULT_BACKENDS, DubbingPipeline
from lipdub.errors import InputError
from lipdub.slots import SLOTS, Kind, markdown_table, slot

ROOT = Path(__file__).resolve().parents[1]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser = action.choices[name]
            return sub
    raise AssertionError(name)


def test_the_registry_kinds_are_the_slots() -> None:
    kinds = tuple(s.kind for s in SLOTS)
    assert registry.KINDS == kinds == get_args(Kind)
    assert set(registry.registry) == set(kinds)
    for s in SLOTS:  # every slot has its interface and a built-in backend by default
        module, _, cls = s.interface.partition(":")
        assert inspect.isclass(getattr(__import__(module, fromlist=[cls]), cls))
        if s.default not in (None, "auto"):
            assert s.default in registry.available(s.kind), s.kind


def test_the_pipeline_takes_every_slot_with_its_default() -> None:
    params = inspect.signature(DubbingPipeline).parameters
    for s in SLOTS:
        assert s.argument in params, s.argument
        assert params[s.argument].default == s.default, s.kind
    assert {k: v for k, v in DEFAULT_BACKENDS.items()} == {
        s.kind: s.default for s in SLOTS if s.default is not None
    }


def test_the_ray_spec_takes_every_slot() -> None:
    spec = PipelineSpec({s.kind: "x" for s in SLOTS})
    assert [spec.name_of(s.kind) for s in SLOTS] == ["x"] * len(SLOTS)
    assert PipelineSpec().name_of("diarizer") == ""  # empty unless asked for
    assert PipelineSpec().name_of("lipsyncer") == "wav2lip_gan"
    with pytest.raises(InputError, match="no component slot 'tts'"):
        PipelineSpec({"tts": "espeak"})


@pytest.mark.parametrize(
    ("command", "kinds"),
    [
        ("dub", [s.kind for s in SLOTS]),
        ("review", [s.kind for s in SLOTS]),
        ("batch", ["transcriber", "translator", "voice", "detector", "lipsyncer", "separator"]),
        ("lipsync", ["detector", "lipsyncer"]),
    ],
)
def test_the_commands_flags_come_from_the_table(command: str, kinds: list[str]) -> None:
    sub = _subparser(command)
    by_dest = {a.dest: a for a in sub._actions}
    for kind in kinds:
        s = slot(kind)
        action = by_dest[s.dest]
        assert action.option_strings == [s.flag, *s.aliases], kind
        assert s.help.split(" (")[0] in (action.help or ""), kind
        if command != "review":
            assert action.default == s.cli_default, kind
        else:  # review: the dub's backends, read from its work directory
            assert action.default is None
    assert "lipsyncer" in by_dest and "--model" in by_dest["lipsyncer"].option_strings


def test_opt_takes_the_slots_of_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    from lipdub.cli import main

    args = ["lipsync", "--face", "f.mp4", "--audio", "a.wav", "-o", "o.mp4"]
    assert main([*args, "--opt", "voice.rate=2"]) == 1
    err = capsys.readouterr().err
    assert "SLOT one of lipsyncer, detector" in err or "SLOT one of detector, lipsyncer" in err


def test_the_docs_table_is_the_slot_table() -> None:
    doc = (ROOT / "docs" / "backends.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- slots: .*? -->\n(.*?)\n<!-- /slots -->", doc, re.S)
    assert found is not None, "docs/backends.md lacks the slots table markers"
    assert found.group(1).strip() == markdown_table()


def test_the_scorer_comes_through_the_registry(tmp_path: Path) -> None:
    import torch

    from lipdub.eval.scorer import SyncNetScorer
    from lipdub.eval.speaker import resolve_speaker_scorer
    from lipdub.models.syncnet_v2 import SyncNetV2

    assert registry.available("scorer") == ["syncnet_v2"]
    weights = tmp_path / "syncnet_v2.model"
    torch.manual_seed(0)
    torch.save(SyncNetV2().state_dict(), weights)
    by_path = resolve_speaker_scorer(str(weights), device="cpu")
    by_spec = resolve_speaker_scorer(("syncnet_v2", {"name_or_path": str(weights)}))
    assert isinstance(by_path, SyncNetScorer) and isinstance(by_spec, SyncNetScorer)
    assert by_path.weights == by_spec.weights == str(weights)
    with pytest.raises(InputError, match=r"no such syncnet_v2\.model file"):
        resolve_speaker_scorer(str(tmp_path / "missing.model"))
