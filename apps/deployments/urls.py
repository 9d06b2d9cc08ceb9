from __future__ import annotations

from django.urls import path

from apps.deployments import views

app_name = "deployments"
urlpatterns = [
    # Git smart HTTP (git push). The API's paths (zip deploy, deployments)
    # are apps.api's, which hands them to apps.deployments.views.
    path("git/<str:name>.git/<path:path>", views.git_http, name="git"),
]
