from __future__ import annotations

from django.contrib import admin

from apps.deployments.models import Deployment


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ("app", "id", "status", "source", "active", "created", "finished")
    list_filter = ("status", "source", "active")
    search_fields = ("app__name", "commit_id", "message")
    readonly_fields = ("log",)
