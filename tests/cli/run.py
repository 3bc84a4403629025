"""``cleanexit ...`` as a child process, the way an operator runs it, and what its failures
must look like (issue 10): one ``cleanexit: ...`` line on stderr, a known exit code, no
traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
    return env | {"COLUMNS": "200"} | dict(extra or {})


def cleanexit(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    python: Sequence[str] = (sys.executable, "-m", "cleanexit"),
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*python, *map(str, args)],
        input=stdin if stdin is not None else "",
        env=clean_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    both = done.stdout + done.stderr
    assert "Traceback" not in both and "╭" not in both, both  # neither plain nor rich


def one_line_error(done: subprocess.CompletedProcess[str], *, code: int = 2) -> str:
    """The single ``cleanexit: ...`` line a failing command printed on stderr."""
    no_traceback(done)
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cleanexit: "), done.stderr
    return lines[0]
