"""lipdub.distributed without Ray: manifests, reports, specs; importing stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lipdub.distributed import BatchItem, BatchReport, PipelineSpec, TaskRecord, load_manifest
from lipdub.errors import InputError


def test_importing_lipdub_and_its_cli_does_not_import_ray() -> None:
    code = "import sys, lipdub, lipdub.distributed, lipdub.cli; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_manifests_csv_and_json(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(
        "\ufeffinput, output ,from,text\na.mp4,,en,\nsub/b.mp4,b.{lang}.mp4,,Hello there\n"
    )
    a, b = load_manifest(tmp_path / "m.csv")
    assert a == BatchItem(tmp_path / "a.mp4", None, "en", None)
    assert b == BatchItem(tmp_path / "sub/b.mp4", tmp_path / "b.{lang}.mp4", None, "Hello there")
    (tmp_path / "m.json").write_text(json.dumps(["a.mp4", {"input": "c.mp4", "from": "de"}]))
    items = load_manifest(tmp_path / "m.json")
    assert [(i.input.name, i.source_language) for i in items] == [("a.mp4", None), ("c.mp4", "de")]


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("m.csv", "video\na.mp4\n", "'input' column"),
        ("m.csv", "input\n", "no inputs"),
        ("m.json", '{"input": "a.mp4"}', "must be a list"),
        ("m.json", '[{"input": "a.mp4", "lang": "es"}]', "unknown field(s) 'lang'"),
        ("m.json", "[{}]", "m.json entry 1: no input"),
        ("m.json", "[1, 2", "not valid JSON"),
    ],
)
def test_bad_manifests_say_what_is_wrong(tmp_path: Path, name: str, text: str, words: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=None) as info:
        load_manifest(tmp_path / name)
    assert words in str(info.value)


def test_a_missing_manifest_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the manifest"):
        load_manifest(tmp_path / "none.csv")


def test_specs_take_names_not_live_components() -> None:
    from lipdub.testing import FakeVoiceSynth

    with pytest.raises(InputError, match="registry name"):
        PipelineSpec({"voice": FakeVoiceSynth()})
    with pytest.raises(InputError, match="no component slot"):
        PipelineSpec({"tts": "espeak"})
    assert PipelineSpec({}).name_of("lipsyncer") == "wav2lip_gan"


def test_report_table_and_totals(tmp_path: Path) -> None:
    ok = TaskRecord("/v/a.mp4", "es", ok=True, attempts=2, errors=["WorkerCrashedError: x"])
    ok.ran, ok.timings, ok.wall_s = ["speak", "lipsync"], {"speak": 1.0, "lipsync": 4.0}, 5.5
    bad = TaskRecord("/v/b.mp4", "es", attempts=1, errors=["MediaError: b.mp4 is a still image"])
    report = BatchReport([ok, bad], wall_s=6.0, workers=2)
    assert (report.succeeded, report.failed, report.ran_stages) == (1, 1, 2)
    table = report.table()
    assert "FAILED: MediaError: b.mp4 is a still image" in table
    assert "1 ok, 1 failed in 6.0 s on 2 worker(s); stage time: speak 1.0 s, lipsync 4.0 s" in table
    data = json.loads(report.save(tmp_path / "r.json").read_text())
    assert data["tasks"][0]["errors"] == ["WorkerCrashedError: x"]
    assert data["stage_seconds"] == {"speak": 1.0, "lipsync": 4.0}


def test_two_processes_sharing_a_work_directory_keep_each_others_records(tmp_path: Path) -> None:
    """What concurrent language tasks of one video rely on (two Workdir objects here)."""
    from lipdub.dub.workdir import Workdir

    es, fr = Workdir(tmp_path), Workdir(tmp_path)  # both read the (empty) manifest first
    a, b = tmp_path / "translation.es.json", tmp_path / "translation.fr.json"
    a.write_text("{}")
    b.write_text('{"x": 1}')
    es.record("translate:es", "k-es", [a])
    fr.record("translate:fr", "k-fr", [b])
    fr.set_meta(backends={"voice": "fake"})
    es.forget("nothing-there")
    again = Workdir(tmp_path)
    assert again.get("translate:es") is not None and again.get("translate:es").key == "k-es"  # type: ignore[union-attr]
    assert again.get("translate:fr") is not None
    assert again.meta["backends"] == {"voice": "fake"}
    assert again.state(a, again.get("translate:es")) == "ours"
