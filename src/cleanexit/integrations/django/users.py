"""Passwords checked by Django itself: ``aauthenticate()`` runs the project's authentication
backends, user model and password hashers, so existing users sign in as they are.

The subject (``sub``) of a session is the user's primary key as a string (usernames can
change; a primary key does not). ``ModelBackend`` refuses inactive users and runs the password
hasher once for unknown ones, so answers take similar time whether or not the user exists.
"""

from __future__ import annotations

from django.contrib.auth import aauthenticate

__all__ = ["DjangoAuthenticator"]


class DjangoAuthenticator:
    """The ``Authenticator`` of cleanexit backed by ``django.contrib.auth``."""

    async def authenticate(self, username: str, password: str) -> str | None:
        user = await aauthenticate(None, username=username, password=password)
        return None if user is None else str(user.pk)
