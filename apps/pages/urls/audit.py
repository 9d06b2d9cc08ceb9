from __future__ import annotations

from django.urls import path

from apps.pages import activity as views

app_name = "audit"
urlpatterns = [
    path("apps/<str:name>/activity/", views.activity, name="activity"),
    path("apps/<str:name>/activity.json", views.activity_json, name="activity_json"),
]
