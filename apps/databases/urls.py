from __future__ import annotations

from django.urls import path

from apps.databases import views

app_name = "databases"
urlpatterns = [
    path("apps/<str:name>/connector/", views.connector, name="connector"),
    path("apps/<str:name>/connector/create/", views.connector_create, name="create"),
    path(
        "apps/<str:name>/connector/progress/<str:target>/",
        views.connector_progress,
        name="progress",
    ),
    path(
        "apps/<str:name>/connector/<str:connection>/validate/",
        views.connector_validate,
        name="validate",
    ),
    path(
        "apps/<str:name>/connector/<str:connection>/delete/",
        views.connector_delete,
        name="delete",
    ),
    path("apps/<str:name>/backups/", views.backup_list, name="backups"),
    path("apps/<str:name>/backups/create/", views.backup_create, name="backup-create"),
    path(
        "apps/<str:name>/backups/<str:backup>/restore/",
        views.backup_restore,
        name="backup-restore",
    ),
]
