from __future__ import annotations

from django.urls import path

from apps.api import views

app_name = "api"
urlpatterns = [
    path("token", views.token, name="token"),
    path("apps", views.apps_list, name="apps"),
    path("apps/<str:name>", views.app_detail, name="app"),
    path("apps/<str:name>/start", views.app_start, name="start"),
    path("apps/<str:name>/stop", views.app_stop, name="stop"),
    path("apps/<str:name>/restart", views.app_restart, name="restart"),
    path("apps/<str:name>/operations", views.app_operations, name="operations"),
    path("apps/<str:name>/operations/<int:pk>", views.app_operation, name="operation"),
    path("apps/<str:name>/config", views.app_config, name="config"),
    path("apps/<str:name>/appsettings", views.app_settings, name="appsettings"),
    path("apps/<str:name>/connectionstrings", views.connection_strings, name="connectionstrings"),
    path("runtimes", views.runtimes, name="runtimes"),
    path("openapi.json", views.openapi_json, name="openapi"),
    path("docs", views.docs, name="docs"),
    # Zip deploy and deployments (apps/<name>/zipdeploy, apps/<name>/deployments/...)
    # are served by apps.deployments. The log stream and diagnostics join the
    # API from their own apps; add their paths to apps.api.openapi too.
]
