"""``manage.py cleanexit revoke --user alice`` (log out everywhere) or ``--session SID``;
``manage.py cleanexit sessions --user alice``; ``manage.py cleanexit prune``.

The same store, settings and reports as the ``cleanexit`` command; ``--user`` takes a
username (the project's ``USERNAME_FIELD``), whose primary key is the sessions' subject.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....cli.target import describe
from ...host import get_host

__all__ = ["Command"]


class Command(BaseCommand):
    help = "Revoke sessions (log a user out everywhere), list them, prune the store."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        revoke = sub.add_parser("revoke", help="log a user out everywhere, or end one session")
        who = revoke.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="username: every session ends, a cutoff is set")
        who.add_argument("--session", help="one session id")
        sessions = sub.add_parser("sessions", help="a user's active sessions")
        sessions.add_argument("--user", required=True)
        sub.add_parser("prune", help="delete what can no longer matter")

    def handle(self, *args: Any, **options: Any) -> None:
        host = get_host()
        try:
            getattr(self, f"_{options['action']}")(host, options)
        finally:
            host.close()

    def _revoke(self, host: Any, options: dict[str, Any]) -> None:
        from .....cli.admin import revoke_report

        where = describe(host.settings)
        user, session = options.get("user"), options.get("session")
        if user is not None:
            sub = _subject(user)
            result = host.call(lambda h: h.runtime.service.revoke_user(sub, reason="admin"))
        else:
            result = host.call(lambda h: h.runtime.service.revoke_session(session, reason="admin"))
        lines, problem = revoke_report(result, user=user, session=session, where=where)
        for line in lines:
            self.stdout.write(line)
        if problem:
            raise CommandError(problem, returncode=1)

    def _sessions(self, host: Any, options: dict[str, Any]) -> None:
        sub = _subject(options["user"])
        now = time.time()
        found = host.call(lambda h: h.runtime.store.list_sessions(sub, now=now))
        self.stderr.write(f"active sessions of {options['user']!r}: {len(found)}")
        for s in found:
            seen = dt.datetime.fromtimestamp(s.last_seen, dt.UTC).isoformat(timespec="seconds")
            self.stdout.write(f"{s.sid}  last seen {seen}  {s.ip}  {s.user_agent[:60]}")

    def _prune(self, host: Any, options: dict[str, Any]) -> None:
        now = time.time()
        gone = host.call(lambda h: h.runtime.store.prune(now=now))
        self.stdout.write(f"pruned {gone} row(s) from {describe(host.settings)}")


def _subject(username: str) -> str:
    model = get_user_model()
    try:
        return str(model._default_manager.get_by_natural_key(username).pk)
    except model.DoesNotExist:
        raise CommandError(f"no user {username!r}", returncode=1) from None
