from __future__ import annotations

from django.apps import AppConfig

from apps.core import hooks


class DatabasesConfig(AppConfig):
    name = "apps.databases"
    verbose_name = "Databases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The release pipeline (below this layer) asks through apps.core.hooks
        # what an app's container needs from its services. Imported here, not
        # at the top: connections imports models, loaded after the app configs.
        from apps.databases import connections

        hooks.register_container_extras(connections.container_extras)
