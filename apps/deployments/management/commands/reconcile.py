"""`manage.py reconcile [app ...]`: make the engine and the proxy match the
portal (apps.lifecycle.reconcile), and print what changed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.lifecycle import reconcile
from apps.webapps.models import WebApp


class Command(BaseCommand):
    help = "Make containers and proxy routes match the apps' state; fail dead deployments."

    def add_arguments(self, parser) -> None:
        parser.add_argument("apps", nargs="*", help="app names (default: all apps)")

    def handle(self, *args, apps: list[str], **options) -> None:
        if apps:
            found = {a.name: a for a in WebApp.objects.filter(name__in=apps)}
            if missing := sorted(set(apps) - set(found)):
                raise CommandError(f"No app named {', '.join(missing)}.")
            done = [line for name in apps for line in reconcile.reconcile(found[name])]
        else:
            done = reconcile.reconcile_all()
        for line in done:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Reconciled: {len(done)} change(s)."))
