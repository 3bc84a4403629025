"""The Django conformance project (WSGI under gunicorn, ASGI under uvicorn)."""

from __future__ import annotations

import os

SECRET_KEY = "conformance-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "cleanexit.integrations.django",
]
MIDDLEWARE = ["cleanexit.integrations.django.CleanexitMiddleware"]
ROOT_URLCONF = "tests.conformance.apps.django_site.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CONFORMANCE_DJANGO_DB", "conformance.sqlite3"),
    }
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# A fast hasher keeps the suite quick; any hasher works (Django's authenticate() checks it).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CLEANEXIT = {"CLAIMS": "tests.conformance.apps.django_site.views.scopes"}  # + CLEANEXIT_* env
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cleanexit.integrations.django.drf.CleanexitAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
LOGGING = {
    "version": 1,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
