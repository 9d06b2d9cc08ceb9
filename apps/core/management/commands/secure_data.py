"""Make the data folder private (apps.core.datadir): `make run` and
compose's migrate service run it before the portal starts, so an older
install with 0644 files in 0755 folders is fixed."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.datadir import make_private


class Command(BaseCommand):
    help = "Make the data folder and everything in it readable by Berth's user only."

    def handle(self, *args, **options) -> None:
        changed = make_private(settings.DATA_DIR)
        if changed:
            self.stdout.write(
                f"Made {len(changed)} files and folders under {settings.DATA_DIR} private "
                "(0600 files, 0700 folders)."
            )
