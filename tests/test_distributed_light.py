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


def _missing_inputs_run(tmp_path: Path, rows: list[str]) -> subprocess.CompletedProcess[str]:
    """``lipdub batch`` on a manifest of ``rows``, in a fresh process that reports
    whether Ray was imported."""
    manifest = tmp_path / "m.csv"
    manifest.write_text("input\n" + "\n".join(rows) + "\n")
    code = (
        "import sys\n"
        "from lipdub.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "print('ray imported' if 'ray' in sys.modules else 'no ray')\n"
        "sys.exit(rc)\n"
    )
    args = ["batch", str(manifest), "--to", "es", "--workdir", str(tmp_path / "wd")]
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_batch_lists_every_missing_input_before_ray_starts(tmp_path: Path) -> None:
    from lipdub.testing.media import make_test_video

    make_test_video(tmp_path / "ok.mp4", duration_s=0.2, size=(32, 32))
    (tmp_path / "folder.mp4").mkdir()
    rows = ["ok.mp4", "gone.mp4", "ok.mp4", "folder.mp4", "sub/also-gone.mp4"]
    proc = _missing_inputs_run(tmp_path, rows)
    assert proc.returncode == 1
    assert proc.stdout.strip() == "no ray"  # refused before Ray was even imported
    err = proc.stderr
    assert err.count("\n") == 1, err
    assert err.startswith("error: 3 of 5 inputs cannot be read: ")
    assert f"{tmp_path / 'gone.mp4'} (not found)" in err
    assert f"{tmp_path / 'folder.mp4'} (a folder)" in err
    assert f"{tmp_path / 'sub' / 'also-gone.mp4'} (not found)" in err
    assert "Nothing was started" in err
    assert not (tmp_path / "wd").exists()


def test_a_10000_row_manifest_with_missing_rows_is_one_line(tmp_path: Path) -> None:
    from lipdub.testing.media import make_test_video

    make_test_video(tmp_path / "ok.mp4", duration_s=0.2, size=(32, 32))
    rows = ["ok.mp4"] * 10_000
    for n in (17, 4000, 9999):
        rows[n] = f"missing-{n}.mp4"
    rows += [f"more-{n}.mp4" for n in range(12)]
    proc = _missing_inputs_run(tmp_path, rows)
    assert proc.returncode == 1 and proc.stdout.strip() == "no ray"
    err = proc.stderr
    assert err.count("\n") == 1
    assert err.startswith("error: 15 of 10012 inputs cannot be read: ")
    for n in (17, 4000, 9999):
        assert f"missing-{n}.mp4 (not found)" in err
    assert "more-6.mp4" in err and "more-7.mp4" not in err  # ten named
    assert "and 5 more" in err
