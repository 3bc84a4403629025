"""Write docs/configuration.md from the settings model, or check it (``--check``, run by
``make check``): the document must be what the model says now, and every ``CLEANEXIT_*``
variable the source mentions must be in it."""

from __future__ import annotations

import sys
from pathlib import Path

from cleanexit.settings import Settings
from cleanexit.settings_reference import COMMAND_LINE, mentioned_variables, reference_markdown

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"


def main(argv: list[str]) -> int:
    text = reference_markdown()
    if "--check" not in argv:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
        return 0
    problems = []
    if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
        problems.append(f"{DOC.relative_to(ROOT)} is out of date")
    documented = {f"CLEANEXIT_{name.upper()}" for name in Settings.model_fields}
    documented |= set(COMMAND_LINE)
    unknown = sorted(mentioned_variables(ROOT.glob("src/**/*.py")) - documented)
    if unknown:
        problems.append(f"the source reads variables the reference does not list: {unknown}")
    for problem in problems:
        print(
            f"configuration reference: {problem}; run python scripts/configuration_doc.py "
            "(and describe new settings in src/cleanexit/settings_reference.py)",
            file=sys.stderr,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
