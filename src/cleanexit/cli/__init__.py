"""The ``cleanexit`` command: the server (``serve``), its administration, and the terminal
client (``login``, ``whoami``, ``sessions``, ``logout``)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    try:
        from .commands import run
    except ImportError as exc:  # pragma: no cover - depends on the install
        sys.stderr.write(
            f"cleanexit: the CLI needs its extra: pip install 'cleanexit[cli]' ({exc})\n"
        )
        raise SystemExit(2) from exc
    run()
