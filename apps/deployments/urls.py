from __future__ import annotations

from django.urls import path

from apps.deployments import views

app_name = "deployments"
urlpatterns = [
    path("api/apps/<str:name>/zipdeploy", views.zipdeploy, name="zipdeploy"),
    path("api/apps/<str:name>/deployments/", views.deployment_list, name="list"),
    path("api/apps/<str:name>/deployments/<int:pk>", views.deployment_detail, name="detail"),
    path("api/apps/<str:name>/deployments/<int:pk>/log", views.deployment_log, name="log"),
    path(
        "api/apps/<str:name>/deployments/<int:pk>/redeploy",
        views.deployment_redeploy,
        name="redeploy",
    ),
    path("git/<str:name>.git/<path:path>", views.git_http, name="git"),
]
