from django.urls import path

from competitions.lti import views, views_teach

app_name = "lti"

urlpatterns = [
    path("login/", views.oidc_login, name="login"),
    path("launch/", views.launch, name="launch"),
    path("jwks/", views.jwks, name="jwks"),
    path("deep-link/", views.deep_link, name="deep_link"),
    path("teach/platforms/", views_teach.platforms, name="platforms"),
    path("teach/c/<slug:slug>/grades/", views_teach.grades, name="grades"),
    path("teach/courses/<slug:slug>/sync/", views_teach.roster_sync, name="roster_sync"),
]
