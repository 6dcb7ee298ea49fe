"""The active-speaker stage: which face is lip-synced in each source speech span.

``faces.json`` (editable, :mod:`lipdub.dub.facemap`) records the choice; the lip-sync
then follows the chosen face (:func:`~lipdub.dub.facemap.lipsync_track`), so with
several faces in a frame only that face's mouth changes. The faces themselves (every
face of every frame, with stable ids) are found once per video and detector and
cached beside it as ``facelinks.<key>.json``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub import artifacts
from lipdub._hashing import content_key, settings_key
from lipdub.dub.runner import Run, Stage, component_identity
from lipdub.dub.state import Extracted, Faced, Separated, Tracked, advance
from lipdub.errors import InputError
from lipdub.types import AudioClip

if TYPE_CHECKING:
    from lipdub.dub.facemap import FaceMap
    from lipdub.eval.faces import FaceLinks

__all__ = ["Faces"]

#: Detection settings of the all-faces pass (part of the cache key).
_FIND = {"every": 5, "max_side": 640, "min_seen": 2, "version": 1}


class Faces(Stage[Tracked, Faced]):
    """``faces.json``: span -> face id (editable); runs when ``face`` is not ``auto``,
    a speaker scorer is at hand, or the work directory has a ``faces.json``."""

    name = "faces"
    editable = True
    upstream = "transcript, the speakers, the scorer or the --face choice"

    def applies(self, run: Run, st: Tracked) -> bool:
        if run.info.is_image:
            return False
        if run.options.face != "auto" or run.path(artifacts.FACES).is_file():
            return True  # asked for, or a faces.json of the user's (or an earlier run's)
        return run.components.scorer() is not None

    def skip(self, run: Run, st: Tracked) -> Faced:
        return advance(st, Faced, faces=None, faces_key=None, lipsync_track=st.track)

    def artifacts(self, run: Run, st: Tracked) -> list[Path]:
        return [run.path(artifacts.FACES)]

    def _links_path(self, run: Run) -> Path:
        detector = component_identity(run.components.detector())
        return run.path(artifacts.facelinks(settings_key(run.input_key, detector, _FIND)))

    def key(self, run: Run, st: Tracked) -> str:
        scorer = run.components.scorer() if run.options.face in ("auto", "active") else None
        return settings_key(
            run.input_key,
            component_identity(run.components.detector()),
            _FIND,
            content_key(st.transcript_path),
            st.speakers_key,
            None if scorer is None else component_identity(scorer),
            _effective(run.options.face),
            _audio_key(st),
        )

    def progress(self, run: Run, st: Tracked) -> tuple[float | None, str]:
        return run.info.frame_count, "frames"

    def _links(self, run: Run) -> FaceLinks:
        return run.memo(self.name, "links", lambda: self._find(run))

    def _find(self, run: Run) -> FaceLinks:
        from lipdub.errors import MediaError
        from lipdub.eval.faces import FaceLinks, find_faces

        path = self._links_path(run)
        if path.is_file():
            try:
                return FaceLinks.load(path)
            except MediaError as e:
                run.notice(self.name, f"finding the faces again: {e}")
        links = find_faces(
            run.input,
            run.components.detector(),
            every=int(_FIND["every"]),
            max_side=int(_FIND["max_side"]),
            min_seen=int(_FIND["min_seen"]),
            on_event=run.on_event,
        )
        return FaceLinks.load(links.save(path))  # as a later run reads them

    def load(self, run: Run, st: Tracked) -> tuple[Faced, list[Path]]:
        from lipdub.dub.facemap import FaceMap

        path = self.artifacts(run, st)[0]
        facemap = FaceMap.load(path, duration_s=float(run.info.duration_s))
        return self._use(run, st, facemap, path), []

    def compute(self, run: Run, st: Tracked) -> tuple[Faced, list[Path]]:
        from lipdub.dub.facemap import FaceMap, candidates, choose_span_faces, describe_ids

        path = self.artifacts(run, st)[0]
        links = self._links(run)
        spans = [(s.start_s, s.end_s, s.speaker) for s in st.source.segments]
        face = run.options.face
        fixed = int(face) if face.isdigit() else None
        if fixed is not None and fixed not in links.faces:
            raise InputError(
                f"--face {fixed}: no face has that id; the faces found are {describe_ids(links)}",
                path=run.input,
                hint="use one of those ids, or --face active / --face largest",
            )
        scorer = run.components.scorer() if face in ("auto", "active") else None
        audio = _scoring_audio(st)
        if face == "active" and scorer is not None and audio is None:
            run.notice(self.name, "no source audio to score mouths: lip-syncing the largest face")
            scorer = None
        elif face == "active" and scorer is None:
            run.notice(
                self.name,
                "no speaker scorer (syncnet_v2 weights not cached: `lipdub weights download "
                "syncnet_v2`): lip-syncing the largest face of each span",
            )
        several = any(len(candidates(links, a, b)) > 1 for a, b, _ in spans)
        mode = "fixed" if fixed is not None else "largest"
        scores = None
        if scorer is not None and audio is not None and several:
            from lipdub.eval.faces import score_spans

            mode = "active"
            scores = score_spans(
                run.input,
                links,
                [(a, b, candidates(links, a, b)) for a, b, _ in spans],
                scorer,
                audio.resample(16000).to_int16(),
                on_event=run.on_event,
            )
        chosen, speakers = choose_span_faces(links, spans, mode=mode, fixed=fixed, scores=scores)
        faces = [links.summary(fid) for fid in links.ids]
        FaceMap(mode, faces, speakers, tuple(chosen)).save(path)
        out, _ = self.load(run, st)  # the map as a resumed run reads it (rounded scores)
        return out, [path]

    def _use(self, run: Run, st: Tracked, facemap: FaceMap, path: Path) -> Faced:
        from lipdub.dub.facemap import lipsync_track

        links = self._links(run)
        facemap.check_ids(links, path)
        track = st.track
        lipsync = lipsync_track(track, links, facemap.spans, links.num_frames or len(track or ()))
        return advance(
            st,
            Faced,
            faces=facemap,
            faces_key=content_key(path),
            lipsync_track=lipsync if lipsync is not None else track,
        )

    def info(self, run: Run, out: Faced) -> dict[str, Any]:
        assert out.faces is not None  # the stage ran
        return {"mode": out.faces.mode, "faces": len(out.faces.faces)}


def _effective(face: str) -> str:
    """``auto`` runs this stage only with a scorer, where it means ``active``."""
    return "active" if face == "auto" else face


def _scoring_audio(st: Extracted) -> AudioClip | None:
    """The source speech to score mouths against: the vocals stem when there is one."""
    if isinstance(st, Separated) and st.vocals is not None:
        return st.vocals
    return st.original


def _audio_key(st: Extracted) -> str | None:
    if isinstance(st, Separated) and st.vocals is not None:
        vocals = st.vocals
        h = hashlib.sha256(vocals.samples.tobytes())
        h.update(str(vocals.sample_rate_hz).encode())
        return "vocals:" + h.hexdigest()[:20]
    return st.audio_key
