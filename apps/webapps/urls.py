from __future__ import annotations

from django.urls import path

from apps.webapps import views, views_overview

app_name = "webapps"
urlpatterns = [
    path("", views.app_list, name="list"),
    path("apps/new/", views.app_create, name="create"),
    path("apps/<str:name>/", views_overview.overview, name="overview"),
    path("runtimes/", views.runtimes, name="runtimes"),
    path("runtimes/<str:version>/build/", views.runtime_build, name="runtime-build"),
    path("runtimes/<str:version>/progress/", views.runtime_progress, name="runtime-progress"),
]

# The Configuration pages (apps/webapps/views_config.py).
from apps.webapps import views_config  # noqa: E402

urlpatterns += [
    path("apps/<str:name>/configuration/", views_config.configuration, name="configuration"),
    path(
        "apps/<str:name>/configuration/general/",
        views_config.configuration_general,
        name="configuration_general",
    ),
    path(
        "apps/<str:name>/configuration/advanced/<str:kind>/",
        views_config.configuration_advanced,
        name="configuration_advanced",
    ),
]

# The Log stream (apps/logs) and the Overview (apps/webapps/views_overview.py).
from apps.logs.urls import urlpatterns as logstream_urls  # noqa: E402

urlpatterns += logstream_urls
urlpatterns += [
    path("apps/<str:name>/power/<str:action>/", views_overview.power, name="power"),
    path("apps/<str:name>/overview/charts/", views_overview.charts, name="overview_charts"),
]

# Restarts, starts and stops, step by step (apps/webapps/views_operations.py).
from apps.webapps import views_operations  # noqa: E402

urlpatterns += [
    path("apps/<str:name>/operations/<int:pk>/", views_operations.operation, name="operation"),
]

# Deleting an app, from the Overview (apps/webapps/views_delete.py).
from apps.webapps import views_delete  # noqa: E402

urlpatterns += [
    path("apps/<str:name>/delete/", views_delete.delete, name="delete"),
]
