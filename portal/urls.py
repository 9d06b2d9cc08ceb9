from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.core import views as core_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", core_views.healthz, name="healthz"),
    path("api/", include("apps.api.urls")),
    path("", include("apps.pages.urls.webapps")),
    path("", include("apps.pages.urls.diagnostics")),
    path("", include("apps.pages.urls.audit")),
    path("", include("apps.deployments.urls_center")),  # the API's urls too
]

# The SSH console's page (its WebSocket is routed in portal/asgi.py).
urlpatterns += [path("", include("apps.console.urls"))]

# Access control (IAM): per-app roles.
urlpatterns += [path("", include("apps.access.urls"))]

# Service Connector: the app's database connections (apps.databases).
urlpatterns += [path("", include("apps.databases.urls"))]
