"""Django integration (``pip install 'cleanexit[django]'``, issue 12).

    INSTALLED_APPS = [..., "cleanexit.integrations.django"]     # the management command
    CLEANEXIT = {"DATA_DIR": BASE_DIR / ".cleanexit"}          # any cleanexit setting
    urlpatterns = [path("auth/", include("cleanexit.integrations.django.urls")), ...]

    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [
        "cleanexit.integrations.django.drf.CleanexitAuthentication"]}     # DRF views
    @require_auth                                   # plain views, sync or async
    def orders(request):
        return JsonResponse({"orders for": request.claims.sub})

Passwords are checked by ``django.contrib.auth.authenticate()`` (your user model, backends
and hashers); ``manage.py cleanexit revoke --user alice`` logs a user out everywhere. Importing
this package needs no configured settings. See docs/frameworks.md.
"""

from __future__ import annotations

from ...server.tokens import AccessClaims as Claims
from .conf import settings_from_django
from .decorators import require_auth, require_scope
from .host import get_host
from .middleware import CleanexitMiddleware

__all__ = [
    "Claims",
    "CleanexitMiddleware",
    "get_host",
    "require_auth",
    "require_scope",
    "settings_from_django",
]
