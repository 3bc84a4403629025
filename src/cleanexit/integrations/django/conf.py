"""``settings.CLEANEXIT`` onto ``cleanexit.settings.Settings``: every key is a cleanexit
setting (``ACCESS_TTL`` is ``CLEANEXIT_ACCESS_TTL``), with the same validation and the same
refusals in production; keys it does not set come from ``CLEANEXIT_*`` variables as usual.

Two keys are Django's own: ``AUTHENTICATOR`` (default: ``django.contrib.auth.authenticate()``;
``None`` for no password login; or the dotted path of a class) and ``CLAIMS`` (the dotted
path of an async claims hook). An unknown key is an error, never ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import conf
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from pydantic import ValidationError

from ...errors import ConfigurationError
from ...server.claims import ClaimsHook
from ...server.sessions import Authenticator
from ...settings import Settings

__all__ = ["DJANGO_KEYS", "authenticator_from_django", "claims_from_django", "settings_from_django"]

DJANGO_KEYS = frozenset({"AUTHENTICATOR", "CLAIMS"})
_DEFAULT = object()


def _raw() -> Mapping[str, Any]:
    raw = getattr(conf.settings, "CLEANEXIT", {})
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured("CLEANEXIT must be a dict of cleanexit settings")
    known = {name.upper() for name in Settings.model_fields} | DJANGO_KEYS
    unknown = sorted(str(key) for key in raw if key not in known)
    if unknown:
        raise ImproperlyConfigured(f"CLEANEXIT: unknown setting(s) {', '.join(unknown)}")
    return raw


def settings_from_django() -> Settings:
    values = {key.lower(): value for key, value in _raw().items() if key not in DJANGO_KEYS}
    try:
        return Settings(**values)
    except ValidationError as exc:
        # Named by key, never quoted: pydantic's text would repeat the value (a secret).
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ImproperlyConfigured(f"CLEANEXIT: {where}") from None
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"CLEANEXIT: {exc.description}") from None


def authenticator_from_django() -> Authenticator | None:
    value = _raw().get("AUTHENTICATOR", _DEFAULT)
    if value is _DEFAULT:
        from .users import DjangoAuthenticator

        return DjangoAuthenticator()
    if value is None:
        return None
    found: Authenticator = import_string(value)() if isinstance(value, str) else value
    return found


def claims_from_django() -> ClaimsHook | None:
    value = _raw().get("CLAIMS")
    hook: ClaimsHook | None = import_string(value) if isinstance(value, str) else value
    return hook
