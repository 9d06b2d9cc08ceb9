"""`manage.py dataservice ensure [postgres|redis]`: build the database
service images now (once), with progress, instead of on the first
`connection create`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.engine import dataservices
from apps.engine.errors import EngineError


class Command(BaseCommand):
    help = "Build the PostgreSQL and Redis service images (once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["ensure"])
        parser.add_argument("kinds", nargs="*", help="postgres, redis (default: both)")

    def handle(self, *args, action: str, kinds: list[str], **options) -> None:
        if unknown := sorted(set(kinds) - set(dataservices.RECIPES)):
            raise CommandError(f"Unknown service {', '.join(unknown)}: use postgres or redis.")
        for kind in kinds or list(dataservices.RECIPES):

            def echo(percent: int, message: str, kind: str = kind) -> None:
                self.stdout.write(f"[{kind} {percent:3d}%] {message}")

            try:
                result = dataservices.ensure_image(kind, echo)
            except EngineError as e:
                raise CommandError(e.message) from e
            how = f"built by {result.source} in {result.seconds:.0f} s" if result.built else "ready"
            self.stdout.write(self.style.SUCCESS(f"{result.tag}: {how}"))
