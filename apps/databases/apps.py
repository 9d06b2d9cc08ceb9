from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import pre_delete

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
        from apps.webapps.models import WebApp

        hooks.register_container_extras(connections.container_extras)
        # Deleting an app (apps.deployments.teardown, not imported: a layer
        # apart) retires its database through Django's own signal.
        pre_delete.connect(connections.retire_app, sender=WebApp, dispatch_uid="retire-app-db")
