"""The TypeScript package's own checks, so `make test` (and CI) runs them too."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.web.driver import WEB

pytestmark = pytest.mark.browser  # needs Node (see tests/web/conftest.py)


def run(node: str, *args: str) -> subprocess.CompletedProcess[str]:
    tool = WEB / "node_modules" / args[0] / args[1]
    return subprocess.run(
        [node, str(tool), *args[2:]],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "CI": "true", "NO_COLOR": "1"},
    )


def test_vitest(node: str) -> None:
    """Slice reducers and the logout thunk (200, 401, 500, timeout, unreachable), in Node."""
    result = run(node, "vitest", "vitest.mjs", "run")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_typecheck(node: str) -> None:
    result = run(node, "typescript", "bin/tsc", "--noEmit", "-p", ".")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
