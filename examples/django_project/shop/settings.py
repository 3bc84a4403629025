"""A Django project with cleanexit: DRF views and a plain async view behind one login."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "example-only-change-me"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "cleanexit.integrations.django",  # manage.py cleanexit revoke --user alice
]
ROOT_URLCONF = "shop.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CLEANEXIT = {"DATA_DIR": BASE_DIR / ".cleanexit"}  # any cleanexit setting, e.g. "ACCESS_TTL": 600
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cleanexit.integrations.django.drf.CleanexitAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
