from __future__ import annotations

from django.urls import path

from apps.access import views

app_name = "access"
urlpatterns = [
    path("apps/<str:name>/access/", views.access, name="access"),
    path("apps/<str:name>/access/add", views.add, name="add"),
    path("apps/<str:name>/access/<int:pk>/remove", views.remove, name="remove"),
]
