from __future__ import annotations

from django.contrib import admin

from apps.webapps.models import AppSetting, ConnectionString, WebApp


class AppSettingInline(admin.TabularInline):
    model = AppSetting
    extra = 0


class ConnectionStringInline(admin.TabularInline):
    model = ConnectionString
    extra = 0


@admin.register(WebApp)
class WebAppAdmin(admin.ModelAdmin):
    list_display = ("name", "resource_group", "linux_fx_version", "state", "owner", "created")
    list_filter = ("state", "linux_fx_version", "resource_group")
    search_fields = ("name", "resource_group")
    exclude = ("publishing_password",)
    inlines = (AppSettingInline, ConnectionStringInline)
