"""The ``cleanexit`` command: the server (``serve``), its administration, and the terminal
client (``login``, ``whoami``, ``sessions``, ``logout``)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    try:
        from .commands import run
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        if (exc.name or "cleanexit").startswith("cleanexit"):
            raise
        sys.stderr.write(
            "cleanexit: the command needs an extra: pip install 'cleanexit[client]' "
            f"or 'cleanexit[server]' (missing module {exc.name!r})\n"
        )
        raise SystemExit(2) from None
    run()
