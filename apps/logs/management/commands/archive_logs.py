"""Keep every app's container output under DATA_DIR/logs (apps.logs.archive).

Runs until stopped (SIGTERM/SIGINT), like Healthchecks' `sendalerts`:
scripts/run.sh starts it beside the worker; compose runs it as its own service.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand

from apps.logs import archive


class Command(BaseCommand):
    help = "Archive every running app container's stdout/stderr, masked, under DATA_DIR/logs."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--poll", type=float, default=2.0, help="Seconds between looks for new containers."
        )

    def handle(self, *args: Any, poll: float, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        archiver = archive.Archiver()
        # The lock may be held for a moment by a release writing a retired
        # container's last lines while no archiver ran: wait that out.
        if not archiver.claim(wait=archive.START_WAIT):
            self.stderr.write(
                "Another archive_logs is running on this DATA_DIR: not starting a second "
                "(it would write every line twice)."
            )
            return

        def stop(signum: int, frame: Any) -> None:
            archiver.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"Archiving app logs under {archive.logs_root()}")
        self.stdout.flush()
        archiver.run(poll=poll)  # holds the lock until it stops
