from __future__ import annotations

from django.urls import path

from apps.pages import logstream as views

# Included from apps/webapps/urls.py, so the page's name is `webapps:logstream`
# (the app menu links it by that name).
urlpatterns = [
    path("apps/<str:name>/logstream/", views.logstream, name="logstream"),
    path("apps/<str:name>/logstream/events", views.logstream_events, name="logstream_events"),
    path(
        "apps/<str:name>/logstream/download",
        views.logstream_download,
        name="logstream_download",
    ),
]
