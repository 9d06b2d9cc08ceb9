"""`manage.py proxy start|stop|status|reload|run|watch`: Berth's front proxy.

start/reload/stop drive Berth's own nginx master (it runs in the background);
run keeps nginx in the foreground and applies configs other processes write,
for compose.yaml's proxy service (BERTH_PROXY_MODE=external elsewhere).
watch is what `make run` supervises: it starts the background nginx when it
is not running, again whenever it dies, and leaves it running when it is
stopped itself, so the apps keep answering while the portal and worker are
down.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from apps.proxy import nginx
from apps.proxy.errors import ProxyError

WATCH_EVERY = 2.0


class Command(BaseCommand):
    help = "Start, stop, reload or show Berth's front proxy (nginx)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status", "reload", "run", "watch"])
        parser.add_argument(
            "--every", type=float, default=WATCH_EVERY, help="watch: seconds between looks."
        )

    def handle(self, *args, action: str, every: float = WATCH_EVERY, **options) -> None:
        try:
            if action == "start":
                nginx.ensure_running()
                self._print_status()
            elif action == "reload":
                nginx.reload()
                self.stdout.write(self.style.SUCCESS("Reloaded the proxy."))
            elif action == "stop":
                if nginx.stop():
                    self.stdout.write(self.style.SUCCESS("Stopped the proxy."))
                else:
                    self.stdout.write("The proxy was not running.")
            elif action == "status":
                self._print_status()
            elif action == "run":
                raise SystemExit(nginx.run_foreground())
            elif action == "watch":
                self._watch(every)
        except ProxyError as e:
            raise CommandError(e.message) from e

    def _watch(self, every: float) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        said = ""  # what was said last: once a change, not every look
        while not stop.is_set():
            try:
                pid = nginx.status().pid
                if pid is None:  # never started, or died: start it with today's routes
                    nginx.ensure_running()
                    pid = nginx.status().pid
                now = f"Proxy: running (nginx master {pid})"
            except ProxyError as e:
                # Tried again next time: a refused config or a busy port may be fixed.
                now = f"The proxy is not running: {e.message}"
            if now != said:
                (self.stdout if now.startswith("Proxy:") else self.stderr).write(now)
                self.stdout.flush()
                said = now
            stop.wait(every)
        self.stdout.write(
            "Stopped watching; the proxy keeps running (`manage.py proxy stop` ends it)."
        )

    def _print_status(self) -> None:
        st = nginx.status()
        state = f"running (nginx master {st.pid})" if st.pid else st.message
        self.stdout.write(f"Proxy: {state}  [mode {st.mode}]")
        self.stdout.write(
            f"Apps answer at {nginx.app_url('<app>')} and {nginx.app_url('<app>', https=True)}"
            f"  (listening on {st.listen})"
        )
        self.stdout.write(f"Config: {st.config}\nTLS certificate: {st.certificate}")
        if st.routes:
            for name, upstream in sorted(st.routes.items()):
                self.stdout.write(f"  {nginx.app_url(name)} -> {upstream}")
        else:
            self.stdout.write("  No routes yet: deploy an app.")
