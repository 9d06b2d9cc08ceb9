from __future__ import annotations

from django.contrib import admin

from apps.access.models import RoleAssignment


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ("role", "user", "group", "app", "resource_group", "created")
    list_filter = ("role",)
    raw_id_fields = ("user", "group", "app", "created_by")
