"""The Deployment Center pages, in the `deployments` namespace, with git
smart HTTP (apps/deployments/urls.py): Django keeps one resolver per
namespace, so portal/urls.py includes only this module."""

from __future__ import annotations

from django.urls import path

from apps.deployments import urls as api_urls
from apps.deployments import views_center as views

app_name = "deployments"
P = "apps/<str:name>/deployment-center"
urlpatterns = [
    path(f"{P}/", views.center, name="center"),
    path(f"{P}/upload", views.upload, name="upload"),
    path(f"{P}/history", views.history, name="history"),
    path(f"{P}/credentials", views.credentials, name="credentials"),
    path(f"{P}/credentials/reset", views.credentials_reset, name="credentials_reset"),
    path(f"{P}/<int:pk>/", views.deployment, name="deployment"),
    path(f"{P}/<int:pk>/progress", views.deployment_progress, name="deployment_progress"),
    path(f"{P}/<int:pk>/redeploy", views.deployment_redeploy, name="deployment_redeploy"),
    *api_urls.urlpatterns,
]
