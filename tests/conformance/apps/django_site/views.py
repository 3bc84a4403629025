"""Protected views in every idiom: DRF, a plain sync view, an async view."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cleanexit.integrations.django import require_auth
from cleanexit.integrations.django.drf import HasScope
from cleanexit.server.stores.base import SessionRecord

from ..common import SCOPES, me


async def scopes(session: SessionRecord) -> dict[str, Any]:
    """The claims hook: the sub is the user's primary key."""
    user = await get_user_model().objects.aget(pk=session.sub)
    return {"scope": SCOPES.get(user.get_username(), "")}


class Me(APIView):
    def get(self, request: Request) -> Response:
        return Response(me(request.auth))


class Orders(APIView):
    permission_classes = [IsAuthenticated, HasScope("orders:read")]

    def get(self, request: Request) -> Response:
        return Response({"orders for": request.auth.sub})


@require_auth
def me_plain(request: HttpRequest) -> JsonResponse:
    return JsonResponse(me(request.claims))  # type: ignore[attr-defined]


@require_auth
async def me_async(request: HttpRequest) -> JsonResponse:
    return JsonResponse(me(request.claims))  # type: ignore[attr-defined]


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
