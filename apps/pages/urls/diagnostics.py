from __future__ import annotations

from django.urls import path

from apps.pages import diagnose as views

app_name = "diagnostics"
urlpatterns = [
    path("apps/<str:name>/diagnose/", views.index, name="index"),
    path("apps/<str:name>/diagnose/<str:detector>/fix/", views.fix, name="fix"),
]
