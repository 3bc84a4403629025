"""docs/configuration.md is what the settings model says (issue 15): generated, and checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cleanexit import settings_reference
from cleanexit.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_reference_is_current() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/configuration_doc.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`CLEANEXIT_{name.upper()}`" in text


def test_a_setting_without_a_meaning_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(settings_reference.MEANINGS, "metrics_token")
    with pytest.raises(ValueError, match="no meaning for \\['metrics_token'\\]"):
        settings_reference.reference_markdown()


def test_ranges_and_choices_come_from_the_model() -> None:
    text = settings_reference.reference_markdown()
    assert "| `CLEANEXIT_ACCESS_TTL` | `600` | int (≥ 1, ≤ 86400) |" in text
    assert "`HS256` \\| `EdDSA` \\| `ES256`" in text
