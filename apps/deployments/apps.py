from __future__ import annotations

from django.apps import AppConfig

from apps.core import hooks


class DeploymentsConfig(AppConfig):
    name = "apps.deployments"
    label = "deployments"

    def ready(self) -> None:
        # A settings Save (apps.webapps, below this layer) asks for a restart
        # through apps.core.hooks. Imported here, not at the top: tasks
        # imports models, which Django loads only after the app configs.
        from apps.deployments import tasks

        hooks.register_restarter(tasks.enqueue_restart)
        # A stack change rebuilds the serving release (apps.webapps asks).
        hooks.register_rebuilder(tasks.rebuild_for_stack)
        # A new app serves the default site until its first release.
        hooks.register_greeter(tasks.enqueue_default_site)
