"""Every module's doctests pass when run alone, not only after other modules ran.

``pytest --doctest-modules lipdub`` runs all examples in one process, so an example that
leans on state another module left behind (a backend registered by name, a cache
filled) passes there and fails for a reader who runs it by itself. Here each module's
examples run in a fresh child process that has imported nothing of lipdub.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Forks one child per module (two at a time): each imports its module and runs its
#: examples with the options pytest uses; the parent has imported only numpy.
_RUNNER = textwrap.dedent(
    """
    import doctest, importlib, os, sys
    import numpy  # noqa: F401 (shared by every child, holds no lipdub state)

    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    names = sys.argv[1:]
    running = {}
    failed = []

    def child(name):
        try:
            module = importlib.import_module(name)
            result = doctest.testmod(module, optionflags=flags, report=True)
        except BaseException as e:  # an import error is a failure too
            print(f"{name}: {type(e).__name__}: {e}", flush=True)
            os._exit(2)
        os._exit(1 if result.failed else 0)

    def reap():
        pid, status = os.wait()
        if status:
            failed.append(running[pid])
        del running[pid]

    for name in names:
        if len(running) >= 2:
            reap()
        pid = os.fork()
        if pid == 0:
            child(name)
        running[pid] = name
    while running:
        reap()
    print("FAILED:" + ",".join(sorted(failed)))
    """
)


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted((ROOT / "lipdub").rglob("*.py")):
        if ">>>" not in path.read_text(encoding="utf-8"):
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(parts))
    return names


def test_each_module_s_doctests_pass_alone(tmp_path: Path) -> None:
    names = _modules_with_examples()
    assert len(names) > 50  # the search found the package's examples
    out = subprocess.run(
        [sys.executable, "-c", _RUNNER, *names],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # examples that write files write them here
        env={**_env(), "PYTHONPATH": str(ROOT)},
        timeout=900,
    )
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert last.startswith("FAILED:"), out.stdout[-3000:] + out.stderr[-3000:]
    failed = [n for n in last.removeprefix("FAILED:").split(",") if n]
    assert not failed, f"doctests that fail alone: {failed}\n{out.stdout[-4000:]}"


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
