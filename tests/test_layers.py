"""The import graph of ``lipdub/``: no circle, and no module imports a layer above its own.

Every import statement counts: at module level, inside functions and methods, in
``try`` blocks. Only the body of ``if TYPE_CHECKING:`` is exempt (annotations, never
run). The layer order is declared once, in :data:`LAYERS`, from the bottom up.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lipdub"

#: The layers, bottom first. A module may import its own layer or any layer below; a
#: name is a top-level module or a subpackage of ``lipdub`` (every module in it shares
#: its layer). Within a layer, modules may import each other as long as no circle forms.
LAYERS: tuple[tuple[str, ...], ...] = (
    # base: errors, plain types, files, hashing, the registry of names
    (
        "lipdub._version",
        "lipdub.errors",
        "lipdub.typing",
        "lipdub.limits",
        "lipdub.languages",
        "lipdub.text",
        "lipdub.retry",
        "lipdub.events",
        "lipdub._io",
        "lipdub._userfiles",
        "lipdub._lock",
        "lipdub._checks",
        "lipdub._deps",
        "lipdub._hashing",
        "lipdub._hints",
        "lipdub._google",
        "lipdub.types",
        "lipdub.slots",
        "lipdub.artifacts",
        "lipdub.registry",
        "lipdub.component",
    ),
    # signals: audio DSP and features, the library's own data, media files in and out
    ("lipdub.audio", "lipdub.data", "lipdub.media"),
    # networks (torch modules, no I/O)
    ("lipdub.models",),
    # weights: the catalogue, downloads, checkpoints
    ("lipdub.hub",),
    # the components, each behind its interface (peers: no circle)
    (
        "lipdub.transcribe",
        "lipdub.translate",
        "lipdub.diarize",
        "lipdub.separate",
        "lipdub.voice",
        "lipdub.faces",
        "lipdub.lipsync",
        "lipdub.eval",
        # a dubbed line checked (Whisper, the speaker encoder); eval reads its summary
        "lipdub.quality",
    ),
    # the dub: stages, runner, work directory
    ("lipdub.dub",),
    # built on the dub
    ("lipdub.review", "lipdub.distributed"),
    # the front doors: the package's public surface and the command line
    ("lipdub", "lipdub.cli"),
    # test doubles and helpers: the library never imports them
    ("lipdub.testing",),
)

#: Import statements that break the rules today and that other parts of issue 23 remove
#: (source module, imported module). The lead empties this list after the merge; a
#: statement listed here that no longer exists fails the test, so it cannot go stale.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    # Known violations, each with the reason it is tolerated; empty: there are none.
)


@dataclass(frozen=True)
class Import:
    """One import of a lipdub module by another."""

    source: str
    target: str
    line: int


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> tuple[list[ast.Import | ast.ImportFrom], int]:
    """Every import statement of ``tree``, and the number exempt under TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []
    exempt = 0

    def visit(node: ast.AST) -> None:
        nonlocal exempt
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            exempt += sum(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(node))
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found, exempt


def _resolve(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The lipdub modules one statement imports (a name imported from a package that is
    itself a module counts as that module)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            is_package = MODULES[module].name == "__init__.py"
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    out = []
    for name in names:
        if name != "lipdub" and not name.startswith("lipdub."):
            continue
        while name not in MODULES:  # `import lipdub.x.y` of a name that is not a module
            name = name.rsplit(".", 1)[0]
        out.append(name)
    return sorted(set(out))


def _graph() -> tuple[list[Import], int, int]:
    """All lipdub→lipdub imports, the number of import statements seen and exempt."""
    edges: list[Import] = []
    seen = exempt = 0
    for module, path in MODULES.items():
        statements, skipped = _statements(ast.parse(path.read_text(encoding="utf-8")))
        seen += len(statements)
        exempt += skipped
        for node in statements:
            for target in _resolve(module, node):
                if target != module:
                    edges.append(Import(module, target, node.lineno))
    return edges, seen, exempt


def _import_keywords(path: Path) -> int:
    """The `import` keywords in a file, found by the tokenizer (not the parser)."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return sum(t.type == tokenize.NAME and t.string == "import" for t in tokens)


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of ``module`` (by its longest listed prefix)."""
    best, found = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), i
    assert found >= 0, f"{module} has no layer: add it (or its package) to LAYERS"
    return found


def _cycles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


# ----------------------------------------------------------------------------- tests


def test_every_import_statement_is_counted() -> None:
    # The tokenizer's count of `import` keywords (one per statement, in functions too)
    # equals the parser's statements plus the TYPE_CHECKING ones: none slipped past.
    _, seen, exempt = _graph()
    assert seen + exempt == sum(_import_keywords(p) for p in MODULES.values())
    assert exempt > 0
    # and the graph holds function-level imports (the package imports lazily a lot)
    lazy = [
        n
        for p in MODULES.values()
        for f in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
        for n in ast.walk(f)
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("lipdub")
    ]
    assert len(lazy) > 20


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)
    listed = [name for names in LAYERS for name in names]
    assert len(listed) == len(set(listed))
    assert [n for n in listed if n not in MODULES] == []


def test_no_import_points_up() -> None:
    edges, _, _ = _graph()
    up = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges
        if layer_of(e.target) > layer_of(e.source) and (e.source, e.target) not in ALLOWED
    ]
    assert up == [], "upward imports (move the code down, or pass it in):\n" + "\n".join(up)


def test_no_import_circle() -> None:
    edges, _, _ = _graph()
    kept = [e for e in edges if (e.source, e.target) not in ALLOWED]
    assert _cycles(kept) == []
    # between packages too: a package's modules taken as one node
    packages = [
        Import(_package(e.source), _package(e.target), e.line)
        for e in kept
        if _package(e.source) != _package(e.target)
    ]
    assert _cycles(packages) == []


def test_allowed_violations_still_exist() -> None:
    # A listed import that is gone must leave the list, so the list only shrinks.
    edges, _, _ = _graph()
    present = {(e.source, e.target) for e in edges}
    assert sorted(ALLOWED - present) == []


def test_the_check_catches_an_upward_import_and_a_circle() -> None:
    # The checks themselves, on a made-up graph.
    assert layer_of("lipdub.hub.catalogue") < layer_of("lipdub.voice.piper")
    assert layer_of("lipdub.audio") < layer_of("lipdub.voice") < layer_of("lipdub.dub")
    assert layer_of("lipdub.testing.media") == len(LAYERS) - 1
    made_up = [
        Import("lipdub.errors", "lipdub.types", 1),
        Import("lipdub.types", "lipdub.errors", 1),
    ]
    assert _cycles(made_up) == [["lipdub.errors", "lipdub.types"]]
    assert _cycles(made_up[:1]) == []
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import lipdub.dub\n"
        "def f():\n    from lipdub.dub import pipeline\n"
    )
    found, exempt = _statements(tree)
    assert (len(found), exempt) == (2, 1)


def _package(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def test_the_library_runs_without_importing_lipdub_testing() -> None:
    # At run time too: the int8 calibration inputs are the library's own data, and a
    # Ray worker's pipeline registers nothing by itself.
    code = (
        "import sys\n"
        "import lipdub, lipdub.cli, lipdub.distributed.worker\n"
        "from lipdub.lipsync.wav2lip_int8 import calibration_crops\n"
        "faces, mels = calibration_crops(4)\n"
        "print(faces.shape, mels.shape, 'lipdub.testing' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["(4,", "96,", "96,", "3)", "(4,", "80,", "16)", "False"]


def test_moved_names_keep_their_old_import_paths() -> None:
    from lipdub import hub
    from lipdub._hashing import file_sha256
    from lipdub.audio import dsp, resample
    from lipdub.data import portrait_path, speech_tones
    from lipdub.dub import audio_ops, facemap
    from lipdub.eval import faces as eval_faces
    from lipdub.eval import speaker
    from lipdub.faces import select
    from lipdub.hub.catalogue import PIPER_VOICES
    from lipdub.separate import demucs
    from lipdub.testing import media
    from lipdub.voice import piper

    assert audio_ops.time_stretch is dsp.time_stretch
    assert audio_ops.integrated_loudness is dsp.integrated_loudness
    assert demucs.StreamResampler is resample.StreamResampler
    assert eval_faces.FaceLinks is select.FaceLinks and eval_faces.find_faces is select.find_faces
    assert speaker.link_faces is select.link_faces and speaker.chosen_track is select.chosen_track
    assert facemap.choose_span_faces is select.choose_span_faces
    assert facemap.lipsync_track is select.lipsync_track
    assert piper.KNOWN_VOICES is PIPER_VOICES
    assert hub.sha256_file is file_sha256
    assert media.sample_portrait_path() == portrait_path()
    assert media.speech_tones is speech_tones
