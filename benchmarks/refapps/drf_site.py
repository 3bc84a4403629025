"""One Django + DRF project, three authentications (``BENCH_AUTH``): ``cleanexit``
(``CleanexitAuthentication``, SQLite store, revocation on), ``simplejwt``
(``JWTAuthentication`` as its docs set it up: one user query per request, access tokens
cannot be revoked) and ``simplejwt-stateless`` (``JWTStatelessUserAuthentication``, no query).
Run: ``gunicorn benchmarks.refapps.drf_site:application`` (it is its own settings module).
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "cleanexit.integrations.django",
]
ROOT_URLCONF = __name__
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("BENCH_DB", "")}
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
_AUTH = {
    "cleanexit": "cleanexit.integrations.django.drf.CleanexitAuthentication",
    "simplejwt": "rest_framework_simplejwt.authentication.JWTAuthentication",
    "simplejwt-stateless": "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
}[os.environ.get("BENCH_AUTH", "cleanexit")]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [_AUTH],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SIMPLE_JWT = {"SIGNING_KEY": os.environ.get("BENCH_SECRET", ""), "ALGORITHM": "HS256"}
CLEANEXIT = {"AUTHENTICATOR": None}  # + CLEANEXIT_* from the environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", __name__)

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()  # django.setup() before DRF reads its settings

from django.urls import path  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class Me(APIView):
    def get(self, request):  # type: ignore[no-untyped-def]
        return Response({"user": str(request.user.pk)})


urlpatterns = [path("me", Me.as_view())]
