"""The `webapps` namespace: the app list, Overview, Configuration, Log
stream, operations and delete pages."""

from __future__ import annotations

from django.urls import path

from apps.pages import config, delete, operations, overview, webapps
from apps.pages.urls.logstream import urlpatterns as logstream_urls

app_name = "webapps"
urlpatterns = [
    path("", webapps.app_list, name="list"),
    path("apps/new/", webapps.app_create, name="create"),
    path("apps/<str:name>/", overview.overview, name="overview"),
    path("runtimes/", webapps.runtimes, name="runtimes"),
    path("runtimes/<str:version>/build/", webapps.runtime_build, name="runtime-build"),
    path("runtimes/<str:version>/progress/", webapps.runtime_progress, name="runtime-progress"),
]

# The Configuration pages (apps/pages/config.py).

urlpatterns += [
    path("apps/<str:name>/configuration/", config.configuration, name="configuration"),
    path(
        "apps/<str:name>/configuration/general/",
        config.configuration_general,
        name="configuration_general",
    ),
    path(
        "apps/<str:name>/configuration/advanced/<str:kind>/",
        config.configuration_advanced,
        name="configuration_advanced",
    ),
]

# The Log stream (apps/logs) and the Overview (apps/pages/overview.py).

urlpatterns += logstream_urls
urlpatterns += [
    path("apps/<str:name>/power/<str:action>/", overview.power, name="power"),
    path("apps/<str:name>/overview/charts/", overview.charts, name="overview_charts"),
]

# Restarts, starts and stops, step by step (apps/pages/operations.py).

urlpatterns += [
    path("apps/<str:name>/operations/<int:pk>/", operations.operation, name="operation"),
]

# Deleting an app, from the Overview (apps/pages/delete.py).

urlpatterns += [
    path("apps/<str:name>/delete/", delete.delete, name="delete"),
]
