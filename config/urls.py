from django.contrib import admin
from django.urls import include, path

from competitions.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),  # login, logout, password reset
    path("api/", api.urls),  # OpenAPI schema at /api/openapi.json
    path("", include("competitions.urls")),
]
