from __future__ import annotations

from django.urls import path

from apps.console import views

app_name = "console"
urlpatterns = [
    path("apps/<str:name>/ssh/", views.ssh, name="ssh"),
]
