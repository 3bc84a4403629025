"""The Django app (``INSTALLED_APPS``): brings the ``cleanexit`` management command and
checks ``settings.CLEANEXIT`` at start-up, before any request."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["CleanexitConfig"]


class CleanexitConfig(AppConfig):
    name = "cleanexit.integrations.django"
    label = "cleanexit"
    verbose_name = "cleanexit"
    default = True

    def ready(self) -> None:
        from .conf import settings_from_django

        settings_from_django()  # no I/O: a wrong setting stops the start, not a request
