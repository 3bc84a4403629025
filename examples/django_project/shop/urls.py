from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework.decorators import api_view
from rest_framework.response import Response

from cleanexit.integrations.django import require_auth


@api_view(["GET"])
def orders(request):  # DRF: request.auth holds the verified, unrevoked claims
    return Response({"orders for": request.user.pk})


@require_auth  # plain Django, sync or async: request.claims
async def profile(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.claims.sub, "session": request.claims.sid})


urlpatterns = [
    path("auth/", include("cleanexit.integrations.django.urls")),  # login with Django's users
    path("orders", orders),
    path("profile", profile),
]
