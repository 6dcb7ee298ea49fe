"""Dub stage by stage with a human review in between, then resume.

Runs offline: the transcriber and translator are lipdub.testing fakes standing in for
Whisper/Google (swap in ``"whisper"`` and ``"opus"`` for real ones); the voice is
espeak-ng and the lip-syncer a pass-through, so no model download is needed.

1. ``stop_after="translate"`` leaves ``translation.es.json`` in the work directory.
2. The "reviewer" (this script) rewrites one segment, as a person would in an editor.
3. ``run`` again: the transcription is reused, the reviewed translation is used as
   the reviewer left it (lipdub never overwrites it), and what depends on it is redone.

Run: ``python examples/stage_by_stage.py [--out out/review]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lipdub import DubbingPipeline
from lipdub.testing import FakeFaceDetector, FakeTranscriber, register_fakes
from lipdub.testing.media import make_test_video

register_fakes()  # the test doubles by name ("fake", "passthrough")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/review")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    clip = make_test_video(out / "talk.mp4", duration_s=5.0, size=(320, 240))

    pipe = DubbingPipeline(
        transcriber=FakeTranscriber.from_texts(
            ["Good morning everyone.", "Welcome to the show."], start_s=0.5, segment_s=1.8
        ),
        translator="fake",
        voice="espeak",
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )

    first = pipe.run(clip, "es", out / "talk.es.mp4", stop_after="translate")
    print(first.describe())

    path = first.workdir / "translation.es.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["segments"][0]["text"] = "Buenos días a todos."
    data["segments"][1]["text"] = "Bienvenidos al programa."
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"reviewed {path}")

    final = pipe.run(clip, "es", out / "talk.es.mp4")
    print(final.describe())
    assert final.timing is not None
    print(final.timing.describe())


if __name__ == "__main__":
    main()
