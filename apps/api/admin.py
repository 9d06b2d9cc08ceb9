from __future__ import annotations

from django.contrib import admin

from apps.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "created", "last_used")
    readonly_fields = ("user", "token_hash", "created", "last_used")
    search_fields = ("user__username", "name")
