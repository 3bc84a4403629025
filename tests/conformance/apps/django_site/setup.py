"""``python -m tests.conformance.apps.django_site.setup``: migrate, then alice and bob."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.conformance.apps.django_site.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from ..common import PASSWORD, SCOPES  # noqa: E402

call_command("migrate", verbosity=0)
for name in SCOPES:
    get_user_model().objects.create_user(name, password=PASSWORD)
