"""The audit trail (issue 15): one JSON line per event, routable, never a secret."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from cleanexit.server.audit import AUDIT_LOGGER, AuditLog, configure_audit
from cleanexit.server.events import AuthEvent, fan_out


def event(**kw: object) -> AuthEvent:
    base: dict[str, object] = {"kind": "login", "outcome": "success", "name": "authn_login_success"}
    return AuthEvent(**{**base, **kw})  # type: ignore[arg-type]


def test_a_line_is_json_with_the_owasp_fields() -> None:
    line = json.loads(
        AuditLog().line(event(user="alice", session_id="s1", ip="192.0.2.1", user_agent="ua"))
    )
    assert line["event"] == "authn_login_success" and line["appid"] == "cleanexit"
    assert line["ts"].endswith("Z") and line["level"] == "INFO"
    assert (line["user"], line["session_id"], line["client_ip"], line["user_agent"]) == (
        "alice", "s1", "192.0.2.1", "ua",
    )  # fmt: skip


def test_a_user_agent_cannot_forge_a_line() -> None:
    text = AuditLog().line(event(user_agent='x\n{"event":"authn_login_success"}' + "y" * 999))
    assert "\n" not in text and len(json.loads(text)["user_agent"]) == 256


def test_events_without_a_name_are_not_audited(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    logging.getLogger(AUDIT_LOGGER).propagate = True
    AuditLog()(event(name=None))
    assert caplog.records == []


def test_routed_to_a_private_file_then_off(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.log"
    try:
        configure_audit(str(path))
        configure_audit(str(path))  # idempotent: one handler, one copy of each line
        AuditLog()(event(user="alice"))
        assert len(path.read_text().splitlines()) == 1
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        configure_audit("off")
        AuditLog()(event(user="bob"))
        assert "bob" not in path.read_text()
    finally:
        configure_audit("logger")
        logging.getLogger(AUDIT_LOGGER).disabled = False


def test_fan_out_calls_every_observer_in_order() -> None:
    seen: list[str] = []
    both = fan_out([lambda e: seen.append("a"), lambda e: seen.append("b")])
    assert both is not None
    both(event())
    assert seen == ["a", "b"] and fan_out([]) is None
