"""Framework-neutral HTTP messages: what an adapter hands the endpoints, what it gets back.

An adapter fills a :class:`Request` from its framework's request (headers with lower-case
names, cookies, the client address) and turns a :class:`Response` (status, JSON body, headers
including ``Set-Cookie`` lines) into its framework's response. Nothing here imports a
framework.
"""

from __future__ import annotations

import http.cookies
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["NO_STORE", "Request", "Response"]

# Tokens must never be cached (RFC 6749 §5.1); every auth response carries these.
NO_STORE: tuple[tuple[str, str], ...] = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


@dataclass(frozen=True, slots=True)
class Request:
    headers: Mapping[str, str]  # lower-case names
    cookies: Mapping[str, str] = field(default_factory=dict)
    client: str = ""  # the peer address as the server sees it

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


@dataclass(slots=True)
class Response:
    status: int
    body: object  # JSON-serialisable
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(NO_STORE))

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        max_age: int,
        path: str,
        secure: bool,
        httponly: bool,
        samesite: Literal["strict", "lax"] = "strict",
    ) -> None:
        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        jar[name] = value  # quoted as browsers and Starlette expect ("" for an empty value)
        morsel = jar[name]
        morsel["max-age"] = max_age
        morsel["path"] = path
        morsel["samesite"] = samesite
        morsel["secure"] = secure
        morsel["httponly"] = httponly
        if max_age <= 0:
            morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
        self.headers.append(("Set-Cookie", morsel.OutputString()))

    def delete_cookie(self, name: str, *, path: str, secure: bool, httponly: bool) -> None:
        self.set_cookie(name, "", max_age=0, path=path, secure=secure, httponly=httponly)
