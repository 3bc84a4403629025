"""The README's first screen, run as written: the stolen-token scenario with curl against a
real `cleanexit serve --demo` (the one `make run` starts), only its port changed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.server import start_server

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"


def scenario() -> str:
    text = README.read_text()
    section = text[text.index("**The stolen-token scenario") :]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README lost its stolen-token scenario"
    return match.group(1)


def test_the_readme_curl_scenario_fails_for_the_attacker(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is needed to run the README's scenario as written")
    with start_server(tmp_path) as server:
        script = scenario().replace("http://127.0.0.1:8000", server.url)
        assert server.url in script
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == "200"  # the attacker's copy works before logout
    assert '"revoked"' in lines[1] and '"access_token":true' in lines[1]  # alice logs out
    assert lines[-2] == "401"  # and the copy is dead at once
