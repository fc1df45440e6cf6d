from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from competitions.api import api
from competitions.forms import PasswordResetForm

urlpatterns = [
    path("admin/", admin.site.urls),
    # Before Django's own: accounts invited by a roster import (no password yet) can reset too.
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=PasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),  # login, logout, password reset
    path("api/", api.urls),
    path(
        "lti/", include("competitions.lti.urls")
    ),  # LTI 1.3 tool endpoints (docs/LTI.md)  # OpenAPI schema at /api/openapi.json
    path("", include("competitions.urls")),
]
