"""The security audit trail (issue 15): one JSON line per event on the ``cleanexit.audit`` logger.

    {"ts": "2026-05-01T09:30:12.345678Z", "appid": "cleanexit", "event": "authn_login_success",
     "level": "INFO", "description": "password accepted", "user": "alice", "session_id": "...",
     "client_ip": "203.0.113.7", "user_agent": "Mozilla/5.0 ..."}

Event names follow the OWASP Logging Vocabulary (``server.events``); timestamps are UTC with
microseconds. A line carries identifiers only (user, session id, ``jti``, addresses): events
never hold a token, password or secret, so none can be written (ASVS 5 V16.2.5).

Where lines go is configuration (``CLEANEXIT_AUDIT_LOG``): ``stdout`` or ``stderr``, a file
path (appended to, created 0600, reopened if log rotation moves it), ``logger`` (no handler of
ours: the application's logging configuration routes ``cleanexit.audit``), or ``off``.
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from .events import AuthEvent

__all__ = ["AUDIT_LOGGER", "AuditLog", "configure_audit"]

AUDIT_LOGGER = "cleanexit.audit"
_OURS = "_cleanexit_audit_handler"  # marks the handler configure_audit installed
_MAX_FIELD = 256  # user agents and the like: bounded, so a line stays one write


class AuditLog:
    """An ``Observer``: writes the audit line of each event that has an OWASP name."""

    def __init__(self, logger: logging.Logger | None = None, *, appid: str = "cleanexit") -> None:
        self.logger = logger or logging.getLogger(AUDIT_LOGGER)
        self.appid = appid

    def __call__(self, event: AuthEvent) -> None:
        if event.name is None or not self.logger.isEnabledFor(logging.INFO):
            return
        level = logging.WARNING if event.level == "WARN" else logging.INFO
        self.logger.log(level, "%s", self.line(event))

    def line(self, event: AuthEvent) -> str:
        record: dict[str, Any] = {
            "ts": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "appid": self.appid,
            "event": event.name,
            "level": event.level,
            "description": event.description,
            "user": event.user[:_MAX_FIELD],
            "session_id": event.session_id,
            "client_ip": event.ip[:_MAX_FIELD],
            "user_agent": event.user_agent[:_MAX_FIELD],
        }
        if event.sessions:
            record["sessions_ended"] = list(event.sessions)
            record["reason"] = event.reason
        record.update({k: v for k, v in event.extra.items() if k not in record})
        # orjson escapes control characters: a user agent cannot forge a second line.
        return orjson.dumps(record).decode()


def configure_audit(target: str) -> None:
    """Route the ``cleanexit.audit`` logger (idempotent: replaces what it set up before)."""
    logger = logging.getLogger(AUDIT_LOGGER)
    for handler in [h for h in logger.handlers if getattr(h, _OURS, False)]:
        logger.removeHandler(handler)
        handler.close()
    choice = target.strip()
    if choice.lower() == "logger":
        logger.propagate, logger.disabled = True, False
        return
    logger.propagate = False  # one copy of each line, where configured
    logger.setLevel(logging.INFO)
    if choice.lower() == "off":
        logger.disabled = True
        return
    logger.disabled = False
    handler = _handler(choice)
    handler.setFormatter(logging.Formatter("%(message)s"))
    setattr(handler, _OURS, True)
    logger.addHandler(handler)


def _handler(choice: str) -> logging.Handler:
    if choice.lower() in ("", "stdout"):
        return logging.StreamHandler(sys.stdout)
    if choice.lower() == "stderr":
        return logging.StreamHandler(sys.stderr)
    path = Path(choice)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created private (it names users and their addresses); appended by every worker, one
    # write() per line (O_APPEND), so lines of several processes never interleave.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    return logging.handlers.WatchedFileHandler(path, encoding="utf-8")
