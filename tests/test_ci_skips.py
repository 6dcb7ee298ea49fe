"""Under ``CI=true`` a skip for a missing dependency fails the run; documented ones do not.

Runs pytest on a tiny suite that uses this folder's conftest, as ``./scripts/check`` does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _run(tmp_path: Path, body: str, *, ci: bool) -> subprocess.CompletedProcess[str]:
    suite = tmp_path / "suite"
    suite.mkdir(exist_ok=True)
    shutil.copy(HERE / "conftest.py", suite / "conftest.py")
    (suite / "test_one.py").write_text(f"import pytest\n\n\ndef test_one():\n    {body}\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize("ci", [False, True])
def test_a_missing_dependency_fails_only_under_ci(tmp_path: Path, ci: bool) -> None:
    out = _run(tmp_path, 'pytest.importorskip("lipdub_no_such_module")', ci=ci)
    assert "skip reasons" in out.stdout and "lipdub_no_such_module" in out.stdout
    if ci:
        assert out.returncode == 1, out.stdout
        assert "scripts/setup installs is missing" in out.stdout
    else:
        assert out.returncode == 0, out.stdout


def test_a_documented_skip_passes_under_ci(tmp_path: Path) -> None:
    out = _run(tmp_path, 'pytest.skip("needs a CUDA GPU")', ci=True)
    assert out.returncode == 0, out.stdout
    assert "expected: no GPU on the CI machines" in out.stdout
