from __future__ import annotations

from django.contrib import admin

from apps.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created", "actor_name", "app_name", "action", "summary")
    list_filter = ("action",)
    search_fields = ("app_name", "actor_name", "summary")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        # The log is written by the services only.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
