from __future__ import annotations

from django.contrib import admin

from apps.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "created", "expires", "last_used")
    readonly_fields = ("user", "token_hash", "created", "expires", "last_used")
    exclude = ("password_fingerprint",)
    search_fields = ("user__username", "name")
